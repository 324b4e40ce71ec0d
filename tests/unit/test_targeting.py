"""Inspection targeting: peer groups, robust z with its fallbacks, scores and reasons, and the indicators
computed from a small dataset."""

from __future__ import annotations

import doctest
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from yibao.dataset.io import DatasetError, write_table
from yibao.dataset.schema import TABLES
from yibao.supervision import targeting as targeting_module
from yibao.supervision.targeting import (
    INDICATORS,
    by_institution,
    compute_indicators,
    inspection_ranking,
    peer_group,
    rank_indicators,
)

MAY = date(2024, 5, 1)


def test_doctests() -> None:
    assert doctest.testmod(targeting_module).failed == 0


def frame(peer: str, **columns: list[float | None]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"fixmedins_code": [f"H{i + 1}" for i in range(n)], "fixmedins_name": [f"机构{i + 1}" for i in range(n)],
         "peer_group": [peer] * n, "month": [MAY] * n, **columns}
    )  # fmt: skip


# -- peer groups and robust z -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "group"),
    [
        (("1", "01", 2000), "三级医院"), (("1", "04", 800), "三级医院"), (("1", "05", 300), "二级医院"),
        (("1", "07", 200), "二级医院"), (("1", "08", 0), "一级及以下医院"), (("1", "", 30), "一级及以下医院"),
        (("1", "", 0), "诊所门诊部"), (("2", "", 0), "药店"),
    ],
)  # fmt: skip
def test_peer_groups_are_level_by_type(args: tuple[str, str, int], group: str) -> None:
    assert peer_group(*args) == group


def test_the_outlier_ranks_first_with_its_reason() -> None:
    f = frame(
        "二级医院",
        drug_share=[0.30, 0.32, 0.31, 0.29, 0.33, 0.35, 0.71],
        alos=[7.0, 8.0, 7.5, 6.5, 7.2, 7.9, 7.4],
    )
    r = rank_indicators(f)
    top = r.row(0, named=True)
    assert top["fixmedins_code"] == "H7" and top["rank"] == 1
    assert top["reasons"].startswith("药占比 71.0%（同组中位 32.0%，z = ")
    assert "平均住院日" not in top["reasons"]
    assert r.filter(pl.col("fixmedins_code") != "H7")["score"].max() == 0.0


def test_robust_z_is_median_and_mad_scaled_by_1_4826() -> None:
    f = frame("二级医院", alos=[5.0, 6.0, 7.0, 8.0, 9.0, 30.0])
    r = rank_indicators(f, indicators=[i for i in INDICATORS if i.id == "alos"]).row(0, named=True)
    median, mad = 7.5, 1.5  # |x − 7.5| = 2.5 1.5 .5 .5 1.5 22.5 → median 1.5
    assert r["z_alos"] == pytest.approx((30.0 - median) / (1.4826 * mad))
    assert r["med_alos"] == median


def test_low_is_suspicious_for_the_trace_collection_rate() -> None:
    f = frame("药店", trace_rate=[0.95, 0.97, 0.96, 0.98, 0.94, 0.40])
    top = rank_indicators(f).row(0, named=True)
    assert top["fixmedins_code"] == "H6" and top["z_trace_rate"] > 5
    assert top["reasons"].startswith("追溯码采集率 40.0%")


def test_a_zero_mad_falls_back_to_the_mean_deviation_and_floors() -> None:
    f = frame("药店", night_share=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3])
    r = rank_indicators(f).row(0, named=True)
    mean_ad = 0.3 / 7
    assert r["z_night_share"] == pytest.approx(0.3 / (1.2533 * mean_ad))
    g = frame("药店", night_share=[0.02, 0.02, 0.02, 0.02, 0.02, 0.025])  # a tiny difference stays small
    assert rank_indicators(g)["score"].max() == 0.0


def test_a_small_peer_group_is_compared_with_its_broad_group() -> None:
    f = pl.concat(
        [
            frame("三级医院", drug_share=[0.30, 0.62]),
            frame("二级医院", drug_share=[0.31, 0.29, 0.33, 0.30]).with_columns(
                pl.col("fixmedins_code") + "b"
            ),
        ]
    )
    top = rank_indicators(f).row(0, named=True)
    assert top["fixmedins_code"] == "H2" and top["peer_group"] == "三级医院"
    assert "（医疗机构中位 30.5%" in top["reasons"]


def test_groups_below_the_minimum_get_no_z() -> None:
    r = rank_indicators(frame("药店", drug_share=[0.3, 0.9]))
    assert r["z_drug_share"].null_count() == 2 and r["score"].max() == 0.0


