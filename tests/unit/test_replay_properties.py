"""The waves of :mod:`yibao.settlement.replay` settle every bill exactly as the engine does bill by bill.

For random households (an account holder and relatives paid for through 家庭共济), random persons,
enrolment histories (waiting periods), assistance, hospital levels, medical types and bill amounts
spread over orders of magnitude (so that deductibles, bands, caps, 大病 thresholds and assistance caps
are crossed), on two policies: the replay's money and ratio equal those of
:func:`~yibao.settlement.engine.settle_totals` run bill after bill with the year so far and the
account balances, as settle-year's reference loop runs it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao import codes
from yibao.catalog.model import LineColumns, LineContext, Restriction, violated
from yibao.dataset.schema import SETLINFO_MONEY
from yibao.money import round_div
from yibao.policy.loader import Policy, load_region
from yibao.settlement.engine import settle_totals
from yibao.settlement.model import Accumulators, Encounter, Enrollment, Person
from yibao.settlement.replay import YearBills, replay

POLICIES = {
    "engine_region": load_region(Path(__file__).parents[1] / "fixtures" / "policy" / "engine_region"),
    "990100": load_region("990100"),
}
PSN_TYPES = {"310": ("1101", "1201", "1102", "1202"), "390": ("1501", "1402", "1403")}
MED_TYPES = ("11", "14", "21", "41")
ASSISTANCE = ("none", *sorted(codes.ASSISTANCE_CATEGORIES))
YEAR = 2025


def log_uniform(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(len(str(lo)) - 1, len(str(hi)) - 1).flatmap(
        lambda k: st.integers(max(lo, 10**k), min(hi, 10 ** (k + 1) - 1))
    )


@st.composite
def enrollment(draw: st.DrawFn) -> Enrollment:
    breaks = draw(st.integers(0, 4))
    enrolled_on = date(YEAR, 1, 1) + timedelta(days=draw(st.integers(0, 200))) if draw(st.booleans()) else None
    return Enrollment(
        continuous_years=draw(st.integers(1, 12)),
        zero_claim_years=draw(st.integers(0, 3)),
        break_years=breaks,
        repaid_years=draw(st.integers(0, breaks)),
        in_window=draw(st.booleans()),
        enrolled_on=enrolled_on,
    )


@st.composite
def person(draw: st.DrawFn, insutype: str) -> dict[str, Any]:
    return {
        "insutype": insutype,
        "psn_type": draw(st.sampled_from(PSN_TYPES[insutype])),
        "age": draw(st.integers(0, 95)),
        "assistance": draw(st.sampled_from(ASSISTANCE)),
        "enrollment": draw(enrollment()) if insutype == "390" and draw(st.booleans()) else Enrollment(),
        "funds": np.cumsum([draw(st.integers(0, 3000_00))] + [draw(st.sampled_from((0, 0, 150_00))) for _ in range(12)]),
    }  # fmt: skip


@st.composite
def bill(draw: st.DrawFn, persons: int) -> dict[str, Any]:
    inscp = draw(st.one_of(st.just(0), log_uniform(1, 80_0000_00), log_uniform(1000_00, 80_0000_00)))
    ful, over, pre = (draw(st.just(0) | log_uniform(1, 5000_00)) for _ in range(3))
    return {
        "person": draw(st.integers(0, persons - 1)),
        "day": draw(st.integers(0, 364)),
        "med_type": draw(st.sampled_from(MED_TYPES)),
        "hosp_lv": draw(st.sampled_from(("1", "2", "3"))),
        "split": (ful, over, pre, inscp),
    }


@st.composite
def households(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int], list[dict[str, Any]]]:
    """Persons, each person's 家庭共济 holder (−1 none) and bills in settling order (by household,
    then time). Person 0 of each household is an employee whose account may pay for the others."""
    persons: list[dict[str, Any]] = []
    holder: list[int] = []
    bills: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        head = len(persons)
        size = draw(st.integers(1, 3))
        persons.append(draw(person("310")))
        holder.append(-1)
        for _ in range(size - 1):
            persons.append(draw(person(draw(st.sampled_from(("390", "310"))))))
            holder.append(head if draw(st.booleans()) else -1)
        own = draw(st.lists(bill(size), min_size=1, max_size=25))
        for b in sorted(own, key=lambda b: b["day"]):
            bills.append(b | {"person": head + b["person"]})
    return persons, holder, bills


def year_bills(persons: list[dict[str, Any]], holder: list[int], bills: list[dict[str, Any]]) -> YearBills:
    household = [p if holder[p] < 0 else holder[p] for p in range(len(persons))]
    enrollments = tuple({id(p["enrollment"]): p["enrollment"] for p in persons}.values())
    who = np.array([b["person"] for b in bills], dtype=np.int64)
    return YearBills(
        person=who,
        household=np.array(household, dtype=np.int64)[who],
        on=np.array([date(YEAR, 1, 1) + timedelta(days=b["day"]) for b in bills], dtype="datetime64[D]"),
        med_type=np.array([b["med_type"] for b in bills], dtype=object),
        hosp_lv=np.array([b["hosp_lv"] for b in bills], dtype=object),
        insutype=np.array([persons[b["person"]]["insutype"] for b in bills], dtype=object),
        age=np.array([persons[b["person"]]["age"] for b in bills], dtype=np.int64),
        split=np.array([b["split"] for b in bills], dtype=np.int64),
        psn_type=[p["psn_type"] for p in persons],
        assistance=[p["assistance"] for p in persons],
        enrollment=np.array([[id(e) for e in enrollments].index(id(p["enrollment"])) for p in persons]),
        enrollments=enrollments,
        holder=np.array(holder, dtype=np.int64),
        funds=np.array([p["funds"] for p in persons], dtype=np.int64),
    )


def one_by_one(
    persons: list[dict[str, Any]], holder: list[int], bills: list[dict[str, Any]], policy: Policy
) -> tuple[list[list[int]], list[int]]:
    """The reference: the engine, bill after bill, with the year so far and the balances left."""
    ytd = [Accumulators() for _ in persons]
    spent = [0] * len(persons)

    def balance(p: int, month: int) -> int:
        return 0 if p < 0 else max(int(persons[p]["funds"][month]) - spent[p], 0)

    money, ratios = [], []
    for b in bills:
        p, on = b["person"], date(YEAR, 1, 1) + timedelta(days=b["day"])
        q = persons[p]
        who = Person(q["insutype"], q["psn_type"], q["age"], assistance=None if q["assistance"] == "none" else
                     q["assistance"], enrollment=q["enrollment"], acct_balance=balance(p, on.month),
                     mulaid_balance=balance(holder[p], on.month))  # fmt: skip
        s = settle_totals(Encounter(b["med_type"], b["hosp_lv"], ()), who, ytd[p], policy, on, presplit=b["split"])
        ytd[p] = s.ytd
        spent[p] += s.acct_pay - s.acct_mulaid_pay
        if holder[p] >= 0:
            spent[holder[p]] += s.acct_mulaid_pay
        money.append([s.money()[name] for name in SETLINFO_MONEY])
        ratios.append(round_div(s.pool_prop_selfpay.num * 10000, s.pool_prop_selfpay.den))
    return money, ratios


@pytest.mark.parametrize("region", sorted(POLICIES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households())
def test_the_waves_settle_every_bill_as_the_engine_does_one_by_one(
    region: str, case: tuple[list[dict[str, Any]], list[int], list[dict[str, Any]]]
) -> None:
    policy = POLICIES[region]
    persons, holder, bills = case
    replayed = replay(year_bills(persons, holder, bills), policy)
    assert replayed.regular.all()
    money, ratios = one_by_one(persons, holder, bills, policy)
    assert replayed.money.tolist() == money
    assert replayed.ratio_e4.tolist() == ratios


def test_households_sharing_an_account_and_long_term_care_are_left_to_the_engine() -> None:
    persons = [
        {"insutype": "310", "psn_type": "1101", "age": 40, "assistance": "none", "enrollment": Enrollment(),
         "funds": np.full(13, 1000_00)},
        {"insutype": "310", "psn_type": "1101", "age": 40, "assistance": "none", "enrollment": Enrollment(),
         "funds": np.full(13, 1000_00)},
    ] * 2  # fmt: skip
    # person 1 pays for through person 0, who pays through person 3: households 0 and 3 share 0's account
    holder = [3, 0, -1, -1]
    bills = [
        {"person": 1, "day": 5, "med_type": "11", "hosp_lv": "1", "split": (0, 0, 0, 100_00)},
        {"person": 0, "day": 9, "med_type": "11", "hosp_lv": "1", "split": (0, 0, 0, 100_00)},
        {"person": 2, "day": 9, "med_type": "9901", "hosp_lv": "1", "split": (0, 0, 0, 100_00)},
        {"person": 2, "day": 19, "med_type": "11", "hosp_lv": "1", "split": (0, 0, 0, 100_00)},
    ]
    assert replay(year_bills(persons, holder, bills), POLICIES["990100"]).regular.tolist() == [False] * 4


restrictions = st.builds(
    Restriction,
    gend=st.none() | st.sampled_from(("1", "2")),
    age_min=st.none() | st.integers(0, 60),
    age_max=st.none() | st.integers(6, 100),
    hosp_lv_min=st.none() | st.sampled_from(("1", "2", "3")),
    visits=st.frozensets(st.sampled_from(("outpatient", "chronic", "inpatient", "pharmacy")), max_size=2),
    indications=st.lists(st.sampled_from(("E11", "I10", "J4", "C")), max_size=2).map(tuple),
    max_days_supply=st.none() | st.integers(1, 90),
)
contexts = st.tuples(
    st.sampled_from(("1", "2")),
    st.integers(0, 100),
    st.sampled_from(("1", "2", "3")),
    st.sampled_from(("outpatient", "chronic", "inpatient", "pharmacy")),
    st.lists(st.sampled_from(("E11.900", "I10.x00", "J45.900", "C34.900", "K35.800")), max_size=3).map(tuple),
    st.none() | st.integers(1, 120),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(restrictions, min_size=1, max_size=5), st.lists(st.tuples(st.integers(0, 4), contexts), max_size=40))
def test_restricted_lines_are_checked_as_the_catalogue_checks_them(
    kinds: list[Restriction], lines: list[tuple[int, tuple[Any, ...]]]
) -> None:
    """settle-year's vectorised 限定支付 check agrees with Restriction.violation on every line."""
    rid = np.array([k % len(kinds) for k, _ in lines], dtype=np.int64)
    ctx = [LineContext(*c) for _, c in lines]
    line = LineColumns(
        gend=np.array([c.gend for c in ctx], dtype=object),
        age=np.array([c.age for c in ctx], dtype=np.int64),
        hosp_lv=np.array([c.hosp_lv for c in ctx], dtype=object),
        visit=np.array([c.visit for c in ctx], dtype=object),
        diagnoses=[c.diagnoses for c in ctx],
        days=np.array([-1 if c.days_supply is None else c.days_supply for c in ctx], dtype=np.int64),
    )
    expected = [kinds[r].violation(c) is not None for r, c in zip(rid.tolist(), ctx, strict=True)]
    assert violated(kinds, rid, line).tolist() == expected
