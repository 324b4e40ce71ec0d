"""Keep the region's legitimate care what the care generator made, whatever the injectors do.

The calibration report (:mod:`yibao.synth.report`) leaves out every encounter a fraud label names and
keeps every other one. Two things the injectors do would otherwise move its figures away from the
calibrated generator, and :func:`keep_legitimate_care` (run once per chunk, after the last pattern)
undoes both at the source:

* **A falsified clean encounter drops out of the legitimate care.** Most patterns falsify encounters
  the generator made (an overpriced line, an added diagnosis, a stay cut in two, a lent card) or name a
  real encounter as part of a case (the real stay a phantom stay overlaps, the purchase whose codes are
  resold). The report then misses that encounter — and where a pattern can only use long stays, or
  acts at a bad level-1 hospital, the legitimate remainder is biased too. So every clean encounter a
  label-1 row names gets a **legitimate twin**: the encounter exactly as the generator made it
  (diagnoses, procedures, lines, quantities, prices), for the same person, whole weeks earlier or
  later (the same weekday and hour; other days only when no week fits — never for a dialysis session,
  which keeps its weekly timetable or gets no twin). The fraud is then billed *on
  top of* the person's genuine care, as fraud is. The twin collides with none of the person's care: a
  stay keeps more than the 15-day readmission window from any other stay and has no visit inside it;
  a visit falls on a day without another encounter; no drug is dispensed while an earlier supply of
  it lasts, nor so that a later one comes early (no early-refill look-alike); a child keeps its age
  (paediatric items stay allowed) and the twin lies inside the person's year (born, alive). A stay
  keeps its bed when the bed is free, else takes an extra bed (加床) of its ward. When the person's
  year has no room (a long stay of a frequent user), the twin goes to another insured of the same
  scheme, sex and year of birth — except a 门诊慢特病 visit, which needs the person's registered
  condition. The twin has new ids and new trace codes of the same products.
* **A legitimate look-alike adds care.** A hard negative (label 0: a transfer, a chemotherapy cycle,
  an outbreak, a return and resale …) that is a new encounter **takes the place** of the most similar
  ordinary encounter of its cell — the same scheme, kind of care and hospital level, the nearest length
  of stay and cost — which is removed with its lines, so the count, case mix and cost of legitimate
  care stay the generator's. Only encounters no label and no case parameter names are replaced.
  (The look-alikes are also placed where such patients go: :func:`usual_place`.)

>>> sorted(int(d) for d in _signed(np.random.default_rng(0), np.array([7, 14])))  # shifts tried, in days
[-14, -7, 7, 14]
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from yibao import codes
from yibao.synth.fraud._base import (
    INPATIENT,
    VISIT,
    Context,
    Serials,
    Tables,
    Where,
    encounter_view,
    levels,
    positions_with,
    rows_with,
)
from yibao.synth.fraud._knowledge import DIALYSIS

__all__ = ["CODE", "STAY_MARGIN_DAYS", "keep_legitimate_care", "usual_place"]

CODE = "LG"
"""The id namespace of legitimate twins (``M<chunk>LG000001``): no pattern uses it."""
STAY_MARGIN_DAYS = 16
"""A twin stay keeps more than the 15-day readmission window from any other stay of its person."""
MAX_WEEKS = 52
CHILD_AGE = 18
"""Up to this age a twin keeps the person's age (the catalogue restricts paediatric items by age)."""
REFILL_USED = 0.8
"""A twin's dispense of a drug comes once 80 % of the person's last supply of it is used, and its own
supply is cut so that 80 % of it is used by the person's next dispense (no early-refill look-alike)."""
CANDIDATES = 20
FEWEST_CANDIDATES = 500
"""Ordinary encounters drawn per look-alike (and at least per cell) to find the most similar one in."""
STAND_INS = 40
"""Persons tried as the twin's patient when the person's own year has no room."""
_CLEAN_ID = r"[MF][0-9A-Z]{6,}"
"""Encounter (M…) and fee-line (F…) ids as case parameters mention them."""
_EPOCH = date(1970, 1, 1).toordinal()
I64 = np.ndarray[Any, np.dtype[np.int64]]
Row = tuple[Any, ...]
"""An encounter to twin: mdtrt_id, psn_no, fixmedins_code, adm_bed, first day, last day, stay?, chronic?"""


