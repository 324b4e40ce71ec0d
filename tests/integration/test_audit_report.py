"""The HTML audit summary: its sections, charts inlined as SVG, Chinese numbers, escaping of hostile names,
and nothing fetched from the network."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from yibao.dataset.io import write_table
from yibao.dataset.schema import TABLES
from yibao.supervision.cases import build_cases
from yibao.supervision.points import PointsEvent, PointsLedger
from yibao.supervision.report import fmt_count, fmt_indicator, fmt_pct, fmt_yuan, write_audit_report

pytestmark = pytest.mark.integration

HOSTILE = "<script>alert('x')</script>医院"
SECTIONS = ("总体情况", "按违规类型", "重点疑点", "案件办理", "飞行检查对象排名", "医保支付资格记分")


def table(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    out: dict[str, list[Any]] = {}
    schema: dict[str, Any] = {}
    for col in TABLES[name].columns:
        default: Any = {"str": "", "float": 0.0, "date": None, "datetime": None}.get(col.kind, 0)
        out[col.name] = [r.get(col.name, default) for r in rows]
        schema[col.name] = {
            "date": pl.Date,
            "datetime": pl.Datetime("us"),
            "float": pl.Float64,
            "str": pl.String,
        }.get(col.kind, pl.Int64)
    return pl.DataFrame(out, schema=schema)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 二级 hospitals over one month; H8 (the hostile name) bills dear drugs."""
    folder = tmp_path_factory.mktemp("ds")
    names = [f"江城市第{i}人民医院" for i in range(1, 8)] + [HOSTILE]
    inst = [{"fixmedins_code": f"H{i}", "fixmedins_name": n, "fixmedins_type": "1", "hosp_lv": "06", "bed_cnt": 10}
            for i, n in enumerate(names, start=1)]  # fmt: skip
    mdtrt, fees, setl = [], [], []
    for i in range(1, 9):
        for v in range(25):
            mid, t = f"M{i}-{v}", datetime(2024, 7, 1 + v, 9 + v % 8)
            mdtrt.append({"mdtrt_id": mid, "psn_no": f"P{i}{v}", "fixmedins_code": f"H{i}", "med_type": "11",
                          "begntime": t, "endtime": t + timedelta(minutes=20)})  # fmt: skip
            drug = 80_000 if i == 8 else 10_000 + 100 * i
            for k, (typ, fen) in enumerate((("09", drug), ("04", 10_000))):
                fees.append({"feedetl_sn": f"{mid}-{k}", "mdtrt_id": mid, "psn_no": f"P{i}{v}", "fixmedins_code": f"H{i}",
                             "med_list_codg": "X", "med_chrgitm_type": typ, "fee_ocur_time": t, "cnt": 10_000,
                             "pric": fen * 10_000, "det_item_fee_sumamt": fen})  # fmt: skip
            setl.append({"setl_id": f"S{mid}", "mdtrt_id": mid, "psn_no": f"P{i}{v}", "fixmedins_code": f"H{i}",
                         "setl_time": t, "med_type": "11", "medfee_sumamt": drug + 10_000,
                         "fund_pay_sumamt": (drug + 10_000) // 2, "refd_setl_flag": "0"})  # fmt: skip
    write_table(folder, "fixmedins_b", table("fixmedins_b", inst))
    write_table(folder, "mdtrt_d", table("mdtrt_d", mdtrt))
    write_table(folder, "fee_list_d", table("fee_list_d", fees))
    write_table(folder, "setl_d", table("setl_d", setl))
    return folder


def findings() -> pl.DataFrame:
    rows = [
        ("J1", "R-DUPL-01", "重复收费", "duplicate_charge", "1", 1_234_567, "H8", "M8-1", "M8-1-0", "D1",
         f"2024-07-02 {HOSTILE} 对参保人 P81 同时收取 A 与其包含的 B，违规金额 12,345.67 元（规则 R-DUPL-01）。"),
        ("J2", "R-OVPR-01", "超标准收费", "overprice", "1", 5_000, "H1", "M1-1", "M1-1-0", "D2", "超标准收费 50.00 元。"),
        ("J3", "M-SPLIT", "分解住院", "split_admission", "2", 300_000, "H2", "M2-3", "", "D2", "分解住院 3,000.00 元。"),
    ]  # fmt: skip
    cols = ("jr_id", "rule_id", "rule_name", "pattern", "sev_deg", "vola_amt", "fixmedins_code", "mdtrt_id", "feedetl_sn",
            "doctor", "vola_cont")  # fmt: skip
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


@pytest.fixture(scope="module")
def page(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("out")
    path = write_audit_report(out, findings(), dataset, generated=datetime(2025, 1, 2, 3, 4))
    assert path == out / "audit.html"
    return path.read_text(encoding="utf-8")


def test_the_page_has_every_section_and_inline_charts(page: str) -> None:
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert page.count("<svg") >= 3  # findings by pattern, cases by state, the ranking
    assert "违规金额（万元）" in page


def test_hostile_names_are_escaped_everywhere(page: str) -> None:
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;医院" in page  # tables and sentences
    assert re.search(r"<text[^>]*>[^<]*&lt;script&gt;", page)  # the chart label, escaped in the SVG


def test_nothing_is_fetched_from_the_network(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\b(src|href)\s*=\s*[\"'](?!#)", page)  # only in-page anchors
    assert "@import" not in page and "url(" not in page


def test_totals_in_chinese_units_and_top_findings_in_order(page: str) -> None:
    total = 1_234_567 + 5_000 + 300_000
    assert fmt_yuan(total) == "1.54万元" and "1.54万元" in page
    assert "3条" in page and "3家" in page
    top = page.split('id="top"')[1].split("</section>")[0]
    assert (
        top.index("重复收费") < top.index("超标准收费") < top.index("分解住院")
    )  # 明确违规 by amount, then 可疑


def test_findings_read_from_disk_in_yuan_give_the_same_page(dataset: Path, tmp_path: Path) -> None:
    full = findings().with_columns(*(pl.lit("").alias(c) for c in ("psn_no", "drug_trac_codg", "evidence", "stage")),
                                   score=pl.lit(1.0))  # fmt: skip
    write_table(tmp_path, "findings", full)  # DECIMAL(16,2) yuan on disk, as the audit writes it
    on_disk = pl.read_parquet(tmp_path / "findings.parquet")
    assert isinstance(on_disk.schema["vola_amt"], pl.Decimal)
    page = write_audit_report(tmp_path, on_disk, dataset, generated=datetime(2025, 1, 2, 3, 4)).read_text(encoding="utf-8")
    assert "1.54万元" in page and "12,345.67" in page


def test_cases_by_state_and_the_ranking_with_reasons(page: str) -> None:
    cases = page.split('id="cases"')[1].split("</section>")[0]
    assert "H2-split_admission" in cases and "初审" in cases and "3件" in cases
    ranking = page.split('id="ranking"')[1].split("</section>")[0]
    first = ranking.split("<tbody>")[1].split("</tr>")[0]
    assert "&lt;script&gt;" in first and "药占比" in first


def test_points_over_threshold_are_listed_when_a_ledger_is_given(dataset: Path, tmp_path: Path) -> None:
    lg = PointsLedger([PointsEvent("D9", date(2024, 3, 1), "B3-01", 9, "H1")])
    cases = build_cases(findings(), opened=date(2025, 1, 2)).advance(
        "H1-rules", "复审", on=date(2025, 1, 5), by="王"
    )
    html = write_audit_report(tmp_path, findings(), dataset, points=lg, cases=cases).read_text(
        encoding="utf-8"
    )
    section = html.split('id="points"')[1]
    assert "D9" in section and "暂停医保支付资格" in section and "江城市第1人民医院" in section
    assert "复审" in html.split('id="cases"')[1].split("</section>")[0]


def test_without_a_dataset_or_findings_the_page_still_renders(tmp_path: Path) -> None:
    empty = findings().clear()
    html = write_audit_report(tmp_path / "new" / "dir", empty).read_text(encoding="utf-8")
    for title in SECTIONS:
        assert title in html
    assert "未提供数据集" in html and "本次审核未发现疑点" in html


def test_formatting_helpers() -> None:
    assert [fmt_yuan(x) for x in (0, 5, -123456, 999_999, 1_000_000, 9_999_999_999, 10_000_000_000)] == [
        "0.00元", "0.05元", "-1,234.56元", "9,999.99元", "1.00万元", "10,000.00万元", "1.00亿元",
    ]  # fmt: skip
    assert fmt_count(123_456_789, "人次") == "1.23亿人次"
    assert fmt_pct(None) == "—" and fmt_pct(0.05, sign=True) == "+5.0%"
    assert fmt_indicator(7.25, "days") == "7.2天" and fmt_indicator(None, "share") == "—"
