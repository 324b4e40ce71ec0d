"""The SQLite stores of the supervision desk (cases and their ledger, doctor points): append-only tables.

>>> print(append_only("postings", "postings"))  # doctest: +NORMALIZE_WHITESPACE
CREATE TRIGGER IF NOT EXISTS postings_append_only_u BEFORE UPDATE ON postings
    BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END;
CREATE TRIGGER IF NOT EXISTS postings_append_only_d BEFORE DELETE ON postings
    BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END;
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def append_only(table: str, what: str) -> str:
    """Triggers that refuse every UPDATE and DELETE on ``table`` ("``what`` are append-only")."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{op[0].lower()} BEFORE {op} ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{what} are append-only'); END;\n"
        for op in ("UPDATE", "DELETE")
    )


def connect(path: Path | str, schema: str) -> sqlite3.Connection:
    """The store at ``path`` (WAL, foreign keys on), its tables and triggers created if missing."""
    con = sqlite3.connect(str(path))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.executescript(schema)
    return con
