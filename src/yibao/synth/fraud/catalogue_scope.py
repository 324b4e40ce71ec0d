"""catalogue_scope (非医保目录 / 不予支付): care the fund does not pay for, billed as care it pays for.

* ``supplement`` — a bad pharmacy sells a 丙类 product (多维元素片, 维生素E软胶囊: health supplements the
  fund never pays) and bills it as an in-list drug (维生素C片): the scanned trace codes are the supplement's;
* ``cosmetic`` — a bad clinic or hospital does a cosmetic treatment (激光祛斑 for 黄褐斑, 丙类) and bills
  it as payable physiotherapy (超短波治疗) a few sessions at a time, under the cosmetic diagnosis.

Before: nothing.

After (supplement)::

    M3CS000001  P21  P…  维生素C片 × 3   codes with the 多维元素片 product prefix

Labels: one row per billed line (label 1; one per trace code for a supplement); params: variant, done
(the out-of-scope item), billed.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from yibao.catalog.trace import product_prefix
from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    at_time,
    candidates,
    institutions_of,
)

PATTERN = "catalogue_scope"
CODE = "CS"
SETTINGS = ("pharmacy", "clinic")
KIND = "add"
PERSONS = 0.1


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
    return rows.added(tables), lab.frame()
