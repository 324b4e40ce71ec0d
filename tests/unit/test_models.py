"""The big-data models on small hand-made frames: each finds its pattern and leaves its look-alike alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl
import pytest

from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.supervision.audit import connect, register_frames
from yibao.supervision.models import (
    MODELS,
    card_cashout,
    doctor_outlier,
    fake_admission,
    ghost_bed,
    identity_fraud,
    model,
    overlap_stay,
    split_admission,
)

UNIT = 10_000
YUAN = 1_000_000


class Region:
    """A tiny dataset built row by row: persons, institutions, encounters, diagnoses, fee lines."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self._n = 0
        self.institution("H1", "1", "02", beds=100)
        self.institution("H2", "1", "05", beds=50)
        self.institution("P1", "2", "", beds=0)

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:06d}"

    def institution(self, code: str, typ: str, lv: str, *, beds: int) -> None:
        self.rows["fixmedins_b"].append(
            {"fixmedins_code": code, "fixmedins_name": code, "fixmedins_type": typ, "hosp_lv": lv,
             "admdvs": "990100", "bed_cnt": beds}
        )  # fmt: skip

    def person(self, *, gend: str = "1", born: date = date(1970, 5, 1), emp: str = "") -> str:
        psn = self._id("P")
        self.rows["psn_info_b"].append(
            {"psn_no": psn, "certno": "", "psn_name": "", "gend": gend, "brdy": born, "insutype": "310",
             "psn_type": "1101", "insuplc_admdvs": "990100", "emp_no": emp, "psn_idet_type": "", "death_date": None,
             "acct_balc_begn": 0, "mulaid_psn_no": ""}
        )  # fmt: skip
        return psn

    def encounter(
        self, psn: str, inst: str, med_type: str, begin: datetime, end: datetime, dx: list[str], *,
        doctor: str = "D1", dept: str = "K1", bed: str = "",
    ) -> str:  # fmt: skip
        mid = self._id("M")
        self.rows["mdtrt_d"].append(
            {"mdtrt_id": mid, "psn_no": psn, "fixmedins_code": inst, "med_type": med_type, "begntime": begin,
             "endtime": end, "dscg_maindiag_code": dx[0] if dx else "", "dscg_maindiag_name": "", "dept_codg": dept,
             "atddr_no": doctor, "insutype": "310", "adm_bed": bed, "dscg_way": "1"}
        )  # fmt: skip
        for i, code in enumerate(dx):
            self.rows["setl_list_diag_d"].append(
                {"mdtrt_id": mid, "diag_type": "1", "maindiag_flag": "1" if i == 0 else "0", "diag_code": code,
                 "diag_name": code}
            )  # fmt: skip
        return mid

    def line(
        self,
        mid: str,
        code: str,
        typ: str,
        when: datetime,
        *,
        cnt: int = 1,
        yuan: int = 10,
        doctor: str = "D1",
    ) -> str:
        enc = next(e for e in self.rows["mdtrt_d"] if e["mdtrt_id"] == mid)
        sn = self._id("F")
        self.rows["fee_list_d"].append(
            {"feedetl_sn": sn, "mdtrt_id": mid, "psn_no": enc["psn_no"], "fixmedins_code": enc["fixmedins_code"],
             "med_list_codg": code, "med_chrgitm_type": typ, "fee_ocur_time": when, "cnt": cnt * UNIT,
             "pric": yuan * YUAN, "det_item_fee_sumamt": cnt * yuan * 100, "bilg_dr_codg": doctor,
             "bilg_dept_codg": enc["dept_codg"], "rxno": "", "prd_days": 0}
        )  # fmt: skip
        return sn

    def operation(self, mid: str, code: str, on: date) -> None:
        self.rows["setl_list_oprn_d"].append(
            {"mdtrt_id": mid, "oprn_code": code, "oprn_name": code, "main_oprn_flag": "1", "oprn_date": on}
        )

    def stay(
        self, psn: str, inst: str, begin: datetime, nights: int, dx: list[str], *, med_type: str = "21",
        served: int | None = None, tests: tuple[str, ...] = ("CBC", "CRP"), drugs: bool = True, doctor: str = "D1",
        bed: str = "",
    ) -> str:  # fmt: skip
        """A stay with bed and nursing for every night, ward rounds on ``served`` nights (all by default),
        admission tests and a drug every served day."""
        end = datetime.combine((begin + timedelta(days=nights)).date(), datetime.min.time()) + timedelta(
            hours=10
        )
        mid = self.encounter(psn, inst, med_type, begin, end, dx, doctor=doctor, bed=bed)
        served = nights if served is None else served
        self.line(mid, "BED", "01", begin, cnt=nights, yuan=30)
        self.line(mid, "NURSE", "07", begin, cnt=nights, yuan=15)
        self.line(mid, "ROUND", "02", begin, cnt=served, yuan=12)
        for t in tests:
            self.line(mid, t, "04", begin + timedelta(minutes=30), yuan=20)
        if drugs:
            for d in range(served):
                self.line(mid, "DRUG", "09", begin + timedelta(days=d, hours=1), yuan=8)
        return mid

    def frames(self) -> dict[str, pl.DataFrame]:
        out = {}
        for name, rows in self.rows.items():
            if name in ("findings", "labels"):
                continue
            schema = polars_schema(TABLES[name])
            out[name] = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
        return out


