"""The catalogue CSV: restrictions, dated lookup, price caps, errors that name file/line/column, the starter set."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from yibao.catalog import (
    Catalog,
    CatalogError,
    CatalogItem,
    LineContext,
    Restriction,
    default_catalog,
    load_catalog,
    parse_catalog,
    write_catalog_csv,
)
from yibao.catalog.loader import COLUMNS, STARTER_RESOURCE
from yibao.money import Ratio

STARTER = Path(__file__).parents[2] / "src" / "yibao" / "catalog" / STARTER_RESOURCE

BASE = {
    "med_list_codg": "XA10BAE054A001010101234",
    "name": "盐酸二甲双胍片",
    "list_type": "drug",
    "med_chrgitm_type": "09",
    "chrgitm_lv": "01",
    "selfpay_prop": "0",
    "begndate": "2024-01-01",
    "demo": "1",
}


def csv_text(*rows: dict[str, str]) -> str:
    lines = [",".join(COLUMNS)]
    for row in rows:
        full = {**BASE, **row}
        lines.append(",".join(_quote(full.get(c, "")) for c in COLUMNS))
    return "\n".join(lines) + "\n"


def _quote(cell: str) -> str:
    return f'"{cell}"' if ("," in cell or '"' in cell) else cell


def write(tmp_path: Path, text: str, name: str = "region.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def one(text: str) -> CatalogItem:
    items = list(parse_catalog(text.splitlines(keepends=True), "t.csv").items())
    assert len(items) == 1
    return items[0]


def ctx(**kw: object) -> LineContext:
    base: dict[str, object] = {"gend": "1", "age": 40, "hosp_lv": "3", "visit": "outpatient"}
    base.update(kw)
    return LineContext(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Reading a well-formed row
# ---------------------------------------------------------------------------------------------


def test_row_with_every_column_becomes_an_item_with_exact_values() -> None:
    item = one(
        csv_text(
            {
                "chrgitm_lv": "02",
                "selfpay_prop": "0.10",
                "pric_uplmt_3": "12.345678",
                "pric_uplmt_2": "10",
                "lmt_gend": "2",
                "lmt_age_min": "18",
                "lmt_age_max": "60",
                "lmt_hosp_lv_min": "2",
                "lmt_visits": "inpatient|chronic",
                "lmt_indications": "E11|E10",
                "lmt_max_days": "30",
                "lmt_text": "限二级及以上医疗机构",
                "enddate": "2024-12-31",
                "spec": "0.5g*20片",
                "unit": "盒",
                "dosform": "片剂",
            }
        )
    )
    assert item.selfpay_prop == Ratio(1, 10)
    assert item.pric_uplmt == {"3": 12_345_678, "2": 10_000_000}
    assert item.restriction == Restriction(
        gend="2",
        age_min=18,
        age_max=60,
        hosp_lv_min="2",
        visits=frozenset({"inpatient", "chronic"}),
        indications=("E11", "E10"),
        max_days_supply=30,
        text="限二级及以上医疗机构",
    )
    assert (item.begndate, item.enddate) == (date(2024, 1, 1), date(2024, 12, 31))
    assert (item.spec, item.unit, item.dosform, item.demo) == ("0.5g*20片", "盒", "片剂", True)


def test_row_without_restriction_columns_has_the_empty_restriction() -> None:
    assert one(csv_text({})).restriction.is_empty


def test_header_columns_may_come_in_any_order_and_a_bom_is_tolerated(tmp_path: Path) -> None:
    order = list(reversed(COLUMNS))
    row = {**BASE, "name": "阿莫西林胶囊"}
    text = ",".join(order) + "\n" + ",".join(row.get(c, "") for c in order) + "\n"
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    item = next(iter(load_catalog(p).items()))
    assert item.name == "阿莫西林胶囊"


def test_blank_rows_are_skipped() -> None:
    text = csv_text({}) + ",,,,,,,,,,,,,,,,,,,,,,\n\n"
    assert len(parse_catalog(text.splitlines(keepends=True))) == 1


# ---------------------------------------------------------------------------------------------
# Restrictions, checked through loaded items
# ---------------------------------------------------------------------------------------------


def test_female_only_item_refuses_a_male_patient() -> None:
    item = one(csv_text({"lmt_gend": "2"}))
    assert item.restriction.violation(ctx(gend="1")) == "限女性 (patient gend 1)"
    assert item.restriction.violation(ctx(gend="2")) is None


def test_child_only_item_refuses_an_adult_and_pays_a_child() -> None:
    item = one(csv_text({"lmt_age_max": "17"}))
    assert item.restriction.violation(ctx(age=18)) is not None
    assert item.restriction.violation(ctx(age=17)) is None


def test_level_two_item_refuses_a_community_clinic() -> None:
    item = one(csv_text({"lmt_hosp_lv_min": "2"}))
    assert item.restriction.violation(ctx(hosp_lv="1")) is not None
    assert item.restriction.violation(ctx(hosp_lv="2")) is None


def test_inpatient_only_item_refuses_an_outpatient_line() -> None:
    item = one(csv_text({"lmt_visits": "inpatient"}))
    assert item.restriction.violation(ctx(visit="outpatient")) is not None
    assert item.restriction.violation(ctx(visit="inpatient")) is None


def test_indication_prefix_matches_any_diagnosis_of_the_encounter() -> None:
    item = one(csv_text({"lmt_indications": "C34"}))
    assert item.restriction.violation(ctx(diagnoses=("I10",))) is not None
    assert item.restriction.violation(ctx(diagnoses=("I10", "C34.101"))) is None


def test_days_supply_over_the_limit_is_refused() -> None:
    item = one(csv_text({"lmt_max_days": "30"}))
    assert item.restriction.violation(ctx(days_supply=31)) == "限30天用量 (dispensed 31 days)"
    assert item.restriction.violation(ctx(days_supply=30)) is None


def test_starter_prostate_drugs_are_for_men_only() -> None:
    cat = default_catalog()
    on = date(2025, 6, 1)
    for name in ("盐酸坦索罗辛缓释胶囊", "非那雄胺片"):
        item = next(i for i in cat.items() if i.name == name)
        assert cat.get(item.med_list_codg, on) is item
        assert item.restriction.violation(ctx(gend="2", diagnoses=("N40",))) is not None
        assert item.restriction.violation(ctx(gend="1", diagnoses=("N40",))) is None


def test_starter_osimertinib_is_a_class_b_lung_cancer_drug() -> None:
    item = next(i for i in default_catalog().items() if i.name == "甲磺酸奥希替尼片")
    assert item.chrgitm_lv == "02"
    assert item.restriction.indications == ("C34",)
    assert item.restriction.violation(ctx(diagnoses=("C50.9",))) is not None
    assert item.restriction.violation(ctx(diagnoses=("C34.1",))) is None


# ---------------------------------------------------------------------------------------------
# Lookup by date
# ---------------------------------------------------------------------------------------------


def test_lookup_by_date_returns_the_version_in_force() -> None:
    text = csv_text(
        {"pric_uplmt_3": "20", "begndate": "2023-01-01", "enddate": "2023-12-31"},
        {"pric_uplmt_3": "18", "begndate": "2024-01-01"},
    )
    cat = parse_catalog(text.splitlines(keepends=True))
    code = BASE["med_list_codg"]
    assert len(cat) == 2
    old, new = cat.get(code, date(2023, 12, 31)), cat.get(code, date(2024, 1, 1))
    assert old is not None and old.price_cap("3") == 20_000_000
    assert new is not None and new.price_cap("3") == 18_000_000
    assert cat.get(code, date(2022, 12, 31)) is None


def test_lookup_after_the_enddate_finds_nothing() -> None:
    cat = parse_catalog(csv_text({"enddate": "2024-06-30"}).splitlines(keepends=True))
    assert cat.get(BASE["med_list_codg"], date(2024, 6, 30)) is not None
    assert cat.get(BASE["med_list_codg"], date(2024, 7, 1)) is None


def test_lookup_of_an_unknown_code_finds_nothing() -> None:
    assert default_catalog().get("X0000000", date(2025, 1, 1)) is None


# ---------------------------------------------------------------------------------------------
# Price caps
# ---------------------------------------------------------------------------------------------


def test_price_cap_is_exact_in_millionths_of_a_yuan_and_absent_where_empty() -> None:
    item = one(csv_text({"pric_uplmt_3": "0.000001", "pric_uplmt_2": "", "pric_uplmt_1": "99999.999999"}))
    assert item.price_cap("3") == 1
    assert item.price_cap("2") is None
    assert item.price_cap("1") == 99_999_999_999


def test_starter_service_caps_never_rise_at_lower_hospital_levels() -> None:
    for item in default_catalog().items():
        if item.list_type != "service":
            continue
        caps = [item.price_cap(lv) for lv in ("3", "2", "1")]
        present = [c for c in caps if c is not None]
        assert present == sorted(present, reverse=True), item.name


def test_starter_coronary_stent_is_capped_near_the_volume_purchase_price() -> None:
    stent = next(i for i in default_catalog().items() if i.name == "冠状动脉药物洗脱支架")
    assert stent.chrgitm_lv == "02" and stent.selfpay_prop.decimal() > 0
    cap = stent.price_cap("3")
    assert cap is not None and 500_000_000 <= cap <= 1_000_000_000


# ---------------------------------------------------------------------------------------------
# Errors: one case per failure mode, each naming file, line and column
# ---------------------------------------------------------------------------------------------

ROW_ERRORS = [
    ("empty_code", {"med_list_codg": ""}, "med_list_codg"),
    ("code_with_space", {"med_list_codg": "X A10"}, "med_list_codg"),
    ("empty_name", {"name": " "}, "name"),
    ("unknown_list_type", {"list_type": "device"}, "list_type"),
    ("chrgitm_type_out_of_range", {"med_chrgitm_type": "15"}, "med_chrgitm_type"),
    ("chrgitm_type_one_digit", {"med_chrgitm_type": "9"}, "med_chrgitm_type"),
    ("unknown_class", {"chrgitm_lv": "04"}, "chrgitm_lv"),
    ("selfpay_above_one", {"chrgitm_lv": "02", "selfpay_prop": "1.5"}, "selfpay_prop"),
    ("selfpay_negative", {"chrgitm_lv": "02", "selfpay_prop": "-0.1"}, "selfpay_prop"),
    ("selfpay_not_a_number", {"chrgitm_lv": "02", "selfpay_prop": "ten"}, "selfpay_prop"),
    ("selfpay_five_decimals", {"chrgitm_lv": "02", "selfpay_prop": "0.12345"}, "selfpay_prop"),
    ("selfpay_on_class_c", {"chrgitm_lv": "03", "selfpay_prop": "0.10"}, "selfpay_prop"),
    ("selfpay_on_class_a", {"chrgitm_lv": "01", "selfpay_prop": "0.10"}, "selfpay_prop"),
    ("cap_seven_decimals", {"pric_uplmt_2": "1.0000001"}, "pric_uplmt_2"),
    ("cap_zero", {"pric_uplmt_1": "0"}, "pric_uplmt_1"),
    ("cap_negative", {"pric_uplmt_3": "-5"}, "pric_uplmt_3"),
    ("cap_not_a_number", {"pric_uplmt_3": "abc"}, "pric_uplmt_3"),
    ("unknown_gend", {"lmt_gend": "0"}, "lmt_gend"),
    ("age_not_whole", {"lmt_age_min": "1.5"}, "lmt_age_min"),
    ("age_too_high", {"lmt_age_max": "200"}, "lmt_age_max"),
    ("age_min_above_max", {"lmt_age_min": "18", "lmt_age_max": "17"}, "lmt_age_max"),
    ("unknown_hospital_level", {"lmt_hosp_lv_min": "4"}, "lmt_hosp_lv_min"),
    ("unknown_visit_kind", {"lmt_visits": "inpatient|daycare"}, "lmt_visits"),
    ("lower_case_icd_prefix", {"lmt_indications": "e11"}, "lmt_indications"),
    ("max_days_zero", {"lmt_max_days": "0"}, "lmt_max_days"),
    ("begndate_not_iso", {"begndate": "2024/01/01"}, "begndate"),
    ("begndate_impossible", {"begndate": "2024-02-30"}, "begndate"),
    ("begndate_missing", {"begndate": ""}, "begndate"),
    ("enddate_before_begndate", {"enddate": "2023-12-31"}, "enddate"),
    ("demo_not_a_flag", {"demo": "yes"}, "demo"),
]


@pytest.mark.parametrize(
    ("row", "column"), [(r, c) for _, r, c in ROW_ERRORS], ids=[i for i, _, _ in ROW_ERRORS]
)
def test_malformed_row_is_refused_naming_file_line_and_column(
    tmp_path: Path, row: dict[str, str], column: str
) -> None:
    good = {"med_list_codg": "XB01ACA001A001010100001"}
    p = write(tmp_path, csv_text(good, row))
    with pytest.raises(CatalogError) as info:
        load_catalog(p)
    err = info.value
    assert (err.source, err.line, err.column) == ("region.csv", 3, column)
    assert str(err).startswith(f"region.csv line 3, column {column}: ")


def test_missing_header_column_is_refused_at_line_one(tmp_path: Path) -> None:
    header = [c for c in COLUMNS if c != "selfpay_prop"]
    p = write(tmp_path, ",".join(header) + "\n")
    with pytest.raises(
        CatalogError, match=r"^region\.csv line 1, column selfpay_prop: missing from the header"
    ):
        load_catalog(p)


def test_unknown_header_column_is_refused_at_line_one(tmp_path: Path) -> None:
    p = write(tmp_path, ",".join((*COLUMNS, "price")) + "\n")
    with pytest.raises(CatalogError, match=r"^region\.csv line 1, column price: unknown column"):
        load_catalog(p)


def test_duplicated_header_column_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, ",".join((*COLUMNS, "name")) + "\n")
    with pytest.raises(CatalogError, match=r"line 1, column name: appears twice"):
        load_catalog(p)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"^region\.csv line 1, column \(header\): the file is empty"):
        load_catalog(write(tmp_path, ""))


def test_short_row_is_refused_naming_the_first_missing_column(tmp_path: Path) -> None:
    text = ",".join(COLUMNS) + "\nXA1,名称,drug,09,01\n"
    with pytest.raises(CatalogError, match=r"^region\.csv line 2, column selfpay_prop: missing"):
        load_catalog(write(tmp_path, text))


def test_long_row_is_refused(tmp_path: Path) -> None:
    text = csv_text({}).rstrip("\n") + ",extra\n"
    with pytest.raises(
        CatalogError, match=r"^region\.csv line 2, column \(row\): has 24 fields, header has 23"
    ):
        load_catalog(write(tmp_path, text))


def test_overlapping_versions_of_one_code_are_refused(tmp_path: Path) -> None:
    text = csv_text({"begndate": "2023-01-01"}, {"begndate": "2024-01-01"})
    with pytest.raises(CatalogError, match=r"line 3, column begndate: .* overlaps its version on line 2"):
        load_catalog(write(tmp_path, text))


def test_error_line_numbers_count_physical_lines_after_blank_ones(tmp_path: Path) -> None:
    text = csv_text({}, {"med_list_codg": "X2", "chrgitm_lv": "9"})
    head, last = text.rstrip("\n").rsplit("\n", 1)
    p = write(tmp_path, head + "\n\n\n" + last + "\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(p)
    assert info.value.line == 5


def test_catalog_error_is_a_value_error() -> None:
    assert issubclass(CatalogError, ValueError)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def test_written_csv_reads_back_to_equal_items(tmp_path: Path) -> None:
    cat = default_catalog()
    p = tmp_path / "copy.csv"
    assert write_catalog_csv(cat, p) == len(cat)
    again = load_catalog(p)
    assert list(again.items()) == list(cat.items())


def test_writer_refuses_a_selfpay_share_needing_more_than_four_decimals(tmp_path: Path) -> None:
    item = CatalogItem("X1", "演示", "drug", "09", "02", selfpay_prop=Ratio(1, 3))
    with pytest.raises(ValueError, match="more than 4 decimals"):
        write_catalog_csv(Catalog([item]), tmp_path / "x.csv")


# ---------------------------------------------------------------------------------------------
# The starter catalogue
# ---------------------------------------------------------------------------------------------

CODE_PATTERNS = {
    "drug": re.compile(r"[XZ][A-Z0-9]{5}[A-Z][0-9]{3}[A-Z][0-9]{3}[0-9]{9}"),
    "herb": re.compile(r"T[0-9]{9}"),
    "service": re.compile(r"00[0-9]{13}"),
    "consumable": re.compile(r"C[0-9]{26}"),
}


def test_starter_has_at_least_330_demo_rows_in_the_expected_mix() -> None:
    items = list(default_catalog().items())
    assert len(items) >= 330
    assert all(i.demo for i in items)
    counts = Counter(i.list_type for i in items)
    assert counts["drug"] >= 165
    assert counts["herb"] >= 20
    assert counts["service"] >= 100
    assert counts["consumable"] >= 40
    classes = Counter(i.chrgitm_lv for i in items)
    assert classes["01"] > 0 and classes["02"] > 0 and classes["03"] >= 5


def test_starter_codes_are_unique_and_national_style() -> None:
    items = list(default_catalog().items())
    assert len({i.med_list_codg for i in items}) == len(items)
    for item in items:
        assert CODE_PATTERNS[item.list_type].fullmatch(item.med_list_codg), item.med_list_codg


def test_starter_charge_types_follow_the_list_type() -> None:
    expected = {"drug": {"09", "11"}, "herb": {"10"}, "consumable": {"08"}}
    for item in default_catalog().items():
        if item.list_type in expected:
            assert item.med_chrgitm_type in expected[item.list_type], item.name
    by_name = {i.name: i for i in default_catalog().items()}
    assert by_name["连花清瘟胶囊"].med_chrgitm_type == "11"
    assert by_name["普通病房床位费(三人间)"].med_chrgitm_type == "01"


def test_starter_single_herb_rule_is_stated_for_astragalus() -> None:
    huangqi = next(i for i in default_catalog().items() if i.name == "黄芪")
    assert "单独使用时不予支付" in huangqi.restriction.text


def test_starter_csv_loads_well_under_fifty_milliseconds() -> None:
    best = min(_timed(lambda: load_catalog(STARTER)) for _ in range(5))
    assert best < 0.050


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_default_catalog_is_read_once_and_shared() -> None:
    assert default_catalog() is default_catalog()
