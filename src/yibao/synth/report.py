"""Calibration report of a synthetic dataset: generated versus target for every figure of TARGETS.

:func:`calibration_report` reads a dataset folder (Parquet or CSV tables, see :mod:`yibao.dataset.io`)
and returns one row per figure of :data:`yibao.synth.targets.TARGETS` that the data can show:

* person-times per insured by scheme and kind of care (普通门急诊, 门诊慢特病, 住院, 药店购药);
* cost per admission and length of stay by scheme, overall and by hospital level (三/二/一);
* the admission shares by level, the cost per outpatient, chronic and pharmacy visit;
* the register figures (residents' share, in-service per retired, employer kinds) when the tables
  are there, and the in-catalogue inpatient fund ratio once ``setl_d`` exists;
* the 甲 / 乙 / 丙 mix of fee amounts (no target: reported as is).

Each row is a dict: ``name``, ``target``, ``generated``, ``deviation`` (percent, generated vs target),
``within`` (±3 % for the CALIBRATED figures, ±10 % for the others; None without a target), ``tolerance``,
``mark`` (the target's confidence mark, or ``reported``), ``unit`` and ``n`` (how many persons,
encounters or yuan the figure rests on). Money is summed exactly (integer fen); the figures are ratios.

Aggregation runs in DuckDB over the Parquet files (a million persons' fee lines never sit in memory);
a CSV table is read with :func:`yibao.dataset.io.read_table` and queried the same way.

>>> rows = [{"name": "employee.los", "target": 8.7, "generated": 8.75, "deviation": 0.57, "within": True,
...          "tolerance": 3.0, "mark": "inferred", "unit": "天", "n": 6200}]
>>> print(format_report(rows).splitlines()[2])
employee.los  8.7000     8.7500  +0.57%  yes  ±3%  inferred  6,200
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from yibao import codes
from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog
from yibao.dataset.io import DatasetError, read_table, table_path
from yibao.dataset.schema import TABLES
from yibao.synth.targets import CALIBRATED, TARGETS

__all__ = ["CALIBRATED_TOLERANCE", "OTHER_TOLERANCE", "calibration_report", "format_report"]

CALIBRATED_TOLERANCE = 3.0
"""Percent: the issue's bound for person-times per insured, cost per admission and length of stay."""
OTHER_TOLERANCE = 10.0
"""Percent: the bound reported for derived and register figures (they are not required to hold)."""

_KIND = {"outpatient": "outpatient", "chronic": "chronic", "inpatient": "inpatient", "pharmacy": "pharmacy"}
_COST = {"outpatient": "cost_per_outpatient", "chronic": "cost_per_chronic", "pharmacy": "cost_per_pharmacy"}
_CLASS = {"01": "甲类", "02": "乙类", "03": "丙类"}


def _relation(con: duckdb.DuckDBPyConnection, folder: Path, name: str, columns: Sequence[str]) -> str:
    """Register table ``name`` as a DuckDB view ``name`` with ``columns``; money as BIGINT fen."""
    table = TABLES[name]
    path = table_path(folder, name)
    if path.suffix == ".parquet":
        cols = []
        for c in columns:
            kind = table.column(c).kind
            if kind == "money":
                cols.append(f"CAST({c} * 100 AS BIGINT) AS {c}")
            elif kind == "datetime":
                cols.append(f"CAST({c} AS TIMESTAMP) AS {c}")
            else:
                cols.append(c)
        safe = str(path).replace("'", "''")
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(cols)} FROM read_parquet('{safe}')")  # noqa: S608 - schema names and a quoted path
    else:
        frame = read_table(folder, name, columns)
        con.register(f"_{name}", frame.to_arrow())
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _{name}")  # noqa: S608 - a schema table name
    return name


def _has(folder: Path, name: str) -> bool:
    try:
        table_path(folder, name)
    except DatasetError:
        return False
    return True


