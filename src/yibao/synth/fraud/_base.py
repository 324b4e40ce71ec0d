"""What every fraud injector shares: the context it runs in, new ids and trace codes, new rows, labels.

An injector (one module per pattern) is ``apply(rng, tables, ctx) -> (tables, labels)``. It reads the
chunk's clean tables, picks its cases among the entities ``ctx`` makes bad, changes or adds rows with
:class:`Rows` (which keeps money exact and ids unique) and describes each case with :class:`Labels`.

>>> from yibao.catalog.model import Catalog
>>> ctx = Context("split_admission", 0, "SA", chunk=3, year=2024, rate=0.02, catalog=Catalog())
>>> rows = Rows(ctx)
>>> rows.new_id("M"), rows.new_id("M"), rows.new_id("F")
('M3SA000001', 'M3SA000002', 'F3SA000001')
>>> fee_amount(12_500000, 3_0000)  # 12.50 yuan × 3 → 37.50 yuan, in fen
3750
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

import numpy as np
import polars as pl

from yibao import codes
from yibao.catalog.model import Catalog, CatalogItem, LineContext
from yibao.catalog.trace import (
    CLEAN_CHUNKS,
    RESERVED_SERIAL_START,
    product_prefix,
    serial,
    trace_code,
    trace_codes,
)
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.money import round_div
from yibao.synth.kept import of_region

Tables = dict[str, pl.DataFrame]
Params = Mapping[str, Any]

CARE_TABLES = ("mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d", "fee_list_d", "drug_trac_d")
"""The per-chunk tables an injector may change (the register and the institutions are left alone)."""

LABEL_COLUMNS = TABLES["labels"].names
FEN_DIVISOR = 10**8  # pric (1e-6 yuan) × cnt (1e-4) → fen (1e-2 yuan)
UNIT = 10_000  # cnt of one package / one time
YUAN = 1_000_000  # pric of one yuan

INPATIENT = "inpatient"
FEW_CASES = 3
"""Every pattern may make at least this many cases in a chunk (when it finds candidates)."""
MOST_PER_INSTITUTION = 1500
"""At most this many cases of one pattern per bad institution and chunk: a systematic fraud at a big
hospital stays a fraud of some lines, not of every line (and the labels stay a manageable size)."""
VISIT = {m: codes.visit_kind(m) for m in codes.MED_TYPE}
"""med_type → benefit visit kind (outpatient, chronic, inpatient, pharmacy, ltc)."""


_COARSE = {c: codes.coarse_hosp_lv(c) for c in (*codes.HOSP_LV, "1", "2", "3")}


def visit_of(med_type: str) -> str:
    """The benefit visit kind of a med_type (outpatient, chronic, inpatient, pharmacy, ltc), "" if unknown."""
    return VISIT.get(med_type, "")


def fee_amount(pric: int, cnt: int) -> int:
    """The line amount in fen: ``round_div(pric × cnt, 10**8)`` — the one rounding rule."""
    return round_div(pric * cnt, FEN_DIVISOR)


def fee_amount_expr(pric: pl.Expr, cnt: pl.Expr) -> pl.Expr:
    """:func:`fee_amount` over columns (half away from zero, exactly as :func:`yibao.money.round_div`)."""
    num = pric * cnt
    pos = (2 * num + FEN_DIVISOR) // (2 * FEN_DIVISOR)
    neg = -((-2 * num + FEN_DIVISOR) // (2 * FEN_DIVISOR))
    return pl.when(num >= 0).then(pos).otherwise(neg)


def packages(cnt: int) -> int:
    """Smallest packages (trace codes) a quantity of ``cnt`` (1e-4 units) needs: at least one."""
    return max(1, -(-cnt // UNIT))


def age_on(brdy: date, on: date) -> int:
    """Whole years of age on ``on``."""
    return on.year - brdy.year - ((on.month, on.day) < (brdy.month, brdy.day))


def digest_seed(*frames: pl.DataFrame) -> int:
    """A 63-bit seed from the content of some frames (stable across runs, chunks and processes)."""
    h = hashlib.blake2b(digest_size=8)
    for df in frames:
        h.update(df.write_csv().encode("utf-8"))
    return int.from_bytes(h.digest(), "big") >> 1


def _rounded(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {str(k): _rounded(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_rounded(x) for x in v]
    return v


def _plain(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return round(float(v), 4)
    raise TypeError(f"{type(v).__name__} is not a label parameter")


def params_json(params: Params) -> str:
    """Parameters as compact JSON with sorted keys; floats rounded to 4 places (they are not money).

    >>> params_json({"b": 0.123456, "a": [date(2024, 1, 2)]})
    '{"a":["2024-01-02"],"b":0.1235}'
    """
    return json.dumps(
        _rounded(params), default=_plain, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


# ---------------------------------------------------------------------------------------------
# Prices seen in the data, bounded by the catalogue's caps
# ---------------------------------------------------------------------------------------------


class PriceBook:
    """The price an injector bills for an item at a level: what the chunk's clean lines charge for it
    (the median at that coarse level, else the median at the level billing it most), never above the
    catalogue's cap there; for an item the data never shows, the cap or a modest default by item type.

    >>> from yibao.catalog.model import Catalog, CatalogItem
    >>> cat = Catalog([CatalogItem("S1", "B超", "service", "03", "01", pric_uplmt={"3": 40_000000})])
    >>> book = PriceBook(pl.DataFrame({"med_list_codg": ["S1"], "pric": [35_000000], "lv": ["3"]}), cat, 2024)
    >>> book.price("S1", "3"), book.price("S1", "2"), book.observed("S9")
    (35000000, 35000000, None)
    """

    DEFAULT: ClassVar[Mapping[str, int]] = {
        "drug": 30 * YUAN,
        "herb": 2 * YUAN,
        "service": 20 * YUAN,
        "consumable": 10 * YUAN,
    }

    def __init__(self, priced: pl.DataFrame, catalog: Catalog, year: int) -> None:
        self.catalog = catalog
        self.on = date(year, 7, 1)
        self._by_level: dict[tuple[str, str], int] = {}
        self._by_code: dict[str, int] = {}
        self._items: dict[str, CatalogItem | None] = {}
        if priced.height:
            cells = (
                priced.group_by("med_list_codg", "lv")
                .agg(pl.col("pric").quantile(0.5, "nearest"), pl.len().alias("n"))
                .sort("med_list_codg", "lv")
            )
            best: dict[str, tuple[int, int]] = {}
            for code, lv, p, n in cells.iter_rows():
                self._by_level[(code, lv)] = int(p)
                if code not in best or n > best[code][1]:
                    best[code] = (int(p), n)
            self._by_code = {c: p for c, (p, _) in best.items()}

    def item(self, code: str) -> CatalogItem | None:
        if code not in self._items:
            self._items[code] = self.catalog.get(code, self.on)
        return self._items[code]

    def observed(self, code: str, lv: str | None = None) -> int | None:
        if lv is not None and (code, lv) in self._by_level:
            return self._by_level[(code, lv)]
        return self._by_code.get(code)

    def cap(self, code: str, lv: str) -> int | None:
        item = self.item(code)
        return None if item is None else item.price_cap(lv)

    def price(self, code: str, lv: str) -> int:
        item = self.item(code)
        cap = None if item is None else item.price_cap(lv)
        seen = self.observed(code, lv)
        if seen is None:
            if cap is not None:
                seen = cap
            elif item is not None and item.pric_uplmt:
                seen = min(item.pric_uplmt.values())
            else:
                seen = self.DEFAULT.get(item.list_type if item else "service", 20 * YUAN)
        return seen if cap is None else min(seen, cap)


# ---------------------------------------------------------------------------------------------
# Serials of new trace codes
# ---------------------------------------------------------------------------------------------

INJECTED_PER_CHUNK = 100_000
"""New trace codes one chunk's injection may make per product prefix."""


