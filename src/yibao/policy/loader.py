"""Load a region pack: ``policy_data/regions/<admdvs>/`` — ``region.yaml`` plus one YAML file per topic.

Each topic file maps parameter keys to parameter specs::

    deductible:                     # → parameter "inpatient.deductible" (file stem + key)
      description: 住院起付线（第N次住院）
      unit: yuan                    # yuan | ratio | factor | rate_scale | months | years | count | flag | choice
      dims: [scheme, hosp_lv, admission]
      reference: 城市A 住院待遇 (benefits.md §3)
      values:
        employee:
          "3": {"1": {2024-01-01: 1000}, "2+": {2024-01-01: 500}}
          "*": {"*": {2024-01-01: 200}}

The nesting under ``values`` follows ``dims``; ``"*"`` matches any key. A leaf maps effective dates to
values; a value may be written ``{value: …, reference: …}`` to cite its own source, and ``null`` ends
the rule. Numbers are read as exact decimals (never floats). Every problem raises :class:`PolicyError`
naming the file and the key path.

>>> from yibao.policy.loader import load_region
>>> policy = load_region("990100")
>>> policy.region.synthetic
True
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from yibao.money import MoneyError, Ratio, parse_money
from yibao.policy.parameters import (
    DIMENSIONS,
    ENDED,
    UNLIMITED,
    WILDCARD,
    Band,
    Dated,
    Parameter,
    PolicyError,
)

UNITS = frozenset({"yuan", "ratio", "factor", "rate_scale", "months", "years", "count", "flag", "choice"})


def policy_root() -> Path:
    """The policy_data folder: ``$YIBAO_POLICY_DATA`` or the one beside the source tree."""
    env = os.environ.get("YIBAO_POLICY_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "policy_data"


# ---------------------------------------------------------------------------------------------
# YAML that keeps numbers exact
# ---------------------------------------------------------------------------------------------


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ExactLoader(_Base):  # type: ignore[misc]
    """SafeLoader (libyaml when present) whose floats are Decimals, so 0.85 stays exactly 0.85."""


def _construct_decimal(loader: Any, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a finite number", node.start_mark
        )
    return value


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    """A mapping that refuses repeated keys (YAML would silently keep the last one)."""
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return dict(loader.construct_mapping(node, deep=True))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_ExactLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file exactly; syntax errors name the file and line."""
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.load(f, Loader=_ExactLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{path.name}{line}", f"malformed YAML: {e.problem}") from None
    except ValueError as e:  # e.g. an impossible date such as 2024-13-01
        raise PolicyError(path.name, f"malformed value: {e}") from None
    except OSError as e:
        raise PolicyError(str(path), f"cannot read: {e.strerror}") from None


# ---------------------------------------------------------------------------------------------
# Schemas (strict pydantic)
# ---------------------------------------------------------------------------------------------


class RegionSpec(BaseModel):
    """``region.yaml``: who the region is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    admdvs: str = Field(pattern=r"^\d{6}$")
    name: str
    synthetic: bool
    description: str = ""
    reference: str = ""


class ParameterSpec(BaseModel):
    """One parameter as written in a topic file, before its values are checked against its dims."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    unit: str
    dims: tuple[str, ...] = ()
    reference: str
    choices: tuple[str, ...] = ()
    values: Any

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str) -> str:
        if v not in UNITS:
            raise ValueError(f"unknown unit {v!r} (expected one of {', '.join(sorted(UNITS))})")
        return v

    @field_validator("dims")
    @classmethod
    def _known_dims(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for d in v:
            if d not in DIMENSIONS:
                raise ValueError(f"unknown dimension {d!r} (expected one of {', '.join(DIMENSIONS)})")
        if len(set(v)) != len(v):
            raise ValueError("a dimension is repeated")
        return v


@dataclass(frozen=True)
class Region:
    admdvs: str
    name: str
    synthetic: bool
    description: str
    reference: str
    folder: Path


class Policy:
    """A region's parameters, read by name: ``policy.param("inpatient.deductible")``."""

    def __init__(self, region: Region, parameters: Mapping[str, Parameter]) -> None:
        self.region = region
        self.parameters = dict(parameters)
        self._changes = sorted(
            {v.since for p in self.parameters.values() for cell in p.cells.values() for v in cell}
        )
        self._epochs: dict[date, date] = {}

    def epoch(self, on: date) -> date:
        """The day the policy in force on ``on`` took effect: the latest change of any parameter ≤ ``on``.

        Every parameter has the same value on all days of an epoch, so plans are cached per epoch.
        """
        e = self._epochs.get(on)
        if e is None:
            i = bisect.bisect_right(self._changes, on)
            e = self._epochs[on] = self._changes[i - 1] if i else on
        return e

    def has(self, name: str) -> bool:
        return name in self.parameters

    def param(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            raise PolicyError(
                f"region {self.region.admdvs}", f"parameter {name!r} is not defined in {self.region.folder}"
            ) from None


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

_CACHE: dict[Path, Policy] = {}


def load_region(admdvs_or_path: str | Path, *, root: Path | None = None, cache: bool = True) -> Policy:
    """Load and validate a region pack by admdvs (under ``policy_data/regions``) or by folder path."""
    folder = Path(admdvs_or_path)
    if not folder.is_dir():
        folder = (root or policy_root()) / "regions" / str(admdvs_or_path)
    folder = folder.resolve()
    if cache and folder in _CACHE:
        return _CACHE[folder]
    if not folder.is_dir():
        raise PolicyError(str(admdvs_or_path), f"no region pack at {folder}")
    region_file = folder / "region.yaml"
    if not region_file.exists():
        raise PolicyError(str(folder), "region.yaml is missing")
    try:
        spec = RegionSpec.model_validate(read_yaml(region_file))
    except ValidationError as e:
        raise PolicyError("region.yaml", _pydantic_message(e)) from None
    region = Region(spec.admdvs, spec.name, spec.synthetic, spec.description, spec.reference, folder)
    parameters: dict[str, Parameter] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "region.yaml":
            continue
        parameters.update(load_topic(path))
    policy = Policy(region, parameters)
    if cache:
        _CACHE[folder] = policy
    return policy


def load_topic(path: Path) -> dict[str, Parameter]:
    """All parameters of one topic file, keyed ``<stem>.<key>``."""
    doc = read_yaml(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PolicyError(path.name, "a topic file must map parameter names to parameter specs")
    out: dict[str, Parameter] = {}
    for key, raw in doc.items():
        where = f"{path.name}: {key}"
        if not isinstance(key, str) or not key.replace("_", "").isalnum():
            raise PolicyError(where, "a parameter name must be a word (letters, digits, underscores)")
        try:
            spec = ParameterSpec.model_validate(raw)
        except ValidationError as e:
            raise PolicyError(where, _pydantic_message(e)) from None
        cells: dict[tuple[str, ...], tuple[Dated, ...]] = {}
        _walk(spec, spec.values, (), where, cells)
        name = f"{path.stem}.{key}"
        out[name] = Parameter(name, path.name, spec.description, spec.unit, spec.dims, cells)
    return out


def _walk(
    spec: ParameterSpec,
    node: Any,
    key: tuple[str, ...],
    where: str,
    cells: dict[tuple[str, ...], tuple[Dated, ...]],
) -> None:
    depth = len(key)
    if depth == len(spec.dims):
        cells[key] = _dated(spec, node, f"{where}.values" + "".join(f"[{k}]" for k in key))
        return
    dim = spec.dims[depth]
    here = f"{where}.values" + "".join(f"[{k}]" for k in key)
    if not isinstance(node, dict) or not node:
        raise PolicyError(here, f"expected a mapping by {dim}")
    allowed = DIMENSIONS[dim]
    for k, child in node.items():
        k = str(k)
        if k != WILDCARD:
            if allowed is not None and k not in allowed:
                raise PolicyError(
                    f"{here}[{k}]", f"unknown {dim} {k!r} (expected one of {', '.join(sorted(allowed))})"
                )
            if dim == "admission" and not (k.isdigit() or (k.endswith("+") and k[:-1].isdigit())):
                raise PolicyError(f"{here}[{k}]", "an admission key is a number or 'N+'")
        _walk(spec, child, (*key, k), where, cells)


def _dated(spec: ParameterSpec, node: Any, where: str) -> tuple[Dated, ...]:
    if not isinstance(node, dict) or not node:
        raise PolicyError(where, "expected values keyed by effective date, e.g. {2024-01-01: 1000}")
    out = []
    for since, raw in node.items():
        if not isinstance(since, date) or isinstance(since, datetime):
            raise PolicyError(where, f"{since!r} is not an effective date (write YYYY-MM-DD)")
        reference = spec.reference
        if isinstance(raw, dict) and "value" in raw:
            extra = set(raw) - {"value", "reference"}
            if extra:
                raise PolicyError(f"{where}[{since}]", f"unknown keys {sorted(extra)}")
            reference = str(raw.get("reference") or spec.reference)
            raw = raw["value"]
        value = ENDED if raw is None else _convert(spec, raw, f"{where}[{since}]")
        out.append(Dated(since, value, reference))
    out.sort(key=lambda d: d.since)
    return tuple(out)


def _convert(spec: ParameterSpec, raw: Any, where: str) -> Any:
    unit = spec.unit
    try:
        if unit == "yuan":
            if raw == "unlimited":
                return UNLIMITED
            return parse_money(_exact(raw, where), where)
        if unit == "ratio":
            r = Ratio.of(_exact(raw, where), where)
            if r.num > r.den:
                raise PolicyError(where, f"a ratio must be between 0 and 1, got {raw}")
            return r
        if unit == "factor":  # a non-negative multiplier, e.g. 2 × the group mean
            return Ratio.of(_exact(raw, where), where)
        if unit == "rate_scale":
            return _scale(raw, where)
        if unit in ("months", "years", "count"):
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                raise PolicyError(where, f"expected a whole number of {unit}, got {raw!r}")
            return raw
        if unit == "flag":
            if not isinstance(raw, bool):
                raise PolicyError(where, f"expected true or false, got {raw!r}")
            return raw
        # choice
        if raw not in spec.choices:
            raise PolicyError(where, f"expected one of {', '.join(spec.choices)}, got {raw!r}")
        return raw
    except MoneyError as e:
        raise PolicyError(where, e.message) from None


def _exact(raw: Any, where: str) -> Any:
    if isinstance(raw, (bool, float)) or not isinstance(raw, (int, Decimal, str)):
        raise PolicyError(where, f"expected a number, got {raw!r}")
    return raw


def _scale(raw: Any, where: str) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        raise PolicyError(where, "a rate scale is a list of {above: yuan, rate: ratio} brackets")
    bands = []
    for i, b in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(b, dict) or set(b) != {"above", "rate"}:
            raise PolicyError(here, "each bracket is {above: yuan, rate: ratio}")
        rate = Ratio.of(_exact(b["rate"], here), here)
        if rate.num > rate.den:
            raise PolicyError(here, f"a rate must be between 0 and 1, got {b['rate']}")
        bands.append(Band(parse_money(_exact(b["above"], here), here), rate))
    if bands[0].above != 0:
        raise PolicyError(where, "the first bracket must start at 0")
    if any(a.above >= b.above for a, b in itertools.pairwise(bands)):
        raise PolicyError(where, "brackets must be in increasing order of 'above'")
    return tuple(bands)


def _pydantic_message(e: ValidationError) -> str:
    """A pydantic error without echoing input values (they may carry personal data)."""
    parts = []
    for err in e.errors(include_input=False, include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
