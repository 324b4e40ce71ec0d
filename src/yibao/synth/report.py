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

The report is made in two steps: additive :data:`Cells` (sums of integers by scheme, kind of care,
level and fraud label), then the rows from them (:func:`report_from_cells`). A dataset folder's cells
come from DuckDB over its files (:func:`dataset_cells`: a million persons' fee lines never sit in
memory; a CSV table is read with :func:`yibao.dataset.io.read_table` and queried the same way); the
generator adds up the cells of its chunks in memory instead (:func:`frame_cells`), to the same rows.

>>> rows = [{"name": "employee.los", "target": 8.7, "generated": 8.75, "deviation": 0.57, "within": True,
...          "tolerance": 3.0, "mark": "inferred", "unit": "天", "n": 6200}]
>>> print(format_report(rows).splitlines()[2])
employee.los  8.7000     8.7500  +0.57%  yes  ±3%  inferred  6,200
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from yibao import codes
from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog
from yibao.dataset.io import DatasetError, read_table, table_path
from yibao.dataset.schema import TABLES
from yibao.synth.targets import CALIBRATED, TARGETS

__all__ = [
    "CALIBRATED_TOLERANCE",
    "FUND_COLUMNS",
    "OTHER_TOLERANCE",
    "Cells",
    "add_cells",
    "calibration_report",
    "dataset_cells",
    "format_report",
    "frame_cells",
    "report_from_cells",
]

CALIBRATED_TOLERANCE = 3.0
"""Percent: the issue's bound for person-times per insured, cost per admission and length of stay."""
OTHER_TOLERANCE = 10.0
"""Percent: the bound reported for derived and register figures (they are not required to hold)."""

_KIND = {"outpatient": "outpatient", "chronic": "chronic", "inpatient": "inpatient", "pharmacy": "pharmacy"}
_COST = {"outpatient": "cost_per_outpatient", "chronic": "cost_per_chronic", "pharmacy": "cost_per_pharmacy"}
_CLASS = {"01": "甲类", "02": "乙类", "03": "丙类"}
_CLASSES = (*_CLASS, "other")
"""The fee-line classes of the mix: a line of an item outside the catalogue, or of another class, is
"other" (目录外)."""


def _sql_class(c: str) -> str:
    """Fee class ``c`` of :data:`_CLASSES` as an SQL condition on the catalogue's class ``c.lv`` (in
    Polars, :func:`_frame_encounters` numbers the classes in the same order)."""
    if c == "other":
        return "c.lv IS NULL OR c.lv NOT IN (" + ", ".join(f"'{lv}'" for lv in _CLASS) + ")"
    return f"c.lv = '{c}'"


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


Cells = dict[str, dict[str, Any]]
"""The additive figures a report is made of — sums of integers, so the cells of the parts of a dataset
add up to the cells of the whole (:func:`add_cells`):

* ``encounters``: ``"scheme/kind/lv/fraud"`` → [encounters, fees (fen), days of stay, then the fees and
  fee lines of each class of :data:`_CLASSES`]; ``fraud`` is 1 for an encounter labelled as fraud;
* ``insured``: scheme → persons; ``employee_kinds``: in_service / retired / other → employees;
* ``employer_types``: emp_type → employees (with ``emp_b`` only);
* ``fund``: scheme → [stays settled, fund payments, in-catalogue fees] (fen; with ``setl_d`` only).
"""

_ENC_FIELDS = ("n", "fen", "los", *(f"{m}_{lv}" for lv in _CLASSES for m in ("fen", "lines")))
FUND_COLUMNS = ("insutype", "med_type", "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
                 "fund_pay_sumamt", "refd_setl_flag")  # fmt: skip


def _code_rows() -> dict[str, list[tuple[str, str]]]:
    """The code tables of the report: med_type → kind of care, insutype → scheme, hosp_lv → coarse level."""
    schemes = []
    for c in codes.INSUTYPE:
        try:
            schemes.append((c, codes.scheme(c)))
        except codes.CodeError:
            continue
    return {
        "_kinds": [(m, codes.visit_kind(m)) for m in codes.MED_TYPE],
        "_schemes": schemes,
        "_levels": [(lv, codes.coarse_hosp_lv(lv)) for lv in (*codes.HOSP_LV, "")],
    }


_CODE_COLUMNS = {"_kinds": ["med_type", "kind"], "_schemes": ["insutype", "scheme"], "_levels": ["hosp_lv", "lv"]}


