"""split_admission (分解住院): one stay billed as two or three, with short gaps between them.

At a bad hospital a share of the stays of four nights or more is cut at one or two nights: the patient
is "discharged" and "re-admitted" 1–10 days later. Every later part is a new encounter carrying the
copied diagnoses, the lines of its nights (moved by the gap, with their trace codes; a bed, nursing or
ward-round line of several nights is shared out over the parts), and a copy of the admission tests
(exams and laboratory) of the first day — what a readmission bills again.

Before (one stay of 9 nights)::

    M1   03-01 09:10 → 03-10 10:00  J18.900 肺炎   bed/nursing × 9, tests on 03-01, drugs 03-01…03-09

After (cut after nights 3 and 6, gaps 2 and 7 days)::

    M1          03-01 09:10 → 03-04 10:00  J18.900  nights 0–2
    M3SA000001  03-06 07:40 → 03-09 10:00  J18.900  nights 3–5 moved 2 days + copied admission tests
    M3SA000002  03-16 07:35 → 03-19 10:00  J18.900  nights 6–8 moved 9 days + copied admission tests

Labels: one row per resulting stay (label 1), sharing the case_id; params: parts, nights, gaps_days,
copied_lines, original_los, gap_style (short 1–3 days / mid 4–10 days).

Hard negatives (label 0, same pattern): chemotherapy cycles (Z51.100 with the cancer as secondary
diagnosis, 3–6 short stays every 21 ± 2 days), staged surgery (the second eye's cataract 7–14 days
after the first, or the second knee of 原发性双侧膝关节病), maintenance dialysis (门诊慢特病 sessions 2–3
times a week for 3–8 weeks, N18.500 + Z49.101).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Staffing,
    Tables,
    at_time,
    build_stay,
    build_visit,
    by_encounter,
    candidates,
    codes_of,
    defer,
    fee_amount,
    lines_for,
    one,
    stays_with_room,
    update,
    wards,
)
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "split_admission"
CODE = "SA"
SETTINGS = ("ward",)
KIND = "structure"
SHARE = (0.03, 0.12)
"""Share of a bad hospital's eligible stays that are split, drawn per chunk."""

