"""The synthetic-region pipeline: one function from arguments to a complete dataset folder.

``synthesize`` checks every argument before it writes anything, makes the region's institutions and
employers once, then makes the persons in chunks — persons → care → fraud — over a pool of worker
processes, and writes each chunk's tables (and ``labels.parquet``) as Parquet row groups **in chunk
order**, so the files are byte-identical whatever the number of workers. Each worker also settles the
chunk it made (:func:`_settle_chunk`), so the year's ``setl_d`` — the file
:func:`yibao.settlement.batch.settle_year` writes — is complete once the last chunk is in. Then comes
``manifest.json``: seed, scale, parameters, counts, the population and contribution figures against the
bulletin and the calibration report (:mod:`yibao.synth.report`).

Randomness: every stage draws from its own generator, ``default_rng([seed, k])`` for the region-wide
stages and ``default_rng([seed, chunk, k])`` for the chunk stages, with a fixed ``k`` per stage
(:data:`STAGES`). Nothing depends on dict or set order, the clock or the worker that ran a chunk.

Workers are started with the ``spawn`` method: a child made by ``fork`` after the parent has used Polars
inherits its thread pool without its threads and hangs on the first parallel operation (reproduced with
Polars 2.1 here). Tasks carry only a chunk index; the region (institutions, employers) reaches each
worker once, through the pool's initializer. A worker converts its chunk's tables to the on-disk schema
and encodes them as Parquet parts itself, in a hidden ``.parts-*`` folder of the output; the parent
appends the parts' row groups to the tables' files without encoding them again
(:mod:`yibao.dataset.parts`). Only psn_info_b comes as an uncompressed Arrow IPC file, which the parent
maps, to make the identity numbers unique across chunks before it encodes it.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "region"
>>> synthesize(persons=-5, seed=1, out=out)
Traceback (most recent call last):
...
yibao.synth.generate.SynthError: persons: must be a whole number between 1 and 100,000,000, got -5
>>> out.exists()
False
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from yibao.catalog.model import Catalog
from yibao.catalog.trace import CLEAN_CHUNKS
from yibao.dataset.io import TableWriter, from_arrow, to_arrow, write_table
from yibao.dataset.parts import PartsWriter, write_part
from yibao.dataset.schema import TABLES
from yibao.policy.loader import Policy, load_region
from yibao.settlement.batch import INPUTS, Settled, settle_frames, write_ipc, write_setl, write_setl_part
from yibao.synth import population
from yibao.synth.institutions import make_institutions
from yibao.synth.population import make_employers, make_persons, region_counts
from yibao.synth.report import FUND_COLUMNS, Cells, add_cells, frame_cells, report_from_cells
from yibao.synth.targets import TARGETS
from yibao.workers import worker_environment

__all__ = [
    "CARE_TABLES",
    "CHUNK_TABLES",
    "REGION_TABLES",
    "STAGES",
    "SUPPORTED_YEARS",
    "SynthError",
    "SynthSpec",
    "report_rows",
    "synthesize",
    "validate",
]

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stages "region", "persons", "setl_d"."""

SUPPORTED_YEARS = (2024,)
"""Years with calibration targets (yibao.synth.targets holds the 2024 bulletin only)."""

REGION_TABLES = ("fixmedins_b", "dept_b", "medstaff_b", "emp_b")
PERSON_TABLES = ("psn_info_b", "psn_insu_d", "contribution_d")
CARE_TABLES = ("mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d", "fee_list_d", "drug_trac_d")
CHUNK_TABLES = (*PERSON_TABLES, *CARE_TABLES)

STAGES = {"institutions": 1, "employers": 2, "persons": 11, "care": 12, "fraud": 13}
"""The fixed ``k`` of each stage's generator (see the module docstring)."""

MAX_PERSONS = 100_000_000
MAX_CHUNK_SIZE = 200_000
"""Largest chunk: memory (≈ 11 GB per worker) and the traceability serials (10⁶ codes per product per chunk)."""
DEFAULT_CHUNK_SIZE = 25_000
"""Persons per chunk by default: a worker needs about 1.3 GB for a chunk of 25,000 (5.5 GB for 100,000),
so two workers stay under 6 GB in all, whatever the region's size (measured: 1,000,000 persons, 3.4 GB while
generating; settle-year's own peak comes after)."""
MAX_FRAUD = 0.5
ADMDVS = "990100"
"""The demo pooling region (示范统筹区); its policy is policy_data/regions/990100."""

