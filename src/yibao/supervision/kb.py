"""The knowledge base (知识库) of the supervision rules: CSV tables in ``rules_data/kb/`` plus what the
catalogue already says, read once, validated, and indexed for online checks and batch SQL.

The 两库 办法 (《医疗保障基金智能审核和监控知识库、规则库管理办法（试行）》, 2022) separates the *knowledge*
(what an item includes, which items exclude each other, limits, restrictions, prices) from the *rules*
(the logic and thresholds that use it). yibao keeps the knowledge as CSV tables, one fact per row:

======================  ===========================================================================
file                    one row per
======================  ===========================================================================
item_pairs.csv          pair of items: ``includes`` (item_a's 项目内涵 includes item_b: billing both is
                        重复收费), ``exclusive`` (互斥), ``swap`` (cheap item_a ↔ dear item_b, 串换),
                        ``primary_secondary`` (item_b billed with item_a at ``rate``, 主次); ``scope``
                        same_time / same_day / same_encounter
limits.csv              limit of an item: ``frequency`` (times per day / week / month / year /
                        encounter), ``quantity`` (units per day, ``scale`` = los: per day of stay),
                        ``course_days`` (days of payment from first use), ``days_supply`` (days of
                        medication per prescription)
dose.csv                daily dose of a drug: units per package, dose per unit, maximum daily dose
restrictions.csv        extra restrictions on top of the catalogue's 限定支付范围: ``exempt_dx``
                        (diagnosis prefixes that lift a gender / age restriction, e.g. 男性乳腺癌),
                        ``maternity`` (insutypes for which the item is payable only under a 生育
                        med_type 51/52/53), ``insutypes`` (限险种: the only insutypes that may pay),
                        ``depts`` (限定开单科室: the 科别 codes, yibao.codes.CATY, whose departments or
                        doctors may order the item; a 科目 covers its 二级科目: A03 covers A03.05)
single_herb.csv         中药饮片 that are not paid alone (单味不予支付)
consumable_links.csv    consumable → the procedures (items, or ICD-9-CM-3 prefixes) it needs
procedures.csv          procedure item → ICD-9-CM-3 prefixes of its operation record (bilateral = 2)
incompatible.csv        配伍禁忌: 十八反 / 十九畏 herb pairs (by code, or by name where the catalogue has
                        no code) and contraindicated drug pairs
long_rx_dx.csv          chronic diseases (ICD-10 prefixes) that allow a 长处方 of up to 12 weeks
sex_specific_dx.csv     diagnoses only one sex can have (ICD-10 prefixes)
age_specific_dx.csv     diagnoses only an age band can have (IOCE-style age edits: 老年性白内障 ≥ 40 …)
non_payable_dx.csv      diagnoses whose care the fund does not pay (cosmetic, 体检)
cc_support.csv          CC/MCC secondary diagnosis (ICD-10 prefix) → the tests or treatments any one of
                        which supports it (高套编码: a CC with none of them is unsupported). Only
                        diagnoses whose support the catalogue can show are listed: 低钠血症 needs a
                        serum electrolyte test the starter catalogue does not hold, so it is not here
coronary_stent.csv      the coronary-stent checks' items by ``role``: ``stent`` (冠脉支架 consumables),
                        ``pci`` (the stent procedure, counted with a stent judged phantom),
                        ``antiplatelet`` (by code, or by ATC prefix: ``B01AC`` stands for every 西药
                        code ``X`` + B01AC…, 阿司匹林 / 氯吡格雷 / 替格瑞洛 and any other the catalogue adds)
======================  ===========================================================================

Two tables are **derived from the catalogue**, never copied, so they always match it: prices by level
(:meth:`KnowledgeBase.frame` ``prices``: the catalogue's 限价 per coarse level) and the traceability-code
prefix → product table (``trace``: :func:`yibao.catalog.trace.prefix_table`, the 7-digit 药品标识码 of
every drug). ``python -m yibao.supervision.kb DIR`` writes every table, derived ones included, as CSV
for a reviewer. The catalogue's own restrictions (gender, age, level, visits, indications, days) are
read from the catalogue too; restrictions.csv only adds what it cannot say.

Codes must exist in the catalogue (a typo would silently disable a rule): a bad file raises
:class:`KBError` naming the file, the line and the column.

>>> kb = load_kb()
>>> kb.includes["003205000040000"][0].item_b
'003201000010000'
>>> sorted(kb.trace_products[product_prefix("XA10BAY026A001010127690")])
['XA10BAY026A001010127690']
>>> kb.days_limit["XA10BAY026A001010127690"]
30
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog, CatalogItem
from yibao.catalog.trace import prefix_table, product_prefix
from yibao.codes import CATY

__all__ = [
    "KBError",
    "KnowledgeBase",
    "default_kb",
    "load_kb",
    "product_prefix",
    "rules_root",
]

RELATIONS = frozenset({"includes", "exclusive", "swap", "primary_secondary"})
SCOPES = frozenset({"same_time", "same_day", "same_encounter"})
LIMIT_KINDS = frozenset({"frequency", "quantity", "course_days", "days_supply"})
PERS = frozenset({"day", "week", "month", "year", "encounter", "stay", "rx"})
RESTRICTION_KINDS = frozenset({"exempt_dx", "maternity", "insutypes", "depts"})
MATERNITY_MED_TYPES = frozenset({"51", "52", "53"})


def rules_root() -> Path:
    """The rules_data folder: ``$YIBAO_RULES_DATA`` or the one beside the source tree."""
    env = os.environ.get("YIBAO_RULES_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "rules_data"


class KBError(ValueError):
    """A knowledge-base file that cannot be used; the message names the file, the line and the column."""

    def __init__(self, source: str, line: int, column: str, message: str) -> None:
        super().__init__(f"{source} line {line}, column {column}: {message}")
        self.source = source
        self.line = line
        self.column = column
        self.message = message


class Pair(NamedTuple):
    relation: str
    item_a: str
    item_b: str
    scope: str
    rate: Fraction | None
    note: str


class Limit(NamedTuple):
    code: str
    limit: str
    value: int
    per: str
    scale: str
    exempt_dx: tuple[str, ...]
    note: str


class Dose(NamedTuple):
    code: str
    units_per_pack: int
    unit_dose: Fraction
    dose_unit: str
    max_daily: Fraction
    note: str


class Incompatible(NamedTuple):
    kind: str
    item_a: str
    name_a: str
    item_b: str
    name_b: str
    note: str


class CcSupport(NamedTuple):
    """A CC/MCC secondary diagnosis and the items (tests, drugs, procedures) any one of which supports it."""

    prefix: str
    name: str
    cc_level: str  # MCC or CC (CHS-DRG 1.1 lists)
    evidence: frozenset[str]
    note: str


class Link(NamedTuple):
    consumable: str
    procedures: frozenset[str]
    oprn_prefixes: tuple[str, ...]
    note: str


STENT_ROLES = frozenset({"stent", "pci", "antiplatelet"})


class StentCare(NamedTuple):
    """What the coronary-stent checks know (coronary_stent.csv): the stents, their procedure items, and
    the antiplatelet drugs by code and by code prefix (``X`` + an ATC prefix such as B01AC).

    >>> care = StentCare(frozenset({"C1"}), frozenset({"S1"}), frozenset({"XA1"}), ("XB01AC",))
    >>> care.is_antiplatelet("XB01ACW051A001010114649"), care.is_antiplatelet("XB01AAG053A001010124422")
    (True, False)
    """

    stents: frozenset[str] = frozenset()
    procedures: frozenset[str] = frozenset()
    antiplatelets: frozenset[str] = frozenset()
    antiplatelet_prefixes: tuple[str, ...] = ()

    def is_antiplatelet(self, code: str) -> bool:
        return code in self.antiplatelets or (
            bool(self.antiplatelet_prefixes) and code.startswith(self.antiplatelet_prefixes)
        )


@dataclass(frozen=True)
class KnowledgeBase:
    """Every KB table, validated and indexed (dicts and sets keyed by catalogue code).

    Attributes (indexes; the raw rows are in ``pairs``, ``limits`` …):
        catalog: the catalogue the KB was checked against; ``items``: its latest version per code.
        includes / exclusive / swaps / secondary: pairs by item_a.
        frequency / quantity: limits by code (a code may have several, e.g. per day and per year).
        course: code → course limit; days_limit: code → most days per prescription (catalogue
        ``lmt_max_days`` first, then limits.csv ``days_supply``); doses: code → Dose.
        exempt_dx: code → ICD prefixes lifting its gender / age restriction; maternity: code → insutypes
        paying it only under 生育 med_types; insutypes: code → the insutypes that may pay it;
        depts: code → the 科别 whose departments (or doctors) may order it (限定开单科室).
        single_herbs; links (consumable → Link); procedures (item → ICD-9-CM-3 prefixes);
        incompatible; long_rx_dx; sex_dx (prefix → gend); age_dx (prefix, age_min, age_max); non_payable_dx;
        trace_products: trace prefix → the catalogue codes it stands for.
        cc_support: CC/MCC secondary diagnoses with the items that support them, longest prefix first.
        stent: coronary stents, their procedure items and the antiplatelet drugs (:class:`StentCare`).
    """

    catalog: Catalog
    items: Mapping[str, CatalogItem]
    pairs: tuple[Pair, ...]
    limits: tuple[Limit, ...]
    doses: Mapping[str, Dose]
    exempt_dx: Mapping[str, tuple[str, ...]]
    maternity: Mapping[str, frozenset[str]]
    insutypes: Mapping[str, frozenset[str]]
    single_herbs: frozenset[str]
    links: Mapping[str, Link]
    procedures: Mapping[str, tuple[str, ...]]
    incompatible: tuple[Incompatible, ...]
    long_rx_dx: tuple[str, ...]
    sex_dx: tuple[tuple[str, str], ...]
    age_dx: tuple[tuple[str, int | None, int | None], ...]
    non_payable_dx: tuple[str, ...]
    trace_products: Mapping[str, frozenset[str]]
    cc_support: tuple[CcSupport, ...] = ()
    depts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stent: StentCare = field(default_factory=StentCare)
    includes: Mapping[str, tuple[Pair, ...]] = field(default_factory=dict)
    exclusive: Mapping[str, tuple[Pair, ...]] = field(default_factory=dict)
    swaps: Mapping[str, tuple[Pair, ...]] = field(default_factory=dict)
    secondary: Mapping[str, tuple[Pair, ...]] = field(default_factory=dict)
    frequency: Mapping[str, tuple[Limit, ...]] = field(default_factory=dict)
    quantity: Mapping[str, tuple[Limit, ...]] = field(default_factory=dict)
    course: Mapping[str, Limit] = field(default_factory=dict)
    days_limit: Mapping[str, int] = field(default_factory=dict)

    def name(self, code: str) -> str:
        """The catalogue name of ``code`` (the code itself when unknown)."""
        item = self.items.get(code)
        return item.name if item is not None else code

    def sex_of_dx(self, diag_code: str) -> str:
        """ "1" / "2" when ``diag_code`` is a diagnosis only men / women can have, else ""."""
        for prefix, gend in self.sex_dx:
            if diag_code.startswith(prefix):
                return gend
        return ""

    def age_of_dx(self, diag_code: str) -> tuple[int | None, int | None] | None:
        """The (age_min, age_max) band of an age-specific diagnosis, or None."""
        for prefix, lo, hi in self.age_dx:
            if diag_code.startswith(prefix):
                return lo, hi
        return None

    def frame(self, name: str) -> pl.DataFrame:
        """One KB table as a Polars frame (the shape batch SQL joins; prices in 1e-6 yuan)."""
        return _frame(self, name)

    def register(self, con: Any, *names: str) -> None:
        """Register KB tables in a DuckDB connection as ``yb_kb_<name>`` (overwriting older ones)."""
        for n in names:
            con.register(f"yb_kb_{n}", self.frame(n).to_arrow())


FRAMES = (
    "items", "prices", "gender", "age", "level", "visits", "indications", "exempt", "maternity", "insutypes",
    "pairs", "limits", "days", "dose", "single_herb", "links", "link_oprn", "procedures", "incompatible",
    "long_rx", "sex_dx", "age_dx", "nonpay_dx", "trace", "cc", "cc_evidence", "depts", "stent",
)  # fmt: skip
"""The names :meth:`KnowledgeBase.frame` knows."""


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


class _Reader:
    """Rows of one CSV as dicts, with the header checked and errors naming file, line and column."""

    def __init__(self, folder: Path, name: str, columns: tuple[str, ...]) -> None:
        self.name = name
        self.columns = columns
        self.path = folder / name

    def rows(self) -> Iterable[tuple[int, dict[str, str]]]:
        if not self.path.exists():
            raise KBError(self.name, 0, "(file)", f"missing: expected {self.path}")
        with self.path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise KBError(self.name, 1, "(header)", "the file is empty; expected a header row")
            header = [h.strip() for h in header]
            if tuple(header) != self.columns:
                missing = [c for c in self.columns if c not in header]
                extra = [c for c in header if c not in self.columns]
                what = f"missing {missing}" if missing else f"unexpected {extra}" if extra else "wrong order"
                raise KBError(self.name, 1, "(header)", f"{what}; expected {', '.join(self.columns)}")
            for row in reader:
                if not any(c.strip() for c in row):
                    continue
                if len(row) != len(self.columns):
                    raise KBError(
                        self.name,
                        reader.line_num,
                        "(row)",
                        f"has {len(row)} fields, expected {len(self.columns)}",
                    )
                yield reader.line_num, {c: v.strip() for c, v in zip(self.columns, row, strict=True)}

    def fail(self, line: int, column: str, message: str) -> KBError:
        return KBError(self.name, line, column, message)


def _code(
    r: _Reader, line: int, column: str, value: str, items: Mapping[str, CatalogItem], *, empty: bool = False
) -> str:
    if not value:
        if empty:
            return ""
        raise r.fail(line, column, "is empty; expected a catalogue code")
    if value not in items:
        raise r.fail(line, column, f"{value!r} is not in the catalogue")
    return value


def _whole(r: _Reader, line: int, column: str, value: str, low: int = 0) -> int:
    if not value.isascii() or not value.isdigit():
        raise r.fail(line, column, f"must be a whole number, not {value!r}")
    n = int(value)
    if n < low:
        raise r.fail(line, column, f"must be at least {low}, not {n}")
    return n


def _fraction(r: _Reader, line: int, column: str, value: str) -> Fraction:
    try:
        f = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise r.fail(line, column, f"must be a decimal number, not {value!r}") from None
    if f <= 0:
        raise r.fail(line, column, f"must be positive, not {value!r}")
    return f


def _prefixes(r: _Reader, line: int, column: str, value: str, *, empty: bool = True) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split("|") if p.strip())
    if not parts and not empty:
        raise r.fail(line, column, "is empty; expected |-separated code prefixes")
    for p in parts:
        if not p.isascii() or " " in p:
            raise r.fail(line, column, f"{p!r} is not a code prefix")
    return parts


def load_kb(path: Path | str | None = None, catalog: Catalog | None = None) -> KnowledgeBase:
    """Read and validate ``path`` (default ``rules_data/kb``) against ``catalog`` (default: the starter)."""
    folder = Path(path) if path is not None else rules_root() / "kb"
    cat = catalog if catalog is not None else default_catalog()
    latest: dict[str, CatalogItem] = {}
    for item in cat.items():
        old = latest.get(item.med_list_codg)
        if old is None or item.begndate >= old.begndate:
            latest[item.med_list_codg] = item
    items: Mapping[str, CatalogItem] = latest

    pairs: list[Pair] = []
    r = _Reader(folder, "item_pairs.csv", ("relation", "item_a", "item_b", "scope", "rate", "note"))
    for line, row in r.rows():
        rel = row["relation"]
        if rel not in RELATIONS:
            raise r.fail(line, "relation", f"{rel!r} is not one of {', '.join(sorted(RELATIONS))}")
        a = _code(r, line, "item_a", row["item_a"], items)
        b = _code(r, line, "item_b", row["item_b"], items)
        if a == b:
            raise r.fail(line, "item_b", "is the same item as item_a")
        scope = row["scope"] or ("same_encounter" if rel == "swap" else "")
        if scope not in SCOPES:
            raise r.fail(line, "scope", f"{scope!r} is not one of {', '.join(sorted(SCOPES))}")
        rate = None
        if rel == "primary_secondary":
            rate = _fraction(r, line, "rate", row["rate"])
            if rate >= 1:
                raise r.fail(line, "rate", f"must be below 1 (the secondary item's share), not {row['rate']}")
        elif row["rate"]:
            raise r.fail(line, "rate", f"only primary_secondary pairs have a rate, not {rel}")
        pairs.append(Pair(rel, a, b, scope, rate, row["note"]))

    limits: list[Limit] = []
    r = _Reader(
        folder, "limits.csv", ("med_list_codg", "limit", "value", "per", "scale", "exempt_dx", "note")
    )
    for line, row in r.rows():
        code = _code(r, line, "med_list_codg", row["med_list_codg"], items)
        kind = row["limit"]
        if kind not in LIMIT_KINDS:
            raise r.fail(line, "limit", f"{kind!r} is not one of {', '.join(sorted(LIMIT_KINDS))}")
        per = row["per"]
        if per not in PERS:
            raise r.fail(line, "per", f"{per!r} is not one of {', '.join(sorted(PERS))}")
        scale = row["scale"]
        if scale not in ("", "los"):
            raise r.fail(line, "scale", f"must be empty or los, not {scale!r}")
        limits.append(
            Limit(code, kind, _whole(r, line, "value", row["value"], 1), per, scale,
                  _prefixes(r, line, "exempt_dx", row["exempt_dx"]), row["note"])
        )  # fmt: skip

    doses: dict[str, Dose] = {}
    r = _Reader(
        folder, "dose.csv", ("med_list_codg", "units_per_pack", "unit_dose", "dose_unit", "max_daily", "note")
    )
    for line, row in r.rows():
        code = _code(r, line, "med_list_codg", row["med_list_codg"], items)
        if code in doses:
            raise r.fail(line, "med_list_codg", f"{code} is listed twice")
        doses[code] = Dose(
            code, _whole(r, line, "units_per_pack", row["units_per_pack"], 1),
            _fraction(r, line, "unit_dose", row["unit_dose"]), row["dose_unit"] or "mg",
            _fraction(r, line, "max_daily", row["max_daily"]), row["note"],
        )  # fmt: skip

    exempt: dict[str, tuple[str, ...]] = {}
    maternity: dict[str, frozenset[str]] = {}
    insutypes: dict[str, frozenset[str]] = {}
    depts: dict[str, tuple[str, ...]] = {}
    r = _Reader(folder, "restrictions.csv", ("med_list_codg", "kind", "value", "note"))
    for line, row in r.rows():
        code = _code(r, line, "med_list_codg", row["med_list_codg"], items)
        kind = row["kind"]
        if kind not in RESTRICTION_KINDS:
            raise r.fail(line, "kind", f"{kind!r} is not one of {', '.join(sorted(RESTRICTION_KINDS))}")
        values = _prefixes(r, line, "value", row["value"], empty=False)
        if kind == "exempt_dx":
            exempt[code] = exempt.get(code, ()) + values
        elif kind == "maternity":
            maternity[code] = maternity.get(code, frozenset()) | frozenset(values)
        elif kind == "depts":
            unknown = [v for v in values if v not in CATY]
            if unknown:
                raise r.fail(line, "value", f"{unknown[0]!r} is not a 科别 code (yibao.codes.CATY, e.g. A19 肿瘤科)")
            depts[code] = depts.get(code, ()) + tuple(v for v in values if v not in depts.get(code, ()))
        else:
            insutypes[code] = insutypes.get(code, frozenset()) | frozenset(values)

    single: set[str] = set()
    r = _Reader(folder, "single_herb.csv", ("med_list_codg", "name", "note"))
    for line, row in r.rows():
        code = _code(r, line, "med_list_codg", row["med_list_codg"], items)
        if items[code].list_type != "herb":
            raise r.fail(
                line, "med_list_codg", f"{code} is not a 中药饮片 (list_type {items[code].list_type})"
            )
        single.add(code)

    links: dict[str, Link] = {}
    r = _Reader(folder, "consumable_links.csv", ("consumable", "procedures", "oprn_prefixes", "note"))
    for line, row in r.rows():
        code = _code(r, line, "consumable", row["consumable"], items)
        procs = frozenset(
            _code(r, line, "procedures", p, items)
            for p in _prefixes(r, line, "procedures", row["procedures"])
        )
        oprn = _prefixes(r, line, "oprn_prefixes", row["oprn_prefixes"])
        if not procs and not oprn:
            raise r.fail(
                line, "procedures", "a consumable needs at least one procedure item or operation prefix"
            )
        links[code] = Link(code, procs, oprn, row["note"])

    procedures: dict[str, tuple[str, ...]] = {}
    r = _Reader(folder, "procedures.csv", ("med_list_codg", "oprn_prefixes", "note"))
    for line, row in r.rows():
        code = _code(r, line, "med_list_codg", row["med_list_codg"], items)
        procedures[code] = _prefixes(r, line, "oprn_prefixes", row["oprn_prefixes"], empty=False)

    incompatible: list[Incompatible] = []
    r = _Reader(folder, "incompatible.csv", ("kind", "item_a", "name_a", "item_b", "name_b", "note"))
    for line, row in r.rows():
        if row["kind"] not in ("十八反", "十九畏", "禁忌"):
            raise r.fail(line, "kind", f"must be 十八反, 十九畏 or 禁忌, not {row['kind']!r}")
        a = _code(r, line, "item_a", row["item_a"], items, empty=True)
        b = _code(r, line, "item_b", row["item_b"], items, empty=True)
        for col, code, nm in (("name_a", a, row["name_a"]), ("name_b", b, row["name_b"])):
            if not code and not nm:
                raise r.fail(line, col, "an item needs a code or a name")
        incompatible.append(
            Incompatible(
                row["kind"], a, row["name_a"] or items[a].name, b, row["name_b"] or items[b].name, row["note"]
            )
        )

    def prefix_list(name: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
        rd = _Reader(folder, name, columns)
        out = []
        for line, row in rd.rows():
            _prefixes(rd, line, "icd_prefix", row["icd_prefix"], empty=False)
            out.append((line, row))
        return out

    long_rx = tuple(
        row["icd_prefix"] for _, row in prefix_list("long_rx_dx.csv", ("icd_prefix", "name", "note"))
    )
    sex_rows = prefix_list("sex_specific_dx.csv", ("icd_prefix", "gend", "note"))
    for line, row in sex_rows:
        if row["gend"] not in ("1", "2"):
            raise KBError("sex_specific_dx.csv", line, "gend", f"must be 1 or 2, not {row['gend']!r}")
    sex_dx = tuple(
        sorted(((row["icd_prefix"], row["gend"]) for _, row in sex_rows), key=lambda p: -len(p[0]))
    )
    non_pay = tuple(
        row["icd_prefix"] for _, row in prefix_list("non_payable_dx.csv", ("icd_prefix", "name", "note"))
    )
    age_rows = []
    rd = _Reader(folder, "age_specific_dx.csv", ("icd_prefix", "age_min", "age_max", "note"))
    for line, row in prefix_list("age_specific_dx.csv", ("icd_prefix", "age_min", "age_max", "note")):
        lo = _whole(rd, line, "age_min", row["age_min"]) if row["age_min"] else None
        hi = _whole(rd, line, "age_max", row["age_max"]) if row["age_max"] else None
        if lo is None and hi is None:
            raise rd.fail(line, "age_min", "an age-specific diagnosis needs age_min or age_max")
        age_rows.append((row["icd_prefix"], lo, hi))
    age_dx = tuple(sorted(age_rows, key=lambda r: -len(r[0])))

    cc: list[CcSupport] = []
    r = _Reader(folder, "cc_support.csv", ("icd_prefix", "name", "cc_level", "evidence", "note"))
    for line, row in r.rows():
        prefixes = _prefixes(r, line, "icd_prefix", row["icd_prefix"], empty=False)
        if len(prefixes) != 1:
            raise r.fail(line, "icd_prefix", "must be one ICD-10 prefix (one row per diagnosis)")
        prefix = prefixes[0]
        if row["cc_level"] not in ("MCC", "CC"):
            raise r.fail(line, "cc_level", f"must be MCC or CC, not {row['cc_level']!r}")
        evidence = frozenset(
            _code(r, line, "evidence", c, items)
            for c in _prefixes(r, line, "evidence", row["evidence"], empty=False)
        )
        cc.append(CcSupport(prefix, row["name"], row["cc_level"], evidence, row["note"]))
    cc.sort(key=lambda x: -len(x.prefix))

    stent = _stent_care(folder, items)

    trace: dict[str, set[str]] = {}
    for prefix, code, _ in prefix_table(cat).iter_rows():
        trace.setdefault(prefix, set()).add(code)

    def by_a(rel: str) -> dict[str, tuple[Pair, ...]]:
        out: dict[str, list[Pair]] = {}
        for p in pairs:
            if p.relation == rel:
                out.setdefault(p.item_a, []).append(p)
        return {k: tuple(v) for k, v in out.items()}

    def lim(kind: str) -> dict[str, tuple[Limit, ...]]:
        out: dict[str, list[Limit]] = {}
        for x in limits:
            if x.limit == kind:
                out.setdefault(x.code, []).append(x)
        return {k: tuple(v) for k, v in out.items()}

    days: dict[str, int] = {}
    for x in limits:
        if x.limit == "days_supply":
            days[x.code] = min(days.get(x.code, x.value), x.value)
    for code, item in items.items():
        if item.restriction.max_days_supply is not None:
            days[code] = item.restriction.max_days_supply
    course = {x.code: x for x in limits if x.limit == "course_days"}

    return KnowledgeBase(
        catalog=cat, items=items, pairs=tuple(pairs), limits=tuple(limits), doses=doses, exempt_dx=exempt,
        maternity=maternity, insutypes=insutypes, single_herbs=frozenset(single), links=links,
        procedures=procedures, incompatible=tuple(incompatible), long_rx_dx=long_rx, sex_dx=sex_dx, age_dx=age_dx,
        non_payable_dx=non_pay, trace_products={k: frozenset(v) for k, v in trace.items()}, cc_support=tuple(cc), depts=depts, stent=stent,
        includes=by_a("includes"), exclusive=by_a("exclusive"), swaps=by_a("swap"), secondary=by_a("primary_secondary"),
        frequency=lim("frequency"), quantity=lim("quantity"), course=course, days_limit=days,
    )  # fmt: skip


_ATC_RE = re.compile(r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?")


def _stent_care(folder: Path, items: Mapping[str, CatalogItem]) -> StentCare:
    """coronary_stent.csv: a stent must be a consumable, a PCI a service, an antiplatelet a drug (by code)
    or an ATC prefix that at least one catalogue drug has (a typo would silently pass every stent)."""
    r = _Reader(folder, "coronary_stent.csv", ("role", "med_list_codg", "atc_prefix", "note"))
    want = {"stent": "consumable", "pci": "service", "antiplatelet": "drug"}
    got: dict[str, set[str]] = {k: set() for k in want}
    prefixes: list[str] = []
    for line, row in r.rows():
        role = row["role"]
        if role not in STENT_ROLES:
            raise r.fail(line, "role", f"{role!r} is not one of {', '.join(sorted(STENT_ROLES))}")
        atc = row["atc_prefix"]
        if atc:
            if role != "antiplatelet":
                raise r.fail(line, "atc_prefix", f"only antiplatelet rows take an ATC prefix, not {role}")
            if row["med_list_codg"]:
                raise r.fail(line, "med_list_codg", "give a code or an ATC prefix, not both")
            if not _ATC_RE.fullmatch(atc):
                raise r.fail(line, "atc_prefix", f"{atc!r} is not an ATC prefix (e.g. B01AC)")
            prefix = "X" + atc
            if not any(c.startswith(prefix) and i.list_type == "drug" for c, i in items.items()):
                raise r.fail(line, "atc_prefix", f"no catalogue drug has the ATC prefix {atc}")
            prefixes.append(prefix)
            continue
        code = _code(r, line, "med_list_codg", row["med_list_codg"], items)
        if items[code].list_type != want[role]:
            raise r.fail(
                line, "med_list_codg", f"{code} is a {items[code].list_type}, not a {want[role]} ({role})"
            )
        got[role].add(code)
    if not got["stent"]:
        raise r.fail(1, "role", "lists no stent")
    if not got["antiplatelet"] and not prefixes:
        raise r.fail(1, "role", "lists no antiplatelet drug")
    return StentCare(
        frozenset(got["stent"]), frozenset(got["pci"]), frozenset(got["antiplatelet"]), tuple(prefixes)
    )


@cache
def default_kb() -> KnowledgeBase:
    """The shipped knowledge base checked against the starter catalogue, read once per process."""
    return load_kb()


# ---------------------------------------------------------------------------------------------
# Frames for batch SQL
# ---------------------------------------------------------------------------------------------

_S = pl.String
_I = pl.Int64


def _df(rows: list[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def _frame(kb: KnowledgeBase, name: str) -> pl.DataFrame:
    items = kb.items
    if name == "items":
        return _df(
            [(c, i.name, i.list_type, i.med_chrgitm_type, i.chrgitm_lv) for c, i in sorted(items.items())],
            {"code": _S, "name": _S, "list_type": _S, "med_chrgitm_type": _S, "chrgitm_lv": _S},
        )
    if name == "prices":
        rows: list[tuple[Any, ...]] = []
        for i in kb.catalog.items():
            for lv, cap in sorted(i.pric_uplmt.items()):
                rows.append((i.med_list_codg, lv, cap, i.begndate, i.enddate))
        return _df(rows, {"code": _S, "lv": _S, "cap": _I, "begndate": pl.Date, "enddate": pl.Date})
    if name == "gender":
        return _df(
            [(c, i.restriction.gend) for c, i in sorted(items.items()) if i.restriction.gend],
            {"code": _S, "gend": _S},
        )
    if name == "age":
        return _df(
            [(c, i.restriction.age_min, i.restriction.age_max) for c, i in sorted(items.items())
             if i.restriction.age_min is not None or i.restriction.age_max is not None],
            {"code": _S, "age_min": _I, "age_max": _I},
        )  # fmt: skip
    if name == "level":
        return _df(
            [(c, i.restriction.hosp_lv_min) for c, i in sorted(items.items()) if i.restriction.hosp_lv_min],
            {"code": _S, "lv_min": _S},
        )
    if name == "visits":
        return _df(
            [(c, v) for c, i in sorted(items.items()) for v in sorted(i.restriction.visits)],
            {"code": _S, "visit": _S},
        )
    if name == "indications":
        return _df(
            [(c, p, len(p)) for c, i in sorted(items.items()) for p in i.restriction.indications],
            {"code": _S, "prefix": _S, "len": _I},
        )
    if name == "exempt":
        return _df(
            [(c, p, len(p)) for c, ps in sorted(kb.exempt_dx.items()) for p in ps],
            {"code": _S, "prefix": _S, "len": _I},
        )
    if name == "maternity":
        return _df(
            [(c, t) for c, ts in sorted(kb.maternity.items()) for t in sorted(ts)],
            {"code": _S, "insutype": _S},
        )
    if name == "depts":
        return _df(
            [(c, a, CATY[a]) for c, allowed in sorted(kb.depts.items()) for a in allowed],
            {"code": _S, "caty": _S, "caty_name": _S},
        )
    if name == "insutypes":
        return _df(
            [(c, t) for c, ts in sorted(kb.insutypes.items()) for t in sorted(ts)],
            {"code": _S, "insutype": _S},
        )
    if name == "pairs":
        return _df(
            [(p.relation, p.item_a, p.item_b, p.scope, p.rate.numerator if p.rate else None, p.rate.denominator if p.rate else None)
             for p in kb.pairs],
            {"relation": _S, "item_a": _S, "item_b": _S, "scope": _S, "rate_num": _I, "rate_den": _I},
        )  # fmt: skip
    if name == "limits":
        return _df(
            [(x.code, x.limit, x.value, x.per, x.scale) for x in kb.limits],
            {"code": _S, "limit_kind": _S, "value": _I, "per": _S, "scale": _S},
        )
    if name == "days":
        return _df(sorted(kb.days_limit.items()), {"code": _S, "max_days": _I})
    if name == "dose":
        # daily dose in 1e-4 packages per day: max_daily / (unit_dose × units_per_pack), as num/den
        rows = []
        for c, d in sorted(kb.doses.items()):
            per_pack = d.unit_dose * d.units_per_pack
            ratio = d.max_daily / per_pack  # packages per day at the maximum dose
            rows.append((c, d.units_per_pack, ratio.numerator, ratio.denominator))
        return _df(rows, {"code": _S, "units_per_pack": _I, "max_packs_num": _I, "max_packs_den": _I})
    if name == "single_herb":
        return _df([(c,) for c in sorted(kb.single_herbs)], {"code": _S})
    if name == "links":
        return _df(
            [(c, p) for c, link in sorted(kb.links.items()) for p in sorted(link.procedures)],
            {"consumable": _S, "procedure": _S},
        )
    if name == "link_oprn":
        return _df(
            [(c, p, len(p)) for c, link in sorted(kb.links.items()) for p in link.oprn_prefixes],
            {"consumable": _S, "prefix": _S, "len": _I},
        )
    if name == "procedures":
        return _df(
            [(c, p, len(p)) for c, ps in sorted(kb.procedures.items()) for p in ps],
            {"code": _S, "prefix": _S, "len": _I},
        )
    if name == "incompatible":
        return _df(
            [(x.kind, x.item_a, x.item_b, x.note) for x in kb.incompatible if x.item_a and x.item_b],
            {"kind": _S, "item_a": _S, "item_b": _S, "note": _S},
        )
    if name == "long_rx":
        return _df([(p, len(p)) for p in kb.long_rx_dx], {"prefix": _S, "len": _I})
    if name == "sex_dx":
        return _df([(p, g, len(p)) for p, g in kb.sex_dx], {"prefix": _S, "gend": _S, "len": _I})
    if name == "age_dx":
        return _df(
            [(p, lo, hi, len(p)) for p, lo, hi in kb.age_dx],
            {"prefix": _S, "age_min": _I, "age_max": _I, "len": _I},
        )
    if name == "nonpay_dx":
        return _df([(p, len(p)) for p in kb.non_payable_dx], {"prefix": _S, "len": _I})
    if name == "trace":
        rows = []
        for prefix, codes in sorted(kb.trace_products.items()):
            for c in sorted(codes):
                rows.append((prefix, c, items[c].chrgitm_lv if c in items else "", len(codes)))
        return _df(rows, {"prefix": _S, "code": _S, "chrgitm_lv": _S, "n_codes": _I})
    if name == "cc":
        return _df(
            [(x.prefix, len(x.prefix), x.name, x.cc_level) for x in kb.cc_support],
            {"prefix": _S, "len": _I, "name": _S, "cc_level": _S},
        )
    if name == "cc_evidence":
        return _df(
            [(x.prefix, c) for x in kb.cc_support for c in sorted(x.evidence)], {"prefix": _S, "code": _S}
        )
    if name == "stent":
        st = kb.stent
        rows = [("stent", c, "") for c in sorted(st.stents)] + [("pci", c, "") for c in sorted(st.procedures)]
        rows += [("antiplatelet", c, "") for c in sorted(st.antiplatelets)]
        rows += [("antiplatelet", "", p) for p in st.antiplatelet_prefixes]
        return _df(rows, {"role": _S, "code": _S, "prefix": _S})
    raise KeyError(f"no KB table {name!r} (known: {', '.join(FRAMES)})")


def export(kb: KnowledgeBase, folder: Path | str) -> list[Path]:
    """Write every KB table (derived ones included) as CSV into ``folder``, for a reviewer."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n in FRAMES:
        p = out / f"{n}.csv"
        kb.frame(n).write_csv(p)
        written.append(p)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m yibao.supervision.kb DIR``: export the knowledge base (with its derived tables) as CSV."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m yibao.supervision.kb DIR", file=sys.stderr)
        return 2
    for p in export(default_kb(), args[0]):
        print(p)
    return 0


_ = date  # dates appear in the prices frame

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
