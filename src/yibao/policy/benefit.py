"""Resolve a region's parameters into the benefit plan for one kind of settlement.

A :class:`Plan` is everything the engine needs for (date, scheme, person category, hospital level,
visit kind, Nth admission, assistance category, civil-servant flag): deductible, ratio bands (with the
retiree uplift folded in), caps, the serious-illness, civil-servant and assistance tiers, the account
scope and the long-term-care per diem — each with the parameter reads that produced it, grouped by
step for the trace. Plans are cached per policy, so settling a year of bills reads each parameter once
per distinct context.

Which topic file a visit reads:

======== ====================================== ==========================================
visit    deductible / cap                        ratio
======== ====================================== ==========================================
inpatient inpatient.*  (per admission)           inpatient.pool_ratio
chronic  chronic.* (annual) + inpatient.pool_cap chronic.pool_ratio
outpatient outpatient.* (annual)                 outpatient.pool_ratio
pharmacy outpatient.* (annual, shared)           pharmacy.pool_ratio
ltc      —                                       ltc.per_diem
======== ====================================== ==========================================
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from yibao.money import Fen, Ratio, mul_ratio
from yibao.policy.loader import Policy
from yibao.policy.parameters import Band, Read

SERIOUS_VISITS = frozenset({"inpatient", "chronic"})
"""Visits whose policy-range self-pay counts towards 大病/大额, 公务员补助 and 医疗救助."""


class PlanKey(NamedTuple):
    on: date
    scheme: str
    psn_cat: str
    hosp_lv: str
    visit: str
    admission: str
    assistance: str
    cvlserv: bool
    care_form: str


class Plan(NamedTuple):
    """The resolved benefit terms of one settlement context. Amounts in fen; None = no such limit."""

    key: PlanKey
    deductible: Fen
    deductible_annual: bool
    deductible_annual_cap: Fen | None
    bands: tuple[Band, ...]
    pool_cap: Fen | None
    sub_cap: Fen | None
    serious_base: str | None
    serious_threshold: Fen
    serious_bands: tuple[Band, ...]
    cvlserv_ratio: Ratio | None
    maf_threshold: Fen
    maf_ratio: Ratio | None
    maf_cap: Fen | None
    account_out_of_scope: bool
    ltc_per_diem: Fen | None
    reads: dict[str, tuple[Read, ...]]


def resolve_plan(policy: Policy, key: PlanKey) -> Plan:
    """The plan for ``key``, from the cache or read afresh."""
    cache: dict[PlanKey, Plan] = policy.__dict__.setdefault("_plans", {})
    plan = cache.get(key)
    if plan is None:
        plan = cache[key] = _read_plan(policy, key)
    return plan


def _read_plan(policy: Policy, key: PlanKey) -> Plan:
    dims = {
        "scheme": key.scheme,
        "psn_cat": key.psn_cat,
        "hosp_lv": key.hosp_lv,
        "visit": key.visit,
        "admission": key.admission,
        "assistance": key.assistance,
        "care_form": key.care_form,
    }
    reads: dict[str, list[Read]] = {}

    def get(step: str, name: str) -> Any:
        value, read = policy.param(name).at(key.on, **dims)
        reads.setdefault(step, []).append(read)
        return value

    visit = key.visit
    deductible: Fen = 0
    annual = True
    annual_cap = None
    bands: tuple[Band, ...] = ()
    pool_cap = sub_cap = None
    per_diem = None
    if visit == "ltc":
        per_diem = get("ltc", "ltc.per_diem")
    else:
        cost_topic = "outpatient" if visit == "pharmacy" else visit
        annual = visit != "inpatient"
        deductible = get("deductible", f"{cost_topic}.deductible")
        if policy.has(f"{cost_topic}.deductible_factor"):
            deductible = mul_ratio(deductible, get("deductible", f"{cost_topic}.deductible_factor"))
        if visit == "inpatient" and policy.has("inpatient.deductible_annual_cap"):
            annual_cap = get("deductible", "inpatient.deductible_annual_cap")
        bands = get("pool", f"{visit}.pool_ratio")
        if key.psn_cat == "retired" and policy.has(f"{visit}.retiree_uplift"):
            uplift: Ratio = get("pool", f"{visit}.retiree_uplift")
            if uplift.num:
                bands = tuple(Band(b.above, b.rate.plus(uplift).clamp_one()) for b in bands)
        if visit == "chronic":
            pool_cap = get("pool", "inpatient.pool_cap")
            sub_cap = get("pool", "chronic.pool_cap")
        else:
            pool_cap = get("pool", f"{cost_topic}.pool_cap")

    serious_base = None
    serious_threshold: Fen = 0
    serious_bands: tuple[Band, ...] = ()
    cvlserv_ratio = None
    maf_threshold: Fen = 0
    maf_ratio = None
    maf_cap = None
    if visit in SERIOUS_VISITS:
        if policy.has("serious_illness.base"):
            serious_base = get("serious", "serious_illness.base")
            serious_threshold = get("serious", "serious_illness.threshold")
            serious_bands = get("serious", "serious_illness.ratio")
        if key.cvlserv and policy.has("cvlserv.ratio"):
            cvlserv_ratio = get("cvlserv", "cvlserv.ratio")
        if key.assistance != "none" and policy.has("assistance.ratio"):
            maf_threshold = get("assistance", "assistance.threshold")
            maf_ratio = get("assistance", "assistance.ratio")
            maf_cap = get("assistance", "assistance.cap")
    out_of_scope = (
        bool(get("account", "account.pays_out_of_scope")) if policy.has("account.pays_out_of_scope") else True
    )
    return Plan(
        key,
        deductible,
        annual,
        annual_cap,
        bands,
        pool_cap,
        sub_cap,
        serious_base,
        serious_threshold,
        serious_bands,
        cvlserv_ratio,
        maf_threshold,
        maf_ratio,
        maf_cap,
        out_of_scope,
        per_diem,
        {step: tuple(r) for step, r in reads.items()},
    )
