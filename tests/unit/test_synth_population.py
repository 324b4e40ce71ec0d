"""Persons, employers, enrolment histories and contributions of the synthetic region."""

from __future__ import annotations

import doctest
import random
from datetime import date

import numpy as np
import polars as pl
import pytest

from yibao import ids, money
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.settlement.batch import enrollment_from_years
from yibao.synth import names, population
from yibao.synth.population import (
    categories,
    certno_check_chars,
    dedupe_certno_keys,
    make_employers,
    make_persons,
    region_counts,
    round_div_array,
)
from yibao.synth.targets import TARGETS

YEAR = 2024
N = 20_000


@pytest.fixture(scope="module")
def employers() -> pl.DataFrame:
    return make_employers(np.random.default_rng(11), N)


@pytest.fixture(scope="module")
def region(employers: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return make_persons(
        np.random.default_rng(12), N, chunk=0, first_seq=0, year=YEAR, employers=employers, admdvs="990100"
    )


@pytest.fixture(scope="module")
def psn(region: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return region["psn_info_b"].with_columns(
        (YEAR - 1 - pl.col("brdy").dt.year()).clip(0, None).alias("age"),
        (pl.col("brdy").dt.year() == YEAR).alias("newborn"),
    )


def test_doctests_pass() -> None:
    for module in (population, names):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("name", ["psn_info_b", "psn_insu_d", "contribution_d"])
def test_person_tables_have_the_schema_columns_and_kinds(region: dict[str, pl.DataFrame], name: str) -> None:
    frame = region[name]
    assert frame.columns == list(TABLES[name].names)
    assert dict(frame.schema) == polars_schema(TABLES[name])


def test_employer_table_has_the_schema_columns_and_kinds(employers: pl.DataFrame) -> None:
    schema = polars_schema(TABLES["emp_b"])
    assert {c: employers.schema[c] for c in schema} == schema


def test_employee_resident_split_follows_the_bulletin(psn: pl.DataFrame) -> None:
    share = (psn["insutype"] == "310").mean()
    target = TARGETS["insured.employees"].value / (
        TARGETS["insured.employees"].value + TARGETS["insured.residents"].value
    )
    assert share == pytest.approx(target, rel=0.01)


def test_in_service_to_retired_is_2_63(psn: pl.DataFrame) -> None:
    in_service = psn["psn_type"].str.starts_with("11").sum()
    retired = psn["psn_type"].str.starts_with("12").sum()
    assert in_service / retired == pytest.approx(TARGETS["employee.in_service_per_retired"].value, rel=0.01)


def test_employer_kinds_follow_the_bulletin_shares(psn: pl.DataFrame, employers: pl.DataFrame) -> None:
    emp = psn.filter(pl.col("insutype") == "310").join(employers, on="emp_no", how="left")
    assert emp["emp_type"].null_count() == 0
    for code, target in (("1", "enterprise"), ("2", "public"), ("3", "flexible")):
        share = (emp["emp_type"] == code).mean()
        assert share == pytest.approx(TARGETS[f"employee.share_{target}"].value, rel=0.02)


def test_split_is_exact_and_independent_of_chunking() -> None:
    whole = categories(0, 10_000)
    parts = [categories(first, 2_500) for first in range(0, 10_000, 2_500)]
    for a, b in zip(whole, (np.concatenate(p) for p in zip(*parts, strict=True)), strict=True):
        assert np.array_equal(a, b)
    c = region_counts(1_000_000)
    assert c.in_service / c.retired == pytest.approx(2.629, abs=0.001)
    assert c.employees + c.residents == 1_000_000


def test_employer_head_counts_are_the_employees_they_get_across_chunks() -> None:
    n = 9_000
    emp = make_employers(np.random.default_rng(5), n)
    chunks = [
        make_persons(np.random.default_rng(i), 3_000, chunk=i, first_seq=3_000 * i, year=YEAR, employers=emp,
                     admdvs="990100")["psn_info_b"]
        for i in range(3)
    ]  # fmt: skip
    persons = pl.concat(chunks)
    assert persons["psn_no"].n_unique() == n
    got = persons.filter(pl.col("emp_no") != "").group_by("emp_no").len()
    joined = emp.join(got, on="emp_no", how="left").with_columns(pl.col("len").fill_null(0))
    assert (joined["len"] == joined["emp_size"]).all()


def test_employer_sizes_are_heavy_tailed() -> None:
    emp = make_employers(np.random.default_rng(2), 500_000).filter(pl.col("emp_type") == "1")
    sizes = emp["emp_size"]
    assert (sizes < 10).mean() > 0.6  # most firms are small
    assert sizes.max() >= 100 * sizes.median()  # a few are very large
    assert (emp["emp_name"].str.ends_with("公司")).all()


def test_flexible_workers_share_one_pseudo_employer(psn: pl.DataFrame) -> None:
    flex = psn.filter(pl.col("psn_type").is_in(["1103", "1203"]))
    assert flex.height > 0
    assert flex["emp_no"].unique().to_list() == [population.flexible_emp_no("990100")]


def test_retirees_are_old_and_in_service_employees_of_working_age(psn: pl.DataFrame) -> None:
    retired = psn.filter(pl.col("psn_type").str.starts_with("12"))
    of_age = ((retired["gend"] == "1") & (retired["age"] >= 60)) | (
        (retired["gend"] == "2") & (retired["age"] >= 50)
    )
    assert of_age.mean() > 0.9
    working = psn.filter(pl.col("psn_type").str.starts_with("11"))
    assert working["age"].min() >= 16
    assert working["age"].max() <= 65


def test_residents_hold_the_children_and_more_of_the_elderly(psn: pl.DataFrame) -> None:
    residents = psn.filter(pl.col("insutype") == "390")
    assert psn.filter(pl.col("age") < 16)["insutype"].unique().to_list() == ["390"]
    assert (residents["age"] >= 60).mean() > 0.15
    share_60 = (psn["age"] >= 60).mean()
    assert 0.19 < share_60 < 0.25  # China 2024: 22 % aged 60 or more


def test_resident_person_types_follow_age(psn: pl.DataFrame) -> None:
    residents = psn.filter(pl.col("insutype") == "390")
    by_type = residents.group_by("psn_type").agg(
        pl.col("age").min().alias("lo"), pl.col("age").max().alias("hi")
    )
    ranges = {t: (lo, hi) for t, lo, hi in by_type.iter_rows()}
    assert ranges["1401"][1] == 0
    assert ranges["1402"] == (3, 6)
    assert ranges["1403"][0] >= 7 and ranges["1403"][1] <= 17
    assert ranges["1404"][0] >= 18 and ranges["1404"][1] <= 22
    assert ranges["1501"][0] >= 18
    assert set(ranges) <= {"1401", "1402", "1403", "1404", "1405", "1501"}


def test_assistance_categories_have_plausible_shares(psn: pl.DataFrame) -> None:
    residents = psn.filter(pl.col("insutype") == "390")
    assert (psn.filter(pl.col("insutype") == "310")["psn_idet_type"] == "").all()
    for code in ("2302", "2304"):
        share = (residents["psn_idet_type"] == code).mean()
        assert share == pytest.approx(population.ASSISTANCE_SHARES[code][0], rel=0.2)
    tekun = residents.filter(pl.col("psn_idet_type") == "2301")
    assert (tekun["age"] >= 60).mean() > 0.5
    assert (residents.filter(pl.col("psn_idet_type") == "2306")["age"] < 18).all()


def test_identity_numbers_are_valid_unique_and_match_the_person(psn: pl.DataFrame) -> None:
    assert psn["certno"].n_unique() == psn.height
    for certno, gend, brdy in psn.select("certno", "gend", "brdy").iter_rows():
        c = ids.validate_certno(certno, on=date(YEAR, 12, 31))
        assert (c.gend, c.birth_date) == (gend, brdy)
        assert c.area.startswith(ids.SYNTHETIC_AREA_PREFIX)


def test_vectorised_check_digit_is_the_ids_rule() -> None:
    rng = random.Random(7)
    keys = [rng.randrange(10**16, 10**17) for _ in range(2_000)]
    got = certno_check_chars(np.array(keys, dtype=np.int64)).to_list()
    assert got == [ids.certno_check_digit(str(k)) for k in keys]


def test_duplicate_identity_keys_move_to_a_free_sequence_number() -> None:
    key = 99010219900101001  # area 990102, 1990-01-01, sequence 001 (a man)
    fixed = dedupe_certno_keys(
        np.array([key, key, key], dtype=np.int64), np.array([key + 10], dtype=np.int64)
    )
    assert len(set(fixed.tolist())) == 3
    assert key + 10 not in fixed.tolist()
    assert all(k % 2 == 1 and k // 1000 == key // 1000 for k in fixed.tolist())  # same date, area and sex


def test_names_are_chinese_with_common_surnames_first(psn: pl.DataFrame) -> None:
    lengths = psn["psn_name"].str.len_chars()
    assert lengths.min() >= 2 and lengths.max() <= 4
    top = psn["psn_name"].str.slice(0, 1).value_counts(sort=True)["psn_name"].head(5).to_list()
    assert set(top) <= {"王", "李", "张", "刘", "陈", "杨"}


def test_deaths_are_in_the_year_after_birth_and_enrolment(
    region: dict[str, pl.DataFrame], psn: pl.DataFrame
) -> None:
    dead = psn.filter(pl.col("death_date").is_not_null())
    assert 0.004 < dead.height / psn.height < 0.012
    assert (dead["death_date"].dt.year() == YEAR).all()
    assert (dead["death_date"] >= dead["brdy"]).all()
    assert dead["age"].mean() > psn["age"].mean() + 20  # deaths are mostly of the old
    current = region["psn_insu_d"].filter(pl.col("begndate").dt.year() == YEAR)
    closed = current.filter(pl.col("enddate").is_not_null()).join(dead, on="psn_no")
    assert closed.height == dead.height
    assert (closed["enddate"] == closed["death_date"]).all()
    assert (closed["begndate"] <= closed["death_date"]).all()


def test_every_person_has_one_current_enrolment_and_a_history(
    region: dict[str, pl.DataFrame], psn: pl.DataFrame
) -> None:
    insu = region["psn_insu_d"]
    current = insu.filter(pl.col("begndate").dt.year() == YEAR)
    assert current["psn_no"].n_unique() == current.height == psn.height
    assert insu["begndate"].dt.year().min() == YEAR - population.HISTORY_YEARS
    newborns = current.join(psn.filter(pl.col("newborn")), on="psn_no")
    assert newborns.height > 0 and (newborns["begndate"] == newborns["brdy"]).all()
    repaid = insu.filter(pl.col("repaid") == "1")
    assert repaid.height > 0 and (repaid["zero_claim"] == "").all()
    assert (current["zero_claim"] == "").all()
    late = current.filter(pl.col("in_window") == "0").join(psn, on="psn_no")
    assert late.height > 0 and (late["insutype"] == "390").all()
    assert (late["begndate"] > date(YEAR, 1, 31)).all()


def test_histories_read_as_breaks_repairs_and_zero_claim_years(region: dict[str, pl.DataFrame]) -> None:
    insu = region["psn_insu_d"].with_columns(pl.col("begndate").dt.year().alias("y"))
    grouped = insu.group_by("psn_no", maintain_order=True).agg("y", "repaid", "zero_claim")
    seen = {"break": 0, "repaid": 0, "zero": 0}
    for _, years, repaid, zero in grouped.head(4_000).iter_rows():
        e = enrollment_from_years(
            YEAR,
            enrolled={y for y, r in zip(years, repaid, strict=True) if r == "0"},
            repaid={y for y, r in zip(years, repaid, strict=True) if r == "1"},
            zero_claim={y for y, z in zip(years, zero, strict=True) if z == "1"},
        )
        seen["break"] += e.break_years > 0
        seen["repaid"] += e.repaid_years > 0
        seen["zero"] += e.zero_claim_years > 0
        assert e.continuous_years >= 1
    assert seen["break"] > 50 and seen["repaid"] > 10 and seen["zero"] > 1_000


def test_accounts_belong_to_employees_only(psn: pl.DataFrame) -> None:
    residents = psn.filter(pl.col("insutype") == "390")
    assert (residents["acct_balc_begn"] == 0).all()
    employees = psn.filter(pl.col("insutype") == "310")
    mean_yuan = employees["acct_balc_begn"].mean() / 100  # type: ignore[operator]
    assert 2_500 < mean_yuan < 5_500  # bulletin: 14471.75亿 over 37948.34万 employees ≈ 3,800


def test_family_links_point_to_employees_of_a_fitting_age(psn: pl.DataFrame) -> None:
    linked = psn.filter(pl.col("mulaid_psn_no") != "")
    assert (linked["insutype"] == "390").all()
    assert 0.1 < linked.height / (psn["insutype"] == "390").sum() < 0.35
    relative = psn.select(pl.col("psn_no").alias("mulaid_psn_no"), pl.col("insutype").alias("r_ins"),
                          pl.col("age").alias("r_age"), pl.col("acct_balc_begn").alias("r_acct"))  # fmt: skip
    pairs = linked.join(relative, on="mulaid_psn_no")
    assert pairs.height == linked.height and (pairs["r_ins"] == "310").all()
    children = pairs.filter(pl.col("age") < 18)
    assert ((children["r_age"] - children["age"]).median() or 0) > 18


def test_contributions_follow_the_region_rules(region: dict[str, pl.DataFrame], psn: pl.DataFrame) -> None:
    c = region["contribution_d"].join(
        psn.select("psn_no", "psn_type", "psn_idet_type", "death_date"), on="psn_no"
    )
    own = c.filter(pl.col("clct_type") == "2", pl.col("insutype") == "310")
    assert (own["to_account"] == own["amount"]).all()  # the employee's 2 % goes to the account
    unit = c.filter(pl.col("clct_type") == "1")
    floor = round_div_array(np.array([population.AVERAGE_WAGE * 60 * population.EMPLOYER_RATE_BP]), 10_000)[0]
    assert unit["amount"].min() >= floor and (unit["to_account"] == 0).all()
    retiree = c.filter(pl.col("clct_type") == "6")
    assert retiree["psn_type"].str.starts_with("12").all()
    assert set(retiree["amount"].unique().to_list()) <= set(population.RETIREE_CREDIT_FEN)
    assert (retiree["to_account"] == retiree["amount"]).all()
    residents = c.filter(pl.col("insutype") == "390")
    per = residents.group_by("psn_no", "psn_idet_type").agg(
        pl.col("amount").filter(pl.col("clct_type").is_in(["2", "4"])).sum().alias("premium"),
        pl.col("amount").filter(pl.col("clct_type") == "3").sum().alias("subsidy"),
        (pl.col("clct_type") == "2").any().alias("pays_self"),
    )
    assert per.height == (psn["insutype"] == "390").sum()
    assert (per["premium"] == population.RESIDENT_PREMIUM_FEN).all()
    assert (per["subsidy"] == population.RESIDENT_SUBSIDY_FEN).all()
    assert not per.filter(pl.col("psn_idet_type").is_in(["2301", "2302"]))["pays_self"].any()
    after_death = c.filter(
        pl.col("death_date").is_not_null()
        & (pl.col("clct_month") > pl.col("death_date").dt.strftime("%Y-%m"))
    )
    assert after_death.height == 0


def test_fund_income_per_insured_is_near_the_bulletin(
    region: dict[str, pl.DataFrame], psn: pl.DataFrame
) -> None:
    c = region["contribution_d"].filter(pl.col("clct_type") != "6")  # 6 is a transfer within the fund
    income = dict(c.group_by("insutype").agg(pl.col("amount").sum()).iter_rows())
    employees = (psn["insutype"] == "310").sum()
    employee = income["310"] / 100 / employees
    resident = income["390"] / 100 / (psn.height - employees)
    assert employee == pytest.approx(23732.47e8 / 37948.34e4, rel=0.10)
    assert resident == pytest.approx(11180.91e8 / 94713.73e4, rel=0.12)


def test_vectorised_rounding_is_the_one_rule() -> None:
    rng = np.random.default_rng(3)
    nums = rng.integers(0, 10**12, 5_000)
    for den in (2, 100, 10_000, 7):
        got = round_div_array(nums, den).tolist()
        assert got == [money.round_div(int(x), den) for x in nums.tolist()]


def test_same_generator_gives_the_same_persons(employers: pl.DataFrame) -> None:
    def make() -> dict[str, pl.DataFrame]:
        return make_persons(
            np.random.default_rng(99), 3_000, chunk=4, first_seq=12_000, year=YEAR, employers=employers,
            admdvs="990100",
        )  # fmt: skip

    a, b = make(), make()
    for name in a:
        assert a[name].equals(b[name])
    assert a["psn_info_b"]["psn_no"][0] == "99010000000000012001"
