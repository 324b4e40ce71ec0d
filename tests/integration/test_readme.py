"""The README's golden-case example is a real case: it runs and passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from yibao.policy.cases import load_cases, run_case

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_case_example_passes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(- name:.*?)```", readme, re.S)
    assert block is not None, "the README shows a golden case"
    path = tmp_path / "readme_case.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    [case] = load_cases([path])
    outcome = run_case(case)
    assert outcome.error is None
    assert outcome.passed, outcome.differences
