# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""中药饮片单味不予支付 (single_herb): a herbal prescription made only of pieces that are not paid alone.

Decoction pieces on single_herb.csv (黄芪, 当归, 人参, 阿胶 …) are paid inside a formula, not alone: a
prescription (rxno; the encounter when there is none) whose herb lines are all on the list is not
payable — every line of it is reported.

Before::

    Rx1  黄芪 30g, 白术 10g, 茯苓 15g        (白术 makes it a formula)

After::

    Rx2  黄芪 30g                            → R-HERB-01 明确违规, vola_amt = the line
    Rx3  人参 6g, 阿胶 9g                     → R-HERB-02 (``formula: true``), every line
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Line, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    formula: bool = False
    """False: a prescription of one listed piece alone (单独使用); True: a formula of two or more pieces,
    all of them listed (全部由这些饮片组成的处方)."""


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    herbs = frozenset(c for c, i in kb.items.items() if i.list_type == "herb")
    return Prepared(kb.single_herbs, (kb.single_herbs, herbs, p.formula))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    single, herbs, formula = prep.data
    groups: dict[str, list[Line]] = {}
    for ln in enc.lines:
        if ln.code in herbs or ln.hilist_type == "102":
            groups.setdefault(ln.rxno, []).append(ln)
    out = []
    for rx, lines in groups.items():
        if lines and (len(lines) > 1) == formula and all(ln.code in single for ln in lines):
            names = "、".join(ln.name for ln in lines)
            for ln in lines:
                out.append(
                    line_finding(
                        rule,
                        enc,
                        ln,
                        ln.sumamt,
                        f"处方 {rx or '（无处方号）'} 仅由单味不予支付饮片（{names}）组成",
                    )
                )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "single_herb", "items")
    size = "COUNT(*) > 1" if p.formula else "COUNT(*) = 1"
    cols = Columns(con)
    sql = f"""
        WITH h AS ({lines_sql(cols, rule, join="JOIN yb_kb_items it0 ON it0.code = f.med_list_codg AND it0.list_type = 'herb'")}),
        g AS (SELECT mdtrt_id, COALESCE(rxno, '') AS rx FROM h GROUP BY mdtrt_id, COALESCE(rxno, '')
              HAVING SUM(CASE WHEN code IN (SELECT code FROM yb_kb_single_herb) THEN 0 ELSE 1 END) = 0 AND {size})
        SELECT h.feedetl_sn, h.mdtrt_id, h.psn_no, h.fixmedins_code, h.doctor, h.code, it.name, h.t, g.rx,
               h.amt AS vola_amt, h.cnt, h.pric
        FROM h JOIN g ON g.mdtrt_id = h.mdtrt_id AND g.rx = COALESCE(h.rxno, '') JOIN yb_kb_items it ON it.code = h.code
    """
    rows = run(con, sql)
    cont = pl.format("{}，处方 {} 仅由单味不予支付饮片组成", line_who(), pl.col("rx"))
    return finish(
        rows, rule, cont=cont, key=["feedetl_sn"], evidence=["code", "name", "t", "rx", "cnt", "pric"]
    )
