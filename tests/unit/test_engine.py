"""The settlement engine, step by step, on the demo region 990100 with lines that state their class.

Amounts in the assertions are fen (``1000_00`` = 1,000.00 yuan). Lines state class, 先行自付 share and
price cap themselves, so no catalogue is needed except where the catalogue is the point.
"""

from __future__ import annotations

import doctest
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.catalog.model import Catalog, CatalogItem, Restriction
from yibao.money import Ratio, round_div
from yibao.policy.loader import load_region
from yibao.policy.parameters import PolicyError
from yibao.settlement import engine
from yibao.settlement.engine import SettlementError, line_splits, payable_at_level, settle, settle_totals
from yibao.settlement.model import (
    FEN_PER_PRICE_COUNT,
    Accumulators,
    Encounter,
    Enrollment,
    FeeLine,
    Person,
    Settlement,
)
from yibao.settlement.parse import parse_encounter, parse_fee_line, parse_person, parse_ytd

POLICY = load_region(Path(__file__).parents[1] / "fixtures" / "policy" / "engine_region")
ON = date(2025, 3, 1)
EMPLOYEE = Person("310", "1101", 45)
RETIREE = Person("310", "1201", 66)
CIVIL_SERVANT = Person("310", "1102", 40)
RESIDENT = Person("390", "1501", 40)


def ln(amount: str, lv: str = "01", prop: str | None = None, cap: str | None = None, cnt: str = "1",
       code: str = "T1") -> dict[str, Any]:  # fmt: skip
    """A line stating its class: ``amount`` is the unit price in yuan."""
    d: dict[str, Any] = {"med_list_codg": code, "chrgitm_lv": lv, "pric": amount, "cnt": cnt}
    if prop is not None:
        d["selfpay_prop"] = prop
    if cap is not None:
        d["pric_uplmt_amt"] = cap
    return d


def bill(med_type: str, hosp_lv: str, *lines: dict[str, Any], **kw: Any) -> Encounter:
    return parse_encounter({"med_type": med_type, "hosp_lv": hosp_lv, "lines": list(lines), **kw})


def run(encounter: Encounter, person: Person = EMPLOYEE, ytd: Accumulators | None = None, on: date = ON,
        **kw: Any) -> Settlement:  # fmt: skip
    s = settle(encounter, person, ytd or Accumulators(), POLICY, on, **kw)
    assert_identities(s)
    return s


def assert_identities(s: Settlement) -> None:
    assert s.medfee_sumamt == s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt
    assert (
        s.fund_pay_sumamt
        == s.hifp_pay + s.cvlserv_pay + s.hifes_pay + s.hifmi_pay + s.hifob_pay + s.maf_pay + s.oth_pay
    )
    assert s.psn_part_amt == s.medfee_sumamt - s.fund_pay_sumamt - s.hosp_part_amt
    assert s.psn_part_amt == s.acct_pay + s.psn_cash_pay
    assert sum(d.fund_payamt for d in s.setldetail) == s.fund_pay_sumamt + s.acct_pay
    for r in s.lines:
        assert (
            r.det_item_fee_sumamt == r.fulamt_ownpay_amt + r.overlmt_amt + r.preselfpay_amt + r.inscp_scp_amt
        )
    assert all(v >= 0 for v in s.money().values()), s.money()


def test_engine_doctests() -> None:
    assert doctest.testmod(engine).failed == 0


# ---------------------------------------------------------------------------------------------
# 1. 费用分割 — per-line split
# ---------------------------------------------------------------------------------------------


def test_a_class_c_line_is_all_self_pay() -> None:
    s = run(bill("11", "3", ln("88.88", lv="03", prop="0.2", cap="10")))
    (r,) = s.lines
    assert (r.fulamt_ownpay_amt, r.overlmt_amt, r.preselfpay_amt, r.inscp_scp_amt) == (88_88, 0, 0, 0)
    assert s.fulamt_ownpay_amt == s.medfee_sumamt == 88_88
    assert s.inscp_scp_amt == 0 and s.fund_pay_sumamt == 0


def test_a_class_a_line_is_all_in_scope() -> None:
    s = run(bill("11", "3", ln("23.50", cnt="2")))
    assert (s.medfee_sumamt, s.inscp_scp_amt, s.preselfpay_amt) == (47_00, 47_00, 0)
    assert s.lines[0].selfpay_prop == Ratio(0, 1)


def test_a_class_b_line_bears_its_preselfpay_share() -> None:
    s = run(bill("11", "3", ln("12.34", lv="02", prop="0.15")))
    (r,) = s.lines
    assert (r.preselfpay_amt, r.inscp_scp_amt) == (185, 1049)  # 185.1 fen rounds to 185


def test_preselfpay_is_rounded_per_line_half_up() -> None:
    # three lines of 0.05 yuan at 10 %: 0.5 fen each rounds up to 1 fen each (3), not 1.5 → 2 on the total
    s = run(bill("11", "3", *[ln("0.05", lv="02", prop="0.1", code=f"T{i}") for i in range(3)]))
    assert [r.preselfpay_amt for r in s.lines] == [1, 1, 1]
    assert (s.preselfpay_amt, s.inscp_scp_amt) == (3, 12)
    # 0.04 yuan at 10 % is 0.4 fen: rounds to 0
    assert run(bill("11", "3", ln("0.04", lv="02", prop="0.1"))).preselfpay_amt == 0


def test_a_price_above_the_cap_is_overlmt() -> None:
    s = run(bill("11", "3", ln("12.00", lv="02", prop="0.1", cap="10.00", cnt="3")))
    (r,) = s.lines
    assert r.det_item_fee_sumamt == 36_00
    assert r.overlmt_amt == 6_00  # (12 − 10) × 3
    assert (r.preselfpay_amt, r.inscp_scp_amt) == (3_00, 27_00)  # 10 % of the capped 30.00
    assert r.pric_uplmt_amt == 10_000000
    assert s.overlmt_selfpay == 6_00


def test_the_capped_amount_is_rounded_from_cap_times_count() -> None:
    # 1.555555 × 1.5 = 2.3333325 → 2.33; cap 1.00 × 1.5 = 1.50; over = 0.83
    s = run(bill("11", "3", ln("1.555555", cap="1", cnt="1.5")))
    assert (s.lines[0].det_item_fee_sumamt, s.overlmt_selfpay, s.inscp_scp_amt) == (2_33, 83, 1_50)