@functools.cache
def _code_frames() -> dict[str, pl.DataFrame]:
    """:func:`_code_rows` as frames, made once (the workers ask for them twice a chunk)."""
    return {name: pl.DataFrame(rows, schema=_CODE_COLUMNS[name], orient="row") for name, rows in _code_rows().items()}


def _class_frame(catalog: Catalog) -> pl.DataFrame:
    classes: dict[str, str] = {}
    for item in catalog.items():
        classes.setdefault(item.med_list_codg, item.chrgitm_lv)
    return pl.DataFrame({"med_list_codg": list(classes), "lv": list(classes.values())})


def calibration_report(
    dataset_folder: Path | str, *, catalog: Catalog | None = None, exclude_fraud: bool = False
) -> list[dict[str, Any]]:
    """Generated versus target for every figure the dataset can show (see the module docstring).

    ``exclude_fraud`` leaves out the encounters labelled as fraud (label 1) in ``labels.parquet``.
    """
    return report_from_cells(dataset_cells(dataset_folder, catalog=catalog), exclude_fraud=exclude_fraud)


def dataset_cells(dataset_folder: Path | str, *, catalog: Catalog | None = None) -> Cells:
    """The :data:`Cells` of a dataset folder, in DuckDB over its files (one pass over the fee lines)."""
    folder = Path(dataset_folder)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        for name, frame in _code_frames().items():
            con.register(name, frame.to_arrow())
        con.register("_classes", _class_frame(catalog or default_catalog()).to_arrow())
        return _dataset_cells(con, folder)
    finally:
        con.close()


def _dataset_cells(con: duckdb.DuckDBPyConnection, folder: Path) -> Cells:
    _relation(con, folder, "psn_info_b", ("psn_no", "insutype", "psn_type", "emp_no"))
    _relation(con, folder, "mdtrt_d", ("mdtrt_id", "fixmedins_code", "med_type", "begntime", "endtime", "insutype"))
    _relation(con, folder, "fee_list_d", ("mdtrt_id", "med_list_codg", "det_item_fee_sumamt"))
    _relation(con, folder, "fixmedins_b", ("fixmedins_code", "hosp_lv"))
    fraud = "FALSE"
    labels = folder / "labels.parquet"
    if labels.exists():
        safe = str(labels).replace("'", "''")
        con.execute(
            f"CREATE OR REPLACE VIEW _fraud AS SELECT DISTINCT mdtrt_id FROM read_parquet('{safe}') "  # noqa: S608
            "WHERE label = '1' AND mdtrt_id IS NOT NULL AND mdtrt_id <> ''"
        )
        fraud = "m.mdtrt_id IN (SELECT mdtrt_id FROM _fraud)"
    by_class = ", ".join(
        f"SUM(f.det_item_fee_sumamt) FILTER (WHERE {_sql_class(c)}) AS fen_{c}, "
        f"COUNT(*) FILTER (WHERE {_sql_class(c)}) AS lines_{c}"
        for c in _CLASSES
    )
    sums = ", ".join(f"COALESCE(SUM(fee.{f}), 0)" for f in _ENC_FIELDS[3:])
    result = con.execute(f"""
        WITH fee AS (
            SELECT f.mdtrt_id, SUM(f.det_item_fee_sumamt) AS fen, {by_class}
            FROM fee_list_d f LEFT JOIN _classes c ON c.med_list_codg = f.med_list_codg GROUP BY f.mdtrt_id
        )
        SELECT s.scheme, k.kind, COALESCE(l.lv, '1') AS lv, CAST({fraud} AS INTEGER) AS fraud, COUNT(*),
               COALESCE(SUM(fee.fen), 0),
               SUM(GREATEST(1, date_diff('day', CAST(m.begntime AS DATE), CAST(m.endtime AS DATE)))), {sums}
        FROM mdtrt_d m
        JOIN _schemes s ON s.insutype = m.insutype
        JOIN _kinds k ON k.med_type = m.med_type
        LEFT JOIN fixmedins_b f ON f.fixmedins_code = m.fixmedins_code
        LEFT JOIN _levels l ON l.hosp_lv = COALESCE(f.hosp_lv, '')
        LEFT JOIN fee ON fee.mdtrt_id = m.mdtrt_id
        GROUP BY ALL
    """).fetchall()  # noqa: S608 - the only interpolations are file paths and fixed SQL
    cells: Cells = {"encounters": {"/".join(map(str, r[:4])): [int(v) for v in r[4:]] for r in result}}
    cells["insured"] = dict(con.execute(
        "SELECT s.scheme, COUNT(*) FROM psn_info_b p JOIN _schemes s ON s.insutype = p.insutype GROUP BY 1"
    ).fetchall())  # fmt: skip
    cells["employee_kinds"] = dict(con.execute("""
        SELECT CASE WHEN substr(psn_type, 1, 2) = '11' THEN 'in_service'
                    WHEN substr(psn_type, 1, 2) IN ('12', '13') THEN 'retired' ELSE 'other' END, COUNT(*)
        FROM psn_info_b p JOIN _schemes s ON s.insutype = p.insutype WHERE s.scheme = 'employee' GROUP BY 1
    """).fetchall())  # fmt: skip
    if _has(folder, "emp_b"):
        _relation(con, folder, "emp_b", ("emp_no", "emp_type"))
        cells["employer_types"] = dict(con.execute("""
            SELECT e.emp_type, COUNT(*) FROM psn_info_b p JOIN _schemes s ON s.insutype = p.insutype
            JOIN emp_b e ON e.emp_no = p.emp_no WHERE s.scheme = 'employee' GROUP BY 1
        """).fetchall())  # fmt: skip
    if _has(folder, "setl_d"):
        _relation(con, folder, "setl_d", FUND_COLUMNS)
        result = con.execute("""
            SELECT s.scheme, COUNT(*), SUM(fund_pay_sumamt),
                   SUM(medfee_sumamt - fulamt_ownpay_amt - overlmt_selfpay)
            FROM setl_d d JOIN _schemes s ON s.insutype = d.insutype JOIN _kinds k ON k.med_type = d.med_type
            WHERE k.kind = 'inpatient' AND d.refd_setl_flag = '0' GROUP BY 1
        """).fetchall()
        cells["fund"] = {scheme: [int(n), int(fund), int(inscope)] for scheme, n, fund, inscope in result}
    return cells


