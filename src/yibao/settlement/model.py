"""The settlement engine's immutable core types: what goes in (a bill, a person, the year so far) and
what comes out (a settlement with every 2207 ``setlinfo`` money field, its ``setldetail`` rows and the
per-line 2204 results).

Hot-path types are ``NamedTuple``s: immutable, cheap to build, and they unpack like rows. Amounts are
integer fen; prices are integer millionths of a yuan (``pric`` has 6 decimals on the wire) and counts
integer ten-thousandths (``cnt`` has 4).

>>> line = FeeLine("1", "XA10BAE054A001010101234", pric=23_500000, cnt=2_0000, det_item_fee_sumamt=4700)
>>> line.det_item_fee_sumamt
4700
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from yibao.money import Fen, Ratio

PRICE_SCALE = 10**6
COUNT_SCALE = 10**4
FEN_PER_PRICE_COUNT = PRICE_SCALE * COUNT_SCALE // 100  # pric × cnt → fen


class FeeLine(NamedTuple):
    """One fee line (2204 ``feedetail`` / 2301), as the engine needs it.

    Attributes:
        feedetl_sn: line number, unique within the encounter.
        med_list_codg: national catalogue code.
        pric: unit price in 1e-6 yuan.
        cnt: quantity in 1e-4 units.
        det_item_fee_sumamt: line amount in fen (pric × cnt, rounded by the one rule).
        chrgitm_lv: 01 甲 / 02 乙 / 03 丙 when the line states its own class; None = from the catalogue.
        selfpay_prop: 先行自付 share stated by the line; None = from the catalogue (or 0 when stated class).
        pric_uplmt: price cap stated by the line (1e-6 yuan); None = from the catalogue (or none).
        med_chrgitm_type: 医疗收费项目类别 stated by the line; None = from the catalogue.
        days_supply: prd_days of medication, for the days-supply restriction.
    """

    feedetl_sn: str
    med_list_codg: str
    pric: int
    cnt: int
    det_item_fee_sumamt: Fen
    chrgitm_lv: str | None = None
    selfpay_prop: Ratio | None = None
    pric_uplmt: int | None = None
    med_chrgitm_type: str | None = None
    days_supply: int | None = None


class Encounter(NamedTuple):
    """The bill being settled: one encounter's fee lines and what decides its benefit.

    Attributes:
        med_type: national 医疗类别 (11 普通门诊, 14 门诊慢特病, 21 普通住院, 41 定点药店购药, 9901 长期护理 …).
        hosp_lv: coarse level of the institution, "3" / "2" / "1" (一级及以下; pharmacies use "1").
        lines: the fee lines.
        diagnoses: ICD-10 医保版 codes, principal first (for indication restrictions).
        insutype: the insurance the bill is settled under; None = the person's.
        acct_used_flag: whether the personal account (and family mutual aid) may pay.
        care_form: for long-term care: institutional, family, home, specialised.
        ltc_days: for long-term care: days of care in this bill.
    """

    med_type: str
    hosp_lv: str
    lines: tuple[FeeLine, ...]
    diagnoses: tuple[str, ...] = ()
    insutype: str | None = None
    acct_used_flag: bool = True
    care_form: str | None = None
    ltc_days: int = 0


class Enrollment(NamedTuple):
    """The person's enrolment history as the year-of-care rules need it.

    Attributes:
        continuous_years: N, consecutive enrolled years up to and including the year of care.
        zero_claim_years: earlier enrolled years in which the funds reimbursed nothing.
        break_years: B, years not enrolled (total).
        repaid_years: k, missed years paid retroactively (k ≤ B).
        in_window: enrolled inside the concentrated enrolment window.
        prior_continuous_years: length of each run of continuous years before a break (rewards kept).
        enrolled_on: the day the current enrolment took effect; None = 1 January of the year of care.
    """

    continuous_years: int = 1
    zero_claim_years: int = 0
    break_years: int = 0
    repaid_years: int = 0
    in_window: bool = True
    prior_continuous_years: tuple[int, ...] = ()
    enrolled_on: date | None = None


class Person(NamedTuple):
    """The insured person on the day of care.

    Attributes:
        insutype: national 险种类型 (310 职工, 390 居民, 410 长期护理 …).
        psn_type: national 人员类别 (1101 在职, 1201 退休, 1501 普通居民 …).
        age: age in whole years.
        gend: 1 男 / 2 女.
        assistance: 医疗救助 category (tekun, dibao, fanpin, low_income, illness_poverty, orphan) or None.
        enrollment: enrolment history.
        acct_balance: personal account balance in fen before this settlement.
        mulaid_balance: family mutual-aid (家庭共济) balance available to this person, in fen.
        psn_no: personal number, for messages only.
    """

    insutype: str
    psn_type: str
    age: int
    gend: str = "1"
    assistance: str | None = None
    enrollment: Enrollment = Enrollment()
    acct_balance: Fen = 0
    mulaid_balance: Fen = 0
    psn_no: str = ""


class Accumulators(NamedTuple):
    """Year-to-date amounts (fen) and counts of one person-year. Names are those golden cases use.

    Attributes:
        admissions: inpatient admissions already settled this year (this one is admissions + 1).
        ip_deductible_paid: inpatient deductible borne this year.
        chronic_deductible_paid / op_deductible_paid: 门诊慢特病 / 普通门诊 (and pharmacy) deductible borne.
        pool_base / chronic_pool_base / op_pool_base: amounts that entered pooling (for band scales).
        pool_paid: pooled fund paid for 住院 and 门诊慢特病 (against the annual cap).
        chronic_pool_paid: the 门诊慢特病 part of pool_paid (against its own limit).
        op_pool_paid: pooled fund paid for 普通门诊 and pharmacy.
        serious_base: amount counted towards 大病/大额 this year (合规自付, or above the pool cap).
        serious_paid: 大病保险 / 大额补助 paid.
        cvlserv_paid: 公务员医疗补助 paid.
        maf_base / maf_paid: counted towards and paid by 医疗救助.
        ltc_paid: long-term care fund paid.
        fund_paid: every fund payment this year (a zero-claim year has 0).
    """

    admissions: int = 0
    ip_deductible_paid: Fen = 0
    chronic_deductible_paid: Fen = 0
    op_deductible_paid: Fen = 0
    pool_base: Fen = 0
    chronic_pool_base: Fen = 0
    op_pool_base: Fen = 0
    pool_paid: Fen = 0
    chronic_pool_paid: Fen = 0
    op_pool_paid: Fen = 0
    serious_base: Fen = 0
    serious_paid: Fen = 0
    cvlserv_paid: Fen = 0
    maf_base: Fen = 0
    maf_paid: Fen = 0
    ltc_paid: Fen = 0
    fund_paid: Fen = 0


ACCUMULATOR_NAMES = Accumulators._fields


class LineResult(NamedTuple):
    """The 2204 ``result`` of one line: how its amount splits into the four parts."""

    feedetl_sn: str
    det_item_fee_sumamt: Fen
    cnt: int
    pric: int
    pric_uplmt_amt: int | None
    selfpay_prop: Ratio
    fulamt_ownpay_amt: Fen
    overlmt_amt: Fen
    preselfpay_amt: Fen
    inscp_scp_amt: Fen
    chrgitm_lv: str
    med_chrgitm_type: str
    lmt_used_flag: str
    memo: str


class SetlDetail(NamedTuple):
    """One ``setldetail`` row: what one fund paid."""

    fund_pay_type: str
    fund_pay_type_name: str
    inscp_scp_amt: Fen
    crt_payb_lmt_amt: Fen
    fund_payamt: Fen
    setl_proc_info: str


SETLINFO_MONEY_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
    "acct_mulaid_pay",
)
"""Every money field of the 2207 ``setlinfo`` (interface.md §2.4), in fen inside the engine."""


class Settlement(NamedTuple):
    """The engine's answer for one bill. Money fields are fen; ``pool_prop_selfpay`` is the pool ratio.

    ``intermediates`` holds the named amounts golden cases may expect (deductible, pool_ratio, pool_cap,
    serious_illness_cap, waiting_period_months …); ``trace`` the steps when asked for.
    """

    medfee_sumamt: Fen
    fulamt_ownpay_amt: Fen
    overlmt_selfpay: Fen
    preselfpay_amt: Fen
    inscp_scp_amt: Fen
    act_pay_dedc: Fen
    hifp_pay: Fen
    pool_prop_selfpay: Ratio
    cvlserv_pay: Fen
    hifes_pay: Fen
    hifmi_pay: Fen
    hifob_pay: Fen
    maf_pay: Fen
    oth_pay: Fen
    fund_pay_sumamt: Fen
    psn_part_amt: Fen
    acct_pay: Fen
    psn_cash_pay: Fen
    hosp_part_amt: Fen
    balc: Fen
    acct_mulaid_pay: Fen
    insutype: str
    med_type: str
    clr_type: str
    lines: tuple[LineResult, ...]
    setldetail: tuple[SetlDetail, ...]
    ytd: Accumulators
    intermediates: dict[str, Any]
    trace: Any = None

    def money(self) -> dict[str, Fen]:
        """The setlinfo money fields by name (fen)."""
        return {name: getattr(self, name) for name in SETLINFO_MONEY_FIELDS}
