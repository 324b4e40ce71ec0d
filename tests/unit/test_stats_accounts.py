"""Fund accounts: the seed facts (德州 months payable, cross-province growth) and sums that must add up."""

from __future__ import annotations

import doctest
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.money import Ratio
from yibao.policy.loader import load_region
from yibao.stats import accounts, fmt
from yibao.stats.accounts import (
    FUNDS,
    SUMS,
    Budget,
    execution,
    fund_accounts,
    growth,
    implied_previous,
    load_budget,
    months_payable,
)
from yibao.stats.fmt import dec
from yibao.stats.sample import write_rows

YI = 100_000_000 * 100  # fen in 1亿元
WAN = 10_000


def yi(text: str) -> int:
    """亿元 as fen, exactly."""
    return int(Fraction(text) * YI)


# ---------------------------------------------------------------------------------------------
# statistics.md §2.1 — 德州, first half of 2025
# ---------------------------------------------------------------------------------------------


def test_dezhou_resident_months_payable_is_5_3() -> None:
    m = months_payable(yi("23.05"), yi("26.16"), 6)
    assert m == Fraction(2305 * 6, 2616)
    assert dec(m, 1) == fmt.Decimal("5.3")
    assert dec(m, 2) == fmt.Decimal("5.29")
    assert fmt.cn_months(dec(m, 6)) == "5.3个月"


def test_dezhou_employee_21_5_is_not_the_same_formula() -> None:
    # 50.47 ÷ (19.91 / 6) = 15.2; the reported 21.5 stays a reported value (statistics.md §2.1)
    m = months_payable(yi("50.47"), yi("19.91"), 6)
    assert dec(m, 1) == fmt.Decimal("15.2")
    assert dec(m, 1) != fmt.Decimal("21.5")


def test_dezhou_totals_add_up() -> None:
    assert yi("23.49") + yi("15.37") == yi("38.86")
    assert yi("19.91") + yi("26.16") == yi("46.07")
    assert yi("50.47") + yi("23.05") == yi("73.52")
    assert yi("23.49") - yi("19.91") == yi("3.58")  # employee current balance


def test_budget_execution_54_81_percent() -> None:
    # if the rate refers to spending, the annual budget is 26.16 / 0.5481 = 47.73亿
    assert dec(execution(yi("26.16"), yi("47.73")), 4) == fmt.Decimal("0.5481")
    assert fmt.cn_pct(dec(execution(yi("26.16"), yi("47.73")), 6), 2) == "54.81%"
    assert execution(1, None) is None and execution(1, 0) is None


def test_months_payable_without_spending_is_none() -> None:
    assert months_payable(100, 0, 12) is None
    assert months_payable(100, 50, 0) is None


# ---------------------------------------------------------------------------------------------
# statistics.md §2.2 — cross-province direct settlement 2024 against the implied 2023 values
# ---------------------------------------------------------------------------------------------

# item: (2024 value, growth %, implied 2023 printed in statistics.md, places)
CROSS_PROVINCE = {
    "person_times_yi": ("2.38", "84.70", "1.2886", 4),
    "inpatient_wan": ("1433.56", "27.37", "1125.51", 2),
    "general_outpatient_yi": ("1.56", "80.95", "0.8621", 4),
    "chronic_wan": ("909.65", "174.81", "331.01", 2),
    "pharmacy_wan": ("5945.08", "108.16", "2856.01", 2),
    "advance_yi": ("1947.25", "26.71", "1536.78", 2),
    "advance_inpatient_yi": ("1586.73", "17.43", "1351.21", 2),
    "advance_outpatient_yi": ("198.50", "69.49", "117.12", 2),
    "advance_chronic_yi": ("93.0", "177.49", "33.51", 2),
    "advance_pharmacy_yi": ("69.01", "98.02", "34.85", 2),
    "institutions_wan": ("64.40", "16.99", "55.05", 2),
    "filings_wan": ("1172.97", "45.85", "804.23", 2),
}


def _implied(item: str) -> Fraction:
    v, g, _, _ = CROSS_PROVINCE[item]
    return implied_previous(Fraction(v), Fraction(g) / 100)


