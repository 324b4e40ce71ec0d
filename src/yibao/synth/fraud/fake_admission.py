"""fake_admission (虚假住院 / 体检住院): an employer's staff admitted together for a check-up billed as care.

A bad hospital (often a small one) admits a cohort of one employer's insured staff in the same week:
each stay has a vague principal diagnosis, 5–10 nights of bed, nursing and ward rounds, and the same
bundle of examinations and tests on the first day — little or no treatment (检查费占比 far above the
usual share).

Before: the employer's staff have no stay that week.

After::

    M3FA000001  P…101  H… 06-10 → 06-17  I67.800x003 脑血管供血不足  bed/nursing ×7 + 11 identical tests
    M3FA000002  P…117  H… 06-11 → 06-18  M54.502 腰痛                 bed/nursing ×7 + the same 11 tests
    …

Labels: one row per stay (label 1), one case per cohort; params: emp_no, cohort, week_start, nights,
bundle (the test codes).

Hard negative (label 0): a food-poisoning outbreak — one employer's staff admitted within two days
with A05.900 and real treatment (infusions, fluids, antidiarrhoeal), 2–4 nights.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    Calendar,
    Context,
    Labels,
    Rows,
    Staffing,
    Tables,
    at_time,
    build_stay,
    one,
    persons,
    wards,
)

PATTERN = "fake_admission"
CODE = "FA"
SETTINGS = ("ward",)
KIND = "structure"
PERSONS = 0.15


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    staff = ctx.staffing
    used: set[str] = set()
    hospitals = wards(tables, among=ctx.institutions)
    cohorts = 0
    if hospitals:
        cohorts = max(1, round(ctx.persons / 8))
        for _ in range(cohorts):
            _cohort(rng, tables, ctx, rows, lab, staff, one(rng, hospitals), used, fake=True)
    for _ in range(max(1, cohorts // 2)):
        all_wards = wards(tables)
        if all_wards:
            _cohort(rng, tables, ctx, rows, lab, staff, one(rng, all_wards), used, fake=False)
    return rows.added(tables), lab.frame()


def _cohort(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    hospital: tuple[str, str],
    used: set[str],
    *,
    fake: bool,
) -> None:
    inst, lv = hospital
    week = date(ctx.year, 1, 8) + timedelta(days=7 * int(rng.integers(0, 48)))
    week -= timedelta(days=week.weekday())
    nights_max = 10 if fake else 4
    staff_of = (
        persons(tables, ctx)
        .filter(
            (pl.col("emp_no").fill_null("") != "")
            & (pl.col("age").is_between(20, 65))
            & ~pl.col("psn_no").is_in(list(used))
            & (pl.col("death_date").is_null() | (pl.col("death_date") > week + timedelta(days=nights_max + 8)))
        )
        .select("psn_no", "emp_no", "insutype", "gend", "age")
    )
    least = 5 if fake else 4
    sizes = (
        staff_of.group_by("emp_no").len().filter(pl.col("len") >= least).sort(["len", "emp_no"], descending=[True, False])
    )
    if sizes.height == 0:
        return
    emp = str(sizes.item(int(rng.integers(min(5, sizes.height))), "emp_no"))
    pool = staff_of.filter(pl.col("emp_no") == emp).sort("psn_no")
    want = int(rng.integers(5, 16)) if fake else int(rng.integers(4, 11))
    pool = pool[[int(i) for i in rng.choice(pool.height, size=min(pool.height, 3 * want), replace=False)]]
    cal = Calendar(tables["mdtrt_d"], pool.get_column("psn_no").to_list())
    cohort = [
        r for r in pool.iter_rows(named=True)
        if cal.free(r["psn_no"], week - timedelta(days=1), week + timedelta(days=nights_max + 8))
    ][:want]  # fmt: skip
    if len(cohort) < least:
        return
    size = len(cohort)
    doctor, dept = staff.doctor(rng, inst, ("03",))
    case = lab.case()
    if fake:
        bundle = tuple(c for c in k.EXAM_BUNDLE if ctx.has(c))
        dxs = [k.VAGUE_ADMISSION_DX[int(i)] for i in rng.choice(len(k.VAGUE_ADMISSION_DX), size=2, replace=False)]
        nights = int(rng.integers(5, 11))
        params: dict[str, object] = {
            "emp_no": emp, "cohort": size, "week_start": week, "nights": nights, "bundle": list(bundle), "diagnoses": dxs,
        }  # fmt: skip
    else:
        bundle = (k.CBC, k.URINE, k.CREATININE)
        dxs = ["A05.900"]
        nights = int(rng.integers(2, 5))
        params = {"kind": "outbreak", "emp_no": emp, "cohort": size, "week_start": week, "nights": nights}
    for p in cohort:
        day = week + timedelta(days=int(rng.integers(0, 7 if fake else 2)))
        built = build_stay(
            rows, psn_no=str(p["psn_no"]), insutype=str(p["insutype"]), inst=inst, lv=lv,
            begin=at_time(day, int(rng.integers(8, 16)), int(rng.integers(60))), days=nights,
            dx=[k.dx(dxs[int(rng.integers(len(dxs)))])], doctor=doctor, dept=dept,
            daily=(k.BED, k.NURSE_3, k.WARD_ROUND) if fake else (k.BED, k.NURSE_2, k.WARD_ROUND),
            first_day=bundle, drugs=() if fake else (k.SALINE, k.GLUCOSE_5),
            extra=() if fake else ((k.MONTMORILLONITE, 0, 20_000), (k.IV_DRIP, 0, 10_000), (k.IV_DRIP, 1, 10_000)),
            bed=f"{dept}-{int(rng.integers(1, 60)):02d}",
        )  # fmt: skip
        used.add(str(p["psn_no"]))
        lab.add(case, "1" if fake else "0", params, mdtrt_id=built.mdtrt_id, psn_no=str(p["psn_no"]),
                fixmedins_code=inst, doctor=doctor)  # fmt: skip