# bulletin income per insured person (yuan): fund income ÷ insured
EMPLOYEE_INCOME_PER_INSURED = 23732.47e8 / (TARGETS["insured.employees"].value * 1e4)
RESIDENT_INCOME_PER_INSURED = 11180.91e8 / (TARGETS["insured.residents"].value * 1e4)
DEATH_RATE = 0.00776
"""2024 crude death rate (7.76 ‰, national statistics), against which the region's deaths are shown."""


class SynthError(ValueError):
    """A bad argument or an unusable output folder, named; raised before anything is written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class SynthSpec:
    """The arguments that decide the data (the worker count and progress do not)."""

    persons: int
    seed: int
    year: int
    fraud: float
    chunk_size: int
    admdvs: str = ADMDVS

    @property
    def chunks(self) -> int:
        return math.ceil(self.persons / self.chunk_size)

    def chunk_range(self, index: int) -> tuple[int, int]:
        """(first sequence number, persons) of chunk ``index``."""
        first = index * self.chunk_size
        return first, min(self.chunk_size, self.persons - first)


class CareFn(Protocol):
    def __call__(
        self,
        rng: np.random.Generator,
        persons: pl.DataFrame,
        institutions: dict[str, pl.DataFrame],
        catalog: Catalog,
        *,
        year: int,
        chunk: int,
    ) -> dict[str, pl.DataFrame]: ...


class InjectFn(Protocol):
    def __call__(
        self,
        rng: np.random.Generator,
        tables: dict[str, pl.DataFrame],
        *,
        rate: float,
        catalog: Catalog,
        year: int,
        chunk: int,
        chunks: int,
    ) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]: ...


def _whole(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SynthError(name, f"must be a whole number, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f"of at least {low}" if high is None else f"between {low} and {high:,}"
        raise SynthError(name, f"must be a whole number {bound}, got {v}")
    return v


def validate(
    *, persons: object, seed: object, year: object, fraud: object, chunk_size: object, workers: object
) -> SynthSpec:
    """Check the arguments of :func:`synthesize`; :class:`SynthError` names the first bad one.

    >>> validate(persons=1000, seed=1, year=2023, fraud=0.02, chunk_size=100, workers=2)
    Traceback (most recent call last):
    ...
    yibao.synth.generate.SynthError: year: no calibration targets for 2023 (supported: 2024)
    """
    n = _whole("persons", persons, 1, MAX_PERSONS)
    s = _whole("seed", seed, 0)
    if isinstance(year, bool) or not isinstance(year, int | np.integer) or int(year) not in SUPPORTED_YEARS:
        supported = ", ".join(str(y) for y in SUPPORTED_YEARS)
        raise SynthError("year", f"no calibration targets for {year!r} (supported: {supported})")
    if isinstance(fraud, bool) or not isinstance(fraud, int | float) or not 0 <= float(fraud) <= MAX_FRAUD:
        raise SynthError("fraud", f"must be a share between 0 and {MAX_FRAUD}, got {fraud!r}")
    c = _whole("chunk_size", chunk_size, 1, MAX_CHUNK_SIZE)
    _whole("workers", workers, 1, 64)
    if math.ceil(n / c) > CLEAN_CHUNKS:
        raise SynthError(
            "chunk_size",
            f"{n:,} persons in chunks of {c:,} make {math.ceil(n / c):,} chunks; at most {CLEAN_CHUNKS} "
            f"(traceability serials are numbered per chunk): use chunks of at least {math.ceil(n / CLEAN_CHUNKS):,}",
        )
    return SynthSpec(n, s, int(year), float(fraud), c)


def _check_folder(out: object) -> Path:
    if not isinstance(out, str | os.PathLike):
        raise SynthError("out", f"must be a folder path, got {out!r}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise SynthError("out", f"{folder} exists and is not a folder")
    probe_at = folder
    while not probe_at.exists():  # the nearest existing ancestor must be writable
        probe_at = probe_at.parent
    if not os.access(probe_at, os.W_OK | os.X_OK):
        raise SynthError("out", f"{folder} is not writable ({probe_at} does not allow writing)")
    return folder


def _make_writable(folder: Path) -> None:
    """Create the folder, prove it writable, and remove the dataset files of an earlier run (only
    those: ``<table>.parquet`` / ``.csv`` of the schema, manifest.json and a left-over ``.parts-*``
    folder), so no stale table stays."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
        for name in (*(f"{t}{ext}" for t in TABLES for ext in (".parquet", ".csv")), "manifest.json"):
            (folder / name).unlink(missing_ok=True)
        for stale in folder.glob(".parts-*"):  # the chunk hand-over folder of a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
    except OSError as e:
        raise SynthError("out", f"{folder} is not writable ({e.strerror or e})") from None


