"""The batch audit (事后审核): every post-event rule of the library and every model over one dataset.

:func:`audit` opens a DuckDB connection (``threads`` and ``memory_limit`` set, 2 and 5 GB by default),
registers each table of the dataset folder as a view named like the table, runs the rules and the
models, deduplicates their findings, writes ``out/findings.parquet`` (dataset table ``findings``) and
the HTML summary, and returns an :class:`AuditResult` that lists what ran, what was skipped and why.

**The views** (the contract with the rule kinds' ``batch(con, rule, kb)``): fee_list_d, mdtrt_d,
psn_info_b, psn_insu_d, fixmedins_b, dept_b, medstaff_b, emp_b, setl_list_diag_d, setl_list_oprn_d,
drug_trac_d, setl_d, contribution_d — every column of :mod:`yibao.dataset.schema` the file has, in the
in-memory kinds of :mod:`yibao.dataset.io`: money as BIGINT fen (``CAST(x * 100 AS BIGINT)`` over the
DECIMAL(16,2) on disk: exact), counts as BIGINT 1e-4 units, prices as BIGINT 1e-6 yuan, ratios as
BIGINT 1e-4, dates as DATE, datetimes as TIMESTAMP, codes as VARCHAR. The labels of a synthetic dataset
are never registered: detectors cannot see them.

**Bad input.** A missing folder raises :class:`~yibao.dataset.io.DatasetError`. A missing table or
column, or a money column that is not exact (floating point, more decimals than its kind), is named in
``AuditResult.problems`` and left out of the views; each rule or model that needs it is *skipped* and
listed with the reason — never silently passed. A rule whose query fails for another reason is listed
as *failed*.

**Portability.** The views and the models' queries are ANSI SQL except for the few DuckDB functions
wrapped in :mod:`yibao.supervision.models._common` (``date_diff``, ``string_agg … ORDER BY``);
``read_parquet``/``read_csv`` here are DuckDB's table functions (Spark: ``spark.read.parquet`` then
``createOrReplaceTempView``); ``md5`` and ``concat_ws`` exist in both.

>>> import tempfile, pathlib
>>> audit(pathlib.Path(tempfile.mkdtemp()) / "nowhere", pathlib.Path(tempfile.mkdtemp()))
Traceback (most recent call last):
...
yibao.dataset.io.DatasetError: ...nowhere: no such dataset folder
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import polars as pl

from yibao.dataset.io import DatasetError, write_table
from yibao.dataset.schema import SCALE, TABLES
from yibao.supervision.models import MODELS, Model
from yibao.supervision.models._common import ENTITY_COLUMNS, FINDING_SCHEMA

__all__ = [
    "DATASET_TABLES",
    "AuditResult",
    "Check",
    "Progress",
    "Registration",
    "audit",
    "connect",
    "finish",
    "register_dataset",
    "register_frames",
    "run_model",
]

Progress = Callable[[str, int, int], None]
"""progress(message, done, total): one call per rule or model, with its outcome and timing."""

DATASET_TABLES = tuple(t for t in TABLES if t not in ("findings", "labels"))
"""The tables an audit registers (labels never: detectors must work on real data)."""

_RESULT_SEV = {"明确违规": "1", "可疑": "2", "提示": "3", "1": "1", "2": "2", "3": "3"}
_SQL_TYPE = {"int": "BIGINT", "float": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP", "str": "VARCHAR"}


@dataclass(frozen=True, slots=True)
class Check:
    """What happened to one rule or model: ran (with its findings and time), skipped or failed (why)."""

    id: str
    name: str
    pattern: str
    source: str  # "rule" or "model"
    status: str  # "ran", "skipped" or "failed"
    findings: int = 0
    seconds: float = 0.0
    reason: str = ""
    cpu_seconds: float = 0.0
    """CPU time of the process (all threads) while it ran: the figure that holds on a busy machine."""


@dataclass(frozen=True, slots=True)
class Registration:
    """The dataset as the views see it: the columns of each registered table, and what is missing."""

    columns: Mapping[str, tuple[str, ...]]
    missing_tables: tuple[str, ...] = ()
    missing_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def lacks(self, needs: Mapping[str, Iterable[str]]) -> list[str]:
        """The ``table.column`` entries of ``needs`` the views do not have (whole tables as ``table``)."""
        out: list[str] = []
        for table, cols in needs.items():
            have = self.columns.get(table)
            if have is None:
                out.append(table)
                continue
            out.extend(f"{table}.{c}" for c in cols if c not in have)
        return out


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The outcome of :func:`audit`: where the findings are, what ran, what was skipped and why."""

    dataset: Path
    out: Path
    findings_path: Path
    report_path: Path | None
    findings: int
    by_pattern: Mapping[str, int]
    checks: tuple[Check, ...]
    problems: tuple[str, ...]
    seconds: float
    cpu_seconds: float = 0.0

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "skipped")

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "failed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": str(self.dataset),
            "out": str(self.out),
            "findings_path": str(self.findings_path),
            "report_path": str(self.report_path) if self.report_path else None,
            "findings": self.findings,
            "by_pattern": dict(self.by_pattern),
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "problems": list(self.problems),
            "checks": [asdict(c) for c in self.checks],
        }


