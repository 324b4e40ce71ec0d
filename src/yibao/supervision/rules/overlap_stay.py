# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""同时多院住院 / 住院期间门诊结算 (overlap_stay): one person in two places at once.

``other: inpatient`` — two stays of one person that overlap in time (each begins before the other
ends); both are reported (one of them is not real), each with its fees dated inside the overlap.
A transfer (转院) whose second stay begins after the first one's discharge touches, not overlaps.
``other: outpatient`` — an outpatient or pharmacy encounter strictly inside a stay at another
institution (住院期间门诊 / 药店结算), reported with its whole amount.

Before::

    M1  P7  H-A  04-03 08:00 → 04-12 10:00
    M2  P7  H-B  04-12 14:00 → 04-18 09:00     (transfer: fine)

After::

    M1  P7  H-A  04-03 → 04-12
    M3  P7  H-B  04-06 → 04-10     → R-OVLP-01 明确违规 on M1 and on M3 (overlap 04-06 → 04-10)
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, enc_finding
from yibao.supervision.rules._sql import INPATIENT_MED_TYPES, Columns, enc_who, finish, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    other: Literal["inpatient", "outpatient"] = "inpatient"


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    return Prepared(None, rule.params_of(Params))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p: Params = prep.data
    out = []
    for s in enc.history.stays:
        if s.mdtrt_id == enc.mdtrt_id:
            continue
        if p.other == "inpatient":
            if enc.visit != "inpatient" or s.visit != "inpatient":
                continue
            if s.adm < enc.dscg and enc.adm < s.dscg:
                lo, hi = max(s.adm, enc.adm), min(s.dscg, enc.dscg)
                lines = [ln for ln in enc.lines if lo[:10] <= ln.day <= hi[:10]]
                amt = sum(ln.sumamt for ln in lines)
                out.append(enc_finding(rule, enc, amt, f"与 {s.medins_id} 的住院（{s.mdtrt_id}，{s.adm[:10]} 至 {s.dscg[:10]}）时间重叠",
                                       lines=lines, evidence={"other": s.mdtrt_id}, status="2"))  # fmt: skip
                break
        elif (
            enc.visit != "inpatient"
            and s.visit == "inpatient"
            and s.medins_id != enc.medins_id
            and s.adm < enc.adm < s.dscg
        ):
            amt = sum(ln.sumamt for ln in enc.lines)
            out.append(enc_finding(rule, enc, amt, f"发生在 {s.medins_id} 住院期间（{s.mdtrt_id}，{s.adm[:10]} 至 {s.dscg[:10]}）",
                                   lines=enc.lines, evidence={"other": s.mdtrt_id}))  # fmt: skip
            break
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    cols = Columns(con)
    amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
    if p.other == "inpatient":
        sql = f"""
            WITH s AS (SELECT mdtrt_id, psn_no, fixmedins_code, begntime, endtime, atddr_no FROM mdtrt_d
                       WHERE med_type IN {INPATIENT_MED_TYPES}),
            o AS (SELECT a.mdtrt_id, a.psn_no, a.fixmedins_code, a.begntime, a.endtime, a.atddr_no AS doctor,
                         b.mdtrt_id AS other_id, b.fixmedins_code AS other_inst, b.begntime AS other_begin, b.endtime AS other_end,
                         CASE WHEN a.begntime > b.begntime THEN a.begntime ELSE b.begntime END AS lo,
                         CASE WHEN a.endtime < b.endtime THEN a.endtime ELSE b.endtime END AS hi
                  FROM s a JOIN s b ON a.psn_no = b.psn_no AND a.mdtrt_id <> b.mdtrt_id
                   AND a.begntime < b.endtime AND b.begntime < a.endtime),
            f AS (SELECT o.mdtrt_id, o.other_id, SUM({amt}) AS vola_amt FROM o JOIN fee_list_d f ON f.mdtrt_id = o.mdtrt_id
                  WHERE CAST(f.fee_ocur_time AS DATE) >= CAST(o.lo AS DATE) AND CAST(f.fee_ocur_time AS DATE) <= CAST(o.hi AS DATE)
                  GROUP BY o.mdtrt_id, o.other_id)
            SELECT o.*, COALESCE(f.vola_amt, 0) AS vola_amt FROM o LEFT JOIN f ON f.mdtrt_id = o.mdtrt_id AND f.other_id = o.other_id
        """
        rows = run(con, sql)
        cont = pl.format("{}与 {} 的住院（{}，{} 至 {}）时间重叠", enc_who(), pl.col("other_inst"), pl.col("other_id"),
                         pl.col("other_begin").dt.strftime("%Y-%m-%d"), pl.col("other_end").dt.strftime("%Y-%m-%d"))  # fmt: skip
        return finish(rows, rule, cont=cont, key=["mdtrt_id", "other_id"],
                      evidence=["begntime", "endtime", "other_id", "other_inst", "other_begin", "other_end", "lo", "hi"])  # fmt: skip
    sql = f"""
        WITH s AS (SELECT mdtrt_id, psn_no, fixmedins_code, begntime, endtime FROM mdtrt_d WHERE med_type IN {INPATIENT_MED_TYPES}),
        v AS (SELECT mdtrt_id, psn_no, fixmedins_code, begntime, endtime, atddr_no AS doctor FROM mdtrt_d
              WHERE med_type NOT IN {INPATIENT_MED_TYPES}),
        o AS (SELECT v.*, s.mdtrt_id AS other_id, s.fixmedins_code AS other_inst, s.begntime AS other_begin,
                     s.endtime AS other_end
              FROM v JOIN s ON s.psn_no = v.psn_no AND s.fixmedins_code <> v.fixmedins_code
               AND v.begntime > s.begntime AND v.begntime < s.endtime),
        f AS (SELECT f.mdtrt_id, SUM({amt}) AS vola_amt FROM fee_list_d f WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM o)
              GROUP BY f.mdtrt_id)
        SELECT o.*, COALESCE(f.vola_amt, 0) AS vola_amt FROM o LEFT JOIN f ON f.mdtrt_id = o.mdtrt_id
    """
    rows = run(con, sql)
    cont = pl.format("{}发生在 {} 住院期间（{}，{} 至 {}）", enc_who(), pl.col("other_inst"), pl.col("other_id"),
                     pl.col("other_begin").dt.strftime("%Y-%m-%d"), pl.col("other_end").dt.strftime("%Y-%m-%d"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["mdtrt_id"],
        evidence=["begntime", "endtime", "other_id", "other_inst", "other_begin", "other_end"],
    )
