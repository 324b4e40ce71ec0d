"""item_swap (串换项目): a cheap service done, a dearer one billed — one the institution cannot provide.

supervision.md §5: "彩超 billed, dept has only B超". The price book says what a level provides: an item
without a price at a level is not offered there. A bad 一级 hospital or clinic bills the dear twin its
level has no price for instead of the cheap one it does (普通门诊诊察费 → 副主任/主任医师门诊诊察费 at a
clinic without such physicians, CT平扫 → CT增强, 常规心电图 → 动态心电图, 彩超 → 超声心动图): from a start day
(anywhere in the year) every line of the cheap item in a share (10–90%) of its encounters is billed as the
dear twin, at the price the dear twin has at the lowest level that offers it. Time, quantity and doctor
stay. (Swaps between two items a level does provide — B超 → 彩超 at a 三级 hospital — leave no trace in a
claim line: they are found by on-site checks, and by the institution-level share of R-SWAP-01.)

Before::

    F1  H23 (一级)  002103000010000 CT平扫      ¥90.00

After::

    F1  H23 (一级)  002103000020000 CT增强扫描  ¥170.00   (no 一级 price: not offered at 一级)

Labels: one row per swapped line (label 1); one case per (institution, pair); params: variant
"beyond_level", done, billed, level, share, start, price_ratio.

Hard negative (label 0): new equipment — an institution that starts, from a day, billing the dear twin
its level does price (B超 → 彩超 at a 一级 or 二级 hospital) for a share of the cheap item's encounters;
params kind "new_equipment".
"""

from __future__ import annotations

from datetime import timedelta
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
SHARE = (0.10, 0.90)
"""Share of the cheap item's encounters (from the start day on) billed as the dear twin."""

DEPUTY_VISIT = "001102000020000"  # 副主任医师门诊诊察费
PAIRS: tuple[tuple[str, str], ...] = (*k.SWAP_PAIRS, (k.OUT_VISIT, DEPUTY_VISIT), (k.COLOUR_DOPPLER, k.ECHO))
"""(item done, dearer item billed): the pair dictionary of :mod:`_knowledge` and two more."""


def beyond_level(ctx: Context, cheap: str, dear: str, lv: str) -> bool:
    """Whether ``dear`` is not offered at level ``lv`` (priced elsewhere, not there) while ``cheap`` is."""
    a, b = ctx.item(cheap), ctx.item(dear)
    return (
        a is not None
        and b is not None
        and a.price_cap(lv) is not None
        and bool(b.pric_uplmt)
        and b.price_cap(lv) is None
    )


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    lv_of = levels(tables)
    mine: dict[tuple[str, str], list[str]] = {}  # (institution, cheap item) → dear twins beyond its level
    for inst in ctx.institutions:
        for a, b in PAIRS:
            if beyond_level(ctx, a, b, lv_of.get(inst, "1")):
                mine.setdefault((inst, a), []).append(b)
    cheap = sorted({a for _, a in mine})
    fee = (
        lines_at(tables, ctx, pl.col("med_list_codg").is_in(cheap)) if cheap else tables["fee_list_d"].head(0)
    )
    changes: list[dict[str, Any]] = []
    for (inst, done), lines in sorted(
        fee.partition_by("fixmedins_code", "med_list_codg", as_dict=True).items()
    ):
        inst, done = str(inst), str(done)
        if (inst, done) not in mine or rng.random() < 0.25:
            continue
        twins, lv = mine[(inst, done)], lv_of.get(inst, "1")
        dear = twins[int(rng.integers(len(twins)))]
        start = ctx.first_day + timedelta(days=int(rng.integers(0, 240)))
        share = float(rng.uniform(*SHARE))
        later = lines.filter(pl.col("fee_ocur_time") >= start)
        picked = _share_of_encounters(rng, ctx, later, share)
        if picked.height == 0:
            continue
        item = ctx.item(dear)
        assert item is not None
        price = ctx.prices.price(dear, min(item.pric_uplmt))
        params = {"variant": "beyond_level", "done": done, "billed": dear, "level": lv, "share": share,
                  "start": start.date().isoformat(), "price_ratio": price / max(1, ctx.prices.price(done, lv))}  # fmt: skip
        case = lab.case()
        for r in picked.iter_rows(named=True):
            changes.append(_billed_as(r, dear, price, item.med_chrgitm_type))
            lab.add(case, "1", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"],
                    fixmedins_code=inst, doctor=r["bilg_dr_codg"])  # fmt: skip
    changes += _new_equipment(rng, tables, ctx, lab, lv_of, {c["feedetl_sn"] for c in changes})
    out = dict(tables)
    if changes:
        out = defer(ctx, out, "fee_list_d", changes, "feedetl_sn")
    return out, lab.frame()


