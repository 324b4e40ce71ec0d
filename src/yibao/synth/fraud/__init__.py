"""Fraud and abuse, labelled: ``inject`` puts known cases into a clean chunk and says where they are.

>>> from yibao.catalog.loader import default_catalog
>>> from yibao.synth.fraud.sample import sample_region
>>> clean = sample_region(1, persons=400)
>>> tables, labels = inject(np.random.default_rng(7), clean, rate=0.05, catalog=default_catalog(), year=2024, chunk=0)
>>> check_labels(tables, labels)
[]
>>> labels.filter(pl.col("label") == "1").get_column("pattern").n_unique() >= 14
True

The section below is the fraud part of docs/synth.md.

Fraud and abuse (labels.parquet)
================================

``yibao synth --fraud RATE`` (default 0.02) injects supervision cases into the clean region, chunk by
chunk, after the care generator, and describes every injected row in ``labels.parquet``. It follows the
design of the FAU inpatient-claims simulator (fraud only at chosen "bad" providers, labels with ids)
and supervision.md §5: known cases at known rates, varied disguises, and legitimate look-alikes.

**Who is bad.** ``RATE`` is the share of institutions, doctors and persons made bad. Bad institutions
are drawn per kind — hospitals with beds, clinics, pharmacies — at least 2, 3 and 3 of them, from the
institution tables alone, so every chunk agrees (``assignments(tables, rate)`` returns them: the
institution-level ground truth); each pattern acts through about 60% of the bad institutions of its
kinds. Bad doctors: ``RATE`` of the doctors, at least 3, drawn among those with an outpatient practice
and peers (the busiest 40% by the outpatient demand their department draws per doctor — a surgeon's few
clinic visits are no practice to stand out in — with at least 5 doctors of their department family at
hospitals of their level); what a bad doctor does (tactics, drug, shares) is drawn once per doctor from
the plan's seed, so it is the same in every chunk. Person-level patterns share ``RATE`` × the
chunk's persons. Within a bad institution a pattern touches only a share of its candidates (the shares
below, drawn per chunk), and never more than ``RATE`` × a weight of the chunk's encounters of its kind
(at least 3 cases): in a small region, where the few bad institutions are much of the region, the data
stay mostly clean all the same (about 2–5% of encounters carry a fraud label at ``RATE`` 0.02).
``RATE`` 0 changes nothing and labels nothing.

**Labels.** One row per affected encounter, fee line or traceability code, as fits the pattern; a case
spans several rows sharing ``case_id`` (``C<chunk>-<pattern>-<n>``, unique across chunks, or
``R-<pattern>-<actor>`` for a bad actor's year-long habit that every chunk adds to: a doctor_outlier
doctor, a drug_swap or overprice institution's drug or item). ``label`` is
``1`` (fraud) or ``0`` (legitimate look-alike, same ``pattern`` as the fraud it resembles); ``mdtrt_id``,
``feedetl_sn``, ``psn_no`` (the card used), ``fixmedins_code``, ``drug_trac_codg`` and ``doctor`` name the
entities, empty where one does not apply; ``params`` is JSON of the case's parameters (variant, gaps,
shares, prices, roles …). ``check_labels(tables, labels)`` lists every label that is not true to the data.

=================  ======================================================================  ==================
pattern            what is injected (params)                                               label rows
=================  ======================================================================  ==================
split_admission    a stay of ≥4 nights cut into 2–3 stays, gaps 1–3 or 4–10 days; later    each resulting stay
                   parts get the copied diagnoses, their nights' lines (moved, with their
                   codes; per-night bed lines shared out) and a copy of the admission tests
                   (parts, nights, gaps_days, copied_lines, gap_style)
ghost_bed          3–7 days with only 床位费 + 护理费 at the end (tail) or inside (middle) a   each added line
                   stay; 30% also put in a bed occupied by another stay (double_booked)
fake_admission     5–15 staff of one employer admitted the same week, vague diagnosis,    each stay
                   5–10 nights, one identical exam bundle, no treatment (emp_no, bundle)
overlap_stay       a second stay at another (bad) hospital during a real stay, inside or   both stays (role)
                   running past it (variant, overlap_days)
after_death        1–4 encounters 1–90 days after death: copies of the person's earlier    each encounter
                   visits or pharmacy purchases (death_date, days_after_death, source)
identity_fraud     borrowed_card: an encounter moved onto a card whose sex or age it        each encounter
                   contradicts (from_psn, contradiction); doctor_burst: one doctor, the
                   same dear prescription on 8–30 cards within 1–10 minutes
drug_resale        a patient's codes sold again 3–90 days later by a bad pharmacy (another  each code × sale
                   region when there is one), once or 2–4 times (role, delay_days, resales)
card_cashout       5–20 cards swiped 20–180 s apart between 22:00 and 02:00 for one fixed    each swipe
                   basket (identical amounts), with or without scanned codes
drug_swap          5–30% of a cheap drug's lines billed as a dearer drug of the same ATC     each code
                   group; the codes keep the cheap product's prefix (dispensed, billed)
overprice          1–4 capped items priced above the level's cap (+5–50%) or at the 三级     each line
                   price at a lower level, on 1–5% of the institution's lines
item_swap          at a 一级 institution, the cheap item of 10–90% of encounters from a     each line
                   start day billed as a dear twin its level does not offer (CT平扫→增强 …)
item_swap          (phantom_stent, the last injector: 虚记支架) at a bad 二级+ hospital 1–2    each added line
                   冠脉支架 added to a heart patient's medical stay (with PCI line and/or
                   operation record 36.0601) for a person on no antiplatelet all year, or to
                   an outpatient visit with no stay within two days (variant, disguise)
overdispense       over_limit: 2–3 × the catalogue's days limit (quantity and codes         each line
                   scaled); early_refill: the same drug again after 20–60% of the supply
doctor_outlier     a bad doctor adds a drug to 30–70% of visits, multiplies drug           each line / clone
                   quantities by 2–4, or bills 10–40% of visits again (tactic, share)
duplicate_charge   a service billed twice at one time, or a component next to its package   each added line
                   (支架+造影, 全麻+局麻, ICU+普通床位 …) (variant, duplicate_of / package)
unbundling         a per-time service split into 2–4 lines minutes apart                    each added line
gender_age         an item restricted to the other sex or to children added to an          each added line
                   encounter (restriction, item, gend, age)
indication         an indication-restricted drug without its diagnosis: the justifying     each drug line
                   secondary diagnosis dropped, or the drug added (variant, indications)
upcoding           1–2 CC/MCC secondary diagnoses added to a stay billing nothing that      each stay
                   supports them (variant, added)
catalogue_scope    a 丙类 supplement sold as an in-list drug (its codes), a cosmetic          each line / code
                   treatment billed as physiotherapy under the cosmetic diagnosis, or an item
                   only some departments may order ordered by another (限定开单科室: 普通外科
                   giving 信迪利单抗, 内分泌科 雷珠单抗; variant, item, dept_caty, allowed)
frequency          an item billed past its limit: one more line the same visit-day (挂号费,    each added line
                   CT 部位, 运动疗法 …) or more bed / nursing days than nights + 1 (variant)
=================  ======================================================================  ==================

**Hard negatives** (label 0): chemotherapy cycles (Z51.100 + cancer, 3–6 short stays every 21 ± 2 days),
staged surgery (second-eye cataract or second knee 7–14 days later), maintenance dialysis (门诊慢特病
2–3 times a week) — as split_admission; a surgical patient waiting 2–3 days for the operation
(ghost_bed); a food-poisoning outbreak in one employer with real treatment (fake_admission); a transfer
(离院方式 2, the next stay begins hours later: overlap_stay); death in hospital on the death date
(after_death); a sale, its return (retn_flag 1) and the resale of the same code (drug_resale); elderly
chronic bulk buys and shift workers buying at night (card_cashout); 长处方 of 8–12 weeks for a stable
chronic disease (overdispense); both knees replaced in one session and a repeat test the same day
(duplicate_charge); male breast cancer on 来曲唑 and an adult with dysphagia on a paediatric suspension
(gender_age); a CC with the tests and treatment that support it (upcoding); 彩超 started with new
equipment where the level prices it (item_swap); a PCI patient whose antiplatelets come only from a pharmacy,
a PCI patient who died in the stay and a stent billed on an outpatient account within 24 hours of discharge
(item_swap, phantom_stent); an item billed exactly at its limit (frequency); a 会诊 order: the restricted item
billed under the ward but ordered by a doctor of an allowed department (catalogue_scope).

**Legitimate care** (``_legitimate.keep_legitimate_care``, after the last pattern): a clean encounter a
fraud label names keeps a legitimate twin (as generated, whole weeks apart, colliding with none of the
person's care), and a hard negative that is a new encounter takes the place of the most similar ordinary
encounter of its scheme, kind and level — so the care the labels leave is the calibrated generator's.

**Ids and codes.** New ids are ``<M|F|R><chunk><two-letter pattern code><serial>`` (``M3SA000001``); new
traceability codes are valid 20-digit codes with the product's prefix and serials from the range
:mod:`yibao.catalog.trace` reserves (900000000 + chunk × 100000 + n). Money stays exact: every line's
amount is ``round_div(pric × cnt, 10**8)``. Detectors must not use ids, serials or row order (injected
rows come after the clean ones in each chunk): they reveal the injection.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import polars as pl

from yibao.catalog.model import Catalog
from yibao.codes import coarse_hosp_lv
from yibao.synth.diagnoses import CONDITIONS
from yibao.synth.fraud._base import (
    CARE_TABLES,
    VISIT,
    Busy,
    Context,
    Pending,
    PriceBook,
    Serials,
    Staffing,
    Tables,
    Where,
    digest_seed,
    encounter_view,
    forget_views,
    labels_frame,
)
from yibao.synth.fraud._legitimate import keep_legitimate_care
from yibao.synth.fraud.check import check_labels
from yibao.synth.kept import of_region

__all__ = ["PATTERNS", "Assignment", "assignments", "check_labels", "inject", "outpatient_load"]

PATTERNS: tuple[str, ...] = (
    # structure: they add, move or reshape encounters; later patterns leave their encounters alone
    "split_admission",
    "ghost_bed",
    "fake_admission",
    "overlap_stay",
    "after_death",
    "identity_fraud",
    "drug_resale",
    "card_cashout",
    # modify: they change existing lines; they use only encounters no pattern has touched
    "drug_swap",
    "overprice",
    "item_swap",
    "overdispense",
    "doctor_outlier",
    # add: they add lines or diagnoses; they may share an encounter with a modify pattern
    "duplicate_charge",
    "unbundling",
    "gender_age",
    "indication",
    "upcoding",
    "catalogue_scope",
    "frequency",
    # last: it must see every antiplatelet the others add (a modify pattern, on untouched encounters)
    "phantom_stent",
)
"""The injectors in their fixed order (the order decides each one's sub-rng and id namespace)."""

FEW = {"ward": 2, "clinic": 3, "pharmacy": 3}
"""At least this many bad institutions of each kind whenever rate > 0 (so a small chunk has cases)."""

FEW_DOCTORS = 3
FEW_PERSONS = 3

Apply = Callable[[np.random.Generator, Tables, Context], tuple[Tables, pl.DataFrame]]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"yibao.synth.fraud.{name}")


