"""overprice (超标准收费): a unit price above the cap for the institution's level.

A bad hospital or clinic overprices one to four of the capped items it bills, on 30–100% of their lines
(at most 1–5% of all its lines):
``above_cap`` — the cap at its level plus 5–50%, rounded to the fen; ``higher_level`` — the cap of a
higher level (a 二级 or 一级 institution charging the 三级 price). The amount is recomputed exactly.

Before::

    F1  彩色多普勒超声常规检查  二级  ¥90.00 (cap ¥90.00)

After (above_cap +22%)::

    F1  彩色多普勒超声常规检查  二级  ¥109.80

Labels: one row per overpriced line (label 1); one case per (institution, item),
``R-overprice-<institution>-<item>``: an institution charges the same price for the same few items all
year, so every chunk adds to the case (:meth:`Context.rank`, :meth:`Context.of_entity`); params: variant,
cap, pric, factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

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

PATTERN = "overprice"
CODE = "OP"
SETTINGS = ("ward", "clinic")
KIND = "modify"

SHARE = (0.01, 0.05)
"""Share of a bad institution's lines that are overpriced (spread over its one to four items)."""
_FEN = 10_000  # one fen in 1e-6 yuan


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    lv_of = levels(tables)
    fee = lines_at(tables, ctx)
    billed = fee.group_by("fixmedins_code", "med_list_codg").len().sort("fixmedins_code", "med_list_codg")
    changes: list[dict[str, Any]] = []
    overall = ctx.cap(weight=0.5)
    for inst in sorted(set(billed.get_column("fixmedins_code").to_list())):
        lv = lv_of.get(inst, "1")
        counts = {
            c: n for c, n in billed.filter(pl.col("fixmedins_code") == inst).select("med_list_codg", "len").iter_rows()
            if ctx.prices.cap(c, lv) is not None
        }  # fmt: skip
        if not counts:
            continue
        rare = sorted(c for c, n in counts.items() if n <= MOST_PER_INSTITUTION) or [
            min(counts, key=lambda c: (counts[c], c))
        ]
        volume = int(billed.filter(pl.col("fixmedins_code") == inst).get_column("len").sum())
        habit = ctx.of_entity(inst)  # the same share, items and prices all year
        # floors (20 lines, one line an item) only in the institution's home chunk: made in every chunk,
        # they would overprice more of a large region's lines than the share says
        home = ctx.home_chunk(inst)
        least = 20 if home else 0
        budget = min(
            MOST_PER_INSTITUTION, overall - len(changes), max(least, round(volume * float(habit.uniform(*SHARE))))
        )
        rare.sort(key=lambda code: ctx.rank(inst, code))
        for code in rare[: int(habit.integers(1, 5))]:
            if budget <= 0:
                break
            item = ctx.of_entity(inst, code)
            cap = int(ctx.prices.cap(code, lv) or 0)
            higher = ctx.prices.cap(code, "3") if lv != "3" else None
            if higher is not None and higher > cap and item.random() < 0.4:
                variant, price = "higher_level", int(higher)
            else:
                factor = float(item.uniform(0.05, 0.5))
                variant, price = "above_cap", max(cap + _FEN, (round(cap * (1 + factor)) // _FEN) * _FEN)
            share = min(float(item.uniform(0.3, 1.0)), budget / counts[code])
            budget -= round(share * counts[code])
            lines = fee.filter((pl.col("fixmedins_code") == inst) & (pl.col("med_list_codg") == code)).sort(
                "feedetl_sn"
            )
            picked = [r for r in lines.iter_rows(named=True) if rng.random() < share]
            if not picked and home:
                picked = [lines.row(0, named=True)]
            if not picked:
                continue
            case = lab.case(f"{inst}-{code}")
            params = {"variant": variant, "cap": cap, "pric": price, "factor": price / cap, "share": share}
            for r in picked:
                changes.append(
                    {
                        "feedetl_sn": r["feedetl_sn"],
                        "pric": price,
                        "det_item_fee_sumamt": fee_amount(price, r["cnt"]),
                    }
                )
                lab.add(case, "1", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"],
                        fixmedins_code=inst, doctor=r["bilg_dr_codg"])  # fmt: skip
    out = dict(tables)
    if changes:
        out = defer(ctx, out, "fee_list_d", changes, "feedetl_sn")
    return out, lab.frame()
