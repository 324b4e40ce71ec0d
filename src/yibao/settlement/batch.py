"""Settle a dataset's year: every encounter through the benefit engine, in time order per person.

``settle_year(DATASET)`` reads the register (psn_info_b, psn_insu_d), the institutions, the encounters,
their diagnoses and fee lines and the contributions, and writes ``setl_d`` with every 2207 money field.
People are independent — except that 家庭共济 links a resident to an employee's personal account — so
the work is split by *household* (a person with the relatives whose account pays for them) into parts,
each read from the tables and settled by a worker process of its own; the output is sorted, so it is
identical whatever the number of workers.

Per household the pipeline is: encounters by settlement time → person state on the day (age, category,
assistance, enrolment, account balance = 1 January balance + credits so far − account payments so far)
→ the payer chain of :func:`~yibao.settlement.engine.settle_totals` → year-to-date accumulators carried
to the next bill. Before that each distinct fee line is split once per hospital level and catalogue
epoch and summed per bill with NumPy (:func:`_presplit`; the lines whose 限定支付 check depends on the
patient or the bill are checked one by one). The bills are then settled in *waves*, every household's
n-th bill at once (:mod:`~yibao.settlement.replay`, the engine's rules on arrays); the few households
the waves leave — a bill the engine refuses, long-term care, an account two households draw on — are
settled bill by bill by the engine itself. Both give the same file (``waves=False`` settles every bill
by the engine).

>>> from yibao.settlement.batch import enrollment_from_years
>>> enrollment_from_years(2025, enrolled={2019, 2020, 2023, 2024, 2025}, repaid={2022}, zero_claim={2023})
Enrollment(continuous_years=3, zero_claim_years=1, break_years=2, repaid_years=1, in_window=True, prior_continuous_years=(2,), enrolled_on=None)
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from yibao import codes
from yibao.catalog.loader import default_catalog
from yibao.catalog.model import NO_RESTRICTION, Catalog, LineColumns, Restriction, violated
from yibao.dataset.io import TableWriter, scan_table, to_arrow
from yibao.dataset.schema import SETLINFO_MONEY, TABLES
from yibao.money import Ratio, round_div
from yibao.policy.loader import Policy, load_region
from yibao.settlement.engine import line_splits, payable_at_level, settle_totals
from yibao.settlement.model import Accumulators, Encounter, Enrollment, FeeLine, Person, Settlement
from yibao.settlement.replay import YearBills, replay

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances."""

_HISTORY_YEARS = 16
_MONEY_AT = tuple(Settlement._fields.index(name) for name in SETLINFO_MONEY)


class Settled(NamedTuple):
    """The settlement of some households: their setl rows (the on-disk schema and ``_setl_time``, in
    time order; see :func:`write_setl`), the encounters that could not be settled (mdtrt_id, reason)
    and how many bills the waves settled (the others, the engine bill by bill)."""

    rows: pa.Table
    failures: list[tuple[str, str]]
    in_waves: int


@dataclass(frozen=True)
class YearResult:
    """What settle_year did: counts, the encounters it could not settle (with reasons) and timings."""

    settlements: int
    encounters: int
    failed: int
    failures: tuple[tuple[str, str], ...]
    seconds: float
    in_waves: int = 0
    """Of the settlements, those the waves made (the others the engine made bill by bill)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "settlements": self.settlements,
            "in_waves": self.in_waves,
            "encounters": self.encounters,
            "failed": self.failed,
            "first_failures": [{"mdtrt_id": m, "error": e} for m, e in self.failures[:20]],
            "seconds": round(self.seconds, 3),
            "encounters_per_s": round(self.encounters / self.seconds) if self.seconds else None,
        }


def enrollment_from_years(
    year: int,
    *,
    enrolled: set[int],
    repaid: set[int] = frozenset(),  # type: ignore[assignment]
    zero_claim: set[int] = frozenset(),  # type: ignore[assignment]
    in_window: bool = True,
    enrolled_on: date | None = None,
) -> Enrollment:
    """The enrolment history on ``year`` from the sets of enrolled, repaid and zero-claim years.

    Repaid years (补缴) do not restore continuity — N restarts at re-enrolment — and stay break years;
    they only shorten the waiting period. Zero-claim years are the earlier enrolled years in which the
    funds paid nothing.
    """
    covered = enrolled
    n = 0
    y = year
    while y in covered:
        n += 1
        y -= 1
    first = min(enrolled | repaid) if enrolled or repaid else year
    gaps = [y for y in range(first, year + 1) if y not in enrolled]
    runs: list[int] = []
    run = 0
    for y in range(first, year - n + 1):
        if y in covered:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    if run:
        runs.append(run)
    return Enrollment(
        continuous_years=n,
        zero_claim_years=sum(1 for y in zero_claim if y < year and y in covered),
        break_years=len(gaps),
        repaid_years=len([y for y in gaps if y in repaid]),
        in_window=in_window,
        prior_continuous_years=tuple(runs),
        enrolled_on=enrolled_on,
    )


# ---------------------------------------------------------------------------------------------
# Loading one part
# ---------------------------------------------------------------------------------------------

INPUTS: dict[str, tuple[str, ...]] = {
    "psn_info_b": ("psn_no", "gend", "brdy", "insutype", "psn_type", "psn_idet_type", "acct_balc_begn",
                   "mulaid_psn_no"),
    "psn_insu_d": ("psn_no", "insutype", "begndate", "enddate", "in_window", "repaid", "zero_claim"),
    "fixmedins_b": ("fixmedins_code", "hosp_lv"),
    "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "endtime", "insutype"),
    "setl_list_diag_d": ("mdtrt_id", "maindiag_flag", "diag_code"),
    "fee_list_d": ("feedetl_sn", "mdtrt_id", "med_list_codg", "pric", "cnt", "det_item_fee_sumamt", "prd_days"),
    "contribution_d": ("psn_no", "clct_month", "to_account"),
}  # fmt: skip
"""The columns settle-year reads from each table."""

_HOUSEHOLD = (
    pl.when(pl.col("mulaid_psn_no").fill_null("") != "")
    .then(pl.col("mulaid_psn_no"))
    .otherwise(pl.col("psn_no"))
)
"""A person's household: the employee whose account pays for them (家庭共济), else themselves."""


