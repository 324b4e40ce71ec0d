"""overlap_stay (同时多院住院): one person in two hospitals at once.

A person with a stay at hospital A is also "admitted" to a bad hospital B while still in A: a new
stay at B that begins during the stay at A (``inside`` when it also ends before A's discharge,
``partial`` when it runs past it), with A's principal diagnosis, daily bed, nursing and ward rounds,
admission tests and a drug.

Before::

    M1  P7  H-A  04-03 → 04-12  I63.900 脑梗死

After::

    M1          P7  H-A  04-03 → 04-12
    M3OS000001  P7  H-B  04-06 → 04-10  I63.900   (overlaps 4 days)

Labels: two rows per case (label 1): the phantom stay at B (role "phantom") and the real stay it
overlaps (role "real"); params: role, overlap_days, variant.

Hard negative (label 0): a transfer (转院) — A's stay ends with 离院方式 2 医嘱转院 and the stay at B
begins 1–5 hours later: touching, not overlapping. Both stays are labelled (roles "from" / "to"); the
receiving hospital is drawn in proportion to its admissions (most are big hospitals).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    INPATIENT,
    Context,
    Labels,
    Rows,
    Tables,
    at_time,
    build_stay,
    encounters,
    update,
    wards,
)
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "overlap_stay"
CODE = "OS"
SETTINGS = ("ward",)
KIND = "structure"
PERSONS = 0.2


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    staff = ctx.staffing
    stays = (
        encounters(
            tables,
            ctx,
            (pl.col("kind") == INPATIENT)
            & (pl.col("los") >= 2)
            & ~pl.col("psn_no").is_in(list(ctx.taken_persons))
            & (pl.col("endtime").dt.date() < date(ctx.year, 12, 20)),
        )
        .unique(subset="psn_no", keep="first", maintain_order=True)
        .sort("mdtrt_id")
    )
    if stays.height == 0:
        return tables, lab.frame()
    n_fraud = min(stays.height // 2, ctx.persons) if ctx.institutions else 0
    n_neg = max(1, round(max(n_fraud, 1) * rng.uniform(0.3, 0.8)))
    order = [int(i) for i in rng.permutation(stays.height)]
    picked = stays[order[: n_fraud + 3 * n_neg]]
    psns = picked.get_column("psn_no").to_list()
    ids = set(picked.get_column("mdtrt_id").to_list())
    cal = ctx.calendar(tables, psns, ignore=ids)
    dx_main = {
        m: (c, nm)
        for m, c, nm in picked.select("mdtrt_id", "dscg_maindiag_code", "dscg_maindiag_name").iter_rows()
    }
    bad = wards(tables, among=ctx.institutions)
    every = wards(tables)
    changes: list[dict[str, Any]] = []
    fraud_done = neg_done = 0
    for stay in picked.iter_rows(named=True):
        fraud = fraud_done < n_fraud
        if not fraud and neg_done >= n_neg:
            break
        pool = [w for w in (bad if fraud else every) if w[0] != stay["fixmedins_code"]]
        if not pool:
            pool = [w for w in every if w[0] != stay["fixmedins_code"]]
        if not pool:
            continue
        inst, lv = pool[int(rng.integers(len(pool)))] if fraud else usual_place(rng, tables, ctx, pool)
        a0: datetime = stay["begntime"]
        a1: datetime = stay["endtime"]
        doctor, dept = staff.doctor(rng, inst, ("03",))
        code, name = dx_main[stay["mdtrt_id"]]
        dx = [(code, name)] if code else [k.dx("I67.800x003")]
        case = lab.case()
        if fraud:
            los = int(stay["los"])
            start = int(rng.integers(0, max(1, los - 1)))
            variant = "inside" if rng.random() < 0.6 else "partial"
            nights = (
                max(1, los - start - 1)
                if variant == "inside"
                else int(rng.integers(max(2, los - start + 1), los - start + 5))
            )
            nights = min(nights, 10)
            b0 = at_time(a0.date() + timedelta(days=start), int(rng.integers(8, 18)), int(rng.integers(60)))
            b_end = b0.date() + timedelta(days=nights)
            if b_end.year != ctx.year or not cal.free(stay["psn_no"], b0.date(), b_end):
                variant = "inside"
                nights = max(1, (a1.date() - b0.date()).days - 1)
                b_end = b0.date() + timedelta(days=nights)
                if b_end > a1.date() or not cal.free(stay["psn_no"], b0.date(), b_end):
                    continue
            built = build_stay(
                rows, psn_no=stay["psn_no"], insutype=stay["insutype"], inst=inst, lv=lv, begin=b0, days=nights, dx=dx,
                doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND), first_day=(k.CBC, k.URINE, k.ALT),
                drugs=(k.SALINE,), bed=f"{dept}-{int(rng.integers(1, 60)):02d}",
            )  # fmt: skip
            end_b = b0 + timedelta(days=nights)
            overlap = (min(a1, end_b).date() - b0.date()).days
            params = {"variant": variant, "overlap_days": overlap}
            lab.add(case, "1", {**params, "role": "phantom"}, mdtrt_id=built.mdtrt_id, psn_no=stay["psn_no"],
                    fixmedins_code=inst, doctor=doctor)  # fmt: skip
            lab.add(case, "1", {**params, "role": "real"}, mdtrt_id=stay["mdtrt_id"], psn_no=stay["psn_no"],
                    fixmedins_code=stay["fixmedins_code"], doctor=stay["atddr_no"])  # fmt: skip
            cal.book(stay["psn_no"], b0.date(), b_end)
            fraud_done += 1
        else:
            nights = int(rng.integers(3, 9))
            b0 = a1 + timedelta(hours=int(rng.integers(1, 6)), minutes=int(rng.integers(60)))
            b_end = b0.date() + timedelta(days=nights)
            if b_end.year != ctx.year or not cal.free(stay["psn_no"], a1.date() + timedelta(days=1), b_end):
                continue
            built = build_stay(
                rows, psn_no=stay["psn_no"], insutype=stay["insutype"], inst=inst, lv=lv, begin=b0, days=nights, dx=dx,
                doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND), first_day=(k.CBC, k.CREATININE),
                drugs=(k.SALINE,), bed=f"{dept}-{int(rng.integers(1, 60)):02d}",
            )  # fmt: skip
            changes.append({"mdtrt_id": stay["mdtrt_id"], "dscg_way": "2"})
            params = {"kind": "transfer", "hours_between": round((b0 - a1).total_seconds() / 3600, 2)}
            lab.add(case, "0", {**params, "role": "from"}, mdtrt_id=stay["mdtrt_id"], psn_no=stay["psn_no"],
                    fixmedins_code=stay["fixmedins_code"], doctor=stay["atddr_no"])  # fmt: skip
            lab.add(case, "0", {**params, "role": "to"}, mdtrt_id=built.mdtrt_id, psn_no=stay["psn_no"],
                    fixmedins_code=inst, doctor=doctor)  # fmt: skip
            cal.book(stay["psn_no"], b0.date(), b_end)
            neg_done += 1
    out = rows.added(tables)
    if changes:
        out["mdtrt_d"] = update(out["mdtrt_d"], changes, "mdtrt_id")
    return out, lab.frame()
