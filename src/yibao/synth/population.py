"""People, employers, enrolment histories and contributions of the synthetic region.

A region of N persons is split **exactly** (not by chance) the way the 2024 bulletin splits the insured
(``yibao.synth.targets``): employees : residents 37948.34 : 94713.73, among employees 企业 / 机关事业 /
灵活就业 24535.36 / 6797.07 / 6615.91 and in-service : retired 2.63. The split is a fixed function of
the person's sequence number (see :func:`categories`), so every chunk of persons knows, without asking
any other chunk, how many employees came before it and which employer each of its employees works for;
inside a chunk the categories are then shuffled over the chunk's persons. Age and sex are drawn per
category from the China 2024 pyramid (:data:`PYRAMID`), so retirees are old, in-service employees of
working age and residents hold the children and, as in the countryside, more of the elderly.

Everything here is yibao's modelling; the figures that are assumptions rather than bulletin values
(assistance shares, wage spread, account balances, enrolment breaks …) are named constants below and
listed in docs/synth.md.

>>> import numpy as np
>>> emp = make_employers(np.random.default_rng(1), 2_000)
>>> t = make_persons(np.random.default_rng(2), 2_000, chunk=0, first_seq=0, year=2024, employers=emp,
...                  admdvs="990100")
>>> sorted(t)
['contribution_d', 'psn_info_b', 'psn_insu_d']
>>> t["psn_info_b"].height, t["psn_info_b"]["psn_no"][0]
(2000, '99010000000000000001')
>>> counts = region_counts(2_000)
>>> (t["psn_info_b"]["insutype"] == "310").sum() == counts.employees
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from yibao.money import round_div_array
from yibao.synth import names
from yibao.synth.targets import EMPLOYEES, IN_SERVICE, RESIDENTS, RETIRED, TARGETS

__all__ = [
    "ASSISTANCE_SHARES",
    "PYRAMID",
    "RegionCounts",
    "categories",
    "certno_check_chars",
    "dedupe_certno_keys",
    "make_employers",
    "make_persons",
    "region_counts",
    "round_div_array",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Obj = npt.NDArray[Any]

HISTORY_YEARS = 8
"""Enrolment history goes back to ``year − 8`` (one psn_insu_d row per enrolled or repaid year)."""

# ---------------------------------------------------------------------------------------------
# The exact split of the insured (bulletin, TARGETS insured.* / employee.*)
# ---------------------------------------------------------------------------------------------

_DEN = 10**9  # shares are exact rationals num / 1e9, so floor(i × share) is integer arithmetic


def _share(x: float) -> int:
    return round(x * _DEN)


SHARE_EMPLOYEE = _share(EMPLOYEES / (EMPLOYEES + RESIDENTS))
SHARE_FLEXIBLE = _share(TARGETS["employee.share_flexible"].value)
SHARE_PUBLIC_OF_UNITS = _share(
    TARGETS["employee.share_public"].value
    / (TARGETS["employee.share_public"].value + TARGETS["employee.share_enterprise"].value)
)
RETIRED_OF_EMPLOYEES = RETIRED / (IN_SERVICE + RETIRED)
"""Retired share of employees, 10457.50 / (27491.84 + 10457.50) = 0.2756 (职退比 2.63)."""
RETIRED_FLEXIBLE = 0.20
"""Share of flexible workers who are retired (1203): yibao's assumption."""
RETIRED_PUBLIC = 0.30
"""Share of 机关事业 employees who are retired: yibao's assumption (older workforce)."""
_f, _p = SHARE_FLEXIBLE / _DEN, SHARE_PUBLIC_OF_UNITS / _DEN
RETIRED_ENTERPRISE = (RETIRED_OF_EMPLOYEES - _f * RETIRED_FLEXIBLE - (1 - _f) * _p * RETIRED_PUBLIC) / (
    (1 - _f) * (1 - _p)
)
"""Share of enterprise employees who are retired, solved so that the whole region has 职退比 2.63."""
_RETIRED = {
    "enterprise": _share(RETIRED_ENTERPRISE),
    "public": _share(RETIRED_PUBLIC),
    "flexible": _share(RETIRED_FLEXIBLE),
}

KIND_RESIDENT, KIND_ENTERPRISE, KIND_PUBLIC, KIND_FLEXIBLE = 0, 1, 2, 3


def _take(index: I64, share: int) -> tuple[Bool, I64]:
    """Which of the consecutive indices fall in a share, and their rank inside / outside it.

    Index i is in when floor((i+1)·share) > floor(i·share); exactly floor(n·share) of 0…n−1 are.
    Returns (inside, rank) with rank = index among the insiders or among the outsiders.
    """
    before = index * share // _DEN
    inside = (index + 1) * share // _DEN > before
    return inside, np.where(inside, before, index - before)


@dataclass(frozen=True, slots=True)
class RegionCounts:
    """Exact head counts of a region of ``persons`` (a fixed function of the size, see :func:`categories`)."""

    persons: int
    employees: int
    flexible: int
    public: int
    enterprise: int
    retired: int

    @property
    def residents(self) -> int:
        return self.persons - self.employees

    @property
    def in_service(self) -> int:
        return self.employees - self.retired


def region_counts(persons: int) -> RegionCounts:
    """Head counts by category for a region of ``persons``.

    >>> c = region_counts(100_000)
    >>> c.employees, c.residents, round(c.in_service / c.retired, 2)
    (28605, 71395, 2.63)
    """
    kind, retired, _ = categories(0, persons)
    return RegionCounts(
        persons,
        int((kind != KIND_RESIDENT).sum()),
        int((kind == KIND_FLEXIBLE).sum()),
        int((kind == KIND_PUBLIC).sum()),
        int((kind == KIND_ENTERPRISE).sum()),
        int(retired.sum()),
    )