def test_hard_triggers_add_points_and_their_own_reason() -> None:
    f = frame(
        "药店", drug_share=[0.3] * 5, dup_codes=[0.0, 0.0, 3.0, 0.0, 0.0], bed_use=[0.9, 1.3, 0.8, 1.2, 0.9]
    )
    r = rank_indicators(f)
    top2 = r.head(2).select("fixmedins_code", "n_triggers", "triggers").rows()
    assert sorted(top2) == [("H2", 1, "床位使用率 130.0%（超过120%）"), ("H3", 1, "重复结算追溯码 3 个")]
    assert r.filter(pl.col("fixmedins_code") == "H4")["n_triggers"].item() == 0  # 120% is not above 120%


def test_by_institution_keeps_the_best_month() -> None:
    f = pl.concat(
        [frame("二级医院", drug_share=[0.3, 0.31, 0.29, 0.32, 0.8]),
         frame("二级医院", drug_share=[0.3, 0.31, 0.29, 0.32, 0.5]).with_columns(pl.lit(date(2024, 6, 1)).alias("month"))]
    )  # fmt: skip
    best = by_institution(rank_indicators(f))
    assert best.height == 5
    row = best.row(0, named=True)
    assert (row["fixmedins_code"], row["month"], row["months"]) == ("H5", MAY, 2)


# -- indicators from a dataset ----------------------------------------------------------------------


