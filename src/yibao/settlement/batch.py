"""Settle a dataset's year: every encounter through the benefit engine, in time order per person.

``settle_year(DATASET)`` reads the register (psn_info_b, psn_insu_d), the institutions, the encounters,
their diagnoses and fee lines and the contributions, and writes ``setl_d`` with every 2207 money field.
People are independent — except that 家庭共济 links a resident to an employee's personal account — so
the work is split by *household* (a person with the relatives whose account pays for them) over worker
processes; the output is sorted, so it is identical whatever the number of workers.

Per household the pipeline is: encounters by settlement time → person state on the day (age, category,
assistance, enrolment, account balance = 1 January balance + credits so far − account payments so far)
→ ``settle`` → year-to-date accumulators carried to the next bill.

>>> from yibao.settlement.batch import enrollment_from_years
>>> enrollment_from_years(2025, enrolled={2019, 2020, 2023, 2024, 2025}, repaid={2022}, zero_claim={2023})
Enrollment(continuous_years=3, zero_claim_years=1, break_years=2, repaid_years=1, in_window=True, prior_continuous_years=(2,), enrolled_on=None)
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any

import polars as pl

from yibao import codes
from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog
from yibao.dataset.io import read_table, write_table
from yibao.dataset.schema import SETLINFO_MONEY
from yibao.money import round_div
from yibao.policy.loader import Policy, load_region
from yibao.settlement.engine import settle
from yibao.settlement.model import Accumulators, Encounter, Enrollment, FeeLine, Person, Settlement

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances."""

_HISTORY_YEARS = 16
_MONEY_AT = tuple(Settlement._fields.index(name) for name in SETLINFO_MONEY)
_SETL_INT = {name: pl.Int64 for name in (*SETLINFO_MONEY, "pool_prop_selfpay")}


@dataclass(frozen=True)
class YearResult:
    """What settle_year did: counts, the encounters it could not settle (with reasons) and timings."""

    settlements: int
    encounters: int
    failed: int
    failures: tuple[tuple[str, str], ...]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "settlements": self.settlements,
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
# Loading
# ---------------------------------------------------------------------------------------------


@dataclass
class _Data:
    persons: dict[str, tuple[Any, ...]]
    enrollment: dict[str, Enrollment]
    credits: dict[str, list[tuple[int, int]]]  # psn_no → [(month, fen)], sorted
    encounters: list[
        list[Any]
    ]  # columns: mdtrt_id, psn_no, fixmedins_code, med_type, endtime, insutype, part
    diag: dict[str, tuple[str, ...]]
    lines: dict[str, tuple[int, int]]  # mdtrt_id → [start, end) in fee_columns
    fee_columns: tuple[list[Any], ...]  # feedetl_sn, med_list_codg, pric, cnt, det_item_fee_sumamt, prd_days
    hosp_lv: dict[str, str]
    year: int


def _columns(df: pl.DataFrame, *names: str) -> list[list[Any]]:
    return [df.get_column(n).to_list() for n in names]


_INPUTS: dict[str, tuple[str, ...]] = {
    "psn_info_b": (
        "psn_no",
        "gend",
        "brdy",
        "insutype",
        "psn_type",
        "psn_idet_type",
        "acct_balc_begn",
        "mulaid_psn_no",
    ),
    "psn_insu_d": ("psn_no", "insutype", "begndate", "enddate", "in_window", "repaid", "zero_claim"),
    "fixmedins_b": ("fixmedins_code", "hosp_lv"),
    "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "insutype"),
    "setl_list_diag_d": ("mdtrt_id", "maindiag_flag", "diag_code"),
    "fee_list_d": (
        "feedetl_sn",
        "mdtrt_id",
        "med_list_codg",
        "pric",
        "cnt",
        "det_item_fee_sumamt",
        "prd_days",
    ),
    "contribution_d": ("psn_no", "clct_month", "to_account"),
}
"""The columns settle-year reads from each table."""


def _read(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: read_table(folder, name, cols) for name, cols in _INPUTS.items()}


