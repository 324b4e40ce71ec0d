"""Drug traceability codes (药品追溯码) of yibao's synthetic region: product prefixes, serials, checks.

A 码上放心 code is 20 digits and starts with ``8``; its first 7 digits (药品标识码) identify the product,
its specification and its package, so supervision can tell which product a scanned box really is
(supervision.md §2). The national assignment of prefixes to products is not public, so yibao derives
one from the catalogue code, and its own split of the remaining 13 digits:

=========  ========  ================================================================================
digits     name      yibao's scheme
=========  ========  ================================================================================
1–7        prefix    :func:`product_prefix`: ``8`` + 6 digits, the BLAKE2b-64 hash of the catalogue code
                     (``med_list_codg``, UTF-8, personalised ``yibao-trace``) modulo 10**6
8–16       serial    9 digits: in clean synthetic data the chunk number (3 digits, 000–899) then a
                     sequence within the chunk and the prefix (6 digits); serials from 900000000 up are
                     reserved for codes made outside :func:`yibao.synth.care.make_care` (fraud
                     injection, tests), so they never collide with clean codes
17–20      check     the first 16 digits read as one integer, modulo 9973 (the largest 4-digit prime),
                     zero-padded: any single wrong digit and any swap of two adjacent different digits
                     among the first 16 changes the check
=========  ========  ================================================================================

Real codes need none of this: readers must treat digits 8–20 as opaque, and only the prefix → product
table (:func:`prefix_table`) is shared with the supervision engine. Two catalogue codes may, rarely,
hash to one prefix (about n²/2·10⁻⁶ for n drug codes); :func:`prefix_table` lists both, and
``prefix_collisions`` names them so a region can see it.

>>> product_prefix("XJ01CAW001A010010167184")
'8499638'
>>> code = trace_code("8499638", 12_000_345)
>>> code, validate_trace_code(code)
('84996380120003455143', None)
>>> validate_trace_code("84996380120003455144")
'check digits 5144 do not match (expected 5143)'
>>> parse_trace_code(code)
TraceCode(prefix='8499638', serial=12000345, check=5143)
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from yibao.catalog.model import Catalog

__all__ = [
    "CHECK_MODULUS",
    "CLEAN_CHUNKS",
    "RESERVED_SERIAL_START",
    "SERIALS_PER_CHUNK",
    "TraceCode",
    "check_digits",
    "parse_trace_code",
    "prefix_collisions",
    "prefix_table",
    "product_prefix",
    "serial",
    "trace_code",
    "trace_codes",
    "validate_trace_code",
]

CODE_LENGTH = 20
CHECK_MODULUS = 9973
"""The check digits are the 16-digit prefix + serial modulo this prime (so they fit in 4 digits)."""
SERIALS_PER_CHUNK = 10**6
"""Serials a clean chunk may use per prefix (the 6-digit sequence)."""
CLEAN_CHUNKS = 900
"""Chunks 0–899 number clean codes; serials from RESERVED_SERIAL_START up are for other makers."""
RESERVED_SERIAL_START = CLEAN_CHUNKS * SERIALS_PER_CHUNK
_PERSON = b"yibao-trace"


class TraceCode(NamedTuple):
    """A traceability code split into yibao's parts (see the module docstring)."""

    prefix: str
    serial: int
    check: int


