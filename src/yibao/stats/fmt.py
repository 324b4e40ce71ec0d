"""Numbers the Chinese way, from exact values: 万人 / 亿人, 元 / 万元 / 亿元, 人次 / 万人次, percentages.

Rounding is half-up (:data:`decimal.ROUND_HALF_UP`) and happens only here, when a number is shown.
Money reaches JSON as exact yuan :class:`~decimal.Decimal` (from :class:`Fen`), ratios as decimals with
six places (from :class:`~fractions.Fraction`), counts as integers.

>>> cn_money(Decimal("123456789.00")), cn_money(Decimal("98765.43")), cn_money(Decimal("12.5"))
('1.23亿元', '9.88万元', '12.50元')
>>> cn_persons(123456), cn_persons(9876), cn_times(2_380_000_000)
('12.35万人', '9,876人', '23.80亿人次')
>>> cn_pct(Decimal("0.848")), cn_growth(Decimal("-0.0395")), cn_growth(Decimal("0.847"))
('84.8%', '下降3.95%', '增长84.70%')
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from yibao.money import round_div, to_decimal

__all__ = [
    "Fen",
    "cn_count",
    "cn_growth",
    "cn_money",
    "cn_months",
    "cn_pct",
    "cn_persons",
    "cn_times",
    "dec",
    "jsonify",
    "money_unit",
    "num",
]

_UNITS = {"亿元": Decimal(100_000_000), "万元": Decimal(10_000), "元": Decimal(1)}


class Fen(int):
    """An amount in fen that :func:`jsonify` writes as exact yuan (``Fen(12345)`` → ``123.45``)."""

    __slots__ = ()


def dec(value: Fraction | int | Decimal, places: int = 6) -> Decimal:
    """An exact value as a Decimal rounded half-up (away from zero) to ``places``.

    >>> dec(Fraction(2, 3), 4), dec(Fraction(-1, 8), 2)
    (Decimal('0.6667'), Decimal('-0.13'))
    """
    q = Decimal(1).scaleb(-places)
    if isinstance(value, Fraction):  # the project's one rule, on integers: half away from zero
        return Decimal(round_div(value.numerator * 10**places, value.denominator)).scaleb(-places).quantize(q)
    return Decimal(value).quantize(q, rounding=ROUND_HALF_UP)


def jsonify(obj: Any, places: int = 6) -> Any:
    """Fen → yuan Decimal, Fraction → Decimal (``places``), containers recursively; the rest as is."""
    if isinstance(obj, Fen):
        return to_decimal(int(obj))
    if isinstance(obj, Fraction):
        return dec(obj, places)
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str, Decimal)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonify(v, places) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonify(v, places) for v in obj]
    raise TypeError(f"cannot write {type(obj).__name__} to the bulletin JSON")


def _d(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Fen):
        return to_decimal(int(value))
    if isinstance(value, Fraction):
        return dec(value, 12)
    if isinstance(value, float):
        raise TypeError("floats are not formatted: pass an exact value")
    return Decimal(value)


def money_unit(largest: Any) -> str:
    """The unit that fits an amount in yuan: 亿元 from 1亿, 万元 from 1万, else 元."""
    v = abs(_d(largest))
    if v >= _UNITS["亿元"]:
        return "亿元"
    if v >= _UNITS["万元"]:
        return "万元"
    return "元"


def cn_money(yuan: Any, unit: str | None = None, places: int = 2, suffix: bool = True) -> str:
    """An amount in yuan in 亿元 / 万元 / 元 (the unit that fits, or ``unit``), with thousands separators."""
    if yuan is None:
        return "—"
    v = _d(yuan)
    unit = unit or money_unit(v)
    shown = (v / _UNITS[unit]).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{shown:,}{unit if suffix else ''}"


def cn_count(n: Any, word: str, places: int = 2) -> str:
    """A count with 万 / 亿 from 10,000 / 1亿: ``cn_count(123456, "条")`` → ``12.35万条``."""
    if n is None:
        return "—"
    v = _d(n)
    q = Decimal(1).scaleb(-places)
    if abs(v) >= 100_000_000:
        return f"{(v / 100_000_000).quantize(q, rounding=ROUND_HALF_UP):,}亿{word}"
    if abs(v) >= 10_000:
        return f"{(v / 10_000).quantize(q, rounding=ROUND_HALF_UP):,}万{word}"
    return f"{int(v):,}{word}"


def cn_persons(n: Any, places: int = 2) -> str:
    """A head count: 万人 from 10,000 (亿人 from 1亿), else the number of 人."""
    return cn_count(n, "人", places)


def cn_times(n: Any, places: int = 2) -> str:
    """Person-times: 万人次 from 10,000 (亿人次 from 1亿), else 人次."""
    return cn_count(n, "人次", places)


def cn_pct(ratio: Any, places: int = 1) -> str:
    """A ratio (0.848) as a percentage ("84.8%"); ``—`` when None."""
    if ratio is None:
        return "—"
    return f"{(_d(ratio) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)}%"


def cn_growth(rate: Any, places: int = 2) -> str:
    """A growth rate as 增长 / 下降 x% (持平 when it rounds to zero); empty when None."""
    if rate is None:
        return ""
    v = (_d(rate) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if v == 0:
        return "持平"
    return f"增长{v}%" if v > 0 else f"下降{-v}%"


def cn_months(m: Any, places: int = 1) -> str:
    """Months payable to one decimal ("5.3个月"); ``—`` when None, "累计赤字" when the balance is negative."""
    if m is None:
        return "—"
    if _d(m) < 0:
        return "累计赤字"
    return f"{_d(m).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)}个月"


def num(value: Any, places: int = 1, sign: bool = False) -> str:
    """A plain number rounded half-up to ``places`` ("8.7"; "+1.4" with ``sign``); ``—`` when None."""
    if value is None:
        return "—"
    v = _d(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{v:+,}" if sign else f"{v:,}"