def test_a_price_at_or_below_the_cap_is_not_overlmt() -> None:
    assert run(bill("11", "3", ln("10.00", cap="10.00"))).overlmt_selfpay == 0
    assert run(bill("11", "3", ln("9.99", cap="10.00"))).overlmt_selfpay == 0


CATALOG = Catalog(
    [
        CatalogItem("XB001", "乙类药", "drug", "09", "02", Ratio.of("0.10"), {"3": 10_000000}),
        CatalogItem(
            "XF001", "限女性药", "drug", "09", "01", restriction=Restriction(gend="2", text="限女性")
        ),
        CatalogItem("XOLD", "已停用", "drug", "09", "01", enddate=date(2024, 12, 31)),
    ]
)


def test_the_catalogue_supplies_class_share_and_cap_per_hospital_level() -> None:
    line = {"med_list_codg": "XB001", "pric": "12.00", "cnt": "1"}
    at3 = run(bill("11", "3", line), catalog=CATALOG)
    assert (at3.overlmt_selfpay, at3.preselfpay_amt, at3.inscp_scp_amt) == (2_00, 1_00, 9_00)
    assert at3.lines[0].chrgitm_lv == "02" and at3.lines[0].med_chrgitm_type == "09"
    at2 = run(bill("11", "2", line), catalog=CATALOG)  # no cap at 二级
    assert (at2.overlmt_selfpay, at2.preselfpay_amt, at2.inscp_scp_amt) == (0, 1_20, 10_80)


def test_a_failed_restriction_makes_the_line_self_pay_with_a_memo() -> None:
    line = {"med_list_codg": "XF001", "pric": "30.00", "cnt": "1"}
    male = run(bill("21", "3", line), person=EMPLOYEE._replace(gend="1"), catalog=CATALOG)
    (r,) = male.lines
    assert (r.fulamt_ownpay_amt, r.inscp_scp_amt) == (30_00, 0)
    assert r.lmt_used_flag == "1"
    assert "限女性" in r.memo
    female = run(bill("21", "3", line), person=EMPLOYEE._replace(gend="2"), catalog=CATALOG)
    (r,) = female.lines
    assert (r.fulamt_ownpay_amt, r.inscp_scp_amt, r.lmt_used_flag, r.memo) == (0, 30_00, "1", "")


def test_an_unrestricted_catalogue_line_has_lmt_used_flag_0() -> None:
    s = run(bill("11", "2", {"med_list_codg": "XB001", "pric": "1", "cnt": "1"}), catalog=CATALOG)
    assert (s.lines[0].lmt_used_flag, s.lines[0].memo) == ("0", "")


def test_an_unknown_code_names_the_line() -> None:
    enc = bill("11", "3", ln("1"), {"med_list_codg": "NOPE", "pric": "1", "cnt": "1"})
    with pytest.raises(SettlementError, match="not in the catalogue") as info:
        settle(enc, EMPLOYEE, Accumulators(), POLICY, ON, catalog=CATALOG)
    assert info.value.field == "feedetail[1].med_list_codg"
    assert "'NOPE'" in str(info.value)


def test_a_code_out_of_force_names_the_line_and_date() -> None:
    enc = bill("11", "3", {"med_list_codg": "XOLD", "pric": "1", "cnt": "1"})
    with pytest.raises(SettlementError, match="not in force on 2025-03-01") as info:
        settle(enc, EMPLOYEE, Accumulators(), POLICY, ON, catalog=CATALOG)
    assert info.value.field == "feedetail[0].med_list_codg"
    run(enc, on=date(2024, 12, 31), catalog=CATALOG)  # still in force the day before


# ---------------------------------------------------------------------------------------------
# 2. 起付线 — deductible
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hosp_lv", "admissions", "expected"),
    [
        ("3", 0, 1000_00),
        ("3", 1, 500_00),
        ("3", 4, 500_00),
        ("2", 0, 500_00),
        ("2", 1, 250_00),
        ("1", 0, 200_00),
        ("1", 2, 100_00),
    ],
)
def test_the_inpatient_deductible_is_per_admission(hosp_lv: str, admissions: int, expected: int) -> None:
    s = run(bill("21", hosp_lv, ln("5000")), ytd=Accumulators(admissions=admissions))
    assert s.act_pay_dedc == expected == s.intermediates["deductible"]
    assert s.intermediates["admission"] == admissions + 1
    assert s.ytd.admissions == admissions + 1


def test_a_second_admission_bears_a_new_deductible_not_a_remainder() -> None:
    s = run(bill("21", "3", ln("5000")), ytd=Accumulators(admissions=1, ip_deductible_paid=1000_00))
    assert s.act_pay_dedc == 500_00
    assert s.ytd.ip_deductible_paid == 1500_00


def test_the_outpatient_deductible_is_an_annual_remainder() -> None:
    assert run(bill("11", "3", ln("500"))).act_pay_dedc == 200_00
    s = run(bill("11", "3", ln("500")), ytd=Accumulators(op_deductible_paid=150_00))
    assert s.act_pay_dedc == 50_00 and s.ytd.op_deductible_paid == 200_00
    assert run(bill("11", "3", ln("500")), ytd=Accumulators(op_deductible_paid=200_00)).act_pay_dedc == 0
    assert run(bill("11", "3", ln("500")), person=RETIREE).act_pay_dedc == 100_00
    assert run(bill("11", "3", ln("500")), person=RESIDENT).act_pay_dedc == 0


def test_pharmacy_shares_the_outpatient_deductible() -> None:
    s = run(bill("41", "1", ln("150")), ytd=Accumulators(op_deductible_paid=120_00))
    assert s.act_pay_dedc == 80_00 and s.ytd.op_deductible_paid == 200_00


def test_the_chronic_deductible_is_annual() -> None:
    s = run(bill("14", "2", ln("1000")), ytd=Accumulators(chronic_deductible_paid=100_00))
    assert s.act_pay_dedc == 200_00 and s.ytd.chronic_deductible_paid == 300_00