_MAX_SHIFT = 21  # at most two gaps of 10 days, plus a day
_PER_NIGHT = ("01", "02", "07")  # 床位费, 诊察费, 护理费: billed per night


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    n = 0
    if ctx.institutions:
        tables, n = _split(rng, tables, ctx, rows, lab)
    negatives = max(1, round(n * rng.uniform(0.3, 0.8)))
    staff = ctx.staffing
    used: set[str] = set()
    _chemotherapy(rng, tables, ctx, rows, lab, staff, negatives, used)
    _staged_surgery(rng, tables, ctx, rows, lab, staff, negatives, used)
    _dialysis(rng, tables, ctx, rows, lab, staff, max(1, negatives // 2), used)
    return rows.added(tables), lab.frame()


def _split(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels
) -> tuple[Tables, int]:
    eligible = stays_with_room(tables, ctx, min_los=4, room_days=_MAX_SHIFT + 2)
    n = ctx.cases(eligible.height, float(rng.uniform(*SHARE)), kind="inpatient", weight=0.5)
    if n == 0:
        return tables, 0
    chosen = eligible[[int(i) for i in rng.choice(eligible.height, size=n, replace=False)]]
    ids = chosen.get_column("mdtrt_id").to_list()
    fee = lines_for(tables, ctx, chosen)
    lines_by = by_encounter(fee)
    trace = codes_of(tables, ctx, fee)
    trace_by = by_encounter(trace)
    diag = tables["setl_list_diag_d"].filter(pl.col("mdtrt_id").is_in(ids))
    diag_by = by_encounter(diag)
    oprn = tables["setl_list_oprn_d"].filter(pl.col("mdtrt_id").is_in(ids))
    oprn_by = by_encounter(oprn)

    fee_changes: list[dict[str, Any]] = []
    trace_changes: list[dict[str, Any]] = []
    stay_changes: list[dict[str, Any]] = []
    for stay in chosen.iter_rows(named=True):
        mid = stay["mdtrt_id"]
        lines = lines_by.get(mid)
        if lines is None:
            continue
        los = int(stay["los"])
        parts = 3 if los >= 6 and rng.random() < 0.35 else 2
        nights = _composition(rng, los, parts)
        cuts = list(np.cumsum(nights)[:-1])
        style = "short" if rng.random() < 0.4 else "mid"
        gaps = [int(rng.integers(1, 4)) if style == "short" else int(rng.integers(4, 11)) for _ in cuts]
        shifts = [0, *list(np.cumsum(gaps))]
        seg_ids = [mid, *(rows.new_id("M") for _ in cuts)]
        day0: date = stay["begntime"].date()

        def segment(d: date, cuts: list[int] = cuts, day0: date = day0) -> int:
            off = (d - day0).days
            return sum(1 for c in cuts if off >= c)

        first_times: dict[int, datetime] = {}
        per_night: list[dict[str, Any]] = []
        for line in lines.iter_rows(named=True):
            j = segment(line["fee_ocur_time"].date())
            if (
                j == 0
                and line["med_chrgitm_type"] in _PER_NIGHT
                and line["cnt"] > UNIT
                and line["cnt"] % UNIT == 0
            ):
                per_night.append(line)  # bed, nursing, ward round billed as one line of LOS units
                continue
            when = line["fee_ocur_time"] + timedelta(days=int(shifts[j]))
            if j:
                fee_changes.append(
                    {"feedetl_sn": line["feedetl_sn"], "mdtrt_id": seg_ids[j], "fee_ocur_time": when}
                )
                first_times[j] = min(first_times.get(j, when), when)
        for t in trace_by.get(mid, pl.DataFrame()).iter_rows(named=True) if mid in trace_by else ():
            j = segment(t["sel_time"].date())
            if j:
                trace_changes.append(
                    {"drug_trac_codg": t["drug_trac_codg"], "feedetl_sn": t["feedetl_sn"], "mdtrt_id": seg_ids[j],
                     "sel_time": t["sel_time"] + timedelta(days=int(shifts[j]))}
                )  # fmt: skip
        admission_tests = [
            r for r in lines.iter_rows(named=True)
            if r["fee_ocur_time"].date() == day0 and r["med_chrgitm_type"] in ("03", "04")
        ]  # fmt: skip
        copied = 0
        for j in range(1, parts):
            begin_day = day0 + timedelta(days=int(cuts[j - 1] + shifts[j]))
            first = first_times.get(j, at_time(begin_day, 9))
            begin = min(first, at_time(begin_day, 9)) - timedelta(minutes=int(rng.integers(10, 50)))
            if j < parts - 1:
                end = at_time(
                    day0 + timedelta(days=int(cuts[j] + shifts[j])),
                    int(rng.integers(9, 11)),
                    int(rng.integers(60)),
                )
            else:
                end = stay["endtime"] + timedelta(days=int(shifts[j]))
            rows.copy_encounter(stay, mdtrt_id=seg_ids[j], begntime=begin, endtime=end, dscg_way="1")
            for line in per_night:
                units = _apportion(line["cnt"] // UNIT, nights)
                if units[j] and units[0]:
                    rows.copy_line(
                        line,
                        mdtrt_id=seg_ids[j],
                        fee_ocur_time=begin + timedelta(minutes=5),
                        cnt=units[j] * UNIT,
                    )
            for d in diag_by[mid].iter_rows(named=True) if mid in diag_by else ():
                rows.diag(seg_ids[j], d["diag_code"], d["diag_name"], main=d["maindiag_flag"] == "1")
            for r in admission_tests:
                rows.copy_line(r, mdtrt_id=seg_ids[j], fee_ocur_time=begin + timedelta(minutes=30))
                copied += 1
        for line in per_night:
            units = _apportion(line["cnt"] // UNIT, nights)
            if units[0]:
                cnt = units[0] * UNIT
                fee_changes.append({"feedetl_sn": line["feedetl_sn"], "mdtrt_id": mid, "fee_ocur_time": line["fee_ocur_time"],
                                    "cnt": cnt, "det_item_fee_sumamt": fee_amount(line["pric"], cnt)})  # fmt: skip
        end0 = at_time(day0 + timedelta(days=int(cuts[0])), int(rng.integers(9, 11)), int(rng.integers(60)))
        stay_changes.append({"mdtrt_id": mid, "endtime": end0, "dscg_way": "1"})
        for o in oprn_by[mid].iter_rows(named=True) if mid in oprn_by else ():
            j = segment(o["oprn_date"])
            rows.oprn(seg_ids[j], o["oprn_code"], o["oprn_name"], o["oprn_date"] + timedelta(days=int(shifts[j])),
                      main=o["main_oprn_flag"] == "1")  # fmt: skip
        case = lab.case()
        params = {
            "parts": parts, "nights": [int(x) for x in nights], "gaps_days": gaps, "copied_lines": copied,
            "original_los": los, "gap_style": style,
        }  # fmt: skip
        for sid in seg_ids:
            lab.add(case, "1", params, mdtrt_id=sid, psn_no=stay["psn_no"], fixmedins_code=stay["fixmedins_code"],
                    doctor=stay["atddr_no"])  # fmt: skip
    out = dict(tables)
    if fee_changes:
        out = defer(ctx, out, "fee_list_d", fee_changes, "feedetl_sn")
    if trace_changes:
        out = defer(ctx, out, "drug_trac_d", trace_changes, ["drug_trac_codg", "feedetl_sn"])
    out["mdtrt_d"] = update(tables["mdtrt_d"], stay_changes, "mdtrt_id")
    moved = [m for m in ids if m in oprn_by]
    if moved:
        out["setl_list_oprn_d"] = tables["setl_list_oprn_d"].filter(~pl.col("mdtrt_id").is_in(moved))
    return out, len(stay_changes)


def _apportion(units: int, nights: list[int]) -> list[int]:
    """``units`` shared over the segments in proportion to their nights (largest remainders)."""
    total = sum(nights)
    if units == total:
        return list(nights)
    exact = [units * n / total for n in nights]
    out = [int(x) for x in exact]
    for i in sorted(range(len(nights)), key=lambda i: (out[i] - exact[i], i))[: units - sum(out)]:
        out[i] += 1
    return out


def _composition(rng: np.random.Generator, total: int, parts: int) -> list[int]:
    """``total`` nights in ``parts`` segments, each at least 2 nights when possible (else 1)."""
    least = 2 if total >= 2 * parts else 1
    rest = total - least * parts
    extra = rng.multinomial(rest, [1 / parts] * parts) if rest > 0 else np.zeros(parts, dtype=int)
    return [least + int(x) for x in extra]


# ---------------------------------------------------------------------------------------------
# Hard negatives
# ---------------------------------------------------------------------------------------------

_CANCERS = {
    "2": (("C50.900", k.PACLITAXEL), ("C34.900x001", k.CISPLATIN), ("C18.900", k.OXALIPLATIN)),
    "1": (("C34.900x001", k.CISPLATIN), ("C18.900", k.OXALIPLATIN)),
}


def _series_start(rng: np.random.Generator, year: int, span_days: int) -> date | None:
    latest = date(year, 12, 31) - timedelta(days=span_days + 2)
    first = date(year, 1, 2)
    if latest <= first:
        return None
    return first + timedelta(days=int(rng.integers(0, (latest - first).days)))


def _chemotherapy(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    n: int,
    used: set[str],
) -> None:
    hospitals = wards(tables, min_lv="2") or wards(tables)
    if not hospitals or not ctx.has(k.BED, k.NURSE_2):
        return
    people = candidates(
        rng, tables, ctx, n * 4, min_age=35, max_age=80, where=~pl.col("psn_no").is_in(list(used))
    )
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        cycles = int(rng.integers(3, 7))
        interval = [21 + int(rng.integers(-2, 3)) for _ in range(cycles - 1)]
        nights = [int(rng.integers(2, 5)) for _ in range(cycles)]
        start = _series_start(rng, ctx.year, sum(interval) + nights[-1])
        if start is None:
            return
        offsets = [0, *list(np.cumsum(interval))]
        windows = [
            (start + timedelta(days=int(o)), start + timedelta(days=int(o) + nights[i]))
            for i, o in enumerate(offsets)
        ]
        if p["death_date"] is not None and p["death_date"] <= windows[-1][1]:
            continue
        if not all(cal.free(p["psn_no"], a - timedelta(days=1), b + timedelta(days=1)) for a, b in windows):
            continue
        inst, lv = usual_place(rng, tables, ctx, hospitals)
        cancer, agent = one(rng, _CANCERS[p["gend"] if p["gend"] in _CANCERS else "1"])
        doctor, dept = staff.doctor(rng, inst, ("19", "03"))
        case = lab.case()
        params = {
            "kind": "chemotherapy",
            "cycles": cycles,
            "interval_days": interval,
            "cancer": cancer,
            "agent": agent,
        }
        for (a, b), nt in zip(windows, nights, strict=True):
            built = build_stay(
                rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv,
                begin=at_time(a, int(rng.integers(8, 11)), int(rng.integers(60))), days=nt,
                dx=[k.dx("Z51.100"), k.dx(cancer)], doctor=doctor, dept=dept,
                daily=(k.BED, k.NURSE_2, k.WARD_ROUND), first_day=(k.CBC, k.ALT, k.CREATININE),
                drugs=(k.SALINE,), extra=((agent, 0, 2 * 10_000), (k.ONDANSETRON, 0, 10_000), (k.IV_DRIP, 0, 10_000)),
                bed=f"{dept}-{int(rng.integers(1, 40)):02d}",
            )  # fmt: skip
            cal.book(p["psn_no"], a, b)
            lab.add(
                case,
                "0",
                params,
                mdtrt_id=built.mdtrt_id,
                psn_no=p["psn_no"],
                fixmedins_code=inst,
                doctor=doctor,
            )
        used.add(p["psn_no"])
        done += 1


def _staged_surgery(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    n: int,
    used: set[str],
) -> None:
    hospitals = wards(tables, min_lv="2")
    if not hospitals:
        return
    people = candidates(
        rng, tables, ctx, n * 4, min_age=55, max_age=85, where=~pl.col("psn_no").is_in(list(used))
    )
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        knee = rng.random() < 0.4 and ctx.has(k.KNEE_REPLACEMENT, k.KNEE_PROSTHESIS)
        if not knee and not ctx.has(k.CATARACT, k.LENS):
            continue
        nights = [int(rng.integers(5, 9)) if knee else int(rng.integers(1, 3)) for _ in range(2)]
        gap = int(rng.integers(7, 15))
        start = _series_start(rng, ctx.year, nights[0] + gap + nights[1])
        if start is None:
            return
        second = start + timedelta(days=nights[0] + gap)
        windows = [(start, start + timedelta(days=nights[0])), (second, second + timedelta(days=nights[1]))]
        if p["death_date"] is not None and p["death_date"] <= windows[-1][1]:
            continue
        if not all(cal.free(p["psn_no"], a - timedelta(days=1), b + timedelta(days=1)) for a, b in windows):
            continue
        inst, lv = usual_place(rng, tables, ctx, hospitals)
        doctor, dept = staff.doctor(rng, inst, ("04",) if knee else ("10", "04"))
        case = lab.case()
        kind = "staged_knee_replacement" if knee else "second_eye_cataract"
        params = {"kind": kind, "gap_days": gap, "nights": nights}
        for side, ((a, b), nt) in enumerate(zip(windows, nights, strict=True)):
            if knee:
                dx = [k.dx("M17.000")]
                extra: tuple[tuple[str, int, int], ...] = (
                    (k.KNEE_REPLACEMENT, 1, 10_000), (k.GENERAL_ANAESTHESIA, 1, 10_000),
                    (k.KNEE_PROSTHESIS, 1, 10_000), (k.BONE_CEMENT, 1, 10_000),
                )  # fmt: skip
                oprn = (("81.5400", k.OPRN["81.5400"], 1),)
                drugs: tuple[str, ...] = (k.CEFUROXIME, k.SALINE)
            else:
                dx = [k.dx("H25.900")]
                extra = ((k.CATARACT, 0, 10_000), (k.LOCAL_ANAESTHESIA, 0, 10_000), (k.LENS, 0, 10_000))
                oprn = (("13.4100x001", k.OPRN["13.4100x001"], 0),)
                drugs = (k.LEVOFLOXACIN,)
            built = build_stay(
                rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv,
                begin=at_time(a, int(rng.integers(8, 11)), int(rng.integers(60))), days=nt, dx=dx,
                doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND),
                first_day=(k.CBC, k.URINE, k.ALT, k.CREATININE, k.GLUCOSE, k.ECG), drugs=drugs, extra=extra, oprn=oprn,
                bed=f"{dept}-{int(rng.integers(1, 40)):02d}",
            )  # fmt: skip
            cal.book(p["psn_no"], a, b)
            lab.add(case, "0", {**params, "stage": side + 1}, mdtrt_id=built.mdtrt_id, psn_no=p["psn_no"],
                    fixmedins_code=inst, doctor=doctor)  # fmt: skip
        used.add(p["psn_no"])
        done += 1


def _dialysis(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    n: int,
    used: set[str],
) -> None:
    hospitals = wards(tables, min_lv="2") or wards(tables)
    if not hospitals or not ctx.has(k.DIALYSIS):
        return
    people = candidates(
        rng, tables, ctx, n * 4, min_age=30, max_age=85, where=~pl.col("psn_no").is_in(list(used))
    )
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        weeks = int(rng.integers(3, 9))
        per_week = 3 if rng.random() < 0.6 else 2
        start = _series_start(rng, ctx.year, weeks * 7)
        if start is None:
            return
        weekdays = (0, 2, 4) if per_week == 3 else (1, 4)
        monday = start - timedelta(days=start.weekday())
        days = [monday + timedelta(days=7 * w + d) for w in range(weeks) for d in weekdays]
        days = [d for d in days if d.year == ctx.year and d >= date(ctx.year, 1, 1)]
        if p["death_date"] is not None and p["death_date"] <= days[-1]:
            continue
        if not all(cal.free(p["psn_no"], d, d) for d in days):
            continue
        inst, lv = usual_place(rng, tables, ctx, hospitals, "chronic")
        doctor, dept = staff.doctor(rng, inst, ("03",))
        case = lab.case()
        params = {"kind": "dialysis", "weeks": weeks, "sessions_per_week": per_week, "sessions": len(days)}
        hour = int(rng.integers(7, 13))
        for d in days:
            built = build_visit(
                rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="14",
                when=datetime(d.year, d.month, d.day, hour, int(rng.integers(60))),
                dx=[k.dx("N18.500"), k.dx("Z49.101")], doctor=doctor, dept=dept, minutes=240,
                items=((k.DIALYSIS, 10_000, 0), (k.DIALYSER, 10_000, 0), (k.DIALYSIS_LINES, 10_000, 0)),
            )  # fmt: skip
            cal.book(p["psn_no"], d, d)
            lab.add(
                case,
                "0",
                params,
                mdtrt_id=built.mdtrt_id,
                psn_no=p["psn_no"],
                fixmedins_code=inst,
                doctor=doctor,
            )
        used.add(p["psn_no"])
        done += 1