def inject(
    rng: np.random.Generator,
    tables: dict[str, pl.DataFrame],
    *,
    rate: float,
    catalog: Catalog,
    year: int,
    chunk: int,
    chunks: int = 1,
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Inject every pattern into one chunk; return the changed tables and the labels (schema "labels").

    ``tables`` holds the chunk's tables (psn_info_b, mdtrt_d, setl_list_diag_d, setl_list_oprn_d,
    fee_list_d, drug_trac_d, …) and the institution tables (fixmedins_b, dept_b, medstaff_b). Only the
    care tables change; the register and the institutions are returned as given. ``rate`` is the share
    of institutions, doctors and persons made bad; 0 returns the tables unchanged and no labels.
    ``chunks``: how many chunks the region has (see :meth:`~yibao.synth.fraud._base.Context.home_chunk`).
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
    missing = [t for t in (*CARE_TABLES, "psn_info_b", "fixmedins_b") if t not in tables]
    if missing:
        raise ValueError(f"inject needs the tables {missing}")
    if rate == 0.0:
        return dict(tables), labels_frame()
    seed = int(rng.integers(2**63 - 1))
    plan = _region_plan(tables, rate)
    budget = max(FEW_PERSONS, round(rate * tables["psn_info_b"].height))
    where_is = Where(
        tables["fee_list_d"],
        tables["drug_trac_d"],
        tables["fixmedins_b"].get_column("fixmedins_code").to_list(),
    )
    book = _price_book(tables, catalog, year, where_is)
    serials = Serials.injected(chunk)
    staff = of_region("staffing", (tables.get("dept_b"), tables.get("medstaff_b")), lambda: Staffing(tables))
    kinds = (
        tables["mdtrt_d"]
        .select(pl.col("med_type").replace_strict(VISIT, default="").alias("k"))
        .group_by("k")
        .len()
    )
    volume = {str(k): int(n) for k, n in kinds.iter_rows()}
    volume["all"] = tables["mdtrt_d"].height
    busy = Busy(tables["mdtrt_d"], tables["psn_info_b"])
    view = encounter_view(tables["mdtrt_d"], tables["fixmedins_b"])
    pending = Pending(where_is)
    original = {t: tables[t].schema for t in CARE_TABLES}
    out = dict(tables)
    frames: list[pl.DataFrame] = []
    touched: dict[str, set[str]] = {}  # pattern → encounters its labels name
    structural: set[str] = set()  # encounters of structure patterns and of every hard negative
    persons_taken: set[str] = set()
    lines_taken: set[str] = set()
    for index, name in enumerate(PATTERNS):
        mod = _module(name)
        where = plan[name]
        kind = getattr(mod, "KIND", "structure")
        if kind == "add":
            taken = set(structural)
            for other in getattr(mod, "AVOID", ()):
                taken |= touched.get(other, set())
        else:
            taken = set().union(structural, *touched.values())
        ctx = Context(
            pattern=mod.PATTERN,
            index=index,
            code=mod.CODE,
            chunk=chunk,
            year=year,
            rate=rate,
            catalog=catalog,
            institutions=where.institutions,
            doctors=where.doctors,
            seed=where.seed,
            persons=max(1, round(budget * float(getattr(mod, "PERSONS", 0.0)))),
            taken=frozenset(taken),
            taken_persons=frozenset(persons_taken),
            taken_lines=frozenset(lines_taken),
            book=book,
            serials=serials,
            staff=staff,
            volume=volume,
            busy=busy,
            view=view,
            pending=pending,
            where=where_is,
            chunks=chunks,
        )
        apply: Apply = mod.apply
        before = out["mdtrt_d"]
        out, labels = apply(np.random.default_rng([seed, index]), out, ctx)
        frames.append(labels)
        if out["mdtrt_d"] is not before:
            busy.changed(before, out["mdtrt_d"])
        named = labels.filter(pl.col("mdtrt_id") != "")
        touched[name] = set(named.get_column("mdtrt_id").to_list())
        structural.update(named.filter(pl.col("label") == "0").get_column("mdtrt_id").to_list())
        if kind == "structure":
            structural |= touched[name]
            persons_taken.update(p for p in labels.get_column("psn_no").to_list() if p)
        lines_taken.update(s for s in labels.get_column("feedetl_sn").to_list() if s)
    out = pending.apply(out)
    forget_views()
    labelled = pl.concat([labels_frame(), *frames], how="vertical")
    out = keep_legitimate_care(np.random.default_rng([seed, len(PATTERNS)]), tables, out, labelled,
                               serials=serials, chunk=chunk, year=year, where=where_is)  # fmt: skip
    for t in CARE_TABLES:
        out[t] = out[t].select(list(original[t])).cast(original[t])
    return out, labelled


