# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""门急诊频次异常 (visit_frequency): a person with too many outpatient or pharmacy visits in a period.

Thresholds per day, month and year (``thresholds``; the defaults are those of a production engine:
≥ 4 a day, ≥ 20 a month, ≥ 100 a year) count the person's non-inpatient encounters at any institution,
except those of ``exempt_med_types`` (default 门诊慢特病, 14: a registered disease's treatment sessions —
haemodialysis three times a week is 156 visits a year — are scheduled by the disease, not chosen).
One finding per person and period; vola_amt sums the visits from the threshold on (an estimate: the
excess visits' fees).

Before::

    P3  2024-05  6 visits

After::

    P3  2024-05  23 visits at 4 institutions   → R-VFREQ-01 可疑 (每月 ≥ 20 次), vola_amt = visits 20–23
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.codes import med_types
from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, enc_finding
from yibao.supervision.rules._sql import Columns, finish, run, sql_list, yuan_expr

PER_NAMES = {"day": "每日", "month": "每月", "year": "每年"}


class Threshold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    per: Literal["day", "month", "year"]
    at_least: int = Field(ge=2)


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    thresholds: tuple[Threshold, ...] = (Threshold(per="day", at_least=4), Threshold(per="month", at_least=20),
                                         Threshold(per="year", at_least=100))  # fmt: skip
    exempt_med_types: tuple[str, ...] = ("14",)
    """Encounter types not counted (门诊慢特病: treatment sessions of a registered disease)."""


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    return Prepared(None, rule.params_of(Params))


def _period(per: str, on: int) -> tuple[int, int]:
    """The day numbers [first, end) of the day, month or year holding day number ``on``."""
    d = date.fromordinal(on)
    if per == "day":
        return on, on + 1
    if per == "month":
        nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        return d.replace(day=1).toordinal(), nxt.toordinal()
    return date(d.year, 1, 1).toordinal(), date(d.year + 1, 1, 1).toordinal()


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p: Params = prep.data
    if enc.visit == "inpatient" or enc.med_type in p.exempt_med_types:
        return []
    visits = enc.history.visits  # sorted by day number
    out = []
    for th in p.thresholds:
        first, end = _period(th.per, enc.adm_ord)
        n = 1 + sum(
            1
            for _, m, _, med_type in visits[bisect_left(visits, (first,)) : bisect_left(visits, (end,))]
            if m != enc.mdtrt_id and med_type not in p.exempt_med_types
        )
        if n >= th.at_least:
            amt = sum(ln.sumamt for ln in enc.lines)
            out.append(enc_finding(rule, enc, amt, f"为该参保人{PER_NAMES[th.per]}第 {n} 次门诊/购药（阈值 {th.at_least} 次）",
                                   lines=enc.lines, status="2"))  # fmt: skip
            break
    return out


def _period_text(per: str, key: pl.Expr) -> pl.Expr:
    if per == "day":
        return key.dt.strftime("%Y-%m-%d")
    if per == "month":
        return pl.format("{}-{}", key // 100, (key % 100).cast(pl.String).str.zfill(2))
    return key.cast(pl.String)


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    cols = Columns(con)
    amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
    not_counted = sql_list(sorted({*med_types("inpatient"), *p.exempt_med_types}))
    frames = []
    for th in p.thresholds:
        period = {  # a date or a number while counting; text ("2024-05-10", "2024-05", "2024") for the findings
            "day": "CAST(m.begntime AS DATE)",
            "month": "EXTRACT(YEAR FROM m.begntime) * 100 + EXTRACT(MONTH FROM m.begntime)",
            "year": "EXTRACT(YEAR FROM m.begntime)",
        }[th.per]
        sql = f"""
            WITH v AS (SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime, {period} AS period
                       FROM mdtrt_d m WHERE m.med_type NOT IN {not_counted}),
            hot AS (SELECT psn_no, period, COUNT(*) AS n FROM v GROUP BY psn_no, period HAVING COUNT(*) >= {th.at_least}),
            r AS (SELECT v.*, hot.n, ROW_NUMBER() OVER (PARTITION BY v.psn_no, v.period ORDER BY v.begntime, v.mdtrt_id) AS k
                  FROM v JOIN hot ON hot.psn_no = v.psn_no AND hot.period = v.period),
            a AS (SELECT f.mdtrt_id, SUM({amt}) AS amt FROM fee_list_d f WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM r WHERE k >= {th.at_least})
                  GROUP BY f.mdtrt_id),
            top AS (SELECT psn_no, period, fixmedins_code FROM (
                      SELECT psn_no, period, fixmedins_code, ROW_NUMBER() OVER (PARTITION BY psn_no, period ORDER BY COUNT(*) DESC, fixmedins_code) AS j
                      FROM r GROUP BY psn_no, period, fixmedins_code) x WHERE j = 1)
            SELECT r.psn_no, r.period, MIN(r.n) AS n, COUNT(DISTINCT r.fixmedins_code) AS n_inst, MIN(top.fixmedins_code) AS fixmedins_code,
                   MAX(r.mdtrt_id) AS last_mdtrt, SUM(CASE WHEN r.k >= {th.at_least} THEN COALESCE(a.amt, 0) ELSE 0 END) AS vola_amt,
                   '{th.per}' AS per, {th.at_least} AS at_least
            FROM r LEFT JOIN a ON a.mdtrt_id = r.mdtrt_id JOIN top ON top.psn_no = r.psn_no AND top.period = r.period
            GROUP BY r.psn_no, r.period
        """
        frames.append(run(con, sql).with_columns(period=_period_text(th.per, pl.col("period"))))
    rows = (
        pl.concat([f for f in frames if f.height], how="vertical_relaxed")
        if any(f.height for f in frames)
        else frames[0]
    )
    cont = pl.format("参保人 {} 在 {} 门诊/购药 {} 次（{} 家机构，{}阈值 {} 次），超阈值部分费用 {} 元", pl.col("psn_no"), pl.col("period"),
                     pl.col("n"), pl.col("n_inst"), pl.col("per").replace(PER_NAMES), pl.col("at_least"), yuan_expr("vola_amt"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["psn_no", "per", "period"],
        evidence=["period", "per", "n", "n_inst", "at_least", "last_mdtrt"],
    )