def table(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A frame of a dataset table with every column; absent values take an empty default."""
    out: dict[str, list[Any]] = {}
    dtypes: dict[str, Any] = {}
    for col in TABLES[name].columns:
        default: Any = {
            "str": "",
            "int": 0,
            "money": 0,
            "count": 0,
            "price": 0,
            "ratio": 0,
            "float": 0.0,
        }.get(col.kind)
        out[col.name] = [r.get(col.name, default) for r in rows]
        dtypes[col.name] = {
            "date": pl.Date,
            "datetime": pl.Datetime("us"),
            "float": pl.Float64,
            "str": pl.String,
        }.get(col.kind, pl.Int64)
    return pl.DataFrame(out, schema=dtypes)


def make_region(folder: Path, *, with_trace: bool = True) -> Path:
    """Six 二级 hospitals and six pharmacies over two months; H3 has long stays and dear drugs, P2 settles at
    night, P4 resells five of P1's traceability codes."""
    inst = [
        {
            "fixmedins_code": f"H{i}",
            "fixmedins_name": f"第{i}医院",
            "fixmedins_type": "1",
            "hosp_lv": "05",
            "bed_cnt": 20,
        }
        for i in range(1, 7)
    ]
    inst += [{"fixmedins_code": f"P{i}", "fixmedins_name": f"第{i}药店", "fixmedins_type": "2", "hosp_lv": "", "bed_cnt": 0} for i in range(1, 7)]  # fmt: skip
    mdtrt, fees, setl, trace = [], [], [], []
    n = 0
    codes_p1: list[str] = []

    def encounter(
        code: str, med_type: str, begin: datetime, end: datetime, lines: list[tuple[str, int]], psn: str
    ) -> None:
        nonlocal n
        n += 1
        mid = f"M{n:06d}"
        mdtrt.append(
            {
                "mdtrt_id": mid,
                "psn_no": psn,
                "fixmedins_code": code,
                "med_type": med_type,
                "begntime": begin,
                "endtime": end,
            }
        )
        total = 0
        for k, (typ, fen) in enumerate(lines):
            sn = f"{mid}-{k}"
            fees.append({"feedetl_sn": sn, "mdtrt_id": mid, "psn_no": psn, "fixmedins_code": code, "med_list_codg": "X",
                         "med_chrgitm_type": typ, "fee_ocur_time": begin, "cnt": 10_000, "pric": fen * 10_000, "det_item_fee_sumamt": fen})  # fmt: skip
            total += fen
            if typ == "09" and code.startswith("P"):
                tc = f"8{n:012d}{k:07d}"
                if code == "P1":
                    codes_p1.append(tc)
                if code == "P4" and codes_p1 and k == 0 and begin.month == 4 and len(codes_p1) > 55:
                    tc = codes_p1.pop(0)
                trace.append({"drug_trac_codg": tc, "feedetl_sn": sn, "mdtrt_id": mid, "med_list_codg": "X",
                              "fixmedins_code": code, "sel_time": begin, "retn_flag": "0"})  # fmt: skip
        setl.append({"setl_id": f"S{n:06d}", "mdtrt_id": mid, "psn_no": psn, "fixmedins_code": code, "setl_time": end,
                     "med_type": med_type, "medfee_sumamt": total, "fund_pay_sumamt": total * 7 // 10, "refd_setl_flag": "0"})  # fmt: skip

    for month in (3, 4):
        for i in range(1, 7):
            code = f"H{i}"
            drug = 90_000 if code == "H3" else 10_000
            for v in range(30):
                t = datetime(2024, month, 1 + v % 27, 9 + v % 8)
                encounter(
                    code,
                    "11",
                    t,
                    t + timedelta(minutes=30),
                    [("09", drug), ("03", 10_000)],
                    f"{code}-{month}-{v}",
                )
            for s in range(12):
                b = datetime(2024, month, 1 + s, 10)
                los = 15 if code == "H3" else 5
                encounter(
                    code,
                    "21",
                    b,
                    b + timedelta(days=los),
                    [("01", 5_000), ("09", 20_000)],
                    f"{code}-in-{month}-{s}",
                )
        for i in range(1, 7):
            code = f"P{i}"
            for v in range(30):
                hour = 23 if code == "P2" else 10 + v % 8
                t = datetime(2024, month, 1 + v % 27, hour, v % 60)
                encounter(
                    code, "41", t, t + timedelta(minutes=5), [("09", 3_000 + 10 * v)], f"{code}-{month}-{v}"
                )
    write_table(folder, "fixmedins_b", table("fixmedins_b", inst))
    write_table(folder, "mdtrt_d", table("mdtrt_d", mdtrt))
    write_table(folder, "fee_list_d", table("fee_list_d", fees))
    write_table(folder, "setl_d", table("setl_d", setl))
    if with_trace:
        write_table(folder, "drug_trac_d", table("drug_trac_d", trace))
    return folder


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_region(tmp_path_factory.mktemp("region"))


def value(ind: pl.DataFrame, code: str, month: int, column: str) -> Any:
    return ind.filter((pl.col("fixmedins_code") == code) & (pl.col("month") == date(2024, month, 1)))[
        column
    ].item()


def test_indicators_per_institution_and_month(region: Path) -> None:
    ind = compute_indicators(region).frame
    assert value(ind, "H1", 3, "peer_group") == "二级医院" and value(ind, "P1", 3, "peer_group") == "药店"
    assert value(ind, "H1", 3, "drug_share") == pytest.approx(
        (30 * 10_000 + 12 * 20_000) / (30 * 20_000 + 12 * 25_000)
    )
    assert value(ind, "H3", 3, "alos") == 15.0 and value(ind, "H1", 3, "alos") == 5.0
    assert value(ind, "H1", 3, "avg_fee_visit") == 20_000.0
    assert value(ind, "P2", 3, "night_share") == 1.0 and value(ind, "P1", 3, "night_share") == 0.0
    assert value(ind, "P1", 3, "trace_rate") == 1.0
    assert value(ind, "P4", 4, "dup_codes") == 5 and value(ind, "P1", 3, "dup_codes") == 0
    assert value(ind, "H1", 4, "fund_mom") == pytest.approx(0.0)
    assert value(ind, "H1", 3, "fund_yoy") is None  # no month a year before
    # 12 stays of 5 nights from the 1st–12th of March: 60 bed-days of 20 × 31
    assert value(ind, "H1", 3, "bed_use") == pytest.approx(60 / (20 * 31))


def test_indicators_whose_data_is_absent_are_skipped_and_listed(tmp_path: Path) -> None:
    ind = compute_indicators(make_region(tmp_path, with_trace=False))
    assert any(s.startswith("追溯码采集率（drug_trac_d 缺失") for s in ind.skipped)
    assert any(s.startswith("重复追溯码率") for s in ind.skipped)
    assert any(s.startswith("参保单位集中住院") and "psn_info_b 缺失" in s for s in ind.skipped)
    assert "trace_rate" not in ind.frame.columns


def test_targeting_without_institutions_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="needs fixmedins_b"):
        compute_indicators(tmp_path)


def test_findings_count_per_10000_yuan_in_the_month_of_their_encounter(region: Path) -> None:
    f = pl.DataFrame({"fixmedins_code": ["H1", "H1"], "mdtrt_id": ["M000001", ""], "feedetl_sn": ["", "M000001-0"],
                      "vola_amt": [10_000, 5_000]})  # fmt: skip
    ind = compute_indicators(region, f).frame
    fee_wan = (30 * 20_000 + 12 * 25_000) / 1_000_000
    assert value(ind, "H1", 3, "n_findings") == 2
    assert value(ind, "H1", 3, "findings_per_10k") == pytest.approx(2 / fee_wan)
    assert value(ind, "H1", 3, "vola_per_10k") == pytest.approx(150 / fee_wan)
    assert value(ind, "H1", 3, "hit_rate") == pytest.approx(1 / 84)
    assert value(ind, "H1", 4, "n_findings") == 0 and value(ind, "H2", 3, "vola_per_10k") == 0.0


def test_the_ranking_puts_the_outliers_first_with_reasons(region: Path) -> None:
    best = by_institution(inspection_ranking(region))
    top = {r["fixmedins_code"]: r for r in best.head(3).iter_rows(named=True)}
    assert set(top) == {"H3", "P2", "P4"}
    assert "平均住院日 15.0天（同组中位 5.0天" in top["H3"]["reasons"] and top["H3"]["z_drug_share"] > 2
    assert "夜间结算占比 100.0%" in top["P2"]["reasons"]
    assert top["P4"]["triggers"] == "重复结算追溯码 5 个"
