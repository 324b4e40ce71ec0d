# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限定就医方式 (visit_type): an item payable only for some visit kinds (限住院, 限门诊慢特病 …) billed on another.

Before (payable)::

    M1 普通住院 21        复方氨基酸注射液(18AA) ¥45.00       (catalogue lmt_visits inpatient)

After (a finding)::

    M2 普通门诊 11        复方氨基酸注射液(18AA) ¥45.00  → R-VISIT-01 明确违规, vola_amt ¥45.00

Discharge medication (drord_bhvr 1 出院带药) counts as part of the stay.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run

VISIT_NAMES = {
    "outpatient": "普通门诊",
    "chronic": "门诊慢特病",
    "inpatient": "住院",
    "pharmacy": "药店购药",
    "ltc": "长期护理",
}


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    allowed = {c: i.restriction.visits for c, i in kb.items.items() if i.restriction.visits}
    return Prepared(frozenset(allowed), allowed)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    allowed = prep.data
    out = []
    for line in enc.lines:
        ok = allowed.get(line.code)
        if ok is None or enc.visit in ok or (line.drord_bhvr == "1" and "inpatient" in ok):
            continue
        names = "、".join(VISIT_NAMES[v] for v in sorted(ok))
        out.append(
            line_finding(rule, enc, line, line.sumamt, f"限{names}支付，本次为{VISIT_NAMES[enc.visit]}")
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "visits", "items")
    cols = Columns(con)
    sql = f"""
        WITH k AS (SELECT code, STRING_AGG(visit, '|' ORDER BY visit) AS allowed FROM yb_kb_visits GROUP BY code),
        l AS ({lines_sql(cols, rule, join="JOIN k ON k.code = f.med_list_codg", extra=["k.allowed"])})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.visit,
               l.allowed, l.amt AS vola_amt, l.cnt, l.pric
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE NOT EXISTS (SELECT 1 FROM yb_kb_visits v WHERE v.code = l.code AND v.visit = l.visit)
    """
    rows = run(con, sql)
    names = pl.col("allowed").str.split("|").list.eval(pl.element().replace(VISIT_NAMES)).list.join("、")
    cont = pl.format("{}，该项目限{}支付，本次为{}", line_who(), names, pl.col("visit").replace(VISIT_NAMES))
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "visit", "allowed", "cnt", "pric"],
    )