def categories(first_seq: int, n: int) -> tuple[npt.NDArray[np.int8], Bool, I64]:
    """Category of the persons with sequence numbers ``first_seq … first_seq + n − 1``.

    Returns (kind, retired, slot): kind 0 resident / 1 enterprise / 2 public / 3 flexible employee;
    ``slot`` is the person's rank among all enterprise (or public) employees of the region, which picks
    the employer (the employers' head counts, laid end to end, cover the slots). Nested exact splits:
    persons → employees (share of the bulletin) → flexible / unit → public / enterprise → retired.
    """
    g = np.arange(first_seq, first_seq + n, dtype=np.int64)
    is_emp, e = _take(g, SHARE_EMPLOYEE)
    is_flex, u = _take(e, SHARE_FLEXIBLE)
    is_pub, q = _take(u, SHARE_PUBLIC_OF_UNITS)
    kind = np.where(
        ~is_emp,
        KIND_RESIDENT,
        np.where(is_flex, KIND_FLEXIBLE, np.where(is_pub, KIND_PUBLIC, KIND_ENTERPRISE)),
    ).astype(np.int8)
    retired = np.zeros(n, dtype=np.bool_)
    for k, name, rank in (
        (KIND_FLEXIBLE, "flexible", u),
        (KIND_PUBLIC, "public", q),
        (KIND_ENTERPRISE, "enterprise", q),
    ):
        sel = kind == k
        retired[sel] = _take(rank[sel], _RETIRED[name])[0]
    slot = np.where((kind == KIND_PUBLIC) | (kind == KIND_ENTERPRISE), q, -1)
    return kind, retired, slot


# ---------------------------------------------------------------------------------------------
# Age and sex: the China 2024 pyramid, split by category
# ---------------------------------------------------------------------------------------------

MAX_AGE = 104
# 5-year bands 0–4 … 95–99, 100–104: persons (millions) and males per 100 females. yibao's estimate
# of 2024 from the 2020 census bands aged four years (births 2020–2024 from the yearly figures);
# 60+ ≈ 21.8 %, 65+ ≈ 15.2 %, total ≈ 1.40 bn.
PYRAMID: tuple[tuple[int, float, float], ...] = (
    (0, 48.0, 110), (5, 80.4, 113), (10, 89.2, 115), (15, 82.8, 116), (20, 73.1, 114), (25, 78.3, 110),
    (30, 98.3, 107), (35, 119.1, 106), (40, 97.8, 105), (45, 97.2, 104), (50, 114.4, 102), (55, 114.9, 101),
    (60, 92.9, 99), (65, 69.8, 97), (70, 63.1, 94), (75, 38.1, 89), (80, 22.7, 80), (85, 12.0, 68),
    (90, 4.8, 55), (95, 1.3, 42), (100, 0.2, 35),
)  # fmt: skip
BIRTHS_SHARE = 0.0068
"""Persons born during the year, as a share of all insured (2024: 9.54 m births, 1.408 bn people)."""


def _pyramid() -> tuple[F64, F64]:
    male = np.zeros(MAX_AGE + 1)
    female = np.zeros(MAX_AGE + 1)
    for lo, total, ratio in PYRAMID:
        m = total * ratio / (100 + ratio)
        male[lo : lo + 5] = m / 5
        female[lo : lo + 5] = (total - m) / 5
    return male, female


def _ramp(ages: I64, points: dict[int, float]) -> F64:
    """Piecewise-constant propensity by age: value of the greatest key ≤ age."""
    keys = np.array(sorted(points))
    vals = np.array([points[k] for k in sorted(points)])
    return np.where(
        ages < keys[0], 0.0, vals[np.clip(np.searchsorted(keys, ages, side="right") - 1, 0, None)]
    )


_AGES = np.arange(MAX_AGE + 1, dtype=np.int64)
# Relative propensity of being an in-service employee / a retiree at an age (scaled below).
_IN_SERVICE_M = _ramp(
    _AGES, {16: 0.02, 18: 0.1, 19: 0.2, 20: 0.3, 21: 0.45, 22: 0.6, 23: 1.0, 55: 0.85, 60: 0.15, 65: 0.0}
)
_IN_SERVICE_F = _ramp(
    _AGES,
    {
        16: 0.02,
        18: 0.1,
        19: 0.2,
        20: 0.3,
        21: 0.45,
        22: 0.6,
        23: 0.95,
        45: 0.85,
        50: 0.3,
        55: 0.06,
        60: 0.02,
        65: 0.0,
    },
)
_RETIRED_M = _ramp(_AGES, {50: 0.03, 55: 0.12, 60: 1.0, 80: 0.75, 90: 0.6})
_RETIRED_F = _ramp(_AGES, {45: 0.02, 50: 0.55, 55: 1.0, 80: 0.7, 90: 0.55})


def _category_cells() -> dict[str, F64]:
    """Distribution over cells (sex × age, male first) for in-service, retired and resident persons."""
    male, female = _pyramid()
    pop = np.concatenate([male, female])
    pop = pop / pop.sum() * (1 - BIRTHS_SHARE)
    emp = SHARE_EMPLOYEE / _DEN
    s_ret = emp * RETIRED_OF_EMPLOYEES
    s_in = emp - s_ret
    base_in = np.concatenate([_IN_SERVICE_M, _IN_SERVICE_F])
    base_ret = np.concatenate([_RETIRED_M, _RETIRED_F])
    p_in = base_in * s_in / (pop * base_in).sum()
    p_ret = base_ret * s_ret / (pop * base_ret).sum()
    rest = np.clip(1 - p_in - p_ret, 0, None)
    assert (p_in + p_ret).max() < 0.95, "propensities leave no residents at some age"
    return {
        "in_service": pop * p_in / (pop * p_in).sum(),
        "retired": pop * p_ret / (pop * p_ret).sum(),
        "resident": pop * rest / (pop * rest).sum(),
    }


_CELLS = _category_cells()
_CELL_CUM = {k: np.cumsum(v) for k, v in _CELLS.items()}
_NEWBORN_OF_RESIDENTS = BIRTHS_SHARE / (1 - SHARE_EMPLOYEE / _DEN)