def frame_cells(tables: Mapping[str, pl.DataFrame], *, catalog: Catalog | None = None) -> Cells:
    """The :data:`Cells` that ``tables`` can show (Polars frames in the in-memory kinds, money in fen):
    what :func:`dataset_cells` gives for the same tables written out. The encounters need ``mdtrt_d``,
    ``fee_list_d`` and ``fixmedins_b`` (with ``labels``, those labelled as fraud are marked), the
    register ``psn_info_b`` (and ``emp_b``), the fund ratios ``setl_d`` (its :data:`FUND_COLUMNS`).

    The generator adds up the cells of its chunks, each made in the worker that makes the chunk: at
    1,000,000 persons, some 9 CPU-s in the workers instead of 12 s of reading the files at the end."""
    codes_ = {name: frame.lazy() for name, frame in _code_frames().items()}
    cells: Cells = {}
    if "mdtrt_d" in tables:
        cells["encounters"] = _frame_encounters(tables, codes_, catalog or default_catalog())
    if "psn_info_b" in tables:
        psn = tables["psn_info_b"].lazy().join(codes_["_schemes"], on="insutype")
        cells["insured"] = dict(psn.group_by("scheme").len().collect().iter_rows())
        employees = psn.filter(pl.col("scheme") == "employee")
        head = pl.col("psn_type").str.slice(0, 2)
        kind = (
            pl.when(head == "11").then(pl.lit("in_service"))
            .when(head.is_in(["12", "13"])).then(pl.lit("retired"))
            .otherwise(pl.lit("other"))
        )  # fmt: skip
        by_kind = employees.group_by(kind.alias("k")).len()
        cells["employee_kinds"] = dict(by_kind.collect().iter_rows())
        if "emp_b" in tables:
            employers = tables["emp_b"].lazy().select("emp_no", "emp_type")
            by_type = employees.join(employers, on="emp_no").group_by("emp_type").len()
            cells["employer_types"] = dict(by_type.collect().iter_rows())
    if "setl_d" in tables:
        fund = (
            tables["setl_d"].lazy()
            .join(codes_["_schemes"], on="insutype").join(codes_["_kinds"], on="med_type")
            .filter((pl.col("kind") == "inpatient") & (pl.col("refd_setl_flag") == "0"))
            .group_by("scheme")
            .agg(pl.len().cast(pl.Int64), pl.col("fund_pay_sumamt").sum(),
                 (pl.col("medfee_sumamt") - pl.col("fulamt_ownpay_amt") - pl.col("overlmt_selfpay")).sum())
            .collect()
        )  # fmt: skip
        cells["fund"] = {scheme: [int(v) for v in rest] for scheme, *rest in fund.iter_rows()}
    return cells


