"""Importing national 1301/1305/1306 download files (synthetic samples) and writing yibao's CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from yibao.catalog import CatalogError, import_national, load_catalog, write_catalog_csv
from yibao.catalog.national import FIELDS, parse_national_date, service_chrgitm_type
from yibao.money import ZERO_RATIO, Ratio

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures" / "national"
F1301, F1305, F1306 = (FIXTURES / f"{k}_sample.txt" for k in ("1301", "1305", "1306"))

METFORMIN = "XA10BAE901A001010199991"
DANSHEN = "ZA12BAD902A031010199992"
EXPIRED = "XJ01CAW903A010010199993"
STATIN = "XC10AAA904A001010199994"  # the 84-field line: no 甲乙类 field
TINIB = "XL01EBA905A001010199995"
ON = date(2025, 6, 1)


def test_1301_reads_names_forms_and_the_class_field() -> None:
    cat = import_national(F1301, "1301")
    metformin = cat.get(METFORMIN, ON)
    assert metformin is not None
    assert (metformin.name, metformin.list_type, metformin.med_chrgitm_type) == (
        "盐酸二甲双胍片",
        "drug",
        "09",
    )
    assert (metformin.chrgitm_lv, metformin.selfpay_prop) == ("01", ZERO_RATIO)
    assert (metformin.spec, metformin.unit, metformin.dosform) == ("0.5g*20片", "盒", "片剂")
    assert (metformin.begndate, metformin.enddate) == (date(2024, 1, 1), date(2099, 12, 31))
    assert metformin.demo is False and metformin.pric_uplmt == {}
    danshen = cat.get(DANSHEN, ON)
    assert danshen is not None
    assert (danshen.chrgitm_lv, danshen.med_chrgitm_type) == ("02", "11")
    assert danshen.restriction.text == "限二级及以上医疗机构"
    tinib = cat.get(TINIB, ON)
    assert tinib is not None and tinib.chrgitm_lv == "02"


def test_1301_skips_invalid_rows() -> None:
    cat = import_national(F1301, "1301")
    assert EXPIRED not in cat
    assert len(cat) == 4


def test_1301_line_without_class_field_takes_the_default_or_the_mapping() -> None:
    default = import_national(F1301, "1301").get(STATIN, ON)
    assert default is not None and default.chrgitm_lv == "03"
    assert default.name == "阿托伐他汀钙片"  # drug_genname empty: falls back to reg_name
    assert default.begndate == date(2024, 1, 1)  # YYYYMMDD
    mapped = import_national(F1301, "1301", chrgitm_lv={STATIN: "乙"}).get(STATIN, ON)
    assert mapped is not None and mapped.chrgitm_lv == "02"


def test_class_mapping_wins_over_the_file() -> None:
    item = import_national(F1301, "1301", chrgitm_lv={METFORMIN: "03"}).get(METFORMIN, ON)
    assert item is not None and item.chrgitm_lv == "03"


def test_unclassed_line_is_an_error_without_a_default() -> None:
    with pytest.raises(CatalogError) as info:
        import_national(F1301, "1301", default_lv=None)
    assert (info.value.source, info.value.line) == ("1301_sample.txt", 4)
    assert "no 甲乙丙 class" in str(info.value)


def test_selfpay_applies_to_class_b_items_only() -> None:
    share = Ratio.of("0.05")
    cat = import_national(
        F1301, "1301", selfpay={DANSHEN: share, METFORMIN: share}, default_selfpay=Ratio.of("0.10")
    )
    danshen, metformin, tinib = (cat.get(c, ON) for c in (DANSHEN, METFORMIN, TINIB))
    assert danshen is not None and danshen.selfpay_prop == share
    assert metformin is not None and metformin.selfpay_prop == ZERO_RATIO
    assert tinib is not None and tinib.selfpay_prop == Ratio.of("0.10")


def test_on_keeps_only_versions_in_force_that_day() -> None:
    cat = import_national(F1301, "1301", on=date(2024, 6, 1))
    assert TINIB not in cat  # begins 2025-01-01
    assert {i.med_list_codg for i in cat.items()} == {METFORMIN, DANSHEN, STATIN}


def test_caps_mapping_sets_one_cap_at_every_level() -> None:
    item = import_national(F1301, "1301", caps={TINIB: 4_800_000_000}).get(TINIB, ON)
    assert item is not None
    assert item.pric_uplmt == {"1": 4_800_000_000, "2": 4_800_000_000, "3": 4_800_000_000}


def test_1305_pipe_separated_services_get_charge_types_from_their_chapter() -> None:
    cat = import_national(F1305, "1305")
    assert len(cat) == 3  # the vali_flag 0 line is skipped
    kinds = {i.name: (i.list_type, i.med_chrgitm_type, i.unit) for i in cat.items()}
    assert kinds == {
        "普通病房床位费(三人间)": ("service", "01", "日"),
        "血细胞分析": ("service", "04", "次"),
        "阑尾切除术": ("service", "06", "次"),
    }


def test_1305_charge_type_mapping_wins_over_the_chapter() -> None:
    cat = import_national(F1305, "1305", chrgitm_type={"003310030010000": "05"})
    item = cat.get("003310030010000", ON)
    assert item is not None and item.med_chrgitm_type == "05"


def test_1306_crlf_consumables_with_fallback_names_and_limits() -> None:
    cat = import_national(F1306, "1306", chrgitm_lv={"C02010100100100000000000901": "02"})
    assert len(cat) == 2
    stent = cat.get("C02010100100100000000000901", ON)
    assert stent is not None
    assert (stent.med_chrgitm_type, stent.chrgitm_lv, stent.spec) == ("08", "02", "3.0mm*18mm")
    assert stent.restriction.text == "限二级及以上医疗机构"
    infusion = cat.get("C01010100100100000000000902", ON)
    assert infusion is not None
    assert (infusion.name, infusion.spec, infusion.unit) == ("一次性使用输液器", "带针0.7mm", "套")


def test_imported_catalogue_round_trips_through_yibao_csv(tmp_path: Path) -> None:
    for path, kind in ((F1301, "1301"), (F1305, "1305"), (F1306, "1306")):
        cat = import_national(path, kind, selfpay={DANSHEN: Ratio.of("0.1")})  # type: ignore[arg-type]
        out = tmp_path / f"{kind}.csv"
        assert write_catalog_csv(cat, out) == len(cat)
        assert list(load_catalog(out).items()) == list(cat.items())


def test_short_line_is_refused_naming_the_missing_field(tmp_path: Path) -> None:
    p = tmp_path / "bad_1305.txt"
    p.write_text("001102000010000|1|次|\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"^bad_1305\.txt line 1, column field 5 trt_exct_cont: missing"):
        import_national(p, "1305")


def test_unreadable_date_is_refused_naming_the_field(tmp_path: Path) -> None:
    fields = ["" for _ in FIELDS["1305"]]
    fields[0], fields[6], fields[9], fields[11] = "001102000010000", "1", "诊察费", "01/01/2024"
    p = tmp_path / "bad_date.txt"
    p.write_text("\n" + "\t".join(fields) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"^bad_date\.txt line 2, column field 12 begndate: is not a date"):
        import_national(p, "1305")


def test_unknown_vali_flag_is_refused(tmp_path: Path) -> None:
    fields = ["" for _ in FIELDS["1305"]]
    fields[0], fields[6], fields[9] = "001102000010000", "Y", "诊察费"
    p = tmp_path / "bad_flag.txt"
    p.write_text("\t".join(fields) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"field 7 vali_flag: must be 1 or 0"):
        import_national(p, "1305")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        import_national(F1301, "1302")  # type: ignore[arg-type]


def test_national_dates_accept_the_three_shapes_in_use() -> None:
    assert parse_national_date("2024-01-01") == date(2024, 1, 1)
    assert parse_national_date("2024-01-01 00:00:00") == date(2024, 1, 1)
    assert parse_national_date("20240101") == date(2024, 1, 1)
    with pytest.raises(ValueError):
        parse_national_date("2024/01/01")


def test_service_chapter_heuristic_covers_the_main_groups() -> None:
    assert service_chrgitm_type("001102000010000") == "02"
    assert service_chrgitm_type("001201000030000") == "07"
    assert service_chrgitm_type("002103000010000") == "03"
    assert service_chrgitm_type("003301000050000") == "06"
    assert service_chrgitm_type("004300000010000") == "05"
    assert service_chrgitm_type("ABC") == "14"


def test_field_lists_have_the_documented_lengths() -> None:
    assert {k: len(v) for k, v in FIELDS.items()} == {"1301": 92, "1305": 16, "1306": 71}
    assert FIELDS["1301"][78] == "vali_flag" and FIELDS["1301"][91] == "nat_hi_druglist_chrgitm_lv"
    assert FIELDS["1306"][67] == "vali_flag"