def keep_legitimate_care(
    rng: np.random.Generator,
    clean: Tables,
    out: Tables,
    labels: pl.DataFrame,
    *,
    serials: Serials,
    chunk: int,
    year: int,
    where: Where | None = None,
) -> Tables:
    """``out`` (the injected chunk) with a legitimate twin of every clean encounter a fraud label names
    and without the ordinary encounters the new hard negatives replace (see the module docstring).

    ``where``: the chunk's :class:`Where` (built from ``clean``), to find the lines of some encounters
    or ids in the clean tables by bisection."""
    named = labels.filter(pl.col("mdtrt_id") != "").select("mdtrt_id", "label")
    clean_ids = clean["mdtrt_d"].select("mdtrt_id")
    fraud = named.filter(pl.col("label") == "1").select("mdtrt_id").unique()
    consumed = fraud.join(clean_ids, on="mdtrt_id", how="semi").sort("mdtrt_id")
    added = (
        named.select("mdtrt_id")
        .unique()
        .join(fraud, on="mdtrt_id", how="anti")
        .join(clean_ids, on="mdtrt_id", how="anti")
        .sort("mdtrt_id")
    )
    mentioned = labels.select(pl.col("params").str.extract_all(_CLEAN_ID).explode().drop_nulls().unique())
    ids = mentioned.to_series().implode()
    by_sn = where.sorted_fee("feedetl_sn") if where is not None else None  # (changes keep line ids)
    in_params = pl.concat(
        [  # encounters a case names in its parameters, directly or by one of their lines
            out["mdtrt_d"].select("mdtrt_id").filter(pl.col("mdtrt_id").is_in(ids)),
            rows_with(out["fee_list_d"].select("feedetl_sn", "mdtrt_id"), "feedetl_sn", mentioned.to_series(), by_sn)
            .select("mdtrt_id"),
        ]
    )
    protected = pl.concat([named.select("mdtrt_id"), in_params]).unique()
    by_id = where.sorted_fee("mdtrt_id") if where is not None else None  # (the patterns looked already)
    by_trace = where.sorted_trace("mdtrt_id") if where is not None else None
    gone = _replaced(rng, out, clean_ids, added, protected)
    # the twins find their place among the encounters that stay (mdtrt_d without the replaced ones; a
    # twin reads the fee lines only of those); the big tables lose the replaced encounters' rows once
    # the twins' are appended, so that the cut of them into slices comes last (a table of many slices
    # makes every later pass over it slower)
    small = _without_encounters(out, gone, ("mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d"))
    result = _add_twins(rng, clean, small, consumed, serials=serials, chunk=chunk, year=year, fee_by=by_id,
                        trace_by=by_trace)  # fmt: skip
    return _without_encounters(result, gone, ("fee_list_d", "drug_trac_d"), fee_by=by_id, trace_by=by_trace)


# ---------------------------------------------------------------------------------------------
# Hard negatives go where such patients go, and take the place of similar ordinary encounters
# ---------------------------------------------------------------------------------------------

_VOLUME: list[tuple[pl.DataFrame, dict[tuple[str, str], int]]] = []
"""The view :func:`usual_place` counted last and its counts (the view itself, not its ``id``: a
later chunk's view may be given the ``id`` of a freed one)."""


def usual_place(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    places: list[tuple[str, str]],
    kind: str = INPATIENT,
) -> tuple[str, str]:
    """One of ``places`` ((fixmedins_code, level) pairs) drawn in proportion to the chunk's clean
    encounters of ``kind`` there: a legitimate look-alike goes where such patients are treated (most
    admissions are at the big hospitals), not to any ward alike.

    >>> from yibao.catalog.model import Catalog
    >>> from yibao.synth.fraud.sample import sample_region
    >>> t = sample_region(1, persons=300)
    >>> ctx = Context("ghost_bed", 1, "GB", chunk=0, year=2024, rate=0.02, catalog=Catalog())
    >>> usual_place(np.random.default_rng(1), t, ctx, [("H?", "1")])
    ('H?', '1')
    """
    view = ctx.view if ctx.view is not None else encounter_view(tables["mdtrt_d"], tables["fixmedins_b"])
    counts = _volume(view)
    weights = np.array([counts.get((kind, code), 0) + 1 for code, _ in places], dtype=np.float64)
    return places[int(rng.choice(len(places), p=weights / weights.sum()))]


def _volume(view: pl.DataFrame) -> dict[tuple[str, str], int]:
    """(kind, fixmedins_code) → the view's encounters, counted in one pass and kept for the next call
    with the same view (the patterns ask some 150 times a chunk, for several kinds)."""
    if not _VOLUME or _VOLUME[0][0] is not view:
        counts = view.group_by("kind", "fixmedins_code").len()
        _VOLUME[:] = [(view, {(k, c): int(n) for k, c, n in counts.iter_rows()})]
    return _VOLUME[0][1]


def _scheme(insutype: str) -> str:
    try:
        return codes.scheme(insutype)
    except codes.CodeError:
        return ""


def _cells(tables: Tables) -> pl.DataFrame:
    """Every encounter's mdtrt_id, cell (scheme | kind | level) and length of stay (days, 0 for a visit)."""
    kind = pl.col("med_type").replace_strict(VISIT, default="")
    stay_days = (pl.col("endtime").dt.date() - pl.col("begntime").dt.date()).dt.total_days()
    return tables["mdtrt_d"].select(
        "mdtrt_id",
        pl.concat_str(
            pl.col("insutype").replace_strict({c: _scheme(c) for c in codes.INSUTYPE}, default=""),
            kind,
            pl.col("fixmedins_code").replace_strict(levels(tables), default="1"),
            separator="|",
        ).alias("cell"),
        pl.when(kind == INPATIENT).then(pl.max_horizontal(pl.lit(1), stay_days)).otherwise(0).alias("los"),
    )


def _costs(tables: Tables, *encs: pl.DataFrame) -> pl.DataFrame:
    """mdtrt_id and ``cost`` (the sum of the encounter's fee lines, fen) of the encounters of ``encs``
    that have lines (one pass over fee_list_d for all of them)."""
    ids = pl.concat([e.get_column("mdtrt_id") for e in encs]).implode()
    return (
        tables["fee_list_d"]
        .select("mdtrt_id", "det_item_fee_sumamt")
        .filter(pl.col("mdtrt_id").is_in(ids))
        .group_by("mdtrt_id")
        .agg(pl.col("det_item_fee_sumamt").sum().alias("cost"))
    )


def _with_cost(enc: pl.DataFrame, cost: pl.DataFrame) -> pl.DataFrame:
    """``enc`` with ``cost`` (from :func:`_costs`; 0 for an encounter without lines)."""
    return enc.join(cost, on="mdtrt_id", how="left", maintain_order="left").with_columns(
        pl.col("cost").fill_null(0)
    )