def _row(name: str, generated: float | None, n: float, *, target: float | None = None, mark: str | None = None,
         unit: str | None = None) -> dict[str, Any]:  # fmt: skip
    t = TARGETS.get(name)
    value = target if target is not None else (t.value if t is not None else None)
    tolerance = CALIBRATED_TOLERANCE if name in CALIBRATED else OTHER_TOLERANCE
    deviation = None
    within = None
    if value is not None and generated is not None and value != 0:
        deviation = round((generated / value - 1) * 100, 2)
        within = abs(deviation) <= tolerance
    return {
        "name": name,
        "target": value,
        "generated": generated,
        "deviation": deviation,
        "within": within,
        "tolerance": tolerance if value is not None else None,
        "mark": mark or (t.mark if t is not None else "reported"),
        "unit": unit or (t.unit if t is not None else ""),
        "n": n,
    }


def _kind_table(con: duckdb.DuckDBPyConnection) -> None:
    rows = [(m, codes.visit_kind(m)) for m in codes.MED_TYPE]
    con.register("_kinds", pl.DataFrame(rows, schema=["med_type", "kind"], orient="row").to_arrow())
    schemes = []
    for c in codes.INSUTYPE:
        try:
            schemes.append((c, codes.scheme(c)))
        except codes.CodeError:
            continue
    con.register("_schemes", pl.DataFrame(schemes, schema=["insutype", "scheme"], orient="row").to_arrow())
    levels = [(lv, codes.coarse_hosp_lv(lv)) for lv in (*codes.HOSP_LV, "")]
    con.register("_levels", pl.DataFrame(levels, schema=["hosp_lv", "lv"], orient="row").to_arrow())


def calibration_report(
    dataset_folder: Path | str, *, catalog: Catalog | None = None, exclude_fraud: bool = False
) -> list[dict[str, Any]]:
    """Generated versus target for every figure the dataset can show (see the module docstring).

    ``exclude_fraud`` leaves out the encounters labelled as fraud (label 1) in ``labels.parquet``.
    """
    folder = Path(dataset_folder)
    con = duckdb.connect()
    try:
        return _report(con, folder, catalog or default_catalog(), exclude_fraud)
    finally:
        con.close()


