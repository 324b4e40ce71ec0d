"""Fidelity to the real system: the computed in-catalogue inpatient fund payment ratios against the 2024
national bulletin (statistics.md §1 E, marked *inferred*), within ±3 percentage points.

These ratios are an *outcome* of a region's policy parameters (deductibles, pool ratios, caps, 大病 and
assistance) and of its case mix, never an input of the synthetic region: a gap is a calibration finding
about the policy pack, reported as it is.

>>> rows = compare({"employee": {"all": Fraction(848, 1000)}, "resident": {"all": Fraction(70, 100)}})
>>> [(r["scheme"], r["level"], str(r["diff_pp"]), r["within"]) for r in rows[:1]]
[('employee', 'all', '0.00', True)]
>>> rows[4]["diff_pp"], rows[4]["within"]
(Decimal('1.40'), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from yibao.stats.fmt import dec

__all__ = ["BULLETIN_2024", "TOLERANCE_PP", "compare", "fidelity"]

BULLETIN_2024: dict[str, dict[str, Fraction]] = {
    "employee": {"all": Fraction("0.848"), "3": Fraction("0.838"), "2": Fraction("0.876"), "1": Fraction("0.899")},
    "resident": {"all": Fraction("0.686"), "3": Fraction("0.641"), "2": Fraction("0.733"), "1": Fraction("0.815")},
}
"""住院费用目录内基金支付比例, 2024 (statistics.md §1 E: inferred, by sentence position)."""

TOLERANCE_PP = Fraction(3)
SOURCE = "2024年全国医疗保障事业发展统计公报 (statistics.md §1 E, inferred)"


def compare(
    computed: Mapping[str, Mapping[str, Fraction | None]],
    policy_reading: Mapping[str, Mapping[str, Fraction | None]] | None = None,
) -> list[dict[str, Any]]:
    """Rows scheme × level (overall first) with the computed ratio, the target, the gap and the verdict;
    ``policy_reading`` adds the same ratio over 符合政策范围金额 alone (乙类先行自付 outside the base)."""
    rows = []
    for scheme, targets in BULLETIN_2024.items():
        for level, target in targets.items():
            value = computed.get(scheme, {}).get(level)
            diff = None if value is None else (value - target) * 100
            rows.append({
                "scheme": scheme, "level": level,
                "computed": None if value is None else dec(value, 4),
                "target": dec(target, 4),
                "diff_pp": None if diff is None else dec(diff, 2),
                "within": None if diff is None else abs(diff) <= TOLERANCE_PP,
                "tolerance_pp": dec(TOLERANCE_PP, 0),
                "source": SOURCE,
            })  # fmt: skip
            if policy_reading is not None:
                alt = policy_reading.get(scheme, {}).get(level)
                rows[-1]["computed_policy_range"] = None if alt is None else dec(alt, 4)
                rows[-1]["diff_pp_policy_range"] = None if alt is None else dec((alt - target) * 100, 2)
    return rows


def fidelity(dataset: Path | str | Any) -> list[dict[str, Any]]:
    """The comparison for a dataset folder (or loaded :class:`~yibao.stats.data.Frames`, or indicators)."""
    from yibao.stats.data import Frames
    from yibao.stats.indicators import indicators

    ind = dataset if isinstance(dataset, Mapping) else indicators(dataset if isinstance(dataset, Frames) else Path(dataset))
    computed = {
        scheme: {lv: g["fund_ratio"] for lv, g in ind["inpatient"].get(scheme, {}).items()} for scheme in BULLETIN_2024
    }
    policy = {
        scheme: {lv: g.get("fund_ratio_policy") for lv, g in ind["inpatient"].get(scheme, {}).items()}
        for scheme in BULLETIN_2024
    }
    return compare(computed, policy)