@pytest.mark.parametrize("item", sorted(CROSS_PROVINCE))
def test_implied_2023_values(item: str) -> None:
    v, g, printed, places = CROSS_PROVINCE[item]
    assert dec(_implied(item), places) == fmt.Decimal(printed)
    # and growth() inverts implied_previous() exactly
    assert growth(Fraction(v), _implied(item)) == Fraction(g) / 100


def test_implied_2023_matches_the_official_2023_figures() -> None:
    # W4: 1.29亿人次, 1125.48万 inpatient, 331万 chronic, 1536.74亿 avoided, 55.04万 institutions
    for item, official, tol in (
        ("person_times_yi", "1.29", "0.005"),
        ("inpatient_wan", "1125.48", "0.05"),
        ("chronic_wan", "331", "0.5"),
        ("advance_yi", "1536.74", "0.05"),
        ("advance_inpatient_yi", "1351.26", "0.06"),
        ("advance_chronic_yi", "33.52", "0.02"),
        ("institutions_wan", "55.04", "0.02"),
    ):
        assert abs(_implied(item) - Fraction(official)) <= Fraction(tol), item


def test_component_sums_2023() -> None:
    # outpatient person-times 2023: 普通 + 慢特病 + 药店 = 1.1808亿 vs W4's 1.18亿
    outpatient = _implied("general_outpatient_yi") + (_implied("chronic_wan") + _implied("pharmacy_wan")) / WAN
    assert dec(outpatient, 4) == fmt.Decimal("1.1808")
    assert dec(outpatient, 2) == fmt.Decimal("1.18")
    # outpatient money 2023: 117.12 + 33.51 + 34.85 = 185.48亿, exactly W4's figure
    money = sum(dec(_implied(k), 2) for k in ("advance_outpatient_yi", "advance_chronic_yi", "advance_pharmacy_yi"))
    assert money == fmt.Decimal("185.48")


def test_component_sums_reproduce_the_headline_growth() -> None:
    parts = ("inpatient_wan", "general_outpatient_yi", "chronic_wan", "pharmacy_wan")

    def in_yi(item: str, value: Fraction) -> Fraction:
        return value / WAN if item.endswith("_wan") else value

    now = sum(in_yi(k, Fraction(CROSS_PROVINCE[k][0])) for k in parts)
    before = sum(in_yi(k, _implied(k)) for k in parts)
    assert dec(now, 4) == fmt.Decimal("2.3888")
    assert dec(growth(now, before), 4) == fmt.Decimal("0.8470")  # the stated +84.70%
    money_parts = ("advance_inpatient_yi", "advance_outpatient_yi", "advance_chronic_yi", "advance_pharmacy_yi")
    money_now = sum(Fraction(CROSS_PROVINCE[k][0]) for k in money_parts)
    money_before = sum(_implied(k) for k in money_parts)
    assert money_now == Fraction("1947.24")  # vs the headline 1947.25 (rounding)
    assert dec(growth(money_now, money_before), 4) == fmt.Decimal("0.2672")  # vs the stated 26.71%: ≤ 0.01 pp
    assert abs(growth(money_now, money_before) - Fraction("0.2671")) <= Fraction("0.0001")


def test_growth_edge_cases() -> None:
    assert growth(5, None) is None and growth(5, 0) is None
    assert growth(-50, -100) == Fraction(1, 2)  # a deficit halved is a rise


# ---------------------------------------------------------------------------------------------
# National 2024 balance identities (statistics.md §1 B)
# ---------------------------------------------------------------------------------------------


def test_national_balance_identities() -> None:
    assert yi("17342.45") - yi("13222.71") == yi("4119.74")  # 4119.75 printed: rounding of the inputs
    assert yi("4119.75") + yi("519.42") == yi("4639.17")
    assert yi("30445.50") + yi("8183.02") == yi("38628.52")
    assert yi("38628.52") + yi("14471.75") == yi("53100.27")
    assert yi("17342.45") + yi("6390.01") == yi("23732.46")  # employee fund 23732.47 (±0.01)
    assert yi("34913.37") - yi("29764.03") == yi("5149.34")


# ---------------------------------------------------------------------------------------------
# Budget (budget.yaml)
# ---------------------------------------------------------------------------------------------