def _frame_encounters(
    tables: Mapping[str, pl.DataFrame], codes_: dict[str, pl.LazyFrame], catalog: Catalog
) -> dict[str, list[int]]:
    labels = tables.get("labels")
    fraud_ids = (
        pl.Series("mdtrt_id", [], pl.String) if labels is None
        else labels.filter((pl.col("label") == "1") & (pl.col("mdtrt_id").fill_null("") != ""))["mdtrt_id"]
    )  # fmt: skip
    days = (pl.col("endtime").dt.date() - pl.col("begntime").dt.date()).dt.total_days()
    key = ["scheme", "kind", "lv", "fraud"]
    enc = (
        tables["mdtrt_d"].lazy()
        .select("mdtrt_id", "fixmedins_code", "med_type", "begntime", "endtime", "insutype")
        .join(codes_["_schemes"], on="insutype")
        .join(codes_["_kinds"], on="med_type")
        .join(tables["fixmedins_b"].lazy().select("fixmedins_code", "hosp_lv"), on="fixmedins_code", how="left")
        .with_columns(pl.col("hosp_lv").fill_null(""))
        .join(codes_["_levels"], on="hosp_lv", how="left")
        .select("mdtrt_id", "scheme", "kind", pl.col("lv").fill_null("1"),
                pl.col("mdtrt_id").is_in(fraud_ids.implode()).cast(pl.Int32).alias("fraud"),
                pl.max_horizontal(pl.lit(1), days).alias("los"))
    )  # fmt: skip
    classes = _class_frame(catalog)
    number = {lv: i for i, lv in enumerate(_CLASS)}  # the other classes: len(_CLASS)
    encounters = enc.collect()
    cells = encounters.group_by(*key, maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n"), pl.col("los").sum().cast(pl.Int64), pl.col("mdtrt_id")
    )
    # each line's cell by way of its encounter: looked up once per run of lines of one encounter (the
    # lines come by encounter), then the lines summed by cell and class (a few dozen groups)
    fee = tables["fee_list_d"]
    known = pl.Enum(classes["med_list_codg"])  # an item's physical code is its row of ``classes``
    class_of = np.array([*(number.get(lv, len(_CLASS)) for lv in classes["lv"]), len(_CLASS)], dtype=np.int64)
    mid = fee.get_column("mdtrt_id")
    starts = mid.ne_missing(mid.shift(1))
    if len(starts):
        starts[0] = True  # (the first line starts a run, whatever its id)
    cell_of = cells.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("cell"), "mdtrt_id").explode("mdtrt_id")
    heads = mid.filter(starts).to_frame().join(cell_of, on="mdtrt_id", how="left", maintain_order="left")
    by_class = (
        pl.DataFrame({
            "cell": heads.get_column("cell").gather(starts.cast(pl.Int64).cum_sum() - 1),
            "cls": class_of[fee.get_column("med_list_codg").cast(known, strict=False).to_physical()
                            .fill_null(len(class_of) - 1).to_numpy()],
            "fen": fee.get_column("det_item_fee_sumamt"),
        })
        .drop_nulls("cell")
        .group_by("cell", "cls")
        .agg(pl.col("fen").sum().cast(pl.Int64), pl.len().cast(pl.Int64).alias("lines"))
    )  # fmt: skip
    sums = np.zeros((cells.height, len(_CLASSES), 2), dtype=np.int64)
    for cell, c, fen, lines in by_class.iter_rows():
        sums[cell, c] = fen, lines
    return {
        "/".join(map(str, (scheme, kind, lv, fraud))): [int(n), int(sums[i, :, 0].sum()), int(los), *map(int, sums[i].ravel())]
        for i, (scheme, kind, lv, fraud, n, los) in enumerate(cells.select(*key, "n", "los").iter_rows())
    }


def add_cells(total: Cells, part: Cells) -> Cells:
    """``part`` added into ``total`` (in place, and returned): sections of counts, which add up, and of
    lists of sums, which add up element-wise.

    >>> add_cells({"insured": {"employee": 2}}, {"insured": {"employee": 1, "resident": 3}, "fund": {"employee": [1, 5, 9]}})
    {'insured': {'employee': 3, 'resident': 3}, 'fund': {'employee': [1, 5, 9]}}
    """
    for section, values in part.items():
        bucket = total.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, list):
                old = bucket.get(key, [0] * len(value))
                bucket[key] = [a + b for a, b in zip(old, value, strict=True)]
            else:
                bucket[key] = bucket.get(key, 0) + value
    return total


