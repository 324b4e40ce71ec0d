"""What every big-data model shares: its description, the findings frame it returns, peer statistics.

A model (one module each under :mod:`yibao.supervision.models`) is a :class:`Model`: an id (``M-…``),
a name, the pattern it detects, the tables and columns it needs, and ``run(con)`` — feature queries
over the dataset views an audit registered (money as BIGINT fen, counts in 1e-4, prices in 1e-6, as in
:mod:`yibao.dataset.io`), then scores against peers or domain thresholds, returning findings rows.

The heavy part (joins and aggregations over fee lines) is SQL; what follows the aggregation (peer
medians, MADs, sentences, evidence) runs on the small per-entity tables in Polars. One pass over
fee_list_d per encounter (:func:`encounter_summary`) is shared by the models that need amounts.

**Spark.** The SQL is ANSI (CTEs, joins, CASE, window functions, EXTRACT, SUBSTR, GREATEST/LEAST,
CAST) except for these DuckDB constructs, each in one helper here: ``date_diff`` (:func:`days_between`,
:func:`seconds_between`; Spark ``datediff`` / ``unix_timestamp``), ``string_agg(DISTINCT … ORDER BY …)``
(:func:`sorted_set`; Spark ``array_join(array_sort(collect_set(…)))``), ``hash(…) %`` (:func:`fingerprint`;
Spark ``pmod(hash(…), n)``), ``CREATE TEMP TABLE`` (:class:`Staged`, :func:`encounter_summary`; Spark
cached temp views) and ``information_schema.tables`` (which optional tables exist; Spark
``spark.catalog.tableExists``).

>>> yuan(123456), yuan(-5), yuan(0)
('1234.56元', '-0.05元', '0.00元')
>>> df = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0], "g": ["a"] * 5})
>>> df.select(robust_z(pl.col("x"), "g").round(2)).to_series().to_list()
[-1.35, -0.67, 0.0, 0.67, 65.43]
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES

FINDING_SCHEMA: dict[str, Any] = polars_schema(TABLES["findings"])
ENTITY_COLUMNS = ("fixmedins_code", "psn_no", "mdtrt_id", "feedetl_sn", "drug_trac_codg", "doctor")
MAD_SCALE = 1.4826
"""1.4826 · MAD estimates the standard deviation of a normal distribution (supervision.md §4.2)."""

INPATIENT_MED_TYPES = ("21", "22", "23", "24", "26", "28", "52", "53")
"""med_type codes of inpatient stays (yibao.codes.visit_kind → inpatient)."""
OUTPATIENT_MED_TYPES = ("11", "12", "13", "14", "15", "16", "19", "51")
PHARMACY_MED_TYPES = ("41",)


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL IN-list of string literals (the values are code constants, never user input).

    >>> sql_list(("21", "22"))
    "('21', '22')"
    """
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


@dataclass(frozen=True, slots=True)
class Model:
    """One model: what it is called, what it needs and how it runs.

    ``needs`` maps each table to the columns the model reads; an audit skips the model (and says
    why) when one of them is absent. ``run(con)`` returns findings rows (see :func:`findings`).
    """

    id: str
    name: str
    pattern: str
    needs: Mapping[str, tuple[str, ...]]
    run: Callable[[duckdb.DuckDBPyConnection], pl.DataFrame]
    sev_deg: str = "2"
    basis: str = ""
    optional: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Tables that sharpen the model when present (used if there, not required)."""


def yuan(fen: int) -> str:
    """Fen as a yuan amount for sentences: 123456 → '1234.56元' (exact, no float)."""
    sign = "-" if fen < 0 else ""
    a = abs(int(fen))
    return f"{sign}{a // 100}.{a % 100:02d}元"


def evidence_json(value: Any) -> str:
    """Evidence as compact JSON (dates and datetimes as ISO text; Chinese kept readable)."""
    return json.dumps(value, ensure_ascii=False, default=_iso, separators=(",", ":"))


def _iso(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else str(v)
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def findings(model: Model, rows: pl.DataFrame | list[dict[str, Any]]) -> pl.DataFrame:
    """Rows (at least vola_amt, vola_cont and some entity columns) as a frame of the ``findings``
    schema: rule_id, rule_name, pattern and sev_deg from the model (unless a row sets its own
    sev_deg), empty entities as "", score 1.0 unless given, stage 事后, jr_id left for the audit."""
    df = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows, infer_schema_length=None)
    if df.height == 0:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    fill: dict[str, Any] = {
        "jr_id": "",
        "rule_id": model.id,
        "rule_name": model.name,
        "pattern": model.pattern,
        "sev_deg": model.sev_deg,
        "evidence": "{}",
        "score": 1.0,
        "stage": "事后",
        **dict.fromkeys(ENTITY_COLUMNS, ""),
    }
    cols = []
    for name, dtype in FINDING_SCHEMA.items():
        if name in df.columns:
            c = pl.col(name).cast(dtype)
            if name in fill:
                c = c.fill_null(fill[name])
            cols.append(c.alias(name))
        elif name in fill:
            cols.append(pl.lit(fill[name], dtype=dtype).alias(name))
        else:
            raise ValueError(f"{model.id}: findings rows lack {name!r}")
    return df.select(cols)


def robust_z(x: pl.Expr, over: str | list[str], *, floor: pl.Expr | float = 0.0) -> pl.Expr:
    """Robust z within groups: (x − median) / (1.4826 · MAD), the scale floored at ``floor`` (so a
    group whose members mostly agree does not turn tiny differences into huge z); 0 when the scale is 0.
    """
    med = x.median().over(over)
    mad = (x - med).abs().median().over(over)
    floor_expr = floor if isinstance(floor, pl.Expr) else pl.lit(float(floor))
    scale = pl.max_horizontal(mad * MAD_SCALE, floor_expr)
    return pl.when(scale > 0).then((x - med) / scale).otherwise(0.0)


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """A query's result as a Polars frame (through Arrow); whole-number sums (HUGEINT) as Int64."""
    out = con.sql(sql).pl()
    assert isinstance(out, pl.DataFrame)
    wide = [
        c
        for c, t in out.schema.items()
        if t == pl.Int128 or (isinstance(t, pl.Decimal) and (t.scale or 0) == 0)
    ]
    return out.with_columns(pl.col(c).cast(pl.Int64, strict=True) for c in wide) if wide else out


