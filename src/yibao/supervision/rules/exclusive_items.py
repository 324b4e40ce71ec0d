"""重复收费 — 互斥项目 (exclusive_items): two items that exclude each other billed within one scope.

The knowledge base's ``exclusive`` pairs: within the scope only one of item_a / item_b may be billed
(one nursing level a day, one bed a day, one kind of 诊察费 a visit); item_b is reported.

Before::

    F1  I级护理   04-03  ¥30.00

After (a finding on the second item)::

    F1  I级护理   04-03  ¥30.00
    F2  II级护理  04-03  ¥18.00  → R-EXCL-01 明确违规, vola_amt ¥18.00
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared
from yibao.supervision.rules._pairs import by_b, pair_batch, pair_online

REASON = "，两者互斥不得同时收取"
RELATION = "exclusive"


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
