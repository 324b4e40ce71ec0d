"""Parquet parts appended into one file: the same bytes a single writer makes, read alike everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.dataset.io import TableWriter, polars_schema, read_table, to_arrow
from yibao.dataset.parts import PartsError, PartsWriter, decode, encode, read_footer, write_part
from yibao.dataset.schema import TABLES


def _fee_lines(n: int, first: int = 0) -> pa.Table:
    t0 = datetime(2024, 3, 1, 8)
    ids = range(first, first + n)
    frame = pl.DataFrame(
        {
            "feedetl_sn": [f"F{i:08d}" for i in ids],
            "mdtrt_id": [f"M{i // 3:08d}" for i in ids],
            "psn_no": [f"P{i // 7:06d}" for i in ids],
            "fixmedins_code": [f"H{i % 5}" for i in ids],
            "med_list_codg": [f"X{i % 11:04d}" for i in ids],
            "med_chrgitm_type": ["09"] * n,
            "fee_ocur_time": [t0 + timedelta(minutes=i) for i in ids],
            "cnt": [10_000 * (1 + i % 3) for i in ids],
            "pric": [1_234_500 + i for i in ids],
            "det_item_fee_sumamt": [(1 + i % 3) * 12_345 for i in ids],
        }
    )
    table, kinds = TABLES["fee_list_d"], polars_schema(TABLES["fee_list_d"])
    missing = {c.name: pl.lit("" if c.kind == "str" else None, dtype=kinds[c.name]) for c in table.columns}
    return to_arrow(table, frame.with_columns(**{c: e for c, e in missing.items() if c not in frame.columns}))


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
    assert back["feedetl_sn"].to_list() == [f"F{i:08d}" for i in range(800)]
    assert back["det_item_fee_sumamt"].sum() == sum((1 + i % 3) * 12_345 for i in range(800))
    query = f"select count(*), max(feedetl_sn) from '{path}' where mdtrt_id >= 'M00000200'"
    assert duckdb.sql(query).fetchall() == [(200, "F00000799")]
    second = pl.scan_parquet(path).filter(pl.col("feedetl_sn") == "F00000650").collect()
    assert second["mdtrt_id"].to_list() == ["M00000216"]


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


def test_no_parts_leave_the_tables_schema_and_no_rows(tmp_path: Path) -> None:
    PartsWriter(tmp_path, "fee_list_d").close()
    empty = read_table(tmp_path, "fee_list_d")
    assert empty.height == 0 and "feedetl_sn" in empty.columns
