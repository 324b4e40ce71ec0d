# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限险种 (insutype): an item payable only by one fund (生育保险 …) settled by another.

Two knowledge-base restrictions (restrictions.csv):

- ``maternity``: for the listed insutypes (职工 310) the item is payable only under a 生育 med_type
  (51 生育门诊, 52 生育住院, 53 计划生育手术费) — i.e. by the maternity fund, never by the basic pool;
- ``insutypes``: the only insutypes that may pay the item.

Before (payable)::

    职工 310  生育住院 52   单胎顺产接生 ¥700.00

After (a finding)::

    职工 310  普通住院 21   单胎顺产接生 ¥700.00  → R-INSU-01 明确违规, vola_amt ¥700.00
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.codes import INSUTYPE
from yibao.supervision.findings import Finding
from yibao.supervision.kb import MATERNITY_MED_TYPES, KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(
        frozenset(kb.maternity) | frozenset(kb.insutypes), (dict(kb.maternity), dict(kb.insutypes))
    )


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    maternity, only = prep.data
    out = []
    for line in enc.lines:
        m = maternity.get(line.code)
        if m is not None and enc.insutype in m and enc.med_type not in MATERNITY_MED_TYPES:
            out.append(
                line_finding(
                    rule,
                    enc,
                    line,
                    line.sumamt,
                    f"限生育保险支付，本次按医疗类别{enc.med_type}由基本医保结算",
                )
            )
            continue
        o = only.get(line.code)
        if o is not None and enc.insutype not in o:
            names = "、".join(INSUTYPE.get(t, t) for t in sorted(o))
            out.append(
                line_finding(
                    rule,
                    enc,
                    line,
                    line.sumamt,
                    f"限{names}支付，本次险种为{INSUTYPE.get(enc.insutype, enc.insutype)}",
                )
            )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "maternity", "insutypes", "items")
    cols = Columns(con)
    mt = ", ".join(f"'{m}'" for m in sorted(MATERNITY_MED_TYPES))
    codes = "SELECT code FROM yb_kb_maternity UNION SELECT code FROM yb_kb_insutypes"
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, where=f"f.med_list_codg IN ({codes})")})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.insutype,
               l.med_type, l.amt AS vola_amt, l.cnt, l.pric,
               CASE WHEN EXISTS (SELECT 1 FROM yb_kb_maternity k WHERE k.code = l.code AND k.insutype = l.insutype)
                    THEN 'maternity' ELSE 'insutype' END AS why
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE (EXISTS (SELECT 1 FROM yb_kb_maternity k WHERE k.code = l.code AND k.insutype = l.insutype)
               AND l.med_type NOT IN ({mt}))
           OR (EXISTS (SELECT 1 FROM yb_kb_insutypes k WHERE k.code = l.code)
               AND NOT EXISTS (SELECT 1 FROM yb_kb_insutypes k WHERE k.code = l.code AND k.insutype = l.insutype))
    """
    rows = run(con, sql)
    cont = (
        pl.when(pl.col("why") == "maternity")
        .then(
            pl.format(
                "{}，该项目限生育保险支付，本次按医疗类别{}由基本医保结算", line_who(), pl.col("med_type")
            )
        )
        .otherwise(pl.format("{}，该项目限定险种支付，本次险种为{}", line_who(), pl.col("insutype")))
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "insutype", "med_type", "why", "cnt", "pric"],
    )
