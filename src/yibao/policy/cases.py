"""Golden policy cases: YAML files of (region, date, person, year so far, encounter) → expected results.

A file is a YAML list of cases (format in docs/policy.md). ``expect`` may name any setlinfo money
field, any named intermediate (deductible, pool_ratio, pool_cap, serious_illness_cap,
waiting_period_months …), ``ytd.<accumulator>`` after the settlement, ``lines.<i>.<field>`` of the 2204
line results, or ``error`` — a text the error message must contain (for bad-input cases).

>>> from yibao.policy.cases import load_cases
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog
from yibao.money import Ratio, to_decimal
from yibao.policy.enrollment import PersonTerms
from yibao.policy.loader import load_region, read_yaml
from yibao.policy.parameters import PolicyError
from yibao.settlement.engine import SettlementError, Step, person_only, settle
from yibao.settlement.model import SETLINFO_MONEY_FIELDS, LineResult, Settlement
from yibao.settlement.parse import parse_encounter, parse_person, parse_ytd

MONEY_INTERMEDIATES = frozenset(
    {
        "deductible",
        "pool_cap",
        "pool_cap_room",
        "above_pool_cap",
        "serious_illness_threshold",
        "serious_illness_cap",
        "maf_threshold",
    }
)
PERSON_RESULTS = ("waiting_period_months", "benefit_start", "in_waiting_period", "serious_illness_cap")
LINE_MONEY = frozenset(
    {"det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt"}
)


class CaseError(ValueError):
    """A malformed case file, naming the file, the case and the key."""


@dataclass(frozen=True)
class Case:
    file: str
    index: int
    name: str
    reference: str
    region: str
    date: date
    raw: Mapping[str, Any]
    expect: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file} case {self.index + 1} ({self.name})"


@dataclass
class Outcome:
    """A case's computed results (JSON-ready values), differences from ``expect``, and the trace."""

    case: Case
    results: dict[str, Any] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    trace: tuple[Step, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.differences


def load_cases(paths: Iterable[str | Path]) -> list[Case]:
    """Read every case of every file (directories are searched for ``*.yaml``), in order."""
    cases: list[Case] = []
    for p in paths:
        path = Path(p)
        files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        if not files:
            raise CaseError(f"{path}: no case files")
        for f in files:
            cases.extend(_read_file(f))
    return cases


def _read_file(path: Path) -> list[Case]:
    try:
        doc = read_yaml(path)
    except PolicyError as e:
        raise CaseError(str(e)) from None
    if not isinstance(doc, list):
        raise CaseError(f"{path.name}: a case file is a YAML list of cases")
    out = []
    for i, raw in enumerate(doc):
        where = f"{path.name} case {i + 1}"
        if not isinstance(raw, dict):
            raise CaseError(f"{where}: a case is a mapping")
        unknown = set(raw) - {"name", "reference", "region", "date", "person", "ytd", "encounter", "expect"}
        if unknown:
            raise CaseError(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("name", "reference", "region", "date", "person", "expect"):
            if key not in raw:
                raise CaseError(f"{where}: missing {key!r}")
        if not isinstance(raw["date"], date):
            raise CaseError(f"{where}: date must be YYYY-MM-DD")
        if not isinstance(raw["expect"], dict) or not raw["expect"]:
            raise CaseError(f"{where}: expect must name at least one result")
        out.append(
            Case(
                path.name,
                i,
                str(raw["name"]),
                str(raw["reference"]),
                str(raw["region"]),
                raw["date"],
                raw,
                raw["expect"],
            )
        )
    return out


def run_case(case: Case, *, catalog: Catalog | None = None, trace: bool = False) -> Outcome:
    """Compute one case and compare it with its ``expect``."""
    outcome = Outcome(case)
    try:
        policy = load_region(case.region)
        person = parse_person(case.raw["person"])
        if case.raw.get("encounter") is not None:
            encounter = parse_encounter(case.raw["encounter"])
            s = settle(
                encounter,
                person,
                parse_ytd(case.raw.get("ytd")),
                policy,
                case.date,
                catalog=catalog if catalog is not None else default_catalog(),
                trace=trace,
            )
            outcome.results = settlement_results(s)
            outcome.trace = s.trace or ()
        else:
            outcome.results = person_results(person_only(policy, person, case.date))
    except (PolicyError, SettlementError) as e:
        outcome.error = str(e)
    _compare(outcome)
    return outcome


def settlement_results(s: Settlement) -> dict[str, Any]:
    """Every setlinfo money field (yuan), the pool ratio, the named intermediates and the accumulators."""
    out: dict[str, Any] = {name: to_decimal(getattr(s, name)) for name in SETLINFO_MONEY_FIELDS}
    out["pool_prop_selfpay"] = _ratio(s.pool_prop_selfpay)
    for name, value in s.intermediates.items():
        out[name] = _json_value(name, value)
    for name, value in s.ytd._asdict().items():
        out[f"ytd.{name}"] = value if name == "admissions" else to_decimal(value)
    for i, line in enumerate(s.lines):
        for name, value in _line_values(line).items():
            out[f"lines.{i}.{name}"] = value
    out["setldetail"] = [
        {
            "fund_pay_type": d.fund_pay_type,
            "fund_pay_type_name": d.fund_pay_type_name,
            "fund_payamt": to_decimal(d.fund_payamt),
        }
        for d in s.setldetail
    ]
    return out


def person_results(t: PersonTerms) -> dict[str, Any]:
    return {name: _json_value(name, getattr(t, _PERSON_ATTR[name])) for name in PERSON_RESULTS}


_PERSON_ATTR = {
    "waiting_period_months": "waiting_months",
    "benefit_start": "benefit_start",
    "in_waiting_period": "in_waiting",
    "serious_illness_cap": "serious_cap",
}


def _line_values(line: LineResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in line._asdict().items():
        if name in LINE_MONEY:
            out[name] = to_decimal(value)
        elif name == "selfpay_prop":
            out[name] = _ratio(value)
        elif name in ("pric", "pric_uplmt_amt"):
            out[name] = None if value is None else Decimal(value).scaleb(-6).normalize()
        elif name == "cnt":
            out[name] = Decimal(value).scaleb(-4).normalize()
        else:
            out[name] = value
    return out


def _ratio(r: Ratio) -> Decimal:
    return (Decimal(r.num) / Decimal(r.den)).quantize(Decimal("0.0001"))


def _json_value(name: str, value: Any) -> Any:
    if name in MONEY_INTERMEDIATES:
        return None if value is None else to_decimal(value)
    if isinstance(value, Ratio):
        return _ratio(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _compare(outcome: Outcome) -> None:
    expect = outcome.case.expect
    if outcome.error is not None:
        wanted = expect.get("error")
        if wanted is None:
            outcome.differences.append(f"error: {outcome.error}")
        elif str(wanted) not in outcome.error:
            outcome.differences.append(f"error: expected one containing {wanted!r}, got {outcome.error!r}")
        return
    for key, want in expect.items():
        if key == "error":
            outcome.differences.append(f"error: expected one containing {want!r}, but the case computed")
            continue
        if key not in outcome.results:
            outcome.differences.append(f"{key}: not computed for this case")
            continue
        got = outcome.results[key]
        if not _equal(want, got):
            outcome.differences.append(f"{key}: expected {_show(want)}, got {_show(got)}")


def _equal(want: Any, got: Any) -> bool:
    if want is None or got is None:
        return want is got
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(got, Decimal) or isinstance(want, Decimal):
        try:
            return Decimal(str(want)) == Decimal(str(got))
        except ArithmeticError:
            return False
    if isinstance(want, date):
        return bool(want.isoformat() == got)
    return bool(want == got)


def _show(v: Any) -> str:
    return "null" if v is None else str(v)
