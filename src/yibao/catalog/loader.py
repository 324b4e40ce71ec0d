"""yibao's own catalogue file (one CSV), its reader, its writer and the shipped starter subset.

The file is UTF-8 (a leading BOM is tolerated), comma-separated with ``"`` quoting, and starts with one
header row naming every column below exactly once (in any order; no other columns). Each further row is
one version of one national item, in force from ``begndate`` to ``enddate``. Empty rows are skipped.

======================  =====================================================================================
column                  meaning and accepted values
======================  =====================================================================================
med_list_codg           national code (医保目录编码), up to 50 letters, digits, ``-``, ``_`` or ``.``
name                    通用名 / 项目名称, not empty
list_type               ``drug`` 西药中成药, ``herb`` 中药饮片, ``service`` 医疗服务项目, ``consumable`` 医用耗材
med_chrgitm_type        医疗收费项目类别 ``01``–``14`` (01 床位费 … 09 西药费, 10 中药饮片费, 11 中成药费 … 14 其他费)
chrgitm_lv              收费项目等级 ``01`` 甲类, ``02`` 乙类, ``03`` 丙类
selfpay_prop            先行自付比例, a decimal in [0, 1] with at most 4 places (``0.10``); empty = 0;
                        must be 0 for 甲类 and 丙类
pric_uplmt_3            price cap (限价 / 支付标准) in yuan at 三级 hospitals, at most 6 decimals, > 0;
pric_uplmt_2            … at 二级;
pric_uplmt_1            … at 一级及以下 (含未定级); empty = no cap at that level
lmt_gend                ``1`` 限男性, ``2`` 限女性, empty = either
lmt_age_min             payable from this age (whole years, 0–150); empty = no lower bound
lmt_age_max             payable up to this age inclusive (``17`` = 限儿童, i.e. under 18); empty = no bound
lmt_hosp_lv_min         ``1`` / ``2`` / ``3``: payable only at this coarse level or above (``2`` = 限二级及以上)
lmt_visits              ``|``-separated subset of outpatient / chronic / inpatient / pharmacy / ltc
                        (``inpatient`` = 限住院, ``chronic`` = 限门诊慢特病); empty = any visit
lmt_indications         ``|``-separated ICD-10 prefixes, upper case (``E11|E10``); a line is payable when one
                        diagnosis of the encounter starts with one of them; empty = any diagnosis
lmt_max_days            at most this many days of medication per line (1–366); empty = no limit
lmt_text                限定支付范围 as the catalogue states it, for the reviewer (may say more than the
                        structured columns can check)
begndate                first day in force, ISO ``YYYY-MM-DD``
enddate                 last day in force (inclusive), ISO date, ≥ begndate; empty = open
spec                    规格 / 包装, free text
unit                    the unit that ``pric`` and the caps refer to (盒, 次, 支, g …), free text
dosform                 剂型, free text
demo                    ``1`` for rows of the shipped demo subset (approximations, not official), ``0`` or empty
                        otherwise
======================  =====================================================================================

Two versions of one code must not overlap in time. A malformed file raises :class:`CatalogError`, naming
the file, the line and the column, e.g. ``starter_catalog.csv line 17, column selfpay_prop: …``. Floats are
never used: amounts go through :func:`yibao.money.parse_scaled`.

>>> cat = default_catalog()
>>> len(cat) >= 330
True
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from datetime import date
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path

from yibao.catalog.model import (
    HOSP_LEVELS,
    LIST_TYPES,
    NO_RESTRICTION,
    VISIT_KINDS,
    Catalog,
    CatalogItem,
    Restriction,
)
from yibao.money import PRICE_PLACES, ZERO_RATIO, MoneyError, Ratio, parse_scaled

__all__ = [
    "COLUMNS",
    "STARTER_RESOURCE",
    "CatalogError",
    "default_catalog",
    "load_catalog",
    "parse_catalog",
    "write_catalog_csv",
]

COLUMNS = (
    "med_list_codg",
    "name",
    "list_type",
    "med_chrgitm_type",
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt_3",
    "pric_uplmt_2",
    "pric_uplmt_1",
    "lmt_gend",
    "lmt_age_min",
    "lmt_age_max",
    "lmt_hosp_lv_min",
    "lmt_visits",
    "lmt_indications",
    "lmt_max_days",
    "lmt_text",
    "begndate",
    "enddate",
    "spec",
    "unit",
    "dosform",
    "demo",
)
"""The columns of yibao's catalogue CSV, in the order :func:`write_catalog_csv` writes them."""

