# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限定支付范围 / 限适应症 (indication): a restricted item billed without a diagnosis in its ICD set.

The catalogue's 限定支付范围 is parsed into ICD-10 prefixes (``lmt_indications``); the line is payable
when any diagnosis of the encounter starts with one of them.

Before (payable)::

    M1  E11.900 2型糖尿病, K29.500   达格列净片 ¥120.00    (限 E11 / I50 / N18)

After (a finding)::

    M1  K29.500 慢性胃炎             达格列净片 ¥120.00  → R-IND-01 可疑, vola_amt ¥120.00

The result is 可疑: the diagnosis may be in the medical record but missing on the claim.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, prefix_join, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    list_types: tuple[str, ...] = ("drug", "service", "consumable", "herb")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    need = {
        c: i.restriction.indications
        for c, i in kb.items.items()
        if i.restriction.indications and i.list_type in p.list_types
    }
    return Prepared(frozenset(need), need)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    need = prep.data
    out = []
    for line in enc.lines:
        ind = need.get(line.code)
        if ind is None or any(d.startswith(ind) for d in enc.diagnoses):
            continue
        have = "、".join(enc.diagnoses) or "无"
        out.append(
            line_finding(rule, enc, line, line.sumamt, f"限{'/'.join(ind)}适应症支付，本次诊断为{have}")
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "indications", "items")
    cols = Columns(con)
    types = ", ".join(f"'{t}'" for t in p.list_types)
    sql = f"""
        WITH k AS (SELECT i.code, STRING_AGG(i.prefix, '/' ORDER BY i.prefix) AS need
                   FROM yb_kb_indications i JOIN yb_kb_items it ON it.code = i.code AND it.list_type IN ({types})
                   GROUP BY i.code),
        l AS ({lines_sql(cols, rule, join="JOIN k ON k.code = f.med_list_codg", extra=["k.need"])})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.need,
               l.amt AS vola_amt, l.cnt, l.pric,
               (SELECT STRING_AGG(d.diag_code, '、' ORDER BY d.diag_code) FROM setl_list_diag_d d
                 WHERE d.mdtrt_id = l.mdtrt_id) AS have
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE NOT EXISTS (SELECT 1 FROM {prefix_join("setl_list_diag_d", "d", "diag_code", "yb_kb_indications", "e")}
                          WHERE d.mdtrt_id = l.mdtrt_id AND e.code = l.code)
    """
    rows = run(con, sql)
    cont = pl.format(
        "{}，该项目限{}适应症支付，本次诊断为{}", line_who(), pl.col("need"), pl.col("have").fill_null("无")
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "need", "have", "cnt", "pric"],
    )