def test_the_deductible_is_at_most_the_in_scope_amount() -> None:
    s = run(bill("21", "3", ln("300"), ln("700", lv="03", code="T2")))
    assert (s.inscp_scp_amt, s.act_pay_dedc, s.hifp_pay) == (300_00, 300_00, 0)
    assert s.ytd.ip_deductible_paid == 300_00


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (RETIREE, 650_00),  # × 0.65
        (RESIDENT._replace(assistance="dibao"), 500_00),  # × 0.5
        (RESIDENT._replace(assistance="tekun"), 0),  # waived
        (RETIREE._replace(assistance="tekun"), 0),  # the assistance cell is more specific
        (RESIDENT._replace(assistance="fanpin"), 1000_00),
    ],
)
def test_the_deductible_factor(person: Person, expected: int) -> None:
    s = run(bill("21", "3", ln("5000")), person=person)
    assert s.act_pay_dedc == expected == s.intermediates["deductible"]


def test_the_inpatient_deductible_has_an_annual_cap() -> None:
    s = run(bill("21", "3", ln("5000")), ytd=Accumulators(admissions=3, ip_deductible_paid=1800_00))
    assert s.act_pay_dedc == 200_00  # 500 for a 4th admission, but only 200 left under the 2,000 cap
    assert s.ytd.ip_deductible_paid == 2000_00
    s = run(bill("21", "3", ln("5000")), ytd=Accumulators(admissions=4, ip_deductible_paid=2000_00))
    assert s.act_pay_dedc == 0


# ---------------------------------------------------------------------------------------------
# 3. 统筹基金 — pooled fund, bands, cap
# ---------------------------------------------------------------------------------------------


def test_the_pool_pays_its_ratio_of_the_amount_above_the_deductible() -> None:
    s = run(bill("21", "3", ln("11000")))
    assert (s.act_pay_dedc, s.hifp_pay, s.pool_prop_selfpay) == (1000_00, 8400_00, Ratio.of("0.84"))
    assert s.ytd.pool_base == 10000_00 and s.ytd.pool_paid == 8400_00
    assert s.setldetail[0].fund_pay_type == "310100" and s.setldetail[0].fund_payamt == 8400_00


def test_retirees_get_the_uplift() -> None:
    s = run(bill("21", "3", ln("10650")), person=RETIREE)  # deductible 650
    assert (s.pool_prop_selfpay, s.hifp_pay) == (Ratio.of("0.87"), 8700_00)
    o = run(bill("11", "1", ln("300")), person=RETIREE)  # outpatient 0.70 + 0.10, deductible 100
    assert (o.pool_prop_selfpay, o.hifp_pay) == (Ratio.of("0.80"), 160_00)


def test_the_pool_ratio_rounds_half_up_once_per_bill() -> None:
    # (1000.01 − 1000) × 0.84 = 0.0084 yuan → 0.84 fen → 1 fen
    assert run(bill("21", "3", ln("1000.01"))).hifp_pay == 1
    # 0.005 yuan exactly: 1000.00 + 0.01 at 50 % outpatient (deductible paid) → 0.5 fen → 1 fen
    assert run(bill("11", "3", ln("0.01")), ytd=Accumulators(op_deductible_paid=200_00)).hifp_pay == 1


def test_the_bands_apply_to_the_year_base_crossing_a_boundary() -> None:
    # resident 三级: 70 % up to 10,000, 75 % to 50,000, 80 % above; the year already pooled 9,000
    s = run(bill("21", "3", ln("2500")), person=RESIDENT, ytd=Accumulators(admissions=1, pool_base=9000_00))
    assert s.act_pay_dedc == 500_00
    assert s.hifp_pay == 1000_00 * 70 // 100 + 1000_00 * 75 // 100  # 1,450.00
    assert s.pool_prop_selfpay == Ratio.of("0.70")  # the rate at the year's base before this bill
    assert s.ytd.pool_base == 11000_00


def test_one_bill_can_cross_every_band() -> None:
    s = run(bill("21", "3", ln("61000")), person=RESIDENT)  # base 60,000
    assert s.hifp_pay == 7000_00 + 30000_00 + 8000_00


def test_a_later_bill_starts_in_the_higher_band() -> None:
    s = run(bill("21", "3", ln("1500")), person=RESIDENT, ytd=Accumulators(admissions=1, pool_base=60000_00))
    assert (s.pool_prop_selfpay, s.hifp_pay) == (Ratio.of("0.80"), 800_00)


def test_the_pool_stops_at_its_annual_cap_and_the_rest_feeds_employee_dae() -> None:
    ytd = Accumulators(pool_paid=299000_00, serious_base=0)
    s = run(bill("21", "3", ln("11000")), ytd=ytd)
    assert s.hifp_pay == 1000_00  # the cap room
    assert s.intermediates["pool_cap"] == 300000_00 and s.intermediates["pool_cap_room"] == 1000_00
    # the pool's 1,000 covers 1,000 / 0.84 = 1,190.48 of the 10,000 base; the rest is above the cap
    above = 10000_00 - 1190_48
    assert s.intermediates["above_pool_cap"] == above
    assert s.hifob_pay == round(above * 0.92) and s.hifmi_pay == 0  # 大额 92 % (employees), no threshold
    assert s.ytd.pool_paid == 300000_00 and s.ytd.serious_base == above and s.ytd.serious_paid == s.hifob_pay
    assert [d.fund_pay_type for d in s.setldetail] == ["310100", "330100"]
    again = run(bill("21", "3", ln("11000")), ytd=s.ytd)
    # a second admission (deductible 500): the whole base 10,500 is above the cap
    assert again.hifp_pay == 0 and again.intermediates["above_pool_cap"] == 11000_00 - 500_00


def test_employee_dae_pays_nothing_below_the_pool_cap() -> None:
    s = run(bill("21", "3", ln("50000")))
    assert s.hifob_pay == 0 and s.intermediates["above_pool_cap"] == 0


def test_employee_dae_stops_at_its_cap() -> None:
    s = run(bill("21", "3", ln("100000")), ytd=Accumulators(pool_paid=300000_00, serious_paid=399000_00))
    assert s.hifob_pay == 1000_00 and s.ytd.serious_paid == 400000_00


def test_chronic_payments_count_against_their_own_limit_and_the_pool_cap() -> None:
    s = run(bill("14", "3", ln("2000")), ytd=Accumulators(chronic_deductible_paid=300_00, chronic_pool_paid=11900_00,
                                                           pool_paid=11900_00))  # fmt: skip
    assert s.hifp_pay == 100_00  # 12,000 limit
    assert (s.ytd.chronic_pool_paid, s.ytd.pool_paid) == (12000_00, 12000_00)
    s = run(
        bill("14", "3", ln("2000")), ytd=Accumulators(chronic_deductible_paid=300_00, pool_paid=299950_00)
    )
    assert s.hifp_pay == 50_00  # the pool cap is nearer


