"""doctor_outlier (医师处方/诊疗异常): one doctor's volume and amounts far above the department's peers.

A bad doctor uses one to three tactics, each at its own intensity, drawn once per doctor (the same in
every chunk: one doctor, one drug, one habit — :meth:`Context.of_entity`; one case, ``R-doctor_outlier-
<doctor>``, over the chunks); which visits carry them is drawn per chunk:

* ``add_drug`` — one drug of the doctor's choice (a dear one without restrictions, and not one their own
  科别's conditions call for: a 骨科 doctor pushing 塞来昔布 is their case mix) added to 15–70% of their
  encounters, 1–3 packages each (new trace codes): the 烟酰胺 ×200 kind of signal;
* ``inflate`` — the quantity of their drug lines multiplied by 1.5, 2, 3 or 4 (whole packages, at
  least one more), days supplied unchanged (extra trace codes for the extra packages);
* ``clone`` — 5–40% of their outpatient encounters billed again for the same patient on another
  free day (a fabricated return visit with the same lines).

Before::

    doctor D011D011: 40 visits, 1.2 drug lines per visit, ¥85 per visit (peers: ¥80)

After (add_drug 脑心通胶囊 at 70%, clone 30%)::

    52 visits (12 clones), every visit ¥130–¥220

Labels: one case per doctor and chunk (a gap: a region's cases grow with its chunks); a row per added
or inflated line (feedetl_sn) and per cloned encounter (mdtrt_id), all with ``doctor``; params: tactic,
its intensity, drug, factor.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from yibao.catalog.loader import default_catalog
from yibao.synth.diagnoses import CONDITIONS
from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    by_encounter,
    defer,
    encounters,
    fee_amount,
    lines_with,
    packages,
)

PATTERN = "doctor_outlier"
CODE = "DO"
SETTINGS = ()
KIND = "modify"
DOCTORS = True

_ADDED = (k.NAOXINTONG, k.DANSHEN, k.CELECOXIB, k.RABEPRAZOLE, k.CLOPIDOGREL, k.LIANHUA)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    if not ctx.doctors:
        return tables, lab.frame()
    enc = encounters(
        tables,
        ctx,
        pl.col("atddr_no").is_in(list(ctx.doctors))
        & pl.col("kind").is_in(["outpatient", "chronic"])
        & ~pl.col("psn_no").is_in(list(ctx.taken_persons)),
    )
    by_doc = {
        key[0]: part.sort("mdtrt_id") for key, part in enc.partition_by("atddr_no", as_dict=True).items()
    }
    fee = lines_with(tables, ctx, enc.get_column("mdtrt_id"), pl.col("bilg_dr_codg").is_in(list(ctx.doctors)))
    lines_by = by_encounter(fee)
    rx_by = by_encounter(fee.filter(pl.col("rxno") != ""))  # the lines ``inflate`` scales, split once
    diag = tables["setl_list_diag_d"].join(
        enc.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left"
    )
    diag_by = by_encounter(diag)
    cal = ctx.calendar(tables, enc.get_column("psn_no").unique().to_list())
    fee_changes: list[dict[str, Any]] = []
    caty = _caty_of(tables, by_doc)
    for doctor in sorted(by_doc):
        mine = by_doc[doctor]
        habit = _habit(ctx.of_entity(doctor), _usual(caty.get(doctor, ""), ctx.year))
        tactics = habit["tactics"]
        case = lab.case(doctor)
        if "add_drug" in tactics:
            drug, share = habit["drug"], habit["drug_share"]
            if ctx.has(drug):
                params = {"tactic": "add_drug", "share": share, "drug": drug}
                for e in mine.iter_rows(named=True):
                    if rng.random() >= share or e["mdtrt_id"] not in lines_by:
                        continue
                    first = lines_by[e["mdtrt_id"]].row(0, named=True)
                    sn, _ = rows.line(
                        mdtrt_id=e["mdtrt_id"], psn_no=e["psn_no"], fixmedins_code=e["fixmedins_code"], med_list_codg=drug,
                        when=first["fee_ocur_time"], cnt=UNIT * int(rng.integers(1, 4)), pric=ctx.prices.price(drug, e["lv"]),
                        doctor=doctor, dept=first["bilg_dept_codg"], prd_days=int(rng.choice([7, 14, 30])),
                    )  # fmt: skip
                    lab.add(case, "1", params, mdtrt_id=e["mdtrt_id"], feedetl_sn=sn, psn_no=e["psn_no"],
                            fixmedins_code=e["fixmedins_code"], doctor=doctor)  # fmt: skip
        if "inflate" in tactics:
            factor = habit["factor"]
            params = {"tactic": "inflate", "factor": factor}
            for e in mine.iter_rows(named=True):
                lines = rx_by.get(e["mdtrt_id"])
                if lines is None:
                    continue
                for r in lines.iter_rows(named=True):
                    item = ctx.item(r["med_list_codg"])
                    if item is None or item.list_type != "drug":
                        continue
                    halves = int(factor * 2)  # the factor in halves: whole packages, rounded up
                    cnt = max(r["cnt"] + UNIT, -(-r["cnt"] * halves // (2 * UNIT)) * UNIT)
                    fee_changes.append(
                        {
                            "feedetl_sn": r["feedetl_sn"],
                            "cnt": cnt,
                            "det_item_fee_sumamt": fee_amount(r["pric"], cnt),
                        }
                    )
                    for _ in range(packages(cnt) - packages(r["cnt"])):
                        rows.trace(rows.trace_code(r["med_list_codg"]), r["feedetl_sn"], r["mdtrt_id"], r["med_list_codg"],
                                   r["fixmedins_code"], r["fee_ocur_time"])  # fmt: skip
                    lab.add(case, "1", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"],
                            fixmedins_code=r["fixmedins_code"], doctor=doctor)  # fmt: skip
        if "clone" in tactics:
            share = habit["clone_share"]
            params = {"tactic": "clone", "share": share}
            for e in mine.iter_rows(named=True):
                if rng.random() >= share or e["mdtrt_id"] not in lines_by:
                    continue
                shift = timedelta(days=int(rng.integers(3, 40)) * (1 if rng.random() < 0.5 else -1))
                day = (e["begntime"] + shift).date()
                if day.year != ctx.year or not cal.free(e["psn_no"], day, day):
                    continue
                mid = rows.copy_encounter(e, begntime=e["begntime"] + shift, endtime=e["endtime"] + shift)
                for d in diag_by[e["mdtrt_id"]].iter_rows(named=True) if e["mdtrt_id"] in diag_by else ():
                    rows.diag(mid, d["diag_code"], d["diag_name"], main=d["maindiag_flag"] == "1")
                for r in lines_by[e["mdtrt_id"]].iter_rows(named=True):
                    rows.copy_line(r, mdtrt_id=mid, fee_ocur_time=r["fee_ocur_time"] + shift)
                cal.book(e["psn_no"], day, day)
                lab.add(
                    case,
                    "1",
                    params,
                    mdtrt_id=mid,
                    psn_no=e["psn_no"],
                    fixmedins_code=e["fixmedins_code"],
                    doctor=doctor,
                )
    out = dict(tables)
    if fee_changes:
        out = defer(ctx, out, "fee_list_d", fee_changes, "feedetl_sn")
    return rows.added(out), lab.frame()


def _habit(rng: np.random.Generator, usual: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What one bad doctor does: each tactic with probability 0.55 (at least one), the drug added (not one
    of ``usual``, the drugs of the doctor's 科别) and on what share of visits, the quantity factor, the
    share of visits cloned.

    >>> h = _habit(np.random.default_rng(3), usual=frozenset(_ADDED[1:]))
    >>> sorted(h), h["drug"] == _ADDED[0], 0.15 <= h["drug_share"] <= 0.7
    (['clone_share', 'drug', 'drug_share', 'factor', 'tactics'], True, True)
    """
    drugs = [d for d in _ADDED if d not in usual] or list(_ADDED)
    return {
        "tactics": [t for t in ("add_drug", "inflate", "clone") if rng.random() < 0.55] or ["add_drug"],
        "drug": drugs[int(rng.integers(len(drugs)))],
        "drug_share": float(rng.uniform(0.15, 0.7)),
        "factor": float(rng.choice([1.5, 2.0, 3.0, 4.0])),
        "clone_share": float(rng.uniform(0.05, 0.4)),
    }


def _caty_of(tables: Tables, doctors: Iterable[str]) -> dict[str, str]:
    """The 科别 of each of ``doctors`` (medstaff_b → dept_b), "" where unknown."""
    staff, dept = tables.get("medstaff_b"), tables.get("dept_b")
    if staff is None or dept is None:
        return {}
    staff = staff.filter(pl.col("staff_codg").is_in(list(doctors)))  # not the region's every doctor, every chunk
    joined = staff.join(dept.select("fixmedins_code", "dept_codg", "caty"), on=["fixmedins_code", "dept_codg"], how="left")
    return {d: c or "" for d, c in joined.select("staff_codg", "caty").iter_rows()}


@cache
def _usual(caty: str, year: int) -> frozenset[str]:
    """The drugs of :data:`_ADDED` that the conditions of ``caty`` are treated with (by catalogue name).

    >>> k.CELECOXIB in _usual("A04.03", 2024), k.CELECOXIB in _usual("A05", 2024)
    (True, False)
    """
    names = {c.name: code for code in _ADDED if (c := default_catalog().get(code, date(year, 7, 1))) is not None}
    return frozenset(names[d] for cond in CONDITIONS if cond.caty == caty for d in cond.drugs if d in names)
