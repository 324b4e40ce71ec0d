# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""超标准收费 (overprice): a unit price above the cap (限价 / 支付标准) of the institution's level.

The caps are the catalogue's ``pric_uplmt`` per coarse level, in force on the fee date (the knowledge
base's derived ``prices`` table).

Before::

    二级 H3  彩色多普勒超声常规检查  1 × ¥90.00      (cap at 二级 ¥90.00)

After (a finding)::

    二级 H3  彩色多普勒超声常规检查  1 × ¥109.80  → R-PRICE-01 明确违规, vola_amt ¥19.80 ((pric − cap) × cnt)
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.money import yuan
from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import Columns, fee_expr, finish, line_who, lines_sql, run, yuan_expr


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    caps: dict[str, list[tuple[date, date | None, dict[str, int]]]] = {}
    for i in kb.catalog.items():
        if i.pric_uplmt:
            caps.setdefault(i.med_list_codg, []).append((i.begndate, i.enddate, dict(i.pric_uplmt)))
    return Prepared(frozenset(caps), caps)


def cap_on(versions: list[tuple[date, date | None, dict[str, int]]], day: str, lv: str) -> int | None:
    d = date.fromisoformat(day)
    for begin, end, caps in versions:
        if begin <= d and (end is None or d <= end):
            return caps.get(lv)
    return None


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    caps = prep.data
    out = []
    for line in enc.lines:
        versions = caps.get(line.code)
        if versions is None:
            continue
        cap = cap_on(versions, line.day, enc.hosp_lv)
        if cap is None or line.pric <= cap:
            continue
        amt = fee(line.pric - cap, line.cnt)
        reason = f"单价 {yuan(fee(line.pric, 10_000))} 元，超过本级别限价 {yuan(fee(cap, 10_000))} 元"
        out.append(line_finding(rule, enc, line, amt, reason, evidence={"cap": cap}))
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "prices", "items")
    cols = Columns(con)
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, where="f.med_list_codg IN (SELECT code FROM yb_kb_prices)")})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.lv, l.cnt,
               l.pric, k.cap
        FROM l JOIN yb_kb_prices k ON k.code = l.code AND k.lv = l.lv AND CAST(l.t AS DATE) >= k.begndate
             AND (k.enddate IS NULL OR CAST(l.t AS DATE) <= k.enddate)
        JOIN yb_kb_items it ON it.code = l.code
        WHERE l.pric > k.cap
    """
    rows = run(con, sql).with_columns(
        vola_amt=fee_expr(pl.col("pric") - pl.col("cap"), pl.col("cnt")),
        unit=fee_expr(pl.col("pric"), pl.lit(10_000)),
        cap_fen=fee_expr(pl.col("cap"), pl.lit(10_000)),
    )
    cont = pl.format(
        "{}，单价 {} 元，超过本级别（{}级）限价 {} 元",
        line_who(),
        yuan_expr("unit"),
        pl.col("lv"),
        yuan_expr("cap_fen"),
    )
    return finish(
        rows, rule, cont=cont, key=["feedetl_sn"], evidence=["code", "name", "t", "lv", "cnt", "pric", "cap"]
    )
