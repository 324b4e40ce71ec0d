"""item_swap (虚记支架): a coronary stent billed that was never implanted.

supervision.md §1.2 (冠脉支架无住院 / 支架后无抗血小板药): a phantom stent leaves two traces a real one does
not — it is billed where no stay is, or no antiplatelet drug follows it. At a bad 二级/三级 hospital:

* ``phantom_stay`` — a clean medical stay of a heart patient (main diagnosis I10–I59, no operation) who
  takes no antiplatelet (nor any other B01A drug) all year gets 1–2 冠状动脉药物洗脱支架 on a day of the
  stay, disguised in one of three ways (``disguise``): with the 经皮冠状动脉支架置入术 line and an
  operation record 36.0601 (``full``), with the PCI line only (``no_record``), or with the operation
  record only (``consumable_only``) — so the consumable-without-procedure rule (R-LINK-01) does not
  already see it; no antiplatelet is billed (R-STENT-02);
* ``outpatient_stent`` — a stent line added to an outpatient visit of a heart patient at a bad hospital
  where the person has no stay within two days (R-STENT-01; the visit may well carry aspirin).

Before::

    M1  H5 (三级)  I10.x09 高血压  03-01 → 03-07   床位费, 护理, 硝苯地平控释片 …

After (phantom_stay, full)::

    M1  H5  03-01 → 03-07   … + 经皮冠状动脉支架置入术, 冠状动脉药物洗脱支架 ×1, operation 36.0601
        (the person buys no antiplatelet anywhere)   → R-STENT-02

Labels: one row per added line (label 1), one case per encounter; params: variant, disguise, stents,
level, day.

Hard negatives (label 0, one case each):

* ``pharmacy_antiplatelet`` — a real PCI stay (new, at a 二级+ hospital) with no antiplatelet billed in it,
  whose patient buys clopidogrel (and aspirin) at a pharmacy 0–20 days after discharge: the stent and
  PCI lines and the purchase are labelled;
* ``died_in_stay`` — a clean stay ending in death (离院方式 5) in which a PCI and a stent were done on its
  first day, without antiplatelets (the patient died before discharge medication);
* ``billed_after_discharge`` — a real PCI stay with its dual antiplatelet therapy whose stent is billed
  on an outpatient account at the same hospital 2–22 hours after discharge (the consignment stent's
  invoice came late): the outpatient stent line is labelled (R-STENT-01 and R-LINK-01 take it as the
  stay's).

This injector runs after every other pattern (so it sees every antiplatelet they add) and, as a
``modify`` pattern, only touches encounters no pattern has named.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.codes import med_types
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
    build_visit,
    candidates,
    encounters,
    institutions_of,
    levels,
    wards,
)
from yibao.synth.fraud._legitimate import usual_place

PATTERN = "item_swap"
CODE = "PS"
SETTINGS = ("ward",)
KIND = "modify"
SHARE = (0.05, 0.25)
"""Share of a bad hospital's eligible heart stays given a phantom stent."""
OUT_SHARE = (0.002, 0.02)
"""Share of a bad hospital's eligible heart-patient visits given an outpatient stent line."""
HEART = ("I1", "I2", "I3", "I4", "I5")
"""Main-diagnosis prefixes of a heart patient (I10–I59)."""
B01A = "XB01A"
"""Code prefix of the antithrombotic drugs (ATC B01A): a phantom patient takes none all year, so no
drug swap within the group can give him one."""
DISGUISES = (("full", 0.5), ("no_record", 0.3), ("consumable_only", 0.2))
PCI_OPRN = "36.0601"


