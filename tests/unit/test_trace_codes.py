"""Drug traceability codes: the product prefix, yibao's serial and check digits, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.catalog.loader import default_catalog
from yibao.catalog.trace import (
    CHECK_MODULUS,
    RESERVED_SERIAL_START,
    TraceCode,
    parse_trace_code,
    prefix_collisions,
    prefix_table,
    product_prefix,
    serial,
    trace_code,
    trace_codes,
    validate_trace_code,
)

prefixes = st.integers(0, 999_999).map(lambda n: f"8{n:06d}")
serials = st.integers(0, 10**9 - 1)


def test_prefix_is_8_and_six_digits_and_stable() -> None:
    p = product_prefix("XA10BAY026A001010127690")
    assert len(p) == 7 and p.isdigit() and p.startswith("8")
    assert product_prefix("XA10BAY026A001010127690") == p
    assert product_prefix("XA10BAY026A001010127691") != p


def test_prefix_table_lists_every_drug_of_the_catalogue_once() -> None:
    catalog = default_catalog()
    table = prefix_table(catalog)
    drugs = {i.med_list_codg for i in catalog.items() if i.list_type == "drug"}
    assert set(table["med_list_codg"]) == drugs
    assert table.height == len(drugs)
    assert all(product_prefix(c) == p for p, c in zip(table["prefix"], table["med_list_codg"], strict=True))
    assert table["prefix"].to_list() == sorted(table["prefix"].to_list())


def test_starter_catalogue_has_no_prefix_collision() -> None:
    assert prefix_collisions(default_catalog()).height == 0


@given(prefixes, serials)
def test_a_made_code_is_valid_and_parses_back(prefix: str, serial_no: int) -> None:
    code = trace_code(prefix, serial_no)
    assert len(code) == 20 and code.isdigit() and code[0] == "8"
    assert code[:7] == prefix
    assert validate_trace_code(code) is None
    assert parse_trace_code(code) == TraceCode(prefix, serial_no, int(code[16:]))


@given(prefixes, serials, st.integers(1, 15), st.integers(1, 9))
def test_a_wrong_digit_is_caught(prefix: str, serial_no: int, position: int, delta: int) -> None:
    code = trace_code(prefix, serial_no)
    digit = (int(code[position]) + delta) % 10
    bad = code[:position] + str(digit) + code[position + 1 :]
    assert validate_trace_code(bad) is not None


@given(prefixes, serials, st.integers(1, 14))
def test_a_swap_of_neighbours_is_caught(prefix: str, serial_no: int, position: int) -> None:
    code = trace_code(prefix, serial_no)
    a, b = code[position], code[position + 1]
    if a == b:
        return
    bad = code[:position] + b + a + code[position + 2 :]
    assert validate_trace_code(bad) is not None


def test_vectorised_codes_equal_the_scalar_ones() -> None:
    rng = np.random.default_rng(3)
    p = 8_000_000 + rng.integers(0, 10**6, 500)
    s = rng.integers(0, 10**9, 500)
    s[:3] = [0, 10**9 - 1, RESERVED_SERIAL_START]
    got = trace_codes(p, s).to_list()
    assert got == [trace_code(str(a), int(b)) for a, b in zip(p, s, strict=True)]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("8123", "has 4 characters, not 20"),
        ("7" * 20, "does not start with 8"),
        ("8" * 19 + "x", "has characters other than the digits 0–9"),
        (12345, "must be a string, not int"),
    ],
)
def test_validation_names_the_reason(code: object, reason: str) -> None:
    assert validate_trace_code(code) == reason


def test_unknown_prefix_is_reported_when_the_table_is_given() -> None:
    code = trace_code("8000001", 5)
    assert validate_trace_code(code, prefixes={"8000001"}) is None
    assert validate_trace_code(code, prefixes={"8000002"}) == "unknown product prefix 8000001"


def test_serials_of_clean_chunks_never_reach_the_reserved_range() -> None:
    assert serial(0, 0) == 0
    assert serial(899, 999_999) == RESERVED_SERIAL_START - 1
    with pytest.raises(ValueError, match="chunk 900"):
        serial(900, 0)
    with pytest.raises(ValueError, match="sequence"):
        serial(1, 10**6)


def test_check_digits_fit_four_digits() -> None:
    assert CHECK_MODULUS < 10_000
    assert trace_code("8999999", 999_999_999)[16:] == f"{(8_999_999 * 10**9 + 999_999_999) % CHECK_MODULUS:04d}"
