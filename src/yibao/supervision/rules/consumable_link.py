# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""材料–项目不符 / 关联缺失 (consumable_link): a consumable billed without the procedure it belongs to.

consumable_links.csv ties a consumable to the procedure items (or ICD-9-CM-3 operation prefixes) it is
used in: a stent needs a PCI, a knee prosthesis a knee replacement, a dialyser a dialysis session.
Neither in the encounter → 可疑 (a consumable billed for care that did not happen, or billed as
another).

Before::

    M1  经皮冠状动脉支架置入术, 冠状动脉药物洗脱支架

After::

    M2  冠状动脉药物洗脱支架 (no PCI line, no 36.06/36.07 operation)   → R-LINK-01 可疑, vola_amt = the line
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(frozenset(kb.links), (dict(kb.links), kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    links, kb = prep.data
    out = []
    for code in enc.codes & links.keys():
        link = links[code]
        if link.procedures & enc.codes:
            continue
        if link.oprn_prefixes and any(o.startswith(link.oprn_prefixes) for o in enc.operations):
            continue
        need = "、".join(kb.name(c) for c in sorted(link.procedures)) or "、".join(link.oprn_prefixes)
        for ln in enc.by_code[code]:
            out.append(
                line_finding(rule, enc, ln, ln.sumamt, f"，本次就诊无其关联的诊疗项目或手术（{need}）")
            )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "links", "link_oprn", "items")
    cols = Columns(con)
    codes = "SELECT consumable FROM yb_kb_links UNION SELECT consumable FROM yb_kb_link_oprn"
    sql = f"""
        WITH c AS ({lines_sql(cols, rule, where=f"f.med_list_codg IN ({codes})")})
        SELECT c.feedetl_sn, c.mdtrt_id, c.psn_no, c.fixmedins_code, c.doctor, c.code, it.name, c.t, c.amt AS vola_amt,
               c.cnt, c.pric
        FROM c JOIN yb_kb_items it ON it.code = c.code
        WHERE NOT EXISTS (SELECT 1 FROM fee_list_d f2, yb_kb_links k WHERE k.consumable = c.code
                          AND f2.mdtrt_id = c.mdtrt_id AND f2.med_list_codg = k.procedure)
          AND NOT EXISTS (SELECT 1 FROM setl_list_oprn_d o, yb_kb_link_oprn k WHERE k.consumable = c.code
                          AND o.mdtrt_id = c.mdtrt_id AND SUBSTRING(o.oprn_code, 1, CAST(k.len AS INTEGER)) = k.prefix)
    """
    rows = run(con, sql)
    cont = pl.format("{}，本次就诊无其关联的诊疗项目或手术记录", line_who())
    return finish(rows, rule, cont=cont, key=["feedetl_sn"], evidence=["code", "name", "t", "cnt", "pric"])
