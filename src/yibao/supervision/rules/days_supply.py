# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""超量开药 (days_supply): more days of medication on one prescription line than allowed.

The limit of a drug is, in order: the catalogue's ``lmt_max_days`` (限N天) or limits.csv ``days_supply``;
else ``long_rx_max_days`` (长处方, 12 weeks) when a diagnosis of the encounter is a chronic disease of
long_rx_dx.csv; else ``default_max_days``. Inpatient lines are not checked (the stay is the supply).

Before (盐酸二甲双胍片, catalogue 限30天)::

    M1  门诊  盐酸二甲双胍片  cnt 2  prd_days 30

After::

    M1  门诊  盐酸二甲双胍片  cnt 6  prd_days 90   → R-DAYS-01 可疑, vola_amt = line × 60/90 (the excess days)

Not a violation: 苯磺酸… without a catalogue limit prescribed for 12 weeks to a hypertensive patient
(I10, a 长处方).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.money import round_div
from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, prefix_join, run, share_expr


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    default_max_days: int | None = Field(30, ge=1, le=366)
    long_rx_max_days: int = Field(84, ge=1, le=366)
    list_types: tuple[str, ...] = ("drug",)


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    drugs = frozenset(c for c, i in kb.items.items() if i.list_type in p.list_types)
    return Prepared(drugs, (p, dict(kb.days_limit), kb.long_rx_dx))


def limit_of(
    code: str, diagnoses: tuple[str, ...], p: Params, explicit: dict[str, int], long_rx: tuple[str, ...]
) -> tuple[int | None, str]:
    """The most days one line of ``code`` may supply, and where the limit comes from."""
    if code in explicit:
        return explicit[code], "目录/知识库限定"
    if any(d.startswith(long_rx) for d in diagnoses):
        return p.long_rx_max_days, "慢性病长处方"
    return p.default_max_days, "一般处方"


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p, explicit, long_rx = prep.data
    if enc.visit == "inpatient":
        return []
    out = []
    for ln in enc.lines:
        if ln.prd_days <= 0 or ln.code not in prep.codes:  # type: ignore[operator]
            continue
        limit, why = limit_of(ln.code, enc.diagnoses, p, explicit, long_rx)
        if limit is None or ln.prd_days <= limit:
            continue
        amt = round_div(ln.sumamt * (ln.prd_days - limit), ln.prd_days)
        out.append(line_finding(rule, enc, ln, amt, f"开药 {ln.prd_days} 天，超过{why} {limit} 天", status="2",
                                evidence={"limit_days": limit, "prd_days": ln.prd_days}))  # fmt: skip
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "days", "long_rx", "items")
    cols = Columns(con)
    types = ", ".join(f"'{t}'" for t in p.list_types)
    default = "NULL" if p.default_max_days is None else str(p.default_max_days)
    floor = p.long_rx_max_days if p.default_max_days is None else min(p.default_max_days, p.long_rx_max_days)
    sql = f"""
        WITH l AS ({
        lines_sql(
            cols,
            rule,
            join=f"JOIN yb_kb_items it0 ON it0.code = f.med_list_codg AND it0.list_type IN ({types})",
            where="f.prd_days > 0",
        )
    }),
        c AS (SELECT l.*, d.max_days,
                     CASE WHEN d.max_days IS NOT NULL THEN 'explicit'
                          WHEN EXISTS (SELECT 1 FROM {
        prefix_join("setl_list_diag_d", "x", "diag_code", "yb_kb_long_rx", "k")
    }
                                       WHERE x.mdtrt_id = l.mdtrt_id) THEN 'long_rx'
                          ELSE 'default' END AS source
              FROM l LEFT JOIN yb_kb_days d ON d.code = l.code
              WHERE l.visit <> 'inpatient' AND l.prd_days > COALESCE(d.max_days, {floor})),
        e AS (SELECT c.*, CASE c.source WHEN 'explicit' THEN c.max_days WHEN 'long_rx' THEN {
        p.long_rx_max_days
    }
                              ELSE {default} END AS limit_days FROM c)
        SELECT e.feedetl_sn, e.mdtrt_id, e.psn_no, e.fixmedins_code, e.doctor, e.code, it.name, e.t, e.prd_days,
               e.limit_days, e.source, e.amt, e.cnt, e.pric
        FROM e JOIN yb_kb_items it ON it.code = e.code
        WHERE e.limit_days IS NOT NULL AND e.prd_days > e.limit_days
    """
    rows = run(con, sql).with_columns(
        vola_amt=share_expr(pl.col("amt"), pl.col("prd_days") - pl.col("limit_days"), pl.col("prd_days"))
    )
    src = {"explicit": "目录/知识库限定", "long_rx": "慢性病长处方", "default": "一般处方"}
    cont = pl.format(
        "{}，开药 {} 天，超过{} {} 天",
        line_who(),
        pl.col("prd_days"),
        pl.col("source").replace(src),
        pl.col("limit_days"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "prd_days", "limit_days", "source", "cnt", "pric"],
    )