class Serials:
    """Serials for new trace codes, counted per product prefix.

    The injectors use the range :mod:`yibao.catalog.trace` reserves for codes made outside the care
    generator: serial ``900000000 + chunk × 100000 + n`` — unique across chunks (0–899) and, since all
    patterns of a chunk share one ``Serials``, across patterns. ``Serials.clean(chunk)`` numbers codes
    the way clean care does (for :mod:`yibao.synth.fraud.sample`).

    >>> s = Serials.injected(3)
    >>> s.code("XJ01CAW001A010010167184")[7:16], s.code("XJ01CAW001A010010167184")[7:16]
    ('900300000', '900300001')
    """

    def __init__(self, base: int, limit: int) -> None:
        self.base = base
        self.limit = limit
        self._next: dict[str, int] = {}
        self._prefix: dict[str, str] = {}

    @classmethod
    def injected(cls, chunk: int) -> Serials:
        if not 0 <= chunk < CLEAN_CHUNKS:
            raise ValueError(
                f"chunk {chunk} is outside 0–{CLEAN_CHUNKS - 1}: traceability serials would overflow"
            )
        return cls(RESERVED_SERIAL_START + chunk * INJECTED_PER_CHUNK, INJECTED_PER_CHUNK)

    @classmethod
    def clean(cls, chunk: int) -> Serials:
        return cls(serial(chunk, 0), 10**6)

    def code(self, med_list_codg: str) -> str:
        prefix = self._prefix.get(med_list_codg)
        if prefix is None:
            prefix = self._prefix[med_list_codg] = product_prefix(med_list_codg)
        n = self._next.get(prefix, 0)
        if n >= self.limit:
            raise ValueError(f"more than {self.limit} new trace codes of product {prefix} in one chunk")
        self._next[prefix] = n + 1
        return trace_code(prefix, self.base + n)

    def codes(self, med_list_codg: pl.Series) -> pl.Series:
        """New codes of many products at once: the codes, in the order, that :meth:`code` on each of
        them in turn would make (vectorised; the serials count on per prefix in that order).

        >>> drugs = ["XJ01CAW001A010010167184", "XA10BAY026A001010127690", "XJ01CAW001A010010167184"]
        >>> one, many = Serials.injected(3), Serials.injected(3)
        >>> many.codes(pl.Series(drugs)).to_list() == [one.code(c) for c in drugs]
        True
        """
        if med_list_codg.len() == 0:
            return pl.Series("drug_trac_codg", [], dtype=pl.String)
        for c in med_list_codg.unique().to_list():
            if c not in self._prefix:
                self._prefix[c] = product_prefix(c)
        prefix = med_list_codg.replace_strict(self._prefix, return_dtype=pl.String).cast(pl.Int64).to_numpy()
        uniq, which, counts = np.unique(prefix, return_inverse=True, return_counts=True)
        order = np.argsort(which, kind="stable")  # the codes of each prefix, in their order
        rank = np.empty(len(prefix), dtype=np.int64)
        rank[order] = np.arange(len(prefix)) - np.repeat(np.cumsum(counts) - counts, counts)
        names = [str(u) for u in uniq.tolist()]
        first = np.array([self._next.get(n, 0) for n in names], dtype=np.int64)
        over = np.flatnonzero(first + counts > self.limit)
        if len(over):
            raise ValueError(
                f"more than {self.limit} new trace codes of product {names[over[0]]} in one chunk"
            )
        self._next.update(zip(names, (first + counts).tolist(), strict=True))
        return trace_codes(prefix, self.base + first[which] + rank)


# ---------------------------------------------------------------------------------------------
# The context of one pattern in one chunk
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """Where and how much one injector may act in one chunk.

    Attributes:
        pattern: the DESIGN.md §3.5 name (also the label's ``pattern``).
        index: the pattern's fixed position (sub-rng seed, trace-code namespace).
        code: two capitals naming the pattern in new ids.
        chunk / year / rate / chunks: as given to :func:`yibao.synth.fraud.inject` (``chunks``: how
            many chunks the region has, for the events a bad doctor or institution makes once a year
            whatever the region's size: see :meth:`home_chunk`).
        catalog: the catalogue (restrictions, caps, item types).
        institutions: bad institutions assigned to this pattern (the same in every chunk).
        doctors: bad doctors assigned to this pattern (the same in every chunk).
        seed: the plan's seed, the same in every chunk (see :meth:`of_entity`).
        persons: how many persons this pattern may make bad in this chunk (person-level patterns).
        taken: encounters this pattern must leave alone, so that every earlier label stays true:
            those of earlier structure patterns and hard negatives, and for a pattern that changes lines
            also those of every earlier pattern.
        taken_persons: persons whose encounters an earlier structure pattern placed or moved.
        taken_lines: fee lines an earlier label names (never copied or changed again).
        book: prices seen in the chunk, bounded by the caps.
        serials: the chunk's serials for new trace codes (shared by all patterns).
        staff: who works where (built once per chunk).
        volume: the chunk's clean encounters by visit kind (and "all"), for :meth:`cap`.
        busy: who is somewhere when (see :class:`Busy`), for :meth:`calendar`.
        view: the chunk's clean encounters with their institution and visit kind (see :func:`encounters`).
        pending: changes to fee_list_d and drug_trac_d, applied once after the last pattern.
        where: the institution of every clean fee line and trace code, as small integers.
    """

    pattern: str
    index: int
    code: str
    chunk: int
    year: int
    rate: float
    catalog: Catalog
    institutions: tuple[str, ...] = ()
    doctors: tuple[str, ...] = ()
    seed: int = 0
    persons: int = 0
    taken: frozenset[str] = frozenset()
    taken_persons: frozenset[str] = frozenset()
    taken_lines: frozenset[str] = frozenset()
    book: PriceBook | None = None
    serials: Serials | None = None
    staff: Staffing | None = None
    volume: Mapping[str, int] = field(default_factory=dict)
    busy: Busy | None = None
    view: pl.DataFrame | None = None
    pending: Pending | None = None
    where: Where | None = None
    chunks: int = 1

    def home_chunk(self, entity: str) -> bool:
        """Whether this chunk is ``entity``'s (a doctor's or an institution's) one chunk of the year, for
        events it makes once a year: made in every chunk, their number would grow with the region.

        >>> [Context("x", 0, "XX", chunk=c, year=2024, rate=0.02, catalog=Catalog(), chunks=3).home_chunk("D1")
        ...  for c in range(3)].count(True)
        1
        """
        chunks = max(self.chunks, 1)
        return zlib.crc32(entity.encode()) % chunks == self.chunk % chunks

    def of_entity(self, *keys: str) -> np.random.Generator:
        """A generator for what one bad actor does — a doctor, an institution, an institution's item —
        the same in every chunk (the plan's seed, the pattern, the actor's codes)."""
        key = int.from_bytes("|".join(keys).encode(), "big") % 2**63
        return np.random.default_rng([self.seed, self.index, key])

    def rank(self, *keys: str) -> int:
        """A number for ``keys``, the same in every chunk and unrelated to their order: to pick "the
        same few" of a bad actor's candidates in every chunk, whichever of them a chunk has.

        >>> ctx = Context("x", 0, "XX", chunk=0, year=2024, rate=0.02, catalog=Catalog())
        >>> sorted(["a", "b", "c"], key=lambda c: ctx.rank("H1", c)) == sorted(["c", "b", "a"], key=lambda c: ctx.rank("H1", c))
        True
        """
        return zlib.crc32("|".join((str(self.seed), str(self.index), *keys)).encode())

    @property
    def prices(self) -> PriceBook:
        if self.book is None:
            raise ValueError("the context has no price book")
        return self.book

    @property
    def staffing(self) -> Staffing:
        if self.staff is None:
            raise ValueError("the context has no staffing")
        return self.staff

    def calendar(
        self, tables: Tables, psn_nos: Iterable[str] = (), *, ignore: Iterable[str] = ()
    ) -> Calendar:
        """A calendar of the chunk's persons (from the index when there is one, else from ``tables``)."""
        if self.busy is not None:
            return Calendar(self.busy, ignore=ignore)
        return Calendar(tables["mdtrt_d"], psn_nos, tables["psn_info_b"], ignore=ignore)

    @property
    def first_day(self) -> datetime:
        return datetime(self.year, 1, 1)

    @property
    def last_moment(self) -> datetime:
        return datetime(self.year, 12, 31, 23, 59, 59)

    def item(self, code: str) -> CatalogItem | None:
        if self.book is not None:
            return self.book.item(code)
        return self.catalog.get(code, date(self.year, 7, 1))

    def has(self, *codes_: str) -> bool:
        return all(self.item(c) is not None for c in codes_)

    def cap(self, kind: str = "all", weight: float = 1.0) -> int:
        """At most ``rate × weight`` of the chunk's encounters of ``kind`` (inpatient, outpatient,
        chronic, pharmacy or all) for one pattern, and at least a few: in a small region the few bad
        institutions are a large share of all, and this keeps most of its data clean all the same."""
        return max(FEW_CASES, round(self.rate * weight * self.volume.get(kind, 0)))

    def cases(
        self,
        eligible: int,
        share: float,
        *,
        kind: str = "all",
        weight: float = 1.0,
        least: int = 1,
        most: int | None = None,
    ) -> int:
        """How many of ``eligible`` candidates to use: ``share`` of them, at least ``least`` (if any), at
        most :meth:`cap` of ``kind`` and ``most`` (default :data:`MOST_PER_INSTITUTION` per institution)."""
        if eligible <= 0:
            return 0
        limit = most if most is not None else MOST_PER_INSTITUTION * max(1, len(self.institutions))
        return int(min(eligible, limit, self.cap(kind, weight), max(least, round(eligible * share))))


