"""Read engine inputs from plain mappings with national field names (YAML cases, JSON messages).

Every problem raises :class:`~yibao.settlement.engine.SettlementError` naming the field, before anything
is computed: money with more than 2 decimals, prices with more than 6, counts with more than 4,
negative amounts, unknown dictionary codes.

>>> line = parse_fee_line({"med_list_codg": "X1", "chrgitm_lv": "01", "pric": "23.50", "cnt": 2}, 0)
>>> line.det_item_fee_sumamt, line.pric, line.cnt
(4700, 23500000, 20000)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from yibao import codes
from yibao.codes import CodeError
from yibao.money import (
    COUNT_PLACES,
    MAX_MONEY_DIGITS,
    PRICE_PLACES,
    MoneyError,
    Ratio,
    parse_money,
    parse_scaled,
    round_div,
)
from yibao.settlement.engine import SettlementError
from yibao.settlement.model import (
    ACCUMULATOR_NAMES,
    FEN_PER_PRICE_COUNT,
    Accumulators,
    Encounter,
    Enrollment,
    FeeLine,
    Person,
)

_COUNT_ACCUMULATORS = frozenset({"admissions"})


def _field(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _require(d: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in d or d[name] is None or d[name] == "":
        raise SettlementError(_field(where, name), "is required")
    return d[name]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SettlementError(where, f"must be a mapping, not {type(value).__name__}")
    return value


def _code(field: str, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise SettlementError(_field(where, field), f"codes are strings: write {str(value)!r} in quotes")
    try:
        return codes.check(field, value)
    except CodeError as e:
        raise SettlementError(_field(where, field), str(e).split(": ", 1)[-1]) from None


def _int(value: Any, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettlementError(where, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise SettlementError(where, f"must be at least {minimum}, got {value}")
    return value


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("0", "1", 0, 1):
        return str(value) == "1"
    raise SettlementError(where, f"must be true/false or 0/1, got {value!r}")


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SettlementError(where, f"is not a date (YYYY-MM-DD): {value!r}") from None


def parse_fee_line(d: Mapping[str, Any], i: int, where: str = "feedetail") -> FeeLine:
    """A 2204-style fee line: med_list_codg, pric, cnt, optional det_item_fee_sumamt / chrgitm_lv / selfpay_prop."""
    here = f"{where}[{i}]"
    d = _mapping(d, here)
    try:
        code = str(_require(d, "med_list_codg", here))
        pric = parse_scaled(_require(d, "pric", here), PRICE_PLACES, f"{here}.pric")
        cnt = parse_scaled(_require(d, "cnt", here), COUNT_PLACES, f"{here}.cnt")
        if cnt == 0:
            raise SettlementError(f"{here}.cnt", "must be positive (refunds are reversals)")
        computed = round_div(pric * cnt, FEN_PER_PRICE_COUNT)
        if computed >= 10**MAX_MONEY_DIGITS:
            raise SettlementError(f"{here}.det_item_fee_sumamt", "pric × cnt is too large for DECIMAL(16,2)")
        amount = computed
        if d.get("det_item_fee_sumamt") not in (None, ""):
            amount = parse_money(d["det_item_fee_sumamt"], f"{here}.det_item_fee_sumamt")
            if abs(amount - computed) > 1:
                raise SettlementError(
                    f"{here}.det_item_fee_sumamt",
                    f"{d['det_item_fee_sumamt']} differs from pric × cnt = {computed / 100:.2f}",
                )
        lv = _code("chrgitm_lv", d["chrgitm_lv"], here) if d.get("chrgitm_lv") not in (None, "") else None
        prop = None
        if d.get("selfpay_prop") not in (None, ""):
            parse_scaled(d["selfpay_prop"], 4, f"{here}.selfpay_prop")  # (5,4) on the wire
            prop = Ratio.of(d["selfpay_prop"], f"{here}.selfpay_prop")
            if prop.num > prop.den:
                raise SettlementError(f"{here}.selfpay_prop", "must be between 0 and 1")
            if lv is None:
                raise SettlementError(f"{here}.selfpay_prop", "may only be given together with chrgitm_lv")
        cap = None
        if d.get("pric_uplmt_amt") not in (None, ""):
            cap = parse_scaled(d["pric_uplmt_amt"], PRICE_PLACES, f"{here}.pric_uplmt_amt")
        typ = None
        if d.get("med_chrgitm_type") not in (None, ""):
            typ = _code("med_chrgitm_type", d["med_chrgitm_type"], here)
        days = (
            _int(d["prd_days"], f"{here}.prd_days", minimum=1)
            if d.get("prd_days") not in (None, "")
            else None
        )
    except MoneyError as e:
        raise SettlementError(e.field, e.message) from None
    return FeeLine(str(d.get("feedetl_sn") or i + 1), code, pric, cnt, amount, lv, prop, cap, typ, days)


def parse_encounter(d: Mapping[str, Any], where: str = "encounter") -> Encounter:
    """An encounter: med_type, hosp_lv, lines, optional diagnoses / insutype / acct_used_flag / care_form / ltc_days."""
    d = _mapping(d, where)
    med_type = _code("med_type", _require(d, "med_type", where), where)
    hosp_lv = str(_require(d, "hosp_lv", where))
    if hosp_lv not in ("1", "2", "3") and hosp_lv not in codes.HOSP_LV:
        raise SettlementError(
            f"{where}.hosp_lv", f"unknown hospital level {hosp_lv!r} (3, 2, 1 or a national code 01–10)"
        )
    hosp_lv = codes.coarse_hosp_lv(hosp_lv)
    raw_lines = d.get("lines", d.get("feedetail"))
    if not isinstance(raw_lines, list) or not raw_lines:
        raise SettlementError(f"{where}.lines", "an encounter needs at least one fee line")
    lines = tuple(parse_fee_line(x, i, f"{where}.lines") for i, x in enumerate(raw_lines))
    sns = [x.feedetl_sn for x in lines]
    if len(set(sns)) != len(sns):
        raise SettlementError(f"{where}.lines", "feedetl_sn must be unique within the encounter")
    diagnoses = d.get("diagnoses") or ()
    if isinstance(diagnoses, str):
        diagnoses = tuple(x for x in diagnoses.split("|") if x)
    insutype = _code("insutype", d["insutype"], where) if d.get("insutype") else None
    care_form = d.get("care_form")
    if care_form is not None and care_form not in ("institutional", "family", "home", "specialised"):
        raise SettlementError(f"{where}.care_form", f"unknown care form {care_form!r}")
    ltc_days = _int(d.get("ltc_days", 0), f"{where}.ltc_days")
    if codes.visit_kind(med_type) == "ltc" and (care_form is None or ltc_days == 0):
        raise SettlementError(where, "a long-term-care bill needs care_form and ltc_days")
    return Encounter(
        med_type,
        hosp_lv,
        lines,
        tuple(str(x) for x in diagnoses),
        insutype,
        _bool(d.get("acct_used_flag", True), f"{where}.acct_used_flag"),
        care_form,
        ltc_days,
    )


def parse_person(d: Mapping[str, Any], where: str = "person") -> Person:
    """A person: insutype, psn_type, age, optional gend / assistance / enrollment / balances."""
    d = _mapping(d, where)
    insutype = _code("insutype", _require(d, "insutype", where), where)
    try:
        codes.scheme(insutype)
    except CodeError:
        raise SettlementError(
            f"{where}.insutype",
            f"{insutype} ({codes.label('insutype', insutype)}) has no benefit scheme here",
        ) from None
    psn_type = _code("psn_type", _require(d, "psn_type", where), where)
    age = _int(_require(d, "age", where), f"{where}.age")
    if age > 130:
        raise SettlementError(f"{where}.age", f"is not a possible age: {age}")
    gend = _code("gend", d.get("gend", "1"), where)
    assistance = d.get("assistance")
    if assistance is not None and assistance not in codes.ASSISTANCE_CATEGORIES:
        raise SettlementError(
            f"{where}.assistance",
            f"unknown category {assistance!r} (expected one of {', '.join(sorted(codes.ASSISTANCE_CATEGORIES))})",
        )
    e = _mapping(d.get("enrollment") or {}, f"{where}.enrollment")
    ew = f"{where}.enrollment"
    known = {"continuous_years", "zero_claim_years", "break_years", "repaid_years", "in_window",
             "prior_continuous_years", "enrolled_on"}  # fmt: skip
    unknown = set(e) - known
    if unknown:
        raise SettlementError(ew, f"unknown keys {sorted(unknown)}")
    prior = e.get("prior_continuous_years", ())
    prior = (prior,) if isinstance(prior, int) else tuple(prior or ())
    enrollment = Enrollment(
        continuous_years=_int(e.get("continuous_years", 1), f"{ew}.continuous_years"),
        zero_claim_years=_int(e.get("zero_claim_years", 0), f"{ew}.zero_claim_years"),
        break_years=_int(e.get("break_years", 0), f"{ew}.break_years"),
        repaid_years=_int(e.get("repaid_years", 0), f"{ew}.repaid_years"),
        in_window=_bool(e.get("in_window", True), f"{ew}.in_window"),
        prior_continuous_years=tuple(_int(x, f"{ew}.prior_continuous_years") for x in prior),
        enrolled_on=_date(e["enrolled_on"], f"{ew}.enrolled_on") if e.get("enrolled_on") else None,
    )
    if enrollment.repaid_years > enrollment.break_years:
        raise SettlementError(f"{ew}.repaid_years", "cannot exceed break_years")
    try:
        acct = parse_money(d.get("acct_balance", 0), f"{where}.acct_balance")
        mulaid = parse_money(d.get("mulaid_balance", 0), f"{where}.mulaid_balance")
    except MoneyError as err:
        raise SettlementError(err.field, err.message) from None
    return Person(
        insutype, psn_type, age, gend, assistance, enrollment, acct, mulaid, str(d.get("psn_no", ""))
    )


def parse_ytd(d: Mapping[str, Any] | None, where: str = "ytd") -> Accumulators:
    """Year-to-date accumulators by name; money in yuan, ``admissions`` a count; absent = 0."""
    d = _mapping(d or {}, where)
    values: dict[str, int] = {}
    for name, raw in d.items():
        if name not in ACCUMULATOR_NAMES:
            raise SettlementError(
                f"{where}.{name}", f"unknown accumulator (expected one of {', '.join(ACCUMULATOR_NAMES)})"
            )
        if name in _COUNT_ACCUMULATORS:
            values[name] = _int(raw, f"{where}.{name}")
        else:
            try:
                values[name] = parse_money(raw, f"{where}.{name}")
            except MoneyError as e:
                raise SettlementError(e.field, e.message) from None
    return Accumulators(**values)
