"""Check a labels table against the data it describes: every entity it names exists and agrees.

``check_labels`` returns a list of problems (empty when the labels are true to the data): labels whose
encounter, fee line, trace code, person or institution is not in the tables, or whose fee line belongs to
another encounter, person or institution than the label says, cases that mix patterns or labels, and
params that are not JSON.

>>> from yibao.synth.fraud.sample import sample_region
>>> tables = sample_region(2, persons=30)
>>> row = dict.fromkeys(TABLES["labels"].names, "")
>>> labels = pl.DataFrame([{**row, "case_id": "c1", "pattern": "after_death", "label": "1", "mdtrt_id": "M?", "params": "{}"}])
>>> check_labels(tables, labels)
["mdtrt_id not in mdtrt_d: 1 label rows, e.g. [('c1', 'M?')]"]
"""

from __future__ import annotations

import json

import polars as pl

from yibao.dataset.schema import TABLES

VOCABULARY = frozenset(
    [
        "split_admission",
        "ghost_bed",
        "fake_admission",
        "drug_resale",
        "drug_swap",
        "item_swap",
        "card_cashout",
        "duplicate_charge",
        "overprice",
        "unbundling",
        "overdispense",
        "gender_age",
        "indication",
        "frequency",
        "overlap_stay",
        "after_death",
        "identity_fraud",
        "doctor_outlier",
        "upcoding",
        "catalogue_scope",
    ]
)
"""The pattern names of DESIGN.md §3.5."""


def check_labels(tables: dict[str, pl.DataFrame], labels: pl.DataFrame, *, limit: int = 20) -> list[str]:
    """Problems of ``labels`` against ``tables`` (at most ``limit`` per kind), empty when all is true."""
    problems: list[str] = []

    def report(kind: str, frame: pl.DataFrame, cols: list[str]) -> None:
        if frame.height:
            sample = frame.select(cols).head(limit).rows()
            problems.append(f"{kind}: {frame.height} label rows, e.g. {sample}")

    missing = [c for c in TABLES["labels"].names if c not in labels.columns]
    if missing:
        return [f"labels lack columns {missing}"]
    report("empty case_id", labels.filter(pl.col("case_id").fill_null("") == ""), ["pattern"])
    report("label not 0/1", labels.filter(~pl.col("label").is_in(["0", "1"])), ["case_id", "label"])
    report(
        "unknown pattern", labels.filter(~pl.col("pattern").is_in(sorted(VOCABULARY))), ["case_id", "pattern"]
    )
    mixed = labels.group_by("case_id").agg(
        pl.col("pattern").n_unique().alias("p"), pl.col("label").n_unique().alias("l")
    )
    report("case mixing patterns or labels", mixed.filter((pl.col("p") > 1) | (pl.col("l") > 1)), ["case_id"])
    for name, table, key in (
        ("mdtrt_id", "mdtrt_d", "mdtrt_id"),
        ("feedetl_sn", "fee_list_d", "feedetl_sn"),
        ("drug_trac_codg", "drug_trac_d", "drug_trac_codg"),
        ("psn_no", "psn_info_b", "psn_no"),
        ("fixmedins_code", "fixmedins_b", "fixmedins_code"),
    ):
        named = labels.filter(pl.col(name).fill_null("") != "")
        known = tables[table].select(pl.col(key).alias(name)).unique()
        report(
            f"{name} not in {table}",
            named.join(known, on=name, how="anti", maintain_order="left"),
            ["case_id", name],
        )
    fee = tables["fee_list_d"].select(
        "feedetl_sn",
        pl.col("mdtrt_id").alias("f_m"),
        pl.col("psn_no").alias("f_p"),
        pl.col("fixmedins_code").alias("f_i"),
    )
    lines = labels.filter(pl.col("feedetl_sn") != "").join(
        fee, on="feedetl_sn", how="inner", maintain_order="left"
    )
    report("fee line of another encounter", lines.filter((pl.col("mdtrt_id") != "") & (pl.col("mdtrt_id") != pl.col("f_m"))),
           ["case_id", "feedetl_sn", "mdtrt_id", "f_m"])  # fmt: skip
    report("fee line of another person", lines.filter((pl.col("psn_no") != "") & (pl.col("psn_no") != pl.col("f_p"))),
           ["case_id", "feedetl_sn", "psn_no", "f_p"])  # fmt: skip
    report("fee line of another institution",
           lines.filter((pl.col("fixmedins_code") != "") & (pl.col("fixmedins_code") != pl.col("f_i"))),
           ["case_id", "feedetl_sn", "fixmedins_code", "f_i"])  # fmt: skip
    enc = tables["mdtrt_d"].select(
        "mdtrt_id", pl.col("psn_no").alias("m_p"), pl.col("fixmedins_code").alias("m_i")
    )
    stays = labels.filter(pl.col("mdtrt_id") != "").join(
        enc, on="mdtrt_id", how="inner", maintain_order="left"
    )
    report("encounter of another person", stays.filter((pl.col("psn_no") != "") & (pl.col("psn_no") != pl.col("m_p"))),
           ["case_id", "mdtrt_id", "psn_no", "m_p"])  # fmt: skip
    report("encounter of another institution",
           stays.filter((pl.col("fixmedins_code") != "") & (pl.col("fixmedins_code") != pl.col("m_i"))),
           ["case_id", "mdtrt_id", "fixmedins_code", "m_i"])  # fmt: skip
    scans = labels.filter((pl.col("drug_trac_codg") != "") & (pl.col("feedetl_sn") != ""))
    pairs = tables["drug_trac_d"].select("drug_trac_codg", "feedetl_sn").unique()
    report("trace code not scanned on that line", scans.join(pairs, on=["drug_trac_codg", "feedetl_sn"], how="anti", maintain_order="left"),
           ["case_id", "drug_trac_codg", "feedetl_sn"])  # fmt: skip
    bad_json = []
    for case_id, params in labels.select("case_id", "params").iter_rows():
        try:
            json.loads(params)
        except (TypeError, ValueError):
            bad_json.append(case_id)
    if bad_json:
        problems.append(f"params not JSON: {len(bad_json)} rows, e.g. {bad_json[:limit]}")
    return problems