def _partition(frames: dict[str, pl.DataFrame], parts: int) -> list[dict[str, pl.DataFrame]]:
    """Split the inputs by household (a person, or the employee whose account pays for them) into parts."""
    psn = frames["psn_info_b"]
    household = pl.when(pl.col("mulaid_psn_no").fill_null("") != "").then(pl.col("mulaid_psn_no"))
    part_of = psn.select(
        "psn_no", (household.otherwise(pl.col("psn_no")).hash(seed=7) % parts).cast(pl.Int64).alias("_part")
    )
    enc = frames["mdtrt_d"].join(part_of, on="psn_no", how="left").with_columns(pl.col("_part").fill_null(0))
    by_encounter = enc.select("mdtrt_id", "_part")
    keyed = {
        "psn_info_b": psn.join(part_of, on="psn_no"),
        "psn_insu_d": frames["psn_insu_d"].join(part_of, on="psn_no"),
        "mdtrt_d": enc,
        "setl_list_diag_d": frames["setl_list_diag_d"].join(by_encounter, on="mdtrt_id"),
        "fee_list_d": frames["fee_list_d"].join(by_encounter, on="mdtrt_id"),
        "contribution_d": frames["contribution_d"].join(part_of, on="psn_no"),
    }
    split = {name: df.partition_by("_part", as_dict=True, include_key=False) for name, df in keyed.items()}
    out = []
    for k in range(parts):
        part = {name: split[name].get((k,), frames[name].clear()) for name in keyed}
        part["fixmedins_b"] = frames["fixmedins_b"]
        out.append(part)
    return out


def _year(mdtrt: pl.DataFrame) -> int:
    return int(mdtrt.get_column("endtime").dt.year().mode().sort()[0]) if mdtrt.height else date.today().year


def _build(frames: dict[str, pl.DataFrame], year: int) -> _Data:
    """The Python structures the settlement loop walks, from one part's frames."""
    cols = _INPUTS["psn_info_b"]
    psn = frames["psn_info_b"]
    inst = frames["fixmedins_b"]
    hosp_lv = {
        c: codes.coarse_hosp_lv(lv or None)
        for c, lv in zip(*_columns(inst, "fixmedins_code", "hosp_lv"), strict=True)
    }
    persons = {r[0]: r for r in zip(*_columns(psn, *cols), strict=True)}
    enrollment = _enrollments(frames["psn_insu_d"], year)

    contrib = (
        frames["contribution_d"]
        .filter((pl.col("to_account") != 0) & pl.col("clct_month").str.starts_with(str(year)))
        .sort("psn_no", "clct_month")
    )
    credits: dict[str, list[tuple[int, int]]] = {}
    for p, month, fen in zip(*_columns(contrib, "psn_no", "clct_month", "to_account"), strict=True):
        credits.setdefault(p, []).append((int(month[5:7]), fen))

    household = pl.when(pl.col("mulaid_psn_no").fill_null("") != "").then(pl.col("mulaid_psn_no"))
    frame = (
        frames["mdtrt_d"]
        .join(psn.select("psn_no", "mulaid_psn_no"), on="psn_no", how="left")
        .with_columns(household.otherwise(pl.col("psn_no")).alias("household"))
        .sort("household", "endtime", "mdtrt_id")
    )
    encounters = _columns(frame, "mdtrt_id", "psn_no", "fixmedins_code", "med_type", "endtime", "insutype")

    diag_df = (
        frames["setl_list_diag_d"]
        .sort("mdtrt_id", "maindiag_flag", descending=[False, True])
        .group_by("mdtrt_id", maintain_order=True)
        .agg(pl.col("diag_code"))
    )
    diag = {m: tuple(c) for m, c in zip(*_columns(diag_df, "mdtrt_id", "diag_code"), strict=True)}

    fee = frames["fee_list_d"].sort("mdtrt_id", "feedetl_sn")
    spans = (
        fee.with_row_index("at")
        .group_by("mdtrt_id")
        .agg(pl.col("at").first().alias("start"), pl.len().alias("n"))
        .with_columns((pl.col("start") + pl.col("n")).alias("end"))
    )
    lines = {m: (a, b) for m, a, b in zip(*_columns(spans, "mdtrt_id", "start", "end"), strict=True)}
    fee_columns = (
        *_columns(fee, "feedetl_sn", "med_list_codg", "pric", "cnt", "det_item_fee_sumamt"),
        fee.select(pl.when(pl.col("prd_days") > 0).then(pl.col("prd_days"))).to_series().to_list(),
    )
    return _Data(persons, enrollment, credits, encounters, diag, lines, tuple(fee_columns), hosp_lv, year)


