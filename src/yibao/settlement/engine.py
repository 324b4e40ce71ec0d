"""The benefit engine: one bill, one person, the year so far, the policy in force → a settlement.

:func:`settle` is a pure function. It runs the payer chain in the national order:

1. **费用分割** per line: 全自费 (丙类, out of scope or a failed 限定支付 restriction) → 超限价 (price above
   the cap) → 先行自付 (乙类 share) → 政策范围内;
2. **起付线** against what the year already bore;
3. **统筹基金** by ratio bands (retiree uplift folded in) up to the annual cap;
4. **大额 / 大病保险** above its threshold by bands up to the person's cap;
5. **公务员医疗补助** (civil servants), then **医疗救助** on what is left of the policy-range self-pay;
6. **个人账户** (and 家庭共济 as ``acct_mulaid_pay``) → **现金**.

Long-term care (visit ``ltc``) pays a per diem by care form instead of steps 2–5. During a waiting
period (待遇等待期) no fund pays. :func:`settle_totals` runs the same chain for a batch replay, without the
per-line results. Every result satisfies the identities of interface.md §2.4 exactly:

>>> from datetime import date
>>> from yibao.policy.loader import load_region
>>> from yibao.settlement.model import Encounter, FeeLine, Person
>>> line = FeeLine("1", "T1", pric=1000_000000, cnt=1_0000, det_item_fee_sumamt=100000, chrgitm_lv="01")
>>> s = settle(Encounter("21", "3", (line,)), Person("310", "1101", 45), Accumulators(),
...            load_region("990100"), date(2025, 3, 1))
>>> s.act_pay_dedc, s.hifp_pay, s.psn_part_amt
(80000, 18400, 81600)
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, NamedTuple

from yibao import codes
from yibao.catalog.model import NO_RESTRICTION, Catalog, LineContext, Restriction
from yibao.money import ZERO_RATIO, Fen, Ratio, round_div, yuan
from yibao.policy.benefit import PlanKey, resolve_plan
from yibao.policy.enrollment import PersonRules, PersonTerms, person_rules, person_terms
from yibao.policy.loader import Policy
from yibao.policy.parameters import Band, Read, format_value
from yibao.settlement.model import (
    ACCUMULATOR_NAMES,
    FEN_PER_PRICE_COUNT,
    Accumulators,
    Encounter,
    FeeLine,
    LineResult,
    Person,
    SetlDetail,
    Settlement,
)

_NO_CATALOG = Catalog()
CLR_TYPE = {"outpatient": "11", "chronic": "11", "inpatient": "21", "pharmacy": "41", "ltc": "99"}
_POOL_FUND = {"employee": "310100", "resident": "390100", "ltc": "410100", "maternity": "510100"}
_SERIOUS_FUND = {"employee": "330100", "resident": "390200"}
CVLSERV_TYPES = frozenset({"1102", "1202"})
_PSN_CAT: dict[
    tuple[str, bool], str
] = {}  # (psn_type, adult) → category: the category depends on nothing else


class SettlementError(ValueError):
    """Bad input to the engine, naming the field (e.g. ``feedetail[3].med_list_codg``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Step(NamedTuple):
    """One step of the trace: what was computed, from which amounts, reading which parameters."""

    name: str
    result: str
    reads: tuple[Read, ...] = ()


def settle(
    encounter: Encounter,
    person: Person,
    ytd: Accumulators,
    policy: Policy,
    on: date,
    *,
    catalog: Catalog | None = None,
    trace: bool = False,
) -> Settlement:
    """Settle ``encounter`` for ``person`` on ``on`` given the year so far; see the module docstring."""
    cat = catalog if catalog is not None else _NO_CATALOG
    return _settle(encounter, person, ytd, policy, on, cat, [] if trace else None, None)


def settle_totals(
    encounter: Encounter,
    person: Person,
    ytd: Accumulators,
    policy: Policy,
    on: date,
    *,
    catalog: Catalog | None = None,
    presplit: tuple[Fen, Fen, Fen, Fen] = (0, 0, 0, 0),
) -> Settlement:
    """:func:`settle` for a batch replay: the same amounts and accumulators, nothing else.

    The settlement has every setlinfo field and ``ytd``, but no per-line results, no setldetail rows,
    no intermediates and no trace (``lines == setldetail == ()``, ``intermediates == {}``). The split of a
    catalogue line depends only on the item in force, the hospital level, price, count and amount, so it is
    computed once per catalogue for each such combination (the 限定支付 check still runs per line).

    ``presplit`` is the four split totals (全自费, 超限价, 先行自付, 政策范围内) of further lines of the bill
    that the caller split itself, each by :meth:`LineSplits.split` and without a 限定支付 restriction (a
    batch replay splits each distinct line once and sums them per bill with NumPy); they add to those of
    ``encounter.lines``, so a bill settles the same whichever of its unrestricted lines come presplit.

    >>> from datetime import date
    >>> from yibao.policy.loader import load_region
    >>> from yibao.settlement.model import Encounter, FeeLine, Person
    >>> line = FeeLine("1", "T1", pric=1000_000000, cnt=1_0000, det_item_fee_sumamt=100000, chrgitm_lv="01")
    >>> args = Encounter("21", "3", (line,)), Person("310", "1101", 45), Accumulators(), load_region("990100")
    >>> t, s = settle_totals(*args, date(2025, 3, 1)), settle(*args, date(2025, 3, 1))
    >>> t.money() == s.money() and t.ytd == s.ytd, t.lines, t.setldetail
    (True, (), ())
    """
    cat = catalog if catalog is not None else _NO_CATALOG
    return _settle(encounter, person, ytd, policy, on, cat, None, line_splits(cat), presplit)


def line_splits(catalog: Catalog) -> LineSplits:
    """The memo of ``catalog``'s line splits, kept with the catalogue as plans are with the policy."""
    memo: LineSplits | None = catalog.__dict__.get("_line_splits")
    if memo is None:
        memo = catalog.__dict__["_line_splits"] = LineSplits(catalog)
    return memo


_LineKey = tuple[str, str, int, int, Fen]
"""A catalogue line as its split sees it: med_list_codg, hosp_lv, pric, cnt, det_item_fee_sumamt."""
_Split = tuple[Restriction, tuple[Fen, Fen, Fen, Fen]]
"""The item's restriction and the split of the line when payable: 全自费, 超限价, 先行自付, 政策范围内."""


class LineSplits:
    """The line splits of one catalogue, per catalogue epoch: its versions in force change only on a
    begndate or the day after an enddate, so all the days between two such days see the same items
    (epoch k = the days from ``bounds[k - 1]`` to the day before ``bounds[k]``)."""

    __slots__ = ("bounds", "by_day", "by_epoch", "catalog")

    def __init__(self, catalog: Catalog) -> None:
        days = {i.begndate for i in catalog.items()}
        days.update(
            i.enddate + _DAY for i in catalog.items() if i.enddate is not None and i.enddate < date.max
        )
        self.bounds = tuple(sorted(days))
        self.catalog = catalog
        self.by_epoch: dict[int, dict[_LineKey, _Split]] = {}
        self.by_day: dict[date, dict[_LineKey, _Split]] = {}

    def on(self, day: date) -> dict[_LineKey, _Split]:
        """The splits memoised for the catalogue epoch of ``day``."""
        splits = self.by_day.get(day)
        if splits is None:
            epoch = bisect.bisect_right(self.bounds, day)
            splits = self.by_day[day] = self.by_epoch.setdefault(epoch, {})
        return splits

    def split(self, line: FeeLine, hosp_lv: str, day: date) -> _Split | None:
        """The split of a catalogue line (one without a stated class) at ``hosp_lv`` on ``day``, as
        :func:`settle_totals` memoises it; None when its item is not in force (the engine then names the
        line as bad)."""
        known = self.on(day)
        _, code, pric, cnt, amt, *_ = line
        key = (code, hosp_lv, pric, cnt, amt)
        split = known.get(key)
        if split is None:
            split = _catalogue_split(self.catalog, key, day)
            if split is not None:
                known[key] = split
        return split


def payable_at_level(restriction: Restriction, hosp_lv: str) -> bool | None:
    """Whether a line under ``restriction`` passes its 限定支付 check at ``hosp_lv`` whatever the patient
    and the bill — True for no restriction or one of the hospital level alone — or None when that
    depends on the patient or the bill (sex, age, visit, diagnoses, days of supply)."""
    r = restriction
    if r.gend is not None or r.age_min is not None or r.age_max is not None or r.max_days_supply is not None:
        return None
    if r.visits or r.indications:
        return None
    return r.violation(_new(LineContext, ("", 0, hosp_lv, "", (), None))) is None


def _catalogue_split(catalog: Catalog, key: _LineKey, on: date) -> _Split | None:
    """The item's restriction and the split of the line ``key`` when payable; None when not in force."""
    code, hosp_lv, pric, cnt, amt = key
    item = catalog.get(code, on)
    if item is None:
        return None
    cap = item.pric_uplmt.get(hosp_lv)
    return item.restriction, _parts(item.chrgitm_lv, amt, cnt, pric, cap, item.selfpay_prop)


_DAY = timedelta(days=1)


def _settle(
    encounter: Encounter,
    person: Person,
    ytd: Accumulators,
    policy: Policy,
    on: date,
    cat: Catalog,
    steps: list[Step] | None,
    memo: LineSplits | None,
    presplit: tuple[Fen, Fen, Fen, Fen] = (0, 0, 0, 0),
) -> Settlement:
    """The payer chain; ``memo`` None = the full answer, else the totals only (see settle_totals)."""
    visit = codes.visit_kind(encounter.med_type)
    insutype = encounter.insutype or person.insutype
    scheme = codes.scheme(insutype)
    assistance = person.assistance or "none"
    admission = ytd.admissions + 1 if visit == "inpatient" else 1
    epoch = policy.epoch(on)
    psn_cat = _PSN_CAT.get((person.psn_type, person.age >= 18))
    if psn_cat is None:
        psn_cat = _PSN_CAT[person.psn_type, person.age >= 18] = codes.psn_category(
            person.psn_type, person.age
        )
    key = _new(  # PlanKey fields in order (tuple.__new__: this runs for every bill of a batch replay)
        PlanKey,
        (
            epoch,
            scheme,
            psn_cat,
            encounter.hosp_lv,
            visit,
            str(admission),
            assistance,
            person.psn_type in CVLSERV_TYPES,
            encounter.care_form or "-",
        ),
    )
    plan = resolve_plan(policy, key)
    rules = _person_rules(policy, epoch, scheme, assistance, need_cap=plan.serious_base is not None)
    terms = person_terms(rules, on, person.enrollment)

    # 1. 费用分割 ------------------------------------------------------------------------------
    ctx = _new(LineContext, (person.gend, person.age, encounter.hosp_lv, visit, encounter.diagnoses, None))
    if memo is None:
        lines = tuple(_split(i, line, ctx, cat, on) for i, line in enumerate(encounter.lines))
        ful = over = pre = inscp = 0
        for r in lines:
            ful += r.fulamt_ownpay_amt
            over += r.overlmt_amt
            pre += r.preselfpay_amt
            inscp += r.inscp_scp_amt
    else:
        lines = ()
        ful, over, pre, inscp = _split_totals(encounter.lines, ctx, cat, on, memo.on(on))
        more_ful, more_over, more_pre, more_inscp = presplit
        ful, over, pre, inscp = ful + more_ful, over + more_over, pre + more_pre, inscp + more_inscp
    medfee = ful + over + pre + inscp
    if steps is not None:
        steps.append(
            Step(
                "费用分割 line split",
                f"{len(lines)} lines: 医疗费总额 {yuan(medfee)} = 全自费 {yuan(ful)} + 超限价 {yuan(over)}"
                f" + 先行自付 {yuan(pre)} + 政策范围内 {yuan(inscp)}",
            )
        )

    if steps is not None and rules.reads:
        cap_txt = "no cap" if terms.serious_cap is None else yuan(terms.serious_cap)
        steps.append(
            Step(
                "参保 enrolment terms",
                f"waiting period {terms.waiting_months} months (benefits from {terms.benefit_start});"
                f" serious-illness cap {cap_txt}",
                rules.reads,
            )
        )
    waiting = terms.in_waiting
    dedc = hifp = serious = cvlserv = maf = 0
    above_cap = 0
    ratio = ZERO_RATIO
    room: Fen | None = None
    serious_room: Fen | None = None
    maf_room: Fen | None = None
    moved: dict[str, int] = {}  # the accumulators this bill moves; applied once at the end
    if waiting:
        if steps is not None:
            steps.append(
                Step(
                    "待遇等待期 waiting period",
                    f"{terms.waiting_months} months; benefits start {terms.benefit_start}: no fund pays",
                )
            )
    elif visit == "ltc":
        per_diem = plan.ltc_per_diem or 0
        hifp = min(per_diem * encounter.ltc_days, inscp)
        moved.update(ltc_paid=ytd.ltc_paid + hifp)
        if steps is not None:
            steps.append(
                Step(
                    "长期护理 per diem",
                    f"{yuan(per_diem)} × {encounter.ltc_days} days, at most 政策范围内 {yuan(inscp)} → {yuan(hifp)}",
                    plan.reads.get("ltc", ()),
                )
            )
    else:
        # 2. 起付线 --------------------------------------------------------------------------
        if visit == "inpatient":
            ded_paid = ytd.ip_deductible_paid
            remaining = plan.deductible
            if plan.deductible_annual_cap is not None:
                remaining = min(remaining, max(0, plan.deductible_annual_cap - ded_paid))
        else:
            ded_paid = ytd.chronic_deductible_paid if visit == "chronic" else ytd.op_deductible_paid
            remaining = max(0, plan.deductible - ded_paid)
        dedc = min(remaining, inscp)
        if steps is not None:
            basis = f"admission no. {admission}" if visit == "inpatient" else "annual"
            steps.append(
                Step(
                    "起付线 deductible",
                    f"{yuan(plan.deductible)} ({basis}); already borne {yuan(ded_paid)}; remaining {yuan(remaining)}"
                    f" → borne now {yuan(dedc)}",
                    plan.reads.get("deductible", ()),
                )
            )

        # 3. 统筹基金 ------------------------------------------------------------------------
        base = inscp - dedc
        if visit == "inpatient":
            band_before, paid_before = ytd.pool_base, ytd.pool_paid
        elif visit == "chronic":
            band_before, paid_before = ytd.chronic_pool_base, ytd.pool_paid
        else:
            band_before, paid_before = ytd.op_pool_base, ytd.op_pool_paid
        ratio = _rate_at(plan.bands, band_before)
        exact = _scale(plan.bands, band_before, base)
        hifp = _round(exact)
        main_room = None if plan.pool_cap is None else max(0, plan.pool_cap - paid_before)
        room = main_room
        if plan.sub_cap is not None:  # 门诊慢特病's own limit: reaching it is not reaching the pool cap
            sub_room = max(0, plan.sub_cap - ytd.chronic_pool_paid)
            room = sub_room if main_room is None else min(main_room, sub_room)
        if room is not None and hifp > room:
            if main_room is not None and room == main_room:  # the annual cap binds: the rest goes to 大额
                above_cap = base - _round(_consumed(plan.bands, band_before, base, main_room))
            hifp = room
        if steps is not None:
            cap_txt = "no cap" if room is None else f"cap room {yuan(room)}"
            steps.append(
                Step(
                    "统筹基金 pooled fund",
                    f"({yuan(inscp)} − {yuan(dedc)}) = {yuan(base)} by {format_value(plan.bands)} from year base"
                    f" {yuan(band_before)}; {cap_txt} → {yuan(hifp)}"
                    + (f"; above the cap {yuan(above_cap)}" if above_cap else ""),
                    plan.reads.get("pool", ()),
                )
            )

        # 4. 大额 / 大病保险 ------------------------------------------------------------------
        if plan.serious_base is not None:
            add = inscp - hifp if plan.serious_base == "copay" else above_cap
            thr = plan.serious_threshold
            before = max(0, ytd.serious_base - thr)
            now = max(0, ytd.serious_base + add - thr) - before
            serious = _round(_scale(plan.serious_bands, before, now))
            if terms.serious_cap is not None:
                serious_room = max(0, terms.serious_cap - ytd.serious_paid)
                serious = min(serious, serious_room)
            serious = min(serious, inscp - hifp)
            moved.update(serious_base=ytd.serious_base + add, serious_paid=ytd.serious_paid + serious)
            if steps is not None:
                cap_txt = "no cap" if terms.serious_cap is None else f"cap {yuan(terms.serious_cap)}"
                steps.append(
                    Step(
                        "大额/大病 serious illness",
                        f"base ({plan.serious_base}) +{yuan(add)} to {yuan(ytd.serious_base + add)}; threshold"
                        f" {yuan(thr)}; {yuan(now)} eligible by {format_value(plan.serious_bands)}; {cap_txt},"
                        f" already paid {yuan(ytd.serious_paid)} → {yuan(serious)}",
                        plan.reads.get("serious", ()),
                    )
                )

        # 5. 公务员补助, 医疗救助 --------------------------------------------------------------
        if plan.cvlserv_ratio is not None:
            cvlserv = round_div((inscp - hifp - serious) * plan.cvlserv_ratio.num, plan.cvlserv_ratio.den)
            moved.update(cvlserv_paid=ytd.cvlserv_paid + cvlserv)
            if steps is not None:
                steps.append(
                    Step(
                        "公务员医疗补助 civil servants",
                        f"{format_value(plan.cvlserv_ratio)} × {yuan(inscp - hifp - serious)} → {yuan(cvlserv)}",
                        plan.reads.get("cvlserv", ()),
                    )
                )
        if plan.maf_ratio is not None:
            left = inscp - hifp - serious - cvlserv
            before = max(0, ytd.maf_base - plan.maf_threshold)
            now = max(0, ytd.maf_base + left - plan.maf_threshold) - before
            maf = round_div(now * plan.maf_ratio.num, plan.maf_ratio.den)
            if plan.maf_cap is not None:
                maf_room = max(0, plan.maf_cap - ytd.maf_paid)
                maf = min(maf, maf_room)
            moved.update(maf_base=ytd.maf_base + left, maf_paid=ytd.maf_paid + maf)
            if steps is not None:
                steps.append(
                    Step(
                        "医疗救助 medical assistance",
                        f"{assistance}: left {yuan(left)}; threshold {yuan(plan.maf_threshold)}; {yuan(now)} ×"
                        f" {format_value(plan.maf_ratio)}; cap room {yuan(maf_room or 0)} → {yuan(maf)}",
                        plan.reads.get("assistance", ()),
                    )
                )

        # accumulators of steps 2–3
        if visit == "inpatient":
            moved.update(
                admissions=ytd.admissions + 1,
                ip_deductible_paid=ytd.ip_deductible_paid + dedc,
                pool_base=ytd.pool_base + base,
                pool_paid=ytd.pool_paid + hifp,
            )
        elif visit == "chronic":
            moved.update(
                chronic_deductible_paid=ytd.chronic_deductible_paid + dedc,
                chronic_pool_base=ytd.chronic_pool_base + base,
                pool_paid=ytd.pool_paid + hifp,
                chronic_pool_paid=ytd.chronic_pool_paid + hifp,
            )
        else:
            moved.update(
                op_deductible_paid=ytd.op_deductible_paid + dedc,
                op_pool_base=ytd.op_pool_base + base,
                op_pool_paid=ytd.op_pool_paid + hifp,
            )

    fund = hifp + serious + cvlserv + maf
    psn_part = medfee - fund

    # 6. 个人账户 / 家庭共济 → 现金 ---------------------------------------------------------------
    own = mulaid = 0
    if encounter.acct_used_flag:
        payable = psn_part if plan.account_out_of_scope else psn_part - ful - over
        own = min(person.acct_balance, payable)
        mulaid = min(person.mulaid_balance, payable - own)
    acct = own + mulaid
    cash = psn_part - acct
    moved["fund_paid"] = ytd.fund_paid + fund
    new = _new(Accumulators, map(moved.get, ACCUMULATOR_NAMES, ytd))  # ytd with the moved fields replaced
    if steps is not None:
        steps.append(
            Step(
                "个人账户 personal account",
                f"个人负担 {yuan(psn_part)}; account {yuan(own)} of balance {yuan(person.acct_balance)}"
                f" + 共济 {yuan(mulaid)} → cash {yuan(cash)}",
                plan.reads.get("account", ()),
            )
        )

    hifob, hifmi = (serious, 0) if scheme == "employee" else (0, serious)
    detail: list[SetlDetail] = []
    intermediates: dict[str, Any] = {}
    if memo is None:
        if hifp:
            detail.append(_row(_POOL_FUND.get(scheme, "999997"), inscp, room, hifp, f"ratio {ratio}"))
        if serious:
            detail.append(_row(_SERIOUS_FUND.get(scheme, "999997"), inscp, serious_room, serious, ""))
        if cvlserv:
            detail.append(_row("320100", inscp, None, cvlserv, ""))
        if maf:
            detail.append(_row("610100", inscp, maf_room, maf, assistance))
        if acct:
            detail.append(_row("310200", inscp, None, acct, f"共济 {yuan(mulaid)}" if mulaid else ""))
        intermediates = {
            "visit": visit,
            "scheme": scheme,
            "psn_cat": key.psn_cat,
            "admission": admission,
            "deductible": plan.deductible,
            "pool_ratio": ratio,
            "pool_cap": plan.pool_cap,
            "pool_cap_room": room,
            "above_pool_cap": above_cap,
            "serious_illness_threshold": plan.serious_threshold,
            "serious_illness_cap": terms.serious_cap,
            "maf_threshold": plan.maf_threshold,
            "waiting_period_months": terms.waiting_months,
            "benefit_start": terms.benefit_start,
            "in_waiting_period": waiting,
        }
    # Settlement fields in order (tuple.__new__: this runs for every bill of a batch replay)
    return _new(
        Settlement,
        (
            medfee, ful, over, pre, inscp, dedc, hifp, ratio, cvlserv, 0, hifmi, hifob, maf, 0, fund,
            psn_part, acct, cash, 0, person.acct_balance - own, mulaid,
            insutype, encounter.med_type, CLR_TYPE[visit],
            lines, tuple(detail), new, intermediates, tuple(steps) if steps is not None else None,
        ),
    )  # fmt: skip


def _person_rules(policy: Policy, on: date, scheme: str, assistance: str, *, need_cap: bool) -> PersonRules:
    cache: dict[tuple[date, str, str, bool], PersonRules] = policy.__dict__.setdefault("_person_rules", {})
    k = (on, scheme, assistance, need_cap)
    rules = cache.get(k)
    if rules is None:
        rules = cache[k] = person_rules(policy, on, scheme=scheme, assistance=assistance, need_cap=need_cap)
    return rules


def person_only(policy: Policy, person: Person, on: date) -> PersonTerms:
    """The person-level terms (waiting period, serious-illness cap) without a bill."""
    scheme = codes.scheme(person.insutype)
    rules = _person_rules(
        policy,
        policy.epoch(on),
        scheme,
        person.assistance or "none",
        need_cap=policy.has("serious_illness.cap"),
    )
    return person_terms(rules, on, person.enrollment)


def _split(i: int, line: FeeLine, ctx: LineContext, catalog: Catalog, on: date) -> LineResult:
    """Split one fee line into 全自费 / 超限价 / 先行自付 / 政策范围内."""
    item = None
    if line.chrgitm_lv is None or line.med_chrgitm_type is None:
        item = catalog.get(line.med_list_codg, on)
    if line.chrgitm_lv is None:
        if item is None:
            known = line.med_list_codg in catalog
            raise SettlementError(
                f"feedetail[{i}].med_list_codg",
                f"{line.med_list_codg!r} is {'not in force on ' + str(on) if known else 'not in the catalogue'}",
            )
        lv = item.chrgitm_lv
        prop: Ratio = item.selfpay_prop
        cap = item.pric_uplmt.get(ctx.hosp_lv)
        restriction = item.restriction
    else:
        lv = line.chrgitm_lv
        prop = line.selfpay_prop or ZERO_RATIO
        cap = line.pric_uplmt
        restriction = NO_RESTRICTION
    typ = line.med_chrgitm_type or (item.med_chrgitm_type if item is not None else "14")
    amt = line.det_item_fee_sumamt
    memo = ""
    lmt = "0"
    if restriction is not NO_RESTRICTION:
        lmt = "1"
        memo = restriction.violation(_line_context(ctx, line.days_supply)) or ""
    ful, over, pre, inscp = (amt, 0, 0, 0) if memo else _parts(lv, amt, line.cnt, line.pric, cap, prop)
    # LineResult fields in order; built with tuple.__new__ because this runs for every fee line
    return _new(
        LineResult,
        (line.feedetl_sn, amt, line.cnt, line.pric, cap, prop, ful, over, pre, inscp, lv, typ, lmt, memo),
    )


def _parts(lv: str, amt: Fen, cnt: int, pric: int, cap: int | None, prop: Ratio) -> tuple[Fen, Fen, Fen, Fen]:
    """The split of a payable line: (全自费, 超限价, 先行自付, 政策范围内); 丙类 is all 全自费."""
    if lv == "03":
        return amt, 0, 0, 0
    over = 0
    if cap is not None and pric > cap:
        over = min(amt, max(0, amt - round_div(cap * cnt, FEN_PER_PRICE_COUNT)))
    rest = amt - over
    pre = round_div(rest * prop.num, prop.den) if prop.num else 0
    return 0, over, pre, rest - pre


def _line_context(ctx: LineContext, days_supply: int | None) -> LineContext:
    """``ctx`` with the line's days of supply (LineContext fields in order)."""
    if days_supply is None:
        return ctx
    return _new(LineContext, (ctx.gend, ctx.age, ctx.hosp_lv, ctx.visit, ctx.diagnoses, days_supply))


def _split_totals(
    lines: tuple[FeeLine, ...], ctx: LineContext, catalog: Catalog, on: date, known: dict[_LineKey, _Split]
) -> tuple[Fen, Fen, Fen, Fen]:
    """The four totals of :func:`_split` over ``lines``, memoising the split of catalogue lines.

    Within one catalogue epoch (days on which the same versions are in force) the split of a line depends
    only on its code, the hospital level, price, count and amount — and on the 限定支付 check, which runs
    per line against the restriction remembered with the split.
    """
    ful = over = pre = inscp = 0
    hosp_lv = ctx.hosp_lv
    for i, line in enumerate(lines):
        _, code, pric, cnt, amt, lv, _, _, _, days = line
        key = (code, hosp_lv, pric, cnt, amt)
        split = known.get(key) if lv is None else None
        if split is None:
            split = _catalogue_split(catalog, key, on) if lv is None else None
            if split is None:  # the line states its class, or is an error to report: split it in full
                r = _split(i, line, ctx, catalog, on)
                ful += r.fulamt_ownpay_amt
                over += r.overlmt_amt
                pre += r.preselfpay_amt
                inscp += r.inscp_scp_amt
                continue
            known[key] = split
        restriction, (f, o, p, s) = split
        if restriction is not NO_RESTRICTION and restriction.violation(_line_context(ctx, days)) is not None:
            ful += amt
            continue
        ful += f
        over += o
        pre += p
        inscp += s
    return ful, over, pre, inscp


_new = tuple.__new__


def _round(x: int | Fraction) -> int:
    return x if isinstance(x, int) else round_div(x.numerator, x.denominator)


def _rate_at(bands: tuple[Band, ...], at: Fen) -> Ratio:
    rate = bands[0].rate if bands else ZERO_RATIO
    for b in bands:
        if b.above <= at:
            rate = b.rate
    return rate


def _scale(bands: tuple[Band, ...], before: Fen, amount: Fen) -> int | Fraction:
    """Σ over bands of (the part of [before, before + amount) inside the band) × the band's rate, exactly."""
    if not bands or amount <= 0:
        return 0
    if len(bands) == 1:  # the common case: one rounding, no Fraction
        r = bands[0].rate
        return round_div(amount * r.num, r.den)
    total = Fraction(0)
    end = before + amount
    for j, b in enumerate(bands):
        hi = bands[j + 1].above if j + 1 < len(bands) else end
        part = min(end, hi) - max(before, b.above)
        if part > 0:
            total += Fraction(part * b.rate.num, b.rate.den)
    return total


def _consumed(bands: tuple[Band, ...], before: Fen, amount: Fen, room: Fen) -> Fraction:
    """How much of ``amount`` the pool covers before its payment reaches ``room`` (the cap)."""
    paid = Fraction(0)
    used = Fraction(0)
    end = before + amount
    for j, b in enumerate(bands):
        hi = bands[j + 1].above if j + 1 < len(bands) else end
        part = min(end, hi) - max(before, b.above)
        if part <= 0:
            continue
        pay = Fraction(part * b.rate.num, b.rate.den)
        if paid + pay >= room and b.rate.num:
            return used + (room - paid) / Fraction(b.rate.num, b.rate.den)
        paid += pay
        used += part
    return used


def _row(fund_pay_type: str, inscp: Fen, limit: Fen | None, paid: Fen, info: str) -> SetlDetail:
    return SetlDetail(
        fund_pay_type, codes.label("fund_pay_type", fund_pay_type), inscp, limit or 0, paid, info
    )
