"""labels.parquet against the dataset it describes, read back from disk."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from yibao.catalog.loader import default_catalog
from yibao.catalog.trace import validate_trace_code
from yibao.dataset.io import read_table, write_table
from yibao.dataset.schema import TABLES
from yibao.money import round_div
from yibao.synth.fraud import assignments, check_labels, inject
from yibao.synth.fraud.sample import sample_region

pytestmark = pytest.mark.integration

RATE = 0.05
TABLE_NAMES = (
    "psn_info_b", "fixmedins_b", "dept_b", "medstaff_b", "mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d",
    "fee_list_d", "drug_trac_d",
)  # fmt: skip


def _read(folder: Path) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    tables = {name: read_table(folder, name) for name in TABLE_NAMES}
    return tables, read_table(folder, "labels")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """A small region made by the real pipeline (two chunks, no settlement), read back from Parquet."""
    generate = pytest.importorskip("yibao.synth.generate")
    out = tmp_path_factory.mktemp("region")
    generate.synthesize(persons=3000, seed=3, out=out, fraud=RATE, chunk_size=1500, workers=1, settle=False)
    return _read(out)


def test_every_label_names_rows_that_exist_on_disk(region: tuple[dict[str, pl.DataFrame], pl.DataFrame]) -> None:
    tables, labels = region
    assert labels.height > 0
    assert check_labels(tables, labels) == []


def test_labels_come_from_both_chunks_with_distinct_case_ids(region: tuple[dict[str, pl.DataFrame], pl.DataFrame]) -> None:
    _, labels = region
    chunks = set(labels.get_column("case_id").str.extract(r"^C(\d+)-").drop_nulls().to_list())
    assert chunks == {"0", "1"}
    yearly = labels.filter(pl.col("case_id").str.starts_with("R-"))
    assert set(yearly.get_column("pattern").to_list()) <= {"doctor_outlier", "drug_swap", "overprice"}
    assert labels.filter(~pl.col("case_id").str.contains(r"^(C\d+|R)-")).height == 0
    per_case = labels.group_by("case_id").agg(pl.col("pattern").n_unique(), pl.col("label").n_unique())
    assert per_case.filter((pl.col("pattern") > 1) | (pl.col("label") > 1)).height == 0


def test_the_region_has_fourteen_fraud_patterns_and_the_hard_negatives(
    region: tuple[dict[str, pl.DataFrame], pl.DataFrame],
) -> None:
    _, labels = region
    fraud = set(labels.filter(pl.col("label") == "1").get_column("pattern").to_list())
    assert len(fraud) >= 14
    kinds = {json.loads(p).get("kind") for p in labels.filter(pl.col("label") == "0").get_column("params").to_list()}
    assert {"chemotherapy", "dialysis", "return_and_resale", "long_prescription", "bilateral_procedure"} <= kinds


def test_money_and_codes_stay_exact_and_valid_on_disk(region: tuple[dict[str, pl.DataFrame], pl.DataFrame]) -> None:
    tables, _ = region
    fee = tables["fee_list_d"]
    assert fee.get_column("det_item_fee_sumamt").to_list() == [
        round_div(p * c, 10**8) for p, c in fee.select("pric", "cnt").iter_rows()
    ]
    codes = tables["drug_trac_d"].get_column("drug_trac_codg").unique().to_list()
    assert [c for c in codes if validate_trace_code(c) is not None] == []
    for table, key in (("mdtrt_d", "mdtrt_id"), ("fee_list_d", "feedetl_sn")):
        ids = tables[table].get_column(key)
        assert ids.n_unique() == ids.len()


def test_the_signals_are_on_disk(region: tuple[dict[str, pl.DataFrame], pl.DataFrame]) -> None:
    tables, labels = region
    fraud = labels.filter(pl.col("label") == "1")
    trace = tables["drug_trac_d"]
    net = dict(
        trace.group_by("drug_trac_codg")
        .agg((pl.col("retn_flag") == "0").sum().cast(pl.Int64) - (pl.col("retn_flag") == "1").sum().cast(pl.Int64))
        .iter_rows()
    )
    resold = fraud.filter(pl.col("pattern") == "drug_resale").get_column("drug_trac_codg").unique().to_list()
    assert resold and all(net[c] >= 2 for c in resold)
    stays = {r["mdtrt_id"]: r for r in tables["mdtrt_d"].iter_rows(named=True)}
    deaths = dict(tables["psn_info_b"].select("psn_no", "death_date").iter_rows())
    for mid, psn in fraud.filter(pl.col("pattern") == "after_death").select("mdtrt_id", "psn_no").iter_rows():
        assert stays[mid]["begntime"].date() > deaths[psn]
    for case in fraud.filter(pl.col("pattern") == "overlap_stay").partition_by("case_id"):
        a, b = (stays[m] for m in case.get_column("mdtrt_id").to_list())
        assert a["begntime"] < b["endtime"] and b["begntime"] < a["endtime"]
    for case in fraud.filter(pl.col("pattern") == "split_admission").partition_by("case_id"):
        parts = sorted((stays[m] for m in case.get_column("mdtrt_id").to_list()), key=lambda s: s["begntime"])
        gaps = [(b["begntime"].date() - a["endtime"].date()).days for a, b in itertools.pairwise(parts)]
        assert gaps and all(1 <= g <= 15 for g in gaps)


def test_institution_level_cases_sit_at_the_institutions_made_bad(
    region: tuple[dict[str, pl.DataFrame], pl.DataFrame],
) -> None:
    tables, labels = region
    plan = assignments(tables, RATE)
    for pattern in ("overprice", "item_swap", "drug_swap", "card_cashout", "ghost_bed", "split_admission", "upcoding"):
        where = labels.filter((pl.col("pattern") == pattern) & (pl.col("label") == "1")).get_column("fixmedins_code")
        assert set(where.to_list()) <= set(plan[pattern].institutions), pattern


def test_injected_tables_round_trip_through_parquet_unchanged(tmp_path: Path) -> None:
    tables = sample_region(5, persons=600, chunk=4)
    out, labels = inject(np.random.default_rng([5, 4, 13]), tables, rate=RATE, catalog=default_catalog(), year=2024, chunk=4)
    for name in (*TABLE_NAMES, "labels"):
        write_table(tmp_path, name, labels if name == "labels" else out[name])
    back, back_labels = _read(tmp_path)
    assert back_labels.equals(labels.select(TABLES["labels"].names))
    for name in TABLE_NAMES:
        assert back[name].equals(out[name].select(TABLES[name].names)), name
    assert check_labels(back, back_labels) == []


def test_dying_in_hospital_look_alikes_are_the_generators_own_stays(
    region: tuple[dict[str, pl.DataFrame], pl.DataFrame],
) -> None:
    # the after_death hard negative labels a stay the care generator made (it adds no care)
    tables, labels = region
    rows = labels.filter((pl.col("pattern") == "after_death") & (pl.col("label") == "0"))
    assert rows.height
    stays = tables["mdtrt_d"].join(rows.select("mdtrt_id", "psn_no"), on=["mdtrt_id", "psn_no"])
    stays = stays.join(tables["psn_info_b"].select("psn_no", "death_date"), on="psn_no")
    assert stays.height == rows.height
    assert stays.get_column("mdtrt_id").str.contains(r"^M\d{12}$").all()  # a clean id, not an injected one
    assert (stays.get_column("dscg_way") == "5").all()
    assert (stays.get_column("endtime").dt.date() == stays.get_column("death_date")).all()