def _enrollments(insu: pl.DataFrame, year: int) -> dict[str, Enrollment]:
    """Enrolment history per person on ``year`` from psn_insu_d, as bit masks of years (memoised)."""
    lo = year - _HISTORY_YEARS
    years = (
        insu.with_columns(
            pl.int_ranges(
                pl.col("begndate").dt.year().clip(lo, year),
                pl.col("enddate").dt.year().fill_null(year).clip(lo, year) + 1,
            ).alias("y")
        )
        .explode("y")
        .with_columns(pl.lit(2, pl.Int64).pow(pl.lit(year) - pl.col("y")).cast(pl.Int64).alias("bit"))
    )
    masks = years.group_by("psn_no").agg(
        pl.col("bit").filter(pl.col("repaid") != "1").unique().sum().alias("enrolled"),
        pl.col("bit").filter(pl.col("repaid") == "1").unique().sum().alias("repaid"),
        pl.col("bit").filter(pl.col("zero_claim") == "1").unique().sum().alias("zero_claim"),
    )
    last = (
        insu.sort("psn_no", "begndate")
        .group_by("psn_no", maintain_order=True)
        .agg(pl.col("in_window").last(), pl.col("begndate").last())
    )
    table = masks.join(last, on="psn_no", how="left")
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


def _settle(
    data: _Data, policy: Policy, catalog: Catalog
) -> tuple[dict[str, list[Any]], list[tuple[str, str]]]:
    """Settle every encounter of ``data`` in household and time order; setl_d columns and failures."""
    rows: dict[str, list[Any]] = {k: [] for k in ("setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "setl_time",
                                                   "insutype", "psn_type", "med_type", "clr_type", "hosp_lv",
                                                   *SETLINFO_MONEY, "pool_prop_selfpay")}  # fmt: skip
    money = [rows[k] for k in SETLINFO_MONEY]
    failures: list[tuple[str, str]] = []
    ytd: dict[str, Accumulators] = {}
    spent: dict[str, int] = {}
    empty = Accumulators()
    no_enrollment = Enrollment()
    for mdtrt_id, psn_no, inst, med_type, endtime, insutype in zip(*data.encounters, strict=True):
        p = data.persons.get(psn_no)
        span = data.lines.get(mdtrt_id)
        if p is None or span is None:
            failures.append((mdtrt_id, "unknown person" if p is None else "no fee lines"))
            continue
        lines = _fee_lines(data.fee_columns, *span)
        _, gend, brdy, p_insutype, psn_type, idet, _balc_begn, mulaid_no = p
        on: date = endtime.date() if isinstance(endtime, datetime) else endtime
        age = on.year - brdy.year - ((on.month, on.day) < (brdy.month, brdy.day))
        own = _balance(data, psn_no, on, spent)
        mulaid = _balance(data, mulaid_no, on, spent) if mulaid_no else 0
        person = Person(
            p_insutype,
            psn_type,
            max(age, 0),
            gend,
            codes.assistance_category(idet or None),
            data.enrollment.get(psn_no, no_enrollment),
            own,
            mulaid,
            psn_no,
        )
        encounter = Encounter(
            med_type, data.hosp_lv.get(inst, "1"), lines, data.diag.get(mdtrt_id, ()), insutype or None, True
        )
        try:
            s = settle(encounter, person, ytd.get(psn_no, empty), policy, on, catalog=catalog)
        except (
            ValueError
        ) as e:  # SettlementError, CodeError, PolicyError: a bad record must not stop the year
            failures.append((mdtrt_id, str(e)))
            continue
        ytd[psn_no] = s.ytd
        own_paid = s.acct_pay - s.acct_mulaid_pay
        if own_paid:
            spent[psn_no] = spent.get(psn_no, 0) + own_paid
        if s.acct_mulaid_pay:
            spent[mulaid_no] = spent.get(mulaid_no, 0) + s.acct_mulaid_pay
        rows["setl_id"].append("S" + mdtrt_id)
        rows["mdtrt_id"].append(mdtrt_id)
        rows["psn_no"].append(psn_no)
        rows["fixmedins_code"].append(inst)
        rows["setl_time"].append(endtime)
        rows["insutype"].append(s.insutype)
        rows["psn_type"].append(psn_type)
        rows["med_type"].append(med_type)
        rows["clr_type"].append(s.clr_type)
        rows["hosp_lv"].append(encounter.hosp_lv)
        for col, at in zip(money, _MONEY_AT, strict=True):
            col.append(s[at])
        r = s.pool_prop_selfpay
        rows["pool_prop_selfpay"].append(round_div(r.num * 10000, r.den))
    return rows, failures


