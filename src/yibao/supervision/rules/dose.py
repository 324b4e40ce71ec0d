# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""药品超剂量 (dose): a daily dose above the knowledge base's maximum.

The daily dose of a line is packages × units per package × dose per unit ÷ days supplied (dose.csv).

Before (阿托伐他汀钙片 20 mg × 28, max 80 mg a day)::

    M1  阿托伐他汀钙片  cnt 1  prd_days 28     (20 mg a day)

After::

    M1  阿托伐他汀钙片  cnt 6  prd_days 28     (120 mg a day) → R-DOSE-01 可疑,
        vola_amt = line × (1 − 80/120) (the packages above the maximum)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.money import round_div
from yibao.supervision.findings import Finding
from yibao.supervision.kb import Dose, KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run

UNIT = 10_000


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(frozenset(kb.doses), dict(kb.doses))


def daily(d: Dose, cnt: int, days: int) -> Fraction:
    return Fraction(cnt, UNIT) * d.units_per_pack * d.unit_dose / days


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    doses = prep.data
    out = []
    for ln in enc.lines:
        d = doses.get(ln.code)
        if d is None or ln.prd_days <= 0:
            continue
        got = daily(d, ln.cnt, ln.prd_days)
        if got <= d.max_daily:
            continue
        over = 1 - d.max_daily / got
        amt = round_div(ln.sumamt * over.numerator, over.denominator)
        reason = f"日剂量 {float(got):.4g}{d.dose_unit}，超过最大日剂量 {float(d.max_daily):.4g}{d.dose_unit}"
        out.append(line_finding(rule, enc, ln, amt, reason, status="2"))
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "dose", "items")
    cols = Columns(con)
    sql = f"""
        WITH l AS ({
        lines_sql(
            cols,
            rule,
            join="JOIN yb_kb_dose k ON k.code = f.med_list_codg",
            extra=["k.max_packs_num", "k.max_packs_den"],
            where="f.prd_days > 0",
        )
    })
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.prd_days, l.cnt,
               l.pric, l.amt, l.max_packs_num, l.max_packs_den
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE l.cnt * l.max_packs_den > l.prd_days * l.max_packs_num * {UNIT}
    """
    rows = run(con, sql)
    # allowed packages = prd_days × num / den; excess share = 1 − allowed / cnt
    allowed = pl.col("prd_days") * pl.col("max_packs_num") * UNIT
    num = pl.col("cnt") * pl.col("max_packs_den") - allowed
    den = pl.col("cnt") * pl.col("max_packs_den")
    n = pl.col("amt") * num
    rows = rows.with_columns(
        vola_amt=(2 * n + den) // (2 * den), per_day=(pl.col("cnt") / UNIT / pl.col("prd_days")).round(3)
    )
    cont = pl.format("{}，每日 {} 盒，超过最大日剂量对应的用量", line_who(), pl.col("per_day"))
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "prd_days", "cnt", "pric", "max_packs_num", "max_packs_den"],
    )