def _replaced(
    rng: np.random.Generator,
    out: Tables,
    clean_ids: pl.DataFrame,
    added: pl.DataFrame,
    protected: pl.DataFrame,
) -> pl.Series:
    """The encounters the added look-alikes replace: for each, the nearest untouched clean encounter of
    its cell (among :data:`CANDIDATES` drawn per look-alike, at least :data:`FEWEST_CANDIDATES` per
    cell)."""
    if added.height == 0:
        return pl.Series("mdtrt_id", [], dtype=pl.String)
    cells = _cells(out)
    new = cells.join(added, on="mdtrt_id", how="semi").sort("mdtrt_id")
    wanted = new.group_by("cell").agg(pl.max_horizontal(pl.len() * CANDIDATES, FEWEST_CANDIDATES).alias("_k"))
    pool = (
        cells.join(wanted, on="cell", how="inner", maintain_order="left")
        .join(clean_ids, on="mdtrt_id", how="semi")
        .join(protected, on="mdtrt_id", how="anti")
        .sort("mdtrt_id")
    )
    pool = pool.with_columns(pl.Series("_u", rng.random(pool.height)))
    pool = pool.filter(pl.col("_u").rank("ordinal").over("cell") <= pl.col("_k"))
    costs = _costs(out, new, pool)
    new, pool = _with_cost(new, costs), _with_cost(pool, costs)
    removed: list[str] = []
    for (cell,), have in pool.partition_by("cell", as_dict=True, maintain_order=True).items():
        los = have.get_column("los").to_numpy().astype(np.float64)
        cost = have.get_column("cost").to_numpy().astype(np.float64)
        scale_los, scale_cost = max(float(los.mean()), 1.0), max(float(cost.mean()), 1.0)
        ids = have.get_column("mdtrt_id")
        free = np.ones(len(ids), dtype=np.bool_)
        for w_los, w_cost in new.filter(pl.col("cell") == cell).select("los", "cost").iter_rows():
            if not free.any():
                break
            d = np.abs(los - w_los) / scale_los + np.abs(cost - w_cost) / scale_cost
            d[~free] = np.inf
            j = int(np.argmin(d))
            free[j] = False
            removed.append(str(ids[j]))
    return pl.Series("mdtrt_id", removed, dtype=pl.String)


def _without_encounters(
    out: Tables,
    gone: pl.Series,
    tables: tuple[str, ...],
    *,
    fee_by: pl.Series | None = None,
    trace_by: pl.Series | None = None,
) -> Tables:
    """``out`` with ``tables`` (care tables) rid of the rows of the encounters ``gone``. ``fee_by``,
    ``trace_by``: the clean fee lines' and trace codes' mdtrt_id when they are sorted by it (the removed
    encounters' rows are then found by bisection)."""
    if gone.len() == 0:
        return out
    sorted_by = {"fee_list_d": fee_by, "drug_trac_d": trace_by}
    return {t: _without(f, gone, sorted_by.get(t)) if t in tables else f for t, f in out.items()}


def _without(frame: pl.DataFrame, gone: pl.Series, sorted_by: pl.Series | None) -> pl.DataFrame:
    """``frame`` without the rows of the encounters ``gone`` (``sorted_by`` as in :func:`rows_with`).

    With ``sorted_by`` the rows that go lie in a few runs, one per encounter: the slices between the
    runs are joined without a copy, where a filter would copy every column of the big tables for a few
    hundred encounters (0.5 of 1.5 CPU-s of :func:`keep_legitimate_care` in a chunk of 25,000 persons;
    the hand-over joins the slices once, as it joined the tables' chunks before)."""
    if sorted_by is None:
        return frame.filter(~pl.col("mdtrt_id").is_in(gone.implode()))
    rows = positions_with(frame, "mdtrt_id", gone, sorted_by).to_numpy().astype(np.int64)
    starts = np.concatenate([[0], rows + 1])
    ends = np.concatenate([rows, [frame.height]])
    kept = [frame.slice(int(a), int(b - a)) for a, b in zip(starts, ends, strict=True) if b > a]
    return pl.concat(kept, how="vertical") if kept else frame.clear()


# ---------------------------------------------------------------------------------------------
# Legitimate twins of falsified clean encounters
# ---------------------------------------------------------------------------------------------

_WEEKS = np.arange(1, MAX_WEEKS + 1, dtype=np.int64) * 7
_OTHER_DAYS = np.array([d for d in range(1, MAX_WEEKS * 7 + 1) if d % 7], dtype=np.int64)


def _signed(rng: np.random.Generator, steps: I64, rows: int | None = None) -> I64:
    """Each of ``steps`` forwards and backwards, the sign tried first drawn per step (per row of
    ``rows`` rows when given)."""
    shape = (len(steps),) if rows is None else (rows, len(steps))
    first = np.where(rng.random(shape) < 0.5, 1, -1)
    both = np.stack([steps * first, -steps * first], axis=-1)
    return both.reshape(-1) if rows is None else both.reshape(rows, -1)


def _days(col: str) -> pl.Expr:
    return pl.col(col).dt.date().cast(pl.Int64)