def _fee_lines(columns: tuple[list[Any], ...], start: int, end: int) -> tuple[FeeLine, ...]:
    """FeeLines of one encounter from the fee columns (built with tuple.__new__: this is the hot loop)."""
    sn, code, pric, cnt, amt, days = (c[start:end] for c in columns)
    none = repeat(None)
    return tuple(
        map(_new_fee_line, zip(sn, code, pric, cnt, amt, none, none, none, none, days, strict=False))
    )


_new_fee_line = partial(tuple.__new__, FeeLine)


def _balance(data: _Data, psn_no: str, on: date, spent: dict[str, int]) -> int:
    """Account balance on ``on``: 1 January balance + credits of months up to this one − spending so far."""
    p = data.persons.get(psn_no)
    if p is None:
        return 0
    balance = int(p[6] or 0) - spent.get(psn_no, 0)
    for month, fen in data.credits.get(psn_no, ()):
        if month > on.month:
            break
        balance += fen
    return max(balance, 0)


_Task = tuple[Path, str, "Catalog | None", int]


def _settle_part(task: _Task) -> tuple[Path, list[tuple[str, str]]]:
    """One part in a worker process: read its frames, settle them, write its setl rows (Arrow IPC)."""
    folder, region, catalog, year = task
    frames = {name: pl.read_ipc(folder / f"{name}.arrow") for name in _INPUTS}
    data = _build(frames, year)
    del frames
    rows, failures = _settle(data, load_region(region), catalog if catalog is not None else default_catalog())
    out = folder / "setl.arrow"
    pl.DataFrame(rows, schema_overrides=_SETL_INT, strict=False).write_ipc(out)
    return out, failures


def settle_year(
    dataset: Path | str,
    *,
    region: str = "990100",
    workers: int = 2,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
    part_encounters: int = 400_000,
) -> YearResult:
    """Replay the dataset's encounters through the engine and write ``setl_d.parquet`` beside them.

    The households are split into parts of at most about ``part_encounters`` encounters, a multiple of
    the number of workers; each part is settled in a spawned worker process that holds only that part, so memory is
    bounded whatever the size of the region.
    """
    folder = Path(dataset)
    t0 = time.perf_counter()
    say = progress or (lambda stage, done, total: None)
    say("load", 0, 1)
    frames = _read(folder)
    total = frames["mdtrt_d"].height
    year = _year(frames["mdtrt_d"])
    rounds = max(1, -(-total // (max(1, workers) * part_encounters)))
    parts = max(1, workers) * rounds  # a multiple of the workers, so no worker idles in the last round
    failures: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix=".settle-", dir=folder) as tmp:
        tasks: list[_Task] = []
        for k, part in enumerate(_partition(frames, parts)):
            d = Path(tmp) / f"part{k:04d}"
            d.mkdir()
            for name, df in part.items():
                df.write_ipc(d / f"{name}.arrow")
            tasks.append((d, region, catalog, year))
        del frames
        say("load", 1, 1)
        say("settle", 0, parts)
        outputs: list[Path] = []
        if workers == 1:
            results: Iterator[tuple[Path, list[tuple[str, str]]]] = map(_settle_part, tasks)
            pool = None
        else:
            pool = ProcessPoolExecutor(min(workers, parts), mp_context=multiprocessing.get_context("spawn"))
            results = pool.map(_settle_part, tasks)
        try:
            for done, (path, fails) in enumerate(results, 1):
                outputs.append(path)
                failures.extend(fails)
                say("settle", done, parts)
        finally:
            if pool is not None:
                pool.shutdown()
        setl = (
            pl.concat([pl.read_ipc(p) for p in outputs])
            .sort("setl_time", "setl_id")
            .with_columns(pl.lit("0").alias("refd_setl_flag"))
        )
    write_table(folder, "setl_d", setl)
    failures.sort()
    return YearResult(setl.height, total, len(failures), tuple(failures), time.perf_counter() - t0)
