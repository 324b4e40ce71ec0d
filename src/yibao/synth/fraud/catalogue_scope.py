"""catalogue_scope (非医保目录 / 不予支付): care the fund does not pay for, billed as care it pays for.

* ``supplement`` — a bad pharmacy sells a 丙类 product (多维元素片, 维生素E软胶囊: health supplements the
  fund never pays) and bills it as an in-list drug (维生素C片): the scanned trace codes are the supplement's;
* ``cosmetic`` — a bad clinic or hospital does a cosmetic treatment (激光祛斑 for 黄褐斑, 丙类) and bills
  it as payable physiotherapy (超短波治疗) a few sessions at a time, under the cosmetic diagnosis;
* ``department`` (限定开单科室) — a bad hospital's department that may not order an item orders it: 普通外科
  gives a PD-1 inhibitor (信迪利单抗) to a liver-cancer patient, 内分泌科 injects 雷珠单抗 (限眼科), 老年病科
  prescribes 奥氮平 (限精神科、神经内科) for a dementia patient — a visit of that department (diagnosis that fits
  the item's indication, so only the department is wrong) with 1–3 packages or vials ordered by one of its
  doctors (which departments may order what: the knowledge base's restrictions.csv ``depts``).

**Hard negative** (label 0, kind ``consultation``): the same visit billed under the ward's department, but the
line ordered by a doctor of an allowed department of the same hospital (会诊: an oncologist called to the
surgical ward), at any hospital that has both departments.

Before: nothing.

After (supplement)::

    M3CS000001  P21  P…  维生素C片 × 3   codes with the 多维元素片 product prefix

Labels: one row per billed line (label 1; one per trace code for a supplement); params: variant, done
(the out-of-scope item), billed; for a department case item, dept_caty (the ordering department's 科别),
allowed, packages (and for a consultation the consultant's dr_caty).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.catalog.trace import product_prefix
from yibao.codes import caty_code, caty_covers
from yibao.supervision.kb import default_kb
from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    FEW_CASES,
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    at_time,
    candidates,
    context_line,
    institutions_of,
    levels,
    restriction_ok,
)
from yibao.synth.kept import of_region

PATTERN = "catalogue_scope"
CODE = "CS"
SETTINGS = ("pharmacy", "clinic", "ward")
KIND = "add"
PERSONS = 0.1
NOT_ORDERING = ("A07", "A09", "A05.02", "A20", "A26", "A28", "A30", "A31", "A32", "A69")
"""Departments that never stand in for a department variant's wrong one (children's, obstetrics,
emergency, technical and pharmacy units)."""


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    staff = ctx.staffing
    pharmacies = institutions_of(tables, "2", among=ctx.institutions)
    medical = institutions_of(tables, "1", among=ctx.institutions)
    swaps = [(a, b) for a, b in k.OUT_OF_SCOPE_SWAPS if ctx.has(a, b)]
    cosmetic = [(d, a, b) for d, a, b in k.COSMETIC if ctx.has(a, b)]
    n = max(2, ctx.persons)
    people = candidates(rng, tables, ctx, 2 * n, min_age=18, max_age=70)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    clinics = {c for c, b in tables["fixmedins_b"].select("fixmedins_code", pl.col("bed_cnt").fill_null(0)).iter_rows()
               if b <= 0}  # fmt: skip
    medical = [m for m in medical if m[0] in clinics]  # the cosmetic variant: bad clinics, as before wards were bad too
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 355)))
        if (p["death_date"] is not None and p["death_date"] <= day) or not cal.free(p["psn_no"], day, day):
            continue
        use_pharmacy = bool(pharmacies and swaps) and (not (medical and cosmetic) or rng.random() < 0.6)
        t = at_time(day, int(rng.integers(8, 20)), int(rng.integers(60)))
        case = lab.case()
        if use_pharmacy:
            inst, lv, _ = pharmacies[int(rng.integers(len(pharmacies)))]
            done_item, billed = swaps[int(rng.integers(len(swaps)))]
            ph = staff.pharmacist(rng, inst)
            mid = rows.encounter(psn_no=p["psn_no"], fixmedins_code=inst, med_type="41", begntime=t, endtime=t,
                                 diag=("", ""), dept_codg="", atddr_no=ph, insutype=p["insutype"])  # fmt: skip
            boxes = int(rng.integers(1, 4))
            sn, _ = rows.line(mdtrt_id=mid, psn_no=p["psn_no"], fixmedins_code=inst, med_list_codg=billed, when=t,
                              cnt=boxes * UNIT, pric=ctx.prices.price(billed, lv), doctor=ph, prd_days=30, codes_=False)  # fmt: skip
            for _ in range(boxes):
                code = rows.trace_code(done_item)
                assert code.startswith(product_prefix(done_item))
                rows.trace(code, sn, mid, billed, inst, t)
                lab.add(case, "1", {"variant": "supplement", "done": done_item, "billed": billed}, mdtrt_id=mid,
                        feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst, drug_trac_codg=code, doctor=ph)  # fmt: skip
        elif medical and cosmetic:
            inst, lv, _ = medical[int(rng.integers(len(medical)))]
            dx0, done_item, billed = cosmetic[int(rng.integers(len(cosmetic)))]
            doctor, dept = staff.doctor(rng, inst)
            mid = rows.encounter(psn_no=p["psn_no"], fixmedins_code=inst, med_type="11", begntime=t,
                                 endtime=t + timedelta(minutes=40), diag=k.dx(dx0), dept_codg=dept, atddr_no=doctor,
                                 insutype=p["insutype"])  # fmt: skip
            rows.diag(mid, dx0, k.DX[dx0], main=True)
            sessions = int(rng.integers(2, 5))
            sn, _ = rows.line(mdtrt_id=mid, psn_no=p["psn_no"], fixmedins_code=inst, med_list_codg=billed,
                              when=t + timedelta(minutes=5), cnt=sessions * UNIT, pric=ctx.prices.price(billed, lv),
                              doctor=doctor, dept=dept)  # fmt: skip
            lab.add(case, "1", {"variant": "cosmetic", "done": done_item, "billed": billed, "sessions": sessions},
                    mdtrt_id=mid, feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst, doctor=doctor)  # fmt: skip
        else:
            break
        cal.book(p["psn_no"], day, day)
        done += 1
    _departments(rng, tables, ctx, rows, lab, max(FEW_CASES, n // 2), max(2, n // 4))
    return rows.added(tables), lab.frame()


class _Wards:
    """Who may and who may not order what, at every hospital of the region (built once a region,
    :func:`of_region`): each department's 科别, each hospital's doctors by department, and for an item,
    the hospitals with a department that may not order it (``wards``)."""

    def __init__(self, tables: Tables) -> None:
        self.caty = {(i, d): caty_code(c) for i, d, c in tables["dept_b"].select("fixmedins_code", "dept_codg", "caty").iter_rows()
                     if c}  # fmt: skip
        self.doctors: dict[str, dict[str, list[str]]] = {}  # institution → department → doctors
        for code, typ, inst, dept in (
            tables["medstaff_b"].select("staff_codg", "staff_type", "fixmedins_code", "dept_codg").sort("staff_codg").iter_rows()
        ):  # fmt: skip
            if typ == "1" and (inst, dept) in self.caty:
                self.doctors.setdefault(inst, {}).setdefault(dept, []).append(code)
        self._wards: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[str, list[str], list[str]]]] = {}

    def wards(self, allowed: tuple[str, ...], prefer: tuple[str, ...]) -> list[tuple[str, list[str], list[str]]]:
        """(hospital, the departments that may order, those that may not — ``prefer``'s 科别 first), for
        every hospital (in code order) with a department that may not order an item ``allowed`` to
        order."""
        key = (allowed, prefer)
        if key not in self._wards:
            out = []
            for inst in sorted(self.doctors):
                here = self.doctors[inst]
                ok = [d for d in here if any(caty_covers(a, self.caty[inst, d]) for a in allowed)]
                wrong = [d for d in here if d not in ok and not self.caty[inst, d].startswith(NOT_ORDERING)]
                if wrong:
                    out.append((inst, ok, sorted(wrong, key=lambda d: _rank(prefer, self.caty[inst, d]))))
            self._wards[key] = out
        return self._wards[key]


def _departments(rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n_bad: int,
                 n_consult: int) -> None:  # fmt: skip
    """The department variant (``n_bad`` cases at the bad hospitals) and its consultation look-alike
    (``n_consult`` at any hospital with both departments)."""
    depts = default_kb().depts
    orders = [o for o in k.DEPT_ORDERS if o[0] in depts and ctx.has(o[0])]
    if not orders or tables.get("medstaff_b") is None or "dept_b" not in tables:
        return
    known = of_region("wards", (tables["dept_b"], tables["medstaff_b"]), lambda: _Wards(tables))
    caty, doctors = known.caty, known.doctors
    lv = levels(tables)
    bad = {c for c, _, _ in institutions_of(tables, "1", among=ctx.institutions)}
    people = candidates(rng, tables, ctx, 3 * (n_bad + n_consult), min_age=45, max_age=85)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    made = {"department": 0, "consultation": 0}
    for p in people.iter_rows(named=True):
        variant = "department" if made["department"] < n_bad else "consultation"
        if made["consultation"] >= n_consult:
            break
        code, dx0, prefer, most = orders[int(rng.integers(len(orders)))]
        allowed = depts[code]
        fits: dict[str, bool] = {}  # the item's restrictions at each level, for this patient
        choices = []
        for inst, ok, wrong in known.wards(tuple(allowed), tuple(prefer)):
            if variant == "department" and inst not in bad:
                continue
            if lv[inst] not in fits:
                fits[lv[inst]] = restriction_ok(ctx, code, context_line(p["gend"], p["age"], lv[inst], "11", [dx0]))
            if fits[lv[inst]] and (ok or variant == "department"):
                choices.append((inst, ok, wrong))
        if not choices:
            continue
        inst, ok, wrong = choices[int(rng.integers(len(choices)))]
        day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 355)))
        if (p["death_date"] is not None and p["death_date"] <= day) or not cal.free(p["psn_no"], day, day):
            continue
        ward = wrong[0] if rng.random() < 0.7 else wrong[int(rng.integers(len(wrong)))]
        ward_doctor = doctors[inst][ward][int(rng.integers(len(doctors[inst][ward])))]
        key = "variant" if variant == "department" else "kind"  # a hard negative's params name its kind
        params: dict[str, Any] = {key: variant, "item": code, "dept_caty": caty[inst, ward], "allowed": list(allowed)}
        orderer = ward_doctor
        if variant == "consultation":
            dept = ok[int(rng.integers(len(ok)))]
            orderer = doctors[inst][dept][int(rng.integers(len(doctors[inst][dept])))]
            params["dr_caty"] = caty[inst, dept]
        packs = int(rng.integers(1, most + 1))
        params["packages"] = packs
        t = at_time(day, int(rng.integers(8, 17)), int(rng.integers(60)))
        mid = rows.encounter(psn_no=p["psn_no"], fixmedins_code=inst, med_type="11", begntime=t,
                             endtime=t + timedelta(minutes=30), diag=k.dx(dx0), dept_codg=ward, atddr_no=ward_doctor,
                             insutype=p["insutype"])  # fmt: skip
        rows.diag(mid, dx0, k.DX[dx0], main=True)
        item = ctx.item(code)
        oral = item is not None and "注射" not in item.name
        sn, _ = rows.line(mdtrt_id=mid, psn_no=p["psn_no"], fixmedins_code=inst, med_list_codg=code,
                          when=t + timedelta(minutes=10), cnt=packs * UNIT, pric=ctx.prices.price(code, lv[inst]),
                          doctor=orderer, dept=ward, prd_days=7 * packs if oral else 0)  # fmt: skip
        lab.add(lab.case(), "1" if variant == "department" else "0", params, mdtrt_id=mid, feedetl_sn=sn,
                psn_no=p["psn_no"], fixmedins_code=inst, doctor=orderer)  # fmt: skip
        cal.book(p["psn_no"], day, day)
        made[variant] += 1


def _rank(prefer: tuple[str, ...], caty: str) -> int:
    """How likely a department of 科别 ``caty`` orders the item (its place in ``prefer``; others last)."""
    return prefer.index(caty) if caty in prefer else len(prefer)
