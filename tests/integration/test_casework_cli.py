"""`yibao cases …` and `yibao points …` as an auditor uses them: an audit's findings opened as cases,
walked through the workflow with money booked, points given and settlement's may-bill question; refused
steps say why, exit 2 and change nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from yibao.cli import app
from yibao.dataset.io import write_table
from yibao.supervision.cases import load_cases
from yibao.supervision.points import load_points

pytestmark = pytest.mark.integration

runner = CliRunner()


def yibao(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture
def audit_dir(tmp_path: Path) -> Path:
    rows = [  # jr_id, pattern, sev_deg, vola_amt (fen), institution, encounter, fee line
        ("J1", "duplicate_charge", "1", 152_007, "H1", "M1", "F1"),
        ("J2", "overprice", "1", 5, "H1", "M2", "F2"),
        ("J3", "split_admission", "2", 300_000, "H2", "M3", ""),
    ]
    cols = ("jr_id", "pattern", "sev_deg", "vola_amt", "fixmedins_code", "mdtrt_id", "feedetl_sn")
    f = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows]).with_columns(
        *(pl.lit(v).alias(c) for c, v in {"rule_id": "R-X", "rule_name": "规则", "vola_cont": "…", "psn_no": "P1",
                                          "drug_trac_codg": "", "doctor": "D1", "evidence": "", "stage": "事后"}.items()),
        score=pl.lit(1.0),
    )  # fmt: skip
    write_table(tmp_path, "findings", f)  # yuan DECIMAL(16,2) on disk, as `yibao audit` writes it
    return tmp_path


def test_an_audit_becomes_cases_that_walk_the_workflow_with_money_booked(audit_dir: Path) -> None:
    code, out = yibao("cases", "open", str(audit_dir), "--on", "2025-01-06")
    assert code == 0 and "2 cases opened" in out and "4,520.12 yuan" in out
    store = str(audit_dir / "cases.sqlite")
    code, out = yibao("cases", "list", store, "--on", "2025-02-20")
    assert code == 0 and "H1-rules" in out and "1,520.12" in out and "H2-split_admission" in out
    assert yibao("cases", "advance", store, "H1-rules", "复审", "--on", "2025-01-20", "--by", "王审核")[0] == 0
    code, out = yibao("cases", "post", store, "H1-rules", "1520.12", "--kind", "追回", "--on", "2025-02-03", "--by", "财务")
    assert code == 0 and "recovered (追回 + 拒付) 1,520.12" in out
    case = load_cases(audit_dir / "cases.sqlite").get("H1-rules")
    assert case.state == "复审" and [t.by for t in case.transitions] == ["智能监控", "王审核"]
    code, out = yibao("cases", "show", store, "H1-rules")
    assert code == 0 and "2025-01-20  复审  by 王审核" in out and "P000001  追回 1,520.12" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("advance", "H1-rules", "处理", "--on", "2025-01-20", "--by", "王"), "cannot go from 初审 to 处理"),
        (("post", "H1-rules", "1520.13", "--kind", "追回", "--on", "2025-02-03"), "above the violation amount"),
        (("post", "H1-rules", "1.001", "--kind", "追回", "--on", "2025-02-03"), "decimal"),
        (("advance", "H1-rules", "复审", "--on", "20-01-2025", "--by", "王"), "--on must be a date"),
        (("show", "H9-rules"), "no such case"),
    ],
)
def test_a_refused_step_says_why_and_changes_nothing(audit_dir: Path, args: tuple[str, ...], message: str) -> None:
    assert yibao("cases", "open", str(audit_dir), "--on", "2025-01-06")[0] == 0
    store = audit_dir / "cases.sqlite"
    before = load_cases(store)
    code, out = yibao("cases", args[0], str(store), *args[1:])
    assert code == 2 and "refused" in out and message in out
    assert load_cases(store) == before


def test_opening_twice_into_one_store_is_refused(audit_dir: Path) -> None:
    assert yibao("cases", "open", str(audit_dir), "--on", "2025-01-06")[0] == 0
    code, out = yibao("cases", "open", str(audit_dir), "--on", "2025-01-07")
    assert code == 2 and "already holds cases" in out


def test_points_suspend_a_doctor_who_then_may_not_bill_except_in_an_emergency(tmp_path: Path) -> None:
    store = str(tmp_path / "points.sqlite")
    code, out = yibao("points", "add", store, "D1", "B2-01", "--on", "2024-03-01", "--responsibility", "主要")
    assert code == 0 and "+6 分" in out and "正常" in out
    code, out = yibao("points", "add", store, "D1", "B1-01", "--on", "2024-06-10", "--points", "3")
    assert code == 0 and "9 分" in out and "暂停医保支付资格" in out
    code, out = yibao("points", "may-bill", store, "D1", "--on", "2024-06-20")
    assert code == 1 and out.startswith("no: 暂停")
    assert yibao("points", "may-bill", store, "D1", "--on", "2024-06-20", "--emergency")[0] == 0
    assert yibao("points", "may-bill", store, "D1", "--on", "2024-07-10")[0] == 0
    code, out = yibao("points", "list", store, "--year", "2024")
    assert code == 0 and "D1" in out and "暂停" in out


def test_points_outside_the_behaviours_range_are_refused_and_not_stored(tmp_path: Path) -> None:
    store = tmp_path / "points.sqlite"
    code, out = yibao("points", "add", str(store), "D1", "B2-01", "--on", "2024-03-01", "--points", "9")
    assert code == 2 and "must be 4–6" in out
    code, out = yibao("points", "add", str(store), "D1", "B9-99", "--on", "2024-03-01", "--points", "1")
    assert code == 2 and "B9-99" in out
    assert load_points(store).events() == ()
