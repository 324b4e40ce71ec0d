"""card_cashout (空刷 / 套刷): cards swiped at a pharmacy at night for a fixed basket, many in minutes.

A bad pharmacy swipes a group of collected cards (working-age insured with personal accounts) in a
burst: 5–20 cards, one after another every 20–180 seconds, between 22:00 and 02:00, each for the same
fixed basket, hence the same amount. Some bursts scan new trace codes; others sell "uncoded stock".

Before: nothing at the pharmacy that night.

After::

    M3CC000001  P12  P…  23:41:05  连花清瘟胶囊 ×2, 阿莫西林胶囊 ×2, 布洛芬缓释胶囊 ×1  ¥103.70
    M3CC000002  P40  P…  23:42:31  the same basket                                 ¥103.70
    … 14 more

Labels: one row per swipe (label 1), one case per burst; params: cards, gap_seconds, start, basket,
amount_fen, with_codes.

Hard negatives (label 0, same pattern): an elderly chronic patient buying 6–12 packages of a chronic drug
for up to 12 weeks on a 长处方 that names the disease, sometimes with a few neighbours the same morning
(``elderly_bulk``); a shift worker buying an ordinary basket alone between 22:00 and 03:00 (``night_shift``).
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
    build_visit,
    candidates,
    fee_amount,
    institutions_of,
)

PATTERN = "card_cashout"
CODE = "CC"
SETTINGS = ("pharmacy",)
KIND = "structure"
PERSONS = 0.3

_NIGHT_SNACKS = (
    ((k.PARACETAMOL, 1),), ((k.MONTMORILLONITE, 1), (k.OMEPRAZOLE, 1)), ((k.IBUPROFEN_SR, 1),), ((k.LIANHUA, 1),),
    ((k.AMOXICILLIN, 1), (k.BANLANGEN, 1)),
)  # fmt: skip


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    staff = ctx.staffing
    bad = institutions_of(tables, "2", among=ctx.institutions)
    used: set[str] = set()
    cards_total = 0
    if bad:
        budget = max(5, ctx.persons)
        people = candidates(rng, tables, ctx, 2 * budget, min_age=20, max_age=70)
        people = people.sort(
            pl.col("insutype") != "310", maintain_order=True
        )  # employees first: they have accounts
        cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
        pool = list(people.iter_rows(named=True))
        i = 0
        while cards_total < budget and i < len(pool):
            inst, lv, _ = bad[int(rng.integers(len(bad)))]
            cards = int(rng.integers(5, 21))
            day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 360)))
            start = at_time(day, 22, 0) + timedelta(minutes=int(rng.integers(0, 240)))
            if start.year != ctx.year:
                continue
            group: list[dict[str, Any]] = []
            while i < len(pool) and len(group) < cards:
                p = pool[i]
                i += 1
                if (p["death_date"] is None or p["death_date"] > start.date()) and cal.free(
                    p["psn_no"], start.date(), start.date()
                ):
                    group.append(p)
            if len(group) < 5:
                break
            basket = k.CASHOUT_BASKETS[int(rng.integers(len(k.CASHOUT_BASKETS)))]
            basket = tuple((c, n) for c, n in basket if ctx.has(c))
            if not basket:
                break
            prices = {c: ctx.prices.price(c, lv) for c, _ in basket}
            amount = sum(fee_amount(prices[c], n * UNIT) for c, n in basket)
            gap = int(rng.integers(20, 181))
            with_codes = rng.random() < 0.7
            pharmacist = staff.pharmacist(rng, inst)
            case = lab.case()
            params = {
                "cards": len(group), "gap_seconds": gap, "start": start, "basket": [c for c, _ in basket],
                "amount_fen": amount, "with_codes": with_codes,
            }  # fmt: skip
            t: datetime = start
            for p in group:
                built = build_visit(
                    rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="41", when=t, dx=(),
                    items=[(c, n * UNIT, 7) for c, n in basket], doctor=pharmacist, pric=prices,
                )  # fmt: skip
                if not with_codes:
                    _drop_codes(rows, built.mdtrt_id)
                cal.book(p["psn_no"], t.date(), t.date())
                used.add(p["psn_no"])
                lab.add(
                    case,
                    "1",
                    params,
                    mdtrt_id=built.mdtrt_id,
                    psn_no=p["psn_no"],
                    fixmedins_code=inst,
                    doctor=pharmacist,
                )
                t += timedelta(seconds=gap + int(rng.integers(-10, 11)))
            cards_total += len(group)
    n_neg = max(2, round(max(cards_total, 10) / 10 * rng.uniform(0.5, 1.5)))
    _elderly_bulk(rng, tables, ctx, rows, lab, staff, n_neg, used)
    _night_shift(rng, tables, ctx, rows, lab, staff, n_neg, used)
    return rows.added(tables), lab.frame()


def _drop_codes(rows: Rows, mdtrt_id: str) -> None:
    rows.rows["drug_trac_d"] = [r for r in rows.rows["drug_trac_d"] if r["mdtrt_id"] != mdtrt_id]


def _elderly_bulk(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    n: int,
    used: set[str],
) -> None:
    pharmacies = institutions_of(tables, "2")
    drugs = [(c, d) for c, d in k.CHRONIC_DRUGS if ctx.has(c)]
    if not pharmacies or not drugs:
        return
    people = candidates(rng, tables, ctx, 3 * n, min_age=65, where=~pl.col("psn_no").is_in(list(used)))
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    pool = [p for p in people.iter_rows(named=True)]
    i = 0
    done = 0
    while done < n and i < len(pool):
        inst, lv, _ = pharmacies[int(rng.integers(len(pharmacies)))]
        day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 355)))
        neighbours = int(rng.integers(1, 6)) if rng.random() < 0.4 else 1
        start = at_time(day, int(rng.integers(8, 11)), int(rng.integers(60)))
        case = lab.case()
        pharmacist = staff.pharmacist(rng, inst)
        placed = 0
        while placed < neighbours and i < len(pool):
            p = pool[i]
            i += 1
            if (p["death_date"] is not None and p["death_date"] <= day) or not cal.free(
                p["psn_no"], day, day
            ):
                continue
            code, dx0 = drugs[int(rng.integers(len(drugs)))]
            boxes = int(rng.integers(6, 13))
            weeks = int(rng.integers(8, 13))
            built = build_visit(  # a 长处方 filled at the pharmacy: the prescription names the chronic disease
                rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="41",
                when=start + timedelta(minutes=int(rng.integers(0, 120))), dx=[k.dx(dx0)],
                items=[(code, boxes * UNIT, 7 * weeks)], doctor=pharmacist,
            )  # fmt: skip
            cal.book(p["psn_no"], day, day)
            used.add(p["psn_no"])
            lab.add(case, "0", {"kind": "elderly_bulk", "packages": boxes, "weeks": weeks, "neighbours": neighbours},
                    mdtrt_id=built.mdtrt_id, psn_no=p["psn_no"], fixmedins_code=inst, doctor=pharmacist)  # fmt: skip
            placed += 1
            done += 1


def _night_shift(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    staff: Staffing,
    n: int,
    used: set[str],
) -> None:
    pharmacies = institutions_of(tables, "2")
    if not pharmacies:
        return
    people = candidates(
        rng, tables, ctx, 3 * n, min_age=20, max_age=55, where=~pl.col("psn_no").is_in(list(used))
    )
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        day = date(ctx.year, 1, 2) + timedelta(days=int(rng.integers(0, 355)))
        t = at_time(day, 22, 0) + timedelta(minutes=int(rng.integers(0, 300)))
        if (p["death_date"] is not None and p["death_date"] <= t.date()) or not cal.free(
            p["psn_no"], t.date(), t.date()
        ):
            continue
        inst, lv, _ = pharmacies[int(rng.integers(len(pharmacies)))]
        basket = _NIGHT_SNACKS[int(rng.integers(len(_NIGHT_SNACKS)))]
        pharmacist = staff.pharmacist(rng, inst)
        built = build_visit(
            rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="41", when=t, dx=(),
            items=[(c, m * UNIT, 3) for c, m in basket], doctor=pharmacist,
        )  # fmt: skip
        cal.book(p["psn_no"], t.date(), t.date())
        case = lab.case()
        lab.add(case, "0", {"kind": "night_shift", "time": t}, mdtrt_id=built.mdtrt_id, psn_no=p["psn_no"],
                fixmedins_code=inst, doctor=pharmacist)  # fmt: skip
        done += 1
