"""DRG grouping and point payment for a whole dataset: inpatient stays → cases → groups → hospital amounts.

``pay_dataset(DATASET, OUT)`` builds one grouper case per settled inpatient stay (sex and age from the
register, diagnoses principal first, procedures main first, length of stay, discharge way), groups them,
takes relative weights from the year's own history, prices every case by points with the outlier rules
and the 特例单议 queue, and writes per hospital and month the statements, the prepayment and the year-end
clearing. The payment parameters are dated policy data (``policy_data/regions/<admdvs>/drg.yaml``).

The budget is the year's total cost of the grouped stays (a "total cost" point value: yuan per point
means the cost a point buys; what the hospital receives from the fund is that amount less the patients'
own share, which yibao does not deduct yet — docs/drg.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from yibao.dataset.io import read_table
from yibao.drg.grouper import group_frame
from yibao.drg.payment import (
    PaymentParams,
    apply_reviews,
    clear_year,
    monthly_statements,
    prepayments,
    price_cases,
    review_queue,
    summary,
    to_frame,
    weights_from_history,
)
from yibao.money import round_div
from yibao.policy.loader import Policy, load_region

INPATIENT_MED_TYPES = ("21", "22", "23", "24", "26", "28", "52")
CASE_TABLE_COLUMNS = (
    *(
        "case_id",
        "gender",
        "age",
        "age_day",
        "weight",
        "dept",
        "los",
        "leaving_type",
        "diagnoses",
        "procedures",
    ),
    *("fixmedins_code", "hosp_lv", "month", "total_fen"),
)


def payment_params(policy: Policy, on: date) -> PaymentParams:
    """The DRG payment parameters in force on ``on`` (defaults where the region has none)."""
    if not policy.has("drg.high_ratio"):
        return PaymentParams()

    def get(name: str, **dims: str) -> Any:
        return policy.param(name).at(on, **dims)[0]

    coefficients = {lv: get("drg.level_coefficient", hosp_lv=lv) for lv in ("3", "2", "1")}
    return PaymentParams(
        high_ratio=get("drg.high_ratio"),
        low_ratio=get("drg.low_ratio"),
        review_share=get("drg.review_share"),
        reserve_share=get("drg.reserve_share"),
        coefficients=coefficients,
        effective_from=policy.param("drg.high_ratio").at(on)[1].since,
        reference=policy.param("drg.high_ratio").at(on)[1].reference,
    )


def cases_from_dataset(folder: Path) -> pl.DataFrame:
    """One grouper case per settled inpatient stay, with the payment columns (hospital, month, cost)."""
    stays = read_table(
        folder,
        "mdtrt_d",
        ["mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "dept_codg", "dscg_way"],
    ).filter(pl.col("med_type").is_in(INPATIENT_MED_TYPES))
    setl = read_table(folder, "setl_d", ["mdtrt_id", "hosp_lv", "medfee_sumamt", "refd_setl_flag"]).filter(
        pl.col("refd_setl_flag") == "0"
    )
    return case_frame(
        stays.join(setl, on="mdtrt_id", how="inner").rename({"medfee_sumamt": "total_fen"}),
        read_table(folder, "psn_info_b", ["psn_no", "gend", "brdy"]),
        read_table(folder, "setl_list_diag_d", ["mdtrt_id", "maindiag_flag", "diag_code"]),
        read_table(folder, "setl_list_oprn_d", ["mdtrt_id", "main_oprn_flag", "oprn_code"]),
    )


def case_frame(stays: pl.DataFrame, persons: pl.DataFrame, diag: pl.DataFrame, oprn: pl.DataFrame) -> pl.DataFrame:
    """Grouper cases (CASE_TABLE_COLUMNS) from inpatient stays (mdtrt_id, psn_no, fixmedins_code, begntime,
    endtime, dept_codg, dscg_way, total_fen, and hosp_lv if known), the register (psn_no, gend, brdy),
    the diagnoses (maindiag_flag, diag_code) and the operations (main_oprn_flag, oprn_code): principal
    diagnosis and main operation first, age at admission, length of stay at least one day."""
    diagnoses = (
        diag.sort("mdtrt_id", "maindiag_flag", descending=[False, True], maintain_order=True)
        .group_by("mdtrt_id", maintain_order=True)
        .agg(pl.col("diag_code").str.join("|").alias("diagnoses"))
    )
    procedures = (
        oprn.sort("mdtrt_id", "main_oprn_flag", descending=[False, True], maintain_order=True)
        .group_by("mdtrt_id", maintain_order=True)
        .agg(pl.col("oprn_code").str.join("|").alias("procedures"))
    )
    if "hosp_lv" not in stays.columns:
        stays = stays.with_columns(pl.lit("", dtype=pl.String).alias("hosp_lv"))
    admit = pl.col("begntime").dt.date()
    born = pl.col("brdy")
    return (
        stays.join(persons, on="psn_no", how="left")
        .join(diagnoses, on="mdtrt_id", how="left")
        .join(procedures, on="mdtrt_id", how="left")
        .with_columns(
            pl.col("mdtrt_id").alias("case_id"),
            pl.col("gend").alias("gender"),
            ((admit - born).dt.total_days() // 365.25).cast(pl.Int64).alias("age"),
            (admit - born).dt.total_days().cast(pl.Int64).alias("age_day"),
            pl.lit(None, dtype=pl.Int64).alias("weight"),
            pl.col("dept_codg").alias("dept"),
            pl.max_horizontal((pl.col("endtime").dt.date() - admit).dt.total_days(), pl.lit(1)).alias("los"),
            pl.col("dscg_way").replace("", "1").alias("leaving_type"),
            pl.col("diagnoses").fill_null(""),
            pl.col("procedures").fill_null(""),
            pl.col("endtime").dt.strftime("%Y-%m").alias("month"),
            pl.col("total_fen").cast(pl.Int64),
        )
        .select(*CASE_TABLE_COLUMNS)
        .sort("case_id")
    )


def coding_gaps(cases: pl.DataFrame, drop: Mapping[str, Collection[str]]) -> pl.DataFrame:
    """What some secondary diagnoses are worth: each case of ``drop`` grouped with and without the codes
    it names, the difference of the two groups' relative weights, and that difference in fen at the
    year's budget-neutral rate (the cases' total cost over their total weight, weights from the cases'
    own history as in :func:`pay_dataset`).

    Returns case_id, drg, drg_without, rw, rw_without (decimal text) and gap_fen (null where either group
    has no weight: a group the year never saw, an ungroupable case), in the order of ``cases``.

    >>> import polars as pl
    >>> coding_gaps(pl.DataFrame(schema={c: pl.String for c in CASE_TABLE_COLUMNS}), {}).columns
    ['case_id', 'drg', 'drg_without', 'rw', 'rw_without', 'gap_fen']
    """
    schema = {"case_id": pl.String, "drg": pl.String, "drg_without": pl.String, "rw": pl.String,
              "rw_without": pl.String, "gap_fen": pl.Int64}  # fmt: skip
    if cases.height == 0 or not drop:
        return pl.DataFrame(schema=schema)
    grouped = group_frame(cases)
    weights = weights_from_history(grouped, min_cases=1)
    rw = {g: w.rw_e4 for g, w in weights.weights.items()}
    kept = grouped.filter(pl.col("drg").is_in(list(rw)))
    total = int(kept.get_column("total_fen").sum() or 0)
    units = sum(rw[g] for g in kept.get_column("drg").to_list())
    named = grouped.filter(pl.col("case_id").is_in(list(drop)))
    without = group_frame(
        named.with_columns(
            pl.Series(
                "diagnoses",
                ["|".join(d for d in dx.split("|") if d not in drop[cid])
                 for cid, dx in named.select("case_id", "diagnoses").iter_rows()],
                dtype=pl.String,
            )
        )
    )  # fmt: skip
    rows = []
    for cid, g, g0 in zip(named.get_column("case_id"), named.get_column("drg"), without.get_column("drg"), strict=True):
        w, w0 = rw.get(g), rw.get(g0)
        gap = None if w is None or w0 is None or units == 0 else round_div((w - w0) * total, units)
        rows.append((cid, g, g0, weights.rw(g), weights.rw(g0), gap))
    return pl.DataFrame(rows, schema=schema, orient="row")


def pay_dataset(
    folder: Path | str,
    out: Path | str,
    *,
    region: str = "990100",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Group and pay a dataset's year; write drg_cases, drg_settlement (per case), drg_statements and drg_clearing Parquet files."""
    folder, out = Path(folder), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda stage, done, total: None)
    cases = cases_from_dataset(folder)
    total = cases.height
    say("drg group", 0, total)
    grouped = group_frame(cases, progress=lambda n: say("drg group", n, total))
    last_month = str(grouped.get_column("month").max() or f"{date.today().year}-12")
    year_end = date(int(last_month[:4]), 12, 31)
    params = payment_params(load_region(region), year_end)
    weights = weights_from_history(grouped, min_cases=1)
    priced = price_cases(grouped, weights, params)
    queue = review_queue(priced, params)
    priced = apply_reviews(priced, queue)
    budget = int(grouped.get_column("total_fen").sum() or 0)
    statements = monthly_statements(priced, budget, params)
    prepaid = prepayments(statements)
    clearing = clear_year(priced, budget, statements, prepaid, params)
    grouped.write_parquet(out / "drg_cases.parquet")
    to_frame(priced).write_parquet(out / "drg_settlement.parquet")  # per case: points, kind, cost
    to_frame(statements).write_parquet(out / "drg_statements.parquet")
    to_frame(list(clearing.hospitals)).write_parquet(out / "drg_clearing.parquet")
    status = grouped.group_by("status").len().sort("len", descending=True)
    say("drg group", total, total)
    return {
        "cases": total,
        "status": dict(status.iter_rows()),
        "groups": grouped.filter(pl.col("status") == "ok").get_column("drg").n_unique() if total else 0,
        "kinds": summary(priced),
        "review_queue": len(queue.entries),
        "budget_fen": budget,
        "point_value_yuan": clearing.point_value_yuan() if total else None,
        "parameters": params.reference,
    }
