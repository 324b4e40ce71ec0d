# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""主次项目 (primary_secondary): a secondary procedure billed at the full price next to its primary one.

The knowledge base's ``primary_secondary`` pairs: when item_b is done with item_a (same scope) it is
paid at ``rate`` (e.g. 50% for a second operation through the same incision).

Before::

    F1  腹腔镜胆囊切除术  ¥2500.00
    F2  阑尾切除术        ¥600.00    (50% of ¥1200.00)

After (a finding)::

    F2  阑尾切除术        ¥1200.00  → R-PRIM-01 明确违规, vola_amt ¥600.00 (price above rate × price)
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.money import round_div
from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._pairs import by_b, pair_sql, partner
from yibao.supervision.rules._sql import Columns, finish, line_who, run, share_expr

RELATION = "primary_secondary"


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    idx = by_b(kb, RELATION)
    caps = {c: dict(i.pric_uplmt) for c, i in kb.items.items() if c in idx}
    return Prepared(frozenset(idx), (idx, caps))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    idx, caps = prep.data
    out = []
    for line in enc.lines:
        cap = caps.get(line.code, {}).get(enc.hosp_lv)
        for pair in idx.get(line.code, ()):
            other = partner(enc, line, pair)
            if other is None or pair.rate is None or cap is None:
                continue
            due = round_div(line.sumamt * pair.rate.numerator, pair.rate.denominator)
            # the full price is the level's cap: a line above rate × cap was not discounted
            if line.sumamt - due > 1 and line.pric * pair.rate.denominator > cap * pair.rate.numerator:
                reason = f"与「{other.name}」同时施行，应按{pair.rate.numerator * 100 // pair.rate.denominator}%收取，却按全价收取"
                out.append(
                    line_finding(rule, enc, line, line.sumamt - due, reason, related=[other], status="2")
                )
                break
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "pairs", "items", "prices")
    cols = Columns(con)
    sql = f"""
        WITH x AS ({pair_sql(cols, rule, RELATION)})
        SELECT x.feedetl_sn, x.mdtrt_id, x.psn_no, x.fixmedins_code, x.doctor, x.code, it.name, x.t, x.with_sn,
               x.with_code, w.name AS with_name, x.amt, x.cnt, x.pric, x.rate_num, x.rate_den, k.cap
        FROM x JOIN yb_kb_items it ON it.code = x.code JOIN yb_kb_items w ON w.code = x.with_code
        JOIN yb_kb_prices k ON k.code = x.code AND k.lv = x.lv
    """
    rows = run(con, sql)
    # the full price is the level's cap: a line at or below rate × cap is a discounted secondary procedure
    rows = (
        rows.with_columns(due=share_expr(pl.col("amt"), pl.col("rate_num"), pl.col("rate_den")))
        .filter(
            pl.col("cap").is_not_null()
            & (pl.col("pric") * pl.col("rate_den") > pl.col("cap") * pl.col("rate_num"))
        )
        .with_columns(vola_amt=pl.col("amt") - pl.col("due"))
        .filter(pl.col("vola_amt") > 1)
    )
    cont = pl.format("{}，与「{}」（{}）同时施行，应按 {}/{} 收取，却按全价收取", line_who(), pl.col("with_name"), pl.col("with_code"),
                     pl.col("rate_num"), pl.col("rate_den"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "with_sn", "with_code", "cnt", "pric", "cap"],
    )