def test_demo_budget_is_per_insured_and_scaled() -> None:
    heads = {"employee": 3, "resident": 2, "all": 5, "maternity": 0, "ltc": 0}
    b = load_budget(heads, date(2024, 6, 1), region="990100")
    assert b.basis == "per_insured"
    assert b.opening["employee_basic"] == 693726 * 3
    assert b.opening["resident_basic"] == 80913 * 2
    assert b.expenditure["resident"] == 112565 * 2
    assert b.appropriation["assistance"] == 5972 * 5
    assert b.serious_illness_share == Ratio.of("0.07")
    assert b.references["expenditure_resident"].startswith("2024 national")


def test_budget_before_its_first_date_is_empty() -> None:
    b = load_budget({"employee": 3}, date(2023, 1, 1), region="990100")
    assert b.basis == "absolute" and not b.opening and b.serious_illness_share == Ratio(0, 1)


def test_every_budget_parameter_names_a_fund() -> None:
    policy = load_region("990100")
    names = [n for n in policy.parameters if n.startswith("budget.")]
    assert names
    for n in names:
        key = n.removeprefix("budget.")
        prefix, _, fund = key.partition("_")
        if prefix in ("opening", "income", "expenditure", "appropriation"):
            assert fund in FUNDS or fund in SUMS, n
        else:
            assert key in ("basis", "serious_illness_share", "large_amount_share"), n


def test_region_without_budget_gets_an_empty_one(tmp_path: Path) -> None:
    folder = tmp_path / "regions" / "990999"
    folder.mkdir(parents=True)
    (folder / "region.yaml").write_text('admdvs: "990999"\nname: t\nsynthetic: true\n', encoding="utf-8")
    b = load_budget({"all": 1}, date(2024, 1, 1), policy=load_region(folder, cache=False))
    assert b.basis == "absolute" and not b.opening and not b.expenditure
    assert b.serious_illness_share == Ratio(0, 1)


# ---------------------------------------------------------------------------------------------
# Accounts of a small hand-made dataset
# ---------------------------------------------------------------------------------------------