# ---------------------------------------------------------------------------------------------
# Views of the chunk
# ---------------------------------------------------------------------------------------------


_VIEWS: dict[str, tuple[Any, Any, pl.DataFrame]] = {}


def forget_views() -> None:
    """Drop the cached views (they hold the last chunk's frames)."""
    _VIEWS.clear()


def encounters(tables: Tables, ctx: Context | None = None, where: pl.Expr | None = None) -> pl.DataFrame:
    """mdtrt_d with the institution's type, coarse level, beds and admdvs, the visit kind and the
    length of stay in days; without the encounters an earlier pattern took (and, given ``where``, only
    those matching it; ``where`` must be a row-wise test).

    Within :func:`yibao.synth.fraud.inject` this is the view of the *clean* chunk (``ctx.view``): every
    encounter a pattern changes or adds is named by its labels and so taken from later patterns, and
    the untaken rest is exactly as it was.
    """
    if ctx is not None and ctx.view is not None:
        view = ctx.view
    else:
        m, i = tables["mdtrt_d"], tables["fixmedins_b"]
        cached = _VIEWS.get("encounters")
        if cached is not None and cached[0] is m and cached[1] is i:
            view = cached[2]
        else:
            view = encounter_view(m, i)
            _VIEWS["encounters"] = (m, i, view)
    if where is not None:  # first: it keeps few rows, and testing the taken ids costs more a row
        view = view.filter(where)
    if ctx is None or not ctx.taken:
        return view
    if where is None:  # a pattern may ask twice: the untaken view of one ``taken`` is kept
        cached = _VIEWS.get("untaken")
        if cached is not None and cached[0] is view and cached[1] is ctx.taken:
            return cached[2]
    untaken = view.filter(~pl.col("mdtrt_id").is_in(pl.Series(list(ctx.taken), dtype=pl.String).implode()))
    if where is None:
        _VIEWS["untaken"] = (view, ctx.taken, untaken)
    return untaken


def encounter_view(m: pl.DataFrame, fixmedins: pl.DataFrame) -> pl.DataFrame:
    inst = fixmedins.select(
        "fixmedins_code",
        "fixmedins_type",
        pl.col("hosp_lv").fill_null("").replace_strict(_COARSE, default="1").alias("lv"),
        pl.col("bed_cnt").fill_null(0),
        "admdvs",
    )
    return m.join(inst, on="fixmedins_code", how="left", maintain_order="left").with_columns(
        pl.col("med_type").replace_strict(VISIT, default="").alias("kind"),
        (pl.col("endtime").dt.date() - pl.col("begntime").dt.date()).dt.total_days().alias("los"),
    )


def persons(tables: Tables, ctx: Context | None = None) -> pl.DataFrame:
    """psn_info_b without the persons an earlier pattern took, with the age on 1 July."""
    raw = tables["psn_info_b"]
    mid = date(ctx.year if ctx else 2024, 7, 1)
    key = f"persons{mid.year}"
    cached = _VIEWS.get(key)
    if cached is not None and cached[0] is raw:
        p = cached[2]
    else:
        p = raw.with_columns(
            (
                pl.lit(mid.year)
                - pl.col("brdy").dt.year()
                - (
                    (pl.col("brdy").dt.month() * 100 + pl.col("brdy").dt.day()) > mid.month * 100 + mid.day
                ).cast(pl.Int32)
            ).alias("age")
        )
        _VIEWS[key] = (raw, raw, p)
    if ctx is not None and ctx.taken_persons:
        p = p.filter(~pl.col("psn_no").is_in(list(ctx.taken_persons)))
    return p


def with_next_begin(tables: Tables, enc: pl.DataFrame) -> pl.DataFrame:
    """``enc`` with ``next_begin``: when the person's next encounter (of any kind) begins, null if none
    (computed over the encounters of ``enc``'s persons only)."""
    mine = tables["mdtrt_d"].join(
        enc.select("psn_no").unique(), on="psn_no", how="semi", maintain_order="left"
    )
    nxt = (
        mine.select("mdtrt_id", "psn_no", "begntime")
        .sort("psn_no", "begntime", "mdtrt_id")
        .with_columns(pl.col("begntime").shift(-1).over("psn_no").alias("next_begin"))
        .select("mdtrt_id", "next_begin")
    )
    return enc.join(nxt, on="mdtrt_id", how="left", maintain_order="left")


def stays_with_room(tables: Tables, ctx: Context, *, min_los: int, room_days: int) -> pl.DataFrame:
    """The clean stays a pattern may falsify: inpatient, at the context's institutions, at least
    ``min_los`` days, of persons no pattern has taken yet, followed by ``room_days`` free days (before the
    year's end, the person's death and their next encounter); one stay per person, in mdtrt_id order."""
    after = pl.col("endtime") + pl.duration(days=room_days)
    return (
        encounters(
            tables,
            ctx,
            (pl.col("kind") == INPATIENT)
            & pl.col("fixmedins_code").is_in(list(ctx.institutions))
            & (pl.col("los") >= min_los)
            & ~pl.col("psn_no").is_in(list(ctx.taken_persons))
            & (pl.col("endtime").dt.date() <= date(ctx.year, 12, 31) - timedelta(days=room_days)),
        )
        .pipe(lambda e: with_next_begin(tables, e))
        .join(
            tables["psn_info_b"].select("psn_no", "death_date"),
            on="psn_no",
            how="left",
            maintain_order="left",
        )
        .filter(pl.col("death_date").is_null() | (pl.col("death_date") > after.dt.date()))
        .filter(pl.col("next_begin").is_null() | (pl.col("next_begin") > after))
        .unique(subset="psn_no", keep="first", maintain_order=True)
        .sort("mdtrt_id")
    )


class Where:
    """The institution of each clean fee line and trace code as a small integer, so that "the lines
    of these institutions" is an integer test over the big tables instead of a string one; and the
    clean tables' key columns when they are sorted (as the care generator writes them: lines by
    encounter and id, codes by line), so that the lines of some encounters or the codes of some lines
    are found by bisection instead of a test of every row (see :func:`rows_with`).

    Rows appended by the patterns come after the clean ones and changes are deferred (see
    :class:`Pending`), so the first rows of the current tables are the clean rows, in order.

    >>> fee = pl.DataFrame({"mdtrt_id": ["m1", "m1", "m2"], "fixmedins_code": ["H1", "H1", "H2"], "n": [1, 2, 3]})
    >>> trace = pl.DataFrame({"feedetl_sn": ["f1"], "mdtrt_id": ["m1"], "fixmedins_code": ["H1"]})
    >>> where = Where(fee, trace, ["H1", "H2"])
    >>> where.rows_among(fee, where.fee, ["H1", "H2"], where.sorted_fee("mdtrt_id"), "mdtrt_id", pl.Series(["m1"]))["n"].to_list()
    [1, 2]
    """

    def __init__(self, fee: pl.DataFrame, trace: pl.DataFrame, institutions: Iterable[str]) -> None:
        self.index = {c: i for i, c in enumerate(sorted(set(institutions)))}
        known = pl.Enum(list(self.index))  # its physical codes are the indices; another code → null
        self.fee = fee.get_column("fixmedins_code").cast(known, strict=False).to_physical().cast(pl.UInt32)
        self.trace = (
            trace.get_column("fixmedins_code").cast(known, strict=False).to_physical().cast(pl.UInt32)
        )
        self._clean = {"fee_list_d": fee, "drug_trac_d": trace}
        self._sorted: dict[tuple[str, str], pl.Series | None] = {}

    def sorted_key(self, table: str, key: str) -> pl.Series | None:
        """The clean ``table``'s column ``key`` when the rows are sorted by it (no nulls), else None
        (looked at once, when first asked)."""
        if table not in self._clean:
            return None
        if (table, key) not in self._sorted:
            column = self._clean[table].get_column(key)
            self._sorted[(table, key)] = column if column.null_count() == 0 and column.is_sorted() else None
        return self._sorted[(table, key)]

    def sorted_fee(self, key: str) -> pl.Series | None:
        """:meth:`sorted_key` of fee_list_d."""
        return self.sorted_key("fee_list_d", key)

    def sorted_trace(self, key: str) -> pl.Series | None:
        """:meth:`sorted_key` of drug_trac_d."""
        return self.sorted_key("drug_trac_d", key)

    def _at(self, column: pl.Series, institutions: Iterable[str]) -> pl.Series:
        return column.is_in([self.index[c] for c in institutions if c in self.index])

    def rows(
        self,
        table: pl.DataFrame,
        column: pl.Series,
        institutions: Iterable[str],
        where: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """The clean rows of ``table`` (``column``: their institutions) at ``institutions`` that match
        ``where`` (a row-wise test)."""
        clean = table.slice(0, column.len())
        at = self._at(column, institutions)
        if where is None:
            return clean.filter(at)
        if at.sum() * 4 <= at.len():  # few rows there: test ``where`` on those only
            return clean.filter(at).filter(where)
        return clean.filter(at, where)  # one pass over the table

    def rows_among(
        self,
        table: pl.DataFrame,
        column: pl.Series,
        institutions: Iterable[str],
        sorted_by: pl.Series | None,
        key: str,
        values: pl.Series,
    ) -> pl.DataFrame:
        """The clean rows of ``table`` at ``institutions`` whose ``key`` is one of ``values``, in table
        order. ``sorted_by``: the clean rows' ``key`` when they are sorted by it (then the rows are found
        by bisection), else None."""
        if sorted_by is None:
            return self.rows(table, column, institutions, pl.col(key).is_in(values.implode()))
        idx = bisect_rows(sorted_by, values)
        return table.slice(0, column.len())[idx].filter(self._at(column.gather(idx), institutions))


def bisect_rows(sorted_by: pl.Series, values: pl.Series) -> pl.Series:
    """The positions, ascending, of the elements of ``sorted_by`` (sorted, no nulls) that are one of
    ``values``.

    >>> bisect_rows(pl.Series(["a", "b", "b", "d"]), pl.Series(["d", "b", "c", None])).to_list()
    [1, 2, 3]
    """
    wanted = values.drop_nulls().unique().sort()
    lo = sorted_by.search_sorted(wanted, "left").to_numpy().astype(np.int64)
    hi = sorted_by.search_sorted(wanted, "right").to_numpy().astype(np.int64)
    n = hi - lo
    return pl.Series(np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum())), dtype=pl.UInt32)


