"""Dated, sourced, dimensioned parameters: the policy tree's leaves.

A parameter is a table indexed by a few benefit dimensions (scheme, person category, hospital level,
visit kind, Nth admission, assistance category, care form). Each cell holds values keyed by the date
they take effect, each with the legal reference it comes from. Reading a parameter on a date returns
the value *and* a :class:`Read` that the trace shows.

>>> from datetime import date
>>> p = Parameter(
...     name="inpatient.deductible", file="inpatient.yaml", description="住院起付线", unit="yuan",
...     dims=("hosp_lv",),
...     cells={("3",): (Dated(date(2024, 1, 1), 100000, "城市A"),), ("*",): (Dated(date(2024, 1, 1), 20000, "城市A"),)},
... )
>>> value, read = p.at(date(2025, 6, 1), hosp_lv="2")
>>> value, read.key, str(read.since)
(20000, '*', '2024-01-01')
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from yibao.money import Fen, Ratio

WILDCARD = "*"

DIMENSIONS: Mapping[str, frozenset[str] | None] = {
    "scheme": frozenset({"employee", "resident", "ltc", "maternity"}),
    "insutype": None,  # any national insutype code
    "psn_cat": frozenset({"in_service", "retired", "resident_adult", "resident_child"}),
    "hosp_lv": frozenset({"1", "2", "3"}),
    "visit": frozenset({"outpatient", "chronic", "inpatient", "pharmacy", "ltc"}),
    "admission": None,  # "1", "2", … or "N+" for the Nth admission and later
    "assistance": frozenset({"none", "tekun", "dibao", "fanpin", "low_income", "illness_poverty", "orphan"}),
    "care_form": frozenset({"institutional", "family", "home", "specialised"}),
}
"""The dimensions a parameter may be indexed by, with their allowed keys (None = free-form)."""

UNLIMITED = None
"""A ``yuan`` cap written ``unlimited`` in the YAML (e.g. the 大病 cap removed for 特困人员)."""


class PolicyError(ValueError):
    """A policy problem, located: the file, the key path inside it, and what is wrong."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class Dated:
    """One value of one cell, in force from ``since`` until the next dated value."""

    since: date
    value: Any
    reference: str


@dataclass(frozen=True, slots=True)
class Read:
    """What reading a parameter returned, for the trace: name, cell key, value, date and source."""

    name: str
    key: str
    value: Any
    since: date
    reference: str
    unit: str = ""

    def describe(self) -> str:
        cell = f"[{self.key}]" if self.key != "-" else ""
        return f"{self.name}{cell} = {format_value(self.value, self.unit)} (since {self.since}; {self.reference})"


def format_value(value: Any, unit: str = "") -> str:
    """A parameter value as people write it: yuan with two decimals, ratios as decimals, bands as a list.

    >>> format_value(100000, "yuan"), format_value(Ratio(21, 25)), format_value(None, "yuan")
    ('1,000.00 yuan', '0.84', 'unlimited')
    """
    from yibao.money import yuan

    if unit == "yuan" and isinstance(value, int):
        return f"{yuan(value)} yuan"
    if unit in ("months", "years") and isinstance(value, int):
        return f"{value} {unit}"
    if value is None:
        return "unlimited"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Ratio):
        return str(value.decimal().normalize())
    if isinstance(value, Band):
        return f"≥{yuan(value.above)}: {format_value(value.rate)}"
    if isinstance(value, tuple) and value and isinstance(value[0], Band):
        return "[" + "; ".join(format_value(b) for b in value) + "]"
    if isinstance(value, int):
        return str(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Band:
    """One bracket of a rate scale: ``rate`` applies to the part of the base above ``above`` (fen)."""

    above: Fen
    rate: Ratio


@dataclass(frozen=True, slots=True)
class Parameter:
    """A loaded parameter: its cells by dimension key, each a date-sorted tuple of values.

    Attributes:
        name: dotted name, ``<file stem>.<key>`` (e.g. ``inpatient.deductible``).
        file: the YAML file it was read from, for error messages.
        unit: yuan (stored as fen; ``unlimited`` allowed), ratio, rate_scale, months, years, count, flag, choice.
        dims: the dimensions indexing the cells, outermost first.
        cells: dimension key tuple → dated values, oldest first.
    """

    name: str
    file: str
    description: str
    unit: str
    dims: tuple[str, ...]
    cells: Mapping[tuple[str, ...], tuple[Dated, ...]]

    def at(self, on: date, **dims: str) -> tuple[Any, Read]:
        """The value in force on ``on`` for the given dimension values (wildcards fill the gaps).

        Raises PolicyError when no cell matches or no value is in force on that date.
        """
        wanted = []
        for dim in self.dims:
            if dim not in dims:
                raise PolicyError(self.name, f"reading needs dimension {dim!r}")
            wanted.append(dims[dim])
        for key in _candidates(self.dims, wanted):
            values = self.cells.get(key)
            if values is None:
                continue
            chosen: Dated | None = None
            for v in values:
                if v.since <= on:
                    chosen = v
                else:
                    break
            if chosen is None:
                first = values[0].since
                raise PolicyError(
                    f"{self.file}: {self.name}[{'/'.join(key)}]",
                    f"no value in force on {on} (the first value takes effect on {first})",
                )
            if chosen.value is _ENDED:
                raise PolicyError(
                    f"{self.file}: {self.name}[{'/'.join(key)}]", f"the rule ended on {chosen.since}"
                )
            read = Read(
                self.name, "/".join(key) or "-", chosen.value, chosen.since, chosen.reference, self.unit
            )
            return chosen.value, read
        shown = ", ".join(f"{d}={v}" for d, v in zip(self.dims, wanted, strict=True))
        raise PolicyError(f"{self.file}: {self.name}", f"no cell for {shown}")


class _Ended:
    """Marker for ``value: null`` — the rule stops applying from that date."""

    def __repr__(self) -> str:
        return "ENDED"


_ENDED: Any = _Ended()
ENDED = _ENDED


def _candidates(dims: tuple[str, ...], wanted: list[str]) -> list[tuple[str, ...]]:
    """Cell keys to try, most specific first: exact values, then wildcards from the innermost dimension."""
    options: list[list[str]] = []
    for dim, value in zip(dims, wanted, strict=True):
        opts = [value]
        if dim == "admission":
            opts = _admission_keys(value)
        options.append([*opts, WILDCARD])
    return list(itertools.product(*options))


def _admission_keys(value: str) -> list[str]:
    """For the Nth admission: "N" itself, then "k+" for k = N … 1 (e.g. 3 → "3", "3+", "2+", "1+")."""
    n = int(value)
    return [str(n), *[f"{k}+" for k in range(n, 0, -1)]]
