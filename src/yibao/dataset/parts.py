"""One Parquet file from parts written elsewhere: their row groups are copied, not encoded again.

A worker process encodes its chunk of a table as a Parquet file of its own (:func:`write_part`); the
parent appends the parts to the table's file in chunk order (:class:`PartsWriter`): it copies the bytes
of each part's row groups (the column chunks, as they are: pages, dictionaries, statistics) and writes
one footer that lists them all. The result is the Parquet file one writer would have made of the
chunks one after another, while the parent, which runs beside the workers, only moves bytes.

The footer is Thrift's compact protocol (parquet.thrift ``FileMetaData``). It is read into a generic
tree (:func:`decode`), the row groups of the parts are put together with every file offset in them
moved by where their bytes now lie, and it is written back (:func:`encode`): a footer read and
written back unchanged is the same bytes.

>>> import tempfile, pathlib, polars as pl, pyarrow.parquet as pq
>>> from yibao.dataset.io import to_arrow
>>> from yibao.dataset.schema import TABLES
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rows = lambda n: pl.DataFrame({"psn_no": [str(i) for i in range(n)], "emp_no": [""] * n,
...     "insutype": ["310"] * n, "clct_month": ["2024-01"] * n, "clct_type": ["1"] * n,
...     "amount": list(range(n)), "to_account": [0] * n})
>>> for i, n in enumerate((3, 2)):
...     write_part(d / f"part{i}.parquet", "contribution_d", to_arrow(TABLES["contribution_d"], rows(n)))
>>> with PartsWriter(d, "contribution_d") as w:
...     w.append(d / "part0.parquet"); w.append(d / "part1.parquet")
>>> pq.read_table(d / "contribution_d.parquet").column("amount").to_pylist()
[Decimal('0.00'), Decimal('0.01'), Decimal('0.02'), Decimal('0.00'), Decimal('0.01')]
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from yibao.dataset.io import arrow_schema, writer_options
from yibao.dataset.schema import TABLES

MAGIC = b"PAR1"

# Thrift compact protocol types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)

Field = tuple[int, int, Any]
"""A struct's field: its id, its compact type and its value (a struct's value is a list of fields; a
list's is (element type, values); a map's (key type, value type, [(key, value)]))."""


class PartsError(ValueError):
    """A part that is not a Parquet file of the table's schema."""


# ---------------------------------------------------------------------------------------------
# Thrift compact protocol: a generic tree, read and written back byte for byte
# ---------------------------------------------------------------------------------------------


def decode(data: bytes) -> list[Field]:
    """The fields of the struct ``data`` holds (compact protocol).

    >>> decode(bytes([0x15, 0x04, 0x00]))  # field 1, i32 2
    [(1, 5, 2)]
    """
    try:
        fields, at = _Reader(data).struct(0)
    except IndexError:
        raise PartsError("a footer cut short") from None
    if at != len(data):
        raise PartsError(f"{len(data) - at} bytes after the footer's struct")
    return fields