@pytest.fixture
def region() -> Region:
    return Region()


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(threads=1, memory_limit="1GB")
    yield c
    c.close()


def run(con: duckdb.DuckDBPyConnection, region: Region, mod: Any) -> pl.DataFrame:
    register_frames(con, region.frames())
    out = mod.run(con)
    assert isinstance(out, pl.DataFrame)
    assert list(out.columns) == list(TABLES["findings"].names)
    return out


T0 = datetime(2024, 3, 4, 9, 0)


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------


def test_every_model_has_a_known_pattern_and_needs_real_columns() -> None:
    from yibao.supervision.findings import PATTERNS

    for m in MODELS:
        assert m.pattern in PATTERNS and m.id.startswith("M-")
        for table, cols in m.needs.items():
            for c in cols:
                TABLES[table].column(c)
    assert model("M-SPLIT") is split_admission.MODEL
    with pytest.raises(KeyError, match="M-SPLIT"):
        model("M-NOPE")


# ---------------------------------------------------------------------------------------------
# split admissions
# ---------------------------------------------------------------------------------------------


def test_a_stay_cut_in_two_is_flagged_on_both_parts(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    p = region.person()
    a = region.stay(p, "H1", T0, 3, ["J18.900", "I10.x00"])
    b = region.stay(p, "H1", T0 + timedelta(days=6), 4, ["J18.900", "I10.x00"])
    out = run(con, region, split_admission)
    assert set(out["mdtrt_id"]) == {a, b}
    second = out.filter(pl.col("mdtrt_id") == b).row(0, named=True)
    assert second["vola_amt"] == 2 * 20 * 100  # both admission tests billed again
    assert "再次入院" in second["vola_cont"] and "J18" in second["vola_cont"]
    assert json.loads(second["evidence"])["previous"]["mdtrt_id"] == a


def test_a_chemotherapy_cycle_is_not_a_split(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    p = region.person()
    for i in range(3):
        region.stay(p, "H1", T0 + timedelta(days=21 * i), 2, ["Z51.100", "C50.900"])
    assert run(con, region, split_admission).height == 0


def test_a_chemotherapy_stay_readmitted_within_days_is_a_split(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    p = region.person()
    a = region.stay(p, "H1", T0, 4, ["Z51.100", "C18.700"])
    b = region.stay(p, "H1", T0 + timedelta(days=7), 3, ["Z51.100", "C18.700"])
    assert set(run(con, region, split_admission)["mdtrt_id"]) == {a, b}


def test_staged_surgery_is_not_a_split(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    p = region.person()
    a = region.stay(p, "H1", T0, 2, ["H25.900"])
    b = region.stay(p, "H1", T0 + timedelta(days=10), 2, ["H25.900"])
    region.operation(a, "13.4100", T0.date())
    region.operation(b, "13.4100", (T0 + timedelta(days=10)).date())
    assert run(con, region, split_admission).height == 0


def test_a_readmission_coded_afresh_or_late_or_elsewhere_is_not_a_split(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    p, q, r = region.person(), region.person(), region.person()
    region.stay(p, "H1", T0, 3, ["J18.900", "I10.x00"])
    region.stay(p, "H1", T0 + timedelta(days=8), 3, ["J18.000", "E11.900", "N18.300"])  # a new record
    region.stay(q, "H1", T0, 3, ["J18.900"])
    region.stay(q, "H1", T0 + timedelta(days=25), 3, ["J18.900"])  # outside the 15-day window
    region.stay(r, "H1", T0, 3, ["J18.900"])
    region.stay(r, "H2", T0 + timedelta(days=5), 3, ["J18.900"])  # another hospital
    assert run(con, region, split_admission).height == 0


# ---------------------------------------------------------------------------------------------
# ghost beds
# ---------------------------------------------------------------------------------------------


def test_bed_days_without_service_are_a_ghost_bed(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    p = region.person()
    mid = region.stay(p, "H1", T0, 9, ["I63.900"], served=5)
    out = run(con, region, ghost_bed).filter(pl.col("mdtrt_id") != "")
    assert out["mdtrt_id"].to_list() == [mid]
    f = out.row(0, named=True)
    assert f["vola_amt"] == (9 * 30 + 9 * 15) * 100 * 4 // 9  # 4 of 9 bed and nursing days
    assert "4天仅收取床位费、护理费" in f["vola_cont"]
    assert json.loads(f["evidence"])["days_without_service"] == 4


def test_waiting_for_surgery_with_ward_rounds_is_not_a_ghost_bed(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    p = region.person()
    mid = region.stay(p, "H1", T0, 6, ["K80.101"], drugs=False)  # rounds every day, no drugs for 3 days
    region.line(mid, "CHOLECYSTECTOMY", "06", T0 + timedelta(days=3))
    assert run(con, region, ghost_bed).filter(pl.col("mdtrt_id") != "").height == 0


def test_a_ward_above_its_beds_gets_an_institution_finding(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    region.rows["fixmedins_b"][1]["bed_cnt"] = 2
    for _ in range(3):
        region.stay(region.person(), "H2", T0, 4, ["J18.900"])
    out = run(con, region, ghost_bed)
    assert out.select("fixmedins_code", "mdtrt_id").rows() == [("H2", "")]
    assert "超过核定床位2张" in out["vola_cont"][0]


# ---------------------------------------------------------------------------------------------
# fake admissions
# ---------------------------------------------------------------------------------------------


def test_an_employer_cohort_with_templated_checkups_is_flagged(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    bundle = ("CBC", "URINE", "LIVER", "ECG", "CHEST_CT")
    cohort = [region.person(emp="E1") for _ in range(4)]
    ids = [
        region.stay(p, "H2", T0 + timedelta(days=i), 6, ["R53.x00"], tests=bundle, drugs=False)
        for i, p in enumerate(cohort)
    ]
    region.stay(
        region.person(emp="E1"), "H2", T0 + timedelta(days=40), 6, ["R53.x00"], tests=bundle, drugs=False
    )
    out = run(con, region, fake_admission)
    assert sorted(out["mdtrt_id"]) == sorted(ids)
    assert out["vola_amt"].min() > 0 and "同单位3人" in out["vola_cont"][0]


def test_an_outbreak_with_real_treatment_is_not_a_fake_admission(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    for i in range(5):
        mid = region.stay(
            region.person(emp="E2"), "H2", T0 + timedelta(hours=i), 3, ["A05.900"], tests=("CBC",)
        )
        region.line(mid, "IV_DRIP", "05", T0 + timedelta(hours=i + 1), cnt=3, yuan=40)
    assert run(con, region, fake_admission).height == 0


# ---------------------------------------------------------------------------------------------
# card cash-out
# ---------------------------------------------------------------------------------------------


def _swipe(region: Region, when: datetime, basket: tuple[tuple[str, int], ...]) -> str:
    mid = region.encounter(region.person(), "P1", "41", when, when, [], doctor="Y1", dept="Y")
    for code, n in basket:
        region.line(mid, code, "09", when, cnt=n, yuan=25, doctor="Y1")
    return mid


def test_a_night_burst_of_cards_with_one_basket_is_cash_out(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    start = datetime(2024, 5, 6, 23, 10)
    basket = (("LIANHUA", 2), ("AMOXI", 2))
    ids = [_swipe(region, start + timedelta(seconds=90 * i), basket) for i in range(6)]
    out = run(con, region, card_cashout)
    assert sorted(out["mdtrt_id"]) == sorted(ids)
    assert set(out["vola_amt"]) == {100 * 100}
    assert "夜间" in out["vola_cont"][0]


def test_stocking_up_and_a_lone_night_buyer_are_not_cash_out(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    morning = datetime(2024, 5, 6, 9, 0)
    for i in range(5):  # neighbours buying different chronic drugs and quantities
        _swipe(region, morning + timedelta(minutes=4 * i), ((f"CHRONIC{i}", 6 + i),))
    _swipe(region, datetime(2024, 5, 7, 23, 30), (("PARACETAMOL", 1),))
    assert run(con, region, card_cashout).height == 0


# ---------------------------------------------------------------------------------------------
# overlapping stays, identity fraud
# ---------------------------------------------------------------------------------------------


def test_two_stays_at_once_are_flagged_and_a_transfer_is_not(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    p, q = region.person(), region.person()
    a = region.stay(p, "H1", T0, 8, ["I63.900"])
    b = region.stay(p, "H2", T0 + timedelta(days=3), 3, ["I63.900"])
    first = region.stay(q, "H1", T0, 3, ["I63.900"])
    end = next(e["endtime"] for e in region.rows["mdtrt_d"] if e["mdtrt_id"] == first)
    region.stay(q, "H2", end + timedelta(hours=2), 3, ["I63.900"])  # a transfer
    out = run(con, region, overlap_stay)
    assert set(out["mdtrt_id"]) == {a, b}
    assert out.filter(pl.col("mdtrt_id") == b)["vola_amt"][0] > 0
    assert out.filter(pl.col("mdtrt_id") == a)["vola_amt"][0] == 0


def test_a_delivery_on_a_mans_card_is_identity_fraud(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    man = region.person(gend="1")
    woman = region.person(gend="2")
    mid = region.stay(man, "H1", T0, 3, ["O80.000"], med_type="52")
    region.stay(woman, "H1", T0, 3, ["O80.000"], med_type="52")
    child = region.person(born=date(2019, 1, 1))
    hyp = region.encounter(child, "H1", "14", T0, T0 + timedelta(minutes=15), ["I10.x00"])
    out = run(con, region, identity_fraud)
    assert set(out["mdtrt_id"]) == {mid, hyp}
    assert "仅限女性的诊断O80.000" in out.filter(pl.col("mdtrt_id") == mid)["vola_cont"][0]


def test_an_adults_card_in_paediatrics_is_identity_fraud(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    for dept, caty in (("KA0701", "A07.01"), ("KA03", "A03")):  # 新生儿科 (under 儿科 A07), 内科
        region.rows["dept_b"].append({"fixmedins_code": "H1", "dept_codg": dept, "dept_name": dept, "caty": caty, "bed_cnt": 0})
    parent, child = region.person(born=date(1990, 1, 1)), region.person(born=date(2023, 1, 1))
    on_parent = region.encounter(parent, "H1", "11", T0, T0 + timedelta(minutes=15), ["P59.900"], dept="KA0701")
    region.encounter(child, "H1", "11", T0, T0 + timedelta(minutes=15), ["P59.900"], dept="KA0701")
    region.encounter(parent, "H1", "11", T0, T0 + timedelta(minutes=15), ["J06.900"], dept="KA03")
    out = run(con, region, identity_fraud)
    assert list(out["mdtrt_id"]) == [on_parent]


def test_one_doctor_on_many_cards_within_minutes_is_a_burst(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    ids = []
    for i in range(8):
        when = T0 + timedelta(seconds=40 * i)
        mid = region.encounter(
            region.person(), "H1", "11", when, when + timedelta(minutes=3), ["E11.900"], doctor="D9"
        )
        region.line(mid, "SEMAGLUTIDE", "09", when, cnt=2, yuan=300, doctor="D9")
        ids.append(mid)
    for i in range(8):  # an ordinary clinic: one patient every ten minutes
        when = T0 + timedelta(minutes=10 * i)
        mid = region.encounter(
            region.person(), "H1", "11", when, when + timedelta(minutes=8), ["J06.900"], doctor="D8"
        )
        region.line(mid, "SEMAGLUTIDE", "09", when, doctor="D8")
    out = run(con, region, identity_fraud)
    assert sorted(out["mdtrt_id"]) == sorted(ids)
    assert set(out["doctor"]) == {"D9"}


# ---------------------------------------------------------------------------------------------
# doctor outliers
# ---------------------------------------------------------------------------------------------


def _clinic(region: Region, doctor: str, n: int, *, extra: str | None = None, yuan: int = 80) -> None:
    for i in range(n):
        when = T0 + timedelta(days=i % 200, minutes=17 * (i % 20))
        mid = region.encounter(
            region.person(), "H1", "11", when, when + timedelta(minutes=10), ["J06.900"], doctor=doctor
        )
        region.line(mid, "VISIT", "02", when, yuan=10, doctor=doctor)
        region.line(mid, f"DRUG{i % 3}", "09", when, yuan=yuan + (i % 7), doctor=doctor)
        if extra:
            region.line(mid, extra, "11", when, cnt=2, yuan=45, doctor=doctor)


def test_a_doctor_pushing_one_drug_stands_out_from_peers(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    for d in range(6):
        _clinic(region, f"D{d}", 40, yuan=80 + 3 * d)
    _clinic(region, "DX", 40, extra="NAOXINTONG")
    out = run(con, region, doctor_outlier)
    assert out["doctor"].to_list() == ["DX"]
    ev = json.loads(out["evidence"][0])
    assert ev["top_drug"]["code"] == "NAOXINTONG" and ev["top_drug"]["share"] == 1.0
    assert out["vola_amt"][0] > 0 and "DX" in out["vola_cont"][0]


def test_peers_that_agree_flag_nobody(con: duckdb.DuckDBPyConnection, region: Region) -> None:
    for d in range(7):
        _clinic(region, f"D{d}", 40, yuan=80 + 2 * d)
    assert run(con, region, doctor_outlier).height == 0


def test_a_doctor_without_enough_peers_is_not_compared(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    _clinic(region, "D0", 40)
    _clinic(region, "DX", 40, extra="NAOXINTONG", yuan=400)
    assert run(con, region, doctor_outlier).height == 0


def _visits(
    region: Region, doctor: str, n: int, *, dept: str = "K1", drug: str | None = None, cnt: int = 1
) -> None:
    """``n`` ordinary visits of new patients: a consultation and one of three common drugs (or ``drug``)."""
    for i in range(n):
        when = T0 + timedelta(days=i % 200, minutes=17 * (i % 20))
        mid = region.encounter(
            region.person(),
            "H1",
            "11",
            when,
            when + timedelta(minutes=10),
            ["J06.900"],
            doctor=doctor,
            dept=dept,
        )
        region.line(mid, "VISIT", "02", when, yuan=10, doctor=doctor)
        region.line(mid, drug or f"DRUG{i % 3}", "09", when, cnt=cnt, yuan=80 + (i % 7), doctor=doctor)


def test_a_doctor_billing_the_same_visit_again_stands_out(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    for d in range(6):
        _visits(region, f"D{d}", 40)
    _visits(region, "DX", 40)
    cloned = 0
    for e in [e for e in region.rows["mdtrt_d"] if e["atddr_no"] == "DX"][:10]:
        lines = [f for f in region.rows["fee_list_d"] if f["mdtrt_id"] == e["mdtrt_id"]]
        later = e["begntime"] + timedelta(days=9)
        mid = region.encounter(
            e["psn_no"], "H1", "11", later, later + timedelta(minutes=10), ["J06.900"], doctor="DX"
        )
        for f in lines:
            region.line(mid, f["med_list_codg"], f["med_chrgitm_type"], later, cnt=f["cnt"] // UNIT,
                        yuan=f["pric"] // YUAN, doctor="DX")  # fmt: skip
        cloned += 1
    out = run(con, region, doctor_outlier)
    assert out["doctor"].to_list() == ["DX"]
    ev = json.loads(out["evidence"][0])
    assert ev["repeats"]["visits"] == cloned == 10 and "重复就诊10次" in out["vola_cont"][0]
    assert "M-DOCTOR" in out["vola_cont"][0] and "2024" in out["vola_cont"][0]


def test_patients_coming_back_for_other_care_are_no_repeats(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    for d in range(6):
        _visits(region, f"D{d}", 40)
    _visits(region, "DX", 40)
    for i, e in enumerate([e for e in region.rows["mdtrt_d"] if e["atddr_no"] == "DX"][:10]):
        later = e["begntime"] + timedelta(days=9)
        mid = region.encounter(
            e["psn_no"], "H1", "11", later, later + timedelta(minutes=10), ["J06.900"], doctor="DX"
        )
        region.line(mid, "VISIT", "02", later, yuan=10, doctor="DX")
        region.line(mid, f"DRUG{(i + 1) % 3}", "09", later, cnt=2, yuan=60, doctor="DX")
    assert run(con, region, doctor_outlier).height == 0


def test_a_doctor_in_a_small_department_is_compared_with_the_whole_family(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    # one doctor in 科别 A03.01, five in A03.02: the family A03 is the peer group, its drug rates are all
    # six doctors' — prescribing what everyone prescribes is no outlier, pushing a drug nobody uses is
    for dept in ("A03.01", "A03.02"):
        region.rows["dept_b"].append(
            {"fixmedins_code": "H1", "dept_codg": dept, "dept_name": dept, "caty": dept, "bed_cnt": 0}
        )
    for d in range(5):
        _visits(region, f"D{d}", 40, dept="A03.02")
    _visits(region, "DX", 40, dept="A03.01")
    assert run(con, region, doctor_outlier).height == 0
    for e in [e for e in region.rows["mdtrt_d"] if e["atddr_no"] == "DX"][:20]:
        region.line(e["mdtrt_id"], "NAOXINTONG", "11", e["begntime"], cnt=2, yuan=45, doctor="DX")
    out = run(con, region, doctor_outlier)
    assert out["doctor"].to_list() == ["DX"] and "3级/科别A03*" in out["vola_cont"][0]


def test_a_doctor_without_department_peers_is_compared_on_quantities_with_the_level(
    con: duckdb.DuckDBPyConnection, region: Region
) -> None:
    for d, dept in enumerate(("A03.01", "A03.02", "A04.01", "A04.03", "A07", "A50", "A20")):
        region.rows["dept_b"].append(
            {"fixmedins_code": "H1", "dept_codg": dept, "dept_name": dept, "caty": dept, "bed_cnt": 0}
        )
        if dept != "A20":
            _visits(region, f"D{d}", 40, dept=dept)
    _visits(region, "DX", 40, dept="A20", cnt=3)
    out = run(con, region, doctor_outlier)
    assert out["doctor"].to_list() == ["DX"] and "单条药品数量" in out["vola_cont"][0]
    assert json.loads(out["evidence"][0])["tier"] == 0
