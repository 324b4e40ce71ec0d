"""Dataset tables on disk: exact money both ways, CSV accepted, floats and lost digits refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _tables import fee_lines as _fee_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.dataset.io import DatasetError, TableWriter, read_table, to_arrow, write_table
from yibao.dataset.schema import TABLES

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


def test_chunks_written_as_frames_or_arrow_tables_read_back_exactly(tmp_path: Path) -> None:
    first, second = _fee_lines(500), _fee_lines(300, first=500)
    with TableWriter(tmp_path, "fee_list_d") as w:
        w.write(first)
        w.write_arrow(to_arrow(TABLES["fee_list_d"], second))
        assert w.rows == 800
    assert pq.ParquetFile(tmp_path / "fee_list_d.parquet").metadata.num_row_groups == 2
    assert read_table(tmp_path, "fee_list_d").equals(pl.concat([first, second]))
    duck = duckdb.sql(  # another reader: exact decimals, the same sums in fen
        f"select sum(det_item_fee_sumamt) * 100, sum(pric) * 1000000 from '{tmp_path / 'fee_list_d.parquet'}'"
    ).fetchall()[0]
    both = pl.concat([first, second])
    assert duck == (both["det_item_fee_sumamt"].sum(), both["pric"].sum())


def test_money_is_decimal_stored_as_int64_and_ids_have_no_dictionary(tmp_path: Path) -> None:
    write_table(tmp_path, "fee_list_d", _fee_lines(2_000))
    meta = pq.ParquetFile(tmp_path / "fee_list_d.parquet").metadata
    columns = {meta.schema.column(i).name: meta.row_group(0).column(i) for i in range(meta.num_columns)}
    for name in ("cnt", "pric", "det_item_fee_sumamt"):
        assert columns[name].physical_type == "INT64", name
    assert str(pq.read_schema(tmp_path / "fee_list_d.parquet").field("pric").type) == "decimal128(16, 6)"
    assert not any("DICTIONARY" in e for e in columns["feedetl_sn"].encodings)
    assert not any("DICTIONARY" in e for e in columns["fee_ocur_time"].encodings)
    assert any("DICTIONARY" in e for e in columns["med_list_codg"].encodings)


def test_an_arrow_table_not_in_the_on_disk_schema_is_refused(tmp_path: Path) -> None:
    frame = _fee_lines(3)
    with TableWriter(tmp_path, "fee_list_d") as w:
        with pytest.raises(DatasetError, match="fee_list_d: an Arrow table not in the on-disk schema"):
            w.write_arrow(frame.to_arrow())  # money still Int64 fen, not DECIMAL
        assert w.rows == 0
