# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""冠脉支架无住院 (stent_stay): a coronary stent billed in an outpatient visit with no stay around it.

A coronary stent is implanted in a catheter laboratory during a stay (PCI is not a day procedure in the
price book). A stent line (coronary_stent.csv role ``stent``) in an outpatient, chronic or pharmacy
encounter is suspect — a stent billed that was never implanted (虚记), or billed on the wrong account —
unless the person has an inpatient stay *at the same institution* that overlaps the ``hours`` (24) before
or after the fee time: a stent posted to an outpatient account the morning after discharge, or in the
emergency room an hour before admission, belongs to that stay. vola_amt = the stent line (the PCI line
of an outpatient visit, if any, is left to R-LINK-01 and to the reviewer: the stent is what is billed
without a stay).

Before::

    M1  H5  inpatient 03-01 09:00 → 03-08 10:00   经皮冠状动脉支架置入术, 冠状动脉药物洗脱支架

After::

    M2  H5  outpatient 05-10 09:20   冠状动脉药物洗脱支架   → R-STENT-01 可疑 (no stay at H5 from 05-09
                                                            09:20 to 05-11 09:20; nearest stay M1), vola_amt = the line

Not a finding: the same line in an outpatient encounter on 03-09 08:30 (22.5 hours after discharge from M1).

Online (3101/3102) the check sees the stays in the patient's history; a stay that begins after the
check (an admission later the same day) is not known yet, so an online finding may be withdrawn by the
事后 audit, which sees the whole year.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import (
    INPATIENT_MED_TYPES,
    Columns,
    finish,
    line_who,
    lines_sql,
    run,
    sql_list,
)


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    hours: int = Field(24, ge=0, le=24 * 30)
    """A stay at the same institution this many hours before or after the fee time covers the line."""


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    return Prepared(kb.stent.stents, p)


def _seconds(text: str) -> float:
    """Seconds since the epoch of an ISO date or date-time string (a date alone is its midnight)."""
    t = text.strip().replace("T", " ")
    return datetime.fromisoformat(t[:19] if len(t) >= 19 else t[:10]).timestamp()


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p: Params = prep.data
    if enc.visit in ("inpatient", "ltc"):
        return []
    stays = [
        s
        for s in enc.history.stays
        if s.visit == "inpatient" and s.medins_id == enc.medins_id and s.mdtrt_id != enc.mdtrt_id
    ]
    span = p.hours * 3600
    out = []
    for code in enc.codes & prep.codes:  # type: ignore[operator]
        for ln in enc.by_code[code]:
            t = _seconds(ln.time)
            near, gap = None, None
            covered = False
            for s in stays:
                a, b = _seconds(s.adm), _seconds(s.dscg)
                if a - span <= t <= b + span:
                    covered = True
                    break
                d = a - t if t < a else t - b
                if gap is None or d < gap:
                    near, gap = s, d
            if covered:
                continue
            last = (
                f"（最近一次住院：{near.mdtrt_id}，{near.adm[:10]} 至 {near.dscg[:10]}）" if near is not None
                else "（本机构无该参保人的住院记录）"
            )  # fmt: skip
            where = "药店购药" if enc.visit == "pharmacy" else "门诊就诊"
            reason = f"，{where}（{enc.mdtrt_id}）中收取，本机构前后 {p.hours} 小时内无该参保人的住院{last}"
            ev = {"hours": p.hours, "nearest_stay": near.mdtrt_id if near else "",
                  "gap_hours": round(gap / 3600, 1) if gap is not None else None}  # fmt: skip
            out.append(line_finding(rule, enc, ln, ln.sumamt, reason, evidence=ev))
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "items")
    cols = Columns(con)
    h = f"INTERVAL '{p.hours}' HOUR"
    sql = f"""
        WITH o AS (SELECT * FROM ({lines_sql(cols, rule, where=f"f.med_list_codg IN {sql_list(sorted(kb.stent.stents))}")}) l
                   WHERE l.visit NOT IN ('inpatient', 'ltc')),
        st AS (SELECT m.mdtrt_id AS stay_id, m.psn_no, m.fixmedins_code, m.begntime AS stay_begin, m.endtime AS stay_end
               FROM mdtrt_d m WHERE m.med_type IN {INPATIENT_MED_TYPES} AND m.psn_no IN (SELECT psn_no FROM o)),
        j AS (SELECT o.feedetl_sn, o.mdtrt_id, o.psn_no, o.fixmedins_code, o.doctor, o.code, o.t, o.amt AS vola_amt, o.visit,
                     o.cnt, o.pric, st.stay_id, st.stay_begin, st.stay_end,
                     CASE WHEN st.stay_begin <= o.t + {h} AND st.stay_end >= o.t - {h} THEN 1 ELSE 0 END AS near
              FROM o LEFT JOIN st ON st.psn_no = o.psn_no AND st.fixmedins_code = o.fixmedins_code AND st.stay_id <> o.mdtrt_id)
        SELECT j.*, it.name FROM j JOIN yb_kb_items it ON it.code = j.code
        WHERE j.feedetl_sn NOT IN (SELECT feedetl_sn FROM j WHERE near = 1)
    """
    rows = run(con, sql)
    if rows.height == 0:
        return finish(rows, rule, cont=pl.lit(""), key=["feedetl_sn"], evidence=[])
    gap = (
        pl.when(pl.col("t") < pl.col("stay_begin"))
        .then(pl.col("stay_begin") - pl.col("t"))
        .otherwise(pl.col("t") - pl.col("stay_end"))
        .dt.total_seconds()
    )
    rows = (
        rows.with_columns(gap_hours=(gap / 3600).round(1))
        .sort("feedetl_sn", pl.col("gap_hours").fill_null(float("inf")), "stay_id", nulls_last=True)
        .unique("feedetl_sn", keep="first", maintain_order=True)
        .with_columns(nearest_stay=pl.col("stay_id").fill_null(""), hours=pl.lit(p.hours))
    )
    last = (
        pl.when(pl.col("stay_id").is_null())
        .then(pl.lit("（本机构无该参保人的住院记录）"))
        .otherwise(pl.format("（最近一次住院：{}，{} 至 {}）", pl.col("stay_id"), pl.col("stay_begin").dt.strftime("%Y-%m-%d"),
                             pl.col("stay_end").dt.strftime("%Y-%m-%d")))
    )  # fmt: skip
    where = pl.when(pl.col("visit") == "pharmacy").then(pl.lit("药店购药")).otherwise(pl.lit("门诊就诊"))
    cont = pl.format(
        "{}，{}（{}）中收取，本机构前后 {} 小时内无该参保人的住院{}",
        line_who(),
        where,
        pl.col("mdtrt_id"),
        pl.lit(p.hours),
        last,
    )
    return finish(rows, rule, cont=cont, key=["feedetl_sn"],
                  evidence=["code", "name", "t", "cnt", "pric", "hours", "nearest_stay", "gap_hours"])  # fmt: skip
