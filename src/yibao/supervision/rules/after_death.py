# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""死亡后就医 (after_death): care billed on a card after its holder's death.

An encounter that begins after the death date is reported with its whole amount; a fee line dated
after the death date inside an encounter that began before is reported on its own. Care on the day of
death (a patient who dies in hospital) is not after death.

Before (P9 died 2024-08-14)::

    M1  P9  07-20  门诊慢特病  苯磺酸氨氯地平片

After::

    M2  P9  09-02  门诊慢特病  苯磺酸氨氯地平片   → R-DEATH-01 明确违规 (19 days after death), vola_amt = M2
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, enc_finding, line_finding
from yibao.supervision.rules._sql import Columns, days_between, finish, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(None, None)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    if enc.death_ord is None:
        return []
    if enc.adm_ord > enc.death_ord:
        amt = sum(ln.sumamt for ln in enc.lines)
        days = enc.adm_ord - enc.death_ord
        return [
            enc_finding(rule, enc, amt, f"发生在参保人死亡（{enc.death[:10]}）后 {days} 天", lines=enc.lines)
        ]
    return [
        line_finding(rule, enc, ln, ln.sumamt, f"，费用日期在参保人死亡（{enc.death[:10]}）之后")
        for ln in enc.lines
        if ln.ord > enc.death_ord
    ]


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    cols = Columns(con)
    amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
    sql = f"""
        WITH dead AS (SELECT psn_no, death_date FROM psn_info_b WHERE death_date IS NOT NULL),
        e AS (SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime, m.atddr_no AS doctor, d.death_date,
                     {days_between("d.death_date", "m.begntime")} AS days
              FROM mdtrt_d m JOIN dead d ON d.psn_no = m.psn_no WHERE CAST(m.begntime AS DATE) > d.death_date),
        ea AS (SELECT e.*, '' AS feedetl_sn, 'encounter' AS level, billed.vola_amt FROM e
               LEFT JOIN (SELECT f.mdtrt_id, SUM({amt}) AS vola_amt FROM fee_list_d f
                          WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM e) GROUP BY f.mdtrt_id) billed
                 ON billed.mdtrt_id = e.mdtrt_id),
        la AS (SELECT f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time AS begntime, f.bilg_dr_codg AS doctor,
                      d.death_date, {days_between("d.death_date", "f.fee_ocur_time")} AS days, f.feedetl_sn, 'line' AS level,
                      {amt} AS vola_amt
               FROM fee_list_d f JOIN dead d ON d.psn_no = f.psn_no
               JOIN mdtrt_d m ON m.mdtrt_id = f.mdtrt_id
               WHERE CAST(f.fee_ocur_time AS DATE) > d.death_date AND CAST(m.begntime AS DATE) <= d.death_date)
        SELECT mdtrt_id, psn_no, fixmedins_code, begntime, doctor, death_date, days, feedetl_sn, level, vola_amt FROM ea
        UNION ALL
        SELECT mdtrt_id, psn_no, fixmedins_code, begntime, doctor, death_date, days, feedetl_sn, level, vola_amt FROM la
    """
    rows = run(con, sql).with_columns(pl.col("vola_amt").fill_null(0))
    who = pl.format(
        "{} 于 {} 为参保人 {} ",
        pl.col("fixmedins_code"),
        pl.col("begntime").dt.strftime("%Y-%m-%d"),
        pl.col("psn_no"),
    )
    cont = (
        pl.when(pl.col("level") == "encounter")
        .then(
            pl.format(
                "{}的就诊（{}）发生在参保人死亡（{}）后 {} 天",
                who,
                pl.col("mdtrt_id"),
                pl.col("death_date").dt.strftime("%Y-%m-%d"),
                pl.col("days"),
            )
        )
        .otherwise(
            pl.format(
                "{}收费（{}）日期在参保人死亡（{}）后 {} 天",
                who,
                pl.col("feedetl_sn"),
                pl.col("death_date").dt.strftime("%Y-%m-%d"),
                pl.col("days"),
            )
        )
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["mdtrt_id", "feedetl_sn"],
        evidence=["level", "begntime", "death_date", "days"],
    )