def _share_of_encounters(
    rng: np.random.Generator, ctx: Context, lines: pl.DataFrame, share: float
) -> pl.DataFrame:
    """Every line of ``share`` of the encounters these lines belong to (capped as every pattern is)."""
    stays = lines.get_column("mdtrt_id").unique().sort().to_list()
    n = ctx.cases(len(stays), share, weight=0.1, most=MOST_PER_INSTITUTION)
    chosen = {stays[int(i)] for i in rng.choice(len(stays), size=n, replace=False)} if n else set()
    return lines.filter(pl.col("mdtrt_id").is_in(list(chosen))).sort("feedetl_sn")


def _billed_as(r: dict[str, Any], code: str, price: int, chrgitm_type: str) -> dict[str, Any]:
    return {"feedetl_sn": r["feedetl_sn"], "med_list_codg": code, "pric": price,
            "det_item_fee_sumamt": fee_amount(price, r["cnt"]), "med_chrgitm_type": chrgitm_type}  # fmt: skip


def _new_equipment(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    lab: Labels,
    lv_of: dict[str, str],
    changed: set[str],
) -> list[dict[str, Any]]:
    """Hard negative: one 一级/二级 hospital that really starts doing 彩超 where it did B超."""
    cheap, dear = k.B_ULTRASOUND, k.COLOUR_DOPPLER
    item = ctx.item(dear)
    if item is None or ctx.item(cheap) is None:
        return []
    fee = tables["fee_list_d"].filter(pl.col("med_list_codg") == cheap)
    if ctx.taken:
        fee = fee.filter(~pl.col("mdtrt_id").is_in(list(ctx.taken)))
    if ctx.taken_lines or changed:
        fee = fee.filter(~pl.col("feedetl_sn").is_in(list(ctx.taken_lines | changed)))
    places = sorted(
        c for c in fee.get_column("fixmedins_code").unique().to_list()
        if lv_of.get(c, "1") in ("1", "2") and item.price_cap(lv_of.get(c, "1")) is not None
    )  # fmt: skip
    if not places:
        return []
    inst = places[int(rng.integers(len(places)))]
    lv = lv_of.get(inst, "1")
    start = ctx.first_day + timedelta(days=int(rng.integers(30, 300)))
    share = float(rng.uniform(0.3, 0.8))
    picked = _share_of_encounters(
        rng, ctx, fee.filter((pl.col("fixmedins_code") == inst) & (pl.col("fee_ocur_time") >= start)), share
    )
    price = ctx.prices.price(dear, lv)
    case = lab.case()
    params = {
        "kind": "new_equipment",
        "done": dear,
        "instead_of": cheap,
        "start": start.date().isoformat(),
        "share": share,
    }
    out = []
    for r in picked.iter_rows(named=True):
        out.append(_billed_as(r, dear, price, item.med_chrgitm_type))
        lab.add(case, "0", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"],
                fixmedins_code=inst, doctor=r["bilg_dr_codg"])  # fmt: skip
    return out
