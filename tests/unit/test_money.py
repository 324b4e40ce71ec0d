"""Exact money: the one rounding rule, parsing without floats, JSON round trips, ratios."""

from __future__ import annotations

import doctest
import json
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao import money
from yibao.money import (
    COUNT_PLACES,
    PRICE_PLACES,
    MoneyError,
    Ratio,
    dumps,
    loads,
    mul_ratio,
    parse_money,
    parse_scaled,
    round_div,
    round_div_array,
    to_decimal,
    yuan,
)

MAX_FEN = 10**16 - 1  # 99,999,999,999,999.99 yuan: the largest DECIMAL(16,2)

fen = st.integers(min_value=-MAX_FEN, max_value=MAX_FEN)
two_places = fen.map(to_decimal)


def test_doctests() -> None:
    assert doctest.testmod(money).failed == 0


# ---------------------------------------------------------------------------------------------
# The one rounding rule
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (149, 100, 1),
        (150, 100, 2),
        (151, 100, 2),
        (250, 100, 3),  # half-up, not banker's rounding (which would give 2)
        (5, 10, 1),
        (4, 10, 0),
        (0, 7, 0),
        (-149, 100, -1),
        (-150, 100, -2),
        (-250, 100, -3),
        (-5, 10, -1),
        (-4, 10, 0),
        (7, 1, 7),
        (1, 3, 0),
        (2, 3, 1),
        (-2, 3, -1),
    ],
)
def test_round_div_is_half_up_and_symmetric(numerator: int, denominator: int, expected: int) -> None:
    assert round_div(numerator, denominator) == expected


@pytest.mark.parametrize("denominator", [0, -1, -100])
def test_round_div_refuses_a_non_positive_denominator(denominator: int) -> None:
    with pytest.raises(ValueError, match="denominator"):
        round_div(1, denominator)


@given(st.integers(-(10**20), 10**20), st.integers(1, 10**12))
def test_round_div_matches_exact_half_away_from_zero(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    got = round_div(numerator, denominator)
    assert abs(exact - got) <= Fraction(1, 2)
    if abs(exact - got) == Fraction(1, 2):  # a tie goes away from zero
        assert abs(got) > abs(exact)


@given(st.integers(-(10**20), 10**20), st.integers(1, 10**12))
def test_round_div_of_a_negative_is_the_mirror_image(numerator: int, denominator: int) -> None:
    assert round_div(-numerator, denominator) == -round_div(numerator, denominator)


# ---------------------------------------------------------------------------------------------
# parse_money / parse_scaled
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("23.50", 2350),
        ("23.5", 2350),
        ("0.01", 1),
        ("0", 0),
        ("-0.00", 0),
        (" 12.30 ", 1230),
        ("1e2", 10000),
        ("1.5E+1", 1500),
        ("1000.000000", 100000),  # trailing zeros are not extra decimals
        (12, 1200),
        (0, 0),
        (Decimal("179.17"), 17917),
        (Decimal("0.10"), 10),
        ("99999999999999.99", MAX_FEN),
    ],
)
def test_parse_money_reads_exact_numbers_and_numeric_strings(value: object, expected: int) -> None:
    assert parse_money(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.1, "float"),
        (23.5, "float"),
        (1.0, "float"),
        (True, "bool"),
        (False, "bool"),
        (float("nan"), "float"),
        (float("inf"), "float"),
        ("NaN", "finite"),
        ("nan", "finite"),
        ("Infinity", "finite"),
        ("-inf", "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (Decimal("-Infinity"), "finite"),
        ("1.005", "more than 2 decimal places"),
        ("0.001", "more than 2 decimal places"),
        (Decimal("1e-05"), "more than 2 decimal places"),
        ("-1", "must not be negative"),
        ("-0.01", "must not be negative"),
        ("100000000000000.00", "too large"),
        ("1e16", "too large"),
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "not a number"),
        ("12,30", "not a number"),
        ("¥12", "not a number"),
        (None, "NoneType"),
        ([1], "list"),
        ({"v": 1}, "dict"),
    ],
)
def test_parse_money_refuses(value: object, message: str) -> None:
    with pytest.raises(MoneyError, match=message) as info:
        parse_money(value, "setlinfo.hifp_pay")
    assert info.value.field == "setlinfo.hifp_pay"
    assert str(info.value).startswith("setlinfo.hifp_pay: ")


def test_parse_money_allows_negatives_only_when_asked() -> None:
    assert parse_money("-1.50", allow_negative=True) == -150
    assert parse_money(Decimal("-99999999999999.99"), allow_negative=True) == -MAX_FEN
    with pytest.raises(MoneyError, match="too large"):
        parse_money("-100000000000000", allow_negative=True)
    with pytest.raises(MoneyError, match="more than 2 decimal places"):
        parse_money("-1.505", allow_negative=True)