def rows_with(
    table: pl.DataFrame,
    key: str,
    values: pl.Series,
    sorted_by: pl.Series | None = None,
    where: pl.Expr | None = None,
) -> pl.DataFrame:
    """The rows of ``table`` whose ``key`` is one of ``values`` (and that match ``where``, a row-wise
    test), in table order (as a filter by ``is_in``). ``sorted_by``, when given, is the ``key`` of the
    table's first rows, sorted without nulls: those rows are found by bisection (and ``where`` tested
    on the columns it reads of those only, so only the rows kept are gathered whole) and only the rest
    is tested row by row.

    >>> t = pl.DataFrame({"k": ["a", "b", "c", "b"], "n": [1, 2, 3, 4]})
    >>> rows_with(t, "k", pl.Series(["b"]), t["k"].head(3))["n"].to_list()
    [2, 4]
    >>> rows_with(t, "k", pl.Series(["b"]), t["k"].head(3), pl.col("n") > 2)["n"].to_list()
    [4]
    """
    wanted = pl.col(key).is_in(values.implode())
    if sorted_by is None:
        return table.filter(wanted if where is None else wanted & where)
    clean = table.slice(0, sorted_by.len())
    idx = bisect_rows(sorted_by, values)
    if where is not None:
        read = clean.select(where.meta.root_names())[idx]  # the few columns ``where`` reads
        idx = idx.filter(read.select(where.fill_null(False)).to_series())
    head = clean[idx]
    if table.height == sorted_by.len():
        return head
    tail = table.slice(sorted_by.len()).filter(wanted if where is None else wanted & where)
    return pl.concat([head, tail], how="vertical")


def positions_with(
    table: pl.DataFrame, key: str, values: pl.Series, sorted_by: pl.Series | None = None
) -> pl.Series:
    """The positions, ascending, of the rows of ``table`` whose ``key`` is one of ``values`` (as
    ``arg_where`` of ``is_in``); ``sorted_by`` as in :func:`rows_with` (the first rows by bisection).

    >>> t = pl.DataFrame({"k": ["a", "b", "c", "b"]})
    >>> positions_with(t, "k", pl.Series(["b"]), t["k"].head(3)).to_list()
    [1, 3]
    """
    if sorted_by is None:
        return table.select(pl.arg_where(pl.col(key).is_in(values.implode()))).to_series()
    head = bisect_rows(sorted_by, values)
    if table.height == sorted_by.len():
        return head
    rest = table.slice(sorted_by.len()).select(pl.arg_where(pl.col(key).is_in(values.implode())))
    return pl.concat([head, (rest.to_series() + sorted_by.len()).cast(pl.UInt32)])


def _lines_of(
    tables: Tables, ctx: Context, institutions: Iterable[str], where: pl.Expr | None = None
) -> pl.DataFrame:
    if ctx.where is not None:
        return ctx.where.rows(tables["fee_list_d"], ctx.where.fee, institutions, where)
    cond = pl.col("fixmedins_code").is_in(list(institutions))
    return tables["fee_list_d"].filter(cond if where is None else cond & where)


def lines_at(tables: Tables, ctx: Context, where: pl.Expr | None = None) -> pl.DataFrame:
    """The fee lines at the pattern's bad institutions (and matching ``where``), without the
    encounters and lines earlier patterns took."""
    out = _lines_of(tables, ctx, ctx.institutions, where)
    untaken = []
    if ctx.taken:
        untaken.append(~pl.col("mdtrt_id").is_in(list(ctx.taken)))
    if ctx.taken_lines:
        untaken.append(~pl.col("feedetl_sn").is_in(list(ctx.taken_lines)))
    return out.filter(*untaken) if untaken and out.height else out


def lines_for(tables: Tables, ctx: Context, enc: pl.DataFrame) -> pl.DataFrame:
    """The fee lines of some encounters (``enc`` with mdtrt_id and fixmedins_code)."""
    insts = enc.get_column("fixmedins_code").unique().to_list()
    if ctx.where is not None:
        w = ctx.where
        ids = enc.get_column("mdtrt_id")
        return w.rows_among(tables["fee_list_d"], w.fee, insts, w.sorted_fee("mdtrt_id"), "mdtrt_id", ids)
    return _lines_of(tables, ctx, insts, pl.col("mdtrt_id").is_in(enc.get_column("mdtrt_id").implode()))


def lines_with(
    tables: Tables, ctx: Context, mdtrt_ids: pl.Series, where: pl.Expr | None = None
) -> pl.DataFrame:
    """The fee lines of the encounters ``mdtrt_ids`` (that match ``where``, a row-wise test), in table
    order, as ``filter(pl.col("mdtrt_id").is_in(mdtrt_ids))`` gives them: the clean lines found by
    bisection when the chunk's :class:`Where` knows them sorted by encounter (while the patterns run,
    changes to lines wait in :class:`Pending`, so every clean line keeps its encounter), the added lines
    by a test of those only. A 25,000-person chunk has a million lines and a pattern asks for a few
    thousand encounters' lines (with ``where``, only those of them that match are gathered whole).

    >>> from yibao.catalog.model import Catalog
    >>> ctx = Context("p", 0, "PP", chunk=0, year=2024, rate=0.02, catalog=Catalog())
    >>> fee = pl.DataFrame({"mdtrt_id": ["m1", "m2", "m1"], "n": [1, 2, 3]})
    >>> lines_with({"fee_list_d": fee}, ctx, pl.Series(["m1"]))["n"].to_list()
    [1, 3]
    """
    sorted_by = ctx.where.sorted_fee("mdtrt_id") if ctx.where is not None else None
    return rows_with(tables["fee_list_d"], "mdtrt_id", mdtrt_ids, sorted_by, where)


def codes_of(tables: Tables, ctx: Context, lines: pl.DataFrame) -> pl.DataFrame:
    """The drug_trac_d rows of some fee lines (``lines`` with feedetl_sn and fixmedins_code)."""
    insts = lines.get_column("fixmedins_code").unique().to_list()
    if ctx.where is not None:
        w = ctx.where
        sns = lines.get_column("feedetl_sn")
        return w.rows_among(
            tables["drug_trac_d"], w.trace, insts, w.sorted_trace("feedetl_sn"), "feedetl_sn", sns
        )
    theirs = pl.col("feedetl_sn").is_in(lines.get_column("feedetl_sn").implode())
    return tables["drug_trac_d"].filter(pl.col("fixmedins_code").is_in(insts), theirs)