class _Labels(Labels):
    """Case ids of their own (``C<chunk>-item_swap-S00001``): item_swap.py numbers the pattern's others."""

    def case(self, actor: str = "") -> str:
        if actor:
            return super().case(actor)
        self._cases += 1
        return f"C{self.ctx.chunk}-{self.ctx.pattern}-S{self._cases:05d}"


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = _Labels(ctx)
    rows = Rows(ctx)
    if not ctx.has(k.STENT, k.PCI, k.ASPIRIN, k.CLOPIDOGREL):
        return tables, lab.frame()
    lv_of = levels(tables)
    mine = [c for c in ctx.institutions if lv_of.get(c, "1") >= "2"]
    antithrombotic = set(
        tables["fee_list_d"]
        .filter(pl.col("med_list_codg").str.starts_with(B01A))
        .get_column("psn_no")
        .unique()
        .to_list()
    )
    n = _phantom_stays(rng, tables, ctx, rows, lab, mine, lv_of, antithrombotic) if mine else 0
    n += _outpatient_stents(rng, tables, ctx, rows, lab, mine, lv_of) if mine else 0
    m = min(max(1, round(max(n, 3) * float(rng.uniform(0.2, 0.4)))), ctx.cap("inpatient", 0.02))
    used: set[str] = set()
    _pharmacy_antiplatelet(rng, tables, ctx, rows, lab, m, antithrombotic, used)
    _died_in_stay(rng, tables, ctx, rows, lab, m, lv_of)
    _billed_after_discharge(rng, tables, ctx, rows, lab, m, used)
    return rows.added(tables), lab.frame()


def _line(rows: Rows, ctx: Context, r: dict[str, Any], code: str, when: datetime, cnt: int, lv: str) -> str:
    sn, _ = rows.line(mdtrt_id=r["mdtrt_id"], psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], med_list_codg=code,
                      when=when, cnt=cnt, pric=ctx.prices.price(code, lv), doctor=r["atddr_no"], dept=r["dept_codg"])  # fmt: skip
    return sn


