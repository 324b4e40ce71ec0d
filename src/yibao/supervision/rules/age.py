# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限儿童 / 限年龄 (age): an item the catalogue restricts to an age band, billed outside it.

Before (payable)::

    P2 女 5 岁   门诊  小儿头皮静脉输液 ¥12.00      (catalogue lmt_age_max 6)

After (a finding)::

    P8 男 52 岁  门诊  小儿头皮静脉输液 ¥12.00  → R-AGE-01 明确违规, vola_amt ¥12.00

Not a violation: a diagnosis in the knowledge base's ``exempt_dx`` for the item (an adult with 吞咽困难
R13 given a paediatric suspension). An adult's card used in a paediatric department is someone else's
care (``identity_contradiction``), not reported line by line here (``defer_paediatric_depts``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, age_on, line_finding
from yibao.supervision.rules._sql import Columns, age_sql, finish, line_who, lines_sql, prefix_join, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    exempt: bool = True
    defer_paediatric_depts: tuple[str, ...] = ()
    """科别 codes (e.g. A07 儿科) whose encounters with an adult are left to identity_contradiction."""
    adult_age: int = 18


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    bands = {
        c: (i.restriction.age_min, i.restriction.age_max)
        for c, i in kb.items.items()
        if i.restriction.age_min is not None or i.restriction.age_max is not None
    }
    return Prepared(frozenset(bands), (bands, dict(kb.exempt_dx) if p.exempt else {}, p))


def _band(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"限{lo}–{hi}岁"
    return f"限{hi}岁及以下" if hi is not None else f"限{lo}岁及以上"


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    bands, exempt, p = prep.data
    if (
        p.defer_paediatric_depts
        and enc.age >= p.adult_age
        and any(c in enc.dept for c in p.defer_paediatric_depts)
    ):
        return []
    out = []
    for line in enc.lines:
        band = bands.get(line.code)
        if band is None:
            continue
        age = age_on(enc.brdy, line.time)
        lo, hi = band
        if (lo is None or age >= lo) and (hi is None or age <= hi):
            continue
        ex = exempt.get(line.code)
        if ex and any(d.startswith(ex) for d in enc.diagnoses):
            continue
        out.append(line_finding(rule, enc, line, line.sumamt, f"{_band(lo, hi)}使用，患者年龄{age}岁"))
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "age", "exempt", "items")
    cols = Columns(con)
    exempt = (
        f"AND NOT EXISTS (SELECT 1 FROM {prefix_join('setl_list_diag_d', 'd', 'diag_code', 'yb_kb_exempt', 'e')} "
        "WHERE d.mdtrt_id = l.mdtrt_id AND e.code = l.code)"
        if p.exempt else ""
    )  # fmt: skip
    depts = " OR ".join(f"m2.dept_codg LIKE '%{c}%'" for c in p.defer_paediatric_depts)
    defer = (
        f"AND NOT (l.age >= {p.adult_age} AND EXISTS (SELECT 1 FROM mdtrt_d m2 WHERE m2.mdtrt_id = l.mdtrt_id AND ({depts})))"
        if depts else ""
    )  # fmt: skip
    sql = f"""
        WITH l AS ({
        lines_sql(
            cols,
            rule,
            join="JOIN yb_kb_age a ON a.code = f.med_list_codg",
            person=True,
            extra=["a.age_min", "a.age_max", age_sql("p.brdy", "f.fee_ocur_time") + " AS age"],
        )
    })
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.age,
               l.age_min, l.age_max, l.amt AS vola_amt, l.cnt, l.pric
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE ((l.age_min IS NOT NULL AND l.age < l.age_min) OR (l.age_max IS NOT NULL AND l.age > l.age_max))
          {exempt} {defer}
    """
    rows = run(con, sql)
    band = (
        pl.when(pl.col("age_min").is_not_null() & pl.col("age_max").is_not_null())
        .then(pl.format("限{}–{}岁", pl.col("age_min"), pl.col("age_max")))
        .when(pl.col("age_max").is_not_null())
        .then(pl.format("限{}岁及以下", pl.col("age_max")))
        .otherwise(pl.format("限{}岁及以上", pl.col("age_min")))
    )
    cont = pl.format("{}，该项目{}使用，患者年龄{}岁", line_who(), band, pl.col("age"))
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "age", "age_min", "age_max", "cnt", "pric"],
    )
