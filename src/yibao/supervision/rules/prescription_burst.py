# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""冒名就医 — 处方爆发 (prescription_burst): one doctor writes the same item on many cards within minutes.

At least ``min_persons`` different persons get the same item from one doctor within ``window_minutes``
(a representative or a clinic using collected cards: "many 司美格鲁肽 prescriptions in one minute").
Items cheaper than ``min_price_yuan`` are ignored. One finding per encounter in the burst, vola_amt =
the item's lines in it. 事后 only: an online check sees one patient.

Before::

    D7  09:00 P1 司美格鲁肽, 09:25 P2 …, 10:10 P3 …

After::

    D7  09:00–09:06  司美格鲁肽 for P1 … P12 (12 cards)   → R-BURST-01 可疑 on each of the 12 encounters
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    min_persons: int = Field(8, ge=2)
    window_minutes: int = Field(10, ge=1, le=240)
    min_price_yuan: int = Field(50, ge=0)


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(frozenset(), None)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    return []


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "items")
    cols = Columns(con)
    pric = cols.scaled("fee_list_d", "f", "pric")
    w = f"INTERVAL '{p.window_minutes}' MINUTE"
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, where=f"{pric} >= {p.min_price_yuan * 1_000_000} AND f.bilg_dr_codg <> ''")}),
        c AS (SELECT l.*, COUNT(*) OVER (PARTITION BY l.doctor, l.code ORDER BY l.t RANGE BETWEEN {w} PRECEDING AND CURRENT ROW) AS n_w
              FROM l),
        ends AS (SELECT doctor, code, t AS end_t, feedetl_sn AS end_sn FROM c WHERE n_w >= {p.min_persons}),
        members AS (SELECT e.end_sn, l.* FROM ends e JOIN l ON l.doctor = e.doctor AND l.code = e.code
                     AND l.t >= e.end_t - {w} AND l.t <= e.end_t),
        ok AS (SELECT end_sn, COUNT(DISTINCT psn_no) AS persons, MIN(t) AS first_t, MAX(t) AS last_t FROM members
               GROUP BY end_sn HAVING COUNT(DISTINCT psn_no) >= {p.min_persons}),
        hit AS (SELECT m.feedetl_sn, MAX(ok.persons) AS persons, MIN(ok.first_t) AS first_t, MAX(ok.last_t) AS last_t
                FROM members m JOIN ok ON ok.end_sn = m.end_sn GROUP BY m.feedetl_sn)
        SELECT l.mdtrt_id, MIN(l.psn_no) AS psn_no, MIN(l.fixmedins_code) AS fixmedins_code, MIN(l.doctor) AS doctor,
               MIN(l.code) AS code, MIN(it.name) AS name, MIN(l.t) AS t, MAX(hit.persons) AS persons,
               MIN(hit.first_t) AS first_t, MAX(hit.last_t) AS last_t, SUM(l.amt) AS vola_amt
        FROM hit JOIN l ON l.feedetl_sn = hit.feedetl_sn JOIN yb_kb_items it ON it.code = l.code
        GROUP BY l.mdtrt_id
    """
    rows = run(con, sql)
    cont = pl.format("{}，医师 {} 在 {}–{} 间为 {} 名不同参保人开具同一项目", line_who(), pl.col("doctor"),
                     pl.col("first_t").dt.strftime("%H:%M"), pl.col("last_t").dt.strftime("%H:%M"), pl.col("persons"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["mdtrt_id"],
        evidence=["code", "name", "t", "persons", "first_t", "last_t"],
    )
