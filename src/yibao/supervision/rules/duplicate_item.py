# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""重复收费 — 同一项目同一时间重复 (duplicate_item): the same service or consumable billed twice at one time.

Before::

    F1  血细胞分析  09:31  ¥20.00

After (a finding on the second line)::

    F1  血细胞分析  09:31  ¥20.00
    F7  血细胞分析  09:31  ¥20.00   → R-DUP-01 明确违规, vola_amt ¥20.00

Not a violation: a procedure done once per operation record — a bilateral knee replacement has two
operation records (81.54 左 / 右), so two 人工全膝关节置换术 lines and two prostheses at one time are
right (knowledge base procedures.csv / consumable_links.csv); a repeat test hours later is another time.
Drugs are not checked here (several packages of one drug are one prescription, not a duplicate).
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
    list_types: tuple[str, ...] = ("service", "consumable")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    kinds = {c for c, i in kb.items.items() if i.list_type in p.list_types}
    oprn = dict(kb.procedures)
    for c, link in kb.links.items():
        oprn[c] = link.oprn_prefixes
    return Prepared(None, (frozenset(kinds), oprn))


def allowed(code: str, operations: tuple[str, ...], oprn: dict[str, tuple[str, ...]]) -> int:
    """How many lines of ``code`` one moment may carry: 1, or the number of matching operation records."""
    prefixes = oprn.get(code)
    if not prefixes:
        return 1
    return max(1, sum(1 for o in operations if o.startswith(prefixes)))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    kinds, oprn = prep.data
    if len(enc.lines) < 2:
        return []
    groups: dict[tuple[str, str], list[Line]] = {}
    for ln in enc.lines:
        if ln.code in kinds:
            groups.setdefault((ln.code, ln.time), []).append(ln)
    out = []
    for (code, _), lines in groups.items():
        n = allowed(code, enc.operations, oprn)
        for extra in lines[n:]:
            out.append(line_finding(rule, enc, extra, extra.sumamt, f"于 {extra.time} 重复收取（同一时间共 {len(lines)} 次）",
                                    related=lines[:1]))  # fmt: skip
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "items", "procedures", "link_oprn")
    cols = Columns(con)
    types = ", ".join(f"'{t}'" for t in p.list_types)
    join = f"JOIN yb_kb_items it0 ON it0.code = f.med_list_codg AND it0.list_type IN ({types})"
    # the repeated (encounter, item, time) groups first, from the fee lines alone: every line of a group
    # shares its encounter's scope, so only those lines need their encounter joined
    sql = f"""
        WITH g AS (SELECT f.mdtrt_id, f.med_list_codg AS code, f.fee_ocur_time AS t FROM fee_list_d f {join}
                   GROUP BY f.mdtrt_id, f.med_list_codg, f.fee_ocur_time HAVING COUNT(*) > 1),
        l AS ({lines_sql(cols, rule, join=f"{join} JOIN g ON g.mdtrt_id = f.mdtrt_id AND g.code = f.med_list_codg AND g.t = f.fee_ocur_time")}),
        r AS (SELECT l.*, ROW_NUMBER() OVER (PARTITION BY l.mdtrt_id, l.code, l.t ORDER BY l.feedetl_sn) AS rn,
                     COUNT(*) OVER (PARTITION BY l.mdtrt_id, l.code, l.t) AS n,
                     FIRST_VALUE(l.feedetl_sn) OVER (PARTITION BY l.mdtrt_id, l.code, l.t ORDER BY l.feedetl_sn) AS first_sn
              FROM l),
        ops AS (SELECT o.mdtrt_id, k.code, COUNT(*) AS n_ops FROM setl_list_oprn_d o
                JOIN (SELECT code, prefix, len FROM yb_kb_procedures
                      UNION ALL SELECT consumable AS code, prefix, len FROM yb_kb_link_oprn) k
                  ON SUBSTRING(o.oprn_code, 1, CAST(k.len AS INTEGER)) = k.prefix
                WHERE o.mdtrt_id IN (SELECT mdtrt_id FROM g)
                GROUP BY o.mdtrt_id, k.code)
        SELECT r.feedetl_sn, r.mdtrt_id, r.psn_no, r.fixmedins_code, r.doctor, r.code, it.name, r.t, r.n, r.first_sn,
               COALESCE(ops.n_ops, 0) AS n_ops, r.amt AS vola_amt, r.cnt, r.pric
        FROM r JOIN yb_kb_items it ON it.code = r.code
        LEFT JOIN ops ON ops.mdtrt_id = r.mdtrt_id AND ops.code = r.code
        WHERE r.rn > GREATEST(1, COALESCE(ops.n_ops, 0))
    """
    rows = run(con, sql)
    cont = pl.format(
        "{}，于 {} 重复收取（同一时间共 {} 次，首条 {}）",
        line_who(),
        pl.col("t").dt.strftime("%H:%M:%S"),
        pl.col("n"),
        pl.col("first_sn"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "n", "first_sn", "n_ops", "cnt", "pric"],
    )
