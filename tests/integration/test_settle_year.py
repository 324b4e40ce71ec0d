"""settle-year on a small hand-made dataset: time order, accumulators, accounts, households, determinism."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

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


def _children_only_code() -> str:
    """A catalogue drug restricted to patients of at most 17 (限儿童) and nothing else."""
    from yibao.catalog.loader import default_catalog
    from yibao.catalog.model import Restriction

    for item in default_catalog().items():
        if (
            item.restriction == Restriction(age_max=17, text=item.restriction.text)
            and item.chrgitm_lv != "03"
        ):
            return item.med_list_codg
    raise AssertionError("no 限儿童 drug")


def _append(folder: Path, name: str, rows: dict[str, list[Any]]) -> None:
    """Add rows to a table of the dataset; columns not given are empty strings."""
    table = read_table(folder, name)
    n = len(next(iter(rows.values())))
    extra = pl.DataFrame({c: rows.get(c, [""] * n) for c in table.columns}, schema=table.schema)
    write_table(folder, name, pl.concat([table, extra]))


def _encounter(folder: Path, mdtrt_id: str, psn_no: str, when: datetime, med_type: str = "11") -> None:
    _append(folder, "mdtrt_d", {"mdtrt_id": [mdtrt_id], "psn_no": [psn_no], "fixmedins_code": ["H1"],
                                "med_type": [med_type], "begntime": [when], "endtime": [when], "insutype": ["390"]})  # fmt: skip


def _lines(folder: Path, mdtrt_id: str, code: str, amounts: list[int]) -> None:
    n = len(amounts)
    _append(folder, "fee_list_d", {"feedetl_sn": [f"F{mdtrt_id}-{i}" for i in range(n)], "mdtrt_id": [mdtrt_id] * n,
                                   "med_list_codg": [code] * n, "med_chrgitm_type": ["09"] * n,
                                   "fee_ocur_time": [None] * n, "cnt": [1_0000] * n,
                                   "pric": [a * 10_000 for a in amounts], "det_item_fee_sumamt": amounts,
                                   "prd_days": [0] * n})  # fmt: skip


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


def test_age_is_counted_to_the_day_of_care(tmp_path: Path) -> None:
    """A 限儿童 drug (at most 17) is payable in the year before the 18th birthday and self-paid from it."""
    _dataset(tmp_path)
    _append(tmp_path, "psn_info_b", {"psn_no": ["K1"], "gend": ["2"], "brdy": [date(2006, 12, 5)], "insutype": ["390"],
                                     "psn_type": ["1501"], "insuplc_admdvs": ["990100"], "death_date": [None],
                                     "acct_balc_begn": [0]})  # fmt: skip
    _append(tmp_path, "psn_insu_d", {"psn_no": ["K1"], "insutype": ["390"], "begndate": [date(2015, 1, 1)],
                                     "enddate": [None], "in_window": ["1"], "repaid": ["0"], "zero_claim": ["0"]})  # fmt: skip
    code = _children_only_code()
    for mdtrt_id, day in (
        ("K17a", date(2024, 1, 2)),
        ("K17b", date(2024, 12, 4)),
        ("K18", date(2024, 12, 5)),
    ):
        _encounter(tmp_path, mdtrt_id, "K1", datetime(day.year, day.month, day.day, 9))
        _lines(tmp_path, mdtrt_id, code, [40_00])
    result = settle_year(tmp_path, workers=2)
    assert result.failed == 0
    by = {r["mdtrt_id"]: r for r in read_table(tmp_path, "setl_d").iter_rows(named=True)}
    for payable in ("K17a", "K17b"):
        assert by[payable]["fulamt_ownpay_amt"] == 0
        assert by[payable]["inscp_scp_amt"] + by[payable]["preselfpay_amt"] == 40_00
    assert by["K18"]["fulamt_ownpay_amt"] == 40_00


def test_identical_lines_are_each_settled_and_bad_encounters_are_reported(tmp_path: Path) -> None:
    _dataset(tmp_path)
    drug = _catalog_code("drug")
    _encounter(tmp_path, "M6", "R1", datetime(2024, 7, 1, 9))
    _lines(tmp_path, "M6", drug, [12_34, 12_34, 12_34])  # the same item, price and count three times
    _encounter(tmp_path, "M7", "NOBODY", datetime(2024, 7, 2, 9))  # not in the register
    _lines(tmp_path, "M7", drug, [1_00])
    _encounter(tmp_path, "M8", "R1", datetime(2024, 7, 3, 9))  # no fee lines
    result = settle_year(tmp_path, workers=2)
    assert result.failures == (("M7", "unknown person"), ("M8", "no fee lines"))
    assert (result.settlements, result.encounters) == (6, 8)
    m6 = read_table(tmp_path, "setl_d").filter(pl.col("mdtrt_id") == "M6").row(0, named=True)
    assert m6["medfee_sumamt"] == 3 * 12_34


def test_more_parts_than_workers_give_the_same_file(tmp_path: Path) -> None:
    _dataset(tmp_path)
    settle_year(tmp_path, workers=1)
    one = (tmp_path / "setl_d.parquet").read_bytes()
    settle_year(tmp_path, workers=2, part_encounters=1)  # 2 workers × 3 rounds of households
    assert (tmp_path / "setl_d.parquet").read_bytes() == one


def test_the_year_is_written_in_slices_that_do_not_depend_on_the_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices of about two rows: several row groups, in time order, the same file from one part or six."""
    import pyarrow.parquet as pq

    from yibao.settlement import batch

    monkeypatch.setattr(batch, "_WRITE_ROWS", 2)
    _dataset(tmp_path)
    settle_year(tmp_path, workers=1)
    one = (tmp_path / "setl_d.parquet").read_bytes()
    settle_year(tmp_path, workers=2, part_encounters=1)
    assert (tmp_path / "setl_d.parquet").read_bytes() == one
    assert pq.ParquetFile(tmp_path / "setl_d.parquet").metadata.num_row_groups >= 2
    setl = read_table(tmp_path, "setl_d", ["setl_time", "setl_id"])
    assert setl.height > 2 and setl.equals(setl.sort("setl_time", "setl_id"))