class _Supplies:
    """Days dispensed and days supplied of some persons' dispenses, by (person, drug): the arrays of
    each pair's dispenses, in their order, as slices of two arrays grouped by pair once (instead of a
    search of the person's dispenses for every drug asked about: some 14,000 asks a chunk)."""

    __slots__ = ("_days", "_ranges", "_t")

    def __init__(self, frame: pl.DataFrame | None = None) -> None:
        """``frame``: psn_no, med_list_codg, t and prd_days (Int64) of the dispenses (none when None)."""
        self._ranges: dict[tuple[str, str], tuple[int, int]] = {}
        self._t = self._days = np.zeros(0, dtype=np.int64)
        if frame is None or frame.height == 0:
            return
        pairs = frame.with_row_index("_j").group_by("psn_no", "med_list_codg", maintain_order=True).agg("_j")
        order = pairs.get_column("_j").explode().to_numpy()
        ends = pairs.get_column("_j").list.len().cum_sum().to_list()
        starts = [0, *ends[:-1]]
        keys = zip(*(pairs.get_column(c).to_list() for c in ("psn_no", "med_list_codg")), strict=True)
        self._ranges = {key: (a, b) for key, a, b in zip(keys, starts, ends, strict=True)}
        self._t = frame.get_column("t").to_numpy()[order]
        self._days = frame.get_column("prd_days").to_numpy()[order]

    def of(self, psn: str, code: str) -> tuple[I64, I64] | None:
        """Days dispensed and days supplied of ``psn``'s dispenses of ``code`` (None: none)."""
        at = self._ranges.get((psn, code))
        return None if at is None else (self._t[at[0] : at[1]], self._days[at[0] : at[1]])


_NO_SUPPLIES = _Supplies()
"""No dispenses (a :class:`_Supplies` is never changed once made)."""


class _Person:
    """One person's encounters (epoch days, stay or not: ``a``, ``b``, ``stay``, as the chunk has them),
    dispenses by drug (:meth:`supply`, the booked twins' included) and year window; the twins booked
    for the person are also kept apart (:attr:`twins`; :func:`_feasible_now` tests both)."""

    __slots__ = ("_supplies", "a", "b", "born", "drugs", "hi", "lo", "psn", "stay", "twins")

    def __init__(self, psn: str, lo: int, hi: int, born: int, supplies: _Supplies) -> None:
        self.psn = psn
        self.lo, self.hi, self.born = lo, hi, born
        self.a = self.b = np.zeros(0, dtype=np.int64)
        self.stay = np.zeros(0, dtype=np.bool_)
        self.drugs: dict[str, tuple[I64, I64] | None] = {}
        self._supplies = supplies  # the person's dispenses (with others'), as the chunk has them
        self.twins: _Person | None = None
        """The same person with only the twins booked so far (None before the first)."""

    def supply(self, code: str) -> tuple[I64, I64] | None:
        """Days dispensed and days supplied of each of the person's dispenses of ``code`` (None: none),
        twins booked for the person included."""
        if code not in self.drugs:
            self.drugs[code] = self._supplies.of(self.psn, code)
        return self.drugs[code]

    def book(self, a: int, b: int, stay: bool, drugs: list[tuple[str, int, int]]) -> None:
        """Book a twin [a, b] (a stay or not) with its dispenses (drug, day, days supplied): in
        :attr:`twins`, and the dispenses in the person's supplies."""
        if self.twins is None:
            self.twins = _Person(self.psn, self.lo, self.hi, self.born, _NO_SUPPLIES)
        twins = self.twins
        twins.a, twins.b = np.append(twins.a, a), np.append(twins.b, b)
        twins.stay = np.append(twins.stay, stay)
        twins._dispense(drugs)
        self._dispense(drugs)

    def _dispense(self, drugs: list[tuple[str, int, int]]) -> None:
        for code, t, days in drugs:
            ts, ds = self.supply(code) or (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
            self.drugs[code] = (np.append(ts, t), np.append(ds, days))


def _birthday(brdy: pl.Expr, year: int) -> pl.Expr:
    """Epoch day of the birthday in ``year`` (29 February → 1 March when ``year`` is not a leap year)."""
    month, day = brdy.dt.month(), brdy.dt.day()
    if not calendar.isleap(year):
        feb29 = (month == 2) & (day == 29)
        month, day = pl.when(feb29).then(3).otherwise(month), pl.when(feb29).then(1).otherwise(day)
    return pl.date(year, month, day).cast(pl.Int64)


def _dispenses(out: Tables, drugs: pl.Series) -> pl.DataFrame:
    """The chunk's lines of ``drugs`` with days supplied outside stays: psn_no, med_list_codg, day,
    prd_days."""
    visits = out["mdtrt_d"].filter(pl.col("med_type").replace_strict(VISIT, default="") != INPATIENT)
    return (
        out["fee_list_d"]
        .select("mdtrt_id", "psn_no", "med_list_codg", "fee_ocur_time", "prd_days")
        .filter((pl.col("prd_days") > 0) & pl.col("med_list_codg").is_in(drugs.implode()))
        .filter(pl.col("mdtrt_id").is_in(visits.get_column("mdtrt_id").implode()))  # on the few lines left
        .select("psn_no", "med_list_codg", _days("fee_ocur_time").alias("t"), "prd_days")
    )


def _by_person(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, tuple[int, int]]]:
    """``frame``'s rows grouped by psn_no (persons in the order of their first row, each person's rows
    in their order; no sort of strings) and psn_no → (first, last + 1) row of the person's group."""
    groups = frame.with_row_index("_i").group_by("psn_no", maintain_order=True).agg("_i")
    rows = frame.select(pl.all().gather(groups.get_column("_i").explode()))
    ends = groups.get_column("_i").list.len().cum_sum().to_list()
    persons = groups.get_column("psn_no").to_list()
    return rows, {p: (ends[i - 1] if i else 0, ends[i]) for i, p in enumerate(persons)}