# ---------------------------------------------------------------------------------------------
# Connection and views
# ---------------------------------------------------------------------------------------------


def connect(
    *, threads: int = 2, memory_limit: str = "5GB", temp_directory: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with bounded threads and memory (spilling to ``temp_directory``)."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    if temp_directory is not None:
        con.execute(f"SET temp_directory = '{_quote(str(temp_directory))}'")
    return con


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_sql(name: str, kind: str, source_type: str, where: str) -> tuple[str | None, str | None]:
    """(select expression, problem) for one column of a table file in its in-memory kind."""
    col = _ident(name)
    t = source_type.upper()
    if kind in SCALE:
        scale = SCALE[kind]
        factor = 10**scale
        if t.startswith("DECIMAL"):
            s = int(t.split(",")[1].rstrip(") ")) if "," in t else 0
            if s > scale:
                return None, f"{where}: {s} decimal places, more than the {scale} of {kind}"
            return f"CAST({col} * {factor} AS BIGINT) AS {col}", None
        if t in (
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
        ):
            return f"CAST({col} AS BIGINT) * {factor} AS {col}", None
        if t == "VARCHAR":  # CSV text: exact through DECIMAL
            return f"CAST(CAST({col} AS DECIMAL(38, {scale})) * {factor} AS BIGINT) AS {col}", None
        return None, f"{where}: is {t}; money, counts and prices must be exact decimals"
    target = _SQL_TYPE[kind]
    if t == target:
        return col, None
    return f"CAST({col} AS {target}) AS {col}", None


def register_dataset(
    con: duckdb.DuckDBPyConnection, folder: Path | str, *, materialize: bool = False
) -> Registration:
    """Register every dataset table of ``folder`` (Parquet, else CSV) as a view of its in-memory kinds.

    ``materialize`` loads the tables into DuckDB instead of reading the files for every query.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such dataset folder")
    columns: dict[str, tuple[str, ...]] = {}
    missing_tables: list[str] = []
    missing_columns: dict[str, tuple[str, ...]] = {}
    problems: list[str] = []
    for name in DATASET_TABLES:
        table = TABLES[name]
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.exists():
            source = f"read_parquet('{_quote(str(parquet))}')"
            where = parquet.name
        elif csv.exists():
            source = f"read_csv('{_quote(str(csv))}', header = true, all_varchar = true)"
            where = csv.name
        else:
            missing_tables.append(name)
            continue
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except duckdb.Error as e:
            problems.append(f"{where}: cannot be read ({str(e).splitlines()[0]})")
            missing_tables.append(name)
            continue
        types = {r[0]: str(r[1]) for r in described}
        selects: list[str] = []
        have: list[str] = []
        lacking: list[str] = []
        for c in table.columns:
            if c.name not in types:
                lacking.append(c.name)
                continue
            expr, problem = _column_sql(c.name, c.kind, types[c.name], f"{where}, column {c.name}")
            if problem:
                problems.append(problem)
                lacking.append(c.name)
                continue
            assert expr is not None
            selects.append(expr)
            have.append(c.name)
        if lacking:
            missing_columns[name] = tuple(lacking)
            problems.append(f"{where}: missing or unusable columns {', '.join(lacking)}")
        if not selects:
            missing_tables.append(name)
            continue
        kind = "TABLE" if materialize else "VIEW"
        con.execute(f"CREATE OR REPLACE {kind} {_ident(name)} AS SELECT {', '.join(selects)} FROM {source}")
        columns[name] = tuple(have)
    if not columns:
        raise DatasetError(
            f"{folder}: no dataset tables (expected files like fee_list_d.parquet or mdtrt_d.csv)"
        )
    if missing_tables:
        problems.insert(0, f"{folder}: missing tables {', '.join(missing_tables)}")
    return Registration(columns, tuple(missing_tables), missing_columns, tuple(problems))


def register_frames(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pl.DataFrame]) -> Registration:
    """Register in-memory frames (the kinds of :func:`yibao.dataset.io.read_table`) as the views —
    for tests and for callers that already hold the tables."""
    columns: dict[str, tuple[str, ...]] = {}
    missing_columns: dict[str, tuple[str, ...]] = {}
    for name, df in frames.items():
        if name not in DATASET_TABLES:
            raise ValueError(f"{name!r} is not a dataset table ({', '.join(DATASET_TABLES)})")
        known = [c for c in TABLES[name].names if c in df.columns]
        con.register(f"__frame_{name}", df.select(known).to_arrow())
        con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS SELECT * FROM __frame_{name}")
        columns[name] = tuple(known)
        lacking = tuple(c for c in TABLES[name].names if c not in df.columns)
        if lacking:
            missing_columns[name] = lacking
    missing = tuple(t for t in DATASET_TABLES if t not in frames)
    problems = ((f"missing tables {', '.join(missing)}",) if missing else ()) + tuple(
        f"{t}: missing columns {', '.join(c)}" for t, c in missing_columns.items()
    )
    return Registration(columns, missing, missing_columns, problems)


# ---------------------------------------------------------------------------------------------
# Findings: normalise, deduplicate, identify
# ---------------------------------------------------------------------------------------------


def _normalise(df: pl.DataFrame, *, rule_id: str, rule_name: str, pattern: str, sev_deg: str) -> pl.DataFrame:
    """A rule's or model's findings in the ``findings`` schema (missing columns filled, kinds cast)."""
    if df.height == 0:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    if "evidence" in df.columns and df.schema["evidence"] != pl.String:
        df = df.with_columns(
            pl.col("evidence").map_elements(
                lambda v: json.dumps(v, ensure_ascii=False, default=str), return_dtype=pl.String
            )
        )
    defaults: dict[str, Any] = {
        "jr_id": "", "rule_id": rule_id, "rule_name": rule_name, "pattern": pattern, "sev_deg": sev_deg, "vola_amt": 0,
        "vola_cont": "", "evidence": "{}", "score": 1.0, "stage": "事后", **dict.fromkeys(ENTITY_COLUMNS, ""),
    }  # fmt: skip
    cols = []
    for name, dtype in FINDING_SCHEMA.items():
        expr = pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype)
        cols.append(expr.fill_null(pl.lit(defaults[name], dtype=dtype)).alias(name))
    return df.select(cols)


def finish(con: duckdb.DuckDBPyConnection, frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """All findings: one per rule × entity (the strongest kept), each with a stable ``jr_id``.

    A line flagged by several rules keeps each rule's finding; the same rule firing twice on the same
    entities (e.g. once per pair of lines) keeps the finding with the highest score, then amount.
    ``jr_id`` = "J" + the first 19 hex digits of md5(rule_id | entities): the same finding gets the
    same id in every run.
    """
    parts = [f for f in frames if f.height]
    if not parts:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    df = pl.concat([p.select(list(FINDING_SCHEMA)) for p in parts], how="vertical")
    key = ["rule_id", *ENTITY_COLUMNS]
    df = df.sort(["score", "vola_amt"], descending=True).unique(subset=key, keep="first")
    con.register("__findings", df.drop("jr_id").to_arrow())
    try:
        parts_sql = ", ".join(f"COALESCE(\"{c}\", '')" for c in key)
        ided = con.sql(
            f"SELECT 'J' || SUBSTR(md5(concat_ws('|', {parts_sql})), 1, 19) AS jr_id, * FROM __findings"
        ).pl()
    finally:
        con.unregister("__findings")
    assert isinstance(ided, pl.DataFrame)
    return ided.select(list(FINDING_SCHEMA)).sort(["pattern", "rule_id", *ENTITY_COLUMNS])


# ---------------------------------------------------------------------------------------------
# Running rules and models
# ---------------------------------------------------------------------------------------------

_MISSING_DATA = (duckdb.CatalogException, duckdb.BinderException)


def run_model(con: duckdb.DuckDBPyConnection, model: Model, reg: Registration) -> tuple[pl.DataFrame, Check]:
    """One model, skipped (with the missing tables and columns named) when its data is absent."""
    lacking = reg.lacks(model.needs)
    if lacking:
        return pl.DataFrame(schema=FINDING_SCHEMA), Check(
            model.id,
            model.name,
            model.pattern,
            "model",
            "skipped",
            reason=f"data absent: {', '.join(lacking)}",
        )
    t = time.perf_counter()
    try:
        df = _normalise(
            model.run(con),
            rule_id=model.id,
            rule_name=model.name,
            pattern=model.pattern,
            sev_deg=model.sev_deg,
        )
    except _MISSING_DATA as e:
        return pl.DataFrame(schema=FINDING_SCHEMA), Check(
            model.id, model.name, model.pattern, "model", "skipped", seconds=time.perf_counter() - t,
            reason=f"data absent: {str(e).splitlines()[0]}",
        )  # fmt: skip
    return df, Check(model.id, model.name, model.pattern, "model", "ran", df.height, time.perf_counter() - t)


def _rule_attr(rule: Any, name: str, default: Any = "") -> Any:
    if isinstance(rule, Mapping):
        return rule.get(name, default)
    return getattr(rule, name, default)


def _is_post_event(rule: Any) -> bool:
    """An enabled rule run after the event (事后); a rule that names no stage counts as one."""
    if _rule_attr(rule, "enabled", True) is False:
        return False
    stage = _rule_attr(rule, "stage", None) or _rule_attr(rule, "stages", None)
    if stage is None:
        return True
    if isinstance(stage, str):
        return "事后" in stage
    return "事后" in set(stage)


def _rules_of(library: Any) -> list[Any]:
    rules = getattr(library, "rules", library)
    if isinstance(rules, Mapping):
        rules = list(rules.values())
    return list(rules)


def _knowledge_base(library: Any) -> Any:
    """The knowledge base the rule kinds read: the library's own, else yibao.supervision.kb's loader."""
    for attr in ("kb", "knowledge_base"):
        kb = getattr(library, attr, None)
        if kb is not None:
            return kb
    try:
        mod = importlib.import_module("yibao.supervision.kb")
    except ImportError:
        return None
    for name in ("load_kb", "load_knowledge_base", "default_kb", "load"):
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn()
    return None


def _run_rule(
    con: duckdb.DuckDBPyConnection, rule: Any, kb: Any, reg: Registration
) -> tuple[pl.DataFrame, Check]:
    rid = str(_rule_attr(rule, "id"))
    name = str(_rule_attr(rule, "name"))
    pattern = str(_rule_attr(rule, "pattern"))
    kind = str(_rule_attr(rule, "kind"))
    sev = _RESULT_SEV.get(str(_rule_attr(rule, "result_type", "") or _rule_attr(rule, "sev_deg", "")), "2")
    empty = pl.DataFrame(schema=FINDING_SCHEMA)
    try:
        module: ModuleType = importlib.import_module(f"yibao.supervision.rules.{kind}")
    except ImportError as e:
        return empty, Check(rid, name, pattern, "rule", "failed", reason=f"no module for kind {kind!r}: {e}")
    needs = getattr(module, "NEEDS", None) or _rule_attr(rule, "needs", None)
    if isinstance(needs, Mapping):
        lacking = reg.lacks(needs)
        if lacking:
            return empty, Check(
                rid, name, pattern, "rule", "skipped", reason=f"data absent: {', '.join(lacking)}"
            )
    t = time.perf_counter()
    try:
        out = module.batch(con, rule, kb)
    except _MISSING_DATA as e:
        return empty, Check(rid, name, pattern, "rule", "skipped", seconds=time.perf_counter() - t,
                            reason=f"data absent: {str(e).splitlines()[0]}")  # fmt: skip
    except Exception as e:  # a broken rule is reported, the audit goes on
        return empty, Check(rid, name, pattern, "rule", "failed", seconds=time.perf_counter() - t,
                            reason=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")  # fmt: skip
    if not isinstance(out, pl.DataFrame):
        out = pl.from_arrow(out.to_arrow()) if hasattr(out, "to_arrow") else pl.DataFrame(out)
    assert isinstance(out, pl.DataFrame)
    df = _normalise(out, rule_id=rid, rule_name=name, pattern=pattern, sev_deg=sev)
    return df, Check(rid, name, pattern, "rule", "ran", df.height, time.perf_counter() - t)


def _selection(rules: Any) -> tuple[Any, set[str] | None]:
    """(library or None to load the default, the ids to run or None for all)."""
    if rules is None:
        return None, None
    if isinstance(rules, str):
        return None, {rules}
    if hasattr(rules, "rules"):
        return rules, None
    return None, {str(r) for r in rules}


def audit(
    dataset: Path | str,
    out: Path | str,
    *,
    rules: Any = None,
    progress: Progress | None = None,
    threads: int = 2,
    memory_limit: str = "5GB",
    materialize: bool = False,
    report: bool = True,
) -> AuditResult:
    """Run every 事后 rule of the library and every model over ``dataset``; write findings and the report.

    ``rules``: None for everything; a Library to use instead of the default one; or ids of rules and
    models (``R-…`` / ``M-…``) to run only those. ``report=False`` skips the HTML summary.
    """
    t0, cpu0 = time.perf_counter(), time.process_time()
    dataset, out = Path(dataset), Path(out)
    if not dataset.is_dir():
        raise DatasetError(f"{dataset}: no such dataset folder")
    out.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix="duckdb-", dir=out))
    con = connect(threads=threads, memory_limit=memory_limit, temp_directory=spill)
    try:
        reg = register_dataset(con, dataset, materialize=materialize)
        problems = list(reg.problems)
        library, wanted = _selection(rules)
        post_rules: list[Any] = []
        kb: Any = None
        if library is None:
            try:
                library = importlib.import_module("yibao.supervision.library").load_library()
            except Exception as e:  # no library (yet), or one that does not load: say so, run the models
                problems.append(f"rule library not available ({type(e).__name__}: {e}); only the models ran")
        if library is not None:
            post_rules = [r for r in _rules_of(library) if _is_post_event(r)]
            kb = _knowledge_base(library)
        models = list(MODELS)
        if wanted is not None:
            known = {str(_rule_attr(r, "id")) for r in post_rules} | {m.id for m in models}
            unknown = sorted(wanted - known)
            if unknown:
                raise ValueError(f"unknown rules or models: {', '.join(unknown)}")
            post_rules = [r for r in post_rules if str(_rule_attr(r, "id")) in wanted]
            models = [m for m in models if m.id in wanted]
        total = len(post_rules) + len(models)
        frames: list[pl.DataFrame] = []
        checks: list[Check] = []
        jobs: list[Callable[[], tuple[pl.DataFrame, Check]]] = [
            *((lambda r=r: _run_rule(con, r, kb, reg)) for r in post_rules),
            *((lambda m=m: run_model(con, m, reg)) for m in models),
        ]
        for i, job in enumerate(jobs, 1):
            cpu = time.process_time()
            df, check = job()
            check = replace(check, cpu_seconds=time.process_time() - cpu)
            frames.append(df)
            checks.append(check)
            if progress is not None:
                progress(_describe(check), i, total)
        found = finish(con, frames)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    findings_path = out / "findings.parquet"
    write_table(out, "findings", found)
    report_path = _report(out, found, dataset, problems) if report else None
    by_pattern = dict(sorted(found.group_by("pattern").len().iter_rows())) if found.height else {}
    result = AuditResult(
        dataset, out, findings_path, report_path, found.height, by_pattern, tuple(checks), tuple(problems),
        time.perf_counter() - t0,
        time.process_time() - cpu0,
    )  # fmt: skip
    (out / "audit.json").write_text(
        json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return result


def _describe(c: Check) -> str:
    head = f"{c.id} {c.name}"
    if c.status == "ran":
        return f"{head}: {c.findings} findings in {c.seconds:.2f} s (cpu {c.cpu_seconds:.2f} s)"
    return f"{head}: {c.status} — {c.reason}"


def _report(out: Path, found: pl.DataFrame, dataset: Path, problems: list[str]) -> Path | None:
    try:
        report = importlib.import_module("yibao.supervision.report")
    except ImportError:
        problems.append("HTML summary not written: yibao.supervision.report is not available")
        return None
    try:
        path = report.write_audit_report(out, found, dataset)
    except Exception as e:  # the findings are written; a failing summary must not lose them
        problems.append(f"HTML summary failed: {type(e).__name__}: {e}")
        return None
    return Path(path) if path is not None else None