def _default_stages() -> tuple[CareFn, InjectFn]:
    try:
        from yibao.synth.care import make_care
        from yibao.synth.fraud import inject
    except ImportError as e:  # pragma: no cover - only while a stage is missing
        raise SynthError("stages", f"a generator stage is missing: {e}") from None
    return make_care, inject


# ---------------------------------------------------------------------------------------------
# Chunks (run in the worker processes, or in-process with one worker)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    spec: SynthSpec
    institutions: dict[str, pl.DataFrame]
    employers: pl.DataFrame
    catalog: Catalog
    care: CareFn
    inject: InjectFn
    settle: bool = False
    """Settle each chunk where it is made (:func:`_settle_chunk`)."""


_REGION: list[_Region] = []


def _init_worker(region: _Region) -> None:
    _REGION[:] = [region]


def _chunk_rng(spec: SynthSpec, index: int, stage: str) -> np.random.Generator:
    return np.random.default_rng([spec.seed, index, STAGES[stage]])


CHUNK_GC_THRESHOLDS = (10_000, 20, 20)
"""Python's cyclic garbage collector while a chunk is made: a collection after 10,000 new objects (not
700), and of the older generations 20 times rarer. A chunk builds some millions of short-lived objects
(rows as dicts and tuples, ids, dates) that reference counting frees, and each full collection walks
every object alive. Measured on a chunk of 25,000 persons (CPU time in the collector): 0.30–0.38 s with
the defaults (700, 10, 10), 0.13 s with these; no output depends on when cycles are collected."""


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """:data:`CHUNK_GC_THRESHOLDS` inside the block, the thresholds as they were after it."""
    before = gc.get_threshold()
    gc.set_threshold(*CHUNK_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _run_chunk(index: int) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Persons → care → fraud for chunk ``index``: its tables, its labels and its figures (with the
    CPU seconds of each stage, ``cpu_s``)."""
    with _fewer_collections():
        return _make_chunk(index)


def _make_chunk(index: int) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    region = _REGION[0]
    spec = region.spec
    first, n = spec.chunk_range(index)
    cpu = _StageClock()
    tables = make_persons(
        _chunk_rng(spec, index, "persons"), n, chunk=index, first_seq=first, year=spec.year,
        employers=region.employers, admdvs=spec.admdvs,
    )  # fmt: skip
    cpu.lap("persons")
    care = region.care(
        _chunk_rng(spec, index, "care"), tables["psn_info_b"], region.institutions, region.catalog,
        year=spec.year, chunk=index,
    )  # fmt: skip
    cpu.lap("care")
    tables.update({name: care[name] for name in CARE_TABLES})
    everything = {**tables, **region.institutions, "emp_b": region.employers}
    injected, labels = region.inject(
        _chunk_rng(spec, index, "fraud"), everything, rate=spec.fraud, catalog=region.catalog,
        year=spec.year, chunk=index, chunks=spec.chunks,
    )  # fmt: skip
    cpu.lap("fraud")
    out = {name: injected[name] for name in CHUNK_TABLES}
    out["labels"] = labels
    return out, {**_chunk_figures(out, spec.year), "cpu_s": cpu.seconds}


class _StageClock:
    """CPU seconds of this process (all its threads) spent in each named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._at = time.process_time()

    def lap(self, stage: str) -> None:
        now = time.process_time()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._at
        self._at = now


def _chunk_figures(tables: dict[str, pl.DataFrame], year: int) -> dict[str, Any]:
    """Additive figures of a chunk for the manifest (summed over chunks by the parent)."""
    psn = tables["psn_info_b"]
    kinds = psn.group_by("psn_type").len().sort("psn_type")
    contrib = (
        tables["contribution_d"]
        .group_by("insutype", "clct_type")
        .agg(pl.col("amount").sum(), pl.col("to_account").sum(), pl.len())
        .sort("insutype", "clct_type")
    )
    return {
        "psn_type": dict(zip(kinds["psn_type"].to_list(), kinds["len"].to_list(), strict=True)),
        "psn_idet_type": dict(
            psn.filter(pl.col("psn_idet_type") != "")
            .group_by("psn_idet_type")
            .len()
            .sort("psn_idet_type")
            .iter_rows()
        ),
        "deaths": int(psn.get_column("death_date").is_not_null().sum()),
        "family_links": int((psn.get_column("mulaid_psn_no") != "").sum()),
        "account_begin_fen": int(psn.get_column("acct_balc_begn").sum()),
        "contributions": {f"{i}/{t}": [int(a), int(b), int(c)] for i, t, a, b, c in contrib.iter_rows()},
        "late_enrolment": int(
            tables["psn_insu_d"]
            .filter((pl.col("begndate").dt.year() == year) & (pl.col("in_window") == "0"))
            .height
        ),
    }


def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            add_cells(total, {key: value})
        else:
            total[key] = total.get(key, 0) + value


def _can_spawn() -> bool:
    """Spawned workers re-import the parent's main module: impossible for code read from stdin."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or Path(path).exists()


Result = tuple[dict[str, pa.Table], dict[str, str], str | None, dict[str, Any]]
"""A chunk as the parent gets it: the tables it changes (:data:`CHANGED_BY_PARENT`), mapped, in the
on-disk schema; the Parquet parts of the others; its setl rows' file (None without settlement); its
figures (with the settlement's failures)."""

CHANGED_BY_PARENT = frozenset({"psn_info_b"})
"""The tables the parent changes (identity numbers unique across chunks): handed over as Arrow IPC. The
others come as Parquet parts that the parent appends as they are."""


def _run_chunk_to_parts(index: int, parts: str) -> tuple[dict[str, str], dict[str, Any]]:
    """:func:`_run_chunk`, then each table converted to the on-disk schema and encoded here (in
    parallel, in a worker) and left in ``parts``: a Parquet part (:func:`~yibao.dataset.parts.
    write_part`), or an uncompressed Arrow IPC file the parent maps without a copy
    (:data:`CHANGED_BY_PARENT`). Measured on a chunk of 25,000 persons (CPU time): the Parquet parts
    cost the worker what the IPC files did (0.75 s; 25 MB written instead of 390), and the parent's
    encoding of them (0.9 s, serial) is gone. With settlement the chunk is then settled
    (:func:`_settle_chunk`). The chunk's calibration cells (:func:`yibao.synth.report.frame_cells`) go
    with its figures."""
    tables, figures = _run_chunk(index)
    cpu = _StageClock()
    region = _REGION[0]
    known = {"fixmedins_b": region.institutions["fixmedins_b"], "emp_b": region.employers}
    figures["calibration"] = frame_cells({**tables, **known}, catalog=region.catalog)
    cpu.lap("report")
    inputs = {name: tables[name].select(INPUTS[name]) for name in INPUTS if name in tables}
    paths: dict[str, str] = {}
    for name in list(tables):
        data = to_arrow(TABLES[name], tables.pop(name))
        if name in CHANGED_BY_PARENT:
            paths[name] = os.path.join(parts, f"{index:05d}-{name}.arrow")
            write_ipc(paths[name], data)
        else:
            paths[name] = os.path.join(parts, f"{index:05d}-{name}.parquet")
            write_part(paths[name], name, data)
    cpu.lap("hand_over")
    if region.settle:
        paths["setl_d"] = os.path.join(parts, f"{index:05d}-setl_d.arrow")
        settled = _settle_chunk(inputs, paths["setl_d"])
        figures["settle_failures"], figures["settled_in_waves"] = settled.failures, settled.in_waves
        cpu.lap("settle")
        setl = from_arrow(TABLES["setl_d"], settled.rows, FUND_COLUMNS)
        add_cells(figures["calibration"], frame_cells({"setl_d": setl}))
        cpu.lap("report")
    return paths, {**figures, "cpu_s": {**figures["cpu_s"], **cpu.seconds}}


def _settle_chunk(inputs: dict[str, pl.DataFrame], out: str) -> Settled:
    """Settle a chunk's encounters as ``yibao settle-year`` settles them (:func:`yibao.settlement.batch.
    settle_frames`; the households of a chunk are its own) and leave the setl rows in ``out``.
    ``inputs``: the columns the settlement reads (:data:`~yibao.settlement.batch.INPUTS`) of the chunk's
    frames, which are what :func:`~yibao.dataset.io.read_table` gives of them once written (a test
    holds the two years byte-identical), so they are not converted back from Arrow (0.3 CPU-s a chunk).
    Reading them back from the dataset and splitting them by household again would cost a third of the
    generation (measured at 1,000,000 persons: 90 s settle-year after 135 s of generation)."""
    region = _REGION[0]
    frames = {**inputs, "fixmedins_b": region.institutions["fixmedins_b"]}
    settled = settle_frames(
        frames, year=region.spec.year, policy=_policy(region.spec.admdvs), catalog=region.catalog
    )
    write_setl_part(out, settled.rows)
    return settled


@functools.cache
def _policy(admdvs: str) -> Policy:
    return load_region(admdvs)


def _read_parts(paths: dict[str, str]) -> tuple[dict[str, pa.Table], dict[str, str], str | None]:
    """The tables a worker left as Arrow, memory-mapped (the files are unlinked at once: the maps keep
    them); its Parquet parts; its setl rows' file, kept for the end of the year
    (:func:`~yibao.settlement.batch.write_setl`)."""
    mapped, parquet = {}, {}
    for name, path in paths.items():
        if name in CHANGED_BY_PARENT:
            mapped[name] = pa.ipc.open_file(pa.memory_map(path)).read_all()
            os.unlink(path)
        elif name != "setl_d":
            parquet[name] = path
    return mapped, parquet, paths.get("setl_d")


def _results(region: _Region, workers: int, parts: Path) -> Generator[Result, None, None]:
    """Chunk results in chunk order; at most ``workers + 1`` chunks in flight (bounded memory), their
    tables waiting in the folder ``parts``."""
    n = region.spec.chunks
    if workers == 1 or n == 1 or not _can_spawn():
        _init_worker(region)
        try:
            for i in range(n):
                paths, figures = _run_chunk_to_parts(i, str(parts))
                yield *_read_parts(paths), figures
        finally:
            _REGION.clear()
        return
    ctx = multiprocessing.get_context("spawn")
    processes = min(workers, n)
    with (
        worker_environment(processes),
        ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker, initargs=(region,)) as pool,
    ):
        pending: deque[Future[tuple[dict[str, str], dict[str, Any]]]] = deque()
        submitted = 0
        while submitted < n and len(pending) < workers + 1:
            pending.append(pool.submit(_run_chunk_to_parts, submitted, str(parts)))
            submitted += 1
        try:
            while pending:
                paths, figures = pending.popleft().result()
                if submitted < n:
                    pending.append(pool.submit(_run_chunk_to_parts, submitted, str(parts)))
                    submitted += 1
                yield *_read_parts(paths), figures
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------


def _certno_keys(psn: pa.Table) -> np.ndarray[Any, np.dtype[np.int64]]:
    first17 = pc.utf8_slice_codeunits(psn.column("certno"), 0, 17)
    return np.asarray(first17.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _unique_certnos(psn: pa.Table, taken: np.ndarray[Any, np.dtype[np.int64]]) -> tuple[pa.Table, Any]:
    """Identity numbers unique across chunks: a number already used by an earlier chunk moves to the
    next free sequence number (in chunk order, so the result does not depend on the workers)."""
    keys = _certno_keys(psn)
    fixed = population.dedupe_certno_keys(keys, taken)
    if not np.array_equal(fixed, keys):
        certno = population.certnos_from_keys(fixed).to_arrow().cast(pa.string())
        psn = psn.set_column(psn.schema.get_field_index("certno"), psn.schema.field("certno"), certno)
    fixed = np.sort(fixed)
    return psn, np.insert(taken, np.searchsorted(taken, fixed), fixed)  # a merge: a quarter of sorting both


def synthesize(
    *,
    persons: int,
    seed: int,
    out: Path,
    year: int = 2024,
    fraud: float = 0.02,
    report: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 2,
    progress: Progress | None = None,
    settle: bool = True,
    care: CareFn | None = None,
    inject: InjectFn | None = None,
) -> dict[str, Any]:
    """Write a synthetic region of ``persons`` insured to ``out`` and return its manifest.

    ``report`` adds the calibration rows to the returned manifest's ``report`` key for printing (they
    are in manifest.json in any case). ``settle=False`` skips the settlement of the year (setl_d),
    ``care`` / ``inject`` replace the care and fraud stages (both for tests and measurements).
    """
    spec = validate(
        persons=persons, seed=seed, year=year, fraud=fraud, chunk_size=chunk_size, workers=workers
    )
    folder = _check_folder(out)
    if care is None or inject is None:
        default_care, default_inject = _default_stages()
        care = care or default_care
        inject = inject or default_inject
    _make_writable(folder)
    say = progress or (lambda stage, done, total: None)
    t0, cpu0 = time.perf_counter(), _cpu_s()
    timings: dict[str, float] = {}

    from yibao.catalog.loader import default_catalog

    say("region", 0, 1)
    institutions = make_institutions(
        np.random.default_rng([spec.seed, STAGES["institutions"]]), spec.persons, spec.admdvs
    )
    employers = make_employers(
        np.random.default_rng([spec.seed, STAGES["employers"]]), spec.persons, spec.admdvs
    )
    counts: dict[str, int] = {}
    for name, frame in (*institutions.items(), ("emp_b", employers)):
        write_table(folder, name, frame)
        counts[name] = frame.height
    region = _Region(spec, institutions, employers, default_catalog(), care, inject, settle=settle)
    say("region", 1, 1)
    timings["region_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    figures: dict[str, Any] = {}
    writers = {name: TableWriter(folder, name) for name in CHANGED_BY_PARENT}
    appenders = {
        name: PartsWriter(folder, name) for name in (*CHUNK_TABLES, "labels") if name not in CHANGED_BY_PARENT
    }
    parts = Path(tempfile.mkdtemp(prefix=".parts-", dir=folder))
    setl_parts: list[str] = []
    failures: list[tuple[str, str]] = []
    taken = np.zeros(0, dtype=np.int64)
    cells: Cells = {}
    done = 0
    write_s = write_cpu_s = 0.0
    say("persons", 0, spec.persons)
    results = _results(region, workers, parts)
    try:
        try:
            for tables, parquet, setl, part in results:
                tw, cw = time.perf_counter(), time.process_time()
                if setl is not None:
                    setl_parts.append(setl)
                failures.extend(part.pop("settle_failures", ()))
                add_cells(cells, part.pop("calibration"))
                tables["psn_info_b"], taken = _unique_certnos(tables["psn_info_b"], taken)
                for name, data in tables.items():
                    writers[name].write_arrow(data)
                for name, path in parquet.items():
                    appenders[name].append(path)
                    os.unlink(path)
                _merge(figures, part)
                write_s += time.perf_counter() - tw
                write_cpu_s += time.process_time() - cw
                done += tables["psn_info_b"].num_rows
                del tables
                say("persons", done, spec.persons)
        finally:
            results.close()  # stops the workers before their hand-over folder goes
            for writer in writers.values():
                writer.close()
            for appender in appenders.values():
                appender.close()
        counts.update({name: w.rows for name, w in writers.items()})
        counts.update({name: w.rows for name, w in appenders.items()})
        timings["chunks_s"] = time.perf_counter() - t1  # with settle, the chunks' settlement included
        timings["write_s"] = write_s  # of chunks_s, the parent's own (serial) work: ids and Parquet
        timings["generate_cpu_s"] = _cpu_s() - cpu0  # region and chunks, parent and workers (all stopped now)
        stage_cpu_s = {stage: round(v, 2) for stage, v in figures.pop("cpu_s", {}).items()}
        if settle:
            t2 = time.perf_counter()
            say("setl_d", 0, 1)
            counts["setl_d"] = write_setl(folder, setl_parts)
            say("setl_d", 1, 1)
            timings["settle_write_s"] = time.perf_counter() - t2
    finally:
        shutil.rmtree(parts, ignore_errors=True)

    manifest: dict[str, Any] = {
        "generator": "yibao.synth",
        "seed": spec.seed,
        "scale": {"persons": spec.persons, "chunks": spec.chunks, "chunk_size": spec.chunk_size},
        "parameters": {k: v for k, v in asdict(spec).items() if k not in ("persons", "seed")},
        "counts": dict(sorted(counts.items())),
        "population": _population_report(spec, figures),
        "contributions": _contribution_report(spec, figures),
        # the report of the chunks' cells (what yibao.synth.report.calibration_report finds in the files,
        # made where the chunks were); the generator's calibration leaves the encounters labelled as
        # fraud out (injected stays and visits are not the bulletin's), the second keeps them
        "calibration": report_from_cells(cells, exclude_fraud=True),
        "calibration_with_fraud": report_from_cells(cells) if spec.fraud > 0 else None,
        "timings": {
            "workers": workers,
            **{k: round(v, 3) for k, v in timings.items()},
            "stage_cpu_s": {**stage_cpu_s, "write": round(write_cpu_s, 2)},
        },
    }
    if settle:
        waved = figures.pop("settled_in_waves", 0)
        manifest["settlement"] = _settlement(counts, sorted(failures), waved, stage_cpu_s.get("settle", 0.0))

    manifest["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
    generate_s = max(timings["chunks_s"] + timings["region_s"], 1e-9)
    manifest["timings"]["persons_per_s"] = round(spec.persons / generate_s)
    manifest["timings"]["fee_lines_per_s"] = round(counts.get("fee_list_d", 0) / generate_s)
    manifest["timings"]["fee_lines_per_cpu_s"] = round(  # the chunks' settlement left out
        counts.get("fee_list_d", 0) / max(timings["generate_cpu_s"] - stage_cpu_s.get("settle", 0.0), 1e-9)
    )
    _write_manifest(folder, manifest)
    if report:
        manifest["report"] = report_rows(manifest)
    return manifest


def _settlement(
    counts: dict[str, int], failures: list[tuple[str, str]], in_waves: int, cpu_s: float
) -> dict[str, Any]:
    """The manifest's account of the year's settlement, in the words of ``yibao settle-year``
    (:meth:`~yibao.settlement.batch.YearResult.as_dict`), its time as the chunks' CPU seconds."""
    encounters = counts.get("mdtrt_d", 0)
    return {
        "settlements": counts.get("setl_d", 0),
        "in_waves": in_waves,
        "encounters": encounters,
        "failed": len(failures),
        "first_failures": [{"mdtrt_id": m, "error": e} for m, e in failures[:20]],
        "cpu_s": round(cpu_s, 2),
        "encounters_per_cpu_s": round(encounters / cpu_s) if cpu_s else None,
    }


def report_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every generated-vs-target row of a manifest: the calibration report, then the population and
    contribution figures it does not have (deaths, fund income per insured)."""
    rows = list(manifest.get("calibration") or [])
    seen = {r.get("name") for r in rows}
    for section in ("population", "contributions"):
        rows.extend(r for r in manifest.get(section, {}).get("rows", []) if r["name"] not in seen)
    return rows


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its child processes that have ended: a
    measure of the generator's work that does not depend on how busy the machine is."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows: this process only
        return time.process_time()
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
    (folder / "manifest.json").write_text(text + "\n", encoding="utf-8")


def _row(
    name: str, generated: float, target: float, n: int, *, unit: str, mark: str, tolerance: float, source: str
) -> dict[str, Any]:
    """A row in the shape of yibao.synth.report's rows (deviation in percent), plus its source."""
    deviation = (generated / target - 1) * 100 if target else None
    return {
        "name": name,
        "target": round(target, 6),
        "generated": round(generated, 6),
        "deviation": None if deviation is None else round(deviation, 2),
        "within": None if deviation is None else abs(deviation) <= tolerance,
        "tolerance": tolerance,
        "mark": mark,
        "unit": unit,
        "n": n,
        "source": source,
    }


def _population_report(spec: SynthSpec, figures: dict[str, Any]) -> dict[str, Any]:
    types: dict[str, int] = figures.get("psn_type", {})
    in_service = sum(v for k, v in types.items() if k.startswith("11"))
    retired = sum(v for k, v in types.items() if k.startswith(("12", "13")))
    employees = in_service + retired
    residents = spec.persons - employees
    c = region_counts(spec.persons)
    t = TARGETS

    def bulletin(name: str, generated: float, n: int) -> dict[str, Any]:
        target = t[name]
        return _row(name, generated, target.value, n, unit=target.unit, mark=target.mark, tolerance=3.0,
                    source=target.source)  # fmt: skip

    rows = [
        bulletin("resident.share_of_insured", residents / spec.persons, spec.persons),
        bulletin("employee.in_service_per_retired", in_service / max(retired, 1), employees),
        bulletin("employee.share_enterprise", c.enterprise / max(c.employees, 1), c.employees),
        bulletin("employee.share_public", c.public / max(c.employees, 1), c.employees),
        bulletin("employee.share_flexible", c.flexible / max(c.employees, 1), c.employees),
        _row("deaths_per_insured", figures.get("deaths", 0) / spec.persons, DEATH_RATE, spec.persons,
             unit="share", mark="assumption", tolerance=15.0,
             source="2024 crude death rate 7.76‰ (national statistics); yibao's mortality table"),
    ]  # fmt: skip
    return {
        "employees": employees,
        "residents": residents,
        "in_service": in_service,
        "retired": retired,
        "psn_type": dict(sorted(types.items())),
        "psn_idet_type": dict(sorted(figures.get("psn_idet_type", {}).items())),
        "deaths": figures.get("deaths", 0),
        "family_links": figures.get("family_links", 0),
        "late_enrolment": figures.get("late_enrolment", 0),
        "account_balance_begin_per_employee_yuan": round(
            figures.get("account_begin_fen", 0) / 100 / max(employees, 1), 2
        ),
        "rows": rows,
    }


def _contribution_report(spec: SynthSpec, figures: dict[str, Any]) -> dict[str, Any]:
    """Fund income per insured against the bulletin (clct_type 6 is a transfer, not income)."""
    money: dict[str, list[int]] = figures.get("contributions", {})
    types: dict[str, int] = figures.get("psn_type", {})
    employees = sum(v for k, v in types.items() if k.startswith(("11", "12", "13")))
    residents = spec.persons - employees

    def income(insutype: str) -> int:
        return sum(v[0] for k, v in money.items() if k.startswith(f"{insutype}/") and not k.endswith("/6"))

    by_type = {
        k: {"amount_yuan": v[0] / 100, "to_account_yuan": v[1] / 100, "rows": v[2]}
        for k, v in sorted(money.items())
    }
    emp = income("310") / 100 / max(employees, 1)
    res = income("390") / 100 / max(residents, 1)
    return {
        "by_insutype_clct_type": by_type,
        "rows": [
            _row(
                "employee.fund_income_per_insured",
                emp,
                EMPLOYEE_INCOME_PER_INSURED,
                employees,
                unit="元",
                mark="derived",
                tolerance=15.0,
                source="statistics.md §1 B: 23732.47亿 ÷ 37948.34万 insured",
            ),
            _row(
                "resident.fund_income_per_insured",
                res,
                RESIDENT_INCOME_PER_INSURED,
                residents,
                unit="元",
                mark="derived",
                tolerance=15.0,
                source="statistics.md §1 B: 11180.91亿 ÷ 94713.73万 insured",
            ),
        ],
        "employee_income_ratio": round(emp / EMPLOYEE_INCOME_PER_INSURED, 4),
        "resident_income_ratio": round(res / RESIDENT_INCOME_PER_INSURED, 4),
    }
