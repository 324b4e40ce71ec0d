"""ghost_bed (挂床住院): days in a bed nobody lies in — only 床位费 and 护理费 are billed.

At a bad hospital a share of the stays gets 3–7 days without any service: either at the end (the patient
went home, the bed is kept: ``tail``) or in the middle (the patient left for some days and came back:
``middle``, the later lines moved by those days). On each empty day only the stay's own bed and
nursing items are billed. Some of these stays are also put in a bed another patient occupies at the
same time (``double_booked``: two persons per bed), which raises the ward's census above its beds.
Where the stay bills its nights as one bed line and one nursing line (as the care generator does), the
empty days are one more bed line and one more nursing line of that many nights, on the first of them.

Before::

    M1  05-02 → 05-07  bed, nursing, ward round, drugs, tests every day

After (tail, 4 days)::

    M1  05-02 → 05-11  … as before; 05-07…05-10 only 床位费 + II级护理 (new lines)

Labels: one row per added bed or nursing line (label 1), sharing the case_id; params: variant,
empty_days, after_night, double_booked (bed and the other stay) when so.

Hard negative (label 0): a surgical patient waiting 2–3 days for the operation (bed, nursing and ward
round only, then the operation) — ≥ 48 h without treatment, legitimately.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

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
    by_encounter,
    candidates,
    codes_of,
    defer,
    encounters,
    lines_for,
    stays_with_room,
    update,
    wards,
)
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "ghost_bed"
CODE = "GB"
SETTINGS = ("ward",)
KIND = "structure"
SHARE = (0.03, 0.10)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    n = 0
    if ctx.institutions:
        tables, n = _ghost(rng, tables, ctx, rows, lab)
    _waiting_for_surgery(rng, tables, ctx, rows, lab, max(1, round(n * rng.uniform(0.3, 0.8))))
    return rows.added(tables), lab.frame()


def _ghost(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels
) -> tuple[Tables, int]:
    eligible = stays_with_room(tables, ctx, min_los=3, room_days=10)
    n = ctx.cases(eligible.height, float(rng.uniform(*SHARE)), kind="inpatient", weight=0.5)
    if n == 0:
        return tables, 0
    chosen = eligible[[int(i) for i in rng.choice(eligible.height, size=n, replace=False)]]
    ids = chosen.get_column("mdtrt_id").to_list()
    fee = lines_for(tables, ctx, chosen)
    lines_by = by_encounter(fee)
    trace = codes_of(tables, ctx, fee)
    trace_by = by_encounter(trace)
    others = encounters(
        tables,
        ctx,
        (pl.col("kind") == INPATIENT) & (pl.col("adm_bed") != "") & ~pl.col("mdtrt_id").is_in(ids),
    ).select("mdtrt_id", "fixmedins_code", "dept_codg", "adm_bed", "begntime", "endtime")
    fee_changes: list[dict[str, Any]] = []
    trace_changes: list[dict[str, Any]] = []
    stay_changes: list[dict[str, Any]] = []
    for stay in chosen.iter_rows(named=True):
        mid = stay["mdtrt_id"]
        lines = lines_by.get(mid)
        if lines is None:
            continue
        bed_nursing = {}
        for r in lines.sort("fee_ocur_time").iter_rows(named=True):
            if r["med_chrgitm_type"] in ("01", "07") and r["med_chrgitm_type"] not in bed_nursing:
                bed_nursing[r["med_chrgitm_type"]] = r
        if "01" not in bed_nursing:
            continue
        los = int(stay["los"])
        empty = int(rng.integers(3, 8))
        variant = "tail" if rng.random() < 0.6 or los < 4 else "middle"
        day0: date = stay["begntime"].date()
        after = los if variant == "tail" else int(rng.integers(1, los - 1))
        if variant == "middle":
            for r in lines.iter_rows(named=True):
                if (r["fee_ocur_time"].date() - day0).days > after:
                    fee_changes.append(
                        {
                            "feedetl_sn": r["feedetl_sn"],
                            "fee_ocur_time": r["fee_ocur_time"] + timedelta(days=empty),
                        }
                    )
            for t in trace_by[mid].iter_rows(named=True) if mid in trace_by else ():
                if (t["sel_time"].date() - day0).days > after:
                    trace_changes.append(
                        {"drug_trac_codg": t["drug_trac_codg"], "feedetl_sn": t["feedetl_sn"],
                         "sel_time": t["sel_time"] + timedelta(days=empty)}
                    )  # fmt: skip
        first_empty = day0 + timedelta(days=after + 1 if variant == "middle" else los)
        case = lab.case()
        change: dict[str, Any] = {"mdtrt_id": mid, "endtime": stay["endtime"] + timedelta(days=empty)}
        params: dict[str, Any] = {"variant": variant, "empty_days": empty, "after_night": after}
        if rng.random() < 0.3:
            end = stay["endtime"] + timedelta(days=empty)
            overlap = others.filter(
                (pl.col("fixmedins_code") == stay["fixmedins_code"])
                & (pl.col("begntime") < end)
                & (pl.col("endtime") > stay["begntime"])
            ).sort("mdtrt_id")
            if overlap.height:
                other = overlap.row(int(rng.integers(overlap.height)), named=True)
                change["adm_bed"] = other["adm_bed"]
                params["double_booked"] = {"bed": other["adm_bed"], "with": other["mdtrt_id"]}
        stay_changes.append(change)
        per_night = bed_nursing["01"]["cnt"] > UNIT  # the care generator bills nights as one line
        for d in range(1 if per_night else empty):
            day = first_empty + timedelta(days=d)
            for typ in ("01", "07"):
                line = bed_nursing.get(typ)
                if line is None:
                    continue
                r = line
                when = at_time(day, 8, int(rng.integers(0, 30)))
                cnt = UNIT * empty if per_night else r["cnt"]
                sn, _ = rows.copy_line(r, fee_ocur_time=when, cnt=cnt)
                lab.add(case, "1", params, mdtrt_id=mid, feedetl_sn=sn, psn_no=stay["psn_no"],
                        fixmedins_code=stay["fixmedins_code"], doctor=r["bilg_dr_codg"])  # fmt: skip
    out = dict(tables)
    if fee_changes:
        out = defer(ctx, out, "fee_list_d", fee_changes, "feedetl_sn")
    if trace_changes:
        out = defer(ctx, out, "drug_trac_d", trace_changes, ["drug_trac_codg", "feedetl_sn"])
    out["mdtrt_d"] = update(tables["mdtrt_d"], stay_changes, "mdtrt_id")  # adm_bed where a row names it
    return out, len(stay_changes)


def _waiting_for_surgery(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int
) -> None:
    hospitals = wards(tables, min_lv="2")
    if not hospitals or not ctx.has(k.LAP_CHOLECYSTECTOMY):
        return
    staff = ctx.staffing
    people = candidates(rng, tables, ctx, n * 4, min_age=30, max_age=80)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        wait = int(rng.integers(2, 4))
        nights = wait + int(rng.integers(3, 6))
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
            begin=at_time(a, int(rng.integers(9, 17)), int(rng.integers(60))), days=nights, dx=[k.dx("K80.101")],
            doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND),
            extra=((k.CBC, wait, 10_000), (k.ALT, wait, 10_000), (k.LAP_CHOLECYSTECTOMY, wait, 10_000),
                   (k.GENERAL_ANAESTHESIA, wait, 10_000), (k.TROCAR, wait, 10_000), (k.CEFUROXIME, wait, 10_000)),
            oprn=(("51.2300", k.OPRN["51.2300"], wait),), bed=f"{dept}-{int(rng.integers(1, 40)):02d}",
        )  # fmt: skip
        cal.book(p["psn_no"], a, b)
        case = lab.case()
        lab.add(case, "0", {"kind": "waiting_for_surgery", "waiting_days": wait, "nights": nights},
                mdtrt_id=built.mdtrt_id, psn_no=p["psn_no"], fixmedins_code=inst, doctor=doctor)  # fmt: skip
        done += 1