def _report(con: duckdb.DuckDBPyConnection, folder: Path, catalog: Catalog, exclude_fraud: bool) -> list[dict[str, Any]]:
    _kind_table(con)
    _relation(con, folder, "psn_info_b", ("psn_no", "insutype", "psn_type", "emp_no"))
    _relation(con, folder, "mdtrt_d", ("mdtrt_id", "fixmedins_code", "med_type", "begntime", "endtime", "insutype"))
    _relation(con, folder, "fee_list_d", ("mdtrt_id", "med_list_codg", "det_item_fee_sumamt"))
    _relation(con, folder, "fixmedins_b", ("fixmedins_code", "hosp_lv"))
    excluded = "FALSE"
    labels = folder / "labels.parquet"
    if exclude_fraud and labels.exists():
        safe = str(labels).replace("'", "''")
        sql = f"CREATE OR REPLACE VIEW _fraud AS SELECT DISTINCT mdtrt_id FROM read_parquet('{safe}') WHERE label = '1'"  # noqa: S608
        con.execute(sql + " AND mdtrt_id IS NOT NULL AND mdtrt_id <> ''")
        excluded = "m.mdtrt_id IN (SELECT mdtrt_id FROM _fraud)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE enc AS
        WITH fee AS (SELECT mdtrt_id, SUM(det_item_fee_sumamt) AS fen FROM fee_list_d GROUP BY mdtrt_id)
        SELECT m.mdtrt_id, s.scheme, k.kind, COALESCE(l.lv, '1') AS lv,
               GREATEST(1, date_diff('day', CAST(m.begntime AS DATE), CAST(m.endtime AS DATE))) AS los,
               COALESCE(fee.fen, 0) AS fen
        FROM mdtrt_d m
        JOIN _schemes s ON s.insutype = m.insutype
        JOIN _kinds k ON k.med_type = m.med_type
        LEFT JOIN fixmedins_b f ON f.fixmedins_code = m.fixmedins_code
        LEFT JOIN _levels l ON l.hosp_lv = COALESCE(f.hosp_lv, '')
        LEFT JOIN fee ON fee.mdtrt_id = m.mdtrt_id
        WHERE NOT ({excluded})
    """)  # noqa: S608 - the only interpolations are file paths and fixed SQL
    insured = dict(
        con.execute(
            "SELECT s.scheme, COUNT(*) FROM psn_info_b p JOIN _schemes s ON s.insutype = p.insutype GROUP BY 1"
        ).fetchall()
    )
    rows: list[dict[str, Any]] = []
    counts = {(s, k): n for s, k, n in con.execute("SELECT scheme, kind, COUNT(*) FROM enc GROUP BY 1, 2").fetchall()}
    for scheme in ("employee", "resident"):
        persons = insured.get(scheme, 0)
        if not persons:
            continue
        for kind in _KIND:
            n = counts.get((scheme, kind), 0)
            rows.append(_row(f"{scheme}.{kind}_per_insured", n / persons, persons))
    # inpatient cost and length of stay, overall and by level; admission shares
    stays = con.execute(
        "SELECT scheme, lv, COUNT(*), SUM(fen), SUM(los) FROM enc WHERE kind = 'inpatient' GROUP BY 1, 2"
    ).fetchall()
    by_cell = {(s, lv): (n, fen, los) for s, lv, n, fen, los in stays}
    for scheme in ("employee", "resident"):
        cells = {lv: v for (s, lv), v in by_cell.items() if s == scheme}
        total_n = sum(v[0] for v in cells.values())
        if not total_n:
            continue
        total_fen = sum(v[1] for v in cells.values())
        total_los = sum(v[2] for v in cells.values())
        rows.append(_row(f"{scheme}.cost_per_admission", total_fen / total_n / 100, total_n))
        rows.append(_row(f"{scheme}.los", total_los / total_n, total_n))
        for lv in ("3", "2", "1"):
            n, fen, los = cells.get(lv, (0, 0, 0))
            if n:
                rows.append(_row(f"{scheme}.cost_per_admission.{lv}", fen / n / 100, n))
                rows.append(_row(f"{scheme}.los.{lv}", los / n, n))
            rows.append(_row(f"{scheme}.admission_share.{lv}", n / total_n, total_n))
    # cost per visit of the other kinds
    visits = con.execute("SELECT scheme, kind, COUNT(*), SUM(fen) FROM enc WHERE kind <> 'inpatient' GROUP BY 1, 2").fetchall()
    for scheme, kind, n, fen in sorted(visits):
        if kind in _COST and n:
            rows.append(_row(f"{scheme}.{_COST[kind]}", fen / n / 100, n))
    rows.extend(_register_rows(con, folder, insured))
    rows.extend(_fund_rows(con, folder))
    rows.extend(_mix_rows(con, catalog))
    order = {name: i for i, name in enumerate(TARGETS)}
    return sorted(rows, key=lambda r: (order.get(r["name"], len(order)), r["name"]))


def _register_rows(con: duckdb.DuckDBPyConnection, folder: Path, insured: dict[str, int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    total = sum(insured.values())
    if total:
        rows.append(_row("resident.share_of_insured", insured.get("resident", 0) / total, total))
    kinds = dict(
        con.execute("""
            SELECT CASE WHEN substr(psn_type, 1, 2) = '11' THEN 'in_service'
                        WHEN substr(psn_type, 1, 2) IN ('12', '13') THEN 'retired' ELSE 'other' END, COUNT(*)
            FROM psn_info_b p JOIN _schemes s ON s.insutype = p.insutype WHERE s.scheme = 'employee' GROUP BY 1
        """).fetchall()
    )
    if kinds.get("retired"):
        rows.append(_row("employee.in_service_per_retired", kinds.get("in_service", 0) / kinds["retired"],
                         kinds.get("in_service", 0) + kinds["retired"]))  # fmt: skip
    if _has(folder, "emp_b"):
        _relation(con, folder, "emp_b", ("emp_no", "emp_type"))
        by_type = dict(
            con.execute("""
                SELECT e.emp_type, COUNT(*) FROM psn_info_b p JOIN _schemes s ON s.insutype = p.insutype
                JOIN emp_b e ON e.emp_no = p.emp_no WHERE s.scheme = 'employee' GROUP BY 1
            """).fetchall()
        )
        n = sum(by_type.values())
        if n:
            for code, name in (("1", "enterprise"), ("2", "public"), ("3", "flexible")):
                rows.append(_row(f"employee.share_{name}", by_type.get(code, 0) / n, n))
    return rows


def _fund_rows(con: duckdb.DuckDBPyConnection, folder: Path) -> list[dict[str, Any]]:
    """目录内基金支付比例 of stays: fund payments ÷ (medical fees − full self-pay − over-limit self-pay)."""
    if not _has(folder, "setl_d"):
        return []
    cols = ("insutype", "med_type", "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "fund_pay_sumamt",
            "refd_setl_flag")  # fmt: skip
    _relation(con, folder, "setl_d", cols)
    rows = []
    result = con.execute("""
        SELECT s.scheme, COUNT(*), SUM(fund_pay_sumamt), SUM(medfee_sumamt - fulamt_ownpay_amt - overlmt_selfpay)
        FROM setl_d d JOIN _schemes s ON s.insutype = d.insutype JOIN _kinds k ON k.med_type = d.med_type
        WHERE k.kind = 'inpatient' AND d.refd_setl_flag = '0' GROUP BY 1
    """).fetchall()
    for scheme, n, fund, inscope in result:
        if inscope:
            rows.append(_row(f"{scheme}.inpatient_fund_ratio", fund / inscope, n))
    return rows


def _mix_rows(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> list[dict[str, Any]]:
    """Shares of fee amounts (and lines) by class 甲 / 乙 / 丙 — no target, reported."""
    classes: dict[str, str] = {}
    for item in catalog.items():
        classes.setdefault(item.med_list_codg, item.chrgitm_lv)
    con.register("_classes", pl.DataFrame({"med_list_codg": list(classes), "lv": list(classes.values())}).to_arrow())
    result = con.execute("""
        SELECT COALESCE(c.lv, '??') AS lv, COUNT(*), SUM(f.det_item_fee_sumamt)
        FROM fee_list_d f JOIN enc e ON e.mdtrt_id = f.mdtrt_id
        LEFT JOIN _classes c ON c.med_list_codg = f.med_list_codg GROUP BY 1
    """).fetchall()
    total_fen = sum(r[2] or 0 for r in result)
    total_lines = sum(r[1] for r in result)
    rows = []
    for lv, lines, fen in sorted(result):
        label = _CLASS.get(lv, "目录外")
        if total_fen:
            rows.append(_row(f"mix.amount.{label}", (fen or 0) / total_fen, total_fen / 100, mark="reported", unit="share"))
        if total_lines:
            rows.append(_row(f"mix.lines.{label}", lines / total_lines, total_lines, mark="reported", unit="share"))
    return rows


def format_report(rows: Iterable[dict[str, Any]]) -> str:
    """The report as a readable fixed-width table (one line per figure)."""
    rows = list(rows)
    header = ("figure", "target", "generated", "dev", "ok", "tol", "mark", "n")
    table: list[tuple[str, ...]] = []
    for r in rows:
        target, generated = r.get("target"), r.get("generated")
        dev = r.get("deviation")
        within = r.get("within")
        tol = r.get("tolerance")
        table.append((
            str(r["name"]),
            "—" if target is None else f"{target:.4f}",
            "—" if generated is None else f"{generated:.4f}",
            "—" if dev is None else f"{dev:+.2f}%",
            "—" if within is None else ("yes" if within else "NO"),
            "" if tol is None else f"±{tol:g}%",
            str(r.get("mark", "")),
            f"{r.get('n', 0):,.0f}",
        ))  # fmt: skip
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(header)]
    left = {0, 6}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths))]
    out.extend(line(t) for t in table)
    failed = [r["name"] for r in rows if r.get("within") is False]
    out.append("")
    out.append(f"{sum(1 for r in rows if r.get('within'))} of {sum(1 for r in rows if r.get('within') is not None)} "
               f"figures within tolerance" + (f"; outside: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return "\n".join(out)