def test_reaching_the_chronic_limit_is_not_reaching_the_pool_cap() -> None:
    """Employee 大额 pays above the pool's annual cap, not above the 门诊慢特病 sub-limit."""
    ytd = Accumulators(chronic_deductible_paid=300_00)
    s = run(bill("14", "3", ln("20000")), ytd=ytd)
    assert s.hifp_pay == 12000_00  # 0.85 × 20,000 = 17,000, limited to 12,000
    assert s.intermediates["above_pool_cap"] == 0 and s.hifob_pay == 0
    # with the pool cap itself nearer, the part above it does go to 大额
    s = run(bill("14", "3", ln("20000")), ytd=ytd._replace(pool_paid=299000_00))
    assert s.hifp_pay == 1000_00
    above = 20000_00 - round(1000_00 / 0.85)
    assert s.intermediates["above_pool_cap"] == above and s.hifob_pay == round(above * 0.92)


def test_outpatient_pooling_has_its_own_cap() -> None:
    s = run(bill("11", "2", ln("1000")), ytd=Accumulators(op_deductible_paid=200_00, op_pool_paid=2900_00))
    assert s.hifp_pay == 100_00 and s.ytd.op_pool_paid == 3000_00
    assert s.ytd.pool_paid == 0  # the inpatient cap is not touched


def test_resident_serious_illness_pays_the_copay_above_its_threshold() -> None:
    s = run(bill("21", "3", ln("10500")), person=RESIDENT, ytd=Accumulators(serious_base=20000_00))
    assert s.hifp_pay == 6650_00  # (10,500 − 1,000) × 0.70
    copay = 10500_00 - 6650_00
    assert s.ytd.serious_base == 20000_00 + copay
    assert s.hifmi_pay == copay * 60 // 100 and s.hifob_pay == 0
    assert "390200" in [d.fund_pay_type for d in s.setldetail]


def test_civil_servants_get_half_of_the_in_scope_copay() -> None:
    s = run(bill("21", "3", ln("11000")), person=CIVIL_SERVANT)
    assert s.cvlserv_pay == (11000_00 - 8400_00) // 2
    assert s.ytd.cvlserv_paid == s.cvlserv_pay
    assert run(bill("11", "3", ln("1000")), person=CIVIL_SERVANT).cvlserv_pay == 0  # not for 普通门诊


def test_medical_assistance_pays_on_what_is_left() -> None:
    person = RESIDENT._replace(assistance="tekun")
    s = run(bill("21", "3", ln("10000")), person=person)  # no deductible for 特困
    assert s.hifp_pay == 7000_00 and s.hifmi_pay == 0  # below the 10,000 大病 threshold for 特困
    assert s.maf_pay == 3000_00 * 90 // 100  # tekun 90 %, no threshold
    assert s.ytd.maf_paid == s.maf_pay and s.ytd.maf_base == 3000_00
    capped = run(bill("21", "3", ln("10000")), person=person, ytd=Accumulators(maf_paid=59900_00))
    assert capped.maf_pay == 100_00  # the 60,000 annual cap


def test_assistance_with_a_threshold() -> None:
    person = RESIDENT._replace(assistance="low_income")  # threshold 4,000, 65 %
    s = run(bill("21", "3", ln("11000")), person=person)
    left = 11000_00 - 7000_00
    assert s.maf_pay == 0 and s.ytd.maf_base == left
    s = run(bill("21", "3", ln("11000")), person=person, ytd=Accumulators(admissions=1, maf_base=4000_00))
    assert s.maf_pay == (11000_00 - s.hifp_pay - s.hifmi_pay) * 65 // 100


# ---------------------------------------------------------------------------------------------
# Waiting period
# ---------------------------------------------------------------------------------------------

LATE = RESIDENT._replace(enrollment=Enrollment(in_window=False, break_years=1))


def test_during_the_waiting_period_no_fund_pays() -> None:
    ytd = Accumulators(serious_base=50000_00)
    s = run(bill("21", "3", ln("30000")), person=LATE, ytd=ytd, on=date(2025, 3, 1))
    assert s.intermediates["waiting_period_months"] == 4  # 3 fixed + 1 per year of break
    assert s.intermediates["benefit_start"] == date(2025, 5, 1)
    assert s.intermediates["in_waiting_period"] is True
    assert s.fund_pay_sumamt == 0 and s.act_pay_dedc == 0
    assert s.psn_part_amt == s.medfee_sumamt == 30000_00
    assert s.setldetail == ()
    assert s.ytd == ytd  # nothing accumulates


def test_after_the_waiting_period_the_funds_pay() -> None:
    s = run(bill("21", "3", ln("30000")), person=LATE, on=date(2025, 5, 1))
    assert s.intermediates["in_waiting_period"] is False and s.hifp_pay > 0


def test_no_waiting_period_before_2025_or_for_employees() -> None:
    assert run(bill("21", "3", ln("30000")), person=LATE, on=date(2024, 3, 1)).hifp_pay > 0
    late_employee = EMPLOYEE._replace(enrollment=Enrollment(in_window=False, break_years=3))
    assert run(bill("21", "3", ln("30000")), person=late_employee).hifp_pay > 0


def test_the_account_may_still_pay_during_the_waiting_period() -> None:
    s = run(bill("11", "3", ln("100")), person=LATE._replace(acct_balance=30_00), on=date(2025, 2, 1))
    assert (s.fund_pay_sumamt, s.acct_pay, s.psn_cash_pay) == (0, 30_00, 70_00)


# ---------------------------------------------------------------------------------------------
# 6. 个人账户 / 家庭共济 → 现金
# ---------------------------------------------------------------------------------------------


def test_the_account_pays_first_then_mutual_aid_then_cash() -> None:
    person = EMPLOYEE._replace(acct_balance=100_00, mulaid_balance=50_00)
    s = run(bill("11", "3", ln("200")), person=person)  # deductible 200: the pool pays nothing
    assert s.psn_part_amt == 200_00
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay, s.balc) == (150_00, 50_00, 50_00, 0)
    (row,) = s.setldetail
    assert (row.fund_pay_type, row.fund_payamt) == ("310200", 150_00)
    assert "共济" in row.setl_proc_info