def product_prefix(med_list_codg: str) -> str:
    """The 7-digit product-and-package prefix of a catalogue drug: ``8`` + 6 hash digits (stable).

    >>> product_prefix("XA10BAY026A001010127690")
    '8792357'
    """
    digest = hashlib.blake2b(med_list_codg.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return f"8{int.from_bytes(digest, 'big') % 10**6:06d}"


def serial(chunk: int, seq: int) -> int:
    """The 9-digit serial of the ``seq``-th code of one prefix in clean chunk ``chunk``.

    >>> serial(12, 345)
    12000345
    """
    if not 0 <= chunk < CLEAN_CHUNKS:
        raise ValueError(f"chunk {chunk} is outside 0–{CLEAN_CHUNKS - 1}: traceability serials would overflow")
    if not 0 <= seq < SERIALS_PER_CHUNK:
        raise ValueError(f"sequence {seq} is outside 0–{SERIALS_PER_CHUNK - 1} for one prefix in one chunk")
    return chunk * SERIALS_PER_CHUNK + seq


def check_digits(prefix: int, serial_no: int) -> int:
    """The 4 check digits of a 7-digit prefix and a 9-digit serial (as integers)."""
    return (prefix * 10**9 + serial_no) % CHECK_MODULUS


def trace_code(prefix: str, serial_no: int) -> str:
    """One 20-digit code from a prefix (7 digits) and a serial (0–999999999)."""
    if len(prefix) != 7 or not prefix.isdigit() or not prefix.isascii() or prefix[0] != "8":
        raise ValueError(f"prefix must be 7 digits starting with 8, not {prefix!r}")
    if not 0 <= serial_no < 10**9:
        raise ValueError(f"serial must have at most 9 digits, not {serial_no}")
    return f"{prefix}{serial_no:09d}{check_digits(int(prefix), serial_no):04d}"


def parse_trace_code(code: str) -> TraceCode:
    """Split a code into prefix, serial and check; ``ValueError`` naming the reason if it is invalid."""
    reason = validate_trace_code(code)
    if reason is not None:
        raise ValueError(f"traceability code {code!r}: {reason}")
    return TraceCode(code[:7], int(code[7:16]), int(code[16:]))


def validate_trace_code(code: object, *, prefixes: Collection[str] | None = None) -> str | None:
    """Why ``code`` is not a valid yibao traceability code, or None when it is.

    With ``prefixes`` (e.g. the prefix column of :func:`prefix_table`), a prefix outside it is reported
    as unknown (未对照).

    >>> validate_trace_code("8123")
    'has 4 characters, not 20'
    >>> validate_trace_code("7" * 20)
    'does not start with 8'
    >>> validate_trace_code("84996380120003455143", prefixes={"8000001"})
    'unknown product prefix 8499638'
    """
    if not isinstance(code, str):
        return f"must be a string, not {type(code).__name__}"
    if len(code) != CODE_LENGTH:
        return f"has {len(code)} characters, not {CODE_LENGTH}"
    if not (code.isascii() and code.isdigit()):
        return "has characters other than the digits 0–9"
    if code[0] != "8":
        return "does not start with 8"
    expected = check_digits(int(code[:7]), int(code[7:16]))
    if int(code[16:]) != expected:
        return f"check digits {code[16:]} do not match (expected {expected:04d})"
    if prefixes is not None and code[:7] not in prefixes:
        return f"unknown product prefix {code[:7]}"
    return None


# 4-digit groups as little-endian uint32 words of ASCII digits, for building many codes at once
_WORDS = np.frombuffer(b"".join(f"{i:04d}".encode() for i in range(10_000)), dtype="<u4")


def trace_codes(prefix: np.ndarray, serials: np.ndarray) -> pl.Series:
    """Codes for arrays of integer prefixes (7 digits) and serials (9 digits), vectorised.

    >>> trace_codes(np.array([8499638]), np.array([12_000_345])).to_list()
    ['84996380120003455143']
    """
    p = np.asarray(prefix, dtype=np.int64)
    s = np.asarray(serials, dtype=np.int64)
    n = len(p)
    check = (p * (10**9 % CHECK_MODULUS) + s) % CHECK_MODULUS
    p32, s32 = p.astype(np.int32), s.astype(np.int32)
    words = np.empty((n, 5), dtype="<u4")
    words[:, 0] = _WORDS[p32 // 1000]  # digits 1–4
    words[:, 1] = _WORDS[(p32 % 1000) * 10 + s32 // 100_000_000]  # digits 5–7 and the serial's first
    words[:, 2] = _WORDS[(s32 // 10_000) % 10_000]  # serial digits 2–5
    words[:, 3] = _WORDS[s32 % 10_000]  # serial digits 6–9
    words[:, 4] = _WORDS[check]
    offsets = np.arange(0, (n + 1) * CODE_LENGTH, CODE_LENGTH, dtype=np.int64)
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(words))
    out = pl.from_arrow(arr)
    assert isinstance(out, pl.Series)
    return out.alias("drug_trac_codg")


def prefix_table(catalog: Catalog) -> pl.DataFrame:
    """The prefix → product table of every drug (西药中成药) in ``catalog``: prefix, med_list_codg, name.

    One row per catalogue code (the name of its latest version), sorted by prefix then code; herbs,
    services and consumables carry no traceability code and are not listed.
    """
    names: dict[str, str] = {}
    for item in sorted(catalog.items(), key=lambda i: (i.med_list_codg, i.begndate)):
        if item.list_type == "drug":
            names[item.med_list_codg] = item.name
    rows = sorted((product_prefix(code), code, name) for code, name in names.items())
    return pl.DataFrame(
        {
            "prefix": [r[0] for r in rows],
            "med_list_codg": [r[1] for r in rows],
            "name": [r[2] for r in rows],
        },
        schema={"prefix": pl.String, "med_list_codg": pl.String, "name": pl.String},
    )


def prefix_collisions(catalog: Catalog) -> pl.DataFrame:
    """The rows of :func:`prefix_table` whose prefix is shared by more than one catalogue code."""
    table = prefix_table(catalog)
    return table.filter(pl.col("prefix").is_duplicated())
