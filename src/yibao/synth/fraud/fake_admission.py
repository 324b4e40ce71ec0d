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
with A05.900 and real treatment (infusions, fluids, antidiarrhoeal), 2–4 nights, at a hospital drawn in
proportion to its admissions (:func:`yibao.synth.fraud._legitimate.usual_place`: most go to the big
hospitals, as patients do, not to any small ward alike).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

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
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "fake_admission"
CODE = "FA"
SETTINGS = ("ward",)
KIND = "structure"
PERSONS = 0.15


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    staff = ctx.staffing
    hospitals = wards(tables, among=ctx.institutions)
    fake_cohorts = max(1, round(ctx.persons / 8)) if hospitals else 0
    cohorts = fake_cohorts + max(1, fake_cohorts // 2)
    workforce = _workforce(rng, tables, ctx, cohorts)
    all_wards = wards(tables)
    for i in range(cohorts):
        fake = i < fake_cohorts
        if fake and hospitals:
            _cohort(rng, ctx, rows, lab, staff, one(rng, hospitals), workforce, fake=True)
        elif not fake and all_wards:  # an outbreak goes where the region's patients are admitted
            _cohort(
                rng, ctx, rows, lab, staff, usual_place(rng, tables, ctx, all_wards), workforce, fake=False
            )
    return rows.added(tables), lab.frame()


class _Workforce:
    """Employees (20–65) of the biggest employers in the chunk, with a calendar of their care."""

    def __init__(self, by_emp: dict[str, list[dict[str, Any]]], calendar: Calendar) -> None:
        self.by_emp = by_emp
        self.calendar = calendar
        self.used: set[str] = set()


def _workforce(rng: np.random.Generator, tables: Tables, ctx: Context, cohorts: int) -> _Workforce:
    staff_of = (
        persons(tables, ctx)
        .filter((pl.col("emp_no").fill_null("") != "") & pl.col("age").is_between(20, 65))
        .select("psn_no", "emp_no", "insutype", "gend", "age", "death_date")
    )
    sizes = (
        staff_of.group_by("emp_no")
        .len()
        .filter(pl.col("len") >= 4)
        .sort(["len", "emp_no"], descending=[True, False])
    )
    top = sizes.head(max(5, min(40, cohorts))).get_column("emp_no").to_list()
    by_emp: dict[str, list[dict[str, Any]]] = {}
    for e in top:
        members = staff_of.filter(pl.col("emp_no") == e).sort("psn_no")
        take = min(members.height, 60)
        by_emp[e] = [
            members.row(int(i), named=True)
            for i in np.sort(rng.choice(members.height, size=take, replace=False))
        ]
    everyone = [m["psn_no"] for ms in by_emp.values() for m in ms]
    return _Workforce(by_emp, ctx.calendar(tables, everyone))


def _cohort(
    rng: np.random.Generator,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    hospital: tuple[str, str],
    work: _Workforce,
    *,
    fake: bool,
) -> None:
    inst, lv = hospital
    week = date(ctx.year, 1, 8) + timedelta(days=7 * int(rng.integers(0, 48)))
    week -= timedelta(days=week.weekday())
    nights_max = 10 if fake else 4
    least = 5 if fake else 4
    last = week + timedelta(days=nights_max + 8)
    employers = sorted(work.by_emp)
    if not employers:
        return
    emp = employers[int(rng.integers(len(employers)))]
    want = int(rng.integers(5, 16)) if fake else int(rng.integers(4, 11))
    order = rng.permutation(len(work.by_emp[emp]))
    cohort = []
    for i in order:
        r = work.by_emp[emp][int(i)]
        if r["psn_no"] in work.used or (r["death_date"] is not None and r["death_date"] <= last):
            continue
        if work.calendar.free(r["psn_no"], week - timedelta(days=1), last):
            cohort.append(r)
            if len(cohort) >= want:
                break
    if len(cohort) < least:
        return
    size = len(cohort)
    for r in cohort:
        work.used.add(r["psn_no"])
        work.calendar.book(r["psn_no"], week - timedelta(days=1), last)
    doctor, dept = staff.doctor(rng, inst, ("03",))
    case = lab.case()
    if fake:
        bundle = tuple(c for c in k.EXAM_BUNDLE if ctx.has(c))
        dxs = [
            k.VAGUE_ADMISSION_DX[int(i)] for i in rng.choice(len(k.VAGUE_ADMISSION_DX), size=2, replace=False)
        ]
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
        lab.add(case, "1" if fake else "0", params, mdtrt_id=built.mdtrt_id, psn_no=str(p["psn_no"]),
                fixmedins_code=inst, doctor=doctor)  # fmt: skip
