"""duplicate_charge (重复收费): the same item billed twice at one time, or a component billed next to the
package that includes it.

At a bad hospital or clinic:

* ``same_item_twice`` — in 1–5% of the encounters, an examination, test or treatment line is billed a
  second time with the same
  time stamp (a new line, same item, same price, same quantity);
* ``component`` — next to a package item (支架置入术, 全身麻醉, ICU床位, I级护理, 静脉输液) the component it
  already includes (冠脉造影, 局部浸润麻醉, 普通床位, II级护理, 静脉注射) is billed at the same time.

Before::

    F1  血细胞分析  09:31   ¥20.00

After (same_item_twice)::

    F1          血细胞分析  09:31  ¥20.00
    F3DC000001  血细胞分析  09:31  ¥20.00

Labels: one row per added line (label 1); params: variant, duplicate_of (the original line) or package.

Hard negatives (label 0): a bilateral operation — both knees replaced in one session (the same
procedure, prosthesis and operation record twice), and a repeat test — the same laboratory test again
6–10 hours later on the same day.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    INPATIENT,
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    at_time,
    build_stay,
    candidates,
    encounters,
    levels,
    lines_at,
    lines_with,
    wards,
)
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "duplicate_charge"
CODE = "DC"
SETTINGS = ("ward", "clinic")
KIND = "add"
SHARE = (0.01, 0.05)
"""Share of a bad institution's encounters (with a service line) that get a duplicate."""


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    used: set[str] = set()
    n = _fraud(rng, tables, ctx, rows, lab, used) if ctx.institutions else 0
    m = max(1, round(max(n, 1) * rng.uniform(0.3, 0.8)))
    _bilateral(rng, tables, ctx, rows, lab, min(max(1, m // 2), ctx.cap("inpatient", 0.1)))
    _repeat_tests(rng, tables, ctx, rows, lab, m, used)
    return rows.added(tables), lab.frame()


def _fraud(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, used: set[str]
) -> int:
    pairs = [(a, b) for a, b in k.DUPLICATE_PAIRS if ctx.has(a, b)]
    fee = lines_at(
        tables, ctx,
        pl.col("med_chrgitm_type").is_in(["03", "04", "05"]) | pl.col("med_list_codg").is_in([a for a, _ in pairs]),
    )  # fmt: skip
    if fee.height == 0:
        return 0
    share = float(rng.uniform(*SHARE))
    lv_of = levels(tables)
    services = fee.filter(pl.col("med_chrgitm_type").is_in(["03", "04", "05"])).sort("feedetl_sn")
    with_services = services.get_column("mdtrt_id").unique().sort()
    n_twice = ctx.cases(with_services.len(), share, weight=0.3)
    picked = set(with_services.sample(n_twice, seed=int(rng.integers(2**31))).to_list()) if n_twice else set()
    one_each = services.filter(pl.col("mdtrt_id").is_in(list(picked))).sample(
        fraction=1.0, shuffle=True, seed=int(rng.integers(2**31))
    )
    done = 0
    for r in (
        one_each.unique("mdtrt_id", keep="first", maintain_order=True)
        .sort("feedetl_sn")
        .iter_rows(named=True)
    ):
        sn, _ = rows.copy_line(r)
        case = lab.case()
        lab.add(case, "1", {"variant": "same_item_twice", "duplicate_of": r["feedetl_sn"]}, mdtrt_id=r["mdtrt_id"],
                feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], doctor=r["bilg_dr_codg"])  # fmt: skip
        used.add(r["mdtrt_id"])
        done += 1
    packages = (
        fee.filter(
            pl.col("med_list_codg").is_in([a for a, _ in pairs]) & ~pl.col("mdtrt_id").is_in(list(used))
        )
        .sort("feedetl_sn")
        .unique("mdtrt_id", keep="first", maintain_order=True)
    )
    component_of = dict(pairs)
    n_comp = ctx.cases(packages.height, min(1.0, share * 3), weight=0.2)
    for r in (
        packages[[int(i) for i in rng.choice(packages.height, size=n_comp, replace=False)]].iter_rows(
            named=True
        )
        if n_comp
        else ()
    ):
        comp = component_of[r["med_list_codg"]]
        sn, _ = rows.line(
            mdtrt_id=r["mdtrt_id"], psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], med_list_codg=comp,
            when=r["fee_ocur_time"], cnt=UNIT, pric=ctx.prices.price(comp, lv_of.get(r["fixmedins_code"], "1")),
            doctor=r["bilg_dr_codg"], dept=r["bilg_dept_codg"],
        )  # fmt: skip
        case = lab.case()
        lab.add(case, "1", {"variant": "component", "package": r["med_list_codg"], "package_line": r["feedetl_sn"], "component": comp},
                mdtrt_id=r["mdtrt_id"], feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                doctor=r["bilg_dr_codg"])  # fmt: skip
        used.add(r["mdtrt_id"])
        done += 1
    return done


def _bilateral(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int
) -> None:
    hospitals = wards(tables, min_lv="2")
    if not hospitals or not ctx.has(k.KNEE_REPLACEMENT, k.KNEE_PROSTHESIS):
        return
    staff = ctx.staffing
    people = candidates(rng, tables, ctx, 4 * n, min_age=55, max_age=85)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        nights = int(rng.integers(7, 12))
        a = date(ctx.year, 1, 5) + timedelta(days=int(rng.integers(0, 330)))
        b = a + timedelta(days=nights)
        if (p["death_date"] is not None and p["death_date"] <= b) or not cal.free(
            p["psn_no"], a - timedelta(days=1), b + timedelta(days=1)
        ):
            continue
        inst, lv = usual_place(rng, tables, ctx, hospitals)
        doctor, dept = staff.doctor(rng, inst, ("04",))
        built = build_stay(
            rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv,
            begin=at_time(a, int(rng.integers(8, 12)), int(rng.integers(60))), days=nights, dx=[k.dx("M17.000")],
            doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND),
            first_day=(k.CBC, k.URINE, k.ALT, k.CREATININE, k.ECG, k.DR_CHEST), drugs=(k.CEFUROXIME, k.SALINE),
            extra=((k.GENERAL_ANAESTHESIA, 1, UNIT), (k.KNEE_REPLACEMENT, 1, UNIT), (k.KNEE_REPLACEMENT, 1, UNIT),
                   (k.KNEE_PROSTHESIS, 1, UNIT), (k.KNEE_PROSTHESIS, 1, UNIT), (k.BONE_CEMENT, 1, 2 * UNIT)),
            oprn=(("81.5400", k.OPRN["81.5400"] + "(左)", 1), ("81.5400", k.OPRN["81.5400"] + "(右)", 1)),
            bed=f"{dept}-{int(rng.integers(1, 40)):02d}",
        )  # fmt: skip
        cal.book(p["psn_no"], a, b)
        case = lab.case()
        knee = [sn for sn in built.lines if built.item_of[sn] == k.KNEE_REPLACEMENT]
        for sn in knee:
            lab.add(case, "0", {"kind": "bilateral_procedure", "procedure": k.KNEE_REPLACEMENT}, mdtrt_id=built.mdtrt_id,
                    feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst, doctor=doctor)  # fmt: skip
        done += 1


