"""Fund accounts: income, spending, current and cumulative balance, months payable, budget execution.

All money is integer fen; every ratio is a :class:`fractions.Fraction` of two integers, rounded only when
shown (:func:`yibao.stats.fmt.dec`).

**Funds.** Leaves, each with its own income and spending:

==================  ===========================  ===========================================================
key                 fund                         income (contribution_d / budget.yaml) · spending (setl_d)
==================  ===========================  ===========================================================
employee_basic      职工统筹基金（不含大额）       单位缴费、个人缴费、灵活就业缴费 (insutype 310) minus the part
                                                 credited to personal accounts (``to_account``), minus the
                                                 retirees' account credits (clct_type 6, a transfer), minus the
                                                 share allocated to 大额 · ``hifp_pay`` of insutype 310
large_amount        职工大额医疗费用补助           ``large_amount_share`` of the pooled income (+ insutype 330
                                                 contributions) · ``hifob_pay``
personal_account    职工个人账户                   every ``to_account`` (employees' 2 %, flexible workers' share,
                                                 retirees' credits) · ``acct_pay`` (家庭共济 included)
resident_basic      居民基本医保基金               个人缴费 + 财政补助 + 医疗救助资助参保 (insutype 390) minus the
                                                 大病 share · ``hifp_pay`` of insutype 390
serious_illness     城乡居民大病保险               ``serious_illness_share`` of resident income · ``hifmi_pay``
cvlserv             公务员医疗补助                 appropriation + insutype 320 contributions · ``cvlserv_pay``
assistance          医疗救助基金                   appropriation (budget.yaml) · ``maf_pay`` + premiums it paid
                                                 (clct_type 4)
maternity           生育保险基金                   insutype 510 contributions · ``hifp_pay`` of insutype 510
ltc                 长期护理保险基金               insutype 410 contributions · ``hifp_pay`` of insutype 410 or
                                                 med_type 9901
other               其他                           other contributions · ``hifes_pay``, ``oth_pay``, other pools
==================  ===========================  ===========================================================

and sums: employee_pool = employee_basic + large_amount (the bulletin's 职工统筹基金); employee =
employee_pool + personal_account (职工医保基金); resident = resident_basic + serious_illness (居民医保基金);
pooled = employee_pool + resident (统筹基金); total = employee + resident + maternity (基本医保基金总计, the
bulletin's totals include 生育保险). Medical assistance, the civil-servant subsidy and long-term care are
reported beside them, as in the bulletin.

**Months payable** (可支付月数) = cumulative balance ÷ (spending of the period ÷ months of the period); the
德州 resident figure 23.05 ÷ (26.16 / 6) = 5.3 (statistics.md §2.1):

>>> from fractions import Fraction
>>> m = months_payable(230_500_000_000, 261_600_000_000, 6)
>>> m, f"{float(m):.2f}"
(Fraction(2305, 436), '5.29')

**Budget execution** = actual ÷ budget, for income and for spending (the source of the 54.81 % does not
say which: statistics.md §2.1): ``execution(26.16亿, 47.73亿)`` = 54.81 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from yibao.money import Ratio, mul_ratio, round_div
from yibao.policy.loader import Policy, load_region
from yibao.policy.parameters import PolicyError
from yibao.stats.data import Frames, load

__all__ = [
    "FUNDS",
    "SUMS",
    "Budget",
    "FundRow",
    "execution",
    "fund_accounts",
    "growth",
    "implied_previous",
    "load_budget",
    "months_payable",
]

FUNDS: dict[str, str] = {
    "employee_basic": "职工统筹基金（不含大额）",
    "large_amount": "职工大额医疗费用补助",
    "personal_account": "职工个人账户",
    "resident_basic": "居民基本医保基金（不含大病）",
    "serious_illness": "城乡居民大病保险",
    "cvlserv": "公务员医疗补助",
    "assistance": "医疗救助基金",
    "maternity": "生育保险基金",
    "ltc": "长期护理保险基金",
    "other": "其他基金",
}
"""Leaf funds and their names."""

SUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "employee_pool": ("职工统筹基金（含大额）", ("employee_basic", "large_amount")),
    "employee": ("职工医保基金", ("employee_pool", "personal_account")),
    "resident": ("居民医保基金（含大病保险）", ("resident_basic", "serious_illness")),
    "pooled": ("统筹基金合计", ("employee_pool", "resident")),
    "total": ("基本医保基金合计（含生育）", ("employee", "resident", "maternity")),
}
"""Aggregate funds: name and parts (in this order, so parts come before their sums)."""

_BASE = {  # whose head count scales a per-insured budget
    "employee_basic": "employee", "large_amount": "employee", "personal_account": "employee",
    "employee_pool": "employee", "employee": "employee", "cvlserv": "employee",
    "resident_basic": "resident", "serious_illness": "resident", "resident": "resident",
    "assistance": "all", "maternity": "maternity", "ltc": "ltc", "other": "all", "pooled": "all", "total": "all",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------------------------


def months_payable(balance: int, spending: int, months: int) -> Fraction | None:
    """可支付月数 = balance ÷ (spending ÷ months), exactly; None when nothing was spent."""
    if spending <= 0 or months <= 0:
        return None
    return Fraction(balance * months, spending)


def execution(actual: int, budget: int | None) -> Fraction | None:
    """预算执行率 = actual ÷ budget; None without a (positive) budget.

    >>> round(float(execution(2616, 4773)) * 100, 2)
    54.81
    """
    if budget is None or budget <= 0:
        return None
    return Fraction(actual, budget)


def growth(current: int | Fraction, previous: int | Fraction | None) -> Fraction | None:
    """Year-on-year growth (current − previous) ÷ previous; None without a (non-zero) previous value.

    >>> growth(238, 100)
    Fraction(69, 50)
    """
    if previous is None or previous == 0:
        return None
    return (Fraction(current) - Fraction(previous)) / abs(Fraction(previous))


def implied_previous(current: int | Fraction, rate: Fraction) -> Fraction:
    """The previous value implied by a value and its growth rate: v ÷ (1 + g) (statistics.md §2.2).

    >>> round(float(implied_previous(Fraction("2.38"), Fraction("0.8470"))), 4)
    1.2886
    """
    return Fraction(current) / (1 + rate)


# ---------------------------------------------------------------------------------------------
# Budget (policy data: budget.yaml)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """The budget parameters of a region for one year, already scaled to fen for the region."""

    region: str
    on: date
    basis: str
    opening: Mapping[str, int]
    income: Mapping[str, int]
    expenditure: Mapping[str, int]
    appropriation: Mapping[str, int]
    serious_illness_share: Ratio
    large_amount_share: Ratio
    references: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def empty(region: str = "", on: date | None = None) -> Budget:
        return Budget(region, on or date.today(), "absolute", {}, {}, {}, {}, Ratio(0, 1), Ratio(0, 1))


def load_budget(
    heads: Mapping[str, int], on: date, *, region: str = "990100", policy: Policy | None = None
) -> Budget:
    """Read ``budget.*`` of the region on ``on``; ``heads`` (employee, resident, all, maternity, ltc →
    insured persons) scale a ``per_insured`` budget. A region without budget.yaml gets an empty budget."""
    if policy is None:
        try:
            policy = load_region(region)
        except PolicyError:
            return Budget.empty(region, on)
    if not any(name.startswith("budget.") for name in policy.parameters):
        return Budget.empty(region, on)
    refs: dict[str, str] = {}

    def read(name: str, default: Any = None) -> Any:
        if not policy.has(f"budget.{name}"):
            return default
        try:
            value, r = policy.param(f"budget.{name}").at(on)
        except PolicyError:  # not in force on that date
            return default
        refs[name] = r.reference
        return value

    basis = str(read("basis", "absolute"))
    groups: dict[str, dict[str, int]] = {"opening": {}, "income": {}, "expenditure": {}, "appropriation": {}}
    for full in sorted(policy.parameters):
        if not full.startswith("budget."):
            continue
        name = full[len("budget.") :]
        prefix, _, fund = name.partition("_")
        if prefix not in groups or fund not in (*FUNDS, *SUMS):
            continue
        fen = read(name)
        if not isinstance(fen, int) or isinstance(fen, bool):
            continue
        if basis == "per_insured":
            fen *= heads.get(_BASE[fund], 0)
        groups[prefix][fund] = fen
    share = read("serious_illness_share", Ratio(0, 1))
    large = read("large_amount_share", Ratio(0, 1))
    return Budget(
        region=policy.region.admdvs, on=on, basis=basis, opening=groups["opening"], income=groups["income"],
        expenditure=groups["expenditure"], appropriation=groups["appropriation"], serious_illness_share=share,
        large_amount_share=large, references=refs,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundRow:
    """One fund's account for the period (fen)."""

    key: str
    name: str
    income: int
    expenditure: int
    opening: int
    months: int
    income_parts: Mapping[str, int] = field(default_factory=dict)
    expenditure_parts: Mapping[str, int] = field(default_factory=dict)
    budget_income: int | None = None
    budget_expenditure: int | None = None
    parts: tuple[str, ...] = ()
    previous: Mapping[str, int] | None = None

    @property
    def current(self) -> int:
        """当期结存 = income − spending."""
        return self.income - self.expenditure

    @property
    def cumulative(self) -> int:
        """累计结存 = opening balance + current balance."""
        return self.opening + self.current

    @property
    def months_payable(self) -> Fraction | None:
        return months_payable(self.cumulative, self.expenditure, self.months)

    @property
    def income_execution(self) -> Fraction | None:
        return execution(self.income, self.budget_income)

    @property
    def expenditure_execution(self) -> Fraction | None:
        return execution(self.expenditure, self.budget_expenditure)

    def yoy(self, what: str) -> Fraction | None:
        """Growth of income / expenditure / current / cumulative against the previous year's figures."""
        if not self.previous or what not in self.previous:
            return None
        return growth(int(getattr(self, what)), self.previous[what])

    @property
    def present(self) -> bool:
        return bool(self.income or self.expenditure or self.opening)


