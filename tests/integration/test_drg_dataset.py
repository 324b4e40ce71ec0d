"""DRG payment over a synthetic dataset: every settled stay becomes a case, the amounts add up to the fen."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from yibao.dataset.io import read_table
from yibao.drg.dataset import cases_from_dataset, coding_gaps, pay_dataset
from yibao.drg.tables import TablesError, TablesMissing, load_tables
from yibao.money import round_div
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


def test_a_dropped_mcc_is_priced_as_the_weight_gap_at_the_budget_neutral_rate() -> None:
    try:
        load_tables()
    except (TablesError, TablesMissing) as e:
        pytest.skip(f"CHS-DRG tables absent: {e}")
    cases = pl.DataFrame(
        {
            "case_id": ["c1", "c2", "c3", "c4"],
            "gender": ["1"] * 4,
            "age": [70] * 4,
            "los": [5] * 4,
            "diagnoses": ["J18.900", "J18.900", "J18.900|I50.900", "J18.900|I50.900"],
            "total_fen": [300_000, 500_000, 900_000, 1_100_000],
        }
    )
    gaps = coding_gaps(cases, {"c4": ["I50.900"]})
    assert gaps.rows() == [("c4", "ES31", "ES35", "1.4286", "0.5714", 600_040)]
    # ES35 mean 4,000 of an overall 7,000 yuan → 0.5714; ES31 → 1.4286; rate 2,800,000 fen / 4.0000 weights
    assert round_div((14_286 - 5_714) * 2_800_000, 2 * 5_714 + 2 * 14_286) == 600_040
    assert coding_gaps(cases, {"c2": ["I50.900"]}).get_column("gap_fen").to_list() == [0]  # nothing to drop