@dataclass(frozen=True, slots=True)
class Assignment:
    """The bad institutions and doctors one pattern acts through (the same in every chunk)."""

    institutions: tuple[str, ...] = ()
    doctors: tuple[str, ...] = ()
    seed: int = 0
    """The plan's seed (from the institution tables): per-doctor or per-institution draws that must agree
    across chunks use it."""


def _region_plan(tables: dict[str, pl.DataFrame], rate: float) -> dict[str, Assignment]:
    """:func:`assignments`, kept for the next chunk of the same region: 0.04 CPU-s a chunk."""
    frames = tuple(tables.get(t) for t in ("fixmedins_b", "medstaff_b", "dept_b"))
    return of_region(f"plan at {rate!r}", frames, lambda: assignments(tables, rate))


def assignments(tables: dict[str, pl.DataFrame], rate: float) -> dict[str, Assignment]:
    """Which institutions and doctors each pattern makes bad at ``rate``: a function of the institution
    tables only (fixmedins_b, medstaff_b), so every chunk of a dataset agrees — the institution-level
    ground truth. Nothing is bad at rate 0.

    >>> from yibao.synth.fraud.sample import sample_region
    >>> plan = assignments(sample_region(1, persons=10), 0.02)
    >>> plan["card_cashout"].institutions[0].startswith("P"), plan["doctor_outlier"].doctors != ()
    (True, True)
    """
    if rate <= 0:
        return {name: Assignment() for name in PATTERNS}
    seed = digest_seed(
        tables["fixmedins_b"].sort("fixmedins_code"),
        tables["medstaff_b"].sort("staff_codg") if "medstaff_b" in tables else pl.DataFrame(),
    )
    bad = _bad_institutions(tables["fixmedins_b"], rate, seed)
    doctors = _bad_doctors(tables, rate, seed)
    plan: dict[str, Assignment] = {}
    for index, name in enumerate(PATTERNS):
        mod = _module(name)
        rng = np.random.default_rng([seed, 1, index])
        institutions = _assign(rng, bad, tuple(getattr(mod, "SETTINGS", ())))
        docs: tuple[str, ...] = ()
        if getattr(mod, "DOCTORS", False) and doctors:
            docs = tuple(d for d in doctors if rng.random() < 0.5) or doctors[:1]
        plan[name] = Assignment(institutions, docs, seed)
    return plan


