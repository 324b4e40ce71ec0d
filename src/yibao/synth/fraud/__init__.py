"""Fraud and abuse, labelled: ``inject`` puts known cases into a clean chunk and says where they are.

PLACEHOLDER
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import numpy as np
import polars as pl

from yibao.catalog.model import Catalog
from yibao.codes import coarse_hosp_lv
from yibao.synth.fraud._base import (
    CARE_TABLES,
    Context,
    PriceBook,
    Tables,
    digest_seed,
    labels_frame,
)

__all__ = ["PATTERNS", "inject"]

PATTERNS: tuple[str, ...] = (
    "split_admission",
    "ghost_bed",
    "fake_admission",
    "overlap_stay",
    "after_death",
    "identity_fraud",
    "doctor_outlier",
    "drug_resale",
    "drug_swap",
    "card_cashout",
    "overdispense",
    "duplicate_charge",
    "overprice",
    "item_swap",
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
    inst_seed = digest_seed(
        tables["fixmedins_b"].sort("fixmedins_code"),
        tables["medstaff_b"].sort("staff_codg") if "medstaff_b" in tables else pl.DataFrame(),
    )
    bad = _bad_institutions(tables["fixmedins_b"], rate, inst_seed)
    doctors = _bad_doctors(tables, rate, inst_seed)
    budget = max(FEW_PERSONS, round(rate * tables["psn_info_b"].height))
    book = _price_book(tables, catalog, year)
    original = {t: tables[t].schema for t in CARE_TABLES}
    out = dict(tables)
    frames: list[pl.DataFrame] = []
    taken: set[str] = set()
    taken_persons: set[str] = set()
    for index, name in enumerate(PATTERNS):
        mod = _module(name)
        assign = np.random.default_rng([inst_seed, 1, index])
        institutions = _assign(assign, bad, getattr(mod, "SETTINGS", ()))
        docs = tuple(d for d in doctors if assign.random() < 0.5) or doctors[:1] if getattr(mod, "DOCTORS", False) else ()
        ctx = Context(
            pattern=mod.PATTERN,
            index=index,
            code=mod.CODE,
            chunk=chunk,
            year=year,
            rate=rate,
            catalog=catalog,
            institutions=institutions,
            doctors=docs,
            persons=max(1, round(budget * float(getattr(mod, "PERSONS", 0.0)))),
            taken=frozenset(taken),
            taken_persons=frozenset(taken_persons),
            book=book,
        )
        apply: Apply = mod.apply
        out, labels = apply(np.random.default_rng([seed, index]), out, ctx)
        frames.append(labels)
        taken.update(m for m in labels.get_column("mdtrt_id").to_list() if m)
        taken_persons.update(p for p in labels.get_column("psn_no").to_list() if p)
    for t in CARE_TABLES:
        out[t] = out[t].select(list(original[t])).cast(dict(original[t]))
    return out, pl.concat([labels_frame(), *frames], how="vertical")


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
    priced = tables["fee_list_d"].select("med_list_codg", "pric", "fixmedins_code").join(inst, on="fixmedins_code", how="left")
    return PriceBook(priced.select("med_list_codg", "pric", pl.col("lv").fill_null("1")), catalog, year)
