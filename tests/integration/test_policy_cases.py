"""Every golden policy case in policy_data/cases/*.yaml, and the ``yibao policy`` commands that run them.

Each case was computed by hand from its region pack (the arithmetic is in a comment above its
``expect``); a failure here lists every difference between the engine and that hand computation.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yibao.cli import app
from yibao.policy.cases import Case, load_cases, run_case
from yibao.settlement.model import SETLINFO_MONEY_FIELDS

pytestmark = pytest.mark.integration

CASES_DIR = Path(__file__).resolve().parents[2] / "policy_data" / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))
CASES = load_cases(CASE_FILES)


def _case_id(case: Case) -> str:
    return f"{case.file}:{case.name}"


def test_the_case_files_hold_enough_cases() -> None:
    assert CASE_FILES, f"no case files under {CASES_DIR}"
    assert len(CASES) >= 40
    names = [_case_id(c) for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique within a file"


def test_every_case_cites_its_source() -> None:
    missing = [_case_id(c) for c in CASES if not c.reference.strip()]
    assert not missing, f"cases without a reference: {missing}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden_case(case: Case) -> None:
    outcome = run_case(case)
    assert outcome.passed, f"{case.where}:\n  " + "\n  ".join(outcome.differences)


def _json_rows(stdout: str) -> list[dict[str, object]]:
    rows = json.loads(stdout, parse_float=Decimal)
    assert isinstance(rows, list)
    return rows


def test_policy_run_json_lists_every_case_in_order_with_money_as_numbers() -> None:
    result = CliRunner().invoke(app, ["policy", "run", *map(str, CASE_FILES), "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_rows(result.stdout)
    assert [(r["file"], r["name"]) for r in rows] == [(c.file, c.name) for c in CASES]
    computed = 0
    for row, case in zip(rows, CASES, strict=True):
        assert row["region"] == case.region
        assert row["date"] == case.date.isoformat()
        results = row["results"]
        assert isinstance(results, dict)
        if row["error"] is not None or case.raw.get("encounter") is None:
            continue  # bad input, or a person-level case (no settlement)
        computed += 1
        for name in SETLINFO_MONEY_FIELDS:
            value = results[name]
            # a JSON number (read back exactly as Decimal or int), never a string, null or bool
            assert isinstance(value, Decimal | int) and not isinstance(value, bool), (case.where, name, value)
            assert Decimal(value) == Decimal(value).quantize(Decimal("0.01")), (case.where, name, value)
    assert computed >= 40


def test_policy_run_json_keeps_the_order_of_the_paths_given() -> None:
    files = list(reversed(CASE_FILES))
    result = CliRunner().invoke(app, ["policy", "run", *map(str, files), "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_rows(result.stdout)
    assert [(r["file"], r["name"]) for r in rows] == [(c.file, c.name) for c in load_cases(files)]


def test_money_in_the_json_is_written_as_number_literals() -> None:
    example = CASES_DIR / "990100_examples.yaml"
    result = CliRunner().invoke(app, ["policy", "run", str(example), "--json"])
    assert result.exit_code == 0, result.output
    assert '"hifp_pay": 8280.00' in result.stdout
    assert '"medfee_sumamt": "' not in result.stdout


WRONG_CASE = """\
- name: deliberately wrong
  reference: a test of yibao policy test; hand computation
  region: "990100"
  date: 2025-01-06
  person: {insutype: "310", psn_type: "1101", age: 30}
  encounter:
    med_type: "11"
    hosp_lv: "3"
    lines:
      - {med_list_codg: "T-A", chrgitm_lv: "01", selfpay_prop: 0, pric: 380.00, cnt: 1}
  # (380 − 200) × 0.50 = 90.00 — the expectation below is wrong on purpose
  expect:
    act_pay_dedc: 200.00
    hifp_pay: 999.99
    psn_part_amt: 290.00
"""


def test_policy_test_exits_1_and_prints_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(WRONG_CASE, encoding="utf-8")
    result = CliRunner().invoke(app, ["policy", "test", str(path)])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout
    assert "deliberately wrong" in result.stdout
    assert "hifp_pay: expected 999.99, got 90.00" in result.stdout
    assert "0 passed, 1 failed" in result.stdout
    # the correct expectations are not reported
    assert "act_pay_dedc" not in result.stdout
    assert "psn_part_amt" not in result.stdout


def test_policy_test_exits_0_when_every_case_passes(tmp_path: Path) -> None:
    path = tmp_path / "right.yaml"
    path.write_text(WRONG_CASE.replace("hifp_pay: 999.99", "hifp_pay: 90.00"), encoding="utf-8")
    result = CliRunner().invoke(app, ["policy", "test", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.stdout


def test_policy_explain_shows_the_steps_and_parameters_read() -> None:
    result = CliRunner().invoke(app, ["policy", "explain", str(CASES_DIR / "990100_examples.yaml")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for step in ("费用分割", "起付线", "统筹基金", "个人账户"):
        assert step in out
    assert "inpatient.deductible" in out
    assert "since 2024-01-01" in out