def rows_by(frame: pl.DataFrame, key: str) -> dict[Any, list[dict[str, Any]]]:
    """The rows of a (small) frame as dicts, grouped by one column, in frame order."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in frame.iter_rows(named=True):
        out.setdefault(r[key], []).append(r)
    return out


def by_encounter(frame: pl.DataFrame) -> Mapping[str, pl.DataFrame]:
    """The rows of ``frame`` by mdtrt_id (one small frame per encounter, its rows in frame order; the
    encounters in order of first appearance). Slices of one stable sort, 3× faster than partition_by,
    and each cut only when it is asked for (:class:`Slices`).

    >>> f = pl.DataFrame({"mdtrt_id": ["b", "a", "b"], "n": [1, 2, 3]})
    >>> {k: v.get_column("n").to_list() for k, v in by_encounter(f).items()}
    {'b': [1, 3], 'a': [2]}
    """
    ordered = frame.sort("mdtrt_id", maintain_order=True)
    ids = ordered.get_column("mdtrt_id")
    counts = ids.unique_counts().to_list()
    starts = np.cumsum([0, *counts])[:-1].tolist()
    keys = ids.unique(maintain_order=True).to_list()
    at = dict(zip(keys, zip(starts, counts, strict=True), strict=True))
    first_seen = frame.get_column("mdtrt_id").unique(maintain_order=True).to_list()
    return Slices(ordered, {k: at[k] for k in first_seen})


class Slices(Mapping[str, pl.DataFrame]):
    """Row ranges of one frame by key, each sliced when asked for: a pattern splits the lines of some
    thousands of encounters and reads a few hundred of them (a slice costs some microseconds)."""

    __slots__ = ("_at", "_frame")

    def __init__(self, frame: pl.DataFrame, at: dict[str, tuple[int, int]]) -> None:
        self._frame, self._at = frame, at  # key → (first row, rows)

    def __getitem__(self, key: str) -> pl.DataFrame:
        first, n = self._at[key]
        return self._frame.slice(first, n)

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


def lines_of(tables: Tables, mdtrt_ids: Iterable[str]) -> pl.DataFrame:
    ids = list(mdtrt_ids)
    return tables["fee_list_d"].filter(pl.col("mdtrt_id").is_in(ids))


def next_stay_gap(enc: pl.DataFrame) -> pl.DataFrame:
    """Per encounter, the free time around it within the person's encounters: ``prev_end`` (end of the
    person's previous encounter) and ``next_begin`` (begin of the next), null when there is none."""
    return enc.sort("psn_no", "begntime", "mdtrt_id").with_columns(
        pl.col("endtime").shift(1).over("psn_no").alias("prev_end"),
        pl.col("begntime").shift(-1).over("psn_no").alias("next_begin"),
        pl.col("endtime").cum_max().over("psn_no").shift(1).over("psn_no").alias("prev_end_max"),
    )


def staff(tables: Tables, staff_type: str) -> dict[str, list[tuple[str, str]]]:
    """Staff of one type per institution: fixmedins_code → [(staff_codg, dept_codg)], sorted."""
    out: dict[str, list[tuple[str, str]]] = {}
    ms = tables.get("medstaff_b")
    if ms is None:
        return out
    for inst, code, dept in (
        ms.filter(pl.col("staff_type") == staff_type)
        .select("fixmedins_code", "staff_codg", "dept_codg")
        .sort("fixmedins_code", "staff_codg")
        .iter_rows()
    ):
        out.setdefault(inst, []).append((code, dept))
    return out


def depts(tables: Tables) -> dict[str, list[tuple[str, str]]]:
    """Departments per institution: fixmedins_code → [(dept_codg, caty)], sorted."""
    out: dict[str, list[tuple[str, str]]] = {}
    d = tables.get("dept_b")
    if d is None:
        return out
    for inst, dept, caty in (
        d.select("fixmedins_code", "dept_codg", "caty").sort("fixmedins_code", "dept_codg").iter_rows()
    ):
        out.setdefault(inst, []).append((dept, caty))
    return out


def pick(rng: np.random.Generator, items: Sequence[Any], n: int) -> list[Any]:
    """``n`` distinct items in a random order (all of them if there are fewer)."""
    if n <= 0 or not items:
        return []
    idx = rng.choice(len(items), size=min(n, len(items)), replace=False)
    return [items[int(i)] for i in idx]


def one(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def at_time(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second))


# ---------------------------------------------------------------------------------------------
# New rows
# ---------------------------------------------------------------------------------------------


class Rows:
    """New rows for the care tables, with ids unique across chunks and patterns, exact amounts and
    valid trace codes.

    Ids are ``<kind><chunk><pattern code><6-digit serial>`` (``M`` encounter, ``F`` fee line, ``R``
    prescription): they start with a letter and can never be an 18-digit identity number. Trace codes
    come from the context's :class:`Serials` (valid 20-digit codes with the product's prefix).
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._serial: dict[str, int] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in CARE_TABLES}

    def new_id(self, kind: str) -> str:
        n = self._serial.get(kind, 0) + 1
        self._serial[kind] = n
        return f"{kind}{self.ctx.chunk}{self.ctx.code}{n:06d}"

    def trace_code(self, med_list_codg: str) -> str:
        if self.ctx.serials is None:
            raise ValueError("the context has no trace-code serials")
        return self.ctx.serials.code(med_list_codg)

    def encounter(
        self,
        *,
        psn_no: str,
        fixmedins_code: str,
        med_type: str,
        begntime: datetime,
        endtime: datetime,
        diag: tuple[str, str],
        dept_codg: str,
        atddr_no: str,
        insutype: str,
        adm_bed: str = "",
        dscg_way: str = "",
        mdtrt_id: str | None = None,
    ) -> str:
        mid = mdtrt_id or self.new_id("M")
        inpatient = visit_of(med_type) == INPATIENT
        self.rows["mdtrt_d"].append(
            {
                "mdtrt_id": mid,
                "psn_no": psn_no,
                "fixmedins_code": fixmedins_code,
                "med_type": med_type,
                "begntime": begntime,
                "endtime": endtime,
                "dscg_maindiag_code": diag[0],
                "dscg_maindiag_name": diag[1],
                "dept_codg": dept_codg,
                "atddr_no": atddr_no,
                "insutype": insutype,
                "adm_bed": adm_bed if inpatient else "",
                "dscg_way": (dscg_way or "1") if inpatient else "",
            }
        )
        return mid

    def diag(self, mdtrt_id: str, code: str, name: str, *, main: bool) -> None:
        self.rows["setl_list_diag_d"].append(
            {
                "mdtrt_id": mdtrt_id,
                "diag_type": "1",
                "maindiag_flag": "1" if main else "0",
                "diag_code": code,
                "diag_name": name,
            }
        )

    def diagnoses(self, mdtrt_id: str, dx: Sequence[tuple[str, str]]) -> None:
        for i, (code, name) in enumerate(dx):
            self.diag(mdtrt_id, code, name, main=i == 0)

    def oprn(self, mdtrt_id: str, code: str, name: str, on: date, *, main: bool) -> None:
        self.rows["setl_list_oprn_d"].append(
            {
                "mdtrt_id": mdtrt_id,
                "oprn_code": code,
                "oprn_name": name,
                "main_oprn_flag": "1" if main else "0",
                "oprn_date": on,
            }
        )

    def line(
        self,
        *,
        mdtrt_id: str,
        psn_no: str,
        fixmedins_code: str,
        med_list_codg: str,
        when: datetime,
        cnt: int,
        pric: int,
        doctor: str = "",
        dept: str = "",
        rxno: str = "",
        prd_days: int = 0,
        med_chrgitm_type: str | None = None,
        codes_: bool = True,
        feedetl_sn: str | None = None,
    ) -> tuple[str, list[str]]:
        """Add a fee line (and, for a drug, one new trace code per package); returns (feedetl_sn, codes)."""
        item = self.ctx.item(med_list_codg)
        typ = med_chrgitm_type or (item.med_chrgitm_type if item else "14")
        sn = feedetl_sn or self.new_id("F")
        is_drug = item is not None and item.list_type == "drug"
        if is_drug and not rxno:
            rxno = self.new_id("R")
        self.rows["fee_list_d"].append(
            {
                "feedetl_sn": sn,
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "fixmedins_code": fixmedins_code,
                "med_list_codg": med_list_codg,
                "med_chrgitm_type": typ,
                "fee_ocur_time": when,
                "cnt": cnt,
                "pric": pric,
                "det_item_fee_sumamt": fee_amount(pric, cnt),
                "bilg_dr_codg": doctor,
                "bilg_dept_codg": dept,
                "rxno": rxno,
                "prd_days": prd_days if is_drug else 0,
            }
        )
        made: list[str] = []
        if is_drug and codes_:
            for _ in range(packages(cnt)):
                code = self.trace_code(med_list_codg)
                self.trace(code, sn, mdtrt_id, med_list_codg, fixmedins_code, when)
                made.append(code)
        return sn, made

    def copy_line(
        self, row: Mapping[str, Any], *, codes_: bool = True, **overrides: Any
    ) -> tuple[str, list[str]]:
        """A new line like ``row`` (a fee_list_d row as a dict) with ``overrides``; new id, new trace codes."""
        r = {**row, **overrides}
        return self.line(
            mdtrt_id=r["mdtrt_id"],
            psn_no=r["psn_no"],
            fixmedins_code=r["fixmedins_code"],
            med_list_codg=r["med_list_codg"],
            when=r["fee_ocur_time"],
            cnt=r["cnt"],
            pric=r["pric"],
            doctor=r["bilg_dr_codg"],
            dept=r["bilg_dept_codg"],
            rxno=overrides.get("rxno", ""),
            prd_days=r["prd_days"],
            med_chrgitm_type=r["med_chrgitm_type"],
            codes_=codes_,
        )

    def copy_encounter(self, row: Mapping[str, Any], **overrides: Any) -> str:
        """A new encounter like ``row`` (an mdtrt_d row as a dict) with ``overrides``; returns its id."""
        r = {**row, **overrides}
        return self.encounter(
            psn_no=r["psn_no"],
            fixmedins_code=r["fixmedins_code"],
            med_type=r["med_type"],
            begntime=r["begntime"],
            endtime=r["endtime"],
            diag=(r["dscg_maindiag_code"], r["dscg_maindiag_name"]),
            dept_codg=r["dept_codg"],
            atddr_no=r["atddr_no"],
            insutype=r["insutype"],
            adm_bed=r["adm_bed"],
            dscg_way=r["dscg_way"],
            mdtrt_id=overrides.get("mdtrt_id"),
        )

    def trace(
        self,
        code: str,
        feedetl_sn: str,
        mdtrt_id: str,
        med_list_codg: str,
        fixmedins_code: str,
        sel_time: datetime,
        retn_flag: str = "0",
    ) -> None:
        self.rows["drug_trac_d"].append(
            {
                "drug_trac_codg": code,
                "feedetl_sn": feedetl_sn,
                "mdtrt_id": mdtrt_id,
                "med_list_codg": med_list_codg,
                "fixmedins_code": fixmedins_code,
                "sel_time": sel_time,
                "retn_flag": retn_flag,
            }
        )

    def frame(self, table: str) -> pl.DataFrame:
        schema = polars_schema(TABLES[table])
        rows = self.rows[table]
        if not rows:
            return pl.DataFrame(schema=schema)
        return pl.DataFrame(rows, schema=schema)

    def added(self, tables: Tables) -> Tables:
        """``tables`` with the new rows appended (columns, order and kinds of the schema)."""
        out = dict(tables)
        for t in CARE_TABLES:
            if self.rows[t]:
                out[t] = concat(tables[t], self.frame(t))
        return out


def concat(base: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    """``base`` with ``extra`` appended, ``extra`` cast to ``base``'s columns and kinds."""
    if extra.height == 0:
        return base
    return pl.concat([base, extra.select(base.columns).cast(base.schema)], how="vertical")


