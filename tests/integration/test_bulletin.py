"""The bulletin end to end: files, totals that add up, numbers from the JSON, sections without data,
offline self-contained HTML with escaping, the CLI, year-on-year change."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from yibao.money import loads
from yibao.stats import fmt
from yibao.stats.bulletin import (
    bulletin_section,
    dashboard_section,
    render_html,
    render_markdown,
    write_bulletin,
)
from yibao.stats.cli import bulletin_command
from yibao.stats.sample import sample_dataset, write_rows
from yibao.stats.text import SECTIONS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ds")
    sample_dataset(folder, persons=900, seed=5)
    return folder


@pytest.fixture(scope="module")
def written(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("out")
    return out, write_bulletin(dataset, out)


def _acc(doc: dict) -> dict:
    return {r["key"]: r for r in doc["funds"]["accounts"]}


def test_files_and_checks(written: tuple[Path, dict]) -> None:
    out, doc = written
    for name in ("bulletin.json", "bulletin.md", "bulletin.html"):
        assert (out / name).stat().st_size > 1000
    assert doc["checks"] and all(c["ok"] for c in doc["checks"])
    assert loads((out / "bulletin.json").read_text(encoding="utf-8"))["title"] == doc["title"]


def test_totals_add_up_in_the_json(written: tuple[Path, dict]) -> None:
    _, doc = written
    acc = _acc(doc)
    for key, parts in (
        ("employee_pool", ("employee_basic", "large_amount")),
        ("employee", ("employee_pool", "personal_account")),
        ("resident", ("resident_basic", "serious_illness")),
        ("total", ("employee", "resident", "maternity")),
    ):
        for what in ("income", "expenditure", "current", "cumulative"):
            assert acc[key][what] == sum(acc[p][what] for p in parts), (key, what)
    for r in acc.values():
        assert r["current"] == r["income"] - r["expenditure"]
        assert r["cumulative"] == r["opening"] + r["current"]
        assert sum(r["income_parts"].values(), Decimal(0)) == r["income"]
        assert sum(r["expenditure_parts"].values(), Decimal(0)) == r["expenditure"]
        assert isinstance(r["income"], Decimal)  # exact yuan, never a float
    for b in doc["benefits"].values():
        assert b["person_times"] == sum(b["by_kind"].values())
    for e in doc["expenses"].values():
        assert e["total"] == e["facility"] + e["pharmacy"]
    c = doc["coverage"]
    assert c["total"] == c["employee"]["total"] + c["resident"]["total"]
    assert c["employee"]["total"] == c["employee"]["in_service"] + c["employee"]["retired"]
    assert sum(r["person_times"] for r in doc["table"]) == sum(b["person_times"] for b in doc["benefits"].values())


def test_months_payable_matches_the_formula(written: tuple[Path, dict]) -> None:
    _, doc = written
    r = _acc(doc)["resident"]
    expected = r["cumulative"] / (r["expenditure"] / r["months"])
    assert abs(r["months_payable"] - expected) < Decimal("0.000001")


def test_sections_in_order_and_without_data(written: tuple[Path, dict]) -> None:
    out, _ = written
    md = (out / "bulletin.md").read_text(encoding="utf-8")
    positions = [md.index(f"## {title}") for _, title in SECTIONS]
    assert positions == sorted(positions)
    assert "无长期护理保险" in md and "无生育保险" in md and "未提供基金监管结果" in md


def test_no_cross_region_care_is_said(written: tuple[Path, dict]) -> None:
    _, doc = written
    changed = copy.deepcopy(doc)
    changed["cross_region"]["total"]["person_times"] = 0
    changed["cross_region"]["cross_province"]["person_times"] = 0
    assert "本期数据中无异地就医记录" in render_markdown(changed)
    assert "本期数据中无异地就医记录" not in render_markdown(doc)


def test_numbers_in_the_text_come_from_the_json(written: tuple[Path, dict]) -> None:
    out, doc = written
    md = (out / "bulletin.md").read_text(encoding="utf-8")
    acc = _acc(doc)
    unit = fmt.money_unit(max(abs(acc["total"]["income"]), abs(acc["total"]["cumulative"])))
    assert f"总收入{fmt.cn_money(acc['total']['income'], unit)}" in md
    assert f"可支付月数{fmt.cn_months(acc['resident']['months_payable'])}" in md
    assert fmt.cn_pct(doc["inpatient"]["employee"]["all"]["fund_ratio"]) in md
    changed = copy.deepcopy(doc)
    for r in changed["funds"]["accounts"]:
        if r["key"] == "total":
            r["income"] = Decimal("123456789.00")
    assert "总收入1.23亿元" in render_markdown(changed)
    assert "1.23亿元" in render_html(changed)


def test_html_is_offline_and_charted(written: tuple[Path, dict]) -> None:
    out, _ = written
    html = (out / "bulletin.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 5
    assert "<script" not in html
    for url in re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)", html):
        assert not url.startswith(("http:", "https:", "//")), url
    assert "cdn" not in html.lower()
    assert "基金收支与累计结存" in html and "住院费用目录内基金支付比例" in html
    assert re.search(r"\d+\.\d万元|万人|人次", html)


def test_findings_section_and_escaping(dataset: Path, tmp_path: Path) -> None:
    write_rows(tmp_path, "findings", [
        {"jr_id": "J1", "rule_id": "R-1", "rule_name": "<script>alert(1)</script>", "sev_deg": "1", "vola_amt": 12345,
         "fixmedins_code": "H30000", "psn_no": "P1"},
        {"jr_id": "J2", "rule_id": "R-2", "rule_name": "可疑", "sev_deg": "2", "vola_amt": 100, "fixmedins_code": "H30000"},
    ])  # fmt: skip
    doc = write_bulletin(dataset, tmp_path)
    s = doc["supervision"]
    assert s["present"] and s["findings"] == 2 and s["amount"] == Decimal("124.45") and s["institutions"] == 1
    html = (tmp_path / "bulletin.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "疑点2条" in (tmp_path / "bulletin.md").read_text(encoding="utf-8")


def test_drg_settlements_when_present(dataset: Path, tmp_path: Path) -> None:
    import polars as pl

    pl.DataFrame({"case_id": ["a", "b"], "drg": ["GD25", "ES31"], "pay_fen": [123400, 56600]}).write_parquet(
        tmp_path / "drg_settlement.parquet"
    )
    doc = write_bulletin(dataset, tmp_path)
    assert doc["drg"] == {"present": True, "cases": 2, "totals": {"pay_fen": Decimal("1800.00")}}
    assert "按病组（DRG/DIP）付费结算2例" in (tmp_path / "bulletin.md").read_text(encoding="utf-8")


def test_fragments_for_the_combined_report(written: tuple[Path, dict]) -> None:
    out, doc = written
    dash = dashboard_section(doc)
    assert "可支付月数" in dash and dash.count("<svg") == 2 and "<html" not in dash
    section = bulletin_section(out / "bulletin.json")
    assert "一、参保情况" in section and "<html" not in section
    assert bulletin_section(out) == section  # an out folder with bulletin.json


def test_year_on_year(dataset: Path, written: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = written
    doc = write_bulletin(dataset, tmp_path, previous=out / "bulletin.json")
    total = _acc(doc)["total"]
    assert total["yoy"]["income"] == 0 and total["yoy"]["expenditure"] == 0
    assert "比上年持平" in (tmp_path / "bulletin.md").read_text(encoding="utf-8")


def test_cli(dataset: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("bulletin")(bulletin_command)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["bulletin", str(dataset), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and (tmp_path / "bulletin.html").exists()
    bad = CliRunner().invoke(app, ["bulletin", str(tmp_path / "missing")])
    assert bad.exit_code == 2
