# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""费用日期不在住院期间 (fee_outside_stay): a fee line of a stay dated before admission or after discharge.

Before (stay 04-03 → 04-12)::

    M1  04-05  II级护理

After::

    M1  04-15  II级护理   → R-OUTSTAY-01 明确违规 (3 days after discharge), vola_amt = the line

Dates are compared by day: a line on the day of admission or discharge is inside the stay.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(None, None)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    if enc.visit != "inpatient":
        return []
    a, b = enc.adm[:10], enc.dscg[:10]
    out = []
    for ln in enc.lines:
        if ln.drord_bhvr == "1":
            continue
        if ln.day < a or ln.day > b:
            out.append(line_finding(rule, enc, ln, ln.sumamt, f"，费用日期不在住院期间（{a} 至 {b}）"))
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "items")
    cols = Columns(con)
    sql = f"""
        WITH l AS ({lines_sql(cols, rule)})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.begntime, l.endtime,
               l.amt AS vola_amt, l.cnt, l.pric
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE l.visit = 'inpatient'
          AND (CAST(l.t AS DATE) < CAST(l.begntime AS DATE) OR CAST(l.t AS DATE) > CAST(l.endtime AS DATE))
    """
    rows = run(con, sql)
    cont = pl.format("{}，费用日期不在住院期间（{} 至 {}）", line_who(), pl.col("begntime").dt.strftime("%Y-%m-%d"),
                     pl.col("endtime").dt.strftime("%Y-%m-%d"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "begntime", "endtime", "cnt", "pric"],
    )