def _phantom_stays(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, mine: list[str],
    lv_of: dict[str, str], antithrombotic: set[str],
) -> int:  # fmt: skip
    operated = tables["setl_list_oprn_d"].get_column("mdtrt_id").unique()
    stays = (
        encounters(
            tables,
            ctx,
            (pl.col("kind") == INPATIENT)
            & pl.col("fixmedins_code").is_in(mine)
            & (pl.col("los") >= 2)
            & pl.col("dscg_maindiag_code").str.slice(0, 2).is_in(list(HEART))
            & (pl.col("dscg_way") != "5"),
        )
        .filter(~pl.col("mdtrt_id").is_in(operated.implode()) & ~pl.col("psn_no").is_in(list(antithrombotic)))
        .join(
            tables["psn_info_b"].select("psn_no", "death_date"),
            on="psn_no",
            how="left",
            maintain_order="left",
        )
        .filter(
            pl.col("death_date").is_null()
            | (pl.col("death_date") > pl.col("endtime").dt.date() + timedelta(days=45))
        )
        .unique("psn_no", keep="first", maintain_order=True)
        .sort("mdtrt_id")
    )
    done = 0
    for inst, group in sorted(stays.partition_by("fixmedins_code", as_dict=True).items()):
        share = float(rng.uniform(*SHARE))
        picked = _some(rng, group, ctx.cases(group.height, share, kind="inpatient", weight=0.1,
                                             most=max(1, group.height // 2)))  # fmt: skip
        for r in picked.iter_rows(named=True):
            lv = lv_of.get(str(inst[0]), "2")
            disguise = DISGUISES[int(rng.choice(len(DISGUISES), p=[p for _, p in DISGUISES]))][0]
            day = int(rng.integers(0, max(1, min(3, int(r["los"])))))
            when = max(at_time(r["begntime"].date() + timedelta(days=day), int(rng.integers(9, 16)), int(rng.integers(60))),
                       r["begntime"] + timedelta(minutes=30))  # fmt: skip
            when = min(when, r["endtime"] - timedelta(minutes=30))
            stents = 1 if rng.random() < 0.7 else 2
            added = [_line(rows, ctx, r, k.STENT, when + timedelta(minutes=10), stents * UNIT, lv)]
            if disguise != "consumable_only":
                added.append(_line(rows, ctx, r, k.PCI, when, UNIT, lv))
            if disguise != "no_record":
                rows.oprn(r["mdtrt_id"], PCI_OPRN, k.OPRN[PCI_OPRN], when.date(), main=True)
            params = {
                "variant": "phantom_stay",
                "disguise": disguise,
                "stents": stents,
                "level": lv,
                "day": day,
            }
            case = lab.case()
            for sn in added:
                lab.add(case, "1", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=sn, psn_no=r["psn_no"],
                        fixmedins_code=r["fixmedins_code"], doctor=r["atddr_no"])  # fmt: skip
            done += 1
    return done


def _some(rng: np.random.Generator, group: pl.DataFrame, k: int) -> pl.DataFrame:
    """``k`` rows of ``group`` drawn without replacement, in the group's order."""
    if not k:
        return group.head(0)
    return group[[int(i) for i in np.sort(rng.choice(group.height, size=k, replace=False))]]


def _outpatient_stents(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, mine: list[str],
    lv_of: dict[str, str],
) -> int:  # fmt: skip
    visits = encounters(
        tables, ctx,
        (pl.col("kind") == "outpatient") & pl.col("fixmedins_code").is_in(mine)
        & pl.col("dscg_maindiag_code").str.slice(0, 2).is_in(list(HEART)),
    ).sort("mdtrt_id")  # fmt: skip
    if visits.height == 0:
        return 0
    stays = tables["mdtrt_d"].filter(
        pl.col("med_type").is_in(list(med_types("inpatient")))
        & pl.col("psn_no").is_in(visits.get_column("psn_no").unique().implode())
    )
    near = (
        visits.select("mdtrt_id", "psn_no", "fixmedins_code", "begntime")
        .join(
            stays.select(
                "psn_no", "fixmedins_code", pl.col("begntime").alias("a"), pl.col("endtime").alias("b")
            ),
            on=["psn_no", "fixmedins_code"],
        )
        .filter(
            (pl.col("a") <= pl.col("begntime") + timedelta(days=2))
            & (pl.col("b") >= pl.col("begntime") - timedelta(days=2))
        )
        .get_column("mdtrt_id")
    )
    visits = visits.filter(~pl.col("mdtrt_id").is_in(near.implode())).unique(
        "psn_no", keep="first", maintain_order=True
    )
    done = 0
    for inst, group in sorted(visits.partition_by("fixmedins_code", as_dict=True).items()):
        share = float(rng.uniform(*OUT_SHARE))
        picked = _some(rng, group, ctx.cases(group.height, share, kind="outpatient", weight=0.005,
                                             most=max(1, group.height // 4)))  # fmt: skip
        for r in picked.iter_rows(named=True):
            lv = lv_of.get(str(inst[0]), "2")
            when = min(
                r["begntime"] + timedelta(minutes=int(rng.integers(3, 20))), max(r["endtime"], r["begntime"])
            )
            stents = 1 if rng.random() < 0.85 else 2
            sn = _line(rows, ctx, r, k.STENT, when, stents * UNIT, lv)
            case = lab.case()
            lab.add(case, "1", {"variant": "outpatient_stent", "stents": stents, "level": lv, "med_type": r["med_type"]},
                    mdtrt_id=r["mdtrt_id"], feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                    doctor=r["atddr_no"])  # fmt: skip
            done += 1
    return done


def _pci_stay(
    rng: np.random.Generator, rows: Rows, ctx: Context, p: dict[str, Any], inst: str, lv: str, a: date, nights: int,
    dx: str,
) -> tuple[Any, str, str, datetime]:  # fmt: skip
    """A real PCI stay of ``nights`` from day ``a`` (procedure on the first day), without its antiplatelets."""
    doctor, dept = ctx.staffing.doctor(rng, inst, ("03",))
    begin = at_time(a, int(rng.integers(7, 12)), int(rng.integers(60)))
    built = build_stay(
        rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, begin=begin, days=nights, dx=[k.dx(dx)],
        doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND), first_day=(k.ECG, k.CBC, k.CREATININE),
        extra=((k.PCI, 1, UNIT), (k.STENT, 1, UNIT)), oprn=((PCI_OPRN, k.OPRN[PCI_OPRN], 1),),
        bed=f"{dept}-{int(rng.integers(1, 40)):02d}",
    )  # fmt: skip
    end = datetime.combine(a + timedelta(days=nights), time(10, begin.minute))
    return built, doctor, dept, end


def _people(
    rng: np.random.Generator, tables: Tables, ctx: Context, n: int, antithrombotic: set[str]
) -> pl.DataFrame:
    return candidates(rng, tables, ctx, 6 * n, min_age=45, max_age=85, alive_until=date(ctx.year, 12, 31),
                      where=~pl.col("psn_no").is_in(list(antithrombotic)))  # fmt: skip


def _pharmacy_antiplatelet(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int,
    antithrombotic: set[str], used: set[str],
) -> None:  # fmt: skip
    hospitals = wards(tables, min_lv="2")
    pharmacies = institutions_of(tables, "2")
    if not hospitals or not pharmacies:
        return
    people = _people(rng, tables, ctx, n, antithrombotic)
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        nights = int(rng.integers(3, 8))
        a = date(ctx.year, 1, 5) + timedelta(days=int(rng.integers(0, 300)))
        gap = int(rng.integers(0, 21))
        buy = a + timedelta(days=nights + gap)
        if not cal.free(p["psn_no"], a - timedelta(days=1), a + timedelta(days=nights + 1)) or not cal.free(
            p["psn_no"], buy, buy
        ):
            continue
        inst, lv = usual_place(rng, tables, ctx, hospitals)
        built, doctor, _, end = _pci_stay(
            rng, rows, ctx, p, inst, lv, a, nights, "I20.000" if rng.random() < 0.5 else "I25.103"
        )
        shop, shop_lv, _ = pharmacies[int(rng.integers(len(pharmacies)))]
        items = [(k.CLOPIDOGREL, 2 * UNIT, 14)] + ([(k.ASPIRIN, UNIT, 30)] if rng.random() < 0.7 else [])
        when = max(at_time(buy, int(rng.integers(9, 21)), int(rng.integers(60))), end + timedelta(hours=1))
        sale = build_visit(rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=shop, lv=shop_lv, med_type="41", when=when,
                           dx=(), items=items, doctor=ctx.staffing.pharmacist(rng, shop), dept="")  # fmt: skip
        cal.book(p["psn_no"], a, a + timedelta(days=nights))
        cal.book(p["psn_no"], when.date(), when.date())
        used.add(p["psn_no"])
        case = lab.case()
        params = {
            "kind": "pharmacy_antiplatelet",
            "stay": built.mdtrt_id,
            "pharmacy": shop,
            "days_after_discharge": gap,
        }
        for sn in built.lines:
            if built.item_of[sn] in (k.STENT, k.PCI):
                lab.add(case, "0", params, mdtrt_id=built.mdtrt_id, feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst,
                        doctor=doctor)  # fmt: skip
        for sn in sale.lines:
            lab.add(
                case,
                "0",
                params,
                mdtrt_id=sale.mdtrt_id,
                feedetl_sn=sn,
                psn_no=p["psn_no"],
                fixmedins_code=shop,
            )
        done += 1


def _died_in_stay(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    n: int,
    lv_of: dict[str, str],
) -> None:
    operated = tables["setl_list_oprn_d"].get_column("mdtrt_id").unique()
    stays = (
        encounters(
            tables, ctx, (pl.col("kind") == INPATIENT) & (pl.col("dscg_way") == "5") & (pl.col("lv") >= "2")
        )
        .filter(~pl.col("mdtrt_id").is_in(operated.implode()))
        .join(
            tables["psn_info_b"].select("psn_no", "death_date"),
            on="psn_no",
            how="inner",
            maintain_order="left",
        )
        .filter(pl.col("endtime").dt.date() == pl.col("death_date"))
        .sort("mdtrt_id")
    )
    heart = stays.filter(pl.col("dscg_maindiag_code").str.slice(0, 2).is_in(list(HEART)))
    stays = heart if heart.height >= n else stays
    for r in stays[[int(i) for i in np.sort(rng.permutation(stays.height)[:n])]].iter_rows(named=True):
        lv = lv_of.get(r["fixmedins_code"], "2")
        when = min(
            r["begntime"] + timedelta(hours=int(rng.integers(1, 6))), r["endtime"] - timedelta(minutes=30)
        )
        if when <= r["begntime"]:
            continue
        added = [
            _line(rows, ctx, r, k.PCI, when, UNIT, lv),
            _line(rows, ctx, r, k.STENT, when + timedelta(minutes=10), UNIT, lv),
        ]
        rows.oprn(r["mdtrt_id"], PCI_OPRN, k.OPRN[PCI_OPRN], when.date(), main=True)
        case = lab.case()
        params = {"kind": "died_in_stay", "death_date": r["death_date"], "nights": int(r["los"])}
        for sn in added:
            lab.add(case, "0", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=sn, psn_no=r["psn_no"],
                    fixmedins_code=r["fixmedins_code"], doctor=r["atddr_no"])  # fmt: skip


def _billed_after_discharge(
    rng: np.random.Generator, tables: Tables, ctx: Context, rows: Rows, lab: Labels, n: int, used: set[str]
) -> None:
    hospitals = wards(tables, min_lv="2")
    if not hospitals:
        return
    people = candidates(rng, tables, ctx, 6 * n, min_age=45, max_age=85, alive_until=date(ctx.year, 12, 31),
                        where=~pl.col("psn_no").is_in(list(used)))  # fmt: skip
    cal = ctx.calendar(tables, people.get_column("psn_no").to_list())
    done = 0
    for p in people.iter_rows(named=True):
        if done >= n:
            break
        nights = int(rng.integers(3, 8))
        a = date(ctx.year, 1, 5) + timedelta(days=int(rng.integers(0, 320)))
        if not cal.free(p["psn_no"], a - timedelta(days=1), a + timedelta(days=nights + 2)):
            continue
        inst, lv = usual_place(rng, tables, ctx, hospitals)
        doctor, dept = ctx.staffing.doctor(rng, inst, ("03",))
        begin = at_time(a, int(rng.integers(7, 12)), int(rng.integers(60)))
        built = build_stay(
            rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, begin=begin, days=nights,
            dx=[k.dx("I20.000")], doctor=doctor, dept=dept, daily=(k.BED, k.NURSE_2, k.WARD_ROUND),
            first_day=(k.ECG, k.CBC, k.CREATININE), extra=((k.PCI, 1, UNIT),), oprn=((PCI_OPRN, k.OPRN[PCI_OPRN], 1),),
            bed=f"{dept}-{int(rng.integers(1, 40)):02d}",
        )  # fmt: skip
        end = datetime.combine(a + timedelta(days=nights), time(10, begin.minute))
        last = end - timedelta(hours=2)
        for code, cnt, days in ((k.ASPIRIN, UNIT, 30), (k.CLOPIDOGREL, 2 * UNIT, 14)):  # 出院带药
            rows.line(mdtrt_id=built.mdtrt_id, psn_no=p["psn_no"], fixmedins_code=inst, med_list_codg=code, when=last, cnt=cnt,
                      pric=ctx.prices.price(code, lv), doctor=doctor, dept=dept, prd_days=days)  # fmt: skip
        hours = int(rng.integers(2, 23))
        visit = build_visit(rows, psn_no=p["psn_no"], insutype=p["insutype"], inst=inst, lv=lv, med_type="11",
                            when=end + timedelta(hours=hours), dx=[k.dx("I20.000")], items=[(k.STENT, UNIT, 0)],
                            doctor=doctor, dept=dept)  # fmt: skip
        cal.book(p["psn_no"], a, (end + timedelta(hours=hours)).date())
        case = lab.case()
        params = {"kind": "billed_after_discharge", "stay": built.mdtrt_id, "hours_after_discharge": hours}
        for sn in visit.lines:
            lab.add(case, "0", params, mdtrt_id=visit.mdtrt_id, feedetl_sn=sn, psn_no=p["psn_no"], fixmedins_code=inst,
                    doctor=doctor)  # fmt: skip
        done += 1
