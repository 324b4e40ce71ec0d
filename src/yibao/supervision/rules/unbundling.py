# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""分解收费 (unbundling): one per-session service billed as several sessions minutes apart.

A treatment billed per session (治疗费 items: 静脉输液, 换药, 雾化吸入, 理疗, 针刺 …) appearing again in the
same encounter within ``max_gap_minutes`` of the previous line of the same item is one session split
into several. (Lines at the identical time are duplicate_item's.)

Before::

    F1  静脉输液  10:40  ¥10.00

After (findings on the added lines)::

    F1  静脉输液  10:40  ¥10.00
    F2  静脉输液  10:47  ¥10.00   → R-SPLIT-01 明确违规, vola_amt ¥10.00
    F3  静脉输液  10:58  ¥10.00   → R-SPLIT-01 明确违规, vola_amt ¥10.00
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Line, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    max_gap_minutes: int = Field(30, ge=1, le=240)
    chrgitm_types: tuple[str, ...] = ("05",)
    exclude: tuple[str, ...] = ()


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    codes = frozenset(
        c
        for c, i in kb.items.items()
        if i.list_type == "service" and i.med_chrgitm_type in p.chrgitm_types and c not in p.exclude
    )
    return Prepared(codes, (codes, p.max_gap_minutes * 60))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    codes, gap = prep.data
    out = []
    for code in enc.codes & codes:
        lines: list[Line] = sorted(enc.by_code[code], key=lambda ln: ln.time)
        if len(lines) < 2:
            continue
        prev = lines[0]
        pt = datetime.fromisoformat(prev.time)
        for ln in lines[1:]:
            t = datetime.fromisoformat(ln.time)
            s = (t - pt).total_seconds()
            if 0 < s <= gap:
                out.append(line_finding(rule, enc, ln, ln.sumamt, f"距上一次同项目收费（{prev.time[11:16]}）仅 {int(s // 60)} 分钟，属同一次服务分解收费",
                                        related=[prev]))  # fmt: skip
            prev, pt = ln, t
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "items")
    cols = Columns(con)
    types = ", ".join(f"'{t}'" for t in p.chrgitm_types)
    excl = f"AND it0.code NOT IN ({', '.join(repr(c) for c in p.exclude)})" if p.exclude else ""
    join = f"JOIN yb_kb_items it0 ON it0.code = f.med_list_codg AND it0.list_type = 'service' AND it0.med_chrgitm_type IN ({types}) {excl}"
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, join=join)}),
        m AS (SELECT mdtrt_id, code FROM l GROUP BY mdtrt_id, code HAVING COUNT(*) > 1),
        w AS (SELECT l.*, LAG(l.t) OVER (PARTITION BY l.mdtrt_id, l.code ORDER BY l.t, l.feedetl_sn) AS prev_t,
                     LAG(l.feedetl_sn) OVER (PARTITION BY l.mdtrt_id, l.code ORDER BY l.t, l.feedetl_sn) AS prev_sn
              FROM l JOIN m ON m.mdtrt_id = l.mdtrt_id AND m.code = l.code)
        SELECT w.feedetl_sn, w.mdtrt_id, w.psn_no, w.fixmedins_code, w.doctor, w.code, it.name, w.t, w.prev_t, w.prev_sn,
               w.amt AS vola_amt, w.cnt, w.pric
        FROM w JOIN yb_kb_items it ON it.code = w.code
        WHERE w.prev_t IS NOT NULL AND w.t > w.prev_t AND w.t <= w.prev_t + INTERVAL '{p.max_gap_minutes}' MINUTE
    """
    rows = run(con, sql).with_columns(gap=((pl.col("t") - pl.col("prev_t")).dt.total_minutes()))
    cont = pl.format(
        "{}，距上一次同项目收费（{}）仅 {} 分钟，属同一次服务分解收费",
        line_who(),
        pl.col("prev_t").dt.strftime("%H:%M"),
        pl.col("gap"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "prev_t", "prev_sn", "cnt", "pric"],
    )