def test_the_account_keeps_what_it_does_not_need() -> None:
    person = EMPLOYEE._replace(acct_balance=1000_00, mulaid_balance=50_00)
    s = run(bill("11", "3", ln("200")), person=person)
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay, s.balc) == (200_00, 0, 0, 800_00)


def test_the_account_pays_out_of_scope_amounts_in_990100() -> None:
    person = EMPLOYEE._replace(acct_balance=1000_00)
    s = run(bill("11", "3", ln("80", lv="03")), person=person)
    assert (s.fulamt_ownpay_amt, s.acct_pay, s.psn_cash_pay) == (80_00, 80_00, 0)


def test_no_account_when_the_flag_is_off() -> None:
    person = EMPLOYEE._replace(acct_balance=1000_00, mulaid_balance=1000_00)
    s = run(bill("11", "3", ln("200"), acct_used_flag=False), person=person)
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay, s.balc) == (0, 0, 200_00, 1000_00)


def test_the_account_pays_only_the_personal_part() -> None:
    person = EMPLOYEE._replace(acct_balance=100000_00)
    s = run(bill("21", "3", ln("11000")), person=person)
    assert s.acct_pay == s.psn_part_amt == 11000_00 - 8400_00
    assert s.balc == 100000_00 - s.acct_pay and s.psn_cash_pay == 0


# ---------------------------------------------------------------------------------------------
# Long-term care
# ---------------------------------------------------------------------------------------------

LTC_PERSON = Person("410", "1201", 82)


def test_long_term_care_pays_a_per_diem_by_care_form() -> None:
    s = run(bill("9901", "1", ln("800"), care_form="institutional", ltc_days=10), person=LTC_PERSON)
    assert s.hifp_pay == 500_00 == s.fund_pay_sumamt  # 50 × 10
    assert s.clr_type == "99" and s.setldetail[0].fund_pay_type == "410100"
    assert s.ytd.ltc_paid == 500_00 and s.ytd.pool_paid == 0 and s.act_pay_dedc == 0
    f = run(bill("9901", "1", ln("800"), care_form="family", ltc_days=30), person=LTC_PERSON)
    assert f.hifp_pay == 300_00  # 10 × 30


def test_the_per_diem_is_at_most_the_in_scope_amount() -> None:
    s = run(bill("9901", "1", ln("200"), ln("300", lv="03", code="T2"), care_form="institutional", ltc_days=10),
            person=LTC_PERSON)  # fmt: skip
    assert s.hifp_pay == 200_00


def test_a_care_form_without_a_per_diem_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match=r"ltc\.per_diem"):
        run(bill("9901", "1", ln("200"), care_form="home", ltc_days=1), person=LTC_PERSON)


# ---------------------------------------------------------------------------------------------
# Trace and accumulators
# ---------------------------------------------------------------------------------------------


def test_no_trace_unless_asked() -> None:
    assert run(bill("21", "3", ln("11000"))).trace is None


def test_the_trace_lists_each_step_with_its_parameter_reads() -> None:
    s = run(bill("21", "3", ln("11000")), person=CIVIL_SERVANT._replace(acct_balance=10_00), trace=True)
    names = [step.name.split()[0] for step in s.trace]
    assert names == ["费用分割", "参保", "起付线", "统筹基金", "大额/大病", "公务员医疗补助", "个人账户"]
    by_name = {step.name.split()[0]: step for step in s.trace}
    assert by_name["费用分割"].reads == ()
    for name in ("起付线", "统筹基金", "大额/大病", "公务员医疗补助", "个人账户"):
        step = by_name[name]
        assert step.reads, name
        for read in step.reads:
            assert isinstance(read.since, date) and read.since <= ON
            assert read.reference
            assert read.name in read.describe() and str(read.since) in read.describe()
    dedc = {r.name: r for r in by_name["起付线"].reads}
    assert set(dedc) == {
        "inpatient.deductible",
        "inpatient.deductible_factor",
        "inpatient.deductible_annual_cap",
    }
    assert dedc["inpatient.deductible"].value == 1000_00 and dedc["inpatient.deductible"].since == date(
        2024, 1, 1
    )
    assert "benefits.md" in dedc["inpatient.deductible"].reference
    pool = {r.name for r in by_name["统筹基金"].reads}
    assert pool == {"inpatient.pool_ratio", "inpatient.pool_cap"}
    assert "serious_illness.cap" in {r.name for r in by_name["参保"].reads}
    assert "8,400.00" in by_name["统筹基金"].result


def test_the_trace_of_a_waiting_period_and_of_assistance() -> None:
    s = run(bill("21", "3", ln("100")), person=LATE, trace=True)
    step = next(st for st in s.trace if st.name.startswith("待遇等待期"))
    assert "2025-05-01" in step.result
    terms = next(st for st in s.trace if st.name.startswith("参保"))
    assert {r.name for r in terms.reads} >= {"enrollment.waiting_applies", "enrollment.waiting_fixed_months"}
    s = run(bill("21", "3", ln("100")), person=RESIDENT._replace(assistance="dibao"), trace=True)
    step = next(st for st in s.trace if st.name.startswith("医疗救助"))
    assert {r.name for r in step.reads} == {"assistance.threshold", "assistance.ratio", "assistance.cap"}


def test_the_accumulators_are_updated_and_the_input_is_untouched() -> None:
    ytd = Accumulators(
        admissions=1, ip_deductible_paid=500_00, pool_base=1000_00, pool_paid=840_00, fund_paid=840_00
    )
    s = run(bill("21", "3", ln("10500")), ytd=ytd)
    assert ytd == Accumulators(admissions=1, ip_deductible_paid=500_00, pool_base=1000_00, pool_paid=840_00,
                               fund_paid=840_00)  # fmt: skip
    assert s.ytd.admissions == 2
    assert s.ytd.ip_deductible_paid == 500_00 + s.act_pay_dedc
    assert s.ytd.pool_base == 1000_00 + 10500_00 - s.act_pay_dedc
    assert s.ytd.pool_paid == 840_00 + s.hifp_pay
    assert s.ytd.fund_paid == 840_00 + s.fund_pay_sumamt
    o = run(bill("11", "3", ln("500")), ytd=s.ytd)
    assert o.ytd.admissions == 2 and o.ytd.pool_paid == s.ytd.pool_paid
    assert (
        o.ytd.op_pool_paid == o.hifp_pay
        and o.ytd.op_deductible_paid == 200_00
        and o.ytd.op_pool_base == 300_00
    )


