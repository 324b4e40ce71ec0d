"""settle-year on a small hand-made dataset: time order, accumulators, accounts, households, determinism."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from yibao.dataset.io import read_table, write_table
from yibao.settlement.batch import enrollment_from_years, settle_year

pytestmark = pytest.mark.integration


def _catalog_code(kind: str) -> str:
    from yibao.catalog.loader import default_catalog

    for item in default_catalog().items():
        if (
            item.list_type == kind
            and item.chrgitm_lv == "01"
            and item.restriction.is_empty
            and not item.pric_uplmt
        ):
            return item.med_list_codg
    raise AssertionError(kind)


def _dataset(folder: Path) -> None:
    drug = _catalog_code("drug")
    persons = pl.DataFrame(
        {
            "psn_no": ["E1", "R1", "R2"],
            "certno": ["", "", ""],
            "psn_name": ["", "", ""],
            "gend": ["1", "2", "1"],
            "brdy": [date(1980, 5, 1), date(1950, 1, 1), date(2015, 3, 3)],
            "insutype": ["310", "390", "390"],
            "psn_type": ["1101", "1501", "1402"],
            "insuplc_admdvs": ["990100"] * 3,
            "emp_no": ["EMP1", "", ""],
            "psn_idet_type": ["", "", "2302"],
            "death_date": [None, None, None],
            "acct_balc_begn": [100_00, 0, 0],
            "mulaid_psn_no": ["", "", "E1"],
        },
        schema_overrides={"death_date": pl.Date},
    )
    write_table(folder, "psn_info_b", persons)
    write_table(
        folder,
        "psn_insu_d",
        pl.DataFrame(
            {
                "psn_no": ["E1", "R1", "R2"],
                "insutype": ["310", "390", "390"],
                "begndate": [date(2015, 1, 1)] * 3,
                "enddate": [None] * 3,
                "in_window": ["1"] * 3,
                "repaid": ["0"] * 3,
                "zero_claim": ["0"] * 3,
            },
            schema_overrides={"enddate": pl.Date},
        ),
    )
    write_table(
        folder,
        "fixmedins_b",
        pl.DataFrame(
            {
                "fixmedins_code": ["H1", "P1"],
                "fixmedins_name": ["一院", "药房"],
                "fixmedins_type": ["1", "2"],
                "hosp_lv": ["01", ""],
                "admdvs": ["990100"] * 2,
                "bed_cnt": [500, 0],
            }
        ),
    )
    # E1: two pharmacy purchases (the account runs dry), R2 (a child) a purchase paid by E1's account
    # through 家庭共济, R1 two inpatient stays (the second is admission no. 2).
    rows = [
        ("M1", "E1", "P1", "41", datetime(2024, 2, 1, 10), "310"),
        ("M2", "E1", "P1", "41", datetime(2024, 3, 1, 10), "310"),
        ("M3", "R2", "P1", "41", datetime(2024, 2, 15, 10), "390"),
        ("M4", "R1", "H1", "21", datetime(2024, 4, 10, 10), "390"),
        ("M5", "R1", "H1", "21", datetime(2024, 6, 10, 10), "390"),
    ]
    write_table(
        folder,
        "mdtrt_d",
        pl.DataFrame(
            {
                "mdtrt_id": [r[0] for r in rows],
                "psn_no": [r[1] for r in rows],
                "fixmedins_code": [r[2] for r in rows],
                "med_type": [r[3] for r in rows],
                "begntime": [r[4] for r in rows],
                "endtime": [r[4] for r in rows],
                "dscg_maindiag_code": [""] * 5,
                "dscg_maindiag_name": [""] * 5,
                "dept_codg": [""] * 5,
                "atddr_no": [""] * 5,
                "insutype": [r[5] for r in rows],
                "adm_bed": [""] * 5,
                "dscg_way": [""] * 5,
            }
        ),
    )
    write_table(
        folder,
        "setl_list_diag_d",
        pl.DataFrame(
            {
                "mdtrt_id": ["M4"],
                "diag_type": ["1"],
                "maindiag_flag": ["1"],
                "diag_code": ["J18.900"],
                "diag_name": ["肺炎"],
            }
        ),
    )
    amounts = {"M1": 80_00, "M2": 80_00, "M3": 30_00, "M4": 5000_00, "M5": 3000_00}
    write_table(
        folder,
        "fee_list_d",
        pl.DataFrame(
            {
                "feedetl_sn": [f"F{m}" for m in amounts],
                "mdtrt_id": list(amounts),
                "psn_no": [r[1] for r in rows],
                "fixmedins_code": [r[2] for r in rows],
                "med_list_codg": [drug] * 5,
                "med_chrgitm_type": ["09"] * 5,
                "fee_ocur_time": [r[4] for r in rows],
                "cnt": [1_0000] * 5,
                "pric": [a * 10_000 for a in amounts.values()],
                "det_item_fee_sumamt": list(amounts.values()),
                "bilg_dr_codg": [""] * 5,
                "bilg_dept_codg": [""] * 5,
                "rxno": [""] * 5,
                "prd_days": [0] * 5,
            }
        ),
    )
    write_table(
        folder,
        "contribution_d",
        pl.DataFrame(
            {
                "psn_no": ["E1"],
                "emp_no": ["EMP1"],
                "insutype": ["310"],
                "clct_month": ["2024-03"],
                "clct_type": ["2"],
                "amount": [200_00],
                "to_account": [200_00],
            }
        ),
    )


def test_a_year_is_settled_in_time_order_with_accounts_households_and_admissions(tmp_path: Path) -> None:
    _dataset(tmp_path)
    result = settle_year(tmp_path, workers=1)
    assert result.failed == 0 and result.settlements == 5
    setl = read_table(tmp_path, "setl_d").sort("setl_time")
    by = {r["mdtrt_id"]: r for r in setl.iter_rows(named=True)}
    # identities on every row
    for r in by.values():
        assert r["medfee_sumamt"] == r["fund_pay_sumamt"] + r["psn_part_amt"] + r["hosp_part_amt"]
        assert r["psn_part_amt"] == r["acct_pay"] + r["psn_cash_pay"]
    # E1 begins with 100.00: the first purchase's self-pay is paid from it; R2's purchase (15 Feb) is
    # paid by E1's account through 家庭共济 from what is left; the March credit of 200.00 arrives before M2.
    assert by["M3"]["acct_mulaid_pay"] > 0 and by["M3"]["acct_pay"] == by["M3"]["acct_mulaid_pay"]
    spent_before_march = by["M1"]["acct_pay"] + by["M3"]["acct_mulaid_pay"]
    assert spent_before_march <= 100_00
    assert by["M2"]["balc"] == 100_00 - spent_before_march + 200_00 - by["M2"]["acct_pay"]
    # R1's second stay bears the repeat-admission deductible (三级: 1,000 then 500)
    assert by["M4"]["act_pay_dedc"] == 1000_00 and by["M5"]["act_pay_dedc"] == 500_00


def test_the_output_is_the_same_whatever_the_number_of_workers(tmp_path: Path) -> None:
    _dataset(tmp_path)
    settle_year(tmp_path, workers=1)
    one = (tmp_path / "setl_d.parquet").read_bytes()
    settle_year(tmp_path, workers=2)
    assert (tmp_path / "setl_d.parquet").read_bytes() == one


def test_enrolment_history_gives_continuity_breaks_and_repairs() -> None:
    e = enrollment_from_years(2025, enrolled={2016, 2017, 2018, 2019, 2020, 2024, 2025}, repaid={2023})
    assert e.continuous_years == 2
    assert e.break_years == 3 and e.repaid_years == 1
    assert e.prior_continuous_years == (5,)