def test_a_line_not_in_the_catalogue_is_named_by_its_place_in_line_order(tmp_path: Path) -> None:
    """The lines of a bill are stored out of order; the bad one is the second by feedetl_sn."""
    _dataset(tmp_path)
    drug = _catalog_code("drug")
    _encounter(tmp_path, "M9", "R1", datetime(2024, 8, 1, 9))
    _append(tmp_path, "fee_list_d", {"feedetl_sn": ["FM9-3", "FM9-1", "FM9-2"], "mdtrt_id": ["M9"] * 3,
                                     "med_list_codg": [drug, drug, "NOT-A-CODE"], "med_chrgitm_type": ["09"] * 3,
                                     "fee_ocur_time": [None] * 3, "cnt": [1_0000] * 3, "pric": [10_000] * 3,
                                     "det_item_fee_sumamt": [1] * 3, "prd_days": [0] * 3})  # fmt: skip
    for workers, part_encounters in ((1, 400_000), (2, 1)):
        result = settle_year(tmp_path, workers=workers, part_encounters=part_encounters)
        assert [m for m, _ in result.failures] == ["M9"]
        assert result.failures[0][1].startswith("feedetail[1].med_list_codg: 'NOT-A-CODE'")


def test_the_waves_write_the_file_the_engine_writes_bill_by_bill(tmp_path: Path) -> None:
    """Households, 家庭共济, repeat admissions, a bad line and an unknown person: the waves and the
    engine settling one bill at a time give the same setl_d, byte for byte."""
    _dataset(tmp_path)
    _encounter(tmp_path, "M7", "NOBODY", datetime(2024, 7, 2, 9))
    _lines(tmp_path, "M7", _catalog_code("drug"), [1_00])
    _encounter(tmp_path, "M9", "R1", datetime(2024, 8, 1, 9))
    _lines(tmp_path, "M9", "NOT-A-CODE", [1_00])
    _encounter(tmp_path, "M10", "E1", datetime(2024, 8, 2, 9), med_type="99")  # no such 医疗类别
    _lines(tmp_path, "M10", _catalog_code("drug"), [1_00])
    waves = settle_year(tmp_path, workers=1)
    one = (tmp_path / "setl_d.parquet").read_bytes()
    engine = settle_year(tmp_path, workers=1, waves=False)
    assert (tmp_path / "setl_d.parquet").read_bytes() == one
    assert waves.failures == engine.failures and [m for m, _ in waves.failures] == ["M10", "M7", "M9"]


def test_the_command_settles_with_or_without_waves(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from yibao.cli import app

    _dataset(tmp_path)
    files = []
    for flag, waved in (("--waves", 5), ("--no-waves", 0)):
        result = CliRunner().invoke(app, ["settle-year", str(tmp_path), "--workers", "1", flag])
        assert result.exit_code == 0, result.output
        assert f"settled 5 of 5 encounters ({waved} in waves)" in result.output
        files.append((tmp_path / "setl_d.parquet").read_bytes())
    assert files[0] == files[1]