@dataclass
class _Data:
    """One part's inputs as the settlement loop walks them; an encounter's data sit at its position."""

    encounters: pl.DataFrame  # in settling order (see _encounters), with the span [start, end) of its lines
    persons: dict[str, tuple[Any, ...]]  # psn_no → gend, insutype, psn_type, psn_idet_type, mulaid_psn_no
    enrollment: dict[str, Enrollment]
    funds: dict[str, tuple[int, ...]]  # psn_no → account on 1 January + credits up to month m, m = 0…12
    diagnoses: list[tuple[str, ...]]  # per encounter: diagnosis codes, principal first
    kinds: tuple[FeeLine, ...]  # the distinct fee lines (see _line_kinds)
    kind_of_line: np.ndarray[Any, np.dtype[np.int64]]  # per fee line, by encounter: its kind
    feedetl_sn: pl.Series  # per fee line, by encounter: its number (for a bill's line order, _line_order)


_PERSON_TABLES = ("psn_info_b", "psn_insu_d", "contribution_d")
_LINE_TABLES = ("setl_list_diag_d", "fee_list_d")
"""The tables keyed by person, and those keyed by encounter (mdtrt_id)."""


def _keyed(scan: dict[str, pl.LazyFrame], parts: int) -> dict[str, pl.LazyFrame]:
    """Every table but the institutions with ``_part``, the part of its rows' household.

    Encounters of a person missing from the register go to part 0 (where they fail as "unknown person").
    The encounters carry ``_enc``, their row in ``mdtrt_d``, and the fee lines and diagnoses the ``_enc``
    of their encounter in place of its mdtrt_id: a part then finds its lines' encounters by integers
    instead of joining its millions of fee lines on strings a second time.
    """
    part_of = _part_of(scan["psn_info_b"], parts).collect(engine="streaming").lazy()
    encounters = (
        scan["mdtrt_d"]
        .with_row_index("_enc")
        .join(part_of, on="psn_no", how="left")
        .with_columns(pl.col("_part").fill_null(0))
    )
    by_encounter = encounters.select("mdtrt_id", "_enc", "_part").collect(engine="streaming").lazy()
    keyed = {name: scan[name].join(part_of, on="psn_no") for name in _PERSON_TABLES}
    keyed |= {name: scan[name].join(by_encounter, on="mdtrt_id").drop("mdtrt_id") for name in _LINE_TABLES}
    keyed["mdtrt_d"] = encounters
    return keyed


def _part_of(psn: pl.LazyFrame, parts: int) -> pl.LazyFrame:
    """psn_no → ``_part``, the part of the person's household."""
    return psn.select("psn_no", (_HOUSEHOLD.hash(seed=7) % parts).cast(pl.Int64).alias("_part"))


def _scan_dataset(folder: Path) -> dict[str, pl.LazyFrame]:
    return {name: scan_table(folder, name, cols) for name, cols in INPUTS.items()}


def _scan_part(folder: Path, part: int, parts: int) -> dict[str, pl.LazyFrame]:
    """The tables of one part, picked from a scan of the whole dataset (for one part per worker)."""
    scan = _scan_dataset(folder)
    tables = {name: t.filter(pl.col("_part") == part).drop("_part") for name, t in _keyed(scan, parts).items()}
    return tables | {"fixmedins_b": scan["fixmedins_b"]}


def _split_parts(folder: Path, parts: int, into: Path) -> None:
    """Write the rows of each part apart (``into/<table>/_part=<k>/``), in one streaming pass over each
    table, for a region of more parts than workers: each part is then read from its own files instead
    of from a scan of every table for every part. A part without rows of a table gets an empty file.
    The files live as long as the year's settling, so they are written fast (LZ4, no statistics) rather
    than small."""
    for name, frame in _keyed(_scan_dataset(folder), parts).items():
        frame.sink_parquet(
            pl.PartitionBy(into / name, key="_part", include_key=False),
            mkdir=True,
            compression="lz4",
            statistics=False,
        )
        empty = pl.DataFrame(schema=frame.drop("_part").collect_schema())
        for part in range(parts):
            if not (files := into / name / f"_part={part}").is_dir():
                files.mkdir(parents=True)
                empty.write_parquet(files / "empty.parquet")


def _scan_split(folder: Path, into: Path, part: int) -> dict[str, pl.LazyFrame]:
    """The tables of one part written by :func:`_split_parts`."""
    tables = {
        name: pl.scan_parquet(into / name / f"_part={part}" / "*.parquet")
        for name in (*_PERSON_TABLES, "mdtrt_d", *_LINE_TABLES)
    }
    return tables | {"fixmedins_b": scan_table(folder, "fixmedins_b", INPUTS["fixmedins_b"])}


