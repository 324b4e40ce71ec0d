# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""提前开药 (early_refill): the same drug dispensed again to the same person long before the last supply
can have run out.

A dispense (an outpatient, chronic or pharmacy line with days supplied) is early when fewer than
``refill_share`` × the previous supply's days have passed since the previous dispense of the same drug
to the person, at any institution. The previous supply counts at most its own limit (a supply that
was itself too long is days_supply's finding, not a reason to call the next normal refill early).

Before::

    03-01  H1  苯磺酸氨氯地平片  prd_days 30
    03-30  H1  苯磺酸氨氯地平片  prd_days 30     (29 days later: fine)

After::

    03-01  H1  苯磺酸氨氯地平片  prd_days 30
    03-10  H1  苯磺酸氨氯地平片  prd_days 30     → R-REFILL-01 可疑 (9 of 30 days used),
                                                vola_amt = line × 21/30 (the overlapping supply)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.money import round_div
from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, days_between, finish, line_who, lines_sql, run, share_expr


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    refill_share: float = Field(0.7, gt=0, le=1)
    long_rx_max_days: int = Field(84, ge=1, le=366)
    min_days: int = Field(7, ge=1)
    """Only supplies of at least this many days are followed (short courses are not refilled)."""
    same_institution: bool = False
    """Only a previous supply from the same institution counts (同一机构提前开药)."""


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    drugs = frozenset(c for c, i in kb.items.items() if i.list_type == "drug")
    share = Fraction(str(p.refill_share)).limit_denominator(1000)
    return Prepared(drugs, (p, share, dict(kb.days_limit)))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p, share, limits = prep.data
    if enc.visit == "inpatient":
        return []
    out = []
    for ln in enc.lines:
        if ln.prd_days <= 0 or ln.code not in prep.codes:  # type: ignore[operator]
            continue
        prev = None
        for d in enc.history.dispenses.get(ln.code, ()):
            if (
                d.ord <= ln.ord
                and d.prd_days > 0
                and d.mdtrt_id != enc.mdtrt_id
                and (not p.same_institution or d.medins_id == enc.medins_id)
            ):
                prev = d
        if prev is None:
            continue
        supply = min(prev.prd_days, limits.get(ln.code, p.long_rx_max_days))
        if supply < p.min_days:
            continue
        elapsed = ln.ord - prev.ord
        if elapsed * share.denominator >= supply * share.numerator:
            continue
        overlap = min(supply - elapsed, ln.prd_days)
        amt = round_div(ln.sumamt * overlap, ln.prd_days)
        reason = f"距上次（{prev.mdtrt_id}，供药 {supply} 天）仅 {elapsed} 天即再次开药"
        out.append(
            line_finding(
                rule,
                enc,
                ln,
                amt,
                reason,
                status="2",
                evidence={"previous": prev.mdtrt_id, "elapsed": elapsed},
            )
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "days", "items")
    cols = Columns(con)
    share = Fraction(str(p.refill_share)).limit_denominator(1000)
    place = "fixmedins_code" if p.same_institution else "''"
    sql = f"""
        WITH l AS ({
        lines_sql(
            cols,
            rule,
            join="JOIN yb_kb_items it0 ON it0.code = f.med_list_codg AND it0.list_type = 'drug'",
            where="f.prd_days > 0",
        )
    }),
        e AS (SELECT psn_no, code, mdtrt_id, {place} AS place, MIN(t) AS t, MAX(prd_days) AS prd_days,
                     MIN(feedetl_sn) AS feedetl_sn
              FROM l WHERE visit <> 'inpatient' GROUP BY psn_no, code, mdtrt_id, {place}),
        w AS (SELECT e.*, LAG(e.t) OVER (PARTITION BY e.psn_no, e.code, e.place ORDER BY e.t, e.mdtrt_id) AS prev_t,
                     LAG(e.prd_days) OVER (PARTITION BY e.psn_no, e.code, e.place ORDER BY e.t, e.mdtrt_id) AS prev_days,
                     LAG(e.mdtrt_id) OVER (PARTITION BY e.psn_no, e.code, e.place ORDER BY e.t, e.mdtrt_id) AS prev_mdtrt
              FROM e),
        x AS (SELECT w.*, LEAST(w.prev_days, COALESCE(d.max_days, {p.long_rx_max_days})) AS supply,
                     {days_between("w.prev_t", "w.t")} AS elapsed
              FROM w LEFT JOIN yb_kb_days d ON d.code = w.code WHERE w.prev_t IS NOT NULL)
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, x.prev_t, x.prev_mdtrt,
               x.supply, x.elapsed, l.prd_days, l.amt, l.cnt, l.pric
        FROM x JOIN l ON l.feedetl_sn = x.feedetl_sn JOIN yb_kb_items it ON it.code = l.code
        WHERE x.supply >= {p.min_days} AND x.elapsed * {share.denominator} < x.supply * {share.numerator}
    """
    rows = run(con, sql).with_columns(
        vola_amt=share_expr(
            pl.col("amt"),
            pl.min_horizontal(pl.col("supply") - pl.col("elapsed"), pl.col("prd_days")),
            pl.col("prd_days"),
        )
    )
    cont = pl.format("{}，距上次（{} 于 {}，供药 {} 天）仅 {} 天即再次开药", line_who(), pl.col("prev_mdtrt"),
                     pl.col("prev_t").dt.strftime("%Y-%m-%d"), pl.col("supply"), pl.col("elapsed"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "prev_t", "prev_mdtrt", "supply", "elapsed", "prd_days"],
    )
