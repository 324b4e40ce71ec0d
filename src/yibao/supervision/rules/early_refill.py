# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""提前开药 (early_refill): the same drug dispensed again to the same person long before the last supply
can have run out.

A dispense (an outpatient, chronic or pharmacy line with days supplied) is early when fewer than
``refill_share`` × the previous supply's days have passed since the previous dispense of the same drug
to the person, at any institution. The previous supply counts at most its own limit (a supply that
was itself too long is days_supply's finding, not a reason to call the next normal refill early).

A refill at a higher daily dose (剂量调整: packages ÷ days supplied above the previous dispense's) is a
new prescription, not an early one, when what is left of the previous supply, taken at the new dose,
is no more than ``1 − refill_share`` of it: 15 of 30 days left at twice the dose last 7.5 days, fine.
Quantity ÷ days is the only dose a fee line carries, so a dose change shows as fewer days for the same
packages.

Before::

    03-01  H1  苯磺酸氨氯地平片  prd_days 30
    03-30  H1  苯磺酸氨氯地平片  prd_days 30     (29 days later: fine)

After::

    03-01  H1  苯磺酸氨氯地平片  prd_days 30
    03-10  H1  苯磺酸氨氯地平片  prd_days 30     → R-REFILL-01 可疑 (9 of 30 days used),
                                                vola_amt = line × 21/30 (the overlapping supply)

Not early (a dose change)::

    03-01  H1  苯磺酸氨氯地平片  cnt 1  prd_days 28     (5 mg a day)
    03-15  H1  苯磺酸氨氯地平片  cnt 1  prd_days 14     (10 mg a day: the 14 days left at 5 mg last 7 at 10 mg)
"""

from __future__ import annotations

import math
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
        left = Fraction(supply - elapsed)
        dose_up = ln.cnt * prev.prd_days > prev.cnt * ln.prd_days
        if dose_up:  # what is left, taken at the new dose
            left *= Fraction(prev.cnt * ln.prd_days, ln.cnt * prev.prd_days)
            if left * share.denominator <= (share.denominator - share.numerator) * supply:
                continue
        overlap = min(math.floor(left), ln.prd_days)
        amt = round_div(ln.sumamt * overlap, ln.prd_days)
        reason = f"距上次（{prev.mdtrt_id}，供药 {supply} 天）仅 {elapsed} 天即再次开药" + (
            f"，加量后余药仍够 {float(left):.1f} 天" if dose_up else ""
        )
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
        e AS (SELECT ANY_VALUE(psn_no) AS psn_no, code, mdtrt_id, ANY_VALUE({place}) AS place, MIN(t) AS t,
                     MAX(prd_days) AS prd_days, SUM(cnt) AS cnt, MIN(feedetl_sn) AS feedetl_sn
              FROM l WHERE visit <> 'inpatient' GROUP BY mdtrt_id, code),
        w AS (SELECT e.*, LAG(e.t) OVER s AS prev_t, LAG(e.prd_days) OVER s AS prev_days,
                     LAG(e.cnt) OVER s AS prev_cnt, LAG(e.mdtrt_id) OVER s AS prev_mdtrt
              FROM e WINDOW s AS (PARTITION BY hash(e.psn_no, e.code, e.place), e.psn_no, e.code, e.place ORDER BY e.t, e.mdtrt_id)),
        x AS (SELECT w.*, LEAST(w.prev_days, COALESCE(d.max_days, {p.long_rx_max_days})) AS supply,
                     {days_between("w.prev_t", "w.t")} AS elapsed,
                     w.cnt * w.prev_days > w.prev_cnt * w.prd_days AS dose_up
              FROM w LEFT JOIN yb_kb_days d ON d.code = w.code WHERE w.prev_t IS NOT NULL),
        y AS (SELECT x.*, CASE WHEN dose_up THEN (supply - elapsed) * prev_cnt * prd_days / (cnt * prev_days)
                               ELSE supply - elapsed END AS days_left
              FROM x WHERE supply >= {p.min_days} AND elapsed * {share.denominator} < supply * {share.numerator})
        SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.bilg_dr_codg AS doctor, y.code, it.name,
               f.fee_ocur_time AS t, y.prev_t, y.prev_mdtrt, y.supply, y.elapsed, y.dose_up, y.days_left,
               CAST(f.prd_days AS BIGINT) AS prd_days, {cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")} AS amt
        FROM y JOIN fee_list_d f ON f.feedetl_sn = y.feedetl_sn JOIN yb_kb_items it ON it.code = y.code
        WHERE NOT y.dose_up
           OR (y.supply - y.elapsed) * y.prev_cnt * y.prd_days * {share.denominator}
              > {share.denominator - share.numerator} * y.supply * y.cnt * y.prev_days
    """
    rows = run(con, sql).with_columns(
        vola_amt=share_expr(
            pl.col("amt"), pl.min_horizontal(pl.col("days_left").floor(), pl.col("prd_days")), pl.col("prd_days")
        )
    )
    dose = pl.when(pl.col("dose_up")).then(pl.format("，加量后余药仍够 {} 天", pl.col("days_left").round(1))).otherwise(pl.lit(""))
    cont = pl.format("{}，距上次（{} 于 {}，供药 {} 天）仅 {} 天即再次开药{}", line_who(), pl.col("prev_mdtrt"),
                     pl.col("prev_t").dt.strftime("%Y-%m-%d"), pl.col("supply"), pl.col("elapsed"), dose)  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "prev_t", "prev_mdtrt", "supply", "elapsed", "dose_up", "days_left", "prd_days"],
    )
