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


def pair_batch(con: Any, rule: Any, kb: KnowledgeBase, relation: str, reason: str) -> Any:
    """The batch form shared by the item-pair rules: lines billed beside their partner in ``relation``.

    ``reason`` ends the sentence after "…已收取「partner」（code，line）", e.g. "，两者互斥不得同时收取".
    """
    import polars as pl

    from yibao.supervision.rules._sql import finish, line_who, run

    kb.register(con, "pairs", "items")
    cols = Columns(con)
    sql = f"""
        WITH x AS ({pair_sql(cols, rule, relation)})
        SELECT x.feedetl_sn, x.mdtrt_id, x.psn_no, x.fixmedins_code, x.doctor, x.code, it.name, x.t, x.with_sn,
               x.with_code, w.name AS with_name, x.scope, x.amt AS vola_amt, x.cnt, x.pric
        FROM x JOIN yb_kb_items it ON it.code = x.code JOIN yb_kb_items w ON w.code = x.with_code
    """
    rows = run(con, sql)
    cont = pl.format("{}，{}已收取「{}」（{}，{}）" + reason.replace("{", "{{").replace("}", "}}"),
                     line_who(), pl.col("scope").replace(SCOPE_NAMES), pl.col("with_name"), pl.col("with_code"),
                     pl.col("with_sn"))  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "with_sn", "with_code", "scope", "cnt", "pric"],
    )


def pair_online(enc: Encounter, rule: Any, idx: dict[str, tuple[Pair, ...]], reason: str) -> list[Any]:
    """The online form shared by the item-pair rules: the first partner of each line in its scope."""
    from yibao.supervision.rules._base import line_finding

    out = []
    for line in enc.lines:
        for pair in idx.get(line.code, ()):
            other = partner(enc, line, pair)
            if other is not None:
                why = f"，{SCOPE_NAMES[pair.scope]}已收取「{other.name}」（{other.code}）{reason}"
                out.append(line_finding(rule, enc, line, line.sumamt, why, related=[other]))
                break
    return out
