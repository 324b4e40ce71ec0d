# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""超限定支付疗程 (course): a drug paid longer than its course limit.

limits.csv ``course_days`` rows: payable for ``value`` days from the first use — within one stay
(``per`` stay) or within a calendar year for the person (``per`` year). Lines dated ``value`` or more
days after the first use are reported (whole line).

Before (丁苯酞软胶囊, 限20天)::

    M1  04-01 … 04-20  丁苯酞软胶囊 daily

After::

    M1  04-21  丁苯酞软胶囊   → R-COURSE-01 明确违规 (首次使用 04-01 起已 20 天), vola_amt = the line
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, days_between, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(frozenset(kb.course), dict(kb.course))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    course = prep.data
    out = []
    for code in enc.codes & course.keys():
        lim = course[code]
        lines = enc.by_code[code]
        first = min(ln.ord for ln in lines)
        if lim.per == "year":
            year = min(ln.day for ln in lines)[:4]
            for d in enc.history.dispenses.get(code, ()):
                if date.fromordinal(d.ord).isoformat()[:4] == year:
                    first = min(first, d.ord)
        for ln in lines:
            days = ln.ord - first
            if days >= lim.value:
                out.append(
                    line_finding(rule, enc, ln, ln.sumamt, f"限支付 {lim.value} 天，距首次使用已 {days} 天")
                )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "limits", "items")
    cols = Columns(con)
    sql = f"""
        WITH k AS (SELECT code, value, per FROM yb_kb_limits WHERE limit_kind = 'course_days'),
        l AS ({lines_sql(cols, rule, join="JOIN k ON k.code = f.med_list_codg", extra=["k.value", "k.per"])}),
        g AS (SELECT l.*, CASE WHEN l.per = 'year' THEN l.psn_no || '|' || CAST(EXTRACT(YEAR FROM l.t) AS VARCHAR)
                              ELSE l.mdtrt_id END AS grp FROM l),
        c AS (SELECT g.*, MIN(g.t) OVER (PARTITION BY g.code, g.grp) AS first_t FROM g)
        SELECT c.feedetl_sn, c.mdtrt_id, c.psn_no, c.fixmedins_code, c.doctor, c.code, it.name, c.t, c.first_t, c.value,
               {days_between("c.first_t", "c.t")} AS days, c.amt AS vola_amt, c.cnt, c.pric
        FROM c JOIN yb_kb_items it ON it.code = c.code
        WHERE {days_between("c.first_t", "c.t")} >= c.value
    """
    rows = run(con, sql)
    cont = pl.format(
        "{}，限支付 {} 天，距首次使用（{}）已 {} 天",
        line_who(),
        pl.col("value"),
        pl.col("first_t").dt.strftime("%Y-%m-%d"),
        pl.col("days"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "first_t", "value", "days", "cnt", "pric"],
    )
