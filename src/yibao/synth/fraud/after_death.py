"""after_death (死亡后就医): a dead person's card keeps being used.

For persons who die during the year, 1–4 encounters are dated 1–90 days after the death date: a copy of
one of their earlier outpatient, chronic or pharmacy encounters at the same institution (a repeat
prescription collected on the card, ``copy``), or, for someone without such an encounter, a purchase
at a bad pharmacy (``new``). Copies carry new ids and new trace codes.

Before::

    P9 died 2024-08-14;  M1  P9  H…  07-20  门诊慢特病  I10.x09  苯磺酸氨氯地平片

After::

    M3AD000001  P9  H…  09-02  门诊慢特病  I10.x09  苯磺酸氨氯地平片 (a copy, 19 days after death)

Labels: one row per posthumous encounter (label 1), one case per person; params: death_date,
days_after_death, source.

Hard negative (label 0): a person who dies in hospital — a stay of the care generator ending on the day
of death with 离院方式 5 死亡: care on, not after, the death date. The stay is the person's own (labelled,
not added), so the legitimate care stays as the generator made it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    INPATIENT,
    Context,
    Labels,
    Rows,
    Tables,
    at_time,
    build_visit,
    encounters,
    institutions_of,
    lines_for,
    one,
    persons,
    rows_by,
)

PATTERN = "after_death"
CODE = "AD"
SETTINGS = ("clinic", "pharmacy")
KIND = "structure"
PERSONS = 0.15


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    dead = (
        persons(tables, ctx)
        .filter(pl.col("death_date").is_not_null() & (pl.col("death_date") < date(ctx.year, 12, 29))
                & (pl.col("death_date") >= date(ctx.year, 1, 3)))
        .sort("psn_no")
    )  # fmt: skip
    if dead.height == 0:
        return tables, lab.frame()
    order = [int(i) for i in rng.permutation(dead.height)]
    dead = dead[order]
    n_fraud = min(max(1, ctx.persons), max(1, dead.height // 2))
    fraud, others = dead.head(n_fraud), dead.slice(n_fraud)
    n_neg = max(1, round(n_fraud * rng.uniform(0.3, 0.8)))
    enc = encounters(
        tables,
        ctx,
        pl.col("psn_no").is_in(dead.get_column("psn_no").to_list()) & (pl.col("kind") != INPATIENT),
    )
    fee = lines_for(tables, ctx, enc)
    lines_by = rows_by(fee, "mdtrt_id")
    visits = rows_by(
        enc.filter(pl.col("mdtrt_id").is_in(list(lines_by))).sort("begntime", "mdtrt_id"), "psn_no"
    )
    diag = tables["setl_list_diag_d"].join(
        enc.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left"
    )
    diag_by = rows_by(diag, "mdtrt_id")
    pharmacies = institutions_of(tables, "2", among=ctx.institutions) or institutions_of(tables, "2")
    staff = ctx.staffing
    for p in fraud.iter_rows(named=True):
        death: date = p["death_date"]
        room = (date(ctx.year, 12, 31) - death).days
        times = sorted({int(rng.integers(1, min(90, room) + 1)) for _ in range(int(rng.integers(1, 5)))})
        case = lab.case()
        history = visits.get(p["psn_no"])
        for days in times:
            day = death + timedelta(days=days)
            if history:
                row = history[int(rng.integers(len(history)))]
                shift = datetime.combine(day, row["begntime"].time()) - row["begntime"]
                mid = rows.copy_encounter(
                    row, begntime=row["begntime"] + shift, endtime=row["endtime"] + shift
                )
                for d in diag_by.get(row["mdtrt_id"], []):
                    rows.diag(mid, d["diag_code"], d["diag_name"], main=d["maindiag_flag"] == "1")
                for line in lines_by[row["mdtrt_id"]]:
                    rows.copy_line(line, mdtrt_id=mid, fee_ocur_time=line["fee_ocur_time"] + shift)
                inst, doctor, source = row["fixmedins_code"], row["atddr_no"], "copy"
            elif pharmacies:
                inst, lv, _ = one(rng, pharmacies)
                doctor = staff.pharmacist(rng, inst)
                basket = k.CASHOUT_BASKETS[int(rng.integers(len(k.CASHOUT_BASKETS)))]
                built = build_visit(
                    rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="41",
                    when=at_time(day, int(rng.integers(8, 21)), int(rng.integers(60))), dx=(),
                    items=[(c, n * 10_000, 7) for c, n in basket], doctor=doctor, dept="",
                )  # fmt: skip
                mid, source = built.mdtrt_id, "new"
            else:
                continue
            lab.add(case, "1", {"death_date": death, "days_after_death": days, "source": source}, mdtrt_id=mid,
                    psn_no=p["psn_no"], fixmedins_code=inst, doctor=doctor)  # fmt: skip
    _died_in_hospital(rng, tables, ctx, lab, others, n_neg)
    return rows.added(tables), lab.frame()


def _died_in_hospital(
    rng: np.random.Generator, tables: Tables, ctx: Context, lab: Labels, people: pl.DataFrame, n: int
) -> None:
    """Label, as legitimate look-alikes, ``n`` stays of the care generator that end on the person's day
    of death with 离院方式 5 (dying in hospital is care *on* the death date, not after it)."""
    if people.height == 0:
        return
    stays = (
        encounters(tables, ctx, (pl.col("kind") == INPATIENT) & (pl.col("dscg_way") == "5"))
        .join(people.select("psn_no", "death_date"), on="psn_no", how="inner", maintain_order="left")
        .filter(pl.col("endtime").dt.date() == pl.col("death_date"))
        .sort("mdtrt_id")
    )
    stays = stays[[int(i) for i in np.sort(rng.permutation(stays.height)[:n])]]
    for stay in stays.iter_rows(named=True):
        case = lab.case()
        params = {"kind": "died_in_hospital", "death_date": stay["death_date"], "nights": int(stay["los"])}
        lab.add(case, "0", params, mdtrt_id=stay["mdtrt_id"], psn_no=stay["psn_no"],
                fixmedins_code=stay["fixmedins_code"], doctor=stay["atddr_no"])  # fmt: skip