def _repeat_tests(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int, used: set[str]
) -> None:
    enc = encounters(tables, ctx, (pl.col("kind") == INPATIENT) & ~pl.col("mdtrt_id").is_in(list(used)))
    morning_test = pl.col("med_list_codg").is_in([k.CBC, k.GLUCOSE, k.CRP, k.CREATININE]) & (
        pl.col("fee_ocur_time").dt.hour() < 14
    )
    fee = lines_with(tables, ctx, enc.get_column("mdtrt_id"), morning_test).sort("feedetl_sn")
    ends = dict(enc.select("mdtrt_id", "endtime").iter_rows())
    m = min(n, fee.height)
    for r in (
        fee[[int(i) for i in rng.choice(fee.height, size=m, replace=False)]].iter_rows(named=True)
        if m
        else ()
    ):
        later = r["fee_ocur_time"] + timedelta(hours=int(rng.integers(6, 11)))
        if later.date() != r["fee_ocur_time"].date() or later > ends[r["mdtrt_id"]]:
            continue
        sn, _ = rows.copy_line(r, fee_ocur_time=later)
        case = lab.case()
        lab.add(case, "0", {"kind": "repeat_test", "first_line": r["feedetl_sn"], "hours_later": (later - r["fee_ocur_time"]).seconds // 3600},
                mdtrt_id=r["mdtrt_id"], feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                doctor=r["bilg_dr_codg"])  # fmt: skip
