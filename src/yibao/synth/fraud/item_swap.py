"""item_swap (串换项目 / 耗材): a cheap service or consumable done, a dearer one billed.

In a share (3–15%) of a bad hospital's or clinic's encounters with a cheap item, every line of it is
billed as the dearer item it is
commonly swapped for (B超 → 彩超, 换药(小) → 换药(大), III级护理 → I级护理, CT平扫 → CT增强, 丝线 → 可吸收缝线 …):
code, price (the dear item's price at the level, never above its cap) and amount change; time, quantity
and doctor stay.

Before::

    F1  002201000010000 B超常规检查          ¥40.00

After::

    F1  002202000010000 彩色多普勒超声常规检查  ¥100.00

Labels: one row per swapped line (label 1); one case per (institution, pair); params: done, billed,
share, price_ratio.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    MOST_PER_INSTITUTION,
    Context,
    Labels,
    Tables,
    defer,
    fee_amount,
    levels,
    lines_at,
)

PATTERN = "item_swap"
CODE = "IS"
SETTINGS = ("ward", "clinic")
KIND = "modify"
SHARE = (0.03, 0.15)
"""Share of the encounters billing the cheap item in which every line of it is billed as the dear one."""


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    pairs = {a: b for a, b in k.SWAP_PAIRS if ctx.has(a, b)}
    lv_of = levels(tables)
    fee = lines_at(tables, ctx, pl.col("med_list_codg").is_in(list(pairs)))
    changes: list[dict[str, Any]] = []
    for (inst, cheap), lines in sorted(
        fee.partition_by("fixmedins_code", "med_list_codg", as_dict=True).items()
    ):
        if rng.random() < 0.4:
            continue
        inst, cheap = str(inst), str(cheap)
        lv = lv_of.get(inst, "1")
        dear = pairs[cheap]
        price = ctx.prices.price(dear, lv)
        stays = lines.get_column("mdtrt_id").unique().sort().to_list()
        share = float(rng.uniform(*SHARE))
        n = ctx.cases(len(stays), share, weight=0.1, most=MOST_PER_INSTITUTION)
        chosen = {stays[int(i)] for i in rng.choice(len(stays), size=n, replace=False)} if n else set()
        picked = lines.filter(pl.col("mdtrt_id").is_in(list(chosen))).sort("feedetl_sn")
        if picked.height == 0:
            continue
        item = ctx.item(dear)
        case = lab.case()
        params = {
            "done": cheap,
            "billed": dear,
            "share": share,
            "price_ratio": price / max(1, ctx.prices.price(cheap, lv)),
        }
        for r in picked.iter_rows(named=True):
            changes.append({
                "feedetl_sn": r["feedetl_sn"], "med_list_codg": dear, "pric": price,
                "det_item_fee_sumamt": fee_amount(price, r["cnt"]),
                "med_chrgitm_type": item.med_chrgitm_type if item else r["med_chrgitm_type"],
            })  # fmt: skip
            lab.add(case, "1", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"],
                    fixmedins_code=inst, doctor=r["bilg_dr_codg"])  # fmt: skip
    out = dict(tables)
    if changes:
        out = defer(ctx, out, "fee_list_d", pl.DataFrame(changes), "feedetl_sn")
    return out, lab.frame()
