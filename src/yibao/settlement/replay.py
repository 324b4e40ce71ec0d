"""Settle a year of bills column-wise, in waves: every household's n-th bill at once, for n = 1, 2, …

A batch replay settles millions of bills, each by the rules of
:func:`~yibao.settlement.engine.settle_totals` given the year so far. A bill's settlement depends on
earlier bills only through its person's accumulators and the personal accounts its household draws
on, and households share neither, so wave n — the n-th bill of every household that has one — is a
batch of independent bills: a few dozen NumPy operations over all of them, with the state of the year
held as arrays indexed by person. A region of 400,000 bills settles in a few hundred waves.

The waves compute exactly what the engine computes, in integer fen by the one rounding rule: a ratio
scale of several bands is summed over the lowest common denominator of its rates and rounded once, as
the engine rounds its exact fraction. What the waves do not cover — a household whose bill the engine
would refuse (an unknown code, no plan for its context) or that would settle long-term care, and
households that share an account with another household — is marked irregular, for the caller to
settle bill by bill with the engine.

Two stays of one employee at a 三级 hospital, 1,000.00 yuan each in the policy range: the second bears
the repeat-admission deductible, as :func:`~yibao.settlement.engine.settle_totals` would settle it.

>>> import numpy as np
>>> from yibao.policy.loader import load_region
>>> two = np.array([0, 0])
>>> bills = YearBills(
...     person=two, household=two, on=np.array(["2025-03-01", "2025-04-01"], dtype="datetime64[D]"),
...     med_type=np.array(["21", "21"], dtype=object), hosp_lv=np.array(["3", "3"], dtype=object),
...     insutype=np.array(["310", "310"], dtype=object), age=np.array([45, 45]),
...     split=np.array([[0, 0, 0, 100000], [0, 0, 0, 100000]]), psn_type=["1101"], assistance=["none"],
...     enrollment=np.array([0]), enrollments=(Enrollment(),), holder=np.array([-1]),
...     funds=np.zeros((1, 13), dtype=np.int64))
>>> r = replay(bills, load_region("990100"))
>>> r.regular.tolist(), r.column("act_pay_dedc").tolist(), r.column("hifp_pay").tolist()
([True, True], [80000, 40000], [18400, 55200])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from math import lcm
from typing import Any

import numpy as np
import polars as pl

from yibao import codes
from yibao.dataset.schema import SETLINFO_MONEY
from yibao.money import round_div_array
from yibao.policy.benefit import Plan, PlanKey, resolve_plan
from yibao.policy.enrollment import PersonRules, person_rules, person_terms
from yibao.policy.loader import Policy
from yibao.policy.parameters import Band
from yibao.settlement.engine import CLR_TYPE, CVLSERV_TYPES
from yibao.settlement.model import ACCUMULATOR_NAMES, Enrollment

Ints = np.ndarray[Any, np.dtype[np.int64]]
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Days = np.ndarray[Any, np.dtype[np.datetime64]]
Strings = np.ndarray[Any, np.dtype[np.object_]]

_NONE = np.int64(2**62)
"""No limit (a cap or a band bound that is never reached); far below int64 overflow when added to."""
_VISITS = ("inpatient", "chronic", "outpatient", "pharmacy")
_COLUMN = {name: k for k, name in enumerate((*ACCUMULATOR_NAMES, "spent", "_scratch"))}
"""Columns of the state of the year: the engine's accumulators, account spending, and a column that
absorbs the updates a visit kind does not make."""


@dataclass(frozen=True)
class YearBills:
    """Bills — each household's in time order — and their persons.

    Per bill: ``person`` (its index), ``household`` (a number shared by the bills of one household),
    ``on`` (day of settlement), ``med_type``, ``hosp_lv`` (coarse), ``insutype`` (the bill's 险种),
    ``age`` (on the day), ``split`` (n × 4: 全自费, 超限价, 先行自付, 政策范围内 of the bill's lines).
    Per person: ``psn_type``, ``assistance`` (category, "none" without), ``enrollment`` (an index into
    ``enrollments``), ``holder`` (the person whose account pays 家庭共济 for them, −1 none) and ``funds``
    (P × 13: the account on 1 January plus the credits of the months up to m).
    """

    person: Ints
    household: Ints
    on: Days
    med_type: Strings
    hosp_lv: Strings
    insutype: Strings
    age: Ints
    split: Ints
    psn_type: Sequence[str]
    assistance: Sequence[str]
    enrollment: Ints
    enrollments: tuple[Enrollment, ...]
    holder: Ints
    funds: Ints


@dataclass(frozen=True)
class Replayed:
    """Per bill: its setlinfo money (n × SETLINFO_MONEY), pool_prop_selfpay in 1e-4, clr_type, and
    whether it was settled here (``regular``); the other bills' values are meaningless."""

    money: Ints
    ratio_e4: Ints
    clr_type: list[str]
    regular: Bools

    def column(self, name: str) -> Ints:
        return self.money[:, SETLINFO_MONEY.index(name)]


def replay(bills: YearBills, policy: Policy) -> Replayed:
    """Settle ``bills`` wave by wave (see the module docstring)."""
    if not len(bills.person):
        empty = np.zeros(0, dtype=np.int64)
        return Replayed(np.zeros((0, len(SETLINFO_MONEY)), dtype=np.int64), empty, [], empty.astype(bool))
    terms = _Terms.of(bills, policy)
    plans = _Plans.of(bills, policy, terms)
    regular = ~(plans.irregular | _shared_accounts(bills))
    regular = regular & ~_any_in_household(bills.household, ~regular)
    money, ratio = _waves(bills, plans, terms, regular)
    clr_type = [CLR_TYPE[_VISITS[v]] for v in plans.visit.tolist()]
    return Replayed(money, ratio, clr_type, regular)


# ---------------------------------------------------------------------------------------------
# What the waves read: each bill's plan and terms, resolved once per distinct context
# ---------------------------------------------------------------------------------------------


def _codes_of(values: Any, decode: Callable[[Any], Any]) -> tuple[list[Any], Ints, Bools]:
    """``decode`` of each distinct value of the array ``values``, the index of each value's result, and
    which values failed (a ValueError: the engine would refuse the bill)."""
    distinct, index = _factorize(values)
    results: list[Any] = []
    failed = np.zeros(len(distinct), dtype=bool)
    for k, v in enumerate(distinct):
        try:
            results.append(decode(v))
        except ValueError:
            results.append(None)
            failed[k] = True
    index = index.reshape(-1)
    return results, index, failed[index]


def _factorize(values: Any) -> tuple[list[Any], Ints]:
    """The distinct values of an array, sorted, and the index of each value among them (strings by
    Polars, several times faster than NumPy's sort of Python objects)."""
    if values.dtype == object:
        series = pl.Series(values, dtype=pl.String)
        distinct = series.unique().sort().to_list()  # None first, when there is one
        rank = series.rank("dense").fill_null(0).to_numpy().astype(np.int64)  # None 0, the others 1, 2 …
        return distinct, rank if distinct and distinct[0] is None else rank - 1
    numbers, index = np.unique(values, return_inverse=True)
    return numbers.tolist(), index.reshape(-1)


def _distinct(results: list[Any], index: Ints) -> tuple[list[Any], Ints]:
    """Results and index of :func:`_codes_of` with equal results merged (many days, one epoch)."""
    merged: dict[Any, int] = {}
    code = np.array([merged.setdefault(r, len(merged)) for r in results], dtype=np.int64)
    return list(merged), code[index]


def _combinations(*columns: Ints) -> tuple[Ints, Ints]:
    """The first row of each distinct combination of the integer ``columns``, and each row's
    combination: the columns in one mixed-radix key, one sort. A column of a narrow range (most are
    small codes) is its own digit, less its least value; another is first coded densely (a sort). Both
    keep the order of the values, so the combinations come out in the same order either way."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        low, high = int(column.min(initial=0)), int(column.max(initial=0))
        if high - low < min(len(column), 2**20):
            code, radix = column - low, high - low + 1
        else:
            _, code = np.unique(column, return_inverse=True)
            radix = int(code.max(initial=0)) + 1
        key = key * radix + code.reshape(-1)
        if key.max(initial=0) > 2**40:  # keep the key far from overflow: renumber it densely
            key = np.unique(key, return_inverse=True)[1].reshape(-1)
    _, first, combination = np.unique(key, return_index=True, return_inverse=True)
    return first, combination.reshape(-1)


@dataclass(frozen=True)
class _Terms:
    """Per bill: the scheme, the day's policy epoch, whether it falls in a waiting period, and the
    serious-illness cap of the person (−1 where the person's rules have none)."""

    scheme: Ints  # index into schemes
    schemes: list[str | None]
    employee: Bools
    epoch: Ints  # index into epochs
    epochs: list[date]
    waiting: Bools
    serious_cap: Ints
    irregular: Bools

    @staticmethod
    def of(bills: YearBills, policy: Policy) -> _Terms:
        schemes, scheme_of, bad_scheme = _codes_of(bills.insutype, codes.scheme)
        epochs, epoch_of = _distinct(*_codes_of(bills.on, policy.epoch)[:2])
        person = bills.person
        _, assistance = _factorize(np.asarray(bills.assistance, dtype=object))
        year = bills.on.astype("datetime64[Y]").astype(np.int64)
        first, combo = _combinations(scheme_of, epoch_of, assistance[person], bills.enrollment[person], year)
        start = np.full(len(first), np.datetime64("1900-01-01"), dtype="datetime64[D]")
        cap = np.full(len(first), -1, dtype=np.int64)
        failed = np.zeros(len(first), dtype=bool)
        rules_of: dict[tuple[Any, ...], PersonRules | None] = {}
        for j, i in enumerate(first.tolist()):
            p = int(person[i])
            key = (epochs[epoch_of[i]], schemes[scheme_of[i]], bills.assistance[p])
            if key not in rules_of:
                try:
                    rules_of[key] = person_rules(
                        policy, key[0], scheme=key[1], assistance=key[2], need_cap=True
                    )
                except (ValueError, TypeError):  # no scheme, or rules the policy cannot give
                    rules_of[key] = None
            rules = rules_of[key]
            if rules is None:
                failed[j] = True
                continue
            t = person_terms(rules, bills.on[i].item(), bills.enrollments[bills.enrollment[p]])
            start[j] = t.benefit_start
            cap[j] = -1 if t.serious_cap is None else t.serious_cap
        return _Terms(
            scheme_of,
            schemes,
            np.array([k == "employee" for k in schemes], dtype=bool)[scheme_of],
            epoch_of,
            epochs,
            bills.on < start[combo],
            cap[combo],
            bad_scheme | failed[combo],
        )


@dataclass(frozen=True)
class _Plans:
    """Per bill: its visit kind (index into _VISITS), its plan (index into the plan arrays) and whether
    the waves cannot settle it; per plan, the terms as arrays (no limit = _NONE)."""

    visit: Ints
    plan: Ints
    irregular: Bools
    deductible: Ints
    deductible_annual_cap: Ints
    pool_cap: Ints
    sub_cap: Ints
    bands: _Bands
    serious: Ints  # 0 none, 1 on the 合规自付 (copay), 2 on the amount above the pool cap
    serious_threshold: Ints
    serious_bands: _Bands
    cvlserv: Ints  # (plans × 2): ratio num, den (0/1 when none)
    has_maf: Bools
    maf_threshold: Ints
    maf: Ints  # (plans × 2)
    maf_cap: Ints
    account_out_of_scope: Bools

    @staticmethod
    def of(bills: YearBills, policy: Policy, terms: _Terms) -> _Plans:
        visits, visit_of, bad_visit = _codes_of(bills.med_type, codes.visit_kind)
        ltc = np.array([v not in _VISITS for v in visits], dtype=bool)[visit_of]
        visit = np.array([_VISITS.index(v) if v in _VISITS else 0 for v in visits], dtype=np.int64)[visit_of]
        person = bills.person
        types, type_of = _factorize(np.asarray(bills.psn_type, dtype=object))
        adult = (bills.age >= 18).astype(np.int64)
        categories, category_of, bad_category = _codes_of(
            type_of[person] * 2 + adult,
            lambda key: codes.psn_category(types[key // 2], 18 * (key % 2)),
        )
        admission = _admission(bills, visit == 0, terms.waiting)
        irregular = bad_visit | ltc | bad_category | terms.irregular
        hosp_lvs, hosp_lv = _factorize(bills.hosp_lv)
        _, assistance = _factorize(np.asarray(bills.assistance, dtype=object))
        cvlserv = np.array([t in CVLSERV_TYPES for t in bills.psn_type], dtype=np.int64)
        first, plan = _combinations(
            terms.epoch, terms.scheme, category_of, hosp_lv, visit, admission, assistance[person],
            cvlserv[person], irregular.astype(np.int64),
        )  # fmt: skip
        resolved: list[Plan] = []
        failed = np.zeros(len(first), dtype=bool)
        for j, i in enumerate(first.tolist()):
            if irregular[i]:
                failed[j] = True
                resolved.append(_NO_PLAN)
                continue
            key = PlanKey(
                on=terms.epochs[terms.epoch[i]],
                scheme=terms.schemes[terms.scheme[i]] or "",
                psn_cat=categories[category_of[i]],
                hosp_lv=hosp_lvs[hosp_lv[i]],
                visit=_VISITS[visit[i]],
                admission=str(admission[i]),
                assistance=bills.assistance[person[i]],
                cvlserv=bool(cvlserv[person[i]]),
                care_form="-",
            )
            try:
                resolved.append(resolve_plan(policy, key))
            except ValueError:
                failed[j] = True
                resolved.append(_NO_PLAN)
        return _Plans.arrays(visit, plan, irregular | failed[plan], resolved)

    @staticmethod
    def arrays(visit: Ints, plan: Ints, irregular: Bools, plans: list[Plan]) -> _Plans:
        def limit(values: Sequence[int | None]) -> Ints:
            return np.array([_NONE if v is None else v for v in values], dtype=np.int64)

        def ratio(values: Sequence[Any]) -> Ints:
            return np.array([(0, 1) if r is None else (r.num, r.den) for r in values], dtype=np.int64)

        serious = {None: 0, "copay": 1}
        return _Plans(
            visit,
            plan,
            irregular,
            np.array([p.deductible for p in plans], dtype=np.int64),
            limit([p.deductible_annual_cap for p in plans]),
            limit([p.pool_cap for p in plans]),
            limit([p.sub_cap for p in plans]),
            _Bands.of([p.bands for p in plans]),
            np.array([serious.get(p.serious_base, 2) for p in plans], dtype=np.int64),
            np.array([p.serious_threshold for p in plans], dtype=np.int64),
            _Bands.of([p.serious_bands for p in plans]),
            ratio([p.cvlserv_ratio for p in plans]),
            np.array([p.maf_ratio is not None for p in plans], dtype=bool),
            np.array([p.maf_threshold for p in plans], dtype=np.int64),
            ratio([p.maf_ratio for p in plans]),
            limit([p.maf_cap for p in plans]),
            np.array([p.account_out_of_scope for p in plans], dtype=bool),
        )


_NO_PLAN = Plan(
    PlanKey(date.min, "", "", "", "", "", "", False, ""), 0, True, None, (), None, None, None, 0, (),
    None, 0, None, None, False, None, {},
)  # fmt: skip
"""The plan of a bill the waves do not settle: any values will do, they are thrown away."""


def _admission(bills: YearBills, inpatient: Bools, waiting: Bools) -> Ints:
    """The Nth admission of each inpatient bill: 1 + the person's earlier admissions outside a waiting
    period (those the engine counts); 1 for other bills."""
    counted = (inpatient & ~waiting).astype(np.int64)
    order = np.argsort(bills.person, kind="stable")  # each person's bills together, in time order
    person = bills.person[order]
    before = np.cumsum(counted[order]) - counted[order]
    group_start = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    before -= np.repeat(before[group_start], np.diff(np.r_[group_start, len(person)]))
    admission = np.ones(len(order), dtype=np.int64)
    admission[order] = np.where(inpatient[order], before + 1, 1)
    return admission


@dataclass(frozen=True)
class _Bands:
    """Rate scales as arrays (plans × bands, padded with bands above _NONE at rate 0): a band's rate
    over the scale's common denominator ``den`` is ``weight``. ``bound`` is where each band starts;
    ``above`` the same, except that a scale of one band starts at −_NONE there, as the engine's
    ``_scale`` applies a single rate to the whole amount whatever its bound."""

    above: Ints
    bound: Ints
    weight: Ints
    den: Ints  # per plan
    rate: Ints  # (plans × bands × 2): the band's rate as num, den, for pool_prop_selfpay

    @staticmethod
    def of(scales: Sequence[tuple[Band, ...]]) -> _Bands:
        width = max((len(s) for s in scales), default=0) or 1
        bound = np.full((len(scales), width), _NONE, dtype=np.int64)
        weight = np.zeros((len(scales), width), dtype=np.int64)
        rate = np.zeros((len(scales), width, 2), dtype=np.int64)
        rate[:, :, 1] = 1
        den = np.ones(len(scales), dtype=np.int64)
        for j, scale in enumerate(scales):
            den[j] = lcm(*(b.rate.den for b in scale)) if scale else 1
            for k, b in enumerate(scale):
                bound[j, k] = b.above
                weight[j, k] = b.rate.num * (den[j] // b.rate.den)
                rate[j, k] = b.rate.num, b.rate.den
        single = np.array([len(scale) == 1 for scale in scales], dtype=bool)
        above = bound.copy()
        above[single, 0] = -_NONE
        return _Bands(above, bound, weight, den, rate)

    @staticmethod
    def _parts(above: Ints, before: Ints, amount: Ints) -> Ints:
        """The part of [before, before + amount) in each band (bands starting at ``above``)."""
        end = before + np.maximum(amount, 0)
        upper = np.concatenate([above[:, 1:], np.full((len(above), 1), _NONE)], axis=1)
        part: Ints = np.clip(np.minimum(end[:, None], upper) - np.maximum(before[:, None], above), 0, None)
        return part

    def scale(self, plan: Ints, before: Ints, amount: Ints) -> Ints:
        """Σ over bands of (the part of [before, before + amount) in the band) × its rate, rounded once
        (the engine's ``_scale``); 0 where amount ≤ 0."""
        part = self._parts(self.above[plan], before, amount)
        return round_div_array((part * self.weight[plan]).sum(axis=1), self.den[plan])

    def consumed(self, plan: Ints, before: Ints, amount: Ints, room: Ints) -> Ints:
        """How much of ``amount`` the scale covers before its payment reaches ``room``, rounded once
        (the engine's ``consumed_before_cap``): the parts of the bands before the first band with a
        rate in which the payment reaches the room, plus what of that band pays the rest."""
        part = self._parts(self.bound[plan], before, amount)
        weight, den = self.weight[plan], self.den[plan]
        paid = np.cumsum(part * weight, axis=1)  # in 1/den
        reaches = (part > 0) & (weight > 0) & (paid >= (room * den)[:, None])
        k = np.argmax(reaches, axis=1)
        lanes = np.arange(len(plan))
        used_before = np.cumsum(part, axis=1)[lanes, k] - part[lanes, k]
        paid_before = paid[lanes, k] - part[lanes, k] * weight[lanes, k]
        w = np.where(reaches.any(axis=1), weight[lanes, k], 1)
        rest = np.where(reaches.any(axis=1), used_before * w + room * den - paid_before, part.sum(axis=1))
        return round_div_array(rest, w)

    def rate_at(self, plan: Ints, at: Ints) -> Ints:
        """The index of the band in force at ``at``: the last whose bound is ≤ at, else the first."""
        reached = self.above[plan] <= at[:, None]
        last = reached.shape[1] - 1 - np.argmax(reached[:, ::-1], axis=1)
        return np.where(reached.any(axis=1), last, 0)


def _shared_accounts(bills: YearBills) -> Bools:
    """Per bill: its household draws on an account another household also draws on (a chain of 家庭共济)."""
    holder = bills.holder[bills.person]
    pairs = np.unique(
        np.concatenate(
            [np.stack([bills.person, bills.household], 1), np.stack([holder, bills.household], 1)[holder >= 0]]
        ),
        axis=0,
    )
    account, households = np.unique(pairs[:, 0], return_counts=True)
    shared = np.isin(bills.person, account[households > 1]) | np.isin(holder, account[households > 1])
    return _any_in_household(bills.household, shared)


def _any_in_household(household: Ints, flag: Bools) -> Bools:
    """Per bill: some bill of its household has ``flag``."""
    _, group = np.unique(household, return_inverse=True)
    return np.bincount(group.reshape(-1), weights=flag, minlength=group.max(initial=-1) + 1)[group] > 0


# ---------------------------------------------------------------------------------------------
# The waves
# ---------------------------------------------------------------------------------------------

_ACCUMULATORS = {  # visit kind → its deductible, band scale, cap, sub-limit and admission count
    "inpatient": ("ip_deductible_paid", "pool_base", "pool_paid", "_scratch", "admissions"),
    "chronic": ("chronic_deductible_paid", "chronic_pool_base", "pool_paid", "chronic_pool_paid", "_scratch"),
    "outpatient": ("op_deductible_paid", "op_pool_base", "op_pool_paid", "_scratch", "_scratch"),
    "pharmacy": ("op_deductible_paid", "op_pool_base", "op_pool_paid", "_scratch", "_scratch"),
}
_DEDUCTIBLE, _BAND_BASE, _POOL_PAID, _SUB_PAID, _ADMISSIONS = np.array(
    [[_COLUMN[name] for name in _ACCUMULATORS[visit]] for visit in _VISITS]
).T
"""Per visit kind (in _VISITS order): the columns of the state its steps 2–3 read and move, as the
engine's accumulators of steps 2–3 (a visit without such a column moves ``_scratch``)."""


def _waves(bills: YearBills, plans: _Plans, terms: _Terms, regular: Bools) -> tuple[Ints, Ints]:
    """Settle the regular bills, the n-th bill of each household in wave n; their money and ratios."""
    n = len(bills.person)
    money = np.zeros((n, len(SETLINFO_MONEY)), dtype=np.int64)
    ratio = np.zeros(n, dtype=np.int64)
    state = np.zeros((len(bills.funds), len(_COLUMN)), dtype=np.int64)
    at = np.flatnonzero(regular)
    at = at[np.argsort(bills.household[at], kind="stable")]  # each household's bills together, in order
    household = bills.household[at]
    starts = np.flatnonzero(np.r_[True, household[1:] != household[:-1]])
    rank = np.arange(len(at)) - np.repeat(starts, np.diff(np.r_[starts, len(at)]))
    by_wave = at[np.argsort(rank, kind="stable")]
    waves = np.searchsorted(np.sort(rank), np.arange(rank.max(initial=-1) + 2))
    month = (bills.on.astype("datetime64[M]") - bills.on.astype("datetime64[Y]")).astype(np.int64) + 1
    for a, b in zip(waves[:-1].tolist(), waves[1:].tolist(), strict=True):
        wave = by_wave[a:b]
        money[wave], ratio[wave] = _wave(bills, plans, terms, state, wave, month[wave])
    return money, ratio


def _wave(
    bills: YearBills, plans: _Plans, terms: _Terms, state: Ints, wave: Ints, month: Ints
) -> tuple[Ints, Ints]:
    """One bill of each of some households: the engine's payer chain on arrays, moving ``state``."""
    p, plan, visit = bills.person[wave], plans.plan[wave], plans.visit[wave]
    ful, over, pre, inscp = bills.split[wave].T
    medfee = ful + over + pre + inscp
    paying = ~terms.waiting[wave]  # no fund pays in a waiting period
    row = state[p]
    lanes = np.arange(len(wave))
    zero = np.zeros(len(wave), dtype=np.int64)

    def so_far(name: str) -> Ints:
        return row[:, _COLUMN[name]]

    # 2. 起付线
    ded_paid = row[lanes, _DEDUCTIBLE[visit]]
    deductible = plans.deductible[plan]
    annual_room = np.maximum(0, plans.deductible_annual_cap[plan] - ded_paid)
    remaining = np.where(visit == 0, np.minimum(deductible, annual_room), np.maximum(0, deductible - ded_paid))
    dedc = np.where(paying, np.minimum(remaining, inscp), 0)

    # 3. 统筹基金
    base = inscp - dedc
    band_before = row[lanes, _BAND_BASE[visit]]
    band = plans.bands.rate_at(plan, band_before)
    hifp = plans.bands.scale(plan, band_before, base)
    main_room = np.maximum(0, plans.pool_cap[plan] - row[lanes, _POOL_PAID[visit]])
    sub_room = np.maximum(0, plans.sub_cap[plan] - row[lanes, _SUB_PAID[visit]])  # 门诊慢特病's own limit
    room = np.minimum(main_room, sub_room)
    capped = paying & (room < _NONE // 2) & (hifp > room)
    above_cap = zero.copy()  # where the annual cap binds, the rest goes to 大额
    at_cap = np.flatnonzero(capped & (room == main_room))
    above_cap[at_cap] = base[at_cap] - plans.bands.consumed(
        plan[at_cap], band_before[at_cap], base[at_cap], main_room[at_cap]
    )
    hifp = np.where(paying, np.where(capped, room, hifp), 0)

    # 4. 大额 / 大病保险
    kind = np.where(paying, plans.serious[plan], 0)
    add = np.where(kind == 1, inscp - hifp, above_cap)
    threshold = plans.serious_threshold[plan]
    before = np.maximum(0, so_far("serious_base") - threshold)
    now = np.maximum(0, so_far("serious_base") + add - threshold) - before
    serious = plans.serious_bands.scale(plan, before, now)
    cap = terms.serious_cap[wave]
    serious_room = np.maximum(0, cap - so_far("serious_paid"))
    serious = np.where(cap >= 0, np.minimum(serious, serious_room), serious)
    serious = np.where(kind > 0, np.minimum(serious, inscp - hifp), 0)
    add = np.where(kind > 0, add, 0)

    # 5. 公务员补助, 医疗救助
    num, den = plans.cvlserv[plan].T
    cvlserv = np.where(paying, round_div_array((inscp - hifp - serious) * num, den), 0)
    has_maf = paying & plans.has_maf[plan]
    left = np.where(has_maf, inscp - hifp - serious - cvlserv, 0)
    threshold = plans.maf_threshold[plan]
    before = np.maximum(0, so_far("maf_base") - threshold)
    now = np.maximum(0, so_far("maf_base") + left - threshold) - before
    num, den = plans.maf[plan].T
    maf_room = np.maximum(0, plans.maf_cap[plan] - so_far("maf_paid"))
    maf = np.where(has_maf, np.minimum(round_div_array(now * num, den), maf_room), 0)

    fund = hifp + serious + cvlserv + maf
    psn_part = medfee - fund

    # 6. 个人账户 / 家庭共济 → 现金
    own_balance = np.maximum(bills.funds[p, month] - so_far("spent"), 0)
    holder = bills.holder[p]
    has_holder = holder >= 0
    h = np.where(has_holder, holder, 0)
    mulaid_balance = np.where(has_holder, np.maximum(bills.funds[h, month] - state[h, _COLUMN["spent"]], 0), 0)
    # (the holder is of the same household, so no other bill of this wave moves their account)
    payable = np.where(plans.account_out_of_scope[plan], psn_part, psn_part - ful - over)
    own = np.minimum(own_balance, payable)
    mulaid = np.minimum(mulaid_balance, payable - own)

    # the year so far
    moves = np.zeros_like(row)
    moves[lanes, _DEDUCTIBLE[visit]] += dedc
    moves[lanes, _BAND_BASE[visit]] += np.where(paying, base, 0)
    moves[lanes, _POOL_PAID[visit]] += hifp
    moves[lanes, _SUB_PAID[visit]] += hifp
    moves[lanes, _ADMISSIONS[visit]] += paying
    moves[:, _COLUMN["serious_base"]] = add
    moves[:, _COLUMN["serious_paid"]] = serious
    moves[:, _COLUMN["cvlserv_paid"]] = cvlserv
    moves[:, _COLUMN["maf_base"]] = left
    moves[:, _COLUMN["maf_paid"]] = maf
    moves[:, _COLUMN["fund_paid"]] = fund
    moves[:, _COLUMN["spent"]] = own
    state[p] += moves
    state[holder[has_holder], _COLUMN["spent"]] += mulaid[has_holder]

    employee = terms.employee[wave]
    acct = own + mulaid
    columns = {
        "medfee_sumamt": medfee, "fulamt_ownpay_amt": ful, "overlmt_selfpay": over, "preselfpay_amt": pre,
        "inscp_scp_amt": inscp, "act_pay_dedc": dedc, "hifp_pay": hifp, "cvlserv_pay": cvlserv,
        "hifmi_pay": np.where(employee, 0, serious), "hifob_pay": np.where(employee, serious, 0),
        "maf_pay": maf, "fund_pay_sumamt": fund, "psn_part_amt": psn_part, "acct_pay": acct,
        "psn_cash_pay": psn_part - acct, "balc": own_balance - own, "acct_mulaid_pay": mulaid,
    }  # fmt: skip
    money = np.stack([columns.get(name, zero) for name in SETLINFO_MONEY], axis=1)
    num, den = plans.bands.rate[plan, band].T
    return money, np.where(paying, round_div_array(num * 10000, den), 0)
