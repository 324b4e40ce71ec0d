"""`yibao demo` as a newcomer runs it: a real subprocess, its table, its trace and its JSON file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_settles_the_example_bills_and_writes_them(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "yibao.cli", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "990100" in done.stdout
    assert "How the first bill was settled" in done.stdout
    assert "inpatient.deductible" in done.stdout  # the trace names the parameters it read
    rows = json.loads((tmp_path / "demo_settlements.json").read_text(encoding="utf-8"))
    assert len(rows) >= 5
    assert all(r["error"] is None for r in rows)
    first = rows[0]["results"]
    assert first["medfee_sumamt"] == first["fund_pay_sumamt"] + first["psn_part_amt"]
    # the whole pipeline: one offline page with the dashboard, the bulletin, DRG, findings and the ranking
    assert "report:" in done.stdout
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for section in ("基金运行情况", "待遇享受", "DRG 点数法付费", "重点疑点", "飞行检查"):
        assert section in page, section
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", page) and "<script" not in page  # offline
    for name in ("findings.parquet", "bulletin.json", "dataset/setl_d.parquet", "dataset/labels.parquet"):
        assert (tmp_path / name).exists(), name


def test_an_unknown_command_gets_help_not_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "yibao.cli", "no-such-command"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
