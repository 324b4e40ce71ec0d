# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""超限定数量 (quantity): more units of an item than allowed per day, or per day of the stay.

limits.csv ``quantity`` rows: ``value`` units per day (per encounter-day), or — with ``scale`` los — at
most ``value`` × (length of stay + 1) units over a whole stay (bed-days, nursing-days and ward rounds
cannot exceed the days in hospital; +1 tolerates billing both the admission and the discharge day).

Before (a 5-night stay)::

    M1  普通病房床位费 × 6

After::

    M1  普通病房床位费 × 9   → R-QTY-02 明确违规 (住院 5 天最多 6 次), vola_amt = 3 × the bed price
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase, Limit
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import Columns, days_between, fee_expr, finish, line_who, lines_sql, run
from yibao.supervision.rules.frequency import counts_batch, counts_online, index

UNIT = 10_000


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    scaled: bool = False
    """False: the per-day (unscaled) limits; True: the per-stay limits scaled by the length of stay."""


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    if not p.scaled:
        idx = index(kb.quantity)
        return Prepared(frozenset(idx), (p, idx))
    scaled: dict[str, Limit] = {}
    for c, v in kb.quantity.items():
        for x in v:
            if x.scale == "los":
                scaled[c] = x
    return Prepared(frozenset(scaled), (p, scaled))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p, idx = prep.data
    if not p.scaled:
        return counts_online(enc, rule, idx)
    if enc.visit != "inpatient":
        return []
    out = []
    los = enc.los()
    for code in enc.codes & idx.keys():
        lim: Limit = idx[code]
        allowed = lim.value * (los + 1) * UNIT
        cum = 0
        for ln in sorted(enc.by_code[code], key=lambda x: (x.time, x.rx_id)):
            cum += ln.cnt
            if cum > allowed:
                excess = min(ln.cnt, cum - allowed)
                reason = f"住院 {los} 天最多 {allowed // UNIT} 次，累计已达 {cum // UNIT} 次"
                out.append(line_finding(rule, enc, ln, fee(ln.pric, excess), reason))
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    if not p.scaled:
        return counts_batch(con, rule, kb, "quantity")
    kb.register(con, "limits", "items")
    cols = Columns(con)
    los = f"GREATEST(1, {days_between('begntime', 'endtime')})"
    sql = f"""
        WITH k AS (SELECT code, value FROM yb_kb_limits WHERE limit_kind = 'quantity' AND scale = 'los'),
        l AS ({lines_sql(cols, rule, join="JOIN k ON k.code = f.med_list_codg", extra=["k.value"], where="TRUE")}),
        s AS (SELECT l.*, {los} AS los FROM l WHERE l.visit = 'inpatient'),
        c AS (SELECT s.*, s.value * (s.los + 1) * {UNIT} AS allowed,
                     SUM(s.cnt) OVER (PARTITION BY s.mdtrt_id, s.code ORDER BY s.t, s.feedetl_sn
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
              FROM s)
        SELECT c.feedetl_sn, c.mdtrt_id, c.psn_no, c.fixmedins_code, c.doctor, c.code, it.name, c.t, c.los, c.allowed,
               c.cum, c.cnt, c.pric, LEAST(c.cnt, c.cum - c.allowed) AS excess
        FROM c JOIN yb_kb_items it ON it.code = c.code
        WHERE c.cum > c.allowed
    """
    rows = run(con, sql).with_columns(vola_amt=fee_expr(pl.col("pric"), pl.col("excess")))
    cont = pl.format(
        "{}，住院 {} 天最多 {} 次，累计已达 {} 次",
        line_who(),
        pl.col("los"),
        pl.col("allowed") // UNIT,
        pl.col("cum") // UNIT,
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "los", "allowed", "cum", "cnt", "pric"],
    )