class _Care:
    """The chunk's persons, encounters and dispenses; :meth:`people` indexes those of some persons
    (sorted by person once) and gives each :class:`_Person` its own slice of them."""

    def __init__(self, out: Tables, dispenses: pl.DataFrame, year: int) -> None:
        jan1, dec31 = date(year, 1, 1).toordinal() - _EPOCH, date(year, 12, 31).toordinal() - _EPOCH
        brdy, death = pl.col("brdy"), pl.col("death_date")
        child = brdy.is_not_null() & (year - brdy.dt.year() <= CHILD_AGE)
        self._info = out["psn_info_b"].select(
            "psn_no",
            pl.max_horizontal(pl.lit(jan1), brdy.cast(pl.Int64)).alias("lo"),  # null brdy → jan1
            pl.min_horizontal(pl.lit(dec31), death.cast(pl.Int64)).alias("hi"),  # null death → dec31
            pl.when(child).then(_birthday(brdy, year)).otherwise(-1).alias("born"),
        )
        kind = pl.col("med_type").replace_strict(VISIT, default="")
        self._encounters = out["mdtrt_d"].select(
            "psn_no",
            _days("begntime").alias("a"),
            _days("endtime").alias("b"),
            (kind == INPATIENT).alias("s"),
        )
        self._dispenses = dispenses.select("psn_no", "med_list_codg", "t", pl.col("prd_days").cast(pl.Int64))

    def people(self, psn_nos: list[str]) -> dict[str, _Person]:
        """A new :class:`_Person` of each of ``psn_nos`` the register has (as the chunk has them, in the
        order of ``psn_nos``)."""
        mine = pl.col("psn_no").is_in(pl.Series(psn_nos, dtype=pl.String).implode())
        window = {psn: (lo, hi, born) for psn, lo, hi, born in self._info.filter(mine).iter_rows()}
        enc, encounters = _by_person(self._encounters.filter(mine))
        a, b, stay = (enc.get_column(c).to_numpy() for c in ("a", "b", "s"))
        supplies = _Supplies(self._dispenses.filter(mine))
        people: dict[str, _Person] = {}
        for psn in psn_nos:
            if psn not in window:
                continue
            p = people[psn] = _Person(psn, *window[psn], supplies)
            first, end = encounters.get(psn, (0, 0))
            if end > first:
                p.a, p.b, p.stay = a[first:end], b[first:end], stay[first:end]
        return people

    def person(self, psn: str) -> _Person | None:
        """A new :class:`_Person` of ``psn`` (None when the register lacks the person)."""
        return self.people([psn]).get(psn)