# ---------------------------------------------------------------------------------------------
# SQL portability: every DuckDB-only construct the models use goes through one of these helpers,
# so running the same queries on Spark SQL means changing these few lines (Spark equivalents in
# each docstring). Everything else is ANSI SQL: CTEs, joins, CASE, window functions, CAST.
# ---------------------------------------------------------------------------------------------


def days_between(a: str, b: str) -> str:
    """Whole calendar days from ``a`` to ``b`` (dates or timestamps). Spark: ``datediff(b, a)``.

    >>> days_between("x.endtime", "y.begntime")
    "date_diff('day', CAST(x.endtime AS DATE), CAST(y.begntime AS DATE))"
    """
    return f"date_diff('day', CAST({a} AS DATE), CAST({b} AS DATE))"


def seconds_between(a: str, b: str) -> str:
    """Seconds from timestamp ``a`` to ``b``. Spark: ``unix_timestamp(b) - unix_timestamp(a)``."""
    return f"date_diff('second', {a}, {b})"


def sorted_set(expr: str) -> str:
    """The distinct values of ``expr`` in a group as one sorted, comma-separated string.
    Spark: ``array_join(array_sort(collect_set(expr)), ',')``."""
    return f"string_agg(DISTINCT {expr}, ',' ORDER BY {expr})"


class Staged:
    """Small intermediate results as temporary tables, dropped on exit — so the planner never
    re-evaluates (or badly reorders) a CTE referenced several times. On Spark: cached temp views.

    >>> con = duckdb.connect()
    >>> with Staged(con, "demo") as st:
    ...     t = st.table("x", "SELECT 1 AS a UNION ALL SELECT 2")
    ...     con.execute(f"SELECT SUM(a) FROM {t}").fetchall()
    [(3,)]
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, prefix: str) -> None:
        self.con = con
        self.prefix = prefix
        self.names: list[str] = []

    def table(self, name: str, sql: str) -> str:
        full = f"__{self.prefix}_{name}"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {full} AS {sql}")
        self.names.append(full)
        return full

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        for n in reversed(self.names):
            self.con.execute(f"DROP TABLE IF EXISTS {n}")


ENCOUNTER_SUMMARY = "__yb_encounter_fees"
HOTEL = ("01", "07", "02", "12", "13")
"""Fees every stay has whatever is done: bed, nursing, consultation, general care, registration."""
EXAMS = ("03", "04")
DRUGS = ("09", "10", "11")


def fingerprint(*item: str) -> str:
    """An order-free fingerprint of a group's items, each the hash of the given columns (equal bills →
    equal fingerprints; with the line count and amount beside it a collision is negligible). The columns
    are hashed together, not concatenated as text (casting millions of quantities to text is slow).
    Spark: ``SUM(pmod(hash(a, b), 1000000007))``."""
    return f"SUM(CAST(hash({', '.join(item)}) % 1000000007 AS BIGINT))"


def encounter_summary(con: duckdb.DuckDBPyConnection) -> str:
    """One pass over fee_list_d shared by the models: per encounter its amount, examination, hotel and
    drug amounts, drug lines and units, line count and the fingerprint of its bill (items × quantities).
    Built on first use in a connection, as a temporary table; returns its name."""
    exists = con.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [ENCOUNTER_SUMMARY]
    ).fetchall()
    if exists[0][0]:
        return ENCOUNTER_SUMMARY
    bill = fingerprint("f.med_list_codg", "f.cnt")
    con.execute(f"""
CREATE TEMP TABLE {ENCOUNTER_SUMMARY} AS
SELECT f.mdtrt_id,
       CAST(SUM(f.det_item_fee_sumamt) AS BIGINT) AS amt,
       CAST(SUM(CASE WHEN f.med_chrgitm_type IN {sql_list(EXAMS)} THEN f.det_item_fee_sumamt ELSE 0 END) AS BIGINT) AS exam_amt,
       CAST(SUM(CASE WHEN f.med_chrgitm_type IN {sql_list(HOTEL)} THEN f.det_item_fee_sumamt ELSE 0 END) AS BIGINT) AS hotel_amt,
       CAST(SUM(CASE WHEN f.med_chrgitm_type IN {sql_list(DRUGS)} THEN 1 ELSE 0 END) AS BIGINT) AS drug_lines,
       CAST(SUM(CASE WHEN f.med_chrgitm_type IN {sql_list(DRUGS)} THEN f.cnt ELSE 0 END) AS BIGINT) AS drug_cnt,
       COUNT(*) AS lines,
       CAST({bill} AS BIGINT) AS bill
FROM fee_list_d f
GROUP BY f.mdtrt_id
""")
    return ENCOUNTER_SUMMARY
