"""Person-level rules of enrolment: the waiting period and the serious-illness cap incentive.

Readings (written into the region packs and docs/policy.md):

* **Waiting period** T (months): 0 for enrolment inside the concentrated window with no break;
  otherwise ``fixed + per_break_year × max(0, B − k)``, and at least ``long_min`` after a break of
  ``long_years`` or more, even when repaired. During the waiting period the funds pay nothing.
* **Serious-illness cap** for residents: ``C0 + R − P`` with the continuity reward
  ``U × max(0, N − free)``, the zero-claim reward ``U × zero_claim_years``, rewards retained from runs
  before a break ``U × max(0, run − free)`` each, ``R = min(ΣR, max_increase × C0)`` and the break
  penalty ``P = min(U × B, max_decrease × C0)``.

>>> waiting_months(fixed=3, per_break_year=1, long_years=4, long_min=6,
...                in_window=False, break_years=5, repaid_years=5)
6
>>> incentive_cap(300000_00, step=4000_00, free_years=4, max_increase=Ratio(1, 5), max_decrease=Ratio(1, 5),
...               continuous_years=7, zero_claim_years=0, break_years=0, prior_runs=())
31200000
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any, NamedTuple

from yibao.money import Fen, Ratio, mul_ratio
from yibao.policy.loader import Policy
from yibao.policy.parameters import Read
from yibao.settlement.model import Enrollment


def waiting_months(
    *,
    fixed: int,
    per_break_year: int,
    long_years: int,
    long_min: int,
    in_window: bool,
    break_years: int,
    repaid_years: int,
) -> int:
    """Months of waiting before the funds pay, on (re-)enrolment."""
    if in_window and break_years == 0:
        return 0
    months = fixed + per_break_year * max(0, break_years - repaid_years)
    if break_years >= long_years:
        months = max(months, long_min)
    return months


def incentive_cap(
    base: Fen,
    *,
    step: Fen,
    free_years: int,
    max_increase: Ratio,
    max_decrease: Ratio,
    continuous_years: int,
    zero_claim_years: int,
    break_years: int,
    prior_runs: tuple[int, ...],
) -> Fen:
    """The residents' serious-illness cap after the continuity / zero-claim rewards and break penalty."""
    reward = step * (
        max(0, continuous_years - free_years)
        + zero_claim_years
        + sum(max(0, r - free_years) for r in prior_runs)
    )
    reward = min(reward, mul_ratio(base, max_increase))
    penalty = min(step * break_years, mul_ratio(base, max_decrease))
    return base + reward - penalty


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole months, clamped to the month's last day.

    >>> add_months(date(2025, 11, 30), 3)
    datetime.date(2026, 2, 28)
    """
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


class PersonRules(NamedTuple):
    """The enrolment parameters in force for a scheme and assistance category on a day (cacheable)."""

    waiting_applies: bool
    fixed: int
    per_break_year: int
    long_years: int
    long_min: int
    cap_base: Fen | None
    has_cap: bool
    incentive: tuple[Fen, int, Ratio, Ratio] | None  # step, free years, max increase, max decrease
    reads: tuple[Read, ...]


class PersonTerms(NamedTuple):
    """The person-level terms: waiting period, when benefits start, and the serious-illness cap."""

    waiting_months: int
    benefit_start: date
    in_waiting: bool
    serious_cap: Fen | None


def person_rules(
    policy: Policy, on: date, *, scheme: str, assistance: str, need_cap: bool = True
) -> PersonRules:
    """Read the waiting-period and cap parameters for ``scheme`` / ``assistance`` on ``on``."""
    reads: list[Read] = []

    def get(name: str, **dims: str) -> Any:
        value, read = policy.param(name).at(on, scheme=scheme, assistance=assistance, **dims)
        reads.append(read)
        return value

    applies = policy.has("enrollment.waiting_applies") and bool(get("enrollment.waiting_applies"))
    fixed = per_year = long_years = long_min = 0
    if applies:
        fixed = get("enrollment.waiting_fixed_months")
        per_year = get("enrollment.waiting_months_per_break_year")
        long_years = get("enrollment.waiting_long_break_years")
        long_min = get("enrollment.waiting_long_break_min_months")
    has_cap = need_cap and policy.has("serious_illness.cap")
    base = get("serious_illness.cap") if has_cap else None
    incentive = None
    if base is not None and scheme == "resident" and policy.has("serious_illness.incentive_step"):
        incentive = (
            get("serious_illness.incentive_step"),
            get("serious_illness.incentive_free_years"),
            get("serious_illness.incentive_max_increase"),
            get("serious_illness.incentive_max_decrease"),
        )
    return PersonRules(applies, fixed, per_year, long_years, long_min, base, has_cap, incentive, tuple(reads))


def person_terms(rules: PersonRules, on: date, enrollment: Enrollment) -> PersonTerms:
    """Apply ``rules`` to one person's enrolment history on ``on``."""
    months = 0
    if rules.waiting_applies:
        months = waiting_months(
            fixed=rules.fixed,
            per_break_year=rules.per_break_year,
            long_years=rules.long_years,
            long_min=rules.long_min,
            in_window=enrollment.in_window,
            break_years=enrollment.break_years,
            repaid_years=enrollment.repaid_years,
        )
    begin = enrollment.enrolled_on or date(on.year, 1, 1)
    start = add_months(begin, months) if months else begin
    cap = rules.cap_base
    if cap is not None and rules.incentive is not None:
        step, free, inc, dec = rules.incentive
        cap = incentive_cap(
            cap,
            step=step,
            free_years=free,
            max_increase=inc,
            max_decrease=dec,
            continuous_years=enrollment.continuous_years,
            zero_claim_years=enrollment.zero_claim_years,
            break_years=enrollment.break_years,
            prior_runs=enrollment.prior_continuous_years,
        )
    return PersonTerms(months, start, on < start, cap)