STARTER_RESOURCE = "data/starter_catalog.csv"
"""The shipped demo subset, relative to the ``yibao.catalog`` package."""

CHRGITM_LVS = frozenset({"01", "02", "03"})
MED_CHRGITM_TYPES = frozenset(f"{n:02d}" for n in range(1, 15))
SELFPAY_PLACES = 4  # selfpay_prop is DECIMAL(5,4) on the wire

_CODE_RE = re.compile(r"[0-9A-Za-z._-]{1,50}")
_ICD_RE = re.compile(r"[A-Z][0-9A-Z.]{0,9}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CAP_COLUMNS = (("3", "pric_uplmt_3"), ("2", "pric_uplmt_2"), ("1", "pric_uplmt_1"))
_NO_RESTRICTION = NO_RESTRICTION


class CatalogError(ValueError):
    """A catalogue file that cannot be read; the message names the file, the line and the column.

    Attributes:
        source: the file name (no directory) or a label such as ``<catalogue>``.
        line: 1-based physical line of the offending row (the header is line 1).
        column: the column (or national field) at fault, or ``(row)`` / ``(header)``.
        message: what is wrong, without the location.
    """

    def __init__(self, source: str, line: int, column: str, message: str) -> None:
        super().__init__(f"{source} line {line}, column {column}: {message}")
        self.source = source
        self.line = line
        self.column = column
        self.message = message


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def load_catalog(path: Path | str) -> Catalog:
    """Read a yibao catalogue CSV (see the module docstring for the columns)."""
    p = Path(path)
    with p.open(encoding="utf-8-sig", newline="") as f:
        return parse_catalog(f, p.name)


@cache
def default_catalog() -> Catalog:
    """The shipped starter catalogue (demo subset, ``demo=1`` on every row), read once per process."""
    text = resources.files("yibao.catalog").joinpath(STARTER_RESOURCE).read_text(encoding="utf-8-sig")
    return parse_catalog(io.StringIO(text, newline=""), Path(STARTER_RESOURCE).name)


def parse_catalog(lines: Iterable[str], source: str = "<catalogue>") -> Catalog:
    """Read catalogue CSV text (an open file or any iterable of lines); ``source`` names it in errors."""
    return Catalog(_read_items(lines, source))


def _read_items(lines: Iterable[str], source: str) -> list[CatalogItem]:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CatalogError(source, 1, "(header)", f"not readable as CSV: {exc}") from None
    if header is None:
        raise CatalogError(source, 1, "(header)", "the file is empty; expected a header row")
    index = _header_index(header, source)
    width = len(header)
    parser = _RowParser(source)
    items: list[CatalogItem] = []
    lines_of: list[int] = []
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise CatalogError(source, reader.line_num, "(row)", f"not readable as CSV: {exc}") from None
        if row is None:
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            if len(row) < width:
                missing = header[len(row)].strip()
                raise CatalogError(
                    source, line, missing, f"missing (row has {len(row)} fields, header has {width})"
                )
            raise CatalogError(source, line, "(row)", f"has {len(row)} fields, header has {width}")
        parser.line = line
        items.append(parser.item({name: row[i] for name, i in index.items()}))
        lines_of.append(line)
    _check_versions(items, lines_of, source)
    return items


def _header_index(header: list[str], source: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip()
        if name not in COLUMNS:
            raise CatalogError(
                source, 1, name or f"#{i + 1}", "unknown column (see yibao.catalog.loader.COLUMNS)"
            )
        if name in index:
            raise CatalogError(source, 1, name, "appears twice in the header")
        index[name] = i
    for name in COLUMNS:
        if name not in index:
            raise CatalogError(source, 1, name, "missing from the header")
    return index


def _check_versions(items: list[CatalogItem], lines_of: list[int], source: str) -> None:
    """Versions of one code must not overlap: ``Catalog.get`` would otherwise be ambiguous."""
    by_code: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_code.setdefault(item.med_list_codg, []).append(i)
    for positions in by_code.values():
        if len(positions) < 2:
            continue
        positions.sort(key=lambda i: items[i].begndate)
        for prev, cur in itertools.pairwise(positions):
            end = items[prev].enddate
            if end is None or end >= items[cur].begndate:
                later = max(lines_of[prev], lines_of[cur])
                earlier = min(lines_of[prev], lines_of[cur])
                raise CatalogError(
                    source,
                    later,
                    "begndate",
                    f"{items[cur].med_list_codg} overlaps its version on line {earlier}",
                )


class _RowParser:
    """Turns one CSV record into a :class:`CatalogItem`, raising :class:`CatalogError` at its line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.line = 0
        self._ratios: dict[str, Ratio] = {}
        self._dates: dict[str, date] = {}

    def fail(self, column: str, message: str) -> CatalogError:
        return CatalogError(self.source, self.line, column, message)

    def item(self, rec: dict[str, str]) -> CatalogItem:
        code = rec["med_list_codg"].strip()
        if not _CODE_RE.fullmatch(code):
            raise self.fail("med_list_codg", f"must be 1-50 letters, digits, '.', '_' or '-', not {code!r}")
        name = rec["name"].strip()
        if not name:
            raise self.fail("name", "is empty")
        list_type = self.choice(rec, "list_type", LIST_TYPES)
        med_chrgitm_type = self.choice(rec, "med_chrgitm_type", MED_CHRGITM_TYPES)
        chrgitm_lv = self.choice(rec, "chrgitm_lv", CHRGITM_LVS)
        selfpay = self.ratio(rec["selfpay_prop"])
        if chrgitm_lv != "02" and selfpay != ZERO_RATIO:
            kind = "甲类" if chrgitm_lv == "01" else "丙类"
            raise self.fail(
                "selfpay_prop", f"must be 0 for {kind} (chrgitm_lv {chrgitm_lv}), not {rec['selfpay_prop']!r}"
            )
        caps: dict[str, int] = {}
        for level, column in _CAP_COLUMNS:
            cap = self.price(rec[column], column)
            if cap is not None:
                caps[level] = cap
        begndate = self.date(rec["begndate"], "begndate")
        end_text = rec["enddate"].strip()
        enddate = self.date(end_text, "enddate") if end_text else None
        if enddate is not None and enddate < begndate:
            raise self.fail("enddate", f"{enddate.isoformat()} is before begndate {begndate.isoformat()}")
        demo = rec["demo"].strip()
        if demo not in ("", "0", "1"):
            raise self.fail("demo", f"must be 1, 0 or empty, not {demo!r}")
        return CatalogItem(
            med_list_codg=code,
            name=name,
            list_type=list_type,
            med_chrgitm_type=med_chrgitm_type,
            chrgitm_lv=chrgitm_lv,
            selfpay_prop=selfpay,
            pric_uplmt=caps,
            restriction=self.restriction(rec),
            begndate=begndate,
            enddate=enddate,
            spec=rec["spec"].strip(),
            unit=rec["unit"].strip(),
            dosform=rec["dosform"].strip(),
            demo=demo == "1",
        )

    def choice(self, rec: dict[str, str], column: str, allowed: frozenset[str]) -> str:
        value = rec[column].strip()
        if value not in allowed:
            raise self.fail(column, f"must be one of {', '.join(sorted(allowed))}, not {value!r}")
        return value

    def ratio(self, text: str) -> Ratio:
        text = text.strip()
        if not text:
            return ZERO_RATIO
        cached = self._ratios.get(text)
        if cached is not None:
            return cached
        try:
            scaled = parse_scaled(text, SELFPAY_PLACES, "selfpay_prop")
        except MoneyError as exc:
            raise self.fail("selfpay_prop", exc.message) from None
        if scaled > 10**SELFPAY_PLACES:
            raise self.fail("selfpay_prop", f"must be between 0 and 1, not {text!r}")
        f = Fraction(scaled, 10**SELFPAY_PLACES)
        ratio = Ratio(f.numerator, f.denominator)
        self._ratios[text] = ratio
        return ratio

    def price(self, text: str, column: str) -> int | None:
        text = text.strip()
        if not text:
            return None
        try:
            cap = parse_scaled(text, PRICE_PLACES, column)
        except MoneyError as exc:
            raise self.fail(column, exc.message) from None
        if cap == 0:
            raise self.fail(column, "a price cap must be positive (leave the cell empty for no cap)")
        return cap

    def date(self, text: str, column: str) -> date:
        text = text.strip()
        cached = self._dates.get(text)
        if cached is not None:
            return cached
        if not _DATE_RE.fullmatch(text):
            raise self.fail(column, f"must be an ISO date YYYY-MM-DD, not {text!r}")
        try:
            d = date.fromisoformat(text)
        except ValueError as exc:
            raise self.fail(column, f"{text!r} is not a valid date ({exc})") from None
        self._dates[text] = d
        return d

    def whole(self, text: str, column: str, low: int, high: int) -> int | None:
        text = text.strip()
        if not text:
            return None
        if not text.isascii() or not text.isdigit():
            raise self.fail(column, f"must be a whole number, not {text!r}")
        n = int(text)
        if not low <= n <= high:
            raise self.fail(column, f"must be between {low} and {high}, not {n}")
        return n

    def restriction(self, rec: dict[str, str]) -> Restriction:
        gend = rec["lmt_gend"].strip()
        if gend not in ("", "1", "2"):
            raise self.fail("lmt_gend", f"must be 1 (男), 2 (女) or empty, not {gend!r}")
        age_min = self.whole(rec["lmt_age_min"], "lmt_age_min", 0, 150)
        age_max = self.whole(rec["lmt_age_max"], "lmt_age_max", 0, 150)
        if age_min is not None and age_max is not None and age_min > age_max:
            raise self.fail("lmt_age_max", f"lmt_age_min {age_min} is above lmt_age_max {age_max}")
        hosp_lv = rec["lmt_hosp_lv_min"].strip()
        if hosp_lv and hosp_lv not in HOSP_LEVELS:
            raise self.fail("lmt_hosp_lv_min", f"must be 1, 2, 3 or empty, not {hosp_lv!r}")
        visits = frozenset(_split(rec["lmt_visits"]))
        unknown = sorted(visits - VISIT_KINDS)
        if unknown:
            raise self.fail(
                "lmt_visits", f"unknown visit kind {unknown[0]!r} (use {', '.join(sorted(VISIT_KINDS))})"
            )
        indications = tuple(_split(rec["lmt_indications"]))
        for prefix in indications:
            if not _ICD_RE.fullmatch(prefix):
                raise self.fail(
                    "lmt_indications", f"{prefix!r} is not an upper-case ICD-10 prefix such as E11"
                )
        max_days = self.whole(rec["lmt_max_days"], "lmt_max_days", 1, 366)
        text = rec["lmt_text"].strip()
        if not (gend or age_min is not None or age_max is not None or hosp_lv or visits or indications) and (
            max_days is None and not text
        ):
            return _NO_RESTRICTION
        return Restriction(
            gend=gend or None,
            age_min=age_min,
            age_max=age_max,
            hosp_lv_min=hosp_lv or None,
            visits=visits,
            indications=indications,
            max_days_supply=max_days,
            text=text,
        )


def _split(text: str) -> Iterator[str]:
    for part in text.split("|"):
        part = part.strip()
        if part:
            yield part


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def write_catalog_csv(catalog: Catalog | Iterable[CatalogItem], path: Path | str) -> int:
    """Write ``catalog`` as a yibao catalogue CSV that :func:`load_catalog` reads back; returns the row count."""
    items = catalog.items() if isinstance(catalog, Catalog) else catalog
    p = Path(path)
    n = 0
    with p.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for item in items:
            writer.writerow(_row(item))
            n += 1
    return n


def _row(item: CatalogItem) -> list[str]:
    r = item.restriction
    return [
        item.med_list_codg,
        item.name,
        item.list_type,
        item.med_chrgitm_type,
        item.chrgitm_lv,
        _ratio_text(item.selfpay_prop),
        *(_price_text(item.pric_uplmt.get(level)) for level, _ in _CAP_COLUMNS),
        r.gend or "",
        "" if r.age_min is None else str(r.age_min),
        "" if r.age_max is None else str(r.age_max),
        r.hosp_lv_min or "",
        "|".join(sorted(r.visits)),
        "|".join(r.indications),
        "" if r.max_days_supply is None else str(r.max_days_supply),
        r.text,
        item.begndate.isoformat(),
        "" if item.enddate is None else item.enddate.isoformat(),
        item.spec,
        item.unit,
        item.dosform,
        "1" if item.demo else "0",
    ]


def _ratio_text(ratio: Ratio) -> str:
    """``Ratio(1, 10)`` → ``"0.10"``; refuses a ratio that needs more than 4 decimals."""
    if ratio.num == 0:
        return "0"
    scaled, rest = divmod(ratio.num * 10**SELFPAY_PLACES, ratio.den)
    if rest:
        raise ValueError(f"selfpay_prop {ratio.num}/{ratio.den} needs more than {SELFPAY_PLACES} decimals")
    return _fixed(scaled, SELFPAY_PLACES)


def _price_text(micro: int | None) -> str:
    return "" if micro is None else _fixed(micro, PRICE_PLACES)


def _fixed(scaled: int, places: int) -> str:
    """An integer count of ``10**-places`` as a decimal string with at least 2 decimals: 12500000, 6 → 12.50."""
    whole, frac = divmod(scaled, 10**places)
    digits = f"{frac:0{places}d}".rstrip("0")
    return f"{whole}.{digits:0<2}"
