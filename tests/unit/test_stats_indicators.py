"""Indicators by scheme × type × level on a small hand-made dataset, and the fidelity comparison."""

from __future__ import annotations

import doctest
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from yibao.stats import fidelity as fidelity_mod
from yibao.stats import fmt, sample
from yibao.stats.data import load
from yibao.stats.fidelity import BULLETIN_2024, compare, fidelity
from yibao.stats.indicators import indicators
from yibao.stats.sample import write_rows

MONEY = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
         "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay",
         "acct_mulaid_pay")  # fmt: skip


def _setl(sid: str, mdtrt: str, psn: str, ins: str, med: str, inst: str, month: int, vals: tuple[int, ...], flag: str = "0") -> dict:
    return {"setl_id": sid, "mdtrt_id": mdtrt, "psn_no": psn, "insutype": ins, "med_type": med, "fixmedins_code": inst,
            "setl_time": datetime(2024, month, 20), "refd_setl_flag": flag, **dict(zip(MONEY, vals, strict=True))}  # fmt: skip


def _neg(row: dict, sid: str) -> dict:
    return {**row, "setl_id": sid, "refd_setl_flag": "1", **{k: -row[k] for k in MONEY}}


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    write_rows(tmp_path, "psn_info_b", [
        {"psn_no": "E1", "insutype": "310", "psn_type": "1101", "insuplc_admdvs": "990100", "emp_no": "C1"},
        {"psn_no": "E2", "insutype": "310", "psn_type": "1201", "insuplc_admdvs": "990100", "emp_no": "C1"},
        {"psn_no": "R1", "insutype": "390", "psn_type": "1501", "insuplc_admdvs": "990100", "psn_idet_type": "2302"},
        {"psn_no": "R2", "insutype": "390", "psn_type": "1403", "insuplc_admdvs": "990100"},
    ])  # fmt: skip
    write_rows(tmp_path, "emp_b", [{"emp_no": "C1", "emp_type": "1"}])
    write_rows(tmp_path, "fixmedins_b", [
        {"fixmedins_code": "H3", "fixmedins_type": "1", "hosp_lv": "01", "admdvs": "990100"},
        {"fixmedins_code": "H2", "fixmedins_type": "1", "hosp_lv": "05", "admdvs": "990100"},
        {"fixmedins_code": "H1", "fixmedins_type": "1", "hosp_lv": "", "admdvs": "990100"},  # unrated → 一级及以下
        {"fixmedins_code": "HBJ", "fixmedins_type": "1", "hosp_lv": "02", "admdvs": "110100"},  # another province
        {"fixmedins_code": "HSC", "fixmedins_type": "1", "hosp_lv": "05", "admdvs": "990200"},  # same province
        {"fixmedins_code": "P1", "fixmedins_type": "2", "hosp_lv": "", "admdvs": "990100"},
    ])  # fmt: skip
    write_rows(tmp_path, "contribution_d", [
        {"psn_no": "R1", "insutype": "390", "clct_month": "2024-01", "clct_type": "4", "amount": 40000},
        {"psn_no": "R2", "insutype": "390", "clct_month": "2024-01", "clct_type": "2", "amount": 40000},
    ])  # fmt: skip
    write_rows(tmp_path, "mdtrt_d", [
        {"mdtrt_id": "M1", "med_type": "11", "begntime": datetime(2024, 1, 5, 9), "endtime": datetime(2024, 1, 5, 10)},
        {"mdtrt_id": "M2", "med_type": "21", "begntime": datetime(2024, 3, 1, 9), "endtime": datetime(2024, 3, 11, 10)},
        {"mdtrt_id": "M3", "med_type": "21", "begntime": datetime(2024, 5, 1, 8), "endtime": datetime(2024, 5, 1, 18)},
        {"mdtrt_id": "M4", "med_type": "21", "begntime": datetime(2024, 6, 1, 8), "endtime": datetime(2024, 6, 6, 8)},
        {"mdtrt_id": "M5", "med_type": "41", "begntime": datetime(2024, 7, 1), "endtime": datetime(2024, 7, 1)},
        {"mdtrt_id": "M6", "med_type": "14", "begntime": datetime(2024, 8, 1), "endtime": datetime(2024, 8, 1)},
        {"mdtrt_id": "M7", "med_type": "11", "begntime": datetime(2024, 12, 1), "endtime": datetime(2024, 12, 1)},
    ])  # fmt: skip
    #         medfee  fulamt overlmt presel inscp  dedc   hifp   hifmi  maf   fund   part   acct  cash  mulaid
    m7 = _setl("S7", "M7", "E1", "310", "11", "H2", 12, (3000, 0, 0, 0, 3000, 0, 1500, 0, 0, 1500, 1500, 1500, 0, 0))
    rows = [
        _setl("S1", "M1", "E1", "310", "11", "H2", 1, (10000, 1000, 0, 500, 8500, 0, 4250, 0, 0, 4250, 5750, 5750, 0, 0)),
        _setl("S2", "M2", "E2", "310", "21", "H3", 3,
              (1000000, 50000, 10000, 40000, 900000, 100000, 712000, 0, 0, 712000, 288000, 100000, 188000, 0)),
        _setl("S3", "M3", "R1", "390", "21", "H1", 5,
              (500000, 0, 0, 20000, 480000, 20000, 368000, 0, 50000, 418000, 82000, 0, 82000, 0)),
        _setl("S4", "M4", "R2", "390", "21", "HBJ", 6,
              (800000, 100000, 0, 30000, 670000, 100000, 399000, 10000, 0, 409000, 391000, 0, 391000, 0)),
        _setl("S5", "M5", "E1", "310", "41", "P1", 7, (5000, 0, 0, 0, 5000, 0, 0, 0, 0, 0, 5000, 5000, 0, 0)),
        _setl("S6", "M6", "R2", "390", "14", "HSC", 8, (20000, 0, 0, 0, 20000, 0, 12000, 0, 0, 12000, 8000, 3000, 5000, 3000)),
        m7,
        _neg(m7, "S7R"),
    ]  # fmt: skip
    write_rows(tmp_path, "setl_d", rows)
    write_rows(tmp_path, "fee_list_d", [
        {"feedetl_sn": "F1", "mdtrt_id": "M1", "med_chrgitm_type": "09", "det_item_fee_sumamt": 6000},
        {"feedetl_sn": "F2", "mdtrt_id": "M1", "med_chrgitm_type": "02", "det_item_fee_sumamt": 4000},
        {"feedetl_sn": "F3", "mdtrt_id": "M5", "med_chrgitm_type": "11", "det_item_fee_sumamt": 5000},
        {"feedetl_sn": "F4", "mdtrt_id": "M7", "med_chrgitm_type": "09", "det_item_fee_sumamt": 3000},  # reversed: out
    ])  # fmt: skip
    return tmp_path


