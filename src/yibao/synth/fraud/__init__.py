"""Fraud and abuse, labelled: ``inject`` puts known cases into a clean chunk and says where they are.

PLACEHOLDER
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
from yibao.synth.fraud._base import (
    CARE_TABLES,
    Context,
    PriceBook,
    VISIT,
    Busy,
    Pending,
    Serials,
    Staffing,
    Where,
    Tables,
    digest_seed,
    encounter_view,
    labels_frame,
)
from yibao.synth.fraud.check import check_labels

__all__ = ["PATTERNS", "Assignment", "assignments", "check_labels", "inject"]

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
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Inject every pattern into one chunk; return the changed tables and the labels (schema "labels").

    ``tables`` holds the chunk's tables (psn_info_b, mdtrt_d, setl_list_diag_d, setl_list_oprn_d,
    fee_list_d, drug_trac_d, …) and the institution tables (fixmedins_b, dept_b, medstaff_b). Only the
    care tables change; the register and the institutions are returned as given. ``rate`` is the share
    of institutions, doctors and persons made bad; 0 returns the tables unchanged and no labels.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
    missing = [t for t in (*CARE_TABLES, "psn_info_b", "fixmedins_b") if t not in tables]
    if missing:
        raise ValueError(f"inject needs the tables {missing}")
    if rate == 0.0:
        return dict(tables), labels_frame()
    seed = int(rng.integers(2**63 - 1))
    plan = assignments(tables, rate)
    budget = max(FEW_PERSONS, round(rate * tables["psn_info_b"].height))
    book = _price_book(tables, catalog, year)
    serials = Serials.injected(chunk)
    staff = Staffing(tables)
    kinds = tables["mdtrt_d"].select(pl.col("med_type").replace_strict(VISIT, default="").alias("k")).group_by("k").len()
    volume = {str(k): int(n) for k, n in kinds.iter_rows()}
    volume["all"] = tables["mdtrt_d"].height
    busy = Busy(tables["mdtrt_d"], tables["psn_info_b"])
    view = encounter_view(tables["mdtrt_d"], tables["fixmedins_b"])
    pending = Pending()
    where_is = Where(tables["fee_list_d"], tables["drug_trac_d"], tables["fixmedins_b"].get_column("fixmedins_code").to_list())
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
    for t in CARE_TABLES:
        out[t] = out[t].select(list(original[t])).cast(dict(original[t]))
    return out, pl.concat([labels_frame(), *frames], how="vertical")


@dataclass(frozen=True, slots=True)
class Assignment:
    """The bad institutions and doctors one pattern acts through (the same in every chunk)."""

    institutions: tuple[str, ...] = ()
    doctors: tuple[str, ...] = ()


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
        plan[name] = Assignment(institutions, docs)
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
        idx = rng.choice(len(codes_), size=n, replace=False) if n else []
        out[kind] = sorted(codes_[int(i)] for i in idx)
    return out


def _assign(rng: np.random.Generator, bad: dict[str, list[str]], settings: tuple[str, ...]) -> tuple[str, ...]:
    """The bad institutions one pattern acts in: about 60% of the bad ones of its kinds, at least one each."""
    chosen: list[str] = []
    for kind in settings:
        pool = bad.get(kind, [])
        if not pool:
            continue
        mine = [c for c in pool if rng.random() < 0.6]
        chosen.extend(mine or [pool[int(rng.integers(len(pool)))]])
    return tuple(sorted(set(chosen)))


def _bad_doctors(tables: Tables, rate: float, seed: int) -> tuple[str, ...]:
    staff = tables.get("medstaff_b")
    if staff is None or staff.height == 0:
        return ()
    medical = tables["fixmedins_b"].filter(pl.col("fixmedins_type") == "1").get_column("fixmedins_code")
    docs = (
        staff.filter((pl.col("staff_type") == "1") & pl.col("fixmedins_code").is_in(medical.to_list()))
        .get_column("staff_codg")
        .sort()
        .to_list()
    )
    if not docs:
        return ()
    rng = np.random.default_rng([seed, 2])
    n = min(len(docs), max(FEW_DOCTORS, round(rate * len(docs))))
    return tuple(sorted(docs[int(i)] for i in rng.choice(len(docs), size=n, replace=False)))


def _price_book(tables: Tables, catalog: Catalog, year: int) -> PriceBook:
    inst = tables["fixmedins_b"].select(
        "fixmedins_code",
        pl.col("hosp_lv").fill_null("").map_elements(lambda v: coarse_hosp_lv(v or None), return_dtype=pl.String).alias("lv"),
    )
    priced = tables["fee_list_d"].select("med_list_codg", "pric", "fixmedins_code").join(inst, on="fixmedins_code", how="left", maintain_order="left")
    return PriceBook(priced.select("med_list_codg", "pric", pl.col("lv").fill_null("1")), catalog, year)
