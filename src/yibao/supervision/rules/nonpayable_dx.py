# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""不予支付的诊疗 (nonpayable_dx): an encounter whose principal diagnosis the fund does not cover (美容,
体检 …) with payable lines billed for it.

Before::

    M1  J06.900 急性上呼吸道感染   超短波治疗 × 3 ¥24.00

After (a finding per payable line)::

    M2  L81.100 黄褐斑             超短波治疗 × 3 ¥24.00  → R-NOPAY-01 明确违规, vola_amt ¥24.00

丙类 lines of such an encounter are self-paid anyway and are not reported.
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


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    lv = {c: i.chrgitm_lv for c, i in kb.items.items()}
    return Prepared(None, (kb.non_payable_dx, lv))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    prefixes, lv = prep.data
    if not enc.main_dx or not enc.main_dx.startswith(prefixes):
        return []
    return [
        line_finding(rule, enc, ln, ln.sumamt, f"，本次主要诊断 {enc.main_dx} 属基本医保不予支付范围")
        for ln in enc.lines
        if (ln.hilist_lv or lv.get(ln.code, "")) != "03"
    ]


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "nonpay_dx", "items")
    cols = Columns(con)
    sql = f"""
        WITH e AS (SELECT DISTINCT d.mdtrt_id, d.diag_code FROM {prefix_join("setl_list_diag_d", "d", "diag_code", "yb_kb_nonpay_dx", "k")}
                   WHERE d.maindiag_flag = '1'),
        l AS ({lines_sql(cols, rule, join="JOIN e ON e.mdtrt_id = f.mdtrt_id", extra=["e.diag_code"])})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.diag_code,
               l.amt AS vola_amt, l.cnt, l.pric
        FROM l JOIN yb_kb_items it ON it.code = l.code AND it.chrgitm_lv <> '03'
    """
    rows = run(con, sql)
    cont = pl.format("{}，本次主要诊断 {} 属基本医保不予支付范围", line_who(), pl.col("diag_code"))
    return finish(
        rows, rule, cont=cont, key=["feedetl_sn"], evidence=["code", "name", "t", "diag_code", "cnt", "pric"]
    )
