"""Property tests of the settlement engine on the demo region 990100 (issue 2, "Done means").

For random bills, persons, hospital levels, medical types and dates:

* the identities of interface.md §2.4 hold exactly;
* no amount is negative, the funds never pay more than the policy-range amount, the account never
  pays more than the balance;
* over a year of bills threaded through ``settlement.ytd``, no annual cap is ever exceeded and every
  accumulator equals the sum of the per-bill amounts it accumulates.

Caps are read from the policy (``policy.param(name).at(date, **dims)``), never hard-coded.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from yibao import codes
from yibao.money import Fen, mul_ratio
from yibao.policy.loader import Policy, load_region
from yibao.settlement.engine import settle
from yibao.settlement.model import ACCUMULATOR_NAMES, Accumulators, Encounter, Enrollment, Person, Settlement
from yibao.settlement.parse import parse_fee_line

POLICY = load_region(Path(__file__).parents[1] / "fixtures" / "policy" / "engine_region")

PSN_TYPES = {"310": ("1101", "1201", "1102"), "390": ("1501", "1402")}
AGES = {"1101": (18, 65), "1102": (22, 65), "1201": (50, 100), "1501": (18, 100), "1402": (0, 6)}
MED_TYPES = ("11", "14", "21", "41")
ASSISTANCE = tuple(sorted(codes.ASSISTANCE_CATEGORIES))
FUND_COLUMNS = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")
SERIOUS_VISITS = ("inpatient", "chronic")

SINGLE = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
YEARS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------


def log_uniform(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi] spread evenly over orders of magnitude (plain integers() favours small ones)."""
    return st.integers(len(str(lo)) - 1, len(str(hi)) - 1).flatmap(
        lambda k: st.integers(max(lo, 10**k), min(hi, 10 ** (k + 1) - 1))
    )


# prices 0.01–50,000 yuan with up to 6 decimals (units of 1e-6 yuan), counts with up to 4 (1e-4)
PRICE_MIN, PRICE_MAX = 10_000, 50_000_000000
prices = log_uniform(PRICE_MIN, PRICE_MAX)
whole_counts = st.integers(1, 100).map(lambda n: n * 1_0000)  # most lines count whole units
counts = st.one_of(whole_counts, log_uniform(1, 100_0000))
props = st.integers(0, 3000)  # 先行自付 0–0.3 in 1e-4


