"""重复收费 — 项目内涵 (included_component): a component billed next to the package that includes it.

The knowledge base's ``includes`` pairs say item_a's 项目内涵 includes item_b within a scope (same time,
same day or same encounter).

Before::

    F1  经皮冠状动脉支架置入术  10:05  ¥4500.00

After (a finding on the component)::

    F1  经皮冠状动脉支架置入术  10:05  ¥4500.00
    F2  冠状动脉造影术          10:05  ¥1800.00  → R-INCL-01 明确违规, vola_amt ¥1800.00
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared
from yibao.supervision.rules._pairs import by_b, pair_batch, pair_online

REASON = "，其项目内涵已包含本项目"
RELATION = "includes"


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    idx = by_b(kb, RELATION)
    return Prepared(frozenset(idx), (idx, kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    idx, _kb = prep.data
    return pair_online(enc, rule, idx, REASON)


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    return pair_batch(con, rule, kb, RELATION, REASON)  # type: ignore[no-any-return]