def _draw_cells(rng: np.random.Generator, which: str, n: int) -> tuple[Bool, I64]:
    cum = _CELL_CUM[which]
    cell = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1)
    return cell < MAX_AGE + 1, (cell % (MAX_AGE + 1)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Deaths, assistance, family links: yibao's assumptions
# ---------------------------------------------------------------------------------------------


def death_probability(age: I64, male: Bool) -> F64:
    """Probability of dying within the year at an age (Gompertz–Makeham; men × 1.2, women × 0.8; crude rate ≈ 7.8 ‰ as in 2024).

    >>> [round(float(p), 4) for p in death_probability(np.array([0, 40, 60, 80, 90]), np.array([True] * 5))]
    [0.0045, 0.0018, 0.0098, 0.0671, 0.1789]
    """
    adult = 0.0004 + 0.000021 * np.exp(0.0985 * age.astype(np.float64))
    q = np.where(age == 0, 0.0045 / 1.2, np.where(age < 5, 0.0004, np.where(age < 15, 0.0002, adult)))
    return np.minimum(np.where(male, q * 1.2, q * 0.8), 0.6)


ASSISTANCE_SHARES: dict[str, tuple[float, tuple[float, float, float]]] = {
    "2301": (0.003, (0.3, 0.6, 3.0)),  # 特困供养: mostly elderly without support
    "2302": (0.030, (1.0, 0.8, 1.6)),  # 低保
    "2303": (0.010, (1.0, 1.0, 1.2)),  # 返贫致贫
    "2304": (0.020, (1.0, 1.0, 1.3)),  # 低保边缘 / 低收入
    "2305": (0.003, (0.3, 1.0, 1.8)),  # 因病致贫重病患者
    "2306": (0.0005, (1.0, 0.0, 0.0)),  # 孤儿 / 事实无人抚养儿童 (children only)
}
"""psn_idet_type: (share of residents, relative weight for ages < 18, 18–59, 60+). yibao's assumptions,
chosen to be plausible against the 2024 bulletin (7915.67万 persons had premiums paid by assistance)."""

ASSISTANCE_PREMIUM_BP = {
    "2301": 10000,
    "2302": 10000,
    "2306": 10000,
    "2303": 7000,
    "2304": 5000,
    "2305": 5000,
}
"""Share of the resident premium that medical assistance pays (basis points): full for 特困, 低保 and
orphans, part for the others. yibao's assumption (regions set their own)."""

MULAID_SHARE = (0.35, 0.08, 0.25)
"""Share of residents aged < 18, 18–59, 60+ whose costs an employee relative's account may pay (家庭共济)."""


def _age_group(age: I64) -> I64:
    return np.where(age < 18, 0, np.where(age < 60, 1, 2)).astype(np.int64)


def _assistance_norms() -> dict[str, float]:
    cells = _CELLS["resident"]
    ages = np.concatenate([_AGES, _AGES])
    group = _age_group(ages)
    return {code: float((cells * np.asarray(w)[group]).sum()) for code, (_, w) in ASSISTANCE_SHARES.items()}


_ASSISTANCE_NORM = _assistance_norms()

# ---------------------------------------------------------------------------------------------
# Contributions: yibao's region rules (documented in docs/synth.md)
# ---------------------------------------------------------------------------------------------

AVERAGE_WAGE = 10_000
"""Average monthly wage (yuan) of urban units, 2024, about 10,000: the reference for contribution bases."""
BASE_FLOOR_BP, BASE_CAP_BP = 6_000, 30_000
"""The contribution base lies between 60 % and 300 % of the average wage."""
EMPLOYER_RATE_BP = 700
"""单位缴费 7 % of the base (regions: 6–8 %); all to the pooled fund for in-service employees."""
EMPLOYEE_RATE_BP = 200
"""个人缴费 2 % of the base, all to the personal account."""
FLEXIBLE_RATE_BP = 900
"""灵活就业 9 % of the chosen base (60 % of the average for most, 100 % for a fifth)."""
FLEXIBLE_ACCOUNT_BP = 200
"""Part of the flexible worker's base credited to the personal account (统账结合 only)."""
SINGLE_POOL_OF_FLEXIBLE = 2513.32 / 6615.91
"""Flexible workers in 单建统筹 (no personal account): the bulletin's 2513.32万 single-pool insured,
all attributed to flexible work (yibao's reading)."""
RETIREE_CREDIT_FEN = (8_000, 10_000)
"""Monthly fixed account credit of retirees under / from 70: 80 and 100 yuan (≈ 2 % of the average pension)."""
RESIDENT_PREMIUM_FEN = 40_000
"""2024 individual resident premium, 400 yuan."""
RESIDENT_SUBSIDY_FEN = 67_000
"""2024 fiscal subsidy per resident, 670 yuan."""
FLOOR_DECLARED_ENTERPRISE = 0.40
"""Share of enterprise employees whose base is declared at the floor (underdeclaration is common)."""
CIVIL_SERVANT_UNITS = 0.30
"""Share of 机关事业 employers that are 机关 (their staff are civil servants, psn_type 1102/1202)."""


# ---------------------------------------------------------------------------------------------
# Employers
# ---------------------------------------------------------------------------------------------

_INDUSTRIES = (
    "机械制造", "电子科技", "建筑工程", "物流", "食品", "纺织", "商贸", "信息技术", "房地产开发", "餐饮管理",
    "化工", "医药", "汽车销售", "物业管理", "装饰工程", "农业开发", "环保科技", "印刷", "家具", "新材料",
)  # fmt: skip
_BRANDS = "恒达宏远华兴金辉瑞丰鑫源永盛天成博远嘉禾汇通鼎盛安泰润泽腾飞盛世东方佳联信诚美达"
_AGENCIES = (
    "人民政府办公室", "教育局", "财政局", "公安分局", "税务局", "市场监督管理局", "卫生健康委员会",
    "人力资源和社会保障局", "住房和城乡建设局", "交通运输局", "农业农村局", "自然资源局", "生态环境局",
    "民政局", "司法局", "人民法院", "人民检察院", "统计局", "审计局", "医疗保障局",
)  # fmt: skip
_INSTITUTES = (
    "第一中学", "第二中学", "实验小学", "中心小学", "中心幼儿园", "疾病预防控制中心", "图书馆", "水利管理站",
    "广播电视台", "社会福利院", "不动产登记中心", "职业技术学校", "农业技术推广站", "文化馆", "档案馆",
)  # fmt: skip
FLEXIBLE_EMP_NAME = "灵活就业人员（个人参保）"


def _sizes(rng: np.random.Generator, total: int, draw: Any) -> I64:
    """Head counts drawn by ``draw(n)`` until they cover ``total``, the last one cut to fit exactly."""
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    parts: list[I64] = []
    covered = 0
    while covered < total:
        batch = np.maximum(draw(max(16, total // 8)), 1).astype(np.int64)
        parts.append(batch)
        covered += int(batch.sum())
    sizes = np.concatenate(parts)
    cum = np.cumsum(sizes)
    last = int(np.searchsorted(cum, total))
    sizes = sizes[: last + 1].copy()
    sizes[-1] -= int(cum[last]) - total
    return sizes


def make_employers(rng: np.random.Generator, n_persons: int, admdvs: str = "990100") -> pl.DataFrame:
    """The region's employers (emp_b): head counts that add up exactly to its unit employees.

    Enterprise sizes are heavy-tailed (a discrete Pareto with tail index 1.1: most firms have under ten
    insured, a few thousands); public units (机关事业) are log-normal around 25. Flexible workers share
    one pseudo-employer ``E<admdvs>0000000`` (emp_type 3). Employers come in random order, so a chunk of
    persons holds a mix; ``emp_size`` counts in-service and retired insured persons of the unit.

    >>> emp = make_employers(np.random.default_rng(3), 10_000)
    >>> c = region_counts(10_000)
    >>> int(emp.filter(pl.col("emp_type") == "1")["emp_size"].sum()) == c.enterprise
    True
    """
    counts = region_counts(n_persons)
    cap = max(20, counts.enterprise // 12)
    ent = _sizes(rng, counts.enterprise, lambda n: np.minimum(np.floor(rng.pareto(1.1, n) * 2.0 + 1), cap))
    pub = _sizes(rng, counts.public, lambda n: np.clip(np.round(rng.lognormal(3.2, 1.0, n)), 3, max(3, cap)))
    n_ent, n_pub = len(ent), len(pub)
    kinds = np.concatenate([np.full(n_ent, 1), np.full(n_pub, 2)])
    sizes = np.concatenate([ent, pub])
    order = rng.permutation(n_ent + n_pub)
    kinds, sizes = kinds[order], sizes[order]
    civil = (kinds == 2) & (rng.random(len(kinds)) < CIVIL_SERVANT_UNITS)
    district = rng.integers(0, len(names.DISTRICTS), len(kinds))
    place = rng.integers(0, len(names.PLACES), len(kinds))
    brand = rng.integers(0, len(_BRANDS) - 1, len(kinds))
    industry = rng.integers(0, len(_INDUSTRIES), len(kinds))
    unit = rng.integers(0, len(_INSTITUTES), len(kinds))
    agency = rng.integers(0, len(_AGENCIES), len(kinds))
    emp_names = []
    for i in range(len(kinds)):  # one per employer, not per person
        d = names.DISTRICTS[district[i]]
        if kinds[i] == 1:
            suffix = (
                "集团有限公司" if sizes[i] >= 1000 else ("股份有限公司" if sizes[i] >= 200 else "有限公司")
            )
            emp_names.append(
                f"{names.CITY}市{names.PLACES[place[i]]}{_BRANDS[brand[i] : brand[i] + 2]}{_INDUSTRIES[industry[i]]}{suffix}"
            )
        elif civil[i]:
            emp_names.append(f"{names.CITY}市{d}{_AGENCIES[agency[i]]}")
        else:
            emp_names.append(f"{names.CITY}市{d}{names.PLACES[place[i]]}{_INSTITUTES[unit[i]]}")
    serial = np.arange(1, len(kinds) + 1, dtype=np.int64)
    units = pl.DataFrame(
        {
            "emp_no": [f"E{admdvs}{s:07d}" for s in serial.tolist()],
            "emp_name": emp_names,
            "emp_type": [str(k) for k in kinds.tolist()],
            "emp_size": sizes,
            "civil_servant": civil,
        },
        schema={"emp_no": pl.String, "emp_name": pl.String, "emp_type": pl.String, "emp_size": pl.Int64,
                "civil_servant": pl.Boolean},
    )  # fmt: skip
    flexible = pl.DataFrame(
        {"emp_no": [flexible_emp_no(admdvs)], "emp_name": [FLEXIBLE_EMP_NAME], "emp_type": ["3"],
         "emp_size": [counts.flexible], "civil_servant": [False]},
        schema=units.schema,
    )  # fmt: skip
    return pl.concat([flexible, units])


def flexible_emp_no(admdvs: str) -> str:
    """The pseudo-employer code shared by the region's flexible workers.

    >>> flexible_emp_no("990100")
    'E9901000000000'
    """
    return f"E{admdvs}0000000"


def _employer_of_slots(employers: pl.DataFrame, emp_type: str, slots: I64) -> tuple[I64, Bool]:
    """Row of ``employers`` (and civil-servant flag) for enterprise (``"1"``) or public (``"2"``) slots."""
    units = employers.with_row_index("_row").filter(pl.col("emp_type") == emp_type)
    if units.height == 0:
        raise ValueError(f"employers has no emp_type {emp_type} unit for {len(slots)} employees")
    cum = np.cumsum(units.get_column("emp_size").to_numpy())
    at = np.minimum(np.searchsorted(cum, slots, side="right"), units.height - 1)
    civil = (
        units.get_column("civil_servant").to_numpy()
        if "civil_servant" in units.columns
        else np.zeros(units.height, dtype=np.bool_)
    )
    return units.get_column("_row").to_numpy().astype(np.int64)[at], civil[at].astype(np.bool_)


# ---------------------------------------------------------------------------------------------
# Identity numbers (GB 11643) — vectorised; the same rule as yibao.ids.certno_check_digit
# ---------------------------------------------------------------------------------------------

_CHECK_TEXT = pl.Series("c", list("10X98765432"), dtype=pl.String)
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)


def certno_check_chars(first17: I64) -> pl.Series:
    """The ISO 7064 MOD 11-2 check character of each 17-digit number (as yibao.ids computes it)."""
    digits = first17.copy()
    total = np.zeros(len(first17), dtype=np.int64)
    for w in _WEIGHTS[::-1]:  # 17 passes over the array, not one per person
        total += (digits % 10) * w
        digits //= 10
    return _CHECK_TEXT.gather(total % 11)


def dedupe_certno_keys(keys: I64, taken: I64 | None = None) -> I64:
    """Make 17-digit keys unique among themselves and against the sorted array ``taken``.

    A duplicate moves to the next free sequence number of the same area, birth date and sex (the
    sequence's middle digit + 1, keeping the odd / even last digit).
    """
    keys = keys.copy()
    for _ in range(100):
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        dup = np.zeros(len(keys), dtype=np.bool_)
        dup[order[1:]] = sorted_keys[1:] == sorted_keys[:-1]
        if taken is not None and len(taken):  # (sorted keys: bisecting in order is 4× faster)
            pos = np.minimum(np.searchsorted(taken, sorted_keys), len(taken) - 1)
            dup[order] |= taken[pos] == sorted_keys
        if not dup.any():
            return np.asarray(keys, dtype=np.int64)
        seq = keys[dup] % 1000
        keys[dup] = keys[dup] - seq + (seq + 10) % 1000
    raise ValueError(
        "could not make identity numbers unique: more than 100 persons share area, birth date and sex"
    )


def _certno_keys(rng: np.random.Generator, admdvs: str, brdy: I64, male: Bool) -> I64:
    """17-digit keys: area (99 + region + district, 8 % from elsewhere) + birth date + sequence."""
    n = len(brdy)
    region = int(admdvs[2:4]) if admdvs[2:4].isdigit() else 1
    district = np.array([int(names.district_code(i)) for i in range(len(names.DISTRICTS))], dtype=np.int64)
    local = 990000 + region * 100 + district[rng.integers(0, len(district), n)]
    elsewhere = 990000 + rng.integers(100, 10_000, n)
    area = np.where(rng.random(n) < 0.92, local, elsewhere)
    d = brdy.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    seq = rng.integers(0, 100, n) * 10 + rng.integers(0, 5, n) * 2 + male.astype(np.int64)
    return np.asarray(area * 10**11 + (y * 10000 + m * 100 + day) * 1000 + seq, dtype=np.int64)


def certnos_from_keys(keys: I64) -> pl.Series:
    return (pl.Series(keys).cast(pl.String) + certno_check_chars(keys)).alias("certno")


# ---------------------------------------------------------------------------------------------
# Persons
# ---------------------------------------------------------------------------------------------


def _days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _year_start(years: I64) -> I64:
    return (years - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _dates(days: I64, name: str) -> pl.Series:
    return pl.Series(name, days.astype(np.int32)).cast(pl.Date)


def _month_of(days: I64) -> I64:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


def _with_nulls(days: I64, valid: Bool, name: str) -> pl.Series:
    s = _dates(days, name)
    return pl.select(pl.when(pl.Series(valid)).then(s).otherwise(None).alias(name)).to_series()


def _pick(labels: tuple[str, ...] | list[str], index: npt.NDArray[Any], name: str = "") -> pl.Series:
    """Text codes by index into a short list of labels (much faster than NumPy string arrays)."""
    return pl.Series(name, list(labels), dtype=pl.String).gather(np.asarray(index, dtype=np.int64))


def _flag(mask: Bool, yes: str = "1", no: str = "0", name: str = "") -> pl.Series:
    return _pick((no, yes), mask.astype(np.int64), name)


def make_persons(
    rng: np.random.Generator,
    persons: int,
    *,
    chunk: int,
    first_seq: int,
    year: int,
    employers: pl.DataFrame,
    admdvs: str,
) -> dict[str, pl.DataFrame]:
    """The persons ``first_seq … first_seq + persons − 1`` of the region: psn_info_b, psn_insu_d, contribution_d.

    psn_no is ``admdvs`` + the 14-digit sequence number (1-based), so numbers are unique across chunks
    and sort in sequence order. Every person is insured in ``year``; ``employers`` is :func:`make_employers`'s
    frame for the whole region. ``chunk`` is not used for drawing (the caller seeds ``rng`` per chunk).
    """
    del chunk  # the caller's rng is already specific to the chunk
    n = persons
    kind, retired, slot = categories(first_seq, n)
    perm = rng.permutation(n)
    kind, retired, slot = kind[perm], retired[perm], slot[perm]
    is_emp = kind != KIND_RESIDENT

    # age and sex by category
    male = np.zeros(n, dtype=np.bool_)
    age = np.zeros(n, dtype=np.int64)
    newborn = np.zeros(n, dtype=np.bool_)
    for which, sel in (
        ("in_service", is_emp & ~retired),
        ("retired", is_emp & retired),
        ("resident", ~is_emp),
    ):
        k = int(sel.sum())
        male[sel], age[sel] = _draw_cells(rng, which, k)
    res_idx = np.flatnonzero(~is_emp)
    newborn[res_idx[rng.random(len(res_idx)) < _NEWBORN_OF_RESIDENTS]] = True
    newborn_male = rng.random(n) < 0.5268  # 2024 sex ratio at birth ≈ 111
    male = np.where(newborn, newborn_male, male)
    age = np.where(newborn, -1, age)

    jan1 = _days(date(year, 1, 1))
    birth_year = year - 1 - age
    y0 = _year_start(birth_year)
    y_len = _year_start(birth_year + 1) - y0
    brdy = y0 + (rng.random(n) * y_len).astype(np.int64)
    year_len = _days(date(year + 1, 1, 1)) - jan1
    age0 = np.maximum(age, 0)  # age on 1 January (newborns: 0)

    # deaths
    dies = rng.random(n) < np.where(newborn, death_probability(age0, male) / 2, death_probability(age0, male))

    # employers
    emp_codes = employers.get_column("emp_no").to_list()
    flex_at = emp_codes.index(flexible_emp_no(admdvs)) if flexible_emp_no(admdvs) in emp_codes else -1
    emp_codes.append("")
    emp_at = np.full(n, len(emp_codes) - 1, dtype=np.int64)
    civil = np.zeros(n, dtype=np.bool_)
    for k, emp_type in ((KIND_ENTERPRISE, "1"), (KIND_PUBLIC, "2")):
        sel = kind == k
        if sel.any():
            emp_at[sel], civil[sel] = _employer_of_slots(employers, emp_type, slot[sel])
    if (kind == KIND_FLEXIBLE).any():
        if flex_at < 0:
            raise ValueError(f"employers has no flexible-work pseudo-employer {flexible_emp_no(admdvs)}")
        emp_at[kind == KIND_FLEXIBLE] = flex_at
    emp_no = _pick(emp_codes, emp_at, "emp_no")

    psn_type = _psn_types(rng, kind, retired, civil, age)
    idet = _assistance(rng, is_emp, age0)
    single_pool = (kind == KIND_FLEXIBLE) & (rng.random(n) < SINGLE_POOL_OF_FLEXIBLE)
    has_account = is_emp & ~single_pool

    # enrolment (the current year's start may be late: death then falls after it)
    history = _history(rng, n, year, is_emp, age0, newborn, brdy, birth_year)
    begin = history.pop("current_begin")
    death = begin + (rng.random(n) * (jan1 + year_len - begin)).astype(np.int64)
    death = np.minimum(death, jan1 + year_len - 1)

    seq = np.arange(first_seq + 1, first_seq + n + 1, dtype=np.int64)
    psn_no = pl.lit(admdvs) + pl.Series(seq).cast(pl.String).str.zfill(14)
    psn_no_s = pl.select(psn_no.alias("psn_no")).to_series()
    keys = dedupe_certno_keys(_certno_keys(rng, admdvs, brdy, male))
    balance = _account_balance(rng, age0, retired, has_account)
    mulaid = _family_links(rng, is_emp, has_account, retired, age0)

    info = pl.DataFrame(
        {
            "psn_no": psn_no_s,
            "certno": certnos_from_keys(keys),
            "psn_name": names.person_names(rng, male, birth_year),
            "gend": _flag(male, "1", "2"),
            "brdy": _dates(brdy, "brdy"),
            "insutype": _flag(is_emp, "310", "390"),
            "psn_type": psn_type,
            "insuplc_admdvs": _pick((admdvs,), np.zeros(n, dtype=np.int64)),
            "emp_no": emp_no,
            "psn_idet_type": _pick(_IDET_LABELS, idet),
            "death_date": _with_nulls(death, dies, "death_date"),
            "acct_balc_begn": balance,
            "mulaid_psn_no": pl.concat([psn_no_s, pl.Series([""])]).gather(mulaid),
        }
    )
    insu = _insu_frame(history, psn_no_s, is_emp, death, dies, begin)
    contrib = _contributions(
        rng, year=year, psn_no=psn_no_s, emp_no=emp_no, kind=kind, retired=retired, age0=age0,
        has_account=has_account, idet=idet, begin=begin, death=death, dies=dies,
    )  # fmt: skip
    return {"psn_info_b": info, "psn_insu_d": insu, "contribution_d": contrib}


_PSN_TYPES = ("1101", "1102", "1103", "1201", "1202", "1203", "1401", "1402", "1403", "1404", "1405", "1501")


def _psn_types(
    rng: np.random.Generator, kind: npt.NDArray[np.int8], retired: Bool, civil: Bool, age: I64
) -> pl.Series:
    """人员类别: 1101/1102/1103 in service (enterprise or 事业, civil servant, flexible), 1201/1202/1203
    retired; residents by age: 1401 新生儿 (0), 1405 未入学 (1–2, and 3 % of 7–17), 1402 学龄前 (3–6),
    1403 中小学生 (7–17), 1404 大学生 (55 % of 18–22), 1501 adults."""
    t = {code: i for i, code in enumerate(_PSN_TYPES)}
    n = len(kind)
    col = np.where(kind == KIND_FLEXIBLE, 2, np.where(civil, 1, 0)) + np.where(retired, 3, 0)
    u = rng.random(n)
    child = np.select(
        [age <= 0, age <= 2, age <= 6, age <= 17, age <= 22],
        [t["1401"], t["1405"], t["1402"], np.where(u < 0.97, t["1403"], t["1405"]),
         np.where(u < 0.55, t["1404"], t["1501"])],
        t["1501"],
    )  # fmt: skip
    return _pick(_PSN_TYPES, np.where(kind == KIND_RESIDENT, child, col), "psn_type")


def _assistance(rng: np.random.Generator, is_emp: Bool, age: I64) -> I64:
    """Index into ``("",) + tuple(ASSISTANCE_SHARES)`` per person (0 = none); residents only."""
    n = len(is_emp)
    group = _age_group(age)
    u = rng.random(n)
    out = np.zeros(n, dtype=np.int64)
    edge = np.zeros(n)
    for k, (code, (share, weights)) in enumerate(ASSISTANCE_SHARES.items(), start=1):
        p = share * np.asarray(weights)[group] / _ASSISTANCE_NORM[code]
        out[(u >= edge) & (u < edge + p) & ~is_emp] = k
        edge = edge + p
    return out


_IDET_LABELS = ("", *ASSISTANCE_SHARES)


def _account_balance(rng: np.random.Generator, age: I64, retired: Bool, has_account: Bool) -> I64:
    """Personal account on 1 January (fen): log-normal, growing with working years; 8 % empty.

    Calibrated loosely to the bulletin's 14471.75亿 accumulated over 37948.34万 employees (≈ 3,800 yuan).
    """
    n = len(age)
    mean = np.where(retired, 3_600.0, 230.0 * np.maximum(age - 18, 1).astype(np.float64))
    sigma = 0.9
    yuan = rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, n)
    empty = rng.random(n) < 0.08
    fen = np.floor(yuan * 100).astype(np.int64)
    return np.where(has_account & ~empty, fen, 0)


def _family_links(rng: np.random.Generator, is_emp: Bool, has_account: Bool, retired: Bool, age: I64) -> I64:
    """mulaid_psn_no: an employee of the same chunk, of a fitting age, whose account may pay (家庭共济).

    Children get a parent 22–38 years older, elderly residents a child 25–35 years younger, other
    adults a spouse of about their age (±3 years). Returns the relative's index, or n for none.
    """
    n = len(age)
    out = np.full(n, n, dtype=np.int64)
    cand = np.flatnonzero(has_account & ~retired)
    if len(cand) == 0:
        return out
    group = _age_group(age)
    linked = ~is_emp & (rng.random(n) < np.asarray(MULAID_SHARE)[group])
    who = np.flatnonzero(linked)
    if len(who) == 0:
        return out
    order = cand[np.argsort(age[cand], kind="stable")]
    cand_age = age[order]
    g = group[who]
    offset = np.where(
        g == 0,
        rng.integers(22, 39, len(who)),
        np.where(g == 2, -rng.integers(25, 36, len(who)), rng.integers(-3, 4, len(who))),
    )
    target = age[who] + offset
    lo = np.searchsorted(cand_age, target, side="left")
    hi = np.searchsorted(cand_age, target, side="right")
    pick = np.where(
        hi > lo, lo + (rng.random(len(who)) * (hi - lo)).astype(np.int64), np.minimum(lo, len(order) - 1)
    )
    out[who] = order[pick]
    return out


# ---------------------------------------------------------------------------------------------
# Enrolment histories (psn_insu_d)
# ---------------------------------------------------------------------------------------------

UNSTEADY = {"employee": 0.05, "resident": 0.18}
"""Share of persons whose past enrolment has breaks (the others were enrolled every year)."""
BREAK_PROBABILITY = {"employee": 0.20, "resident": 0.35}
"""Probability that an unsteady person was not enrolled in a given past year."""
REPAID_PROBABILITY = {"employee": 0.50, "resident": 0.15}
"""Probability that a break year was paid retroactively (补缴, psn_insu_d repaid = 1)."""
LATE_ENROLMENT = 0.02
"""Residents who enrol outside the concentrated window (in_window = 0) with no break; after a break: half."""


def _history(
    rng: np.random.Generator,
    n: int,
    year: int,
    is_emp: Bool,
    age: I64,
    newborn: Bool,
    brdy: I64,
    birth_year: I64,
) -> dict[str, Any]:
    """The states of the past ``HISTORY_YEARS`` years (0 none, 1 enrolled, 2 break, 3 repaid) and the current start."""
    h = HISTORY_YEARS
    years = year - h + np.arange(h, dtype=np.int64)  # year−8 … year−1
    born_by = birth_year[:, None] <= years[None, :]
    scheme_emp = is_emp[:, None]
    unsteady = rng.random(n) < np.where(is_emp, UNSTEADY["employee"], UNSTEADY["resident"])
    broken = unsteady[:, None] & (
        rng.random((n, h))
        < np.where(scheme_emp, BREAK_PROBABILITY["employee"], BREAK_PROBABILITY["resident"])
    )
    repaid = broken & (
        rng.random((n, h))
        < np.where(scheme_emp, REPAID_PROBABILITY["employee"], REPAID_PROBABILITY["resident"])
    )
    state = np.where(~born_by, 0, np.where(broken, np.where(repaid, 3, 2), 1)).astype(np.int8)
    # zero-claim years (enrolled years only), by the person's age then
    age_then = age[:, None] - (year - years)[None, :]
    p_zero = np.where(
        scheme_emp,
        np.where(age_then >= 60, 0.08, 0.30),
        np.where(age_then < 18, 0.40, np.where(age_then < 60, 0.55, 0.25)),
    )
    zero = (state == 1) & (rng.random((n, h)) < p_zero)
    # late re-enrolment in a past year after a break
    prev_break = np.zeros((n, h), dtype=np.bool_)
    prev_break[:, 1:] = state[:, :-1] == 2
    late_past = (state == 1) & prev_break & ~scheme_emp & (rng.random((n, h)) < 0.5)
    # the current year
    jan1 = _days(date(year, 1, 1))
    last_break = state[:, -1] == 2
    late = ~is_emp & ~newborn & (rng.random(n) < np.where(last_break, 0.5, LATE_ENROLMENT))
    late_day = jan1 + 31 + (rng.random(n) * 300).astype(np.int64)  # February … November
    begin = np.where(newborn, brdy, np.where(late, late_day, jan1))
    return {"years": years, "state": state, "zero": zero, "late_past": late_past, "late": late,
            "current_begin": begin, "brdy": brdy, "birth_year": birth_year}  # fmt: skip


def _insu_frame(
    history: dict[str, Any], psn_no: pl.Series, is_emp: Bool, death: I64, dies: Bool, begin: I64
) -> pl.DataFrame:
    state: npt.NDArray[np.int8] = history["state"]
    years: I64 = history["years"]
    brdy: I64 = history["brdy"]
    birth_year: I64 = history["birth_year"]
    n, h = state.shape
    person, col = np.nonzero((state == 1) | (state == 3))  # row-major: by person, then year
    y = years[col]
    start = _year_start(y)
    late_day = start + 31 + ((person * 7919 + col * 104729) % 300)  # a fixed day Feb–Nov; no extra draw
    past_begin = np.where(
        birth_year[person] == y, brdy[person], np.where(history["late_past"][person, col], late_day, start)
    )
    past = pl.DataFrame(
        {
            "i": person.astype(np.int64),
            "k": col.astype(np.int64),
            "begndate": _dates(past_begin, "begndate"),
            "enddate": _dates(_year_start(y + 1) - 1, "enddate"),
            "in_window": _flag(~history["late_past"][person, col] & (state[person, col] != 3)),
            "repaid": _flag(state[person, col] == 3),
            "zero_claim": _pick(
                ("0", "1", ""), np.where(state[person, col] == 3, 2, history["zero"][person, col])
            ),
        }
    )
    idx = np.arange(n, dtype=np.int64)
    current = pl.DataFrame(
        {
            "i": idx,
            "k": np.full(n, h, dtype=np.int64),
            "begndate": _dates(begin, "begndate"),
            "enddate": _with_nulls(death, dies, "enddate"),
            "in_window": _flag(~history["late"]),
            "repaid": _pick(("0",), np.zeros(n, dtype=np.int64)),
            "zero_claim": _pick(("",), np.zeros(n, dtype=np.int64)),
        }
    )
    frame = pl.concat([past, current]).sort("i", "k")
    insutype = _flag(is_emp, "310", "390")
    return frame.select(
        psn_no.gather(frame.get_column("i")).alias("psn_no"),
        insutype.gather(frame.get_column("i")).alias("insutype"),
        "begndate",
        "enddate",
        "in_window",
        "repaid",
        "zero_claim",
    )


# ---------------------------------------------------------------------------------------------
# Contributions (contribution_d)
# ---------------------------------------------------------------------------------------------


def _wage_base(rng: np.random.Generator, kind: npt.NDArray[np.int8], age: I64) -> I64:
    """Monthly contribution base in whole yuan: a log-normal wage (mean ≈ the average; public units
    higher, a peak in mid-career) within 60–300 % of the average; some enterprises declare the floor."""
    n = len(kind)
    sigma = 0.55
    career = 1.0 + 0.25 * np.exp(-(((age - 45) / 12.0) ** 2)) - 0.1
    mean = AVERAGE_WAGE * np.where(kind == KIND_PUBLIC, 1.10, 0.85) * career
    wage = rng.lognormal(np.log(mean) - sigma**2 / 2, sigma)
    floor = AVERAGE_WAGE * BASE_FLOOR_BP // 10_000
    cap = AVERAGE_WAGE * BASE_CAP_BP // 10_000
    base = np.clip(np.floor(wage), floor, cap).astype(np.int64)
    at_floor = (kind == KIND_ENTERPRISE) & (rng.random(n) < FLOOR_DECLARED_ENTERPRISE)
    return np.where(at_floor, floor, base)


def _monthly(months: I64) -> tuple[I64, I64]:
    """Expand people with ``months[i]`` monthly rows: (person index, month 1…) per row."""
    person = np.repeat(np.arange(len(months), dtype=np.int64), months)
    starts = np.repeat(np.cumsum(months) - months, months)
    return person, np.arange(len(person), dtype=np.int64) - starts + 1


def _contributions(
    rng: np.random.Generator,
    *,
    year: int,
    psn_no: pl.Series,
    emp_no: pl.Series,
    kind: npt.NDArray[np.int8],
    retired: Bool,
    age0: I64,
    has_account: Bool,
    idet: I64,
    begin: I64,
    death: I64,
    dies: Bool,
) -> pl.DataFrame:
    n = len(kind)
    last_month = np.where(dies, _month_of(death), 12)
    base = _wage_base(rng, kind, age0)
    flex_base = AVERAGE_WAGE * np.where(rng.random(n) < 0.8, BASE_FLOOR_BP, 10_000) // 10_000
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    parts: list[dict[str, Any]] = []

    def rows(
        sel: Bool, clct_type: str, amount: I64, to_account: I64, monthly: bool, month: I64 | None = None
    ) -> None:
        who = np.flatnonzero(sel)
        if monthly:
            p, m = _monthly(last_month[who])
            person = who[p]
        else:
            person = who
            m = month[who] if month is not None else np.ones(len(who), dtype=np.int64)
        parts.append({"i": person, "m": m, "t": np.full(len(person), int(clct_type), dtype=np.int64),
                      "amount": amount[person], "to_account": to_account[person]})  # fmt: skip

    zero = np.zeros(n, dtype=np.int64)
    unit = ((kind == KIND_ENTERPRISE) | (kind == KIND_PUBLIC)) & ~retired
    employer = round_div_array(base * 100 * EMPLOYER_RATE_BP, 10_000)
    employee = round_div_array(base * 100 * EMPLOYEE_RATE_BP, 10_000)
    rows(unit, "1", employer, zero, True)
    rows(unit, "2", employee, employee, True)
    flex = (kind == KIND_FLEXIBLE) & ~retired
    flex_amount = round_div_array(flex_base * 100 * FLEXIBLE_RATE_BP, 10_000)
    flex_account = np.where(has_account, round_div_array(flex_base * 100 * FLEXIBLE_ACCOUNT_BP, 10_000), 0)
    rows(flex, "5", flex_amount, flex_account, True)
    credit = np.where(age0 >= 70, RETIREE_CREDIT_FEN[1], RETIREE_CREDIT_FEN[0]).astype(np.int64)
    rows(retired & has_account, "6", credit, credit, True)
    # residents: one premium and one subsidy for the year, credited in the month enrolment starts
    res = kind == KIND_RESIDENT
    start_month = np.where(begin >= _days(date(year, 1, 1)), _month_of(begin), 1)
    share_bp = np.zeros(n, dtype=np.int64)
    for k, code in enumerate(_IDET_LABELS):
        share_bp[idet == k] = ASSISTANCE_PREMIUM_BP.get(code, 0)
    aid = round_div_array(np.full(n, RESIDENT_PREMIUM_FEN, dtype=np.int64) * share_bp, 10_000)
    own = RESIDENT_PREMIUM_FEN - aid
    rows(res & (own > 0), "2", own, zero, False, start_month)
    rows(res, "3", np.full(n, RESIDENT_SUBSIDY_FEN, dtype=np.int64), zero, False, start_month)
    rows(res & (aid > 0), "4", aid, zero, False, start_month)

    frame = pl.DataFrame(
        {
            "i": np.concatenate([p["i"] for p in parts]),
            "m": np.concatenate([p["m"] for p in parts]),
            "t": np.concatenate([p["t"] for p in parts]),
            "amount": np.concatenate([p["amount"] for p in parts]).astype(np.int64),
            "to_account": np.concatenate([p["to_account"] for p in parts]).astype(np.int64),
        }
    ).sort("i", "m", "t")
    insutype = _flag(kind == KIND_RESIDENT, "390", "310")
    emp = emp_no
    month_text = pl.Series(months)
    i = frame.get_column("i")
    return pl.DataFrame(
        {
            "psn_no": psn_no.gather(i),
            "emp_no": emp.gather(i),
            "insutype": insutype.gather(i),
            "clct_month": month_text.gather(frame.get_column("m") - 1),
            "clct_type": _pick(("0", "1", "2", "3", "4", "5", "6"), frame.get_column("t").to_numpy()),
            "amount": frame.get_column("amount"),
            "to_account": frame.get_column("to_account"),
        }
    )
