# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""Shared by the pair kinds (included_component, exclusive_items, primary_secondary): finding the other
item of a knowledge-base pair within the pair's scope, online and in SQL."""

from __future__ import annotations

from typing import Any

from yibao.supervision.kb import KnowledgeBase, Pair
from yibao.supervision.rules._base import Encounter, Line
from yibao.supervision.rules._sql import Columns, lines_sql

SCOPE_NAMES = {"same_time": "同一时间", "same_day": "同日", "same_encounter": "同次就诊"}


def by_b(kb: KnowledgeBase, relation: str) -> dict[str, tuple[Pair, ...]]:
    out: dict[str, list[Pair]] = {}
    for p in kb.pairs:
        if p.relation == relation:
            out.setdefault(p.item_b, []).append(p)
    return {k: tuple(v) for k, v in out.items()}


def partner(enc: Encounter, line: Line, pair: Pair) -> Line | None:
    """The first line of ``pair.item_a`` in ``enc`` within the pair's scope of ``line``, or None."""
    for other in enc.by_code.get(pair.item_a, ()):
        if other is line:
            continue
        if pair.scope == "same_encounter":
            return other
        if pair.scope == "same_day" and other.day == line.day:
            return other
        if pair.scope == "same_time" and other.time == line.time:
            return other
    return None


def pair_sql(cols: Columns, rule: Any, relation: str) -> str:
    """Lines of item_b with a line of item_a in scope: b's columns plus with_sn, with_code, scope, rate."""
    return f"""
        WITH p AS (SELECT item_a, item_b, scope, rate_num, rate_den FROM yb_kb_pairs WHERE relation = '{relation}'),
        b AS ({lines_sql(cols, rule, where="f.med_list_codg IN (SELECT item_b FROM p)")}),
        a AS (SELECT f.mdtrt_id, f.med_list_codg AS code, f.fee_ocur_time AS t, f.feedetl_sn
              FROM fee_list_d f WHERE f.med_list_codg IN (SELECT item_a FROM p)
                AND f.mdtrt_id IN (SELECT mdtrt_id FROM b))
        SELECT b.*, a.feedetl_sn AS with_sn, a.code AS with_code, p.scope, p.rate_num, p.rate_den
        FROM b JOIN p ON p.item_b = b.code
        JOIN a ON a.mdtrt_id = b.mdtrt_id AND a.code = p.item_a AND a.feedetl_sn <> b.feedetl_sn
         AND (p.scope = 'same_encounter'
              OR (p.scope = 'same_day' AND CAST(a.t AS DATE) = CAST(b.t AS DATE))
              OR (p.scope = 'same_time' AND a.t = b.t))
    """
