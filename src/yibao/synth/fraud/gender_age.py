"""gender_age (限性别 / 限年龄): an item the catalogue restricts to the other sex or another age band.

At a bad hospital or clinic a share (1–5%) of encounters gets one more line: an item restricted to
women on a man's bill (经阴道超声, TCT, 尿妊娠试验, 黄体酮 …), one restricted to men on a woman's (tPSA,
坦索罗辛 …), or one restricted to children on an adult's (小儿头皮静脉输液, 小儿推拿, 布洛芬混悬液 …). The
added line always breaks the item's catalogue restriction for that patient.

Before::

    M1  P5 (男, 47)  普通门诊  诊察费, 血常规

After::

    M1  P5 (男, 47)  普通门诊  诊察费, 血常规, 经阴道超声检查  ← 限女性

Labels: one row per added line (label 1); params: restriction (gend / age), item, patient gend and age.

Hard negatives (label 0, legitimate exemptions a rule still flags): a man with breast cancer
(C50.901 男性乳腺恶性肿瘤) prescribed 来曲唑 (限女性); an elderly patient with dysphagia (R13.x00 吞咽困难)
given a paediatric suspension (限儿童).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    age_on,
    at_time,
    build_visit,
    candidates,
    context_line,
    encounters,
    lines_for,
    persons,
    wards,
)
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "gender_age"
CODE = "GA"
SETTINGS = ("ward", "clinic")
KIND = "add"
SHARE = (0.01, 0.05)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    n = _fraud(rng, tables, ctx, rows, lab) if ctx.institutions else 0
    m = max(1, round(max(n, 1) * rng.uniform(0.2, 0.5)))
    _exemptions(rng, tables, ctx, rows, lab, m)
    return rows.added(tables), lab.frame()


def _fraud(rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels) -> int:
    who = persons(tables, ctx).select("psn_no", "gend", "brdy")
    enc = (
        encounters(
            tables,
            ctx,
            pl.col("fixmedins_code").is_in(list(ctx.institutions))
            & pl.col("kind").is_in(["outpatient", "chronic", "inpatient"]),
        )
        .join(who, on="psn_no", how="inner", maintain_order="left")
        .sort("mdtrt_id")
    )
    n = ctx.cases(enc.height, float(rng.uniform(*SHARE)), weight=0.2)
    if n == 0:
        return 0
    chosen = enc[[int(i) for i in rng.choice(enc.height, size=n, replace=False)]]
    first = (
        lines_for(tables, ctx, chosen)
        .sort("fee_ocur_time", "feedetl_sn").unique("mdtrt_id", keep="first")
    )  # fmt: skip
    first_by = {r["mdtrt_id"]: r for r in first.iter_rows(named=True)}
    done = 0
    for e in chosen.iter_rows(named=True):
        line = first_by.get(e["mdtrt_id"])
        if line is None:
            continue
        on: date = line["fee_ocur_time"].date()
        age = age_on(e["brdy"], on)
        lc = context_line(e["gend"], age, e["lv"], e["med_type"], ())
        options: list[tuple[str, str]] = []
        other = "2" if e["gend"] == "1" else "1"
        options += [("gend", c) for c in k.GENDER_ITEMS.get(other, ())]
        if age >= 18:
            options += [("age", c) for c in k.CHILD_ITEMS]
        options = [
            (kind, c) for kind, c in options
            if (it := ctx.item(c)) is not None and it.restriction.violation(lc) is not None
            and (kind == "gend") == (it.restriction.gend is not None) and not it.restriction.indications
        ]  # fmt: skip
        if not options:
            continue
        kind, code = options[int(rng.integers(len(options)))]
        item = ctx.item(code)
        assert item is not None
        days = 3 if item.list_type == "drug" else 0
        sn, _ = rows.line(
            mdtrt_id=e["mdtrt_id"], psn_no=e["psn_no"], fixmedins_code=e["fixmedins_code"], med_list_codg=code,
            when=line["fee_ocur_time"], cnt=UNIT, pric=ctx.prices.price(code, e["lv"]), doctor=line["bilg_dr_codg"],
            dept=line["bilg_dept_codg"], prd_days=days,
        )  # fmt: skip
        case = lab.case()
        lab.add(case, "1", {"restriction": kind, "item": code, "gend": e["gend"], "age": age}, mdtrt_id=e["mdtrt_id"],
                feedetl_sn=sn, psn_no=e["psn_no"], fixmedins_code=e["fixmedins_code"], doctor=line["bilg_dr_codg"])  # fmt: skip
        done += 1
    return done


def _exemptions(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int
) -> None:
    hospitals = wards(tables, min_lv="2") or wards(tables)
    if not hospitals:
        return
    staff = ctx.staffing
    kinds = []
    if ctx.has(k.LETROZOLE):
        kinds.append("male_breast_cancer")
    suspension = next((c for c in (k.IBUPROFEN_SUSPENSION, k.PARACETAMOL_DROPS) if ctx.has(c)), None)
    if suspension:
        kinds.append("adult_dysphagia")
    if not kinds:
        return
    for kind in kinds:
        people = candidates(rng, tables, ctx, 3 * n, min_age=40 if kind == "male_breast_cancer" else 60,
                            gend="1" if kind == "male_breast_cancer" else None)  # fmt: skip
        cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
        done = 0
        for p in people.iter_rows(named=True):
            if done >= n:
                break
            day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 355)))
            if (p["death_date"] is not None and p["death_date"] <= day) or not cal.free(
                p["psn_no"], day, day
            ):
                continue
            inst, lv = usual_place(
                rng, tables, ctx, hospitals, "chronic" if kind == "male_breast_cancer" else "outpatient"
            )
            if kind == "male_breast_cancer":
                doctor, dept = staff.doctor(rng, inst, ("19",))
                dx = [k.dx("C50.901")]
                drug = k.LETROZOLE
                med_type = "14"
            else:
                doctor, dept = staff.doctor(rng, inst, ("03",))
                dx = [k.dx("R13.x00"), k.dx("I63.900")]
                drug = str(suspension)
                med_type = "11"
            built = build_visit(
                rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type=med_type,
                when=at_time(day, int(rng.integers(8, 17)), int(rng.integers(60))), dx=dx,
                items=((k.OUT_VISIT, UNIT, 0), (drug, UNIT, 30 if kind == "male_breast_cancer" else 5)),
                doctor=doctor, dept=dept,
            )  # fmt: skip
            cal.book(p["psn_no"], day, day)
            case = lab.case()
            for sn in built.lines:
                if built.item_of[sn] == drug:
                    lab.add(case, "0", {"kind": kind, "item": drug, "diagnosis": dx[0][0]}, mdtrt_id=built.mdtrt_id,
                            feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst, doctor=doctor)  # fmt: skip
            done += 1