def _strata(inst: pl.DataFrame) -> dict[str, list[str]]:
    beds = pl.col("bed_cnt").fill_null(0)
    medical = pl.col("fixmedins_type") == "1"
    kinds = {
        "ward": medical & (beds > 0),
        "clinic": medical & (beds <= 0),
        "pharmacy": pl.col("fixmedins_type") == "2",
    }
    return {k: inst.filter(e).get_column("fixmedins_code").sort().to_list() for k, e in kinds.items()}


def _bad_institutions(inst: pl.DataFrame, rate: float, seed: int) -> dict[str, list[str]]:
    """The bad institutions of each kind: rate × their number, at least FEW; the same in every chunk."""
    rng = np.random.default_rng([seed, 0])
    out: dict[str, list[str]] = {}
    for kind, codes_ in _strata(inst).items():
        n = min(len(codes_), max(FEW[kind], round(rate * len(codes_))))
        idx = rng.choice(len(codes_), size=n, replace=False).tolist() if n else []
        out[kind] = sorted(codes_[int(i)] for i in idx)
    return out


def _assign(
    rng: np.random.Generator, bad: dict[str, list[str]], settings: tuple[str, ...]
) -> tuple[str, ...]:
    """The bad institutions one pattern acts in: about 60% of the bad ones of its kinds, at least one each."""
    chosen: list[str] = []
    for kind in settings:
        pool = bad.get(kind, [])
        if not pool:
            continue
        mine = [c for c in pool if rng.random() < 0.6]
        chosen.extend(mine or [pool[int(rng.integers(len(pool)))]])
    return tuple(sorted(set(chosen)))