# ---------------------------------------------------------------------------------------------
# Bad input: a precise error naming the field, and no result
# ---------------------------------------------------------------------------------------------

GOOD_LINE = {"med_list_codg": "T1", "chrgitm_lv": "01", "pric": "10", "cnt": "1"}


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({**GOOD_LINE, "cnt": "1.00001"}, "encounter.lines[0].cnt", "more than 4 decimal places"),
        ({**GOOD_LINE, "pric": "10.0000001"}, "encounter.lines[0].pric", "more than 6 decimal places"),
        (
            {**GOOD_LINE, "det_item_fee_sumamt": "10.001"},
            "encounter.lines[0].det_item_fee_sumamt",
            "more than 2 decimal",
        ),
        (
            {**GOOD_LINE, "det_item_fee_sumamt": "10.02"},
            "encounter.lines[0].det_item_fee_sumamt",
            "differs from pric × cnt",
        ),
        (
            {**GOOD_LINE, "det_item_fee_sumamt": "-10"},
            "encounter.lines[0].det_item_fee_sumamt",
            "must not be negative",
        ),
        ({**GOOD_LINE, "pric": "-10"}, "encounter.lines[0].pric", "must not be negative"),
        ({**GOOD_LINE, "cnt": "-1"}, "encounter.lines[0].cnt", "must not be negative"),
        ({**GOOD_LINE, "cnt": "0"}, "encounter.lines[0].cnt", "must be positive"),
        ({**GOOD_LINE, "pric": 10.5}, "encounter.lines[0].pric", "floats are never money"),
        ({**GOOD_LINE, "pric": "ten"}, "encounter.lines[0].pric", "not a number"),
        (
            {**GOOD_LINE, "pric_uplmt_amt": "1.1234567"},
            "encounter.lines[0].pric_uplmt_amt",
            "more than 6 decimal",
        ),
        ({**GOOD_LINE, "chrgitm_lv": "04"}, "encounter.lines[0].chrgitm_lv", "unknown code '04'"),
        ({**GOOD_LINE, "selfpay_prop": "1.2"}, "encounter.lines[0].selfpay_prop", "between 0 and 1"),
        ({**GOOD_LINE, "selfpay_prop": "-0.1"}, "encounter.lines[0].selfpay_prop", "negative"),
        (
            {"med_list_codg": "T1", "selfpay_prop": "0.1", "pric": "1", "cnt": "1"},
            "encounter.lines[0].selfpay_prop",
            "together with chrgitm_lv",
        ),
        ({"chrgitm_lv": "01", "pric": "1", "cnt": "1"}, "encounter.lines[0].med_list_codg", "is required"),
        ({"med_list_codg": "T1", "chrgitm_lv": "01", "cnt": "1"}, "encounter.lines[0].pric", "is required"),
    ],
)
def test_a_bad_line_names_its_field(line: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(SettlementError, match=message) as info:
        parse_encounter({"med_type": "11", "hosp_lv": "3", "lines": [line]})
    assert info.value.field == field, str(info.value)


def test_a_line_amount_too_large_for_the_wire_is_refused() -> None:
    with pytest.raises(SettlementError, match="too large") as info:
        parse_encounter(
            {
                "med_type": "11",
                "hosp_lv": "3",
                "lines": [{**GOOD_LINE, "pric": "9999999999", "cnt": "999999999999"}],
            }
        )
    assert info.value.field.startswith("encounter.lines[0].")


def test_a_bad_second_line_is_named_by_its_index() -> None:
    with pytest.raises(SettlementError) as info:
        parse_encounter(
            {"med_type": "11", "hosp_lv": "3", "lines": [GOOD_LINE, {**GOOD_LINE, "cnt": "0.12345"}]}
        )
    assert info.value.field == "encounter.lines[1].cnt"


@pytest.mark.parametrize(
    ("encounter", "field", "message"),
    [
        ({"med_type": "99", "hosp_lv": "3", "lines": [GOOD_LINE]}, "encounter.med_type", "unknown code '99'"),
        ({"hosp_lv": "3", "lines": [GOOD_LINE]}, "encounter.med_type", "is required"),
        (
            {"med_type": "11", "hosp_lv": "4", "lines": [GOOD_LINE]},
            "encounter.hosp_lv",
            "unknown hospital level",
        ),
        ({"med_type": "11", "hosp_lv": "3", "lines": []}, "encounter.lines", "at least one fee line"),
        ({"med_type": "11", "hosp_lv": "3", "lines": [GOOD_LINE, GOOD_LINE]}, "encounter.lines", "unique"),
        (
            {"med_type": "11", "hosp_lv": "3", "lines": [GOOD_LINE], "insutype": "999"},
            "encounter.insutype",
            "unknown",
        ),
        ({"med_type": "9901", "hosp_lv": "1", "lines": [GOOD_LINE]}, "encounter", "care_form and ltc_days"),
        (
            {"med_type": "9901", "hosp_lv": "1", "lines": [GOOD_LINE], "care_form": "hotel", "ltc_days": 1},
            "encounter.care_form",
            "unknown care form",
        ),
        (
            {"med_type": "11", "hosp_lv": "3", "lines": [GOOD_LINE], "acct_used_flag": "yes"},
            "encounter.acct_used_flag",
            "true/false",
        ),
    ],
)
def test_a_bad_encounter_names_its_field(encounter: dict[str, Any], field: str, message: str) -> None:
    if encounter.get("lines") == [GOOD_LINE, GOOD_LINE]:
        encounter["lines"] = [{**GOOD_LINE, "feedetl_sn": "1"}, {**GOOD_LINE, "feedetl_sn": "1"}]
    with pytest.raises(SettlementError, match=message) as info:
        parse_encounter(encounter)
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize(
    ("person", "field", "message"),
    [
        ({"psn_type": "1101", "age": 40}, "person.insutype", "is required"),
        ({"insutype": "310", "psn_type": "9999", "age": 40}, "person.psn_type", "unknown code"),
        ({"insutype": "310", "psn_type": "1101", "age": 131}, "person.age", "not a possible age"),
        ({"insutype": "310", "psn_type": "1101", "age": "40"}, "person.age", "whole number"),
        (
            {"insutype": "310", "psn_type": "1101", "age": 40, "assistance": "rich"},
            "person.assistance",
            "unknown category",
        ),
        (
            {"insutype": "310", "psn_type": "1101", "age": 40, "acct_balance": "1.001"},
            "person.acct_balance",
            "decimal",
        ),
        (
            {"insutype": "310", "psn_type": "1101", "age": 40, "acct_balance": "-1"},
            "person.acct_balance",
            "negative",
        ),
        (
            {
                "insutype": "390",
                "psn_type": "1501",
                "age": 40,
                "enrollment": {"break_years": 1, "repaid_years": 2},
            },
            "person.enrollment.repaid_years",
            "cannot exceed",
        ),
        (
            {"insutype": "390", "psn_type": "1501", "age": 40, "enrollment": {"gap": 1}},
            "person.enrollment",
            "unknown keys",
        ),
    ],
)
def test_a_bad_person_names_its_field(person: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(SettlementError, match=message) as info:
        parse_person(person)
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize(
    ("ytd", "field", "message"),
    [
        ({"pool_payd": "100"}, "ytd.pool_payd", "unknown accumulator"),
        ({"pool_paid": "1.001"}, "ytd.pool_paid", "more than 2 decimal places"),
        ({"pool_paid": "-1"}, "ytd.pool_paid", "must not be negative"),
        ({"admissions": "2"}, "ytd.admissions", "whole number"),
        ({"admissions": -1}, "ytd.admissions", "at least 0"),
    ],
)
def test_bad_accumulators_name_their_field(ytd: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(SettlementError, match=message) as info:
        parse_ytd(ytd)
    assert info.value.field == field, str(info.value)


def test_parse_reads_the_good_inputs() -> None:
    assert parse_fee_line(GOOD_LINE, 0) == FeeLine("1", "T1", 10_000000, 1_0000, 10_00, "01")
    assert parse_ytd({"pool_paid": "12.34", "admissions": 2}) == Accumulators(admissions=2, pool_paid=12_34)
    assert parse_ytd(None) == Accumulators()
    p = parse_person(
        {"insutype": "390", "psn_type": "1501", "age": 40, "enrollment": {"enrolled_on": "2025-03-15"}}
    )
    assert p.enrollment.enrolled_on == date(2025, 3, 15)


def test_a_date_outside_every_policy_period_names_the_parameter() -> None:
    enc = bill("21", "3", ln("1000"))
    with pytest.raises(PolicyError, match=r"no value in force on 2023-06-01") as info:
        settle(enc, EMPLOYEE, Accumulators(), POLICY, date(2023, 6, 1))
    assert "inpatient.yaml" in str(info.value) and "inpatient.deductible" in str(info.value)


def test_settle_never_returns_a_partial_result() -> None:
    """A bad last line, or a bad date, raises: there is no settlement of the lines before it."""
    good = {"med_list_codg": "XB001", "pric": "1", "cnt": "1"}
    enc = bill(
        "21", "3", good, {**good, "feedetl_sn": "2"}, {"med_list_codg": "NOPE", "pric": "1", "cnt": "1"}
    )
    ytd = Accumulators(admissions=1)
    result = None
    with pytest.raises(SettlementError, match=r"feedetail\[2\]\.med_list_codg"):
        result = settle(enc, EMPLOYEE, ytd, POLICY, ON, catalog=CATALOG)
    assert result is None and ytd == Accumulators(admissions=1)
    with pytest.raises(PolicyError):
        result = settle(bill("11", "3", ln("1")), EMPLOYEE, ytd, POLICY, date(2023, 6, 1))
    assert result is None
    # the same bill without the bad line settles normally afterwards (no state was left behind)
    ok = settle(
        bill("21", "3", good, {**good, "feedetl_sn": "2"}), EMPLOYEE, ytd, POLICY, ON, catalog=CATALOG
    )
    assert ok.medfee_sumamt == 2_00 and ok.ytd.admissions == 2


def test_an_unknown_insutype_scheme_is_an_error() -> None:
    with pytest.raises(ValueError, match="insutype"):
        settle(bill("11", "3", ln("1")), Person("350", "1101", 40), Accumulators(), POLICY, ON)


# ---------------------------------------------------------------------------------------------
# settle_totals — the batch mode: the same amounts and accumulators, without the per-line detail
# ---------------------------------------------------------------------------------------------

VERSIONED = Catalog(
    [
        CatalogItem("XV", "改版药", "drug", "09", "02", Ratio.of("0.10"), {"3": 10_000000},
                    enddate=date(2025, 3, 31)),
        CatalogItem("XV", "改版药", "drug", "09", "02", Ratio.of("0.20"), {"3": 8_000000},
                    begndate=date(2025, 4, 1)),
        CatalogItem("XK", "限儿童药", "drug", "09", "01", restriction=Restriction(age_max=17, text="限儿童")),
        CatalogItem("XD", "限7天药", "drug", "09", "02", Ratio.of("0.05"), restriction=Restriction(max_days_supply=7)),
        CatalogItem("XS", "限二级", "service", "01", "01", restriction=Restriction(hosp_lv_min="2")),
        CatalogItem("XC", "丙类药", "drug", "09", "03"),
    ]
)  # fmt: skip


def catalogue_line(sn: int, code: str, pric: int, cnt: int, days: int | None = None) -> FeeLine:
    return FeeLine(str(sn), code, pric, cnt, round_div(pric * cnt, FEN_PER_PRICE_COUNT), days_supply=days)


def assert_same_totals(
    encounter: Encounter, person: Person, ytd: Accumulators, on: date, catalog: Catalog
) -> None:
    full = settle(encounter, person, ytd, POLICY, on, catalog=catalog)
    for _ in range(2):  # the second time from the memo
        t = settle_totals(encounter, person, ytd, POLICY, on, catalog=catalog)
        assert t.money() == full.money()
        assert (t.pool_prop_selfpay, t.insutype, t.med_type, t.clr_type) == (
            full.pool_prop_selfpay, full.insutype, full.med_type, full.clr_type
        )  # fmt: skip
        assert t.ytd == full.ytd
        assert (t.lines, t.setldetail, t.intermediates, t.trace) == ((), (), {}, None)


def test_settle_totals_follows_the_catalogue_version_in_force_on_the_day() -> None:
    catalog = Catalog(VERSIONED.items())  # a memo of its own
    enc = Encounter("11", "3", (catalogue_line(1, "XV", 12_000000, 1_0000),))
    march = settle_totals(enc, EMPLOYEE, Accumulators(), POLICY, date(2025, 3, 31), catalog=catalog)
    april = settle_totals(enc, EMPLOYEE, Accumulators(), POLICY, date(2025, 4, 1), catalog=catalog)
    assert (march.overlmt_selfpay, march.preselfpay_amt) == (2_00, 1_00)  # cap 10.00, 10 %
    assert (april.overlmt_selfpay, april.preselfpay_amt) == (4_00, 1_60)  # cap 8.00, 20 %
    for on in (date(2025, 3, 31), date(2025, 4, 1)):
        assert_same_totals(enc, EMPLOYEE, Accumulators(), on, catalog)


def test_settle_totals_checks_each_restriction_against_the_patient_and_the_line() -> None:
    lines = (
        catalogue_line(1, "XK", 30_000000, 1_0000),
        catalogue_line(2, "XD", 5_000000, 10_0000, days=10),
        catalogue_line(3, "XD", 5_000000, 10_0000, days=5),
        catalogue_line(4, "XS", 8_000000, 2_0000),
        catalogue_line(5, "XC", 1_500000, 3_0000),
    )
    for hosp_lv in ("1", "3"):
        enc = Encounter("11", hosp_lv, lines)
        for person in (Person("390", "1402", 17), Person("390", "1501", 18)):
            assert_same_totals(enc, person, Accumulators(), ON, VERSIONED)
    child = settle_totals(Encounter("11", "1", lines), Person("390", "1402", 17), Accumulators(), POLICY, ON,
                          catalog=VERSIONED)  # fmt: skip
    assert child.fulamt_ownpay_amt == 50_00 + 16_00 + 4_50  # 10 days of XD, XS at 一级, XC


def test_settle_totals_reports_a_bad_line_as_settle_does() -> None:
    enc = Encounter("11", "3", (catalogue_line(1, "XK", 1_000000, 1_0000), catalogue_line(2, "NOPE", 1, 1)))
    with pytest.raises(SettlementError) as full:
        settle(enc, EMPLOYEE, Accumulators(), POLICY, ON, catalog=VERSIONED)
    with pytest.raises(SettlementError) as totals:
        settle_totals(enc, EMPLOYEE, Accumulators(), POLICY, ON, catalog=VERSIONED)
    assert (totals.value.field, str(totals.value)) == (full.value.field, str(full.value))


@st.composite
def totals_case(draw: st.DrawFn) -> tuple[Encounter, Person, Accumulators, date]:
    codes = ("XV", "XK", "XD", "XS", "XC")
    lines = tuple(
        catalogue_line(i, draw(st.sampled_from(codes)), draw(st.integers(10_000, 30_000_000)),
                       draw(st.sampled_from((1_0000, 2_0000, 5000, 12_3456))), draw(st.none() | st.integers(1, 15)))
        for i in range(draw(st.integers(1, 6)))
    )  # fmt: skip
    stated = draw(
        st.lists(st.sampled_from((ln("10", "01"), ln("3.5", "02", "0.1", "3"), ln("7", "03"))), max_size=2)
    )
    encounter = bill(
        draw(st.sampled_from(("11", "14", "21", "41"))), draw(st.sampled_from("123")), ln("1"), *stated
    )
    person = draw(st.sampled_from((EMPLOYEE, RETIREE, CIVIL_SERVANT, RESIDENT, Person("390", "1402", 9))))
    ytd = Accumulators(admissions=draw(st.integers(0, 2)), pool_paid=draw(st.sampled_from((0, 50_000_00))),
                       op_deductible_paid=draw(st.sampled_from((0, 200_00))))  # fmt: skip
    on = draw(st.sampled_from((date(2025, 3, 31), date(2025, 4, 1), date(2025, 9, 1))))
    return encounter._replace(lines=lines + encounter.lines[1:]), person, ytd, on


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(totals_case())
def test_settle_totals_agrees_with_settle(case: tuple[Encounter, Person, Accumulators, date]) -> None:
    assert_same_totals(*case, catalog=VERSIONED)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(totals_case())
def test_settle_totals_is_the_same_with_catalogue_lines_presplit(
    case: tuple[Encounter, Person, Accumulators, date],
) -> None:
    """A batch replay splits each distinct catalogue line once (LineSplits.split) and passes the totals of
    those whose 限定支付 check depends on neither patient nor bill (payable_at_level) as ``presplit``:
    the bill settles exactly as with every line given."""
    encounter, person, ytd, on = case
    memo = line_splits(VERSIONED)
    kept: list[FeeLine] = []
    presplit = [0, 0, 0, 0]
    for line in encounter.lines:
        split = memo.split(line, encounter.hosp_lv, on) if line.chrgitm_lv is None else None
        payable = None if split is None else payable_at_level(split[0], encounter.hosp_lv)
        if split is None or payable is None:
            kept.append(line)
        else:
            parts = split[1] if payable else (line.det_item_fee_sumamt, 0, 0, 0)
            presplit = [a + b for a, b in zip(presplit, parts, strict=True)]
    whole = settle_totals(encounter, person, ytd, POLICY, on, catalog=VERSIONED)
    part = settle_totals(
        encounter._replace(lines=tuple(kept)), person, ytd, POLICY, on, catalog=VERSIONED,
        presplit=(presplit[0], presplit[1], presplit[2], presplit[3]),
    )  # fmt: skip
    assert part.money() == whole.money() and part.ytd == whole.ytd
    assert (part.pool_prop_selfpay, part.clr_type) == (whole.pool_prop_selfpay, whole.clr_type)


def test_a_restriction_of_the_hospital_level_alone_is_decided_by_the_level() -> None:
    level_only = Restriction(hosp_lv_min="2")
    assert (payable_at_level(level_only, "1"), payable_at_level(level_only, "3")) == (False, True)
    assert payable_at_level(Restriction(text="见说明"), "1") is True  # a text and no condition
    assert payable_at_level(Restriction(hosp_lv_min="2", age_max=17), "3") is None
    assert payable_at_level(Restriction(age_min=0), "3") is None