def _read_part(tables: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """The rows of one part, its encounters in ``mdtrt_d`` order with ``_row`` numbering them, and the fee
    lines and diagnoses with the ``_row`` of their encounter. The scans stream, so a worker holds its
    part and never a whole table."""
    frames = {name: t.collect(engine="streaming") for name, t in tables.items()}
    encounters = frames["mdtrt_d"].sort("_enc").with_row_index("_row")
    enc = encounters.get_column("_enc").to_numpy()
    for name in _LINE_TABLES:
        at = np.searchsorted(enc, frames[name].get_column("_enc").to_numpy())
        frames[name] = frames[name].with_columns(pl.Series("_row", at, dtype=pl.UInt32))
    frames["mdtrt_d"] = encounters
    return frames


def _year(folder: Path) -> tuple[int, int]:
    """(encounters, the year of care: the most common year of ``endtime``) of the dataset."""
    stats = (
        scan_table(folder, "mdtrt_d", ("endtime",))
        .select(pl.len().alias("n"), pl.col("endtime").dt.year().mode().min().alias("year"))
        .collect(engine="streaming")
    )
    n, year = stats.row(0)
    return int(n), int(year) if n else date.today().year


def _build(frames: dict[str, pl.DataFrame], year: int) -> _Data:
    """The Python structures the settlement loop walks, from one part's frames."""
    psn = frames["psn_info_b"]
    encounters = _encounters(frames["mdtrt_d"], psn, frames["fixmedins_b"])
    position = np.empty(encounters.height, dtype=np.int64)  # row in mdtrt_d → position in settling order
    position[encounters.get_column("_row").to_numpy()] = np.arange(encounters.height)
    fee = _at(frames["fee_list_d"], position)
    kinds, kind = _line_kinds(fee)
    at = fee.get_column("at").to_numpy()
    order = np.argsort(at, kind="stable")  # each encounter's lines together (in line order: see _line_order)
    starts = np.searchsorted(at[order], np.arange(encounters.height + 1))
    encounters = encounters.with_columns(pl.Series("start", starts[:-1]), pl.Series("end", starts[1:]))
    cols = ("psn_no", "gend", "insutype", "psn_type", "psn_idet_type", "mulaid_psn_no")
    persons = {r[0]: r[1:] for r in zip(*_columns(psn, *cols), strict=True)}
    return _Data(
        encounters,
        persons,
        _enrollments(frames["psn_insu_d"], year),
        _funds(psn, frames["contribution_d"], year),
        _diagnoses(_at(frames["setl_list_diag_d"], position), encounters.height),
        kinds,
        kind[order],
        fee.get_column("feedetl_sn").gather(order),
    )


def _at(df: pl.DataFrame, position: np.ndarray[Any, np.dtype[np.int64]]) -> pl.DataFrame:
    """``df`` with ``at``, the settling position of the encounter of each row (from its ``_row``)."""
    return df.with_columns(pl.Series("at", position[df.get_column("_row").to_numpy()]))


def _line_kinds(fee: pl.DataFrame) -> tuple[tuple[FeeLine, ...], np.ndarray[Any, np.dtype[np.int64]]]:
    """The distinct fee lines as FeeLines, and for each line of ``fee`` the index of its kind.

    Lines that differ only by feedetl_sn share one FeeLine, with feedetl_sn empty: the totals mode of
    the engine reads no line number (it names a bad line by its index), and a region bills the same
    item at the same price and count a great many times, so this builds a few thousand FeeLines
    instead of millions.
    """
    days = pl.when(pl.col("prd_days") > 0).then(pl.col("prd_days")).otherwise(0).alias("days")
    lines = fee.select("med_list_codg", "pric", "cnt", "det_item_fee_sumamt", days).with_row_index("line")
    distinct = lines.group_by(pl.exclude("line")).agg("line").with_row_index("kind")  # in any order
    kind = np.empty(fee.height, dtype=np.int64)
    of_line = distinct.select("kind", "line").explode("line")
    kind[of_line.get_column("line").to_numpy()] = of_line.get_column("kind").to_numpy()
    kinds = tuple(
        _new(FeeLine, ("", code, pric, cnt, amt, None, None, None, None, days or None))
        for _, code, pric, cnt, amt, days, _ in distinct.iter_rows()
    )
    return kinds, kind


def _diagnoses(diag: pl.DataFrame, encounters: int) -> list[tuple[str, ...]]:
    """The diagnosis codes of each encounter, by settling position, principal first."""
    diag = _sort(diag, "at", "maindiag_flag", descending=(False, True))
    at = diag.get_column("at").to_numpy()
    starts = np.searchsorted(at, np.arange(encounters + 1)).tolist()
    diag_codes = diag.get_column("diag_code").to_list()
    return [tuple(diag_codes[a:b]) for a, b in pairwise(starts)]


def _encounters(mdtrt: pl.DataFrame, psn: pl.DataFrame, inst: pl.DataFrame) -> pl.DataFrame:
    """The encounters by household, then time, with the coarse hospital level and the patient's age on
    the day; ``at`` numbers them in that order."""
    hosp_lv = {
        c: codes.coarse_hosp_lv(lv or None)
        for c, lv in zip(*_columns(inst, "fixmedins_code", "hosp_lv"), strict=True)
    }
    on = pl.col("endtime").dt.date()
    before_birthday = _month_day(on) < _month_day(pl.col("brdy"))
    frame = mdtrt.join(psn.select("psn_no", "brdy", "psn_type", "mulaid_psn_no"), on="psn_no", how="left")
    frame = _sort(frame.with_columns(_HOUSEHOLD.alias("household")), "household", "endtime", "mdtrt_id")
    return frame.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("at"),
        "_row",
        "mdtrt_id",
        "psn_no",
        "fixmedins_code",
        "med_type",
        "endtime",
        "insutype",
        "psn_type",
        pl.col("fixmedins_code")
        .replace_strict(hosp_lv, default="1", return_dtype=pl.String)
        .alias("hosp_lv"),
        on.alias("on"),
        (on.dt.year() - pl.col("brdy").dt.year() - before_birthday.cast(pl.Int64)).clip(0).alias("age"),
    )


def _month_day(day: pl.Expr) -> pl.Expr:
    return day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)  # Int8 parts would overflow


def _sort(df: pl.DataFrame, *by: str, descending: Sequence[bool] = ()) -> pl.DataFrame:
    """``df.sort(*by)``, ties in input order (see _order)."""
    return df[_order(df, *by, descending=descending)]