def test_a_float_is_refused_even_when_it_looks_exact() -> None:
    for value in (0.5, 2.0, 1e2):
        with pytest.raises(MoneyError, match="floats are never money"):
            parse_money(value)
        with pytest.raises(MoneyError):
            parse_scaled(value, PRICE_PLACES, "pric")
        with pytest.raises(MoneyError):
            Ratio.of(value)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("23.500000", PRICE_PLACES, 23_500000),
        ("0.000001", PRICE_PLACES, 1),
        ("50000.123456", PRICE_PLACES, 50000_123456),
        ("1.2345", COUNT_PLACES, 1_2345),
        ("2", COUNT_PLACES, 2_0000),
        (Decimal("0.0001"), COUNT_PLACES, 1),
    ],
)
def test_parse_scaled_reads_prices_and_counts(value: object, places: int, expected: int) -> None:
    assert parse_scaled(value, places, "x") == expected


@pytest.mark.parametrize(
    ("value", "places", "field"),
    [("1.0000001", PRICE_PLACES, "pric"), ("1.23456", COUNT_PLACES, "cnt"), ("0.00005", COUNT_PLACES, "cnt")],
)
def test_parse_scaled_refuses_extra_decimals_naming_the_field(value: str, places: int, field: str) -> None:
    with pytest.raises(MoneyError, match=f"^{field}: has more than {places} decimal places") as info:
        parse_scaled(value, places, field)
    assert info.value.field == field


def test_parse_scaled_refuses_negatives_unless_allowed() -> None:
    with pytest.raises(MoneyError, match="must not be negative"):
        parse_scaled("-1", PRICE_PLACES, "pric")
    assert parse_scaled("-1", PRICE_PLACES, "pric", allow_negative=True) == -1_000000


def test_parse_scaled_refuses_values_too_large_for_the_wire() -> None:
    with pytest.raises(MoneyError, match="too large"):
        parse_scaled("10000000000", PRICE_PLACES, "pric")  # 1e10 × 1e6 = 1e16 units
    assert parse_scaled("9999999999.999999", PRICE_PLACES, "pric") == 10**16 - 1


@given(fen)
def test_parse_money_inverts_to_decimal(n: int) -> None:
    d = to_decimal(n)
    assert parse_money(d, allow_negative=True) == n
    assert parse_money(str(d), allow_negative=True) == n
    assert parse_money(format(d, "f"), allow_negative=True) == n


def test_an_absurd_exponent_is_a_money_error() -> None:
    with pytest.raises(MoneyError, match="too large"):
        parse_money("1E+999999999")


def test_a_tiny_non_zero_value_is_refused_not_read_as_zero() -> None:
    with pytest.raises(MoneyError, match="decimal places"):
        parse_money("1E-999999999")


# ---------------------------------------------------------------------------------------------
# to_decimal / yuan
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0.00"), (5, "0.05"), (2350, "23.50"), (-150, "-1.50"), (MAX_FEN, "99999999999999.99")],
)
def test_to_decimal_has_exactly_two_places(n: int, text: str) -> None:
    d = to_decimal(n)
    assert format(d, "f") == text
    assert d.as_tuple().exponent == -2


def test_yuan_groups_thousands() -> None:
    assert yuan(123456789) == "1,234,567.89"
    assert yuan(0) == "0.00"
    assert yuan(-5) == "-0.05"


# ---------------------------------------------------------------------------------------------
# JSON without floats
# ---------------------------------------------------------------------------------------------


def test_loads_reads_fractions_as_decimals_and_integers_as_ints() -> None:
    doc = loads('{"hifp_pay": 179.17, "n": 2, "tiny": 1e-05, "big": 1E+3, "s": "0.10"}')
    assert doc["hifp_pay"] == Decimal("179.17") and isinstance(doc["hifp_pay"], Decimal)
    assert doc["n"] == 2 and type(doc["n"]) is int
    assert doc["tiny"] == Decimal("0.00001")
    assert doc["big"] == Decimal(1000) and isinstance(doc["big"], Decimal)
    assert doc["s"] == "0.10"
    assert loads(b"[0.1]") == [Decimal("0.1")]


def test_loads_keeps_the_literal_exactly() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floats; the Decimals are exact
    a, b = loads("[0.1, 0.2]")
    assert a + b == Decimal("0.3")
    assert parse_money(loads('{"x": 1234567890123.45}')["x"]) == 123456789012345


def test_dumps_writes_decimals_as_plain_literals() -> None:
    assert dumps({"hifp_pay": Decimal("179.17"), "n": 2}) == '{"hifp_pay": 179.17, "n": 2}'
    assert (
        dumps([Decimal("1E-5"), Decimal("1E+3"), Decimal("-0.00"), to_decimal(0)])
        == "[0.00001, 1000, -0.00, 0.00]"
    )
    assert dumps({"名": "张三", "ok": True, "none": None}) == '{"名": "张三", "ok": true, "none": null}'
    assert dumps({}) == "{}" and dumps([]) == "[]"