def _dataset(folder: Path) -> None:
    write_rows(folder, "psn_info_b", [
        {"psn_no": "E1", "insutype": "310", "psn_type": "1101", "insuplc_admdvs": "990100", "emp_no": "C1"},
        {"psn_no": "E2", "insutype": "310", "psn_type": "1201", "insuplc_admdvs": "990100", "emp_no": "C1"},
        {"psn_no": "F1", "insutype": "310", "psn_type": "1103", "insuplc_admdvs": "990100", "emp_no": "FX"},
        {"psn_no": "R1", "insutype": "390", "psn_type": "1501", "insuplc_admdvs": "990100", "psn_idet_type": "2302"},
        {"psn_no": "R2", "insutype": "390", "psn_type": "1403", "insuplc_admdvs": "990100"},
    ])  # fmt: skip
    write_rows(folder, "fixmedins_b", [
        {"fixmedins_code": "H3", "fixmedins_type": "1", "hosp_lv": "01", "admdvs": "990100"},
        {"fixmedins_code": "H2", "fixmedins_type": "1", "hosp_lv": "05", "admdvs": "990100"},
        {"fixmedins_code": "P1", "fixmedins_type": "2", "hosp_lv": "", "admdvs": "990100"},
    ])  # fmt: skip
    c = [
        *({"psn_no": "E1", "insutype": "310", "clct_month": m, "clct_type": "1", "amount": 70000} for m in ("2024-01", "2024-02")),
        *({"psn_no": "E1", "insutype": "310", "clct_month": m, "clct_type": "2", "amount": 20000, "to_account": 20000}
          for m in ("2024-01", "2024-02")),
        {"psn_no": "F1", "insutype": "310", "clct_month": "2024-01", "clct_type": "5", "amount": 90000, "to_account": 20000},
        {"psn_no": "E2", "insutype": "310", "clct_month": "2024-01", "clct_type": "6", "amount": 10000, "to_account": 10000},
        {"psn_no": "R1", "insutype": "390", "clct_month": "2024-01", "clct_type": "3", "amount": 67000},
        {"psn_no": "R1", "insutype": "390", "clct_month": "2024-01", "clct_type": "4", "amount": 40000},
        {"psn_no": "R2", "insutype": "390", "clct_month": "2024-01", "clct_type": "2", "amount": 40000},
        {"psn_no": "R2", "insutype": "390", "clct_month": "2024-01", "clct_type": "3", "amount": 67000},
    ]  # fmt: skip
    write_rows(folder, "contribution_d", c)
    t = datetime(2024, 1, 10)
    write_rows(folder, "mdtrt_d", [{"mdtrt_id": f"M{i}", "begntime": t, "endtime": t} for i in range(1, 6)])
    money = ("medfee_sumamt", "fulamt_ownpay_amt", "inscp_scp_amt", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay",
             "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")  # fmt: skip
    rows = [  # mdtrt, psn, insutype, med_type, inst, month, then the money fields in that order
        ("M1", "E1", "310", "11", "H2", 1, (10000, 1000, 9000, 4500, 0, 0, 0, 4500, 5500, 5500, 0)),
        ("M2", "E2", "310", "21", "H3", 3, (1000000, 60000, 940000, 712000, 30000, 0, 0, 742000, 258000, 100000, 158000)),
        ("M3", "R1", "390", "21", "H2", 5, (500000, 0, 500000, 368000, 0, 0, 50000, 418000, 82000, 0, 82000)),
        ("M4", "R2", "390", "41", "P1", 12, (20000, 0, 20000, 12000, 0, 2000, 0, 14000, 6000, 3000, 3000)),
        ("M5", "E1", "310", "11", "H2", 6, (3000, 0, 3000, 1500, 0, 0, 0, 1500, 1500, 1500, 0)),
    ]
    setl = []
    for m, p, ins, med, inst, month, vals in rows:
        row = {"setl_id": f"S{m}", "mdtrt_id": m, "psn_no": p, "insutype": ins, "med_type": med, "fixmedins_code": inst,
               "setl_time": datetime(2024, month, 15), "refd_setl_flag": "0", **dict(zip(money, vals, strict=True))}  # fmt: skip
        setl.append(row)
    reversal = {**setl[-1], "setl_id": "SM5R", "refd_setl_flag": "1", **{k: -v for k, v in zip(money, rows[-1][-1], strict=True)}}
    setl.append(reversal)
    write_rows(folder, "setl_d", setl)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    _dataset(tmp_path)
    return tmp_path


def _budget() -> Budget:
    return Budget(
        region="t", on=date(2024, 1, 1), basis="absolute",
        opening={"employee_basic": 1_000_000, "personal_account": 50_000, "resident_basic": 200_000},
        income={}, expenditure={"resident": 2_000_000}, appropriation={"assistance": 100_000},
        serious_illness_share=Ratio.of("0.07"), large_amount_share=Ratio.of("0.03"),
    )  # fmt: skip


def test_income_from_contributions(tiny: Path) -> None:
    rows = fund_accounts(tiny, budget=_budget())
    # pool: 单位 140000 + 灵活就业 (90000 − 20000) − 退休划账 10000 = 200000; 3% to 大额
    assert rows["large_amount"].income == 6000
    assert rows["employee_basic"].income == 194000
    assert rows["employee_basic"].income_parts == {
        "单位缴费": 140000, "灵活就业缴费": 70000, "划入个人账户（退休人员）": -10000, "划入大额医疗费用补助": -6000,
    }  # fmt: skip
    assert rows["personal_account"].income == 40000 + 20000 + 10000
    # the employee scheme's income is every contribution but the clct_type 6 transfer
    assert rows["employee"].income == 140000 + 40000 + 90000
    # residents: premiums 40000 + subsidies 134000 + assistance-paid 40000; 7% to 大病保险
    assert rows["serious_illness"].income == 14980
    assert rows["resident_basic"].income == 214000 - 14980
    assert rows["resident"].income == 214000
    assert rows["assistance"].income == 100_000


def test_spending_from_settlements(tiny: Path) -> None:
    rows = fund_accounts(tiny, budget=_budget())
    assert rows["employee_basic"].expenditure == 4500 + 712000  # the reversed M5 nets out
    assert rows["large_amount"].expenditure == 30000
    assert rows["personal_account"].expenditure == 5500 + 100000 + 3000
    assert rows["resident_basic"].expenditure == 368000 + 12000
    assert rows["serious_illness"].expenditure == 2000
    assert rows["assistance"].expenditure == 50000 + 40000  # 救助 paid + premiums it paid
    assert rows["assistance"].expenditure_parts == {"医疗救助支付": 50000, "资助参保": 40000}


