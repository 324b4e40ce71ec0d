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

A consumable billed on an outpatient account within ``stay_hours`` (24) of a stay of the same person at
the same institution whose bill holds its procedure item (or operation) belongs to that stay — a stent
whose consignment invoice came the morning after discharge — and is not reported (R-STENT-01 has the
same window). Online, the stays of the history count (their procedure items; operations are not kept).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import INPATIENT_MED_TYPES, Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    stay_hours: int = Field(24, ge=0, le=24 * 30)
    """An outpatient consumable within this many hours of a stay (same person and institution) that
    holds its procedure belongs to the stay; 0 = judge every encounter alone."""


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    return Prepared(frozenset(kb.links), (dict(kb.links), kb, p))


def _adjacent_stays(enc: Encounter, hours: int) -> frozenset[str]:
    """The stays of the history at the encounter's institution within ``hours`` of it (outpatient only)."""
    if hours <= 0 or enc.visit in ("inpatient", "ltc"):
        return frozenset()
    span = timedelta(hours=hours)
    a, b = _moment(enc.adm) - span, _moment(enc.dscg) + span
    return frozenset(
        s.mdtrt_id for s in enc.history.stays
        if s.visit == "inpatient" and s.medins_id == enc.medins_id and _moment(s.adm) <= b and _moment(s.dscg) >= a
    )  # fmt: skip


def _moment(text: str) -> datetime:
    t = text.strip().replace("T", " ")
    return datetime.fromisoformat(t[:19] if len(t) >= 19 else t[:10])


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    links, kb, p = prep.data
    out = []
    near: frozenset[str] | None = None
    for code in enc.codes & links.keys():
        link = links[code]
        if link.procedures & enc.codes:
            continue
        if link.oprn_prefixes and any(o.startswith(link.oprn_prefixes) for o in enc.operations):
            continue
        if near is None:
            near = _adjacent_stays(enc, p.stay_hours)
        if near and any(
            d.mdtrt_id in near for c in link.procedures for d in enc.history.dispenses.get(c, ())
        ):
            continue
        need = "、".join(kb.name(c) for c in sorted(link.procedures)) or "、".join(link.oprn_prefixes)
        for ln in enc.by_code[code]:
            out.append(
                line_finding(rule, enc, ln, ln.sumamt, f"，本次就诊无其关联的诊疗项目或手术（{need}）")
            )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "links", "link_oprn", "items")
    cols = Columns(con)
    codes = "SELECT consumable FROM yb_kb_links UNION SELECT consumable FROM yb_kb_link_oprn"
    h = f"INTERVAL '{p.stay_hours}' HOUR"
    # the stays (same person and institution) within stay_hours of an outpatient line without its procedure
    adjacent = f"""
        SELECT u.feedetl_sn, s.mdtrt_id AS stay_id FROM u JOIN mdtrt_d s ON s.psn_no = u.psn_no
          AND s.fixmedins_code = u.fixmedins_code AND s.med_type IN {INPATIENT_MED_TYPES}
          AND s.begntime <= u.endtime + {h} AND s.endtime >= u.begntime - {h}
        WHERE u.visit NOT IN ('inpatient', 'ltc')"""
    sql = f"""
        WITH c AS ({lines_sql(cols, rule, where=f"f.med_list_codg IN ({codes})")}),
        u AS (SELECT c.* FROM c
              WHERE NOT EXISTS (SELECT 1 FROM fee_list_d f2, yb_kb_links k WHERE k.consumable = c.code
                                AND f2.mdtrt_id = c.mdtrt_id AND f2.med_list_codg = k.procedure)
                AND NOT EXISTS (SELECT 1 FROM setl_list_oprn_d o, yb_kb_link_oprn k WHERE k.consumable = c.code
                                AND o.mdtrt_id = c.mdtrt_id AND SUBSTRING(o.oprn_code, 1, CAST(k.len AS INTEGER)) = k.prefix)),
        a AS ({adjacent if p.stay_hours > 0 else "SELECT '' AS feedetl_sn, '' AS stay_id FROM u WHERE FALSE"}),
        covered AS (SELECT a.feedetl_sn FROM a JOIN u ON u.feedetl_sn = a.feedetl_sn
                    JOIN fee_list_d f3 ON f3.mdtrt_id = a.stay_id JOIN yb_kb_links k ON k.consumable = u.code
                     AND f3.med_list_codg = k.procedure
                    UNION
                    SELECT a.feedetl_sn FROM a JOIN u ON u.feedetl_sn = a.feedetl_sn
                    JOIN setl_list_oprn_d o ON o.mdtrt_id = a.stay_id JOIN yb_kb_link_oprn k ON k.consumable = u.code
                     AND SUBSTRING(o.oprn_code, 1, CAST(k.len AS INTEGER)) = k.prefix)
        SELECT u.feedetl_sn, u.mdtrt_id, u.psn_no, u.fixmedins_code, u.doctor, u.code, it.name, u.t, u.amt AS vola_amt,
               u.cnt, u.pric
        FROM u JOIN yb_kb_items it ON it.code = u.code
        WHERE u.feedetl_sn NOT IN (SELECT feedetl_sn FROM covered)
    """
    rows = run(con, sql)
    cont = pl.format("{}，本次就诊无其关联的诊疗项目或手术记录", line_who())
    return finish(rows, rule, cont=cont, key=["feedetl_sn"], evidence=["code", "name", "t", "cnt", "pric"])
