# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
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
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._pairs import SCOPE_NAMES, by_b, pair_sql, partner
from yibao.supervision.rules._sql import Columns, finish, line_who, run

RELATION = "exclusive"


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    idx = by_b(kb, RELATION)
    return Prepared(frozenset(idx), (idx, kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    idx, _kb = prep.data
    out = []
    for line in enc.lines:
        for pair in idx.get(line.code, ()):
            other = partner(enc, line, pair)
            if other is not None:
                reason = (
                    f"，{SCOPE_NAMES[pair.scope]}已收取「{other.name}」（{other.code}），两者互斥不得同时收取"
                )
                out.append(line_finding(rule, enc, line, line.sumamt, reason, related=[other]))
                break
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "pairs", "items")
    cols = Columns(con)
    sql = f"""
        WITH x AS ({pair_sql(cols, rule, RELATION)})
        SELECT x.feedetl_sn, x.mdtrt_id, x.psn_no, x.fixmedins_code, x.doctor, x.code, it.name, x.t, x.with_sn,
               x.with_code, w.name AS with_name, x.scope, x.amt AS vola_amt, x.cnt, x.pric
        FROM x JOIN yb_kb_items it ON it.code = x.code JOIN yb_kb_items w ON w.code = x.with_code
    """
    rows = run(con, sql)
    cont = pl.format("{}，{}已收取「{}」（{}，{}），两者互斥不得同时收取", line_who(), pl.col("scope").replace(SCOPE_NAMES),
                     pl.col("with_name"), pl.col("with_code"), pl.col("with_sn"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "with_sn", "with_code", "scope", "cnt", "pric"],
    )
