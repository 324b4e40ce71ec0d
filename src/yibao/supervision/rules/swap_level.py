# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""串换项目（超出本级服务范围）(swap_level): the dear twin of a swap pair billed where the level does not
offer it, while its cheap twin is offered there.

The price book prices each service per hospital level; an item with prices at some levels and none at
the institution's is not provided at that level (no equipment, no such physicians). When the knowledge
base's ``swap`` pairs say it is commonly billed instead of a cheaper item the level does provide
(普通门诊诊察费 → 主任医师门诊诊察费, CT平扫 → CT增强, 常规心电图 → 动态心电图, 彩超 → 超声心动图), each such
line is 可疑 串换: the cheap service was done and the dear one billed. vola_amt is the line's amount above
the cheap twin at the level's price cap (an estimate: vola_amt_stas 2).

Before::

    H23 (一级)  002103000010000 X线计算机体层(CT)平扫     × 1  ¥90.00    (一级 price ¥90)

After::

    H23 (一级)  002103000020000 X线计算机体层(CT)增强扫描 × 1  ¥170.00   (no 一级 price)
    → R-SWAP-02 可疑, vola_amt = ¥170.00 − ¥90.00 = ¥80.00
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import Columns, fee_expr, finish, line_who, lines_sql, run

LEVEL_NAMES = {"3": "三级", "2": "二级", "1": "一级及以下"}


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    twins: dict[str, list[str]] = {}
    for cheap, pairs in kb.swaps.items():
        for p in pairs:
            twins.setdefault(p.item_b, []).append(cheap)
    return Prepared(frozenset(twins), ({d: sorted(c) for d, c in twins.items()}, kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    twins, kb = prep.data
    if enc.visit == "pharmacy":
        return []
    lv = enc.hosp_lv
    out = []
    for line in enc.lines:
        dear = kb.items.get(line.code)
        if dear is None or not dear.pric_uplmt or dear.price_cap(lv) is not None:
            continue
        cheap = next((c for c in twins.get(line.code, ()) if kb.items[c].price_cap(lv) is not None), None)
        if cheap is None:
            continue
        cap = kb.items[cheap].price_cap(lv)
        assert cap is not None
        gap = max(0, line.sumamt - fee(cap, line.cnt))
        reason = (
            f"，该项目在{LEVEL_NAMES[lv]}医疗机构无收费标准（本级不提供），而其低价对应项目「{kb.name(cheap)}」（{cheap}）"
            f"本级有收费标准，疑将「{kb.name(cheap)}」串换为本项目"
        )
        out.append(
            line_finding(
                rule, enc, line, gap, reason, evidence={"cheap": cheap, "cheap_cap": cap}, status="2"
            )
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "pairs", "prices", "items")
    cols = Columns(con)
    dear = "SELECT item_b FROM yb_kb_pairs WHERE relation = 'swap'"
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, where=f"f.med_list_codg IN ({dear})")}),
        priced AS (SELECT DISTINCT code FROM yb_kb_prices),
        here AS (SELECT l.feedetl_sn, p.item_a AS cheap, pc.cap AS cheap_cap
                 FROM l JOIN yb_kb_pairs p ON p.relation = 'swap' AND p.item_b = l.code
                 JOIN yb_kb_prices pc ON pc.code = p.item_a AND pc.lv = l.lv
                      AND pc.begndate <= CAST(l.t AS DATE) AND (pc.enddate IS NULL OR pc.enddate >= CAST(l.t AS DATE))
                 WHERE l.inst_type = '1' AND l.code IN (SELECT code FROM priced)
                   AND NOT EXISTS (SELECT 1 FROM yb_kb_prices x WHERE x.code = l.code AND x.lv = l.lv
                                   AND x.begndate <= CAST(l.t AS DATE) AND (x.enddate IS NULL OR x.enddate >= CAST(l.t AS DATE)))),
        one AS (SELECT feedetl_sn, MIN(cheap) AS cheap FROM here GROUP BY feedetl_sn)
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.lv, l.cnt, l.pric,
               l.amt, one.cheap, ch.name AS cheap_name, here.cheap_cap
        FROM l JOIN one ON one.feedetl_sn = l.feedetl_sn
        JOIN here ON here.feedetl_sn = one.feedetl_sn AND here.cheap = one.cheap
        JOIN yb_kb_items it ON it.code = l.code JOIN yb_kb_items ch ON ch.code = one.cheap
    """
    rows = run(con, sql).with_columns(
        vola_amt=pl.max_horizontal(pl.col("amt") - fee_expr(pl.col("cheap_cap"), pl.col("cnt")), pl.lit(0)),
        level=pl.col("lv").replace_strict(LEVEL_NAMES, default="一级及以下"),
        vola_amt_stas=pl.lit("2"),
    )
    cont = pl.format(
        "{}，该项目在{}医疗机构无收费标准（本级不提供），而其低价对应项目「{}」（{}）本级有收费标准，疑将「{}」串换为本项目",
        line_who(), pl.col("level"), pl.col("cheap_name"), pl.col("cheap"), pl.col("cheap_name"),
    )  # fmt: skip
    return finish(rows, rule, cont=cont, key=["feedetl_sn"],
                  evidence=["code", "name", "t", "lv", "cheap", "cheap_cap", "cnt", "pric", "vola_amt_stas"])  # fmt: skip