def report_from_cells(cells: Cells, *, exclude_fraud: bool = False) -> list[dict[str, Any]]:
    """The report's rows from its :data:`Cells`; ``exclude_fraud`` leaves out the encounters labelled
    as fraud."""
    enc: list[tuple[str, str, str, dict[str, int]]] = []
    for key, values in cells.get("encounters", {}).items():
        scheme, kind, lv, fraud = key.split("/")
        if not (exclude_fraud and fraud == "1"):
            enc.append((scheme, kind, lv, dict(zip(_ENC_FIELDS, values, strict=True))))

    def total(field: str, scheme: str | None = None, kind: str | None = None, lv: str | None = None) -> int:
        return sum(v[field] for s, k, l_, v in enc if scheme in (None, s) and kind in (None, k) and lv in (None, l_))

    insured = cells.get("insured", {})
    rows: list[dict[str, Any]] = []
    for scheme in ("employee", "resident"):
        if persons := insured.get(scheme, 0):
            rows.extend(_row(f"{scheme}.{k}_per_insured", total("n", scheme, k) / persons, persons) for k in _KIND)
    # inpatient cost and length of stay, overall and by level; admission shares
    for scheme in ("employee", "resident"):
        if not (stays := total("n", scheme, "inpatient")):
            continue
        rows.append(_row(f"{scheme}.cost_per_admission", total("fen", scheme, "inpatient") / stays / 100, stays))
        rows.append(_row(f"{scheme}.los", total("los", scheme, "inpatient") / stays, stays))
        for lv in ("3", "2", "1"):
            if n := total("n", scheme, "inpatient", lv):
                rows.append(_row(f"{scheme}.cost_per_admission.{lv}", total("fen", scheme, "inpatient", lv) / n / 100, n))
                rows.append(_row(f"{scheme}.los.{lv}", total("los", scheme, "inpatient", lv) / n, n))
            rows.append(_row(f"{scheme}.admission_share.{lv}", n / stays, stays))
    # cost per visit of the other kinds
    for scheme in ("employee", "resident"):
        for kind, name in _COST.items():
            if n := total("n", scheme, kind):
                rows.append(_row(f"{scheme}.{name}", total("fen", scheme, kind) / n / 100, n))
    rows.extend(_register_rows(cells))
    rows.extend(_fund_rows(cells))
    rows.extend(_mix_rows({c: (total(f"lines_{c}"), total(f"fen_{c}")) for c in _CLASSES}))
    order = {name: i for i, name in enumerate(TARGETS)}
    return sorted(rows, key=lambda r: (order.get(r["name"], len(order)), r["name"]))


def _register_rows(cells: Cells) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    insured = cells.get("insured", {})
    if total := sum(insured.values()):
        rows.append(_row("resident.share_of_insured", insured.get("resident", 0) / total, total))
    kinds = cells.get("employee_kinds", {})
    if kinds.get("retired"):
        rows.append(_row("employee.in_service_per_retired", kinds.get("in_service", 0) / kinds["retired"],
                         kinds.get("in_service", 0) + kinds["retired"]))  # fmt: skip
    by_type = cells.get("employer_types", {})
    if n := sum(by_type.values()):
        for code, name in (("1", "enterprise"), ("2", "public"), ("3", "flexible")):
            rows.append(_row(f"employee.share_{name}", by_type.get(code, 0) / n, n))
    return rows


def _fund_rows(cells: Cells) -> list[dict[str, Any]]:
    """目录内基金支付比例 of stays: fund payments ÷ (medical fees − full self-pay − over-limit self-pay)."""
    return [
        _row(f"{scheme}.inpatient_fund_ratio", fund / inscope, n)
        for scheme, (n, fund, inscope) in cells.get("fund", {}).items()
        if inscope
    ]


def _mix_rows(classes: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Shares of fee amounts (and lines) by class 甲 / 乙 / 丙 — no target, reported; ``classes``: class
    → (lines, fen)."""
    result = [(c, lines, fen) for c, (lines, fen) in classes.items() if lines]
    total_fen = sum(r[2] for r in result)
    total_lines = sum(r[1] for r in result)
    rows = []
    for c, lines, fen in result:
        label = _CLASS.get(c, "目录外")
        if total_fen:
            rows.append(_row(f"mix.amount.{label}", fen / total_fen, total_fen / 100, mark="reported", unit="share"))
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
