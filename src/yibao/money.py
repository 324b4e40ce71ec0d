"""Exact money: integer fen inside, DECIMAL(16,2) at the edges, one rounding rule.

Every amount in yibao is an ``int`` number of fen (分, 0.01 yuan). Values enter through
:func:`parse_money` (or :func:`parse_scaled` for prices with 6 and counts with 4 decimals) and leave
through :func:`to_decimal`. Floats are refused everywhere: a JSON number is read with
``parse_float=Decimal`` (:func:`loads`) and written back as the same literal (:func:`dumps`).

The one rounding rule is **half-up to the fen** (half away from zero for negative amounts, so a
reversal is the exact mirror of its original), in :func:`round_div`. Everything else calls it.

>>> parse_money("23.50")
2350
>>> parse_money(12)
1200
>>> to_decimal(2350)
Decimal('23.50')
>>> round_div(5, 2), round_div(-5, 2)
(3, -3)
>>> mul_ratio(17917, Ratio.of("0.7"))
12542
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt

Fen = int
"""An amount of money in fen (分). A plain ``int`` so that arithmetic on the hot path stays fast."""

ZERO: Fen = 0
MONEY_PLACES = 2
PRICE_PLACES = 6
COUNT_PLACES = 4
MAX_MONEY_DIGITS = 16  # DECIMAL(16,2) on the wire


class MoneyError(ValueError):
    """A value that is not an acceptable amount; ``field`` names where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def round_div(numerator: int, denominator: int) -> int:
    """Divide two integers, rounding half away from zero: the project's one rounding rule.

    >>> round_div(149, 100), round_div(150, 100), round_div(-150, 100)
    (1, 2, -2)
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def round_div_array(
    numerator: npt.NDArray[np.int64], denominator: npt.NDArray[np.int64] | int
) -> npt.NDArray[np.int64]:
    """:func:`round_div` element-wise, on integer arrays (the denominator an array or one integer).

    >>> round_div_array(np.array([149, 150, 250, -150]), 100).tolist()
    [1, 2, 3, -2]
    """
    if np.any(np.asarray(denominator) <= 0):
        raise ValueError("denominator must be positive")
    up = (2 * np.abs(numerator) + denominator) // (2 * denominator)
    return np.where(numerator >= 0, up, -up)


def _as_decimal(value: object, field: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise MoneyError(
            field, f"must be an exact number (got {type(value).__name__}); floats are never money"
        )
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise MoneyError(field, "is empty")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise MoneyError(field, f"is not a number: {value!r}") from None
    else:
        raise MoneyError(field, f"must be a number or a numeric string, not {type(value).__name__}")
    if not d.is_finite():
        raise MoneyError(field, "must be finite")
    return d


def parse_scaled(value: object, places: int, field: str, *, allow_negative: bool = False) -> int:
    """Read ``value`` as an integer count of ``10**-places`` units, refusing extra decimals.

    >>> parse_scaled("23.500000", 6, "pric")
    23500000
    >>> parse_scaled("1.23456", 4, "cnt")
    Traceback (most recent call last):
    ...
    yibao.money.MoneyError: cnt: has more than 4 decimal places: '1.23456'
    """
    d = _as_decimal(value, field)
    if d and d.adjusted() + places >= MAX_MONEY_DIGITS:  # checked before scaling: 1E+999999 stays cheap
        raise MoneyError(field, f"is too large: {value!r}")
    _, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    if exponent < -places:  # more places written: allowed only if the extra ones are zeros
        text = "".join(map(str, digits))
        if text.strip("0") and exponent + (len(text) - len(text.rstrip("0"))) < -places:
            raise MoneyError(field, f"has more than {places} decimal places: {value!r}")
    n = int(d.scaleb(places))
    if n < 0 and not allow_negative:
        raise MoneyError(field, f"must not be negative: {value!r}")
    if abs(n) >= 10**MAX_MONEY_DIGITS:
        raise MoneyError(field, f"is too large: {value!r}")
    return n


def parse_money(value: object, field: str = "amount", *, allow_negative: bool = False) -> Fen:
    """Read an amount in yuan (number or string, at most 2 decimals) as fen."""
    return parse_scaled(value, MONEY_PLACES, field, allow_negative=allow_negative)


def to_decimal(fen: Fen) -> Decimal:
    """Fen as a DECIMAL(16,2) yuan value: ``to_decimal(5) == Decimal('0.05')``."""
    return Decimal(fen).scaleb(-MONEY_PLACES)


def yuan(fen: Fen) -> str:
    """Fen as a yuan string with two decimals and thousands separators, for humans.

    >>> yuan(123456789)
    '1,234,567.89'
    """
    return f"{to_decimal(fen):,.2f}"


@dataclass(frozen=True, slots=True)
class Ratio:
    """An exact proportion such as a pool ratio (0.85) or a 先行自付 share (0.10), as num/den.

    >>> Ratio.of("0.85")
    Ratio(num=17, den=20)
    >>> str(Ratio.of("0.85"))
    '0.8500'
    """

    num: int
    den: int

    @staticmethod
    def of(value: object, field: str = "ratio") -> Ratio:
        d = _as_decimal(value, field)
        if d < 0:
            raise MoneyError(field, f"must not be negative: {value!r}")
        num, den = d.as_integer_ratio()
        return Ratio(num, den)

    def decimal(self) -> Decimal:
        return Decimal(self.num) / Decimal(self.den)

    def __str__(self) -> str:
        return f"{self.decimal():.4f}"

    def plus(self, other: Ratio) -> Ratio:
        from fractions import Fraction

        f = Fraction(self.num, self.den) + Fraction(other.num, other.den)
        return Ratio(f.numerator, f.denominator)

    def clamp_one(self) -> Ratio:
        return Ratio(1, 1) if self.num > self.den else self


ZERO_RATIO = Ratio(0, 1)
ONE = Ratio(1, 1)


def mul_ratio(fen: Fen, ratio: Ratio) -> Fen:
    """``fen × ratio`` rounded by the one rule."""
    return round_div(fen * ratio.num, ratio.den)


# ---------------------------------------------------------------------------------------------
# JSON without floats
# ---------------------------------------------------------------------------------------------


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping every number with a fraction or exponent as an exact ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """Write JSON, emitting ``Decimal`` values as number literals (never through float).

    >>> dumps({"hifp_pay": Decimal("179.17"), "n": 2})
    '{"hifp_pay": 179.17, "n": 2}'
    """
    return _dump(obj, indent, 0)


def _dump(obj: Any, indent: int | None, level: int) -> str:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError("non-finite Decimal cannot be written as JSON")
        return format(obj, "f")
    if isinstance(obj, float):
        raise TypeError("floats are not written by yibao's JSON writer")
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [
            f"{json.dumps(str(k), ensure_ascii=False)}: {_dump(v, indent, level + 1)}" for k, v in obj.items()
        ]
        return _join("{", "}", items, indent, level)
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        return _join("[", "]", [_dump(v, indent, level + 1) for v in obj], indent, level)
    return json.dumps(obj, ensure_ascii=False)


def _join(open_: str, close: str, items: list[str], indent: int | None, level: int) -> str:
    if indent is None:
        return open_ + ", ".join(items) + close
    pad = " " * (indent * (level + 1))
    end = " " * (indent * level)
    return open_ + "\n" + ",\n".join(pad + i for i in items) + "\n" + end + close