class _Beds:
    """Occupancy of every (institution, bed) of the chunk, and the next extra bed (加床) of each ward."""

    def __init__(self, mdtrt: pl.DataFrame) -> None:
        stays = mdtrt.filter(pl.col("adm_bed") != "").select(
            "fixmedins_code", "adm_bed", _days("begntime").alias("a"), _days("endtime").alias("b")
        )
        self.busy: dict[tuple[str, str], tuple[I64, I64]] = {}
        for inst, bed, a, b in stays.group_by("fixmedins_code", "adm_bed").agg("a", "b").iter_rows():
            self.busy[(inst, bed)] = (np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
        self.top: dict[tuple[str, str], int] = {}
        wards = stays.select(
            "fixmedins_code",
            pl.col("adm_bed").str.extract(r"^(.*)-\d+$").alias("ward"),
            pl.col("adm_bed").str.extract(r"-(\d+)$").cast(pl.Int64, strict=False).alias("n"),
        ).drop_nulls()
        for inst, ward, n in wards.group_by("fixmedins_code", "ward").agg(pl.col("n").max()).iter_rows():
            self.top[(inst, ward)] = int(n)

    def free(self, inst: str, bed: str, a: int, b: int, shifts: I64) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which ``shifts`` of the stay [a, b] find the bed free (a discharge day may be an admission day)."""
        busy = self.busy.get((inst, bed))
        if busy is None:
            return np.ones(len(shifts), dtype=np.bool_)
        a0, b0 = busy
        a2, b2 = (a + shifts)[:, None], (b + shifts)[:, None]
        return np.asarray(((b0[None, :] <= a2) | (a0[None, :] >= b2)).all(axis=1), dtype=np.bool_)

    def take(self, inst: str, bed: str, a: int, b: int) -> None:
        a0, b0 = self.busy.get((inst, bed), (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)))
        self.busy[(inst, bed)] = (np.append(a0, a), np.append(b0, b))

    def spare(self, inst: str, bed: str) -> str:
        """A new extra bed of ``bed``'s ward, numbered after the ward's highest bed."""
        ward, _, number = bed.rpartition("-")
        n = self.top.get((inst, ward), 0) + 1
        self.top[(inst, ward)] = n
        return f"{ward}-{n:0{max(len(number), 1)}d}"


def _feasible(p: _Person, a: int, b: int, stay: bool, drugs: list[tuple[str, int, int]], shifts: I64) -> np.ndarray[Any, np.dtype[np.bool_]]:  # fmt: skip
    """Which ``shifts`` put the encounter [a, b] (epoch days) where it collides with none of the
    person's care (see the module docstring)."""
    a2, b2 = a + shifts, b + shifts
    ok = (a2 >= p.lo) & (b2 <= p.hi)
    if p.born >= 0:  # a child keeps its age: no birthday between the original and the twin
        for x in (a, b):
            x2 = x + shifts
            ok &= ~((np.minimum(x, x2) < p.born) & (p.born <= np.maximum(x, x2)))
    if len(p.a):
        margin = np.where(p.stay & stay, STAY_MARGIN_DAYS, 0)
        apart = (p.b + margin < a2[:, None]) | (p.a - margin > b2[:, None])
        ok &= apart.all(axis=1)
    for code, t, _ in drugs:
        others = p.supply(code)
        if others is None:
            continue
        ot, od = others
        t2 = (t + shifts)[:, None]
        ok &= ((t2 >= ot + np.ceil(REFILL_USED * od)) | (ot > t2)).all(axis=1)
    return ok


def _feasible_now(p: _Person, a: int, b: int, stay: bool, drugs: list[tuple[str, int, int]], shifts: I64) -> np.ndarray[Any, np.dtype[np.bool_]]:  # fmt: skip
    """:func:`_feasible` of the person's care with the twins booked for it so far (each encounter and
    dispense rules out shifts of its own, so the twins are tested apart)."""
    ok = _feasible(p, a, b, stay, drugs, shifts)
    return ok if p.twins is None else ok & _feasible(p.twins, a, b, stay, drugs, shifts)


def _feasible_all(
    persons: list[_Person | None],
    rows: list[Row],
    dispensed: dict[str, list[tuple[str, int, int]]],
    shifts: I64,
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """:func:`_feasible` of every row of ``rows`` (for its person of ``persons``, as the person is now;
    False for a row without one) at its row of ``shifts``, all at once: each of the person's
    encounters and earlier dispenses rules out an interval of shifts."""
    known = [p if p is not None else _Person("", 1, 0, -1, _NO_SUPPLIES) for p in persons]  # (no shift fits)
    a, b = (np.array([r[k] for r in rows], dtype=np.int64) for k in (4, 5))
    stay = np.array([r[6] for r in rows], dtype=np.bool_)
    lo, hi, born = (
        np.array([getattr(p, k) for p in known], dtype=np.int64)[:, None] for k in ("lo", "hi", "born")
    )
    ok = (a[:, None] + shifts >= lo) & (b[:, None] + shifts <= hi)
    child = np.flatnonzero(born[:, 0] >= 0)  # a child keeps its age: no birthday between the two
    for x in (a[child, None], b[child, None]):
        x2 = x + shifts[child]
        ok[child] &= ~((np.minimum(x, x2) < born[child]) & (born[child] <= np.maximum(x, x2)))
    # the person's encounter [pa, pb] collides with the twin [a + s, b + s] for pa - m - b <= s <= pb + m - a
    counts = np.array([len(p.a) for p in known], dtype=np.int64)
    of = np.repeat(np.arange(len(rows)), counts)
    pa, pb = (np.concatenate([np.zeros(0, np.int64), *(getattr(p, k) for p in known)]) for k in ("a", "b"))
    pstay = np.concatenate([np.zeros(0, np.bool_), *(p.stay for p in known)])
    margin = np.where(pstay & stay[of], STAY_MARGIN_DAYS, 0)
    spans = [(of, pa - margin - b[of], pb + margin - a[of])]
    # an earlier dispense on ot of od days rules out a dispense on t + s for ot <= t + s < ot + ceil(0.8 od)
    rows_d: list[int] = []
    days_d: list[int] = []
    n_d: list[int] = []
    ot_d: list[I64] = []
    od_d: list[I64] = []
    for i, (row, p) in enumerate(zip(rows, known, strict=True)):
        for code, day, _ in dispensed.get(row[0], []):
            others = p.supply(code)
            if others is not None:
                rows_d.append(i)
                days_d.append(day)
                n_d.append(len(others[0]))
                ot_d.append(others[0])
                od_d.append(others[1])
    if rows_d:
        t = np.repeat(np.array(days_d, dtype=np.int64), n_d)
        ot, od = np.concatenate(ot_d), np.concatenate(od_d)
        until = ot + np.ceil(REFILL_USED * od).astype(np.int64)
        spans.append((np.repeat(np.array(rows_d, dtype=np.int64), n_d), ot - t, until - t - 1))
    ok &= ~_ruled_out(spans, shifts)
    ok[[i for i, p in enumerate(persons) if p is None]] = False
    return ok


def _ruled_out(spans: list[tuple[I64, I64, I64]], shifts: I64) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which ``shifts`` (one row of shifts per row) lie in one of the ``spans`` (row, first, last shift
    ruled out) of their row."""
    values = np.unique(shifts)
    width = len(values) + 1
    starts = np.zeros(len(shifts) * width, dtype=np.int64)
    for of, first, last in spans:  # +1 where an interval starts, -1 after it ends (by sorted shift)
        i, j = np.searchsorted(values, first, "left"), np.searchsorted(values, last, "right")
        some = i < j
        starts += np.bincount(of[some] * width + i[some], minlength=len(starts))
        starts -= np.bincount(of[some] * width + j[some], minlength=len(starts))
    inside = np.cumsum(starts.reshape(len(shifts), width), axis=1)[:, :-1] > 0
    return np.take_along_axis(inside, np.searchsorted(values, shifts), axis=1)


def _add_twins(
    rng: np.random.Generator, clean: Tables, out: Tables, consumed: pl.DataFrame, *, serials: Serials, chunk: int, year: int,
    fee_by: pl.Series | None = None, trace_by: pl.Series | None = None,
) -> Tables:  # fmt: skip
    """``out`` with the legitimate twins of the ``consumed`` clean encounters. ``fee_by``, ``trace_by``:
    the clean fee lines' and trace codes' mdtrt_id when they are sorted by it (see :func:`rows_with`)."""
    if consumed.height == 0:
        return out
    originals = clean["mdtrt_d"].join(consumed, on="mdtrt_id", how="semi").sort("mdtrt_id")
    kind = pl.col("med_type").replace_strict(VISIT, default="")
    visits = originals.filter(kind != INPATIENT).get_column("mdtrt_id")
    visit_lines = rows_with(
        clean["fee_list_d"].select("mdtrt_id", "med_list_codg", "fee_ocur_time", "prd_days"), "mdtrt_id", visits, fee_by
    )
    lines = visit_lines.filter(pl.col("prd_days") > 0).select(
        "mdtrt_id", "med_list_codg", _days("fee_ocur_time"), "prd_days"
    )
    dispensed: dict[str, list[tuple[str, int, int]]] = {}
    for mid, code, t, days in lines.iter_rows():
        dispensed.setdefault(mid, []).append((code, t, int(days)))
    rows = originals.select(
        "mdtrt_id", "psn_no", "fixmedins_code", "adm_bed", _days("begntime").alias("a"), _days("endtime").alias("b"),
        (kind == INPATIENT).alias("stay"), (kind == "chronic").alias("chronic"),
    ).rows()  # fmt: skip
    # a dialysis session keeps its timetable: its twin moves by whole weeks or not at all
    sessions = set(visit_lines.filter(pl.col("med_list_codg") == DIALYSIS).get_column("mdtrt_id").to_list())
    beds = _Beds(out["mdtrt_d"])
    asked = lines.get_column("med_list_codg").unique()  # the only drugs whose supplies twins look up
    care = _Care(out, _dispenses(out, asked), year)
    people = care.people(sorted({r[1] for r in rows}))
    placed: list[tuple[str, str, str, int, str]] = []  # original id, twin id, person, shift (days), bed
    supplies: dict[tuple[str, str], int] = {}  # (twin id, drug) → days supplied, where cut short
    weeks = _signed(rng, _WEEKS, len(rows))
    first = _feasible_all([people.get(r[1]) for r in rows], rows, dispensed, weeks)  # before any booking
    left: list[int] = []
    last = {row[1]: i for i, row in enumerate(rows)}  # a person's last encounter to twin books nothing
    for i, row in enumerate(rows):
        p = people.get(row[1])
        ok = first[i]
        if p is not None and p.twins is not None:
            # the shifts free of the person's care (as :func:`_feasible_now`), and of the twins booked since
            ok = ok & _feasible(p.twins, row[4], row[5], row[6], dispensed.get(row[0], []), weeks[i])
        again = last[row[1]] > i
        if p is None or not _place(
            rng, row, row[1], p, dispensed, beds, placed, supplies, chunk, weeks[i], ok, again,
            weekday_only=row[0] in sessions,
        ):
            left.append(i)
    left = [i for i in left if not rows[i][7]]  # a 门诊慢特病 visit stays with its registered patient
    if left:
        stand_ins = _stand_ins(rng, out, sorted({rows[i][1] for i in left}))
        others = care.people(sorted({c for cs in stand_ins.values() for c in cs}))
        for i in left:
            row = rows[i]
            for cand in stand_ins.get(row[1], []):
                if _place(rng, row, cand, others[cand], dispensed, beds, placed, supplies, chunk, weeks[i]):
                    break
    if not placed:
        return out
    return _copy_rows(
        clean, out, placed, supplies, serials=serials, chunk=chunk, fee_by=fee_by, trace_by=trace_by
    )


def _stand_ins(rng: np.random.Generator, out: Tables, psn_nos: list[str]) -> dict[str, list[str]]:
    """For each person, up to :data:`STAND_INS` others of the same insutype, sex and year of birth."""
    info = out["psn_info_b"].select("psn_no", "insutype", "gend", pl.col("brdy").dt.year().alias("y"))
    mine = info.join(pl.DataFrame({"psn_no": psn_nos}, schema={"psn_no": pl.String}), on="psn_no", how="semi")
    groups = {
        (ins, gend, y): members
        for ins, gend, y, members in info.join(mine.select("insutype", "gend", "y").unique(), on=["insutype", "gend", "y"], how="semi")
        .sort("psn_no")
        .group_by("insutype", "gend", "y", maintain_order=True)
        .agg("psn_no")
        .iter_rows()
    }  # fmt: skip
    chosen: dict[str, list[str]] = {}
    for psn, ins, gend, y in mine.sort("psn_no").iter_rows():
        members = [m for m in groups.get((ins, gend, y), []) if m != psn]
        chosen[psn] = [members[int(i)] for i in rng.permutation(len(members))[:STAND_INS]]
    return chosen


def _place(
    rng: np.random.Generator,
    row: Row,
    psn: str,
    p: _Person,
    dispensed: dict[str, list[tuple[str, int, int]]],
    beds: _Beds,
    placed: list[tuple[str, str, str, int, str]],
    supplies: dict[tuple[str, str], int],
    chunk: int,
    weeks: I64,
    ok: np.ndarray[Any, np.dtype[np.bool_]] | None = None,
    again: bool = True,
    weekday_only: bool = False,
) -> bool:
    """Place the twin of encounter ``row`` for person ``psn`` at the first feasible shift (the same
    weekday first: ``weeks``, the week shifts in the order to try; ``ok``: which of them are feasible,
    when known; other days unless ``weekday_only``); False when there is none. ``again``: ``p`` may get
    another twin later (so the twin is booked in ``p``'s care)."""
    mid, _, inst, bed, a, b, stay, _ = row
    drugs = dispensed.get(mid, [])
    if ok is None:
        ok = _feasible_now(p, a, b, stay, drugs, weeks)
    shifts = weeks
    if not ok.any() and weekday_only:
        return False
    if not ok.any():
        shifts = _signed(rng, _OTHER_DAYS)
        ok = _feasible_now(p, a, b, stay, drugs, shifts)
        if not ok.any():
            return False
    choice = shifts[ok]
    shift = int(choice[0])
    if stay and bed:
        with_bed = choice[beds.free(inst, bed, a, b, choice)]
        if len(with_bed):
            shift = int(with_bed[0])
        else:
            bed = beds.spare(inst, bed)
        beds.take(inst, bed, a + shift, b + shift)
    twin = f"M{chunk}{CODE}{len(placed) + 1:06d}"
    placed.append((mid, twin, psn, shift, bed))
    booked = []
    for code, t, days in drugs:
        others = p.supply(code)
        later = others[0][others[0] > t + shift] if others is not None else others
        if later is not None and len(later):
            days = min(days, max(1, int((int(later.min()) - t - shift) / REFILL_USED)))
            supplies[(twin, code)] = min(days, supplies.get((twin, code), days))
        booked.append((code, t + shift, days))
    if again:
        p.book(a + shift, b + shift, stay, booked)
    return True


def _copy_rows(
    clean: Tables,
    out: Tables,
    placed: list[tuple[str, str, str, int, str]],
    supplies: dict[tuple[str, str], int],
    *,
    serials: Serials,
    chunk: int,
    fee_by: pl.Series | None = None,
    trace_by: pl.Series | None = None,
) -> Tables:
    """The placed twins' rows (new ids, new trace codes, their person, times shifted, supplies cut where
    the person's next dispense comes) appended to ``out``."""
    plan = pl.DataFrame(
        placed,
        schema={
            "mdtrt_id": pl.String,
            "twin": pl.String,
            "psn": pl.String,
            "shift": pl.Int64,
            "bed": pl.String,
        },
        orient="row",
    )
    by = pl.duration(days=pl.col("shift"))
    keys = plan.select("mdtrt_id", "twin", "psn", "shift")
    res = dict(out)
    m = clean["mdtrt_d"].join(plan, on="mdtrt_id", how="inner", maintain_order="right")
    m = m.with_columns(
        pl.col("twin").alias("mdtrt_id"),
        pl.col("psn").alias("psn_no"),
        pl.col("begntime") + by,
        pl.col("endtime") + by,
        pl.col("bed").alias("adm_bed"),
        pl.when(pl.col("dscg_way") == "5").then(pl.lit("1")).otherwise(pl.col("dscg_way")).alias("dscg_way"),
    )  # a twin of a stay that ended in death ends in an ordinary discharge
    res["mdtrt_d"] = _append(out["mdtrt_d"], m)
    diag = clean["setl_list_diag_d"].join(keys, on="mdtrt_id", how="inner", maintain_order="right")
    res["setl_list_diag_d"] = _append(
        out["setl_list_diag_d"], diag.with_columns(pl.col("twin").alias("mdtrt_id"))
    )
    oprn = clean["setl_list_oprn_d"].join(keys, on="mdtrt_id", how="inner", maintain_order="right")
    res["setl_list_oprn_d"] = _append(
        out["setl_list_oprn_d"], oprn.with_columns(pl.col("twin").alias("mdtrt_id"), pl.col("oprn_date") + by)
    )
    originals = keys.get_column("mdtrt_id")
    fee = rows_with(clean["fee_list_d"], "mdtrt_id", originals, fee_by)
    fee = fee.join(keys, on="mdtrt_id", how="inner", maintain_order="right")
    fee = fee.with_row_index("_i").with_columns(
        pl.format(f"F{chunk}{CODE}{{}}", (pl.col("_i") + 1).cast(pl.String).str.zfill(7)).alias("_sn")
    )
    rx = fee.filter(pl.col("rxno") != "").select("rxno").unique(maintain_order=True).with_row_index("_r")
    rx = rx.with_columns(
        pl.format(f"R{chunk}{CODE}{{}}", (pl.col("_r") + 1).cast(pl.String).str.zfill(7)).alias("_rx")
    )
    fee = fee.join(rx.select("rxno", "_rx"), on="rxno", how="left", maintain_order="left")
    if supplies:
        cut = pl.DataFrame(
            [(t, c, d) for (t, c), d in supplies.items()],
            schema={"twin": pl.String, "med_list_codg": pl.String, "_days": pl.Int64},
            orient="row",
        )
        fee = fee.join(cut, on=["twin", "med_list_codg"], how="left", maintain_order="left").with_columns(
            pl.when(pl.col("_days").is_not_null() & (pl.col("prd_days") > 0))
            .then(pl.min_horizontal("prd_days", "_days"))
            .otherwise(pl.col("prd_days"))
            .alias("prd_days")
        )
    res["fee_list_d"] = _append(
        out["fee_list_d"],
        fee.with_columns(
            pl.col("_sn").alias("feedetl_sn"),
            pl.col("twin").alias("mdtrt_id"),
            pl.col("psn").alias("psn_no"),
            pl.col("fee_ocur_time") + by,
            pl.col("_rx").fill_null("").alias("rxno"),
        ),
    )
    trace = rows_with(clean["drug_trac_d"], "mdtrt_id", originals, trace_by)  # then join the few
    trace = trace.join(keys, on="mdtrt_id", how="inner", maintain_order="right")
    if trace.height:
        new_codes = serials.codes(trace.get_column("med_list_codg"))
        trace = trace.join(
            fee.select("feedetl_sn", "_sn"), on="feedetl_sn", how="left", maintain_order="left"
        )
        res["drug_trac_d"] = _append(
            out["drug_trac_d"],
            trace.with_columns(
                new_codes,
                pl.col("_sn").alias("feedetl_sn"),
                pl.col("twin").alias("mdtrt_id"),
                pl.col("sel_time") + by,
            ),
        )
    return res


def _append(base: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    if extra.height == 0:
        return base
    return pl.concat([base, extra.select(base.columns).cast(base.schema)], how="vertical")