def encode(fields: list[Field]) -> bytes:
    """The compact-protocol bytes of a struct of ``fields`` (the inverse of :func:`decode`).

    >>> encode([(1, 5, 2)]).hex()
    '150400'
    """
    out = bytearray()
    _write_struct(out, fields)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def varint(self, at: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            byte = self.data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, at
            shift += 7

    def zigzag(self, at: int) -> tuple[int, int]:
        n, at = self.varint(at)
        return (n >> 1) ^ -(n & 1), at

    def value(self, kind: int, at: int) -> tuple[Any, int]:
        if kind in (_TRUE, _FALSE):  # a bool in a list or map: one byte of its own
            return self.data[at], at + 1
        if kind == _BYTE:
            return self.data[at], at + 1
        if kind in (_I16, _I32, _I64):
            return self.zigzag(at)
        if kind == _DOUBLE:
            return self.data[at : at + 8], at + 8
        if kind == _BINARY:
            n, at = self.varint(at)
            return self.data[at : at + n], at + n
        if kind in (_LIST, _SET):
            head = self.data[at]
            at += 1
            n, elem = head >> 4, head & 0x0F
            if n == 15:
                n, at = self.varint(at)
            items = []
            for _ in range(n):
                item, at = self.value(elem, at)
                items.append(item)
            return (elem, items), at
        if kind == _MAP:
            n, at = self.varint(at)
            if n == 0:
                return (0, 0, []), at
            types = self.data[at]
            at += 1
            pairs = []
            for _ in range(n):
                k, at = self.value(types >> 4, at)
                v, at = self.value(types & 0x0F, at)
                pairs.append((k, v))
            return (types >> 4, types & 0x0F, pairs), at
        if kind == _STRUCT:
            return self.struct(at)
        raise PartsError(f"unknown Thrift compact type {kind}")

    def struct(self, at: int) -> tuple[list[Field], int]:
        fields: list[Field] = []
        last = 0
        while True:
            head = self.data[at]
            at += 1
            kind = head & 0x0F
            if kind == _STOP:
                return fields, at
            delta = head >> 4
            if delta:
                fid = last + delta
            else:
                fid, at = self.zigzag(at)
            if kind in (_TRUE, _FALSE):
                value: Any = kind == _TRUE
            else:
                value, at = self.value(kind, at)
            fields.append((fid, kind, value))
            last = fid


def _write_varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _write_zigzag(out: bytearray, n: int) -> None:
    _write_varint(out, (n << 1) ^ (n >> 63))


def _write_value(out: bytearray, kind: int, value: Any) -> None:
    if kind in (_TRUE, _FALSE, _BYTE):
        out.append(value)
    elif kind in (_I16, _I32, _I64):
        _write_zigzag(out, value)
    elif kind == _DOUBLE:
        out += value
    elif kind == _BINARY:
        _write_varint(out, len(value))
        out += value
    elif kind in (_LIST, _SET):
        elem, items = value
        if len(items) < 15:
            out.append((len(items) << 4) | elem)
        else:
            out.append(0xF0 | elem)
            _write_varint(out, len(items))
        for item in items:
            _write_value(out, elem, item)
    elif kind == _MAP:
        ktype, vtype, pairs = value
        _write_varint(out, len(pairs))
        if pairs:
            out.append((ktype << 4) | vtype)
            for k, v in pairs:
                _write_value(out, ktype, k)
                _write_value(out, vtype, v)
    elif kind == _STRUCT:
        _write_struct(out, value)
    else:
        raise PartsError(f"unknown Thrift compact type {kind}")


def _write_struct(out: bytearray, fields: list[Field]) -> None:
    last = 0
    for fid, kind, value in fields:
        head = (_TRUE if value else _FALSE) if kind in (_TRUE, _FALSE) else kind
        if 0 < fid - last <= 15:
            out.append(((fid - last) << 4) | head)
        else:
            out.append(head)
            _write_zigzag(out, fid)
        if kind not in (_TRUE, _FALSE):
            _write_value(out, kind, value)
        last = fid
    out.append(_STOP)


# ---------------------------------------------------------------------------------------------
# Parquet footers (parquet.thrift field ids)
# ---------------------------------------------------------------------------------------------

FILE_SCHEMA, FILE_NUM_ROWS, FILE_ROW_GROUPS = 2, 3, 4
GROUP_COLUMNS, GROUP_FILE_OFFSET, GROUP_ORDINAL = 1, 5, 7
CHUNK_FILE_PATH, CHUNK_FILE_OFFSET, CHUNK_META, CHUNK_OFFSET_INDEX, CHUNK_COLUMN_INDEX = 1, 2, 3, 4, 6
META_OFFSETS = frozenset({9, 10, 11, 14})
"""ColumnMetaData's data_page_offset, index_page_offset, dictionary_page_offset, bloom_filter_offset."""


def _get(fields: list[Field], fid: int) -> Any:
    return next((v for f, _, v in fields if f == fid), None)


def _replaced(fields: list[Field], fid: int, value: Any) -> list[Field]:
    """``fields`` with the value of field ``fid`` (a required one) replaced by ``value``."""
    return [(f, k, value if f == fid else v) for f, k, v in fields]


def _moved(fields: list[Field], ids: frozenset[int], by: int) -> list[Field]:
    """``fields`` with the offsets ``ids`` moved by ``by`` (an offset 0 is none: byte 0 is the magic,
    and pyarrow writes the deprecated ColumnChunk.file_offset as 0)."""
    return [(f, k, v + by if f in ids and v else v) for f, k, v in fields]


def _moved_column(column: list[Field], by: int) -> list[Field]:
    if _get(column, CHUNK_FILE_PATH) is not None:
        raise PartsError("a column chunk stored in another file")
    out = _moved(column, frozenset({CHUNK_FILE_OFFSET, CHUNK_OFFSET_INDEX, CHUNK_COLUMN_INDEX}), by)
    return [(f, k, _moved(v, META_OFFSETS, by) if f == CHUNK_META else v) for f, k, v in out]


def moved_row_group(group: list[Field], by: int, ordinal: int) -> list[Field]:
    """A row group's metadata with every offset into the file moved by ``by`` bytes, as the
    ``ordinal``-th row group of its new file (where the writer numbered them)."""
    out: list[Field] = []
    for f, k, v in group:
        if f == GROUP_COLUMNS:
            elem, columns = v
            v = (elem, [_moved_column(c, by) for c in columns])
        elif f == GROUP_FILE_OFFSET and v:
            v += by
        elif f == GROUP_ORDINAL:
            v = ordinal
        out.append((f, k, v))
    return out


def read_footer(f: BinaryIO, size: int) -> tuple[list[Field], int]:
    """The footer of the Parquet file ``f`` (``size`` bytes) and where it begins."""
    if size < 12:
        raise PartsError("too short for a Parquet file")
    f.seek(size - 8)
    tail = f.read(8)
    (length,) = struct.unpack("<I", tail[:4])
    start = size - 8 - length
    f.seek(0)
    if tail[4:] != MAGIC or f.read(4) != MAGIC or start < 4:
        raise PartsError("not a Parquet file")
    f.seek(start)
    return decode(f.read(length)), start


# ---------------------------------------------------------------------------------------------
# Writing parts, and one file of them
# ---------------------------------------------------------------------------------------------


def write_part(path: Path | str, name: str, data: pa.Table) -> None:
    """``data``, rows of table ``name`` in its on-disk schema (:func:`~yibao.dataset.io.to_arrow`), as
    a Parquet file encoded as :class:`~yibao.dataset.io.TableWriter` encodes the table, for a
    :class:`PartsWriter` to append."""
    pq.write_table(data, str(path), **writer_options(TABLES[name]))


class PartsWriter:
    """``folder/<name>.parquet`` made of parts (:func:`write_part`), appended in order: their row groups'
    bytes are copied and one footer lists them all. Every part must have the schema of the first.
    ``rows``: the rows appended so far."""

    def __init__(self, folder: Path | str, name: str) -> None:
        self.name = name
        self.path = Path(folder) / f"{name}.parquet"
        self.rows = 0
        self._out = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._out.write(MAGIC)
        self._at = len(MAGIC)
        self._head: list[Field] | None = None
        self._groups: list[list[Field]] = []

    def append(self, part: Path | str) -> None:
        """Append the row groups of the Parquet file ``part`` (PartsError if its schema differs)."""
        with open(part, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            footer, start = read_footer(f, size)
            if self._head is None:
                self._head = footer
            elif _get(footer, FILE_SCHEMA) != _get(self._head, FILE_SCHEMA):
                raise PartsError(f"{part}: not the schema of the first part of {self.path.name}")
            rows = int(_get(footer, FILE_NUM_ROWS))
            if rows == 0:  # (its empty row group is not copied: a writer appends no rows either)
                return
            by = self._at - len(MAGIC)
            for group in _get(footer, FILE_ROW_GROUPS)[1]:
                self._groups.append(moved_row_group(group, by, len(self._groups)))
            self._copy(f, len(MAGIC), start - len(MAGIC))
            self._at += start - len(MAGIC)
            self.rows += rows

    def _copy(self, f: BinaryIO, offset: int, count: int) -> None:
        """``count`` bytes of ``f`` from ``offset`` to the end of the file, in the kernel where it can."""
        self._out.flush()
        try:
            while count > 0:
                sent = os.copy_file_range(f.fileno(), self._out.fileno(), count, offset)
                if sent == 0:
                    raise PartsError("a part ended early")
                offset, count = offset + sent, count - sent
        except OSError:  # another file system, or no copy_file_range: through user space
            f.seek(offset)
            self._out.write(f.read(count))
        self._out.seek(0, os.SEEK_END)

    def close(self) -> None:
        if self._out.closed:
            return
        try:
            if self._head is not None:
                footer = _replaced(self._head, FILE_NUM_ROWS, self.rows)
                data = encode(_replaced(footer, FILE_ROW_GROUPS, (_STRUCT, self._groups)))
                self._out.write(data + struct.pack("<I", len(data)) + MAGIC)
        finally:
            self._out.close()
        if self._head is None:  # no part: the table's schema and no rows, as a writer leaves it
            table = TABLES[self.name]
            pq.ParquetWriter(self.path, arrow_schema(table), **writer_options(table)).close()

    def __enter__(self) -> PartsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