def _contrib_sums(contrib: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    g = contrib.group_by("insutype", "clct_type").agg(pl.col("amount").sum(), pl.col("to_account").sum())
    return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in g.iter_rows()}


_EMPLOYEE_TYPES = ("310",)
_RESIDENT_TYPES = ("390", "391", "380")
_CLCT = {"1": "单位缴费", "2": "个人缴费", "3": "财政补助", "4": "医疗救助资助参保", "5": "灵活就业缴费", "6": "个人账户划入"}


def heads(frames: Frames) -> dict[str, int]:
    """Insured persons by budget base: employee, resident, all, maternity (510), ltc (410)."""
    ins = frames.psn.get_column("insutype")
    out = {
        "employee": int(ins.is_in(["310"]).sum()),
        "resident": int(ins.is_in(list(_RESIDENT_TYPES)).sum()),
        "all": frames.psn.height,
    }
    for key, code in (("maternity", "510"), ("ltc", "410")):
        n = 0
        if frames.insu is not None:
            n = frames.insu.filter(pl.col("insutype") == code).get_column("psn_no").n_unique()
        out[key] = int(n)
    return out


def fund_accounts(
    dataset: Path | str | Frames,
    *,
    budget: Budget | None = None,
    previous: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, FundRow]:
    """Every fund's account for the dataset's period, leaves first, then sums (see the module doc).

    ``previous`` maps fund keys to last year's ``income`` / ``expenditure`` / ``current`` /
    ``cumulative`` (fen) for the year-on-year change.
    """
    frames = dataset if isinstance(dataset, Frames) else load(dataset)
    if budget is None:
        budget = load_budget(heads(frames), date(frames.year, 1, 1), region=frames.region)
    c = _contrib_sums(frames.contrib)
    months = frames.months

    def amount(types: tuple[str, ...], clct: tuple[str, ...] | None = None, to_account: bool = False) -> int:
        return sum(v[1] if to_account else v[0] for (t, k), v in c.items() if t in types and (clct is None or k in clct))

    # employee: everything collected for insutype 310, split pool / account; clct 6 moves pool → account
    emp_inc: dict[str, int] = {}
    for k in sorted({k for (t, k) in c if t in _EMPLOYEE_TYPES and k != "6"}):
        emp_inc[_CLCT.get(k, f"类型{k}")] = amount(_EMPLOYEE_TYPES, (k,)) - amount(_EMPLOYEE_TYPES, (k,), True)
    retiree_credit = amount(_EMPLOYEE_TYPES, ("6",), True)
    pool_raw = sum(emp_inc.values()) - retiree_credit
    large = mul_ratio(pool_raw, budget.large_amount_share) if pool_raw > 0 else 0
    basic_parts = {**emp_inc, "划入个人账户（退休人员）": -retiree_credit, "划入大额医疗费用补助": -large}
    acct_parts = {
        f"{_CLCT.get(k, k)}划入": amount(_EMPLOYEE_TYPES, (k,), True)
        for k in sorted({k for (t, k) in c if t in _EMPLOYEE_TYPES and k != "6"})
    }
    acct_parts["统筹基金划入（退休人员）"] = retiree_credit
    res_parts = {_CLCT.get(k, f"类型{k}"): amount(_RESIDENT_TYPES, (k,)) for k in sorted({k for (t, k) in c if t in _RESIDENT_TYPES})}
    res_raw = sum(res_parts.values())
    serious = mul_ratio(res_raw, budget.serious_illness_share) if res_raw > 0 else 0
    premiums_aided = amount(_RESIDENT_TYPES, ("4",))
    known = {*_EMPLOYEE_TYPES, *_RESIDENT_TYPES, "330", "392", "320", "510", "410"}

    s = frames.cube_sum
    not_ltc = ("outpatient", "chronic", "inpatient", "pharmacy", "other")
    spend = {
        "employee_basic": {"统筹基金支付": s("hifp_pay", scheme="employee", kind=not_ltc)},
        "large_amount": {"大额医疗费用补助支付": s("hifob_pay")},
        "personal_account": {"个人账户支付": s("acct_pay")},
        "resident_basic": {"统筹基金支付": s("hifp_pay", scheme="resident", kind=not_ltc)},
        "serious_illness": {"大病保险支付": s("hifmi_pay")},
        "cvlserv": {"公务员医疗补助支付": s("cvlserv_pay")},
        "assistance": {"医疗救助支付": s("maf_pay"), "资助参保": premiums_aided},
        "maternity": {"生育保险待遇支付": s("hifp_pay", scheme="maternity", kind=not_ltc)},
        "ltc": {"长期护理待遇支付": s("hifp_pay", kind="ltc") + s("hifp_pay", scheme="ltc", kind=not_ltc)},
        "other": {
            "企业补充医疗保险": s("hifes_pay"),
            "其他基金支付": s("oth_pay"),
            "其他险种统筹支付": s("hifp_pay", scheme="other", kind=not_ltc),
        },
    }
    income = {
        "employee_basic": basic_parts,
        "large_amount": {"统筹基金划入": large, "单独缴费": amount(("330",))},
        "personal_account": acct_parts,
        "resident_basic": {**res_parts, "划入大病保险": -serious},
        "serious_illness": {"居民医保基金划入": serious, "单独缴费": amount(("392",))},
        "cvlserv": {"财政安排": budget.appropriation.get("cvlserv", 0), "缴费": amount(("320",))},
        "assistance": {"财政安排": budget.appropriation.get("assistance", 0)},
        "maternity": {"生育保险缴费": amount(("510",))},
        "ltc": {"长期护理保险缴费": amount(("410",))},
        "other": {"其他缴费": sum(v[0] for (t, _), v in c.items() if t not in known)},
    }
    prev = previous or {}
    rows: dict[str, FundRow] = {}
    for key, name in FUNDS.items():
        ip = {k: v for k, v in income[key].items() if v}
        ep = {k: v for k, v in spend[key].items() if v}
        rows[key] = FundRow(
            key=key, name=name, income=sum(ip.values()), expenditure=sum(ep.values()),
            opening=budget.opening.get(key, 0), months=months, income_parts=ip, expenditure_parts=ep,
            budget_income=budget.income.get(key), budget_expenditure=budget.expenditure.get(key),
            previous=prev.get(key),
        )  # fmt: skip
    for key, (name, parts) in SUMS.items():
        members = [rows[p] for p in parts]
        rows[key] = FundRow(
            key=key, name=name, income=sum(m.income for m in members), expenditure=sum(m.expenditure for m in members),
            opening=sum(m.opening for m in members), months=months,
            income_parts={m.name: m.income for m in members}, expenditure_parts={m.name: m.expenditure for m in members},
            budget_income=budget.income.get(key), budget_expenditure=budget.expenditure.get(key), parts=parts,
            previous=prev.get(key),
        )  # fmt: skip
    return rows


def with_previous(rows: Mapping[str, FundRow], previous: Mapping[str, Mapping[str, int]]) -> dict[str, FundRow]:
    """The same accounts with last year's figures attached (for year-on-year change)."""
    return {k: replace(r, previous=previous.get(k)) for k, r in rows.items()}


def previous_from_bulletin(doc: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Last year's fund figures (fen) from a bulletin.json written by :mod:`yibao.stats.bulletin`."""
    out: dict[str, dict[str, int]] = {}
    for row in doc.get("funds", {}).get("accounts", []):
        out[str(row["key"])] = {
            k: round_div(int(row[k] * 100), 1) for k in ("income", "expenditure", "current", "cumulative") if k in row
        }
    return out
