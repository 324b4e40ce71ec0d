# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限定医疗机构级别 (hosp_level): an item payable only at a level or above, billed below it.

Before (payable)::

    三级 H1  冠状动脉造影术 ¥1800.00       (catalogue lmt_hosp_lv_min 2 限二级及以上)

After (a finding)::

    一级 H9  冠状动脉造影术 ¥1800.00  → R-LEVEL-01 明确违规, vola_amt ¥1800.00
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run

LEVEL_NAMES = {"1": "一级", "2": "二级", "3": "三级"}


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    need = {c: i.restriction.hosp_lv_min for c, i in kb.items.items() if i.restriction.hosp_lv_min}
    return Prepared(frozenset(need), need)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    need = prep.data
    out = []
    for line in enc.lines:
        lv = need.get(line.code)
        if lv is None or enc.hosp_lv >= lv:
            continue
        out.append(
            line_finding(
                rule,
                enc,
                line,
                line.sumamt,
                f"限{LEVEL_NAMES[lv]}及以上医疗机构，本机构为{LEVEL_NAMES[enc.hosp_lv]}",
            )
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "level", "items")
    cols = Columns(con)
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, join="JOIN yb_kb_level k ON k.code = f.med_list_codg", extra=["k.lv_min"])})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.lv, l.lv_min,
               l.amt AS vola_amt, l.cnt, l.pric
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE l.lv < l.lv_min
    """
    rows = run(con, sql)
    cont = pl.format(
        "{}，该项目限{}及以上医疗机构，本机构为{}",
        line_who(),
        pl.col("lv_min").replace(LEVEL_NAMES),
        pl.col("lv").replace(LEVEL_NAMES),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "lv", "lv_min", "cnt", "pric"],
    )
