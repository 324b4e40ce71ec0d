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
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
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


def _load(folder: Path, parts: int) -> _Data:
    cols = ("psn_no", "gend", "brdy", "insutype", "psn_type", "psn_idet_type", "acct_balc_begn", "mulaid_psn_no")
    psn = read_table(folder, "psn_info_b", cols)
    mdtrt = read_table(
        folder,
        "mdtrt_d",
        ["mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "insutype"],
    )
    year = int(mdtrt.get_column("endtime").dt.year().mode().sort()[0]) if mdtrt.height else date.today().year
    inst = read_table(folder, "fixmedins_b", ["fixmedins_code", "hosp_lv"])
    hosp_lv = {c: codes.coarse_hosp_lv(lv or None) for c, lv in zip(*_columns(inst, "fixmedins_code", "hosp_lv"), strict=True)}
    persons = {r[0]: r for r in zip(*_columns(psn, *cols), strict=True)}
    enrollment = _enrollments(read_table(folder, "psn_insu_d"), year)

    contrib = (
        read_table(folder, "contribution_d", ["psn_no", "clct_month", "to_account"])
        .filter((pl.col("to_account") != 0) & pl.col("clct_month").str.starts_with(str(year)))
        .sort("psn_no", "clct_month")
    )
    credits: dict[str, list[tuple[int, int]]] = {}
    for p, month, fen in zip(*_columns(contrib, "psn_no", "clct_month", "to_account"), strict=True):
        credits.setdefault(p, []).append((int(month[5:7]), fen))

    household = pl.when(pl.col("mulaid_psn_no").fill_null("") != "").then(pl.col("mulaid_psn_no"))
    frame = (
        mdtrt.join(psn.select("psn_no", "mulaid_psn_no"), on="psn_no", how="left")
        .with_columns(household.otherwise(pl.col("psn_no")).alias("household"))
        .with_columns((pl.col("household").hash(seed=7) % parts).cast(pl.Int64).alias("part"))
        .sort("household", "endtime", "mdtrt_id")
    )
    encounters = _columns(frame, "mdtrt_id", "psn_no", "fixmedins_code", "med_type", "endtime", "insutype", "part")

    diag_df = (
        read_table(folder, "setl_list_diag_d", ["mdtrt_id", "maindiag_flag", "diag_code"])
        .sort("mdtrt_id", "maindiag_flag", descending=[False, True])
        .group_by("mdtrt_id", maintain_order=True)
        .agg(pl.col("diag_code"))
    )
    diag = {m: tuple(c) for m, c in zip(*_columns(diag_df, "mdtrt_id", "diag_code"), strict=True)}

    fee = read_table(
        folder,
        "fee_list_d",
        ["feedetl_sn", "mdtrt_id", "med_list_codg", "pric", "cnt", "det_item_fee_sumamt", "prd_days"],
    ).sort("mdtrt_id", "feedetl_sn")
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
    last = insu.sort("psn_no", "begndate").group_by("psn_no", maintain_order=True).agg(
        pl.col("in_window").last(), pl.col("begndate").last()
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

_STATE: dict[str, Any] = {}


def _settle_part(part: int) -> tuple[dict[str, list[Any]], list[tuple[str, str]]]:
    """Settle the households of one part; return setl_d columns as plain lists, and the failures.

    Runs in a forked worker: only plain Python here (no Polars or Arrow calls, whose thread pools do not
    survive a fork).
    """
    data: _Data = _STATE["data"]
    policy: Policy = _STATE["policy"]
    catalog: Catalog = _STATE["catalog"]
    rows: dict[str, list[Any]] = {k: [] for k in ("setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "setl_time",
                                                   "insutype", "psn_type", "med_type", "clr_type", "hosp_lv",
                                                   *SETLINFO_MONEY, "pool_prop_selfpay")}  # fmt: skip
    money = [rows[k] for k in SETLINFO_MONEY]
    failures: list[tuple[str, str]] = []
    ytd: dict[str, Accumulators] = {}
    spent: dict[str, int] = {}
    empty = Accumulators()
    no_enrollment = Enrollment()
    for mdtrt_id, psn_no, inst, med_type, endtime, insutype, p_part in zip(*data.encounters, strict=True):
        if p_part != part:
            continue
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
        _tuple_new(FeeLine, t)
        for t in zip(sn, code, pric, cnt, amt, none, none, none, none, days, strict=False)
    )


_tuple_new = tuple.__new__


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


def settle_year(
    dataset: Path | str,
    *,
    region: str = "990100",
    workers: int = 2,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
) -> YearResult:
    """Replay the dataset's encounters through the engine and write ``setl_d.parquet`` beside them."""
    folder = Path(dataset)
    t0 = time.perf_counter()
    say = progress or (lambda stage, done, total: None)
    say("load", 0, 1)
    _STATE["data"] = data = _load(folder, max(1, workers))
    _STATE["policy"] = load_region(region)
    _STATE["catalog"] = catalog if catalog is not None else default_catalog()
    say("load", 1, 1)
    total = len(data.encounters[0])
    parts = max(1, workers)
    frames: list[pl.DataFrame] = []
    failures: list[tuple[str, str]] = []
    say("settle", 0, total)
    if parts == 1:
        results = [_settle_part(0)]
    else:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(parts, mp_context=ctx) as pool:
            results = list(pool.map(_settle_part, range(parts)))
    for rows, fails in results:
        frames.append(pl.DataFrame(rows, schema_overrides=_SETL_INT, strict=False))
        failures.extend(fails)
    setl = pl.concat(frames).sort("setl_time", "setl_id").with_columns(pl.lit("0").alias("refd_setl_flag"))
    say("settle", total, total)
    write_table(folder, "setl_d", setl)
    _STATE.clear()
    failures.sort()
    return YearResult(setl.height, total, len(failures), tuple(failures), time.perf_counter() - t0)
