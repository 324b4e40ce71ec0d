"""docs/supervision.md stays true: its rule table lists every rule of the shipped library, as it is."""

from __future__ import annotations

import re
from pathlib import Path

from yibao.supervision.library import load_library

DOC = Path(__file__).resolve().parents[2] / "docs" / "supervision.md"


def test_the_rule_table_lists_every_rule_with_its_kind_pattern_and_result() -> None:
    rows = {m[0]: m[1:] for m in re.findall(r"^\| (R-[A-Z]+-\d+) \| ([^|]+) \| (\w+) \| (\w+) \| (\S+) \|", DOC.read_text(encoding="utf-8"), re.M)}
    library = {r.id: (r.name, r.kind, r.pattern, r.result_type) for r in load_library().rules}
    assert {k: tuple(x.strip() for x in v) for k, v in rows.items()} == library
