# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限定性别 (gender): an item the catalogue restricts to one sex, billed for a patient of the other.

Before (payable)::

    P5 女 34  门诊  经阴道超声检查 ¥80.00          (catalogue lmt_gend 2 限女性)

After (a finding)::

    P5 男 47  门诊  经阴道超声检查 ¥80.00   → R-GEND-01 明确违规, vola_amt ¥80.00 (the whole line)

Not a violation: a diagnosis listed in the knowledge base's ``exempt_dx`` for the item (a man with
breast cancer, C50, prescribed 来曲唑 限女性). When the encounter's own diagnoses belong to the item's
sex (a pregnancy diagnosis on a man's card) the whole encounter is someone else's care: that is reported
by ``identity_contradiction`` (冒名就医), not line by line here (``defer_to_identity``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, prefix_join, run

_SEX = {"1": "男", "2": "女"}


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    exempt: bool = True
    defer_to_identity: bool = True


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    need = {c: i.restriction.gend for c, i in kb.items.items() if i.restriction.gend}
    exempt = dict(kb.exempt_dx) if p.exempt else {}
    return Prepared(frozenset(need), (need, exempt, p.defer_to_identity, kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    need, exempt, defer, kb = prep.data
    if enc.gend not in ("1", "2"):
        return []
    out = []
    for line in enc.lines:
        g = need.get(line.code)
        if g is None or g == enc.gend:
            continue
        ex = exempt.get(line.code)
        if ex and any(d.startswith(ex) for d in enc.diagnoses):
            continue
        if defer and any(kb.sex_of_dx(d) == g for d in enc.diagnoses):
            continue
        out.append(
            line_finding(rule, enc, line, line.sumamt, f"限{_SEX[g]}性使用，患者性别为{_SEX[enc.gend]}")
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "gender", "exempt", "sex_dx", "items")
    cols = Columns(con)
    exempt = (
        f"AND NOT EXISTS (SELECT 1 FROM {prefix_join('setl_list_diag_d', 'd', 'diag_code', 'yb_kb_exempt', 'e')} "
        "WHERE d.mdtrt_id = l.mdtrt_id AND e.code = l.code)"
        if p.exempt else ""
    )  # fmt: skip
    defer = (
        f"AND NOT EXISTS (SELECT 1 FROM {prefix_join('setl_list_diag_d', 'd', 'diag_code', 'yb_kb_sex_dx', 's')} "
        "WHERE d.mdtrt_id = l.mdtrt_id AND s.gend = l.need)"
        if p.defer_to_identity else ""
    )  # fmt: skip
    sql = f"""
        WITH l AS ({
        lines_sql(
            cols,
            rule,
            join="JOIN yb_kb_gender g ON g.code = f.med_list_codg",
            person=True,
            extra=["g.gend AS need"],
        )
    })
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t,
               l.gend, l.need, l.amt AS vola_amt, l.cnt, l.pric
        FROM l JOIN yb_kb_items it ON it.code = l.code
        WHERE l.gend IN ('1', '2') AND l.gend <> l.need {exempt} {defer}
    """
    rows = run(con, sql)
    sex = {"1": "男", "2": "女"}
    cont = pl.format(
        "{}，该项目限{}性使用，患者性别为{}",
        line_who(),
        pl.col("need").replace_strict(sex, default="?"),
        pl.col("gend").replace_strict(sex, default="?"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "gend", "need", "cnt", "pric"],
    )
