"""Parquet parts appended into one file: the same bytes a single writer makes, read alike everywhere."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from _tables import fee_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.dataset.io import TableWriter, read_table, to_arrow
from yibao.dataset.parts import PartsError, PartsWriter, decode, encode, read_footer, write_part
from yibao.dataset.schema import TABLES


def _fee_lines(n: int, first: int = 0) -> pa.Table:
    return to_arrow(TABLES["fee_list_d"], fee_lines(n, first))


def _parts_file(folder: Path, pieces: list[pa.Table]) -> Path:
    with PartsWriter(folder, "fee_list_d") as w:
        for i, piece in enumerate(pieces):
            write_part(folder / f"part{i}.parquet", "fee_list_d", piece)
            w.append(folder / f"part{i}.parquet")
    assert w.rows == sum(p.num_rows for p in pieces)
    return w.path


def _one_writer_file(folder: Path, pieces: list[pa.Table]) -> Path:
    folder.mkdir()
    with TableWriter(folder, "fee_list_d") as w:
        for piece in pieces:
            w.write_arrow(piece)
    return w.path


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=5))
def test_parts_appended_make_the_bytes_one_writer_makes(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("parts")
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    pieces = [_fee_lines(n, first) for n, first in zip(sizes, starts, strict=True)]
    merged = _parts_file(folder, pieces)
    single = _one_writer_file(folder / "one", pieces)
    assert merged.read_bytes() == single.read_bytes()


def test_a_file_of_parts_reads_back_in_polars_duckdb_and_by_row_group(tmp_path: Path) -> None:
    pieces = [_fee_lines(300), _fee_lines(0, 300), _fee_lines(500, 300)]
    path = _parts_file(tmp_path, pieces)
    back = read_table(tmp_path, "fee_list_d")
    assert back["feedetl_sn"].to_list() == [f"F{i}" for i in range(800)]
    assert back["det_item_fee_sumamt"].sum() == sum(i * 17 - 500 for i in range(800))
    query = f"select count(*), sum(det_item_fee_sumamt) from '{path}' where fixmedins_code = 'H1'"
    assert duckdb.sql(query).fetchall() == [(267, Decimal(sum(i * 17 - 500 for i in range(1, 800, 3))) / 100)]
    second = pl.scan_parquet(path).filter(pl.col("feedetl_sn") == "F650").collect()
    assert second["mdtrt_id"].to_list() == ["M92"]


def test_a_footer_read_and_written_back_is_the_same_bytes(tmp_path: Path) -> None:
    write_part(tmp_path / "p.parquet", "fee_list_d", _fee_lines(50))
    data = (tmp_path / "p.parquet").read_bytes()
    with open(tmp_path / "p.parquet", "rb") as f:
        footer, start = read_footer(f, len(data))
    assert encode(footer) == data[start:-8]
    assert decode(encode([(1, 5, -3), (40, 8, b"x"), (41, 1, True), (42, 2, False)])) == [
        (1, 5, -3), (40, 8, b"x"), (41, 1, True), (42, 2, False),
    ]  # fmt: skip


def test_a_part_of_another_schema_is_refused(tmp_path: Path) -> None:
    write_part(tmp_path / "a.parquet", "fee_list_d", _fee_lines(5))
    contributions = pl.DataFrame({"psn_no": ["1"], "emp_no": [""], "insutype": ["310"], "clct_month": ["2024-01"],
                                  "clct_type": ["1"], "amount": [1], "to_account": [0]})  # fmt: skip
    write_part(tmp_path / "b.parquet", "contribution_d", to_arrow(TABLES["contribution_d"], contributions))
    w = PartsWriter(tmp_path, "fee_list_d")
    w.append(tmp_path / "a.parquet")
    with pytest.raises(PartsError, match="not the schema of the first part"):
        w.append(tmp_path / "b.parquet")
    w.close()
    assert read_table(tmp_path, "fee_list_d").height == 5


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 this is not a footer at all PAR1")
    with PartsWriter(tmp_path, "fee_list_d") as w, pytest.raises(PartsError, match="not a Parquet file"):
        w.append(tmp_path / "junk.parquet")


def test_a_footer_cut_short_is_refused() -> None:
    with pytest.raises(PartsError, match="cut short"):
        decode(encode([(1, 5, 2), (2, 8, b"abc")])[:-3])


def test_no_parts_leave_the_tables_schema_and_no_rows(tmp_path: Path) -> None:
    PartsWriter(tmp_path, "fee_list_d").close()
    empty = read_table(tmp_path, "fee_list_d")
    assert empty.height == 0 and "feedetl_sn" in empty.columns