def chunked_as(column: pl.Series, like: pl.Series) -> pl.Series:
    """``column`` in chunks of the lengths of ``like``'s (zero-copy slices): a frame whose columns are
    chunked alike stays so, where a column of other chunks (``scatter`` makes one) would have every
    later operation on the frame copy all its columns into one chunk first.

    >>> like = pl.concat([pl.Series([1, 2]), pl.Series([3])], rechunk=False)
    >>> chunked_as(pl.Series([7, 8, 9]), like).chunk_lengths()
    [2, 1]
    """
    lengths = like.chunk_lengths()
    if column.chunk_lengths() == lengths:
        return column
    starts = np.cumsum([0, *lengths[:-1]]).tolist()
    return pl.concat([column.slice(s, n) for s, n in zip(starts, lengths, strict=True)], rechunk=False)


Changes = pl.DataFrame | Sequence[Mapping[str, Any]]
"""Changes to rows: a frame, or the rows as dicts, which need not all name the same columns (a column
a row does not name is a null there: the value is left)."""


def changes_frame(changes: Changes) -> pl.DataFrame:
    """``changes`` as a frame, the columns those of all its rows (not of the first hundred only).

    >>> changes_frame([{"k": "a"}] * 100 + [{"k": "b", "v": 9}]).tail(2).rows()
    [('a', None), ('b', 9)]
    """
    return changes if isinstance(changes, pl.DataFrame) else pl.DataFrame(changes, infer_schema_length=None)


