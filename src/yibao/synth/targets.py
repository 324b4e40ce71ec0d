"""Calibration targets of the synthetic region: the 2024 national bulletin (shared/domain/statistics.md).

Every figure carries its confidence mark as statistics.md gives it: ``confirmed``, ``inferred`` (from
the corrupted bulletin copy, by sentence position or sums) or ``derived`` (calculated here from the
others — the formula is in ``note``). Figures are national; a synthetic region of N persons scales them.

>>> round(TARGETS["employee.inpatient_per_insured"].value, 4)
0.2161
>>> TARGETS["employee.admission_share.3"].mark
'derived'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    value: float  # a statistic, not money: floats are fine for calibration targets
    unit: str
    mark: str
    source: str
    note: str = ""


_W = "statistics.md §1"
EMPLOYEES = 37948.34  # 万人
RESIDENTS = 94713.73
IN_SERVICE = 27491.84
RETIRED = 10457.50


def _solve_shares(
    cost: tuple[float, float, float, float], los: tuple[float, float, float, float]
) -> tuple[float, ...]:
    """Admission shares by level (三/二/一) reproducing both the overall cost and the overall LOS.

    With s1 = 1 − s3 − s2: (c3 − c1) s3 + (c2 − c1) s2 = c − c1 and (l3 − l1) s3 + (l2 − l1) s2 = l − l1.
    """
    c, c3, c2, c1 = cost
    ell, l3, l2, l1 = los
    a11, a12, b1 = c3 - c1, c2 - c1, c - c1
    a21, a22, b2 = l3 - l1, l2 - l1, ell - l1
    det = a11 * a22 - a12 * a21
    s3 = (b1 * a22 - a12 * b2) / det
    s2 = (a11 * b2 - b1 * a21) / det
    return s3, s2, 1 - s3 - s2


_EMP_COST = (11707.0, 13840.0, 8327.0, 6105.0)
_EMP_LOS = (8.7, 7.7, 9.6, 12.6)
_RES_COST = (7408.08, 11956.0, 5852.0, 2730.0)
_RES_LOS = (8.5, 7.7, 9.5, 8.2)
_EMP_SHARE = _solve_shares(_EMP_COST, _EMP_LOS)
_RES_SHARE = _solve_shares(_RES_COST, _RES_LOS)

CHRONIC_COST_FACTOR = 2.5
"""门诊慢特病 cost per visit ÷ 普通门急诊 cost per visit: not published; a yibao modelling choice."""


def _outpatient_costs(
    facility_spend: float, ip_times: float, ip_cost: float, op_times: float, ch_times: float
) -> tuple[float, float]:
    """Cost per general and per chronic outpatient visit (元) from facility spending minus inpatient spending."""
    rest = facility_spend * 1e8 - ip_times * 1e8 * ip_cost
    general = rest / ((op_times + CHRONIC_COST_FACTOR * ch_times) * 1e8)
    return general, general * CHRONIC_COST_FACTOR


_EMP_OP = _outpatient_costs(18366.57, 0.82, 11707.0, 26.33, 3.22)
_RES_OP = _outpatient_costs(20098.31, 2.06, 7408.08, 23.78, 4.16)

_LIST = [
    Target("insured.employees", EMPLOYEES, "万人", "confirmed", f"{_W} A"),
    Target("insured.residents", RESIDENTS, "万人", "confirmed", f"{_W} A"),
    Target("employee.in_service", IN_SERVICE, "万人", "confirmed", f"{_W} A"),
    Target("employee.retired", RETIRED, "万人", "confirmed", f"{_W} A"),
    Target("employee.in_service_per_retired", IN_SERVICE / RETIRED, "ratio", "confirmed", f"{_W} A", "职退比 2.63"),
    Target("employee.share_enterprise", 24535.36 / EMPLOYEES, "share", "confirmed", f"{_W} A"),
    Target("employee.share_public", 6797.07 / EMPLOYEES, "share", "confirmed", f"{_W} A", "机关事业"),
    Target("employee.share_flexible", 6615.91 / EMPLOYEES, "share", "confirmed", f"{_W} A", "灵活就业等其他"),
    Target("resident.share_of_insured", RESIDENTS / (EMPLOYEES + RESIDENTS), "share", "confirmed", f"{_W} A"),
    # person-times per insured (C), 亿人次 ÷ 亿人
    Target("employee.outpatient_per_insured", 26.33 / (EMPLOYEES / 1e4), "visits", "inferred", f"{_W} C"),
    Target("employee.chronic_per_insured", 3.22 / (EMPLOYEES / 1e4), "visits", "inferred", f"{_W} C"),
    Target("employee.inpatient_per_insured", 0.82 / (EMPLOYEES / 1e4), "admissions", "inferred", f"{_W} C"),
    Target("employee.pharmacy_per_insured", 22.71 / (EMPLOYEES / 1e4), "purchases", "inferred", f"{_W} C"),
    Target("resident.outpatient_per_insured", 23.78 / (RESIDENTS / 1e4), "visits", "inferred", f"{_W} C"),
    Target("resident.chronic_per_insured", 4.16 / (RESIDENTS / 1e4), "visits", "inferred", f"{_W} C"),
    Target("resident.inpatient_per_insured", 2.06 / (RESIDENTS / 1e4), "admissions", "inferred", f"{_W} C"),
    Target("resident.pharmacy_per_insured", 0.35 / (RESIDENTS / 1e4), "purchases", "inferred", f"{_W} C"),
    # inpatient cost and length of stay (E)
    *(
        Target(f"{scheme}.cost_per_admission{suffix}", v, "元", "inferred", f"{_W} E")
        for scheme, costs in (("employee", _EMP_COST), ("resident", _RES_COST))
        for suffix, v in zip(("", ".3", ".2", ".1"), costs, strict=True)
    ),
    *(
        Target(f"{scheme}.los{suffix}", v, "天", "inferred", f"{_W} E")
        for scheme, stays in (("employee", _EMP_LOS), ("resident", _RES_LOS))
        for suffix, v in zip(("", ".3", ".2", ".1"), stays, strict=True)
    ),
    *(
        Target(
            f"{scheme}.admission_share.{lv}", s, "share", "derived", f"{_W} E",
            "the level shares that reproduce both the overall cost per admission and the overall length of stay",
        )
        for scheme, shares in (("employee", _EMP_SHARE), ("resident", _RES_SHARE))
        for lv, s in zip(("3", "2", "1"), shares, strict=True)
    ),
    # outpatient and pharmacy cost (derived from D and C)
    Target("employee.cost_per_outpatient", _EMP_OP[0], "元", "derived", f"{_W} C–E",
           "(facility spending − admissions × cost per admission) ÷ (visits + 2.5 × chronic visits)"),
    Target("employee.cost_per_chronic", _EMP_OP[1], "元", "derived", f"{_W} C–E", "2.5 × the general visit"),
    Target("resident.cost_per_outpatient", _RES_OP[0], "元", "derived", f"{_W} C–E",
           "(facility spending − admissions × cost per admission) ÷ (visits + 2.5 × chronic visits)"),
    Target("resident.cost_per_chronic", _RES_OP[1], "元", "derived", f"{_W} C–E", "2.5 × the general visit"),
    Target("employee.cost_per_pharmacy", 2220.89 / 22.71, "元", "derived", f"{_W} C–D", "pharmacy spending ÷ purchases"),
    Target("resident.cost_per_pharmacy", 213.84 / 0.35, "元", "derived", f"{_W} C–D", "pharmacy spending ÷ purchases"),
    # in-catalogue inpatient fund payment ratio (E): an outcome of the policy, reported, not generated
    Target("employee.inpatient_fund_ratio", 0.848, "share", "inferred", f"{_W} E"),
    Target("resident.inpatient_fund_ratio", 0.686, "share", "inferred", f"{_W} E"),
]  # fmt: skip

TARGETS: dict[str, Target] = {t.name: t for t in _LIST}

CALIBRATED = tuple(
    t.name
    for t in _LIST
    if t.name.endswith("_per_insured") or ".cost_per_admission" in t.name or ".los" in t.name
)
"""The figures the issue requires within ±3 % at 100,000 persons or more."""
