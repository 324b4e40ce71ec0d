"""DRG payment over a synthetic dataset: every settled stay becomes a case, the amounts add up to the fen."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from yibao.dataset.io import read_table
from yibao.drg.dataset import cases_from_dataset, pay_dataset
from yibao.drg.tables import TablesError, TablesMissing, load_tables
from yibao.synth.generate import synthesize

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        load_tables()
    except (TablesError, TablesMissing) as e:
        pytest.skip(f"CHS-DRG tables absent: {e}")
    out = tmp_path_factory.mktemp("ds")
    synthesize(persons=1500, seed=3, out=out, workers=1)
    return out


def test_every_settled_stay_is_a_case_with_its_cost(dataset: Path) -> None:
    cases = cases_from_dataset(dataset)
    setl = read_table(dataset, "setl_d", ["mdtrt_id", "med_type", "medfee_sumamt"])
    stays = setl.filter(pl.col("med_type").is_in(["21", "22", "23", "24", "26", "28", "52"]))
    assert cases.height == stays.height > 0
    joined = cases.join(stays, left_on="case_id", right_on="mdtrt_id")
    assert (joined["total_fen"] == joined["medfee_sumamt"]).all()
    assert cases["diagnoses"].str.len_chars().min() > 0  # principal diagnosis first, always present


def test_the_year_is_paid_by_points_and_clears_against_the_budget(dataset: Path, tmp_path: Path) -> None:
    summary = pay_dataset(dataset, tmp_path)
    assert summary["cases"] > 0 and summary["status"].get("ok", 0) > summary["cases"] // 2
    clearing = pl.read_parquet(tmp_path / "drg_clearing.parquet")
    net_budget = summary["budget_fen"] - summary["budget_fen"] * 5 // 100  # 5 % 调剂金 (990100 drg.yaml)
    assert abs(int(clearing["final_fen"].sum()) - net_budget) <= 1
    statements = pl.read_parquet(tmp_path / "drg_statements.parquet")
    assert int(statements["cases"].sum()) == summary["cases"]
    for row in clearing.iter_rows(named=True):
        assert row["balance_fen"] == row["final_fen"] - row["monthly_paid_fen"] - row["prepaid_fen"]
