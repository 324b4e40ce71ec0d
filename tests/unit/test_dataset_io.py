"""Dataset tables on disk: exact money both ways, CSV accepted, floats and lost digits refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.dataset.io import DatasetError, read_table, write_table

ROW = {"psn_no": "P1", "emp_no": "", "insutype": "310", "clct_month": "2024-01", "clct_type": "1"}


def _frame(amounts: list[int]) -> pl.DataFrame:
    n = len(amounts)
    return pl.DataFrame({**{k: [v] * n for k, v in ROW.items()}, "amount": amounts, "to_account": [0] * n})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1), min_size=1, max_size=50))
def test_money_survives_a_round_trip_to_the_fen(
    tmp_path_factory: pytest.TempPathFactory, amounts: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("ds")
    write_table(folder, "contribution_d", _frame(amounts))
    assert read_table(folder, "contribution_d")["amount"].to_list() == amounts
    on_disk = pq.read_table(folder / "contribution_d.parquet").column("amount").to_pylist()
    assert on_disk == [Decimal(a).scaleb(-2) for a in amounts]


def test_a_csv_table_is_read_exactly(tmp_path: Path) -> None:
    (tmp_path / "contribution_d.csv").write_text(
        "psn_no,emp_no,insutype,clct_month,clct_type,amount,to_account\nP1,,310,2024-01,1,123.45,-0.05\n",
        encoding="utf-8",
    )
    df = read_table(tmp_path, "contribution_d")
    assert df["amount"].to_list() == [12345] and df["to_account"].to_list() == [-5]


def test_a_float_money_column_is_refused_with_its_name(tmp_path: Path) -> None:
    table = pa.table({**{k: [v] for k, v in ROW.items()}, "amount": [1.5], "to_account": [0.0]})
    pq.write_table(table, tmp_path / "contribution_d.parquet")
    with pytest.raises(DatasetError, match=r"column amount.*floating point"):
        read_table(tmp_path, "contribution_d")


def test_a_decimal_with_more_places_than_money_is_refused_unless_exact(tmp_path: Path) -> None:
    amounts = pa.array([Decimal("1.2345")], type=pa.decimal128(16, 4))
    table = pa.table({**{k: [v] for k, v in ROW.items()}, "amount": amounts, "to_account": amounts})
    pq.write_table(table, tmp_path / "contribution_d.parquet")
    with pytest.raises(DatasetError, match="column amount: has more than 2 decimal places"):
        read_table(tmp_path, "contribution_d")


def test_a_missing_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="table setl_d is missing"):
        read_table(tmp_path, "setl_d")
