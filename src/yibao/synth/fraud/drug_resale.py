"""drug_resale (回流药 / 倒卖): drugs a patient was dispensed come back and are sold again.

A seller (an insured person who bought or was prescribed drugs) sells them on; 3–90 days later a bad
pharmacy — another one, often in another region when the data has one — sells the same packages to
another insured buyer: a pharmacy sale whose trace codes are the seller's. In the ``repeat`` disguise the
same codes are sold 2–4 times (a village clinic settling one code eight times).

Before::

    M1  P3  H…       03-02  阿托伐他汀钙片 × 2   codes 8…001, 8…002

After::

    M1          P3   H…      03-02  阿托伐他汀钙片 × 2   codes 8…001, 8…002
    M3DR000001  P77  P…(990200)  04-18  阿托伐他汀钙片 × 2   codes 8…001, 8…002   (the same codes)

Labels: one row per trace code per settlement (label 1): the first sale (role "first_sale", psn_no the
seller) and every resale (role "resale", psn_no the buyer); one case per seller; params: role,
delay_days, resales, other_region.

Hard negative (label 0): a return and resale — a pharmacy sells a package, the customer returns it
(a drug_trac_d row with retn_flag 1 a few days later) and the pharmacy sells the same package to
someone else: the code is settled once net of the return. (The first sale's fee line stays: refunds are
reversals of a settlement, which the dataset records in setl_d, not in fee_list_d.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Staffing,
    Tables,
    at_time,
    candidates,
    codes_of,
    encounters,
    institutions_of,
    lines_for,
    rows_by,
)

PATTERN = "drug_resale"
CODE = "DR"
SETTINGS = ("pharmacy",)
KIND = "structure"
PERSONS = 0.15


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    staff = ctx.staffing
    all_pharmacies = institutions_of(tables, "2")
    bad_codes = set(ctx.institutions)
    bad = [p for p in all_pharmacies if p[0] in bad_codes]
    admdvs_of = {c: a for c, _, a in all_pharmacies}
    n = ctx.persons if bad else 0
    sold = 0
    if n:
        sample = encounters(
            tables,
            ctx,
            pl.col("kind").is_in(["outpatient", "chronic", "pharmacy"])
            & ~pl.col("psn_no").is_in(list(ctx.taken_persons))
            & (pl.col("begntime") < pl.datetime(ctx.year, 12, 1)),
        )
        sample = sample[
            [
                int(i)
                for i in np.sort(rng.choice(sample.height, size=min(sample.height, 8 * n), replace=False))
            ]
        ]
        drug_lines = (
            lines_for(tables, ctx, sample)
            .filter(pl.col("rxno") != "")
            .select("feedetl_sn", "psn_no", "pric", "prd_days", "fee_ocur_time", "fixmedins_code")
        )
        sellers = drug_lines.get_column("psn_no").unique().sort()
        chosen = sellers.gather(rng.permutation(sellers.len())[: 2 * n]).to_list() if sellers.len() else []
        mine_lines = drug_lines.filter(pl.col("psn_no").is_in(chosen))
        scans = codes_of(tables, ctx, mine_lines)  # clean codes are never settled twice
        codes_ = (
            scans.filter(pl.col("retn_flag") == "0")
            .join(mine_lines.drop("fixmedins_code"), on="feedetl_sn", maintain_order="left")
            .sort("fee_ocur_time", "feedetl_sn", "drug_trac_codg")
        )
        by_seller = rows_by(codes_, "psn_no")
        chosen = [c for c in chosen if c in by_seller][:n]
        buyers = candidates(rng, tables, ctx, 4 * n + 10, min_age=18, where=~pl.col("psn_no").is_in(chosen))
        cal = ctx.calendar(tables, buyers.get_column("psn_no").to_list())
        buyer_rows = list(buyers.iter_rows(named=True))
        b = 0
        for seller in chosen:
            by_line: dict[str, list[dict[str, Any]]] = {}
            for r in by_seller[seller]:
                by_line.setdefault(r["feedetl_sn"], []).append(r)
            lines = list(by_line)
            keep = [lines[int(i)] for i in rng.permutation(len(lines))[: int(rng.integers(1, 4))]]
            resales = int(rng.integers(2, 5)) if rng.random() < 0.2 else 1
            case = lab.case()
            for sn in keep:
                first = by_line[sn][0]
                origin = first["fixmedins_code"]
                elsewhere = [p for p in bad if p[0] != origin]
                if not elsewhere:
                    continue
                home = admdvs_of.get(origin, "")
                other_region = [p for p in elsewhere if p[2] != home]
                pool = other_region if other_region and rng.random() < 0.5 else elsewhere
                inst, lv, adm = pool[int(rng.integers(len(pool)))]
                sold_codes = [r["drug_trac_codg"] for r in by_line[sn]]
                rows_first = [(c, first) for c in sold_codes]
                when = first["fee_ocur_time"]
                placed = []
                for _ in range(resales):
                    when = when + timedelta(days=int(rng.integers(3, 91)))
                    if when.year != ctx.year:
                        break
                    while b < len(buyer_rows) and not (
                        cal.free(buyer_rows[b]["psn_no"], when.date(), when.date())
                        and (buyer_rows[b]["death_date"] is None or buyer_rows[b]["death_date"] > when.date())
                    ):
                        b += 1
                    if b >= len(buyer_rows):
                        break
                    buyer = buyer_rows[b]
                    b += 1
                    t = at_time(
                        when.date(), int(rng.integers(8, 21)), int(rng.integers(60)), int(rng.integers(60))
                    )
                    pharmacist = staff.pharmacist(rng, inst)
                    mid = rows.encounter(
                        psn_no=buyer["psn_no"], fixmedins_code=inst, med_type="41", begntime=t, endtime=t, diag=("", ""),
                        dept_codg="", atddr_no=pharmacist, insutype=buyer["insutype"],
                    )  # fmt: skip
                    line_sn, _ = rows.line(
                        mdtrt_id=mid, psn_no=buyer["psn_no"], fixmedins_code=inst, med_list_codg=first["med_list_codg"],
                        when=t, cnt=UNIT * len(sold_codes), pric=ctx.prices.price(first["med_list_codg"], lv) or first["pric"],
                        doctor=pharmacist, prd_days=first["prd_days"], codes_=False,
                    )  # fmt: skip
                    for c in sold_codes:
                        rows.trace(c, line_sn, mid, first["med_list_codg"], inst, t)
                    cal.book(buyer["psn_no"], t.date(), t.date())
                    placed.append((mid, line_sn, buyer["psn_no"], t, adm))
                if not placed:
                    continue
                sold += 1
                base = {
                    "resales": len(placed),
                    "other_region": placed[0][4] != home,
                }
                for c, f in rows_first:
                    lab.add(case, "1", {**base, "role": "first_sale"}, mdtrt_id=f["mdtrt_id"], feedetl_sn=f["feedetl_sn"],
                            psn_no=seller, fixmedins_code=origin, drug_trac_codg=c)  # fmt: skip
                    for mid, line_sn, buyer_no, t, _ in placed:
                        lab.add(case, "1", {**base, "role": "resale", "delay_days": (t.date() - f["fee_ocur_time"].date()).days},
                                mdtrt_id=mid, feedetl_sn=line_sn, psn_no=buyer_no, fixmedins_code=inst, drug_trac_codg=c)  # fmt: skip
    _return_and_resale(
        rng,
        tables,
        ctx,
        rows,
        lab,
        staff,
        all_pharmacies,
        max(1, round(max(sold, 1) * rng.uniform(0.3, 0.8))),
    )
    return rows.added(tables), lab.frame()


_RESOLD = (
    "XC10AAZ046A001010179788",
    "XC08CAZ037A004010198715",
    "XA02BCH060A011010168513",
    "XB01ACF050A002010101715",
)


def _return_and_resale(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    pharmacies: list[tuple[str, str, str]],
    n: int,
) -> None:
    if not pharmacies:
        return
    people = candidates(rng, tables, ctx, 6 * n, min_age=18)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    pool = list(people.iter_rows(named=True))
    i = 0
    for _ in range(n):
        drug = _RESOLD[int(rng.integers(len(_RESOLD)))]
        if not ctx.has(drug):
            continue
        inst, lv, _ = pharmacies[int(rng.integers(len(pharmacies)))]
        day = ctx.first_day.date() + timedelta(days=int(rng.integers(5, 330)))
        back = day + timedelta(days=int(rng.integers(1, 6)))
        again = back + timedelta(days=int(rng.integers(1, 20)))
        pair: list[dict[str, Any]] = []
        while i < len(pool) and len(pair) < 2:
            p = pool[i]
            i += 1
            d = day if not pair else again
            alive = p["death_date"] is None or p["death_date"] > again
            if alive and cal.free(p["psn_no"], d, d):
                pair.append(p)
        if len(pair) < 2:
            return
        a, b = pair
        case = lab.case()
        params = {
            "kind": "return_and_resale",
            "returned_after_days": (back - day).days,
            "resold_after_days": (again - back).days,
        }
        t1 = at_time(day, int(rng.integers(8, 20)), int(rng.integers(60)))
        ph = staff.pharmacist(rng, inst)
        m1 = rows.encounter(psn_no=a["psn_no"], fixmedins_code=inst, med_type="41", begntime=t1, endtime=t1, diag=("", ""),
                            dept_codg="", atddr_no=ph, insutype=a["insutype"])  # fmt: skip
        sn1, codes_ = rows.line(mdtrt_id=m1, psn_no=a["psn_no"], fixmedins_code=inst, med_list_codg=drug, when=t1, cnt=UNIT,
                                pric=ctx.prices.price(drug, lv), doctor=ph, prd_days=30)  # fmt: skip
        code = codes_[0]
        t2 = at_time(back, int(rng.integers(8, 20)), int(rng.integers(60)))
        rows.trace(code, sn1, m1, drug, inst, t2, retn_flag="1")
        t3 = at_time(again, int(rng.integers(8, 20)), int(rng.integers(60)))
        m3 = rows.encounter(psn_no=b["psn_no"], fixmedins_code=inst, med_type="41", begntime=t3, endtime=t3, diag=("", ""),
                            dept_codg="", atddr_no=ph, insutype=b["insutype"])  # fmt: skip
        sn3, _ = rows.line(mdtrt_id=m3, psn_no=b["psn_no"], fixmedins_code=inst, med_list_codg=drug, when=t3, cnt=UNIT,
                           pric=ctx.prices.price(drug, lv), doctor=ph, prd_days=30, codes_=False)  # fmt: skip
        rows.trace(code, sn3, m3, drug, inst, t3)
        cal.book(a["psn_no"], day, day)
        cal.book(b["psn_no"], again, again)
        lab.add(case, "0", {**params, "role": "sale"}, mdtrt_id=m1, feedetl_sn=sn1, psn_no=a["psn_no"], fixmedins_code=inst,
                drug_trac_codg=code)  # fmt: skip
        lab.add(case, "0", {**params, "role": "return"}, mdtrt_id=m1, feedetl_sn=sn1, psn_no=a["psn_no"], fixmedins_code=inst,
                drug_trac_codg=code)  # fmt: skip
        lab.add(case, "0", {**params, "role": "resale"}, mdtrt_id=m3, feedetl_sn=sn3, psn_no=b["psn_no"], fixmedins_code=inst,
                drug_trac_codg=code)  # fmt: skip