@st.composite
def fee_line(draw: st.DrawFn, i: int = 0) -> dict[str, Any]:
    pric = draw(prices)
    line: dict[str, Any] = {
        "feedetl_sn": str(i + 1),
        "med_list_codg": f"T{i}",
        "chrgitm_lv": draw(st.sampled_from(("01", "02", "03"))),
        "selfpay_prop": str(Decimal(draw(props)).scaleb(-4)),
        "pric": str(Decimal(pric).scaleb(-6)),
        "cnt": str(Decimal(draw(counts)).scaleb(-4)),
    }
    cap = draw(st.none() | prices | st.integers(max(PRICE_MIN, pric // 2), pric))
    if cap is not None:
        line["pric_uplmt_amt"] = str(Decimal(cap).scaleb(-6))
    return line


@st.composite
def encounter(draw: st.DrawFn, max_lines: int = 100, med_type: str | None = None) -> Encounter:
    n = draw(st.integers(1, max_lines))
    raw = [draw(fee_line(i)) for i in range(n)]
    lines = tuple(parse_fee_line(d, i) for i, d in enumerate(raw))
    return Encounter(
        med_type or draw(st.sampled_from(MED_TYPES)),
        draw(st.sampled_from(("1", "2", "3"))),
        lines,
        acct_used_flag=draw(st.booleans()),
    )


@st.composite
def person(draw: st.DrawFn, year: int | None = None) -> Person:
    insutype = draw(st.sampled_from(tuple(PSN_TYPES)))
    psn_type = draw(st.sampled_from(PSN_TYPES[insutype]))
    lo, hi = AGES[psn_type]
    enrollment = Enrollment()
    if insutype == "390":
        breaks = draw(st.integers(0, 6))
        enrolled_on = None
        if year is not None and draw(st.booleans()):
            enrolled_on = date(year, 1, 1) + timedelta(days=draw(st.integers(0, 300)))
        enrollment = Enrollment(
            continuous_years=draw(st.integers(1, 15)),
            zero_claim_years=draw(st.integers(0, 4)),
            break_years=breaks,
            repaid_years=draw(st.integers(0, breaks)),
            in_window=draw(st.booleans()),
            prior_continuous_years=tuple(draw(st.lists(st.integers(1, 12), max_size=2))),
            enrolled_on=enrolled_on,
        )
    return Person(
        insutype,
        psn_type,
        draw(st.integers(lo, hi)),
        gend=draw(st.sampled_from(("1", "2"))),
        assistance=draw(st.none() | st.sampled_from(ASSISTANCE)),
        enrollment=enrollment,
        acct_balance=draw(st.integers(0, 20000_00)),
        mulaid_balance=draw(st.one_of(st.just(0), st.integers(0, 5000_00))),
    )


money_ytd = st.one_of(st.just(0), st.integers(0, 500000_00))


@st.composite
def prior_ytd(draw: st.DrawFn) -> Accumulators:
    values = {name: draw(money_ytd) for name in ACCUMULATOR_NAMES if name != "admissions"}
    return Accumulators(admissions=draw(st.integers(0, 6)), **values)


days = st.dates(date(2024, 1, 1), date(2026, 12, 31))


# ---------------------------------------------------------------------------------------------
# What must hold of every settlement
# ---------------------------------------------------------------------------------------------


def check_settlement(s: Settlement, who: Person) -> None:
    # 1. medfee = the four parts
    assert s.medfee_sumamt == s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt
    # 2. fund_pay_sumamt = the fund columns
    assert s.fund_pay_sumamt == sum(getattr(s, c) for c in FUND_COLUMNS)
    # 3. psn_part = medfee − fund − hosp_part
    assert s.psn_part_amt == s.medfee_sumamt - s.fund_pay_sumamt - s.hosp_part_amt
    # 4. psn_part = acct + cash
    assert s.psn_part_amt == s.acct_pay + s.psn_cash_pay
    # 5. Σ setldetail = fund + account
    assert sum(d.fund_payamt for d in s.setldetail) == s.fund_pay_sumamt + s.acct_pay
    # 6. each line's four parts = its amount; the lines sum to the totals
    for r in s.lines:
        assert (
            r.det_item_fee_sumamt == r.fulamt_ownpay_amt + r.overlmt_amt + r.preselfpay_amt + r.inscp_scp_amt
        )
        assert min(r.fulamt_ownpay_amt, r.overlmt_amt, r.preselfpay_amt, r.inscp_scp_amt) >= 0, r
    assert s.medfee_sumamt == sum(r.det_item_fee_sumamt for r in s.lines)
    assert s.fulamt_ownpay_amt == sum(r.fulamt_ownpay_amt for r in s.lines)
    assert s.overlmt_selfpay == sum(r.overlmt_amt for r in s.lines)
    assert s.preselfpay_amt == sum(r.preselfpay_amt for r in s.lines)
    assert s.inscp_scp_amt == sum(r.inscp_scp_amt for r in s.lines)
    # no amount is negative; the funds pay at most the policy-range amount
    negative = {k: v for k, v in s.money().items() if v < 0}
    assert not negative, negative
    assert all(d.fund_payamt > 0 for d in s.setldetail)
    assert s.fund_pay_sumamt <= s.inscp_scp_amt
    assert s.act_pay_dedc <= s.inscp_scp_amt
    assert s.hifp_pay + s.act_pay_dedc <= s.inscp_scp_amt
    # the account: at most the balance plus mutual aid, mutual aid a part of it, balance never negative
    assert s.acct_mulaid_pay <= s.acct_pay
    assert s.acct_mulaid_pay <= who.mulaid_balance
    assert s.acct_pay - s.acct_mulaid_pay <= who.acct_balance
    assert s.balc == who.acct_balance - (s.acct_pay - s.acct_mulaid_pay) >= 0
    # the waiting period
    if s.intermediates["in_waiting_period"]:
        assert s.fund_pay_sumamt == 0


@SINGLE
@given(encounter(), person(), prior_ytd(), days)
def test_every_settlement_satisfies_the_identities(
    enc: Encounter, who: Person, ytd: Accumulators, on: date
) -> None:
    s = settle(enc, who, ytd, POLICY, on)
    check_settlement(s, who)
    # pure: the plan caches shared by every example change nothing, nor does asking for the trace
    cold = Policy(POLICY.region, POLICY.parameters)
    traced = settle(enc, who, ytd, cold, on, trace=True)
    assert traced._replace(trace=None) == s
    assert traced.trace
    # one bill never pushes an accumulator past its cap (caps read from the policy)
    caps = Caps(who, enc.med_type, on)
    visit = codes.visit_kind(enc.med_type)
    if visit in SERIOUS_VISITS:
        assert s.hifp_pay <= max(0, caps.pool - ytd.pool_paid)
        assert s.act_pay_dedc <= caps.ip_deductible or visit == "chronic"
    if visit == "chronic":
        assert s.hifp_pay <= max(0, caps.chronic - ytd.chronic_pool_paid)
    if visit in ("outpatient", "pharmacy"):
        assert s.hifp_pay <= max(0, caps.op - ytd.op_pool_paid)
    if caps.serious is not None:
        assert s.hifmi_pay + s.hifob_pay <= max(0, caps.serious - ytd.serious_paid)
    assert s.maf_pay <= max(0, caps.maf - ytd.maf_paid)


@settings(max_examples=60, deadline=None)
@given(
    encounter(max_lines=10, med_type="9901"),
    st.sampled_from(("institutional", "family")),
    st.integers(1, 31),
    st.integers(0, 5000_00),
    days,
)
def test_long_term_care_satisfies_the_identities(
    enc: Encounter, care_form: str, ltc_days: int, balance: int, on: date
) -> None:
    who = Person("410", "1201", 80, acct_balance=balance)
    enc = enc._replace(care_form=care_form, ltc_days=ltc_days)
    s = settle(enc, who, Accumulators(), POLICY, on)
    check_settlement(s, who)
    per_diem = POLICY.param("ltc.per_diem").at(on, care_form=care_form)[0]
    assert s.hifp_pay == min(per_diem * ltc_days, s.inscp_scp_amt) == s.fund_pay_sumamt == s.ytd.ltc_paid


# ---------------------------------------------------------------------------------------------
# Year sequences
# ---------------------------------------------------------------------------------------------


class Caps:
    """The annual limits that apply to ``who`` on ``on``, read from the policy parameters."""

    def __init__(self, who: Person, med_type: str, on: date) -> None:
        scheme = codes.scheme(who.insutype)
        psn_cat = codes.psn_category(who.psn_type, who.age)
        assistance = who.assistance or "none"

        def read(name: str, **dims: str) -> Any:
            return POLICY.param(name).at(on, **dims)[0]

        self.pool: Fen = read("inpatient.pool_cap", scheme=scheme)
        self.chronic: Fen = read("chronic.pool_cap", scheme=scheme)
        self.op: Fen = read("outpatient.pool_cap", scheme=scheme, psn_cat=psn_cat)
        self.ip_deductible: Fen = read("inpatient.deductible_annual_cap", scheme=scheme)
        self.maf: Fen = read("assistance.cap", assistance=assistance) if who.assistance else 0
        self.serious: Fen | None = self._serious(who, scheme, assistance, read)

    @staticmethod
    def _serious(who: Person, scheme: str, assistance: str, read: Any) -> Fen | None:
        """The serious-illness cap: the base, and for residents the continuity/zero-claim/break terms."""
        base: Fen | None = read("serious_illness.cap", scheme=scheme, assistance=assistance)
        if base is None or scheme != "resident":
            return base
        step: Fen = read("serious_illness.incentive_step")
        free: int = read("serious_illness.incentive_free_years")
        e = who.enrollment
        earned = (
            max(0, e.continuous_years - free)
            + e.zero_claim_years
            + sum(max(0, run - free) for run in e.prior_continuous_years)
        )
        reward = min(step * earned, mul_ratio(base, read("serious_illness.incentive_max_increase")))
        penalty = min(step * e.break_years, mul_ratio(base, read("serious_illness.incentive_max_decrease")))
        return base + reward - penalty


@st.composite
def year_of_bills(draw: st.DrawFn) -> tuple[Person, list[tuple[date, Encounter]]]:
    year = draw(st.sampled_from((2024, 2025, 2026)))
    who = draw(person(year))
    n = draw(st.sampled_from(range(1, 41)))  # uniform: integers() would favour short years
    start = date(year, 1, 1)
    length = (date(year, 12, 31) - start).days
    on = sorted(start + timedelta(days=draw(st.integers(0, length))) for _ in range(n))
    # half the years mostly repeat one kind of visit, so that they reach that visit's caps
    focus = draw(st.none() | st.sampled_from(MED_TYPES))
    kinds = (
        st.sampled_from(MED_TYPES) if focus is None else st.sampled_from((focus, focus, focus, *MED_TYPES))
    )
    # few lines but large ones
    bills = [(d, draw(encounter(max_lines=6, med_type=draw(kinds)))) for d in on]
    return who, bills


@YEARS
@given(year_of_bills())
def test_a_year_of_bills_never_exceeds_a_cap_and_the_accumulators_add_up(
    case: tuple[Person, list[tuple[date, Encounter]]],
) -> None:
    who, bills = case
    ytd = Accumulators()
    sums: dict[str, int] = dict.fromkeys(ACCUMULATOR_NAMES, 0)
    for on, enc in bills:
        s = settle(enc, who, ytd, POLICY, on)
        check_settlement(s, who)
        visit = codes.visit_kind(enc.med_type)
        waiting = s.intermediates["in_waiting_period"]
        _add(sums, s, visit, waiting=waiting, assisted=who.assistance is not None)
        ytd = s.ytd
        # no cap is ever exceeded over the year
        caps = Caps(who, enc.med_type, on)
        assert ytd.pool_paid <= caps.pool
        assert ytd.chronic_pool_paid <= caps.chronic
        assert ytd.op_pool_paid <= caps.op
        assert ytd.ip_deductible_paid <= caps.ip_deductible
        assert ytd.maf_paid <= caps.maf
        if caps.serious is not None:
            assert ytd.serious_paid <= caps.serious
        if waiting:
            event("a bill in the waiting period")
        if visit in SERIOUS_VISITS and not waiting:
            assert s.intermediates["serious_illness_cap"] == caps.serious
        # the account is spent as the year goes on
        who = who._replace(acct_balance=s.balc, mulaid_balance=who.mulaid_balance - s.acct_mulaid_pay)
        assert who.mulaid_balance >= 0
    # the accumulators are the sums of the per-bill amounts
    assert ytd == Accumulators(**sums)
    _events(ytd, caps)


def _add(sums: dict[str, int], s: Settlement, visit: str, *, waiting: bool, assisted: bool) -> None:
    """Add one settlement's amounts to the accumulators they count towards."""
    sums["fund_paid"] += s.fund_pay_sumamt
    if waiting:
        return  # nothing else accumulates in a waiting period
    base = s.inscp_scp_amt - s.act_pay_dedc
    if visit == "inpatient":
        sums["admissions"] += 1
        sums["ip_deductible_paid"] += s.act_pay_dedc
        sums["pool_base"] += base
        sums["pool_paid"] += s.hifp_pay
    elif visit == "chronic":
        sums["chronic_deductible_paid"] += s.act_pay_dedc
        sums["chronic_pool_base"] += base
        sums["pool_paid"] += s.hifp_pay
        sums["chronic_pool_paid"] += s.hifp_pay
    else:  # outpatient and pharmacy share the outpatient deductible and cap
        sums["op_deductible_paid"] += s.act_pay_dedc
        sums["op_pool_base"] += base
        sums["op_pool_paid"] += s.hifp_pay
    if visit in SERIOUS_VISITS:
        employee = s.intermediates["scheme"] == "employee"
        # 大额 counts what is above the pool cap; 大病 the policy-range amount the pool did not pay
        sums["serious_base"] += (
            s.intermediates["above_pool_cap"] if employee else s.inscp_scp_amt - s.hifp_pay
        )
        sums["serious_paid"] += s.hifmi_pay + s.hifob_pay
        sums["cvlserv_paid"] += s.cvlserv_pay
        sums["maf_paid"] += s.maf_pay
        if assisted:  # 医疗救助 counts what is left after the pool, 大额/大病 and 公务员补助
            left = s.inscp_scp_amt - s.hifp_pay - s.hifmi_pay - s.hifob_pay - s.cvlserv_pay
            sums["maf_base"] += left


def _events(ytd: Accumulators, caps: Caps) -> None:
    """Which limits the year reached (``pytest --hypothesis-show-statistics`` shows how often)."""
    for name, paid, cap in (
        ("pool cap", ytd.pool_paid, caps.pool),
        ("chronic cap", ytd.chronic_pool_paid, caps.chronic),
        ("outpatient cap", ytd.op_pool_paid, caps.op),
        ("deductible cap", ytd.ip_deductible_paid, caps.ip_deductible),
        ("assistance cap", ytd.maf_paid, caps.maf if caps.maf else None),
        ("serious cap", ytd.serious_paid, caps.serious),
    ):
        if cap:
            target(paid / cap, label=name)  # steer the search towards years that reach the limit
            if paid == cap:
                event(f"reached the {name}")
