# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""超限定频次 (frequency): an item billed more times in a window than the knowledge base allows.

limits.csv ``frequency`` rows: at most ``value`` units of the item per day (per encounter-day), week,
month or year (per person, across encounters) or per encounter. The lines past the limit are
reported, each with the units above the limit × its price and, in its evidence, the window's earlier
lines that count towards the limit (``earlier``: a reviewer sees which charges make up the count).

Before::

    M1  04-03  普通病房床位费 × 1

After::

    M1  04-03  普通病房床位费 × 1
    M1  04-03  普通病房床位费 × 1   → R-FREQ-01 明确违规 (每日限 1 次), vola_amt = one day's bed
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase, Limit
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import Columns, fee_expr, finish, line_who, lines_sql, list_sql, run
from yibao.supervision.rules._windows import PER_NAMES, group_sql, history_key, window_key

UNIT = 10_000
KIND = "frequency"


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def index(limits: dict[str, tuple[Limit, ...]] | Any) -> dict[str, tuple[Limit, ...]]:
    """Unscaled limits by code."""
    idx = {c: tuple(x for x in v if not x.scale) for c, v in limits.items()}
    return {c: v for c, v in idx.items() if v}


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    idx = index(kb.frequency)
    return Prepared(frozenset(idx), idx)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    return counts_online(enc, rule, prep.data)


def counts_online(enc: Encounter, rule: Any, idx: dict[str, tuple[Limit, ...]]) -> list[Finding]:
    """Lines past their window's limit, counting the patient's history for week / month / year windows."""
    out = []
    for code in enc.codes & idx.keys():
        lines = sorted(enc.by_code[code], key=lambda ln: (ln.time, ln.rx_id))
        for lim in idx[code]:
            used: dict[tuple[str, object], int] = {}
            past = enc.history.dispenses.get(code, ())
            for d in past:
                if d.mdtrt_id == enc.mdtrt_id:
                    continue
                k = history_key(lim.per, d.ord, date.fromordinal(d.ord).isoformat())
                if k is not None:
                    used[k] = used.get(k, 0) + d.cnt
            for ln in lines:
                k = window_key(lim.per, enc, ln.ord, ln.day)
                before = used.get(k, 0)
                used[k] = before + ln.cnt
                over = used[k] - lim.value * UNIT
                if over > 0:
                    excess = min(ln.cnt, over)
                    reason = f"{PER_NAMES[lim.per]}限 {lim.value} 次，累计已达 {used[k] // UNIT} 次"
                    out.append(
                        line_finding(rule, enc, ln, fee(ln.pric, excess), reason, suffix=f":{lim.per}")
                    )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    return counts_batch(con, rule, kb, KIND)


def counts_batch(con: Any, rule: Any, kb: KnowledgeBase, kind: str) -> pl.DataFrame:
    """The unscaled limits of ``kind`` (frequency / quantity) as SQL: lines past their window's limit."""
    kb.register(con, "limits", "items")
    cols = Columns(con)
    sql = f"""
        WITH k AS (SELECT code, value, per FROM yb_kb_limits WHERE limit_kind = '{kind}' AND scale = ''),
        l AS ({lines_sql(cols, rule, join="JOIN k ON k.code = f.med_list_codg", extra=["k.value", "k.per"])}),
        g AS (SELECT l.*, {group_sql()} AS grp FROM l),
        c AS (SELECT g.*, SUM(g.cnt) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum,
                     {list_sql("g.feedetl_sn")} OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier
              FROM g WHERE g.grp IN (SELECT grp FROM g GROUP BY grp, code, per, value HAVING SUM(cnt) > value * {UNIT})
              WINDOW w AS (PARTITION BY g.code, g.per, g.grp ORDER BY g.t, g.feedetl_sn))
        SELECT c.feedetl_sn, c.mdtrt_id, c.psn_no, c.fixmedins_code, c.doctor, c.code, it.name, c.t, c.per, c.value,
               c.cnt, c.pric, c.cum, c.earlier, LEAST(c.cnt, c.cum - c.value * {UNIT}) AS excess
        FROM c JOIN yb_kb_items it ON it.code = c.code
        WHERE c.cum > c.value * {UNIT}
    """
    rows = run(con, sql).with_columns(
        vola_amt=fee_expr(pl.col("pric"), pl.col("excess")), times=pl.col("cum") // UNIT
    )
    cont = pl.format(
        "{}，{}限 {} 次，累计已达 {} 次",
        line_who(),
        pl.col("per").replace(PER_NAMES),
        pl.col("value"),
        pl.col("times"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn", "per"],
        evidence=["code", "name", "t", "per", "value", "cum", "cnt", "pric", "earlier"],
    )