def update(
    df: pl.DataFrame,
    changes: Changes,
    key: str | Sequence[str],
    index: tuple[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """``df`` with the rows matching ``changes`` on ``key`` given the values of ``changes`` (order kept;
    the last change of a key wins; a null in ``changes`` leaves the value; keys not in ``df`` are ignored).
    ``index``: one of the key columns and ``df``'s first rows' values of it, sorted (as ``sorted_by`` of
    :func:`rows_with`), to find the rows to change by bisection.

    >>> df = pl.DataFrame({"k": ["a", "b"], "v": [1, 2], "w": ["x", "y"]})
    >>> update(df, pl.DataFrame({"k": ["b"], "v": [9], "w": [None]}), "k").rows()
    [('a', 1, 'x'), ('b', 9, 'y')]
    """
    changes = changes_frame(changes)
    if changes.height == 0:
        return df
    keys = [key] if isinstance(key, str) else list(key)
    cols = [c for c in changes.columns if c not in keys]
    changes = changes.unique(subset=keys, keep="last", maintain_order=True).cast(
        {c: df.schema[c] for c in changes.columns}
    )
    probe, sorted_by = index if index is not None else (keys[0], None)
    hits = positions_with(df, probe, changes.get_column(probe).unique(), sorted_by)
    if hits.len() == 0:
        return df
    where = (
        df[hits]
        .select(keys)
        .with_columns(hits.alias("__i"))
        .join(changes.select(keys).with_row_index("__j"), on=keys, how="inner", maintain_order="left")
        .sort("__i")
    )
    if where.height == 0:
        return df
    rows = where.get_column("__i")
    take = where.get_column("__j")
    out = []
    for c in cols:
        new, old = changes.get_column(c).gather(take), df.get_column(c).gather(rows)
        column = df.get_column(c)
        out.append(chunked_as(column.clone().scatter(rows, new.zip_with(new.is_not_null(), old)), column))
    return df.with_columns(out)


class Pending:
    """Changes to fee_list_d and drug_trac_d, collected over the patterns and applied in one pass.

    A changed line is always named by a label (or lies in a taken encounter), so no later pattern
    reads it: deferring the change is invisible to them, and the big tables are rewritten once.
    ``where``: the chunk's :class:`Where`, to find the changed rows among the clean ones by bisection.
    """

    def __init__(self, where: Where | None = None) -> None:
        self._changes: dict[tuple[str, tuple[str, ...]], list[pl.DataFrame]] = {}
        self._where = where

    def add(self, table: str, changes: Changes, key: str | Sequence[str]) -> None:
        keys = (key,) if isinstance(key, str) else tuple(key)
        if len(changes):
            self._changes.setdefault((table, keys), []).append(changes_frame(changes))

    def apply(self, tables: Tables) -> Tables:
        out = dict(tables)
        for (table, keys), frames in self._changes.items():
            index = None
            if self._where is not None:  # a key column the clean rows are sorted by
                found = ((k, self._where.sorted_key(table, k)) for k in keys)
                index = next(((k, by) for k, by in found if by is not None), None)
            out[table] = update(out[table], pl.concat(frames, how="diagonal_relaxed"), list(keys), index)
        self._changes.clear()
        return out


def defer(ctx: Context, tables: Tables, table: str, changes: Changes, key: str | Sequence[str]) -> Tables:
    """Record ``changes`` to ``table`` in ``ctx.pending`` (or apply them now when there is none)."""
    if len(changes) == 0:
        return tables
    if ctx.pending is not None:
        ctx.pending.add(table, changes, key)
        return tables
    out = dict(tables)
    out[table] = update(tables[table], changes, key)
    return out


def drop(df: pl.DataFrame, key: str, values: Iterable[str]) -> pl.DataFrame:
    """``df`` without the rows whose ``key`` is one of ``values``."""
    vals = list(values)
    return df if not vals else df.filter(~pl.col(key).is_in(vals))


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------


@dataclass
class Labels:
    """The label rows of one pattern in one chunk: one case spans one or more rows sharing ``case_id``."""

    ctx: Context
    rows: list[dict[str, str]] = field(default_factory=list)
    _cases: int = 0
    _last: tuple[Any, str] = (None, "")

    def case(self, actor: str = "") -> str:
        """A new case of this chunk (``C<chunk>-<pattern>-<n>``), or, given ``actor``, the one case of a
        bad actor's year-long habit (a doctor's, an institution's item's: ``R-<pattern>-<actor>``),
        whose rows every chunk adds to."""
        if actor:
            return f"R-{self.ctx.pattern}-{actor}"
        self._cases += 1
        return f"C{self.ctx.chunk}-{self.ctx.pattern}-{self._cases:05d}"

    def add(
        self,
        case_id: str,
        label: str,
        params: Params,
        *,
        mdtrt_id: str = "",
        feedetl_sn: str = "",
        psn_no: str = "",
        fixmedins_code: str = "",
        drug_trac_codg: str = "",
        doctor: str = "",
    ) -> None:
        self.rows.append(
            {
                "case_id": case_id,
                "pattern": self.ctx.pattern,
                "label": label,
                "mdtrt_id": mdtrt_id,
                "feedetl_sn": feedetl_sn,
                "psn_no": psn_no,
                "fixmedins_code": fixmedins_code,
                "drug_trac_codg": drug_trac_codg,
                "doctor": doctor,
                "params": self._json(params),
            }
        )

    def _json(self, params: Params) -> str:
        if self._last[0] is not params:
            self._last = (params, params_json(params))
        return self._last[1]

    def frame(self) -> pl.DataFrame:
        return labels_frame(self.rows)


def labels_frame(rows: Sequence[Mapping[str, str]] = ()) -> pl.DataFrame:
    schema = polars_schema(TABLES["labels"])
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(list(rows), schema=schema)


def context_line(
    gend: str, age: int, lv: str, med_type: str, dx: Sequence[str], days: int | None = None
) -> LineContext:
    return LineContext(
        gend=gend, age=age, hosp_lv=lv, visit=visit_of(med_type), diagnoses=tuple(dx), days_supply=days
    )


# ---------------------------------------------------------------------------------------------
# Building whole encounters
# ---------------------------------------------------------------------------------------------


def _caty(code: str) -> str:
    """The two-digit 科别 of a department code: ``A03.04`` (心血管内科) → ``03`` (内科); ``03`` → ``03``."""
    return code.removeprefix("A").split(".", 1)[0]


class Staffing:
    """Who works where: doctors by institution (with department and 科别), pharmacists by pharmacy."""

    def __init__(self, tables: Tables) -> None:
        caty = {(i, d): c for i, d, c in (tables.get("dept_b", pl.DataFrame(schema=polars_schema(TABLES["dept_b"])))
                                         .select("fixmedins_code", "dept_codg", "caty").iter_rows())}  # fmt: skip
        self.doctors: dict[str, list[tuple[str, str, str]]] = {}
        self.pharmacists: dict[str, list[str]] = {}
        self._fit: dict[tuple[str, tuple[str, ...]], list[tuple[str, str, str]]] = {}
        ms = tables.get("medstaff_b")
        if ms is not None:
            for code, typ, inst, dept in (
                ms.select("staff_codg", "staff_type", "fixmedins_code", "dept_codg")
                .sort("staff_codg")
                .iter_rows()
            ):
                if typ == "1":
                    self.doctors.setdefault(inst, []).append((code, dept, _caty(caty.get((inst, dept), ""))))
                elif typ == "2":
                    self.pharmacists.setdefault(inst, []).append(code)

    def doctor(self, rng: np.random.Generator, inst: str, caty: Sequence[str] = ()) -> tuple[str, str]:
        """(doctor, department) at ``inst``, preferring departments of the given 科别, else any but 儿科
        (the encounters built here are adults' unless 儿科 is asked for); ("", "") if none."""
        key = (inst, tuple(caty))
        fit = self._fit.get(key)
        if fit is None:
            staff = self.doctors.get(inst, [])
            paediatrics = _caty(codes.PAEDIATRICS)
            fit = self._fit[key] = ([s for s in staff if s[2] in caty] or [s for s in staff if s[2] != paediatrics]
                                    or staff)  # fmt: skip
        if not fit:
            return "", ""
        code, dept, _ = fit[int(rng.integers(len(fit)))]
        return code, dept

    def pharmacist(self, rng: np.random.Generator, inst: str) -> str:
        staff = self.pharmacists.get(inst, [])
        return staff[int(rng.integers(len(staff)))] if staff else ""


@dataclass(frozen=True, slots=True)
class Built:
    """What a builder made: the encounter, its fee lines and their new trace codes."""

    mdtrt_id: str
    lines: tuple[str, ...]
    codes: tuple[str, ...]
    line_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    item_of: Mapping[str, str] = field(default_factory=dict)


Item = tuple[str, int, int]
"""(med_list_codg, cnt in 1e-4, prd_days)."""


def build_visit(
    rows: Rows,
    *,
    psn_no: str,
    insutype: str,
    inst: str,
    lv: str,
    med_type: str,
    when: datetime,
    dx: Sequence[tuple[str, str]],
    items: Sequence[Item],
    doctor: str = "",
    dept: str = "",
    minutes: int = 15,
    pric: Mapping[str, int] | None = None,
) -> Built:
    """One outpatient, chronic or pharmacy encounter with its diagnoses and lines (items the catalogue
    lacks are left out)."""
    ctx = rows.ctx
    main = dx[0] if dx else ("", "")
    mid = rows.encounter(
        psn_no=psn_no, fixmedins_code=inst, med_type=med_type, begntime=when,
        endtime=when + timedelta(minutes=minutes) if visit_of(med_type) != "pharmacy" else when,
        diag=main, dept_codg=dept, atddr_no=doctor, insutype=insutype,
    )  # fmt: skip
    rows.diagnoses(mid, dx)
    lines: list[str] = []
    made: list[str] = []
    per: dict[str, tuple[str, ...]] = {}
    item_of: dict[str, str] = {}
    for code, cnt, days in items:
        if not ctx.has(code):
            continue
        price = (pric or {}).get(code) or ctx.prices.price(code, lv)
        sn, cs = rows.line(
            mdtrt_id=mid, psn_no=psn_no, fixmedins_code=inst, med_list_codg=code,
            when=when if visit_of(med_type) == "pharmacy" else when + timedelta(minutes=2),
            cnt=cnt, pric=price, doctor=doctor, dept=dept, prd_days=days,
        )  # fmt: skip
        lines.append(sn)
        made.extend(cs)
        per[sn] = tuple(cs)
        item_of[sn] = code
    return Built(mid, tuple(lines), tuple(made), per, item_of)


def build_stay(
    rows: Rows,
    *,
    psn_no: str,
    insutype: str,
    inst: str,
    lv: str,
    begin: datetime,
    days: int,
    dx: Sequence[tuple[str, str]],
    doctor: str,
    dept: str,
    daily: Sequence[str],
    first_day: Sequence[str] = (),
    drugs: Sequence[str] = (),
    extra: Sequence[tuple[str, int, int]] = (),
    oprn: Sequence[tuple[str, str, int]] = (),
    med_type: str = "21",
    bed: str = "",
    dscg_way: str = "1",
    end_hour: int = 10,
) -> Built:
    """One inpatient stay of ``days`` nights: ``daily`` items (bed, nursing, ward round) as one line of
    ``days`` units each on admission, as the care generator bills them; ``first_day`` items on
    admission, ``drugs`` (one package a day) on every full day, ``extra`` (code, day, cnt) and
    operations (code, name, day)."""
    ctx = rows.ctx
    end = datetime.combine((begin + timedelta(days=days)).date(), time(end_hour, int(begin.minute)))
    mid = rows.encounter(
        psn_no=psn_no, fixmedins_code=inst, med_type=med_type, begntime=begin, endtime=end, diag=dx[0],
        dept_codg=dept, atddr_no=doctor, insutype=insutype, adm_bed=bed, dscg_way=dscg_way,
    )  # fmt: skip
    rows.diagnoses(mid, dx)
    lines: list[str] = []
    made: list[str] = []
    per: dict[str, tuple[str, ...]] = {}
    item_of: dict[str, str] = {}

    def add(code: str, when: datetime, cnt: int = UNIT, prd: int = 0) -> None:
        if not ctx.has(code):
            return
        sn, cs = rows.line(
            mdtrt_id=mid, psn_no=psn_no, fixmedins_code=inst, med_list_codg=code, when=when, cnt=cnt,
            pric=ctx.prices.price(code, lv), doctor=doctor, dept=dept, prd_days=prd,
        )  # fmt: skip
        lines.append(sn)
        made.extend(cs)
        per[sn] = tuple(cs)
        item_of[sn] = code

    day0 = begin.date()
    for i, code in enumerate(
        daily
    ):  # bed, nursing, ward round: one line of ``days`` units, as care bills them
        add(code, begin + timedelta(minutes=5 + i), cnt=UNIT * max(days, 1))
    for d in range(days):
        day = day0 + timedelta(days=d)
        if d < max(days - 1, 1):
            for code in drugs:
                add(code, max(at_time(day, 10, 30), begin + timedelta(minutes=40)), prd=1)
    for i, code in enumerate(first_day):
        add(code, begin + timedelta(minutes=30 + i))
    for code, d, cnt in extra:
        add(code, max(at_time(day0 + timedelta(days=d), 14), begin + timedelta(minutes=45)), cnt=cnt)
    for code, name, d in oprn:
        rows.oprn(
            mid,
            code,
            name,
            day0 + timedelta(days=d),
            main=not any(r["mdtrt_id"] == mid for r in rows.rows["setl_list_oprn_d"]),
        )
    return Built(mid, tuple(lines), tuple(made), per, item_of)


def restriction_ok(ctx: Context, code: str, line: LineContext) -> bool:
    """True when the catalogue allows ``code`` in this context (no item = not allowed)."""
    item = ctx.item(code)
    return item is not None and item.restriction.violation(line) is None


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Busy:
    """Who is somewhere when: every encounter's days per person, indexed once per chunk (sorted
    arrays, looked up by bisection), with the persons whose care a pattern changed or added refreshed
    after it; and the death dates. :class:`Calendar` asks it instead of scanning mdtrt_d.

    >>> m = pl.DataFrame({"mdtrt_id": ["m1"], "psn_no": ["p"], "begntime": [datetime(2024, 3, 1, 9)],
    ...                   "endtime": [datetime(2024, 3, 5, 10)]})
    >>> busy = Busy(m)
    >>> busy.of("p")
    [(738946, 738950, 'm1')]
    >>> later = pl.concat([m, m.with_columns(pl.lit("m2").alias("mdtrt_id"), pl.col("begntime") + pl.duration(days=9),
    ...                                      pl.col("endtime") + pl.duration(days=9))])
    >>> busy.changed(m, later)
    >>> [iv[2] for iv in busy.of("p")]
    ['m1', 'm2']
    """

    def __init__(self, mdtrt: pl.DataFrame, people: pl.DataFrame | None = None) -> None:
        m = self._days(mdtrt).sort("psn_no", "a", "mdtrt_id")
        persons = m.get_column("psn_no")
        ends = np.cumsum(persons.unique_counts().to_list()).tolist()
        self._span = {  # psn_no → (first, last + 1) row of the person's encounters
            p: (ends[i - 1] if i else 0, ends[i])
            for i, p in enumerate(persons.unique(maintain_order=True).to_list())
        }
        self._a = m.get_column("a").to_list()
        self._b = m.get_column("b").to_list()
        self._id = m.get_column("mdtrt_id").to_list()
        self._fresh: dict[str, list[tuple[int, int, str]]] = {}
        self.death: dict[str, date] = {}
        if people is not None:
            dead = people.filter(pl.col("death_date").is_not_null()).select("psn_no", "death_date")
            self.death = dict(dead.iter_rows())

    @staticmethod
    def _days(mdtrt: pl.DataFrame) -> pl.DataFrame:
        return mdtrt.select(
            "psn_no",
            "mdtrt_id",
            (pl.col("begntime").dt.date().cast(pl.Int32) + _EPOCH_ORDINAL).alias("a"),
            (pl.col("endtime").dt.date().cast(pl.Int32) + _EPOCH_ORDINAL).alias("b"),
        )

    def of(self, psn_no: str) -> list[tuple[int, int, str]]:
        """(first day, last day, mdtrt_id) of the person's encounters, days as ordinals."""
        fresh = self._fresh.get(psn_no)
        if fresh is not None:
            return fresh
        lo, hi = self._span.get(psn_no, (0, 0))
        return list(zip(self._a[lo:hi], self._b[lo:hi], self._id[lo:hi], strict=True))

    def changed(self, before: pl.DataFrame, after: pl.DataFrame) -> None:
        """Take in what one pattern did to mdtrt_d: its new encounters (rows appended after
        ``before``) and the encounters whose person or dates it changed."""
        head = after.slice(0, before.height)
        mask = (
            (head.get_column("psn_no") != before.get_column("psn_no"))
            | (head.get_column("begntime") != before.get_column("begntime"))
            | (head.get_column("endtime") != before.get_column("endtime"))
        )
        moved = head.filter(mask)
        old_of_moved = before.filter(mask)
        now = self._days(pl.concat([moved, after.slice(before.height)]))
        gone = set(old_of_moved.get_column("mdtrt_id").to_list()) | set(now.get_column("mdtrt_id").to_list())
        touched = set(old_of_moved.get_column("psn_no").to_list()) | set(now.get_column("psn_no").to_list())
        for p in touched:
            self._fresh[p] = [iv for iv in self.of(p) if iv[2] not in gone]
        for p, mid, a, b in now.iter_rows():
            self._fresh[p].append((a, b, mid))


class Calendar:
    """The days on which some persons are already somewhere (any encounter), to place new care
    where it collides with nothing: no second stay, no outpatient visit during a stay, nobody treated
    after death (when the register or a :class:`Busy` index is given).

    >>> m = pl.DataFrame({"mdtrt_id": ["m1"], "psn_no": ["p"], "begntime": [datetime(2024, 3, 1, 9)],
    ...                   "endtime": [datetime(2024, 3, 5, 10)]})
    >>> cal = Calendar(m, ["p"])
    >>> cal.free("p", date(2024, 3, 5), date(2024, 3, 8)), cal.free("p", date(2024, 3, 6), date(2024, 3, 8))
    (False, True)
    """

    def __init__(
        self,
        source: pl.DataFrame | Busy,
        psn_nos: Iterable[str] = (),
        people: pl.DataFrame | None = None,
        *,
        ignore: Iterable[str] = (),
    ) -> None:
        self._index = (
            source
            if isinstance(source, Busy)
            else Busy(source.filter(pl.col("psn_no").is_in(list(psn_nos))), people)
        )
        self._ignore = frozenset(ignore)
        self._booked: dict[str, list[tuple[int, int]]] = {}

    def free(self, psn_no: str, a: date, b: date) -> bool:
        """No encounter of the person touches the days ``a``–``b``, and the person is alive on ``b``."""
        death = self._index.death.get(psn_no)
        if death is not None and b > death:
            return False
        x, y = a.toordinal(), b.toordinal()
        if any(not (y < s or x > e) for s, e in self._booked.get(psn_no, ())):
            return False
        return all(y < s or x > e or mid in self._ignore for s, e, mid in self._index.of(psn_no))

    def book(self, psn_no: str, a: date, b: date) -> None:
        self._booked.setdefault(psn_no, []).append((a.toordinal(), b.toordinal()))


def candidates(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    n: int,
    *,
    min_age: int = 0,
    max_age: int = 150,
    gend: str | None = None,
    alive_until: date | None = None,
    where: pl.Expr | None = None,
) -> pl.DataFrame:
    """Up to ``n`` random persons (not taken) of an age band and sex, alive until a date."""
    p = persons(tables, ctx).filter((pl.col("age") >= min_age) & (pl.col("age") <= max_age))
    if gend is not None:
        p = p.filter(pl.col("gend") == gend)
    if alive_until is not None:
        p = p.filter(pl.col("death_date").is_null() | (pl.col("death_date") > alive_until))
    if where is not None:
        p = p.filter(where)
    if p.height == 0 or n <= 0:
        return p.head(0)
    idx = rng.choice(p.height, size=min(n, p.height), replace=False)
    return p[[int(i) for i in idx]]


def wards(tables: Tables, *, min_lv: str = "1", among: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Hospitals with beds (fixmedins_code, coarse level) at or above ``min_lv``, sorted."""
    inst = tables["fixmedins_b"].filter(
        (pl.col("fixmedins_type") == "1") & (pl.col("bed_cnt").fill_null(0) > 0)
    )
    if among is not None:
        inst = inst.filter(pl.col("fixmedins_code").is_in(list(among)))
    out = [
        (c, codes.coarse_hosp_lv(lv or None))
        for c, lv in inst.select("fixmedins_code", "hosp_lv").sort("fixmedins_code").iter_rows()
    ]
    return [(c, lv) for c, lv in out if lv >= min_lv]


def institutions_of(
    tables: Tables, fixmedins_type: str, *, among: Iterable[str] | None = None
) -> list[tuple[str, str, str]]:
    """Institutions of a type as (fixmedins_code, coarse level, admdvs), sorted."""
    inst = tables["fixmedins_b"].filter(pl.col("fixmedins_type") == fixmedins_type)
    if among is not None:
        inst = inst.filter(pl.col("fixmedins_code").is_in(list(among)))
    return [
        (c, codes.coarse_hosp_lv(lv or None), a)
        for c, lv, a in inst.select("fixmedins_code", "hosp_lv", "admdvs").sort("fixmedins_code").iter_rows()
    ]


def levels(tables: Tables) -> dict[str, str]:
    """fixmedins_code → coarse level ("3" / "2" / "1"; pharmacies and clinics without a level are "1")."""
    inst = tables["fixmedins_b"]

    def coarse() -> dict[str, str]:
        return {c: codes.coarse_hosp_lv(lv or None) for c, lv in inst.select("fixmedins_code", "hosp_lv").iter_rows()}

    return of_region("levels", (inst,), coarse)


def plain(item: CatalogItem) -> bool:
    """True when nothing but free text restricts the item (no sex, age, level, visit, indication or
    days limit), so that billing it adds no signal of another pattern."""
    r = item.restriction
    return (
        r.gend is None
        and r.age_min is None
        and r.age_max is None
        and r.hosp_lv_min is None
        and not r.visits
        and not r.indications
        and r.max_days_supply is None
    )
