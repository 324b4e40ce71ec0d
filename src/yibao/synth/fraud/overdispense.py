"""overdispense (超量开药 / 提前开药): more days of medication than allowed, or a refill long before the
last supply runs out.

At a bad clinic, hospital or pharmacy:

* ``over_limit`` — a drug line whose catalogue item allows at most N days per prescription (限30天…) gets
  2–3 × N days; its quantity grows in proportion (and new trace codes for the extra packages);
* ``early_refill`` — for a line with at least 14 days supplied, the same drug is dispensed again to the
  same person at the same place after only 20–60% of those days (a new encounter with the line and,
  outside pharmacies, the visit fee).

Before::

    F1  盐酸二甲双胍片  cnt 2  prd_days 30   (catalogue: 限30天)

After (over_limit × 3)::

    F1  盐酸二甲双胍片  cnt 6  prd_days 90   + 4 new trace codes

Labels: one row per changed or added line (label 1); params: variant, limit_days, prd_days, factor,
or days_into_supply.

Hard negative (label 0): a 长处方 for a stable chronic disease — 8–12 weeks of a chronic drug without a
days limit, with the diagnosis that justifies it (高血压, 2 型糖尿病, 高脂血症, 冠心病), for a person not
yet on that drug.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    at_time,
    build_visit,
    candidates,
    defer,
    encounters,
    fee_amount,
    lines_at,
    lines_with,
    packages,
    wards,
)

PATTERN = "overdispense"
CODE = "OD"
SETTINGS = ("clinic", "pharmacy", "ward")
KIND = "modify"
SHARE = (0.05, 0.25)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    n = 0
    if ctx.institutions:
        tables, n = _fraud(rng, tables, ctx, rows, lab)
    _long_prescriptions(rng, tables, ctx, rows, lab, max(1, round(max(n, 1) * rng.uniform(0.3, 0.8))))
    return rows.added(tables), lab.frame()


def _fraud(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels
) -> tuple[Tables, int]:
    fee = lines_at(tables, ctx, (pl.col("rxno") != "") & (pl.col("prd_days") > 0))
    if ctx.taken_persons and fee.height:
        fee = fee.filter(~pl.col("psn_no").is_in(list(ctx.taken_persons)))
    enc = encounters(
        tables,
        ctx,
        pl.col("fixmedins_code").is_in(list(ctx.institutions))
        & pl.col("kind").is_in(["outpatient", "chronic", "pharmacy"]),
    )
    fee = fee.join(enc.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left")
    if fee.height == 0:
        return tables, 0
    limits = {
        c: it.restriction.max_days_supply
        for c in fee.get_column("med_list_codg").unique().to_list()
        if (it := ctx.item(c)) is not None and it.restriction.max_days_supply is not None
    }
    limited = fee.filter(
        pl.col("med_list_codg").is_in(list(limits))
        & (pl.col("prd_days") <= pl.col("med_list_codg").replace_strict(limits, default=0))
    )
    longish = fee.filter(
        (pl.col("prd_days") >= 14) & (pl.col("fee_ocur_time").dt.date() < date(ctx.year, 12, 1))
    )
    share = float(rng.uniform(*SHARE))
    n_over = ctx.cases(limited.height, share, weight=0.3)
    n_early = ctx.cases(longish.height, share / 2, weight=0.2)
    fee_changes: list[dict[str, Any]] = []
    used: set[str] = set()
    for r in (
        limited[[int(i) for i in rng.choice(limited.height, size=n_over, replace=False)]].iter_rows(
            named=True
        )
        if n_over
        else ()
    ):
        limit = int(limits[r["med_list_codg"]])
        factor = int(rng.integers(2, 4))
        days = limit * factor
        cnt = max(r["cnt"], r["cnt"] * days // max(r["prd_days"], 1))
        fee_changes.append({"feedetl_sn": r["feedetl_sn"], "cnt": cnt, "prd_days": days,
                            "det_item_fee_sumamt": fee_amount(r["pric"], cnt)})  # fmt: skip
        for _ in range(packages(cnt) - packages(r["cnt"])):
            rows.trace(rows.trace_code(r["med_list_codg"]), r["feedetl_sn"], r["mdtrt_id"], r["med_list_codg"],
                       r["fixmedins_code"], r["fee_ocur_time"])  # fmt: skip
        used.add(r["mdtrt_id"])
        case = lab.case()
        lab.add(case, "1", {"variant": "over_limit", "limit_days": limit, "prd_days": days, "factor": factor},
                mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                doctor=r["bilg_dr_codg"])  # fmt: skip
    longish = longish.filter(~pl.col("mdtrt_id").is_in(list(used)))
    n_early = min(n_early, longish.height)
    if n_early:
        picked = longish[[int(i) for i in rng.choice(longish.height, size=n_early, replace=False)]]
        cal = ctx.calendar(tables, picked.get_column("psn_no").unique().to_list())
        kinds = dict(enc.select("mdtrt_id", "kind").iter_rows())
        src = enc.filter(pl.col("mdtrt_id").is_in(picked.get_column("mdtrt_id").to_list()))
        src_by = {
            m: r for m, r in zip(src.get_column("mdtrt_id").to_list(), src.iter_rows(named=True), strict=True)
        }
        visit_fee = lines_with(tables, ctx, picked.get_column("mdtrt_id"), pl.col("med_chrgitm_type") == "02")
        visit_by = {
            m: r
            for m, r in zip(
                visit_fee.get_column("mdtrt_id").to_list(), visit_fee.iter_rows(named=True), strict=True
            )
        }
        for r in picked.iter_rows(named=True):
            f = float(rng.uniform(0.2, 0.6))
            after = max(1, int(r["prd_days"] * f))
            when = r["fee_ocur_time"] + timedelta(days=after)
            if when.year != ctx.year or not cal.free(r["psn_no"], when.date(), when.date()):
                continue
            e = src_by[r["mdtrt_id"]]
            shift = when - r["fee_ocur_time"]
            mid = rows.copy_encounter(e, begntime=e["begntime"] + shift, endtime=e["endtime"] + shift)
            if e["dscg_maindiag_code"]:
                rows.diag(mid, e["dscg_maindiag_code"], e["dscg_maindiag_name"], main=True)
            sn, _ = rows.copy_line(r, mdtrt_id=mid, fee_ocur_time=when)
            if kinds.get(r["mdtrt_id"]) != "pharmacy" and r["mdtrt_id"] in visit_by:
                v = visit_by[r["mdtrt_id"]]
                rows.copy_line(v, mdtrt_id=mid, fee_ocur_time=v["fee_ocur_time"] + shift)
            cal.book(r["psn_no"], when.date(), when.date())
            case = lab.case()
            params = {
                "variant": "early_refill",
                "prd_days": int(r["prd_days"]),
                "days_into_supply": after,
                "previous": r["feedetl_sn"],
            }
            lab.add(case, "1", params, mdtrt_id=mid, feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                    doctor=r["bilg_dr_codg"])  # fmt: skip
    out = dict(tables)
    if fee_changes:
        out = defer(ctx, out, "fee_list_d", fee_changes, "feedetl_sn")
    return out, len(fee_changes) + n_early


def _long_prescriptions(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int
) -> None:
    places = wards(tables) + [(c, lv) for c, lv, _ in _clinics(tables)]
    drugs = [(c, d) for c, d in k.CHRONIC_DRUGS if ctx.has(c)]
    if not places or not drugs:
        return
    staff = ctx.staffing
    people = candidates(rng, tables, ctx, 3 * n, min_age=45)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    on_drug = _on_drug(tables, people, [c for c, _ in drugs])
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 355)))
        if (p["death_date"] is not None and p["death_date"] <= day) or not cal.free(p["psn_no"], day, day):
            continue
        inst, lv = places[int(rng.integers(len(places)))]
        code, dx0 = drugs[int(rng.integers(len(drugs)))]
        if (p["psn_no"], code) in on_drug:
            continue
        weeks = int(rng.integers(8, 13))
        doctor, dept = staff.doctor(rng, inst, ("03", "02"))
        built = build_visit(
            rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="14" if rng.random() < 0.6 else "11",
            when=at_time(day, int(rng.integers(8, 17)), int(rng.integers(60))), dx=[k.dx(dx0)],
            items=((k.OUT_VISIT, UNIT, 0), (code, UNIT * (weeks // 4 + 1), 7 * weeks)), doctor=doctor, dept=dept,
        )  # fmt: skip
        cal.book(p["psn_no"], day, day)
        drug_lines = [sn for sn in built.lines if built.line_codes.get(sn)]
        case = lab.case()
        for sn in drug_lines:
            lab.add(case, "0", {"kind": "long_prescription", "weeks": weeks, "diagnosis": dx0}, mdtrt_id=built.mdtrt_id,
                    feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst, doctor=doctor)  # fmt: skip
        done += 1


def _on_drug(tables: Tables, people: pl.DataFrame, codes: list[str]) -> set[tuple[str, str]]:
    """(person, drug) pairs of people already dispensed the drug: a 长处方 starts a new treatment, for
    one on the drug it would overlap the supply they have (an early refill, not a hard negative)."""
    fee = tables["fee_list_d"].filter(
        pl.col("med_list_codg").is_in(codes) & pl.col("psn_no").is_in(people.get_column("psn_no").implode())
    )
    return set(fee.select("psn_no", "med_list_codg").unique().iter_rows())


def _clinics(tables: Tables) -> list[tuple[str, str, str]]:
    from yibao.synth.fraud._base import institutions_of

    beds = dict(tables["fixmedins_b"].select("fixmedins_code", pl.col("bed_cnt").fill_null(0)).iter_rows())
    return [c for c in institutions_of(tables, "1") if beds.get(c[0], 0) <= 0]