def test_person_times_by_type_net_of_reversals(ds: Path) -> None:
    ind = indicators(ds)
    e, r = ind["benefits"]["employee"], ind["benefits"]["resident"]
    assert e["by_kind"] == {"outpatient": 1, "chronic": 0, "inpatient": 1, "pharmacy": 1}
    assert r["by_kind"] == {"outpatient": 0, "chronic": 1, "inpatient": 2, "pharmacy": 0}
    for b in (e, r):
        assert b["person_times"] == sum(b["by_kind"].values())
    assert e["persons"] == 2 and r["persons"] == 2


def test_insured(ds: Path) -> None:
    c = indicators(ds)["insured"]
    assert c["total"] == 4 == c["employee"]["total"] + c["resident"]["total"]
    assert c["employee"] == {"total": 2, "in_service": 1, "retired": 1, "by_employer": {"enterprise": 2, "public": 0, "flexible_other": 0}}
    assert c["resident"] == {"total": 2, "adult": 1, "child": 1}
    assert c["in_service_per_retired"] == 1


def test_inpatient_cost_stay_and_fund_ratio(ds: Path) -> None:
    ip = indicators(ds)["inpatient"]
    e = ip["employee"]
    assert e["all"]["person_times"] == 1
    assert e["all"]["cost_per_time"] == Fraction(10000)  # yuan
    assert e["all"]["los"] == 10
    # 目录内基金支付比例 = fund ÷ (medfee − 全自费 − 超限价)
    assert e["all"]["fund_ratio"] == Fraction(712000, 1000000 - 50000 - 10000)
    assert e["all"]["fund_ratio_policy"] == Fraction(712000, 900000)
    assert e["3"]["fund_ratio"] == e["all"]["fund_ratio"] and e["2"]["person_times"] == 0 and e["2"]["fund_ratio"] is None
    r = ip["resident"]
    assert r["all"]["cost_per_time"] == Fraction(13000, 2)
    assert r["all"]["los"] == Fraction(1 + 5, 2)  # a same-day stay counts one day
    assert r["all"]["fund_ratio"] == Fraction(418000 + 409000, 500000 + 700000)
    assert r["all"]["fund_ratio_basic"] == Fraction(418000 + 409000 - 50000, 1200000)
    assert r["1"]["fund_ratio"] == Fraction(418000, 500000)  # the unrated hospital is 一级及以下
    assert r["3"]["fund_ratio"] == Fraction(409000, 700000)