def _order(
    df: pl.DataFrame, *by: str, descending: Sequence[bool] = ()
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The rows of ``df`` sorted by ``by``, ties in input order: stable one-key sorts of the key columns
    alone, last key first — in Polars several times faster than one sort on several string keys."""
    order = descending or [False] * len(by)
    keys = df.select(*by).with_row_index("__row")
    for key, desc in zip(reversed(by), reversed(order), strict=True):
        keys = keys.sort(key, descending=desc, maintain_order=True)
    return keys.get_column("__row").to_numpy().astype(np.int64)


def _columns(df: pl.DataFrame, *names: str) -> list[list[Any]]:
    return [df.get_column(n).to_list() for n in names]


def _funds(psn: pl.DataFrame, contributions: pl.DataFrame, year: int) -> dict[str, tuple[int, ...]]:
    """Per person with an account: the balance on 1 January plus the credits of the months up to m, for
    m = 0…12, from the month of ``clct_month`` (a month below 1 counts from January, one above 12 never)."""
    months = [f"m{m}" for m in range(13)]
    month = pl.col("clct_month").str.slice(5, 2).cast(pl.Int64).clip(0, 13)
    credits = (
        contributions.filter((pl.col("to_account") != 0) & pl.col("clct_month").str.starts_with(str(year)))
        .group_by("psn_no", pl.format("m{}", month).alias("month"))
        .agg(pl.col("to_account").sum())
        .pivot(on="month", index="psn_no", values="to_account")
    )
    credit = [
        pl.col(m).fill_null(0) if m in credits.columns else pl.lit(0, pl.Int64).alias(m) for m in months
    ]
    table = (
        psn.select("psn_no", pl.col("acct_balc_begn").fill_null(0).alias("begin"))
        .join(credits, on="psn_no", how="left")
        .select("psn_no", "begin", *credit)
        .filter(pl.any_horizontal(pl.exclude("psn_no") != 0))
        .select("psn_no", pl.cum_sum_horizontal("begin", *months).alias("balance"))
        .unnest("balance")
    )
    balances = zip(*_columns(table, *months), strict=True)
    return dict(zip(table.get_column("psn_no").to_list(), balances, strict=True))


def _enrollments(insu: pl.DataFrame, year: int) -> dict[str, Enrollment]:
    """Enrolment history per person on ``year`` from psn_insu_d, as bit masks of years (memoised)."""
    lo = year - _HISTORY_YEARS
    first = pl.col("begndate").dt.year().cast(pl.Int64).clip(lo, year)
    last = pl.col("enddate").dt.year().cast(pl.Int64).fill_null(year).clip(lo, year)
    two = pl.lit(2, pl.Int64)
    years = pl.when(last >= first).then(two.pow(year - first + 1) - two.pow(year - last))  # bit k: year − k
    table = (
        insu.with_columns(years.alias("years"), (first.is_null() | (last >= first)).alias("counts"))
        .group_by("psn_no")
        .agg(
            pl.col("years").filter(pl.col("repaid") != "1").bitwise_or().alias("enrolled"),
            pl.col("years").filter(pl.col("repaid") == "1").bitwise_or().alias("repaid"),
            pl.col("years").filter(pl.col("zero_claim") == "1").bitwise_or().alias("zero_claim"),
            pl.col("in_window").sort_by("begndate", maintain_order=True).last(),  # of the latest enrolment
            pl.col("begndate").max(),
            pl.col("counts").any(),
        )
        .filter("counts")  # a person whose every period ends before it begins has no history
    )
    out: dict[str, Enrollment] = {}
    memo: dict[tuple[Any, ...], Enrollment] = {}
    for psn_no, enrolled, repaid, zero, window, begn in zip(
        *_columns(table, "psn_no", "enrolled", "repaid", "zero_claim", "in_window", "begndate"), strict=True
    ):
        enrolled_on = begn if begn is not None and begn.year == year else None
        key = (enrolled, repaid, zero, window != "0", enrolled_on)
        e = memo.get(key)
        if e is None:
            e = memo[key] = enrollment_from_years(
                year,
                enrolled=_years(year, enrolled),
                repaid=_years(year, repaid),
                zero_claim=_years(year, zero),
                in_window=window != "0",
                enrolled_on=enrolled_on,
            )
        out[psn_no] = e
    return out


def _years(year: int, mask: int | None) -> set[int]:
    """The years of a bit mask whose bit k stands for ``year − k``."""
    m = int(mask or 0)
    return {year - k for k in range(m.bit_length()) if m >> k & 1}


# ---------------------------------------------------------------------------------------------
# Settling
# ---------------------------------------------------------------------------------------------

_money_of = itemgetter(*_MONEY_AT)
_new = tuple.__new__


@dataclass
class _Settled:
    """The settled encounters of one part, column by column as they are settled."""

    at: list[int] = field(default_factory=list)  # position in _Data.encounters
    money: array[int] = field(default_factory=lambda: array("q"))  # SETLINFO_MONEY of each row, flat
    ratio_e4: list[int] = field(default_factory=list)  # pool_prop_selfpay in 1e-4
    insutype: list[str] = field(default_factory=list)
    clr_type: list[str] = field(default_factory=list)
    in_waves: int = 0  # of the rows, those the waves settled (they come first)


_LOOP_COLUMNS = ("mdtrt_id", "psn_no", "med_type", "on", "age", "insutype", "hosp_lv", "start", "end")


@dataclass
class _Presplit:
    """The line split of a part's bills, done before settling (see :func:`_presplit`)."""

    totals: np.ndarray[Any, np.dtype[np.int64]]  # per encounter: the split totals of its presplit lines
    restricted: list[int]  # the kinds of the lines the engine checks (限定支付 on the patient or the bill)
    starts: list[int]  # per encounter: where its restricted lines start in ``restricted`` (and one more)
    whole: list[bool]  # per encounter: a line's item is not in force, so the engine splits every line
    restricted_parts: np.ndarray[Any, np.dtype[np.int64]]  # per restricted line: its split when payable
    restriction_of: np.ndarray[Any, np.dtype[np.int64]]  # per restricted line: its item's 限定支付 in …
    restrictions: list[Restriction]  # … these, one per distinct split line


def _presplit(data: _Data, catalog: Catalog) -> _Presplit:
    """The line split of every bill of ``data``, vectorised: each distinct (line kind, hospital level,
    catalogue epoch) is split once through the engine's memo (:meth:`~yibao.settlement.engine.LineSplits.
    split`), and the splits of the lines whose 限定支付 check does not depend on the patient or the bill
    (:func:`~yibao.settlement.engine.payable_at_level`) are summed per bill with NumPy. The other
    restricted lines are left to the engine, which checks each against the patient and the bill; a bill
    with a line whose item is not in force goes to the engine whole, which names that line."""
    memo = line_splits(catalog)
    enc = data.encounters
    days = enc.get_column("on").to_list()
    epoch = np.searchsorted(
        np.array(memo.bounds, dtype="datetime64[D]"), enc.get_column("on").to_numpy(), side="right"
    )
    levels, level = np.unique(enc.get_column("hosp_lv").to_numpy().astype(str), return_inverse=True)
    starts = np.concatenate([enc.get_column("start").to_numpy(), enc.get_column("end").to_numpy()[-1:]])
    encounter_of = np.repeat(np.arange(enc.height), np.diff(starts))
    kind = data.kind_of_line
    combo = (kind * len(levels) + level[encounter_of]) * (int(epoch.max(initial=0)) + 1) + epoch[encounter_of]
    _, first, combo_of = np.unique(combo, return_index=True, return_inverse=True)
    parts = np.zeros((len(first), 4), dtype=np.int64)
    state = np.zeros(len(first), dtype=np.int8)  # 0 presplit, 1 checked by the engine, 2 not in force
    restrictions: list[Restriction] = []
    for j, line in enumerate(first.tolist()):
        e = int(encounter_of[line])
        split = memo.split(data.kinds[kind[line]], str(levels[level[e]]), days[e])
        if split is None:
            state[j] = 2
            restrictions.append(NO_RESTRICTION)
            continue
        restriction, parts[j] = split
        restrictions.append(restriction)
        payable = payable_at_level(restriction, str(levels[level[e]]))
        if payable is None:  # the engine checks it against the patient and the bill
            state[j] = 1
        elif not payable:  # a restriction of the hospital level alone, not met: all 全自费
            parts[j] = (data.kinds[kind[line]].det_item_fee_sumamt, 0, 0, 0)
    line_state = state[combo_of.reshape(-1)]
    line_parts = np.where((line_state == 0)[:, None], parts[combo_of.reshape(-1)], 0)
    sums = np.vstack([np.zeros((1, 4), dtype=np.int64), np.cumsum(line_parts, axis=0)])
    totals = sums[starts[1:]] - sums[starts[:-1]]
    restricted = line_state == 1
    before = np.concatenate([[0], np.cumsum(restricted)])
    whole = np.concatenate([[0], np.cumsum(line_state == 2)])
    return _Presplit(
        totals,
        kind[restricted].tolist(),
        before[starts].tolist(),
        (whole[starts[1:]] > whole[starts[:-1]]).tolist(),
        parts[combo_of.reshape(-1)[restricted]],
        combo_of.reshape(-1)[restricted],
        restrictions,
    )


def _settle(
    data: _Data, policy: Policy, catalog: Catalog, *, waves: bool = True
) -> tuple[_Settled, list[tuple[str, str]]]:
    """Settle every encounter of ``data``: the households the waves can take column-wise (see
    :mod:`~yibao.settlement.replay`; ``waves=False`` takes none), the others bill by bill with the
    engine, in household and time order. The settled rows and the failures."""
    split = _presplit(data, catalog)
    out = _Settled()
    left = np.arange(data.encounters.height)
    if waves and data.encounters.height:
        bills, at = _year_bills(data, split)
        replayed = replay(bills, policy)
        regular = np.flatnonzero(replayed.regular)
        out.at.extend(at[regular].tolist())
        out.money.frombytes(np.ascontiguousarray(replayed.money[regular]).tobytes())
        out.ratio_e4.extend(replayed.ratio_e4[regular].tolist())
        out.insutype.extend(bills.insutype[i] for i in regular.tolist())
        out.clr_type.extend(replayed.clr_type[i] for i in regular.tolist())
        left = np.setdiff1d(left, at[regular], assume_unique=True)
        out.in_waves = len(regular)
    failures = _settle_bill_by_bill(data, policy, catalog, split, left.tolist(), out)
    return out, failures


def _year_bills(data: _Data, split: _Presplit) -> tuple[YearBills, np.ndarray[Any, Any]]:
    """The bills of ``data`` the waves may settle, and their positions: those of known persons, with
    fee lines, in households without a line whose item is not in force (the engine names that line).
    Their split totals add to the presplit lines' those of the restricted lines, checked here."""
    enc = data.encounters
    psn_nos = list(data.persons)
    index = {psn_no: i for i, psn_no in enumerate(psn_nos)}
    rows = list(data.persons.values())
    gend, p_insutype, psn_type, idet, mulaid = (list(c) for c in zip(*rows, strict=True)) if rows else [[]] * 5
    households: dict[str, int] = {}
    household = np.array(
        [households.setdefault(m or p, len(households)) for p, m in zip(psn_nos, mulaid, strict=True)],
        dtype=np.int64,
    )
    person = np.array([index.get(p, -1) for p in enc.get_column("psn_no").to_list()], dtype=np.int64)
    start, end = enc.get_column("start").to_numpy(), enc.get_column("end").to_numpy()
    known = (person >= 0) & (start < end)
    whole = np.zeros(len(households) + 1, dtype=bool)
    whole[household[person[np.array(split.whole, dtype=bool) & known]]] = True
    at = np.flatnonzero(known & ~whole[np.where(person >= 0, household[np.maximum(person, 0)], -1)])
    person = person[at]
    columns = {c: enc.get_column(c).gather(at).to_list() for c in ("on", "med_type", "hosp_lv", "insutype")}
    age = enc.get_column("age").gather(at).to_numpy().astype(np.int64)
    insutype = [e or p_insutype[p] for e, p in zip(columns["insutype"], person.tolist(), strict=True)]
    strings = {c: np.array(columns[c], dtype=object) for c in ("med_type", "hosp_lv")}
    category = {i: codes.assistance_category(i or None) or "none" for i in set(idet)}
    distinct: dict[int, int] = {}
    enrollments = [data.enrollment.get(p, _NO_ENROLLMENT) for p in psn_nos]
    enrollment = np.array([distinct.setdefault(id(e), len(distinct)) for e in enrollments], dtype=np.int64)
    funds = np.zeros((len(psn_nos), 13), dtype=np.int64)
    for psn_no, credits in data.funds.items():
        if (i := index.get(psn_no)) is not None:
            funds[i] = credits
    totals = split.totals[at] + _restricted_totals(data, split, at, person, gend, columns, age)
    bills = YearBills(
        person=person,
        household=household[person],
        on=enc.get_column("on").gather(at).to_numpy(),
        med_type=strings["med_type"],
        hosp_lv=strings["hosp_lv"],
        insutype=np.array(insutype, dtype=object),
        age=age,
        split=totals,
        psn_type=psn_type,
        assistance=[category[i] for i in idet],
        enrollment=enrollment,
        enrollments=tuple({id(e): e for e in enrollments}.values()),
        holder=np.array([index.get(m, -1) if m else -1 for m in mulaid], dtype=np.int64),
        funds=funds,
    )
    return bills, at


def _restricted_totals(
    data: _Data,
    split: _Presplit,
    at: np.ndarray[Any, Any],
    person: np.ndarray[Any, Any],
    gend: list[str],
    columns: dict[str, list[Any]],
    age: np.ndarray[Any, Any],
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per bill ``at``: the split totals of its restricted lines, each checked against the patient and
    the bill as the engine checks it (a line that fails its 限定支付 check is all 全自费)."""
    starts = np.array(split.starts, dtype=np.int64)
    first, last = starts[at], starts[at + 1]
    count = last - first
    bill = np.repeat(np.arange(len(at)), count)
    lines = np.arange(len(bill)) + np.repeat(first - (np.cumsum(count) - count), count)
    kinds = np.array(split.restricted, dtype=np.int64)[lines]
    visits: dict[str, str | None] = {}
    for med_type in set(columns["med_type"]):
        try:
            visits[med_type] = codes.visit_kind(med_type)
        except ValueError:  # the waves leave the bill to the engine, which refuses it
            visits[med_type] = None
    days = np.array([-1 if k.days_supply is None else k.days_supply for k in data.kinds], dtype=np.int64)
    line_of_bill = LineColumns(
        gend=np.array(gend, dtype=object)[person][bill],
        age=age[bill],
        hosp_lv=np.array(columns["hosp_lv"], dtype=object)[bill],
        visit=np.array([visits[m] for m in columns["med_type"]], dtype=object)[bill],
        diagnoses=[data.diagnoses[i] for i in at[bill].tolist()],
        days=days[kinds],
    )
    failed = violated(split.restrictions, split.restriction_of[lines], line_of_bill)
    parts = split.restricted_parts[lines]
    amount = np.array([line.det_item_fee_sumamt for line in data.kinds], dtype=np.int64)[kinds]
    parts = np.where(failed[:, None], 0, parts)
    parts[:, 0] += np.where(failed, amount, 0)
    totals = np.zeros((len(at), 4), dtype=np.int64)
    np.add.at(totals, bill, parts)
    return totals


def _settle_bill_by_bill(
    data: _Data, policy: Policy, catalog: Catalog, split: _Presplit, positions: list[int], out: _Settled
) -> list[tuple[str, str]]:
    """Settle the encounters at ``positions`` (in settling order) one by one with the engine, adding
    the settled rows to ``out``; the failures."""
    failures: list[tuple[str, str]] = []
    ytd: dict[str, Accumulators] = {}
    spent: dict[str, int] = {}  # account payments so far, per account holder
    assistance: dict[str | None, str | None] = {}  # psn_idet_type → assistance category
    empty, no_enrollment = Accumulators(), _NO_ENROLLMENT
    persons, funds, enrollments = data.persons, data.funds, data.enrollment
    line_of_kind = data.kinds.__getitem__
    restricted, no_split = split.restricted, (0, 0, 0, 0)
    columns = _columns(data.encounters[positions], *_LOOP_COLUMNS)
    splits = zip(
        map(tuple, split.totals[positions].tolist()),
        [split.starts[i] for i in positions],
        [split.starts[i + 1] for i in positions],
        [split.whole[i] for i in positions],
        strict=True,
    )
    ratios: list[Ratio] = []
    for at, mdtrt_id, psn_no, med_type, on, age, insutype, hosp_lv, start, end, diagnoses, presplit_of in zip(
        positions, *columns, [data.diagnoses[i] for i in positions], splits, strict=True
    ):
        presplit, r0, r1, whole = presplit_of
        p = persons.get(psn_no)
        if p is None or start == end:
            failures.append((mdtrt_id, "unknown person" if p is None else "no fee lines"))
            continue
        gend, p_insutype, psn_type, idet, mulaid_no = p
        category = assistance.get(idet, _UNKNOWN)
        if category is _UNKNOWN:
            category = assistance[idet] = codes.assistance_category(idet or None)
        own = _balance(funds, spent, psn_no, on.month)
        mulaid = _balance(funds, spent, mulaid_no, on.month) if mulaid_no else 0
        enrollment = enrollments.get(psn_no, no_enrollment)
        # Person and Encounter fields in order (tuple.__new__: this is the hot loop)
        person = _new(Person, (p_insutype, psn_type, age, gend, category, enrollment, own, mulaid, psn_no))
        if whole:  # a line not in force: the engine splits every line, in line order, and names the bad one
            lines = tuple(map(line_of_kind, _line_order(data, start, end)))
            presplit = no_split
        else:  # the lines whose restriction (if any) depends on neither patient nor bill come presplit
            lines = tuple(map(line_of_kind, restricted[r0:r1]))
        bill = _new(Encounter, (med_type, hosp_lv, lines, diagnoses, insutype or None, True, None, 0))
        try:  # SettlementError, CodeError, PolicyError are ValueErrors: a bad record must not stop the year
            s = settle_totals(
                bill, person, ytd.get(psn_no, empty), policy, on, catalog=catalog, presplit=presplit
            )
        except ValueError as e:
            failures.append((mdtrt_id, str(e)))
            continue
        ytd[psn_no] = s.ytd
        own_paid = s.acct_pay - s.acct_mulaid_pay
        if own_paid:
            spent[psn_no] = spent.get(psn_no, 0) + own_paid
        if s.acct_mulaid_pay:
            spent[mulaid_no] = spent.get(mulaid_no, 0) + s.acct_mulaid_pay
        out.at.append(at)
        out.money.extend(_money_of(s))
        ratios.append(s.pool_prop_selfpay)
        out.insutype.append(s.insutype)
        out.clr_type.append(s.clr_type)
    out.ratio_e4.extend(_ten_thousandths(ratios).tolist())
    return failures


_UNKNOWN: Any = object()  # not yet looked up
_NO_ENROLLMENT = Enrollment()


def _line_order(data: _Data, start: int, end: int) -> list[int]:
    """The kinds of a bill's lines ``[start, end)`` in line order: by feedetl_sn, ties as read. Only a
    bill the engine splits whole needs it (its error names a line by index); the others' totals are sums."""
    numbers = data.feedetl_sn.slice(start, end - start).to_list()
    kinds = data.kind_of_line[start:end].tolist()
    def number(i: int) -> tuple[bool, str]:  # as Polars sorts: nulls first
        return numbers[i] is not None, numbers[i] or ""

    return [kinds[i] for i in sorted(range(len(kinds)), key=number)]


def _balance(funds: dict[str, tuple[int, ...]], spent: dict[str, int], psn_no: str, month: int) -> int:
    """Account balance in ``month``: 1 January balance + credits of months up to this one − spending so far."""
    f = funds.get(psn_no)
    return 0 if f is None else max(f[month] - spent.get(psn_no, 0), 0)


def _setl_table(data: _Data, rows: _Settled) -> pa.Table:
    """The setl_d rows of one part in the on-disk schema, by settlement time, with ``_setl_time``
    (setl_time before it is cut to seconds) to order the parts by."""
    enc = data.encounters.select(pl.all().gather(rows.at))
    money = np.frombuffer(rows.money, dtype=np.int64).reshape(-1, len(SETLINFO_MONEY))
    frame = pl.DataFrame(
        [
            ("S" + enc.get_column("mdtrt_id")).alias("setl_id"),
            *enc.select("mdtrt_id", "psn_no", "fixmedins_code", pl.col("endtime").alias("setl_time")),
            pl.Series("insutype", rows.insutype, dtype=pl.String),
            *enc.select("psn_type", "med_type"),
            pl.Series("clr_type", rows.clr_type, dtype=pl.String),
            enc.get_column("hosp_lv"),
            *(pl.Series(name, money[:, j]) for j, name in enumerate(SETLINFO_MONEY)),
            pl.Series("pool_prop_selfpay", rows.ratio_e4, dtype=pl.Int64),
            pl.Series("refd_setl_flag", ["0"] * len(rows.at), dtype=pl.String),
        ]
    )
    frame = frame.sort("setl_time", maintain_order=True)  # (nulls first) see write_setl
    return to_arrow(TABLES["setl_d"], frame).append_column(
        "_setl_time", frame.get_column("setl_time").to_arrow()
    )


def _ten_thousandths(ratios: list[Ratio]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Each ratio in units of 1e-4 (by the one rounding rule). The ratios are a few objects shared by
    many rows (a plan's bands), so each distinct object is converted once."""
    ids = np.fromiter(map(id, ratios), dtype=np.int64, count=len(ratios))
    _, first, row_of = np.unique(ids, return_index=True, return_inverse=True)
    values = [round_div(ratios[i].num * 10000, ratios[i].den) for i in first.tolist()]
    return np.array(values, dtype=np.int64)[row_of]


_Task = tuple[Path, "Path | None", str, "Catalog | None", int, int, int, Path, bool]
"""dataset, the folder of split parts (or None: read the dataset), region, catalogue, year, part, parts,
output file, waves (see _settle)."""


def _settle_part(task: _Task) -> tuple[Path, list[tuple[str, str]], int]:
    """One part in a worker process: read its rows, settle them, write its setl rows (Arrow IPC)."""
    folder, split, region, catalog, year, part, parts, out, waves = task
    tables = _scan_part(folder, part, parts) if split is None else _scan_split(folder, split, part)
    settled = _settle_tables(tables, year, load_region(region), catalog or default_catalog(), waves)
    write_setl_part(out, settled.rows)
    return out, settled.failures, settled.in_waves


def settle_frames(
    frames: dict[str, pl.DataFrame], *, year: int, policy: Policy, catalog: Catalog, waves: bool = True
) -> Settled:
    """Settle the households of in-memory tables that hold every one of their rows (the tables and
    columns settle-year reads, as :func:`yibao.dataset.io.read_table` gives them), to be written by
    :func:`write_setl`. A synthetic region's chunk is such a set — a
    relative's account holder is of the same chunk — so ``yibao synth`` settles each chunk in the worker
    that made it, and the file is the one ``settle_year`` writes."""
    lazy = {name: frames[name].lazy().select(columns) for name, columns in INPUTS.items()}
    keyed = {name: t.drop("_part") for name, t in _keyed(lazy, 1).items()}
    return _settle_tables(keyed | {"fixmedins_b": lazy["fixmedins_b"]}, year, policy, catalog, waves)


def _settle_tables(
    tables: dict[str, pl.LazyFrame], year: int, policy: Policy, catalog: Catalog, waves: bool
) -> Settled:
    with _no_gc():
        data = _build(_read_part(tables), year)
        rows, failures = _settle(data, policy, catalog, waves=waves)
    return Settled(_setl_table(data, rows), failures, rows.in_waves)


def write_ipc(path: Path | str, table: pa.Table) -> None:
    """An Arrow IPC file, uncompressed, for another process to map."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as ipc:
        ipc.write_table(table)


_DAY_US = 86_400_000_000
_NO_DAY = int(np.iinfo(np.int64).min)
"""The day of a settlement without a time (it comes before every other)."""


def write_setl_part(path: Path | str, rows: pa.Table) -> None:
    """One part's setl rows (in time order, as :class:`Settled` holds them) as an Arrow IPC file of one
    LZ4-compressed record batch per day of settlement, the days and their rows in its metadata, for
    :func:`write_setl` to read each slice's days of each part and nothing else.

    (Uncompressed parts read through a memory map were read again and again: a slice touches a little
    of every column of every part, and the disk's read-ahead (8 MB here) brings in far more. At
    10,000,000 persons, 29 GB of parts — decimal128 money — took half an hour to write out.)"""
    days = _days(rows)
    cuts = (np.flatnonzero(days[1:] != days[:-1]) + 1).tolist()
    starts, ends = ([0, *cuts], [*cuts, len(days)]) if len(days) else ([], [])
    meta = {"days": days[starts].tolist(), "rows": [b - a for a, b in zip(starts, ends, strict=True)]}
    schema = rows.schema.with_metadata({"yibao.setl_part": json.dumps(meta)})
    batches = rows.combine_chunks().to_batches()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema, options=options) as ipc:
        for a, b in zip(starts, ends, strict=True):
            ipc.write_batch(batches[0].slice(a, b - a))


def _days(rows: pa.Table) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The day (since 1970) of each row's ``_setl_time``, :data:`_NO_DAY` where it has none."""
    us = rows.column("_setl_time").cast(pa.timestamp("us")).cast(pa.int64())
    us = np.asarray(pc.fill_null(us, _NO_DAY).to_numpy(), dtype=np.int64)
    return np.where(us == _NO_DAY, _NO_DAY, us // _DAY_US)


def _part_days(path: Path | str) -> dict[int, tuple[int, int]]:
    """day → (record batch, rows) of a file of :func:`write_setl_part`."""
    with pa.OSFile(str(path)) as f:
        metadata = pa.ipc.open_file(f).schema.metadata or {}
    meta = json.loads(metadata[b"yibao.setl_part"])
    return {day: (i, n) for i, (day, n) in enumerate(zip(meta["days"], meta["rows"], strict=True))}


_WRITE_ROWS = 1_000_000
"""Rows of setl_d gathered and written at a time (at least, unless the year ends: whole days)."""


def write_setl(folder: Path, outputs: Sequence[Path | str]) -> int:
    """Write the parts' setl rows (files of :func:`write_setl_part`) as ``setl_d``, by settlement time
    then setl_id; the number of rows.

    The year goes in slices of whole days, a slice closed once it holds :data:`_WRITE_ROWS` rows (from
    the rows per day of all parts together, so the slices, and the file, do not depend on how the rows
    were divided into parts). A slice is read from every part — its days' record batches only — sorted
    and written while the next one is read in a thread (Arrow's reads, take and Parquet encoding run
    outside the GIL, so the end of the year uses two cores): memory holds two slices, whatever the size
    of the year (a region of 10,000,000 persons settles some 64 million encounters).
    """
    parts = [_part_days(p) for p in outputs]
    per_day: dict[int, int] = {}
    for have in parts:
        for day, (_, n) in have.items():
            per_day[day] = per_day.get(day, 0) + n
    slices: list[list[int]] = [[]]
    held = 0
    for day in sorted(per_day):
        if held >= _WRITE_ROWS:
            slices.append([])
            held = 0
        slices[-1].append(day)
        held += per_day[day]

    def gather(days: list[int]) -> pa.Table:
        batches: list[pa.RecordBatch] = []
        for path, have in zip(outputs, parts, strict=True):
            if mine := [have[d][0] for d in days if d in have]:
                with pa.OSFile(str(path)) as f:
                    reader = pa.ipc.open_file(f)
                    batches.extend(reader.get_batch(i) for i in mine)
        rows = pa.Table.from_batches(batches)
        order = pc.sort_indices(
            rows.select(["_setl_time", "setl_id"]),
            options=pc.SortOptions(
                [("_setl_time", "ascending", "at_start"), ("setl_id", "ascending", "at_start")]
            ),
        )  # as Polars sorts: nulls first
        return rows.take(order).drop_columns("_setl_time").replace_schema_metadata().combine_chunks()

    with TableWriter(folder, "setl_d") as writer, ThreadPoolExecutor(1) as gatherer:
        if per_day:
            ahead = gatherer.submit(gather, slices[0])
            for days in slices[1:]:
                taken, ahead = ahead, gatherer.submit(gather, days)
                writer.write_arrow(taken.result())
            writer.write_arrow(ahead.result())
        return writer.rows


@contextmanager
def _no_gc() -> Iterator[None]:
    """Without the cycle collector: building and settling a part makes millions of acyclic tuples, and
    scanning them as they come costs more than building them. Cycles made meanwhile are collected after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def settle_year(
    dataset: Path | str,
    *,
    region: str = "990100",
    workers: int = 2,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
    part_encounters: int = 400_000,
    waves: bool = True,
) -> YearResult:
    """Replay the dataset's encounters through the engine and write ``setl_d.parquet`` beside them.

    The households are split into parts of at most about ``part_encounters`` encounters, a multiple of
    the number of workers; each part is read and settled in a spawned worker process that holds only that
    part, so memory is bounded whatever the size of the region. With one part per worker each worker
    reads its households from the tables; with more, the tables are first written apart by part, in one
    streaming pass. The households are settled in waves (:mod:`~yibao.settlement.replay`) except those
    the waves leave to the engine; ``waves=False`` settles every bill with the engine, one by one — the
    same file, several times slower (a cross-check).
    """
    folder = Path(dataset)
    t0 = time.perf_counter()
    say = progress or (lambda stage, done, total: None)
    say("load", 0, 1)
    total, year = _year(folder)
    rounds = max(1, -(-total // (max(1, workers) * part_encounters)))
    parts = max(1, workers) * rounds  # a multiple of the workers, so no worker idles in the last round
    failures: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix=".settle-", dir=folder) as tmp:
        split = Path(tmp) / "parts" if parts > max(1, workers) else None
        if split is not None:  # several rounds: one pass over the tables rather than one per part
            _split_parts(folder, parts, split)
        say("load", 1, 1)
        say("settle", 0, parts)
        tasks: list[_Task] = [
            (folder, split, region, catalog, year, k, parts, Path(tmp) / f"setl{k:04d}.arrow", waves)
            for k in range(parts)
        ]
        outputs: list[Path] = []
        in_waves = 0
        if workers == 1:
            results: Iterator[tuple[Path, list[tuple[str, str]], int]] = map(_settle_part, tasks)
            pool = None
        else:
            pool = ProcessPoolExecutor(min(workers, parts), mp_context=multiprocessing.get_context("spawn"))
            results = pool.map(_settle_part, tasks)
        try:
            for done, (path, fails, waved) in enumerate(results, 1):
                outputs.append(path)
                failures.extend(fails)
                in_waves += waved
                say("settle", done, parts)
        finally:
            if pool is not None:
                pool.shutdown()
        settled = write_setl(folder, outputs)
    failures.sort()
    return YearResult(settled, total, len(failures), tuple(failures), time.perf_counter() - t0, in_waves)
