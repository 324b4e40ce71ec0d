"""Institutions, departments and staff of the synthetic region."""

from __future__ import annotations

import doctest
import re

import numpy as np
import polars as pl
import pytest

from yibao.codes import coarse_hosp_lv
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.synth import institutions
from yibao.synth.institutions import CATY, make_institutions


@pytest.fixture(scope="module")
def region() -> dict[str, pl.DataFrame]:
    return make_institutions(np.random.default_rng(4), 1_000_000)


def _levels(fixmedins: pl.DataFrame) -> pl.DataFrame:
    return fixmedins.with_columns(
        pl.col("hosp_lv")
        .map_elements(lambda v: coarse_hosp_lv(v or None), return_dtype=pl.String)
        .alias("lv")
    )


def test_doctests_pass() -> None:
    assert doctest.testmod(institutions, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("name", ["fixmedins_b", "dept_b", "medstaff_b"])
def test_tables_have_the_schema_columns_and_kinds(region: dict[str, pl.DataFrame], name: str) -> None:
    assert region[name].columns == list(TABLES[name].names)
    assert dict(region[name].schema) == polars_schema(TABLES[name])


@pytest.mark.parametrize("persons", [1, 1_000, 5_000])
def test_even_a_tiny_region_has_every_level_and_a_pharmacy(persons: int) -> None:
    inst = _levels(make_institutions(np.random.default_rng(1), persons)["fixmedins_b"])
    hospitals = inst.filter((pl.col("fixmedins_type") == "1") & (pl.col("bed_cnt") > 0))
    assert set(hospitals["lv"].to_list()) == {"1", "2", "3"}
    assert (inst["fixmedins_type"] == "2").sum() >= 1


def test_counts_follow_the_national_density(region: dict[str, pl.DataFrame]) -> None:
    inst = _levels(region["fixmedins_b"])
    named = inst.with_columns(
        pl.col("fixmedins_name").str.contains("社区卫生服务中心|镇卫生院|诊所|门诊部").alias("primary")
    )
    hospitals = named.filter((pl.col("fixmedins_type") == "1") & ~pl.col("primary"))
    by_level = dict(hospitals.group_by("lv").len().iter_rows())
    assert by_level == {"3": 3, "2": 8, "1": 17}  # 0.29, 0.85, 1.70 per 100,000 insured
    assert (inst["fixmedins_type"] == "2").sum() == 380  # 3.8 per 10,000
    assert named["primary"].sum() == 53 + 80


def test_beds_are_in_each_level_range(region: dict[str, pl.DataFrame]) -> None:
    inst = _levels(region["fixmedins_b"])
    hospitals = inst.filter(
        pl.col("fixmedins_name").str.ends_with("医院") | pl.col("fixmedins_name").str.ends_with("保健院")
    )
    for lv, (lo, hi) in {"3": (800, 3000), "2": (200, 800), "1": (20, 150)}.items():
        beds = hospitals.filter(pl.col("lv") == lv)["bed_cnt"]
        assert beds.min() >= lo and beds.max() <= hi  # type: ignore[operator]
    assert (inst.filter(pl.col("fixmedins_type") == "2")["bed_cnt"] == 0).all()
    assert 5 < inst["bed_cnt"].sum() / 1_000 < 10  # beds per 1,000 insured (China ≈ 7)


def test_codes_are_national_in_style_and_unique(region: dict[str, pl.DataFrame]) -> None:
    inst = region["fixmedins_b"]
    assert inst["fixmedins_code"].n_unique() == inst.height
    for code, kind in inst.select("fixmedins_code", "fixmedins_type").iter_rows():
        assert re.fullmatch(("P" if kind == "2" else "H") + r"990100\d{5}", code)
    staff = region["medstaff_b"]
    assert staff["staff_codg"].n_unique() == staff.height
    for code, kind in staff.select("staff_codg", "staff_type").iter_rows():
        assert re.fullmatch({"1": "D", "2": "Y", "3": "N"}[kind] + r"990100\d{7}", code)
    assert set(inst["hosp_lv"].unique().to_list()) <= {"", *(f"{i:02d}" for i in range(1, 11))}


def test_departments_carry_caty_and_share_the_beds(region: dict[str, pl.DataFrame]) -> None:
    dept = region["dept_b"]
    assert dept.select("fixmedins_code", "dept_codg").n_unique() == dept.height
    assert set(dept["caty"].unique().to_list()) <= set(CATY)
    beds = dept.group_by("fixmedins_code").agg(pl.col("bed_cnt").sum().alias("dept_beds"))
    joined = region["fixmedins_b"].join(beds, on="fixmedins_code")
    assert joined.height == region["fixmedins_b"].height  # every unit has departments
    assert (joined["dept_beds"] == joined["bed_cnt"]).all()
    first = dept.filter(pl.col("fixmedins_code") == "H99010000001")["caty"].to_list()
    assert {"A03.04", "A04.01", "A05.02", "A07", "A20"} <= set(first)


def test_staff_work_in_existing_departments(region: dict[str, pl.DataFrame]) -> None:
    staff = region["medstaff_b"]
    joined = staff.join(region["dept_b"], on=["fixmedins_code", "dept_codg"], how="left")
    assert joined["caty"].null_count() == 0
    inst = region["fixmedins_b"]
    per = staff.group_by("fixmedins_code").agg(
        (pl.col("staff_type") == "1").sum().alias("doctors"),
        (pl.col("staff_type") == "2").sum().alias("pharmacists"),
    )
    units = inst.join(per, on="fixmedins_code", how="left").fill_null(0)
    assert (units.filter(pl.col("fixmedins_type") == "1")["doctors"] >= 1).all()
    assert (units.filter(pl.col("fixmedins_type") == "2")["pharmacists"] >= 1).all()
    doctors = (staff["staff_type"] == "1").sum()
    assert 25 < doctors / 100 < 45  # doctors per 10,000 insured (China ≈ 34)
    assert set(staff["profttl"].unique().to_list()) == {"1", "2", "3", "4"}


def test_same_generator_gives_the_same_institutions() -> None:
    a = make_institutions(np.random.default_rng(8), 50_000)
    b = make_institutions(np.random.default_rng(8), 50_000)
    assert all(a[k].equals(b[k]) for k in a)


def test_a_region_of_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_institutions(np.random.default_rng(1), 0)