BUSY_QUANTILE = 0.6
"""Bad doctors are drawn among the busiest 40% by outpatient load (:func:`outpatient_load`)…"""
PEER_DOCTORS = 5
"""…that have at least this many doctors (themselves included) of their department family (the first
three characters of the 科别) at hospitals of their level: an outlier stands out against peers."""


def _bad_doctors(tables: Tables, rate: float, seed: int) -> tuple[str, ...]:
    """``rate`` of the doctors (at least FEW_DOCTORS), drawn from the institution tables only among those
    with an outpatient practice and peers (BUSY_QUANTILE, PEER_DOCTORS; all doctors when none has both)."""
    staff = tables.get("medstaff_b")
    if staff is None or staff.height == 0:
        return ()
    inst = tables["fixmedins_b"]
    medical = inst.filter(pl.col("fixmedins_type") == "1").get_column("fixmedins_code")
    doctors = staff.filter((pl.col("staff_type") == "1") & pl.col("fixmedins_code").is_in(medical.to_list()))
    if doctors.height == 0:
        return ()
    dept = tables.get("dept_b")
    load = outpatient_load(doctors, dept)
    eligible = doctors.filter(load >= float(load.quantile(BUSY_QUANTILE) or 0.0))
    if dept is not None and dept.height:
        coarse = {v: coarse_hosp_lv(v or None) for v in inst.get_column("hosp_lv").unique().to_list()}
        lv = inst.select("fixmedins_code", pl.col("hosp_lv").replace_strict(coarse, return_dtype=pl.String).alias("lv"))
        family = dept.select("fixmedins_code", "dept_codg", pl.col("caty").str.slice(0, 3).alias("family"))
        peers = (
            doctors.join(lv, on="fixmedins_code", how="left")
            .join(family, on=["fixmedins_code", "dept_codg"], how="left")
            .with_columns(pl.len().over("lv", "family").alias("peers"))
            .filter(pl.col("peers") >= PEER_DOCTORS)
            .get_column("staff_codg")
        )
        eligible = eligible.filter(pl.col("staff_codg").is_in(peers.to_list())) if peers.len() else eligible
    docs = (eligible if eligible.height else doctors).get_column("staff_codg").sort().to_list()
    rng = np.random.default_rng([seed, 2])
    n = min(len(docs), max(FEW_DOCTORS, round(rate * doctors.height)))
    return tuple(sorted(docs[int(i)] for i in rng.choice(len(docs), size=n, replace=False)))