def test_balances_months_and_execution(tiny: Path) -> None:
    rows = fund_accounts(tiny, budget=_budget())
    r = rows["resident_basic"]
    assert r.current == r.income - r.expenditure
    assert r.cumulative == 200_000 + r.current
    assert r.months == 12  # January to December
    assert r.months_payable == Fraction(r.cumulative * 12, r.expenditure)
    res = rows["resident"]
    assert res.expenditure_execution == Fraction(382000, 2_000_000)
    assert res.income_execution is None  # no income budget
    assert not rows["maternity"].present and not rows["ltc"].present


def test_sums_add_up(tiny: Path) -> None:
    rows = fund_accounts(tiny, budget=_budget())
    for key, (_, parts) in SUMS.items():
        for what in ("income", "expenditure", "opening", "current", "cumulative"):
            assert getattr(rows[key], what) == sum(getattr(rows[p], what) for p in parts), (key, what)
    assert rows["total"].expenditure == sum(rows[k].expenditure for k in FUNDS if k not in ("cvlserv", "assistance", "ltc", "other"))


def test_year_on_year(tiny: Path) -> None:
    prev = {"resident": {"income": 200000, "expenditure": 400000}}
    rows = fund_accounts(tiny, budget=_budget(), previous=prev)
    assert rows["resident"].yoy("income") == Fraction(14000, 200000)
    assert rows["resident"].yoy("expenditure") == Fraction(382000 - 400000, 400000)
    assert rows["employee"].yoy("income") is None


def test_previous_from_bulletin_roundtrip() -> None:
    doc = {"funds": {"accounts": [{"key": "resident", "income": fmt.Decimal("1234.56"), "expenditure": fmt.Decimal("-0.01")}]}}
    assert accounts.previous_from_bulletin(doc) == {"resident": {"income": 123456, "expenditure": -1}}


@given(st.integers(0, 10**15), st.integers(1, 10**15), st.integers(1, 24))
def test_months_payable_is_exact(balance: int, spending: int, months: int) -> None:
    m = months_payable(balance, spending, months)
    assert m is not None
    assert m * spending == balance * months


def test_doctests() -> None:
    for mod in (accounts, fmt):
        assert doctest.testmod(mod).failed == 0


def test_maternity_and_long_term_care_when_present(tiny: Path) -> None:
    write_rows(tiny, "contribution_d", [
        {"psn_no": "E1", "insutype": "510", "clct_month": "2024-01", "clct_type": "1", "amount": 8000},
        {"psn_no": "E1", "insutype": "410", "clct_month": "2024-01", "clct_type": "1", "amount": 3000},
    ])  # fmt: skip
    write_rows(tiny, "setl_d", [
        {"setl_id": "SX1", "mdtrt_id": "MX1", "psn_no": "E1", "insutype": "510", "med_type": "52", "fixmedins_code": "H3",
         "setl_time": datetime(2024, 1, 5), "refd_setl_flag": "0", "medfee_sumamt": 9000, "hifp_pay": 6000,
         "fund_pay_sumamt": 6000, "psn_part_amt": 3000, "psn_cash_pay": 3000},
        {"setl_id": "SX2", "mdtrt_id": "MX2", "psn_no": "E2", "insutype": "310", "med_type": "9901", "fixmedins_code": "H2",
         "setl_time": datetime(2024, 12, 5), "refd_setl_flag": "0", "medfee_sumamt": 2000, "hifp_pay": 1500,
         "fund_pay_sumamt": 1500, "psn_part_amt": 500, "psn_cash_pay": 500},
    ])  # fmt: skip
    rows = fund_accounts(tiny, budget=_budget())
    assert rows["maternity"].income == 8000 and rows["maternity"].expenditure == 6000
    assert rows["ltc"].income == 3000 and rows["ltc"].expenditure == 1500  # med_type 9901 settles against the LTC fund
    assert rows["employee_basic"].expenditure == 0
    assert rows["total"].income == rows["employee"].income + rows["resident"].income + 8000
