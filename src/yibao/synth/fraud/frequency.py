"""frequency (超限定频次 / 数量): an item billed more times than its 计价单位 allows.

Price-book items carry limits per day, per visit or per day of a stay (limits.csv of the knowledge base
says the same): one 挂号费 per visit, one 一般诊疗费 a day, CT at most 3 部位 and MRI 2 部位 a day, 高压氧 once,
运动疗法 and 针刺 twice a day; a stay's bed, nursing and 住院诊察费 days at most its nights + 1. At a bad
hospital or clinic a share (2–15%) of the encounters billing such an item bill it again:

* ``visit`` — an outpatient visit gets one more line of the item 35–150 minutes later the same day,
  taking the day's count 1–3 units past the limit;
* ``stay`` — a stay gets one more line of its bed, nursing or 住院诊察费 on the discharge day, taking its
  days 1–5 past nights + 1.

Before (a 5-night stay)::

    F1  M1  普通病房床位费(三人间)  05-10 10:00  × 5

After::

    F1          M1  普通病房床位费(三人间)  05-10 10:00  × 5
    F3FQ000001  M1  普通病房床位费(三人间)  05-15 08:30  × 3     (8 bed-days in 5 nights)

Labels: one row per added line (label 1); params: variant, item, limit, per, billed (units billed in
the window), excess.

Hard negatives (label 0): billing exactly at the limit — a visit with 3 CT 部位 (or 2 MRI, 2 运动疗法 …),
a stay billing both its admission and its discharge day (nights + 1); params kind "at_limit".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import UNIT, Context, Labels, Rows, Tables, encounters, lines_at

PATTERN = "frequency"
CODE = "FQ"
SETTINGS = ("ward", "clinic")
KIND = "add"
AVOID = ("duplicate_charge", "unbundling")  # they add lines of the same items
SHARE = (0.02, 0.15)

GENERAL_FEE = "001102000100000"  # 一般诊疗费
REGISTRATION = "001101000010000"  # 挂号费
HYPERBARIC = "003111000010000"  # 高压氧舱治疗
VISIT_LIMITS: dict[str, tuple[int, str]] = {
    REGISTRATION: (1, "encounter"),
    GENERAL_FEE: (1, "day"),
    k.CT: (3, "day"),
    k.MRI: (2, "day"),
    HYPERBARIC: (1, "day"),
    k.REHAB_EXERCISE: (2, "day"),
    k.ACUPUNCTURE: (2, "day"),
}
"""Outpatient items: (most units, per visit-day or per visit)."""
STAY_ITEMS = (k.BED, "001109000010200", "001109000010300", k.NURSE_1, k.NURSE_2, k.NURSE_3, k.WARD_ROUND)
"""Inpatient items billed per day of the stay: at most nights + 1 days."""


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    items = [c for c in (*VISIT_LIMITS, *STAY_ITEMS) if ctx.has(c)]
    fee = lines_at(tables, ctx, pl.col("med_list_codg").is_in(items))
    if fee.height == 0:
        return tables, lab.frame()
    theirs = pl.col("mdtrt_id").is_in(fee.get_column("mdtrt_id").unique().implode())
    enc = encounters(tables, ctx, theirs).select("mdtrt_id", "kind", "begntime", "endtime", "los")
    used = (
        fee.join(enc, on="mdtrt_id")
        .with_columns(pl.col("fee_ocur_time").dt.date().alias("day"))
        .with_columns(
            pl.col("cnt").sum().over("mdtrt_id", "med_list_codg").alias("in_encounter"),
            pl.col("cnt").sum().over("mdtrt_id", "med_list_codg", "day").alias("in_day"),
        )
        .filter(
            (
                pl.col("kind").is_in(["outpatient", "chronic"])
                & pl.col("med_list_codg").is_in(list(VISIT_LIMITS))
            )
            | ((pl.col("kind") == "inpatient") & pl.col("med_list_codg").is_in(list(STAY_ITEMS)))
        )
        .sort("fee_ocur_time", "feedetl_sn")
        .unique(["mdtrt_id", "med_list_codg"], keep="last", maintain_order=True)
        .sort("feedetl_sn")
    )
    n = ctx.cases(used.height, float(rng.uniform(*SHARE)), weight=0.1)
    order = rng.permutation(used.height).tolist()
    fraud, negatives = order[:n], order[n : n + max(1, n // 3)]
    for i in fraud:
        _bill_again(rng, ctx, rows, lab, used.row(int(i), named=True), "1")
    for i in negatives:
        _bill_again(rng, ctx, rows, lab, used.row(int(i), named=True), "0")
    return rows.added(tables), lab.frame()


def _bill_again(
    rng: np.random.Generator, ctx: Context, rows: Rows, lab: Labels, r: dict[str, Any], label: str
) -> None:
    """One more line of ``r``'s item: past the limit (label 1), or exactly up to it (label 0)."""
    code = r["med_list_codg"]
    if r["kind"] == "inpatient":
        limit, per = 1, "stay"
        allowed, billed = (r["los"] + 1) * UNIT, int(r["in_encounter"])
        over = int(rng.integers(1, 6)) * UNIT if label == "1" else 0
        when = r["endtime"] - timedelta(minutes=int(rng.integers(30, 180)))
        if when < r["fee_ocur_time"]:
            return
    else:
        limit, per = VISIT_LIMITS[code]
        allowed = limit * UNIT
        billed = int(r["in_encounter"] if per == "encounter" else r["in_day"])
        over = int(rng.integers(1, 4)) * UNIT if label == "1" else 0
        when = r["fee_ocur_time"] + timedelta(minutes=int(rng.integers(35, 151)))
        if when.date() != r["fee_ocur_time"].date():
            return
    extra = allowed + over - billed
    if billed > allowed or extra <= 0:
        return
    sn, _ = rows.copy_line(r, fee_ocur_time=when, cnt=extra)
    params = {"variant": "stay" if per == "stay" else "visit", "item": code, "limit": limit, "per": per,
              "billed": (billed + extra) // UNIT, "excess": over // UNIT}  # fmt: skip
    if label == "0":
        params = {"kind": "at_limit", **params}
    lab.add(lab.case(), label, params, mdtrt_id=r["mdtrt_id"], feedetl_sn=sn, psn_no=r["psn_no"],
            fixmedins_code=r["fixmedins_code"], doctor=r["bilg_dr_codg"])  # fmt: skip
