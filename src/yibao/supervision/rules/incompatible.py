# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""配伍禁忌 (incompatible): a forbidden pair in one encounter — 十八反 / 十九畏 herbs, contraindicated drugs.

incompatible.csv lists the pairs by catalogue code, or by name where the catalogue has no code for a
herb (甘遂, 藜芦 …: matched online against ``hilist_name``). The second item of the pair is reported.

Before::

    M1  Rx1  甘草 10g, 茯苓 15g, 白术 10g

After::

    M1  Rx1  甘草 10g, 甘遂 3g …       → R-INCOMP-01 可疑 (十八反：甘草反甘遂), vola_amt = the 甘遂 line
    M2       枸橼酸西地那非片, 硝酸甘油片 → R-INCOMP-01 可疑 (禁忌), vola_amt = the 硝酸甘油片 line
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import Incompatible, KnowledgeBase
from yibao.supervision.rules._base import Encounter, Line, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kinds: tuple[str, ...] = ("十八反", "十九畏", "禁忌")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    pairs = tuple(x for x in kb.incompatible if x.kind in p.kinds)
    codes = frozenset(c for x in pairs for c in (x.item_a, x.item_b) if c)
    return Prepared(None, (pairs, codes))


def _find(enc: Encounter, code: str, name: str) -> Line | None:
    if code:
        got = enc.by_code.get(code)
        return got[0] if got else None
    for ln in enc.lines:
        if name and name in ln.name:
            return ln
    return None


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    pairs: tuple[Incompatible, ...] = prep.data[0]
    if len(enc.lines) < 2:
        return []
    out = []
    for x in pairs:
        a = _find(enc, x.item_a, x.name_a)
        if a is None:
            continue
        b = _find(enc, x.item_b, x.name_b)
        if b is None or b is a:
            continue
        out.append(
            line_finding(
                rule, enc, b, b.sumamt, f"与「{a.name}」同次开具，属{x.kind}（{x.note}）", related=[a]
            )
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "incompatible", "items")
    cols = Columns(con)
    kinds = ", ".join(f"'{k}'" for k in p.kinds)
    sql = f"""
        WITH k AS (SELECT * FROM yb_kb_incompatible WHERE kind IN ({kinds})),
        b AS ({lines_sql(cols, rule, where="f.med_list_codg IN (SELECT item_b FROM k)")}),
        a AS (SELECT f.mdtrt_id, f.med_list_codg AS code, MIN(f.feedetl_sn) AS feedetl_sn FROM fee_list_d f
              WHERE f.med_list_codg IN (SELECT item_a FROM k) AND f.mdtrt_id IN (SELECT mdtrt_id FROM b)
              GROUP BY f.mdtrt_id, f.med_list_codg)
        SELECT b.feedetl_sn, b.mdtrt_id, b.psn_no, b.fixmedins_code, b.doctor, b.code, it.name, b.t, a.feedetl_sn AS with_sn,
               a.code AS with_code, w.name AS with_name, k.kind, k.note, b.amt AS vola_amt, b.cnt, b.pric
        FROM b JOIN k ON k.item_b = b.code JOIN a ON a.mdtrt_id = b.mdtrt_id AND a.code = k.item_a
        JOIN yb_kb_items it ON it.code = b.code JOIN yb_kb_items w ON w.code = a.code
    """
    rows = run(con, sql)
    cont = pl.format(
        "{}，与「{}」（{}）同次开具，属{}（{}）",
        line_who(),
        pl.col("with_name"),
        pl.col("with_code"),
        pl.col("kind"),
        pl.col("note"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn", "with_code"],
        evidence=["code", "name", "t", "with_sn", "with_code", "kind", "cnt", "pric"],
    )