def outpatient_load(doctors: pl.DataFrame, dept: pl.DataFrame | None) -> pl.Series:
    """Each doctor's share of outpatient demand: the weights of the outpatient conditions their department
    receives (its 科别's own, and its sub-specialties' where the institution has no such department, as
    care routes them), over the number of doctors of the department. A proxy of visits per doctor that
    needs only the institution tables (0 everywhere without dept_b).

    >>> staff = pl.DataFrame({"fixmedins_code": ["H1"] * 3, "dept_codg": ["K1", "K2", "K2"]})
    >>> depts = pl.DataFrame({"fixmedins_code": ["H1", "H1"], "dept_codg": ["K1", "K2"], "caty": ["A03", "A04.02"]})
    >>> load = outpatient_load(staff, depts).to_list()
    >>> load[0] > load[1] == load[2] > 0
    True
    """
    if dept is None or dept.height == 0:
        return pl.Series("load", [0.0] * doctors.height)
    demand: dict[str, float] = {}
    for c in CONDITIONS:
        demand[c.caty] = demand.get(c.caty, 0.0) + sum(c.outpatient) / len(c.outpatient)
    catys: dict[str, dict[str, str]] = {}
    for inst, code, caty in dept.select("fixmedins_code", "dept_codg", "caty").iter_rows():
        catys.setdefault(inst, {})[caty] = code
    load: dict[tuple[str, str], float] = {}
    for inst, here in catys.items():
        for caty, weight in demand.items():
            code = here.get(caty) or here.get(caty[:3])
            if code is not None:
                load[inst, code] = load.get((inst, code), 0.0) + weight
    keys = list(doctors.select("fixmedins_code", "dept_codg").iter_rows())
    staffed: dict[tuple[str, str], int] = {}
    for key in keys:
        staffed[key] = staffed.get(key, 0) + 1
    return pl.Series("load", [load.get(key, 0.0) / staffed[key] for key in keys], dtype=pl.Float64)


def _price_book(tables: Tables, catalog: Catalog, year: int, where: Where | None = None) -> PriceBook:
    """The prices of the chunk's clean lines, each at its institution's coarse level ("1" where the
    institution is unknown). ``where`` (built from ``tables``) gives each line's institution as an index."""
    hosp_lv = tables["fixmedins_b"].get_column("hosp_lv").fill_null("")
    coarse = {v: coarse_hosp_lv(v or None) for v in hosp_lv.unique().to_list()}
    inst = tables["fixmedins_b"].select(
        "fixmedins_code", hosp_lv.replace_strict(coarse, return_dtype=pl.String).alias("lv")
    )
    fee = tables["fee_list_d"]
    if where is not None and inst.get_column("fixmedins_code").is_unique().all():
        lv_of = dict(inst.iter_rows())  # one level per institution: look it up by the lines' index
        lv = pl.Series("lv", [lv_of.get(code) for code in where.index], dtype=pl.String).gather(where.fee)
        priced = fee.select("med_list_codg", "pric").with_columns(lv)
    else:
        priced = fee.select("med_list_codg", "pric", "fixmedins_code").join(
            inst, on="fixmedins_code", how="left", maintain_order="left"
        )
    return PriceBook(priced.select("med_list_codg", "pric", pl.col("lv").fill_null("1")), catalog, year)
