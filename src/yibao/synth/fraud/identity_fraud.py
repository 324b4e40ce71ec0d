"""identity_fraud (冒名就医): care billed on someone else's card.

Two disguises:

* ``borrowed_card`` — an encounter is moved onto another person's card (the encounter, its lines and
  their psn_no; the insutype becomes the card holder's). The holder is chosen so that the care
  contradicts them: care restricted to one sex (sex-specific items or diagnoses) on a card of the other
  sex, or a child's care (paediatric items or department) on an adult's card and an adult's on a child's.
* ``doctor_burst`` — a bad doctor writes the same dear prescription on 8–30 cards within minutes
  (a rep or a clinic using collected cards: "many 司美格鲁肽 prescriptions in one minute"); half the
  bad doctors, once a year each, in the doctor's home chunk (:meth:`~yibao.synth.fraud._base.Context.
  home_chunk`), so that the bursts per insured do not grow with the region.

Before::

    M1  P4 (女, 34)  H…  产科 …
    (P8, 男, 51: nothing that day)

After (borrowed_card)::

    M1  P8 (男, 51)  H…  产科 …     lines' psn_no = P8

Labels: one row per moved or burst encounter (label 1); psn_no is the card used; params: variant,
from_psn (borrowed_card), contradiction, or cards / minutes / drug (doctor_burst).
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
    chunked_as,
    encounters,
    levels,
    lines_at,
    persons,
    positions_with,
    update,
)

PATTERN = "identity_fraud"
CODE = "IF"
SETTINGS = ("ward", "clinic")
KIND = "structure"
PERSONS = 0.2
DOCTORS = True

_SEX_DX = {
    "2": ("O", "N7", "N8", "N90", "N91", "N92", "N93", "N94", "N95", "N96", "N97", "N98", "D25", "D26", "D27",
          "C51", "C52", "C53", "C54", "C55", "C56", "C57", "C58", "Z32", "Z33", "Z34", "Z35", "Z36", "Z37", "Z39"),
    "1": ("N40", "N41", "N42", "N43", "N44", "N45", "N46", "N47", "N48", "N49", "N50", "C60", "C61", "C62", "C63"),
}  # fmt: skip
"""ICD-10 prefixes of diagnoses only one sex can have (pregnancy, female / male genital organs)."""


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    tables = _borrowed(rng, tables, ctx, lab)
    _bursts(rng, tables, ctx, rows, lab)
    return rows.added(tables), lab.frame()


def _borrowed(rng: np.random.Generator, tables: Tables, ctx: Context, lab: Labels) -> Tables:
    n = ctx.persons
    if n <= 0 or not ctx.institutions:
        return tables
    who = persons(tables, ctx).select("psn_no", "gend", "age", "brdy", "insutype", "death_date")
    enc = encounters(
        tables,
        ctx,
        pl.col("fixmedins_code").is_in(list(ctx.institutions))
        & ~pl.col("psn_no").is_in(list(ctx.taken_persons)),
    ).join(who.select("psn_no", "gend", "age"), on="psn_no", how="inner", maintain_order="left")
    if enc.height == 0:
        return tables
    sex_items = {c: g for g, items in k.GENDER_ITEMS.items() for c in items}
    fee = lines_at(tables, ctx, pl.col("med_list_codg").is_in(list(sex_items)))
    marked_sex = fee.select(
        "mdtrt_id", pl.col("med_list_codg").replace_strict(sex_items, default="").alias("sex")
    ).unique("mdtrt_id", keep="first")
    diag = tables["setl_list_diag_d"].join(
        enc.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left"
    )
    sex_dx: pl.Expr = pl.lit("")
    for g, prefixes in _SEX_DX.items():
        cond = pl.any_horizontal([pl.col("diag_code").str.starts_with(p) for p in prefixes])
        sex_dx = pl.when(cond).then(pl.lit(g)).otherwise(sex_dx)
    dx_sex = (
        diag.select("mdtrt_id", sex_dx.alias("sex"))
        .filter(pl.col("sex") != "")
        .unique("mdtrt_id", keep="first")
    )
    sexed = pl.concat([marked_sex, dx_sex]).unique("mdtrt_id", keep="first")
    enc = enc.join(sexed, on="mdtrt_id", how="left", maintain_order="left").with_columns(
        pl.col("sex").fill_null("")
    )
    sex_cases = enc.filter(pl.col("sex") != "").sort("mdtrt_id")
    child_cases = enc.filter((pl.col("age") < 12) & (pl.col("sex") == "")).sort("mdtrt_id")
    adult_cases = enc.filter(
        (pl.col("age") >= 30) & (pl.col("sex") == "") & (pl.col("kind") != "inpatient")
    ).sort("mdtrt_id")
    pool: list[tuple[str, dict[str, Any]]] = []
    for kind, frame in (("gend", sex_cases), ("age_child", child_cases), ("age_adult", adult_cases)):
        take = frame[[int(i) for i in rng.permutation(frame.height)[: 2 * n]]] if frame.height else frame
        pool.extend((kind, r) for r in take.iter_rows(named=True))
    pool = [pool[int(i)] for i in rng.permutation(len(pool))] if pool else []
    # the gender contradictions first, they are what the pattern is known for
    pool.sort(key=lambda x: 0 if x[0] == "gend" else 1)
    holders = candidates(rng, tables, ctx, 8 * n + 50)
    cal = ctx.calendar(tables, holders.get_column("psn_no").to_list())
    buckets: dict[str, list[dict[str, Any]]] = {"adult_1": [], "adult_2": [], "over_30": [], "under_10": []}
    for h in holders.iter_rows(named=True):
        if h["age"] >= 18:
            buckets.setdefault(f"adult_{h['gend']}", []).append(h)
        if h["age"] >= 30:
            buckets["over_30"].append(h)
        if h["age"] < 10:
            buckets["under_10"].append(h)
    used: set[str] = set()
    mdtrt_changes: list[dict[str, Any]] = []
    moved: dict[str, str] = {}
    for kind, e in pool:
        if len(mdtrt_changes) >= n:
            break
        if e["psn_no"] in used:
            continue
        day_a, day_b = e["begntime"].date(), e["endtime"].date()
        if kind == "gend":
            bucket = "adult_1" if e["sex"] == "2" else "adult_2"
        elif kind == "age_child":
            bucket = "over_30"
        else:
            bucket = "under_10"
        holder = None
        for h in buckets[bucket]:
            if h["psn_no"] in used or (h["death_date"] is not None and h["death_date"] <= day_b):
                continue
            if cal.free(h["psn_no"], day_a, day_b):
                holder = h
                break
        if holder is None:
            continue
        used.update((holder["psn_no"], e["psn_no"]))
        cal.book(holder["psn_no"], day_a, day_b)
        mdtrt_changes.append(
            {"mdtrt_id": e["mdtrt_id"], "psn_no": holder["psn_no"], "insutype": holder["insutype"]}
        )
        moved[e["mdtrt_id"]] = holder["psn_no"]
        case = lab.case()
        contradiction = "gend" if kind == "gend" else "age"
        lab.add(
            case, "1",
            {"variant": "borrowed_card", "from_psn": e["psn_no"], "contradiction": contradiction,
             "care_sex": e["sex"] or None, "user_age": int(e["age"]), "holder_gend": holder["gend"],
             "holder_age": int(holder["age"])},
            mdtrt_id=e["mdtrt_id"], psn_no=holder["psn_no"], fixmedins_code=e["fixmedins_code"], doctor=e["atddr_no"],
        )  # fmt: skip
    if not mdtrt_changes:
        return tables
    out = dict(tables)
    out["mdtrt_d"] = update(tables["mdtrt_d"], mdtrt_changes, "mdtrt_id")
    fee_all = tables["fee_list_d"]  # the moved encounters' lines go with them to the holder's card
    sorted_by = ctx.where.sorted_fee("mdtrt_id") if ctx.where is not None else None
    at = positions_with(fee_all, "mdtrt_id", pl.Series(list(moved), dtype=pl.String), sorted_by)
    new_psn = fee_all.get_column("mdtrt_id").gather(at).replace_strict(moved, return_dtype=pl.String)
    psn = fee_all.get_column("psn_no")
    out["fee_list_d"] = fee_all.with_columns(chunked_as(psn.clone().scatter(at, new_psn), psn))
    return out


def _bursts(rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels) -> None:
    staff = tables.get("medstaff_b")
    if not ctx.doctors or staff is None:
        return
    where = (
        staff.filter(pl.col("staff_codg").is_in(list(ctx.doctors)))
        .select("staff_codg", "fixmedins_code", "dept_codg")
        .sort("staff_codg")
    )
    inst_lv = levels(tables)
    drug = k.SEMAGLUTIDE if ctx.has(k.SEMAGLUTIDE) else k.ATORVASTATIN
    for doctor, inst, dept in where.iter_rows():
        if not ctx.home_chunk(doctor) or rng.random() < 0.5:  # half the bad doctors, once a year
            continue
        cards = int(rng.integers(8, 31))
        day = date(ctx.year, 1, 10) + timedelta(days=int(rng.integers(0, 340)))
        people = candidates(rng, tables, ctx, 3 * cards, min_age=25, max_age=75, alive_until=day)
        cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
        free = [p for p in people.iter_rows(named=True) if cal.free(p["psn_no"], day, day)][:cards]
        if len(free) < 5:
            continue
        minutes = int(rng.integers(1, 11))
        start = at_time(day, int(rng.integers(9, 17)), int(rng.integers(60)))
        step = minutes * 60 / len(free)
        case = lab.case()
        params = {"variant": "doctor_burst", "cards": len(free), "minutes": minutes, "drug": drug}
        lv = inst_lv.get(inst, "1")
        for i, p in enumerate(free):
            when = start + timedelta(seconds=round(i * step))
            built = build_visit(
                rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="11", when=when,
                dx=[k.dx("E11.900")], items=((k.OUT_VISIT, UNIT, 0), (drug, 2 * UNIT, 28)), doctor=doctor, dept=dept,
                minutes=3,
            )  # fmt: skip
            cal.book(p["psn_no"], day, day)
            lab.add(
                case,
                "1",
                params,
                mdtrt_id=built.mdtrt_id,
                psn_no=p["psn_no"],
                fixmedins_code=inst,
                doctor=doctor,
            )