def test_expenses_and_shares(ds: Path) -> None:
    ind = indicators(ds)
    e = ind["expenses"]["employee"]
    assert e["total"] == 10000 + 1000000 + 5000
    assert e["pharmacy"] == 5000 and e["facility"] == e["total"] - e["pharmacy"]
    assert e["facility_retired"] == 1000000 and e["facility_in_service"] == 10000
    assert ind["shares"]["pharmacy_share"] == Fraction(5000, 10000 + 1000000 + 5000 + 500000 + 800000 + 20000)
    # drug lines: 6000 (M1) + 5000 (M5) of 15000 in settled encounters; M7 was reversed
    assert ind["shares"]["drug_share"] == Fraction(11000, 15000)
    assert ind["shares"]["fee_lines"] == 4


def test_cross_region(ds: Path) -> None:
    c = indicators(ds)["cross_region"]
    assert c["resident"]["person_times"] == 2  # Beijing inpatient + another city's chronic visit
    assert c["resident"]["medfee"] == 820000
    assert c["employee"]["person_times"] == 0
    assert c["total"]["person_times"] == 2
    p = c["cross_province"]
    assert p["person_times"] == 1 and p["by_kind"]["inpatient"] == 1
    assert p["advance_avoided"] == 409000


def test_mutual_aid_and_assistance(ds: Path) -> None:
    ind = indicators(ds)
    assert ind["mutual_aid"] == {"amount": 3000, "person_times": 1}
    a = ind["assistance"]
    assert a["premium_aided_persons"] == 1 and a["premium_aided_amount"] == 40000
    assert a["inpatient_person_times"] == 1 and a["maf_pay"] == 50000
    assert a["per_inpatient"] == Fraction(500)
    assert a["persons"] == 1


def test_table_sums_to_the_totals(ds: Path) -> None:
    ind = indicators(ds)
    table = ind["table"]
    assert sum(r["person_times"] for r in table) == sum(b["person_times"] for b in ind["benefits"].values())
    assert sum(r["medfee"] for r in table) == sum(e["total"] for e in ind["expenses"].values())


def test_months_from_the_settlement_period(ds: Path) -> None:
    f = load(ds)
    assert (f.year, f.months) == (2024, 12)
    assert load(ds, months=6).months == 6


def test_fidelity_compare() -> None:
    exact = {s: dict(levels) for s, levels in BULLETIN_2024.items()}
    rows = compare(exact)
    assert len(rows) == 8 and all(r["within"] and r["diff_pp"] == 0 for r in rows)
    off = {"employee": {"all": Fraction("0.8179")}, "resident": {"all": Fraction("0.716")}}
    rows = {(r["scheme"], r["level"]): r for r in compare(off)}
    assert rows[("employee", "all")]["diff_pp"] == Decimal("-3.01") and rows[("employee", "all")]["within"] is False
    assert rows[("resident", "all")]["diff_pp"] == Decimal("3.00") and rows[("resident", "all")]["within"] is True
    assert rows[("resident", "3")]["within"] is None  # nothing computed


def test_fidelity_of_a_dataset(ds: Path) -> None:
    rows = {(r["scheme"], r["level"]): r for r in fidelity(ds)}
    assert rows[("employee", "all")]["computed"] == fmt.dec(Fraction(712000, 940000), 4)
    assert rows[("employee", "2")]["computed"] is None


def test_doctests() -> None:
    for mod in (fidelity_mod, sample):
        assert doctest.testmod(mod).failed == 0