def test_dumps_indents_like_json() -> None:
    obj = {"a": [Decimal("1.10"), {"b": 2}], "c": {}}
    text = dumps(obj, indent=2)
    assert json.loads(text) == json.loads(dumps(obj))
    assert text.splitlines()[1] == '  "a": ['
    assert loads(text) == {"a": [Decimal("1.10"), {"b": 2}], "c": {}}


def test_dumps_refuses_floats_and_non_finite_decimals() -> None:
    with pytest.raises(TypeError, match="floats"):
        dumps({"x": 0.1})
    with pytest.raises(TypeError, match="floats"):
        dumps([1, [2.5]])
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")):
        with pytest.raises(ValueError, match="non-finite"):
            dumps({"x": bad})


@given(two_places)
def test_decimal_16_2_survives_dumps_then_loads_unchanged(d: Decimal) -> None:
    text = dumps({"amount": d, "list": [d]})
    assert "e" not in text.lower()  # never a float repr such as 1e-05
    back = loads(text)
    assert back["amount"] == d and back["list"] == [d]
    assert isinstance(back["amount"], Decimal)
    assert back["amount"].as_tuple() == d.as_tuple()  # the same digits and the same two places
    assert parse_money(back["amount"], allow_negative=True) == parse_money(d, allow_negative=True)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20, places=8))
def test_dumps_never_writes_an_exponent(d: Decimal) -> None:
    text = dumps(d)
    assert "e" not in text.lower()
    assert loads(text) == d


# ---------------------------------------------------------------------------------------------
# Ratio and mul_ratio
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "num", "den"),
    [
        ("0.85", 17, 20),
        ("0.84", 21, 25),
        (Decimal("0.84"), 21, 25),
        ("0.10", 1, 10),
        ("0.7", 7, 10),
        (0, 0, 1),
        (1, 1, 1),
        ("1.00", 1, 1),
        ("0.0001", 1, 10000),
        ("1.5", 3, 2),  # Ratio itself does not cap at one; the loaders do
    ],
)
def test_ratio_of_is_exact_and_reduced(value: object, num: int, den: int) -> None:
    assert Ratio.of(value) == Ratio(num, den)


@pytest.mark.parametrize(
    ("value", "message"), [("-0.1", "negative"), (0.85, "float"), (True, "bool"), ("x", "not a number")]
)
def test_ratio_of_refuses(value: object, message: str) -> None:
    with pytest.raises(MoneyError, match=message) as info:
        Ratio.of(value, "pool_ratio")
    assert info.value.field == "pool_ratio"


def test_ratio_helpers() -> None:
    r = Ratio.of("0.84")
    assert str(r) == "0.8400"
    assert r.decimal() == Decimal("0.84")
    assert r.plus(Ratio.of("0.03")) == Ratio.of("0.87")
    assert Ratio.of("0.95").plus(Ratio.of("0.10")).clamp_one() == Ratio(1, 1)
    assert Ratio.of("0.5").clamp_one() == Ratio(1, 2)


@pytest.mark.parametrize(
    ("amount", "ratio", "expected"),
    [
        (17917, "0.7", 12542),  # 12541.9
        (5, "0.5", 3),  # 2.5 → 3
        (-5, "0.5", -3),
        (3, "0.5", 2),  # 1.5 → 2
        (1, "0.5", 1),  # 0.5 → 1
        (1, "0.49", 0),
        (100000, "0.84", 84000),
        (99999, "0.84", 83999),  # 83999.16
        (12345, "1", 12345),
        (12345, "0", 0),
        (0, "0.85", 0),
    ],
)
def test_mul_ratio_rounds_by_the_one_rule(amount: int, ratio: str, expected: int) -> None:
    assert mul_ratio(amount, Ratio.of(ratio)) == expected


@given(fen, st.integers(0, 10000))
def test_mul_ratio_is_the_exact_product_rounded_half_up(amount: int, basis_points: int) -> None:
    r = Ratio.of(Decimal(basis_points).scaleb(-4))
    exact = Fraction(amount) * Fraction(basis_points, 10000)
    got = mul_ratio(amount, r)
    assert abs(exact - got) <= Fraction(1, 2)
    assert mul_ratio(-amount, r) == -got
    assert 0 <= abs(got) <= abs(amount)


def test_round_div_array_is_round_div_element_wise_with_signs() -> None:
    rng = np.random.default_rng(5)
    nums = rng.integers(-(10**12), 10**12, 5_000)
    dens = rng.integers(1, 10**6, 5_000)
    assert round_div_array(nums, dens).tolist() == [
        round_div(int(n), int(d)) for n, d in zip(nums.tolist(), dens.tolist(), strict=True)
    ]
    with pytest.raises(ValueError, match="positive"):
        round_div_array(nums, np.zeros_like(nums))
