"""National dictionaries and the mappings the benefit engine reads from them."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao import codes
from yibao.catalog.model import HOSP_LEVELS, VISIT_KINDS
from yibao.codes import (
    ASSISTANCE_CATEGORIES,
    ASSISTANCE_CATEGORY,
    ASSISTANCE_CODE,
    DICTIONARIES,
    FUND_COLUMNS,
    FUND_PAY_TYPE,
    HOSP_LV,
    INSUTYPE,
    MED_TYPE,
    PSN_IDET_TYPE,
    PSN_TYPE,
    CodeError,
    assistance_category,
    check,
    coarse_hosp_lv,
    label,
    psn_category,
    scheme,
    setl_column,
    visit_kind,
)

REQUIRED_FIELDS = (
    "insutype",
    "psn_type",
    "med_type",
    "hosp_lv",
    "chrgitm_lv",
    "med_chrgitm_type",
    "fund_pay_type",
    "clr_type",
    "gend",
    "mdtrt_cert_type",
    "psn_setlway",
    "hilist_type",
    "opter_type",
    "dscg_way",
    "psn_idet_type",
)


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(codes, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --- dictionaries ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_every_required_dictionary_is_registered_under_its_field_name(field: str) -> None:
    assert DICTIONARIES[field]


@pytest.mark.parametrize("field", sorted(DICTIONARIES))
def test_dictionaries_map_string_codes_to_non_empty_labels(field: str) -> None:
    for code, text in DICTIONARIES[field].items():
        assert isinstance(code, str) and code and code == code.strip()
        assert isinstance(text, str) and text.strip()


def test_aliases_share_the_table_of_their_field() -> None:
    assert DICTIONARIES["medins_lv"] is DICTIONARIES["hosp_lv"]
    assert DICTIONARIES["hilist_lv"] is DICTIONARIES["chrgitm_lv"]


def test_hospital_levels_are_the_ten_national_codes() -> None:
    assert list(HOSP_LV) == [f"{n:02d}" for n in range(1, 11)]
    assert HOSP_LV["02"] == "三级甲等"
    assert HOSP_LV["10"] == "一级丙等"


def test_leaving_types_follow_the_national_list() -> None:
    assert DICTIONARIES["dscg_way"] == {
        "1": "医嘱离院",
        "2": "医嘱转院",
        "3": "医嘱转社区卫生服务机构/乡镇卫生院",
        "4": "非医嘱离院",
        "5": "死亡",
        "9": "其他",
    }


def test_yibao_extensions_are_present() -> None:
    assert MED_TYPE["9901"] == "长期护理"
    assert FUND_PAY_TYPE["410100"] == "长期护理保险基金"
    doc = codes.__doc__ or ""
    assert "9901" in doc and "410100" in doc
    assert "人员身份类别 dictionary was not available" in doc


# --- label / check ---------------------------------------------------------------------------


def test_label_gives_the_chinese_name() -> None:
    assert label("insutype", "390") == "城乡居民基本医疗保险"
    assert label("med_type", "41") == "定点药店购药"
    assert label("psn_idet_type", "2301") == "特困供养人员"


def test_label_of_an_unknown_code_names_field_and_code() -> None:
    with pytest.raises(KeyError) as err:
        label("med_type", "77")
    assert "med_type" in str(err.value) and "'77'" in str(err.value)


def test_label_of_an_unknown_dictionary_names_it() -> None:
    with pytest.raises(KeyError, match="nonsense"):
        label("nonsense", "1")


def test_check_returns_a_known_code() -> None:
    assert check("med_type", "11") == "11"
    assert check("fund_pay_type", "410100") == "410100"


def test_check_rejects_an_unknown_code_listing_the_expected_ones() -> None:
    with pytest.raises(CodeError) as err:
        check("med_type", "77")
    assert isinstance(err.value, ValueError)
    assert err.value.field == "med_type"
    assert str(err.value).startswith("med_type: unknown code '77' (expected one of 11, 12, 13,")


def test_check_refuses_numbers_rather_than_guessing() -> None:
    with pytest.raises(CodeError, match="must be a string code, not int"):
        check("med_type", 11)


def test_check_of_an_unknown_dictionary_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        check("nonsense", "1")


@given(field=st.sampled_from(sorted(DICTIONARIES)), code=st.text(max_size=8))
def test_check_and_label_agree_on_every_string(field: str, code: str) -> None:
    if code in DICTIONARIES[field]:
        assert check(field, code) == code
        assert label(field, code) == DICTIONARIES[field][code]
    else:
        with pytest.raises(CodeError) as err:
            check(field, code)
        assert err.value.field == field
        with pytest.raises(KeyError):
            label(field, code)


# --- coarse hospital level -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "coarse"),
    [
        ("01", "3"),
        ("02", "3"),
        ("03", "3"),
        ("04", "3"),
        ("05", "2"),
        ("06", "2"),
        ("07", "2"),
        ("08", "1"),
        ("09", "1"),
        ("10", "1"),
        ("3", "3"),
        ("2", "2"),
        ("1", "1"),
        ("", "1"),
        ("11", "1"),
        ("无等级", "1"),
        (None, "1"),
    ],
)
def test_coarse_hospital_level(code: str | None, coarse: str) -> None:
    assert coarse_hosp_lv(code) == coarse


@given(st.one_of(st.none(), st.text(max_size=4)))
def test_coarse_hospital_level_is_always_one_of_the_policy_levels(code: str | None) -> None:
    assert coarse_hosp_lv(code) in HOSP_LEVELS


# --- visit kind --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("med_type", "kind"),
    [
        *[(c, "outpatient") for c in ("11", "12", "13", "16", "19", "51")],
        *[(c, "chronic") for c in ("14", "15")],
        *[(c, "inpatient") for c in ("21", "22", "23", "24", "26", "28", "52", "53")],
        ("41", "pharmacy"),
        ("9901", "ltc"),
    ],
)
def test_visit_kind_of_each_medical_type(med_type: str, kind: str) -> None:
    assert visit_kind(med_type) == kind


def test_every_medical_type_has_a_visit_kind_known_to_the_catalogue() -> None:
    assert {visit_kind(c) for c in MED_TYPE} == VISIT_KINDS


def test_visit_kind_of_an_unknown_medical_type_is_an_error() -> None:
    with pytest.raises(CodeError, match="med_type: unknown code '9903'"):
        visit_kind("9903")


# --- scheme ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("insutype", "expected"),
    [
        *[(c, "employee") for c in ("310", "320", "330", "340", "370")],
        *[(c, "resident") for c in ("390", "391", "392", "380")],
        ("410", "ltc"),
        ("510", "maternity"),
    ],
)
def test_scheme_of_each_insurance_type(insutype: str, expected: str) -> None:
    assert scheme(insutype) == expected


@pytest.mark.parametrize("insutype", ["350", "360", "399"])
def test_special_person_insurance_types_have_no_scheme(insutype: str) -> None:
    with pytest.raises(CodeError, match=f"no benefit scheme for code '{insutype}'"):
        scheme(insutype)


def test_scheme_of_an_unknown_insurance_type_is_an_error() -> None:
    with pytest.raises(CodeError, match="insutype: unknown code '311'"):
        scheme("311")


def test_every_insurance_type_either_has_a_scheme_or_says_why_not() -> None:
    for code in INSUTYPE:
        try:
            assert scheme(code) in {"employee", "resident", "ltc", "maternity"}
        except CodeError as err:
            assert INSUTYPE[code] in str(err)


# --- person category -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("psn_type", "expected"),
    [
        ("1101", "in_service"),
        ("1102", "in_service"),
        ("1103", "in_service"),
        ("1201", "retired"),
        ("1202", "retired"),
        ("1203", "retired"),
        ("1300", "retired"),
        ("1401", "resident_child"),
        ("1405", "resident_child"),
        ("1501", "resident_adult"),
    ],
)
@pytest.mark.parametrize("age", [0, 17, 18, 70])
def test_the_national_person_type_decides_the_category_whatever_the_age(
    psn_type: str, expected: str, age: int
) -> None:
    assert psn_category(psn_type, age) == expected


def test_local_codes_of_a_known_family_keep_their_family() -> None:
    assert psn_category("1160", 17) == "in_service"
    assert psn_category("1260", 50) == "retired"
    assert psn_category("1460", 30) == "resident_child"
    assert psn_category("1560", 10) == "resident_adult"


def test_unknown_local_codes_fall_back_on_age() -> None:
    assert psn_category("1660", 17) == "resident_child"
    assert psn_category("1660", 18) == "resident_adult"
    assert psn_category("9960", 0) == "resident_child"


@pytest.mark.parametrize("psn_type", ["", "11", "11010", "11a1", "１１０１"])
def test_person_type_must_be_four_ascii_digits(psn_type: str) -> None:
    with pytest.raises(CodeError):
        psn_category(psn_type, 30)


def test_negative_age_is_refused() -> None:
    with pytest.raises(ValueError, match="age"):
        psn_category("1660", -1)


def test_every_national_person_type_has_a_category() -> None:
    for code in PSN_TYPE:
        assert psn_category(code, 30) in {"in_service", "retired", "resident_child", "resident_adult"}


# --- settlement column -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fund_pay_type", "column"),
    [
        ("310100", "hifp_pay"),
        ("390100", "hifp_pay"),
        ("410100", "hifp_pay"),
        ("320100", "cvlserv_pay"),
        ("330100", "hifob_pay"),
        ("390200", "hifmi_pay"),
        ("370100", "hifes_pay"),
        ("610100", "maf_pay"),
        ("310200", "acct_pay"),
        ("340100", "oth_pay"),
        ("510100", "oth_pay"),
        ("999997", "oth_pay"),
        ("390400", "oth_pay"),
    ],
)
def test_setldetail_rows_land_in_their_setlinfo_column(fund_pay_type: str, column: str) -> None:
    assert setl_column(fund_pay_type) == column


def test_only_the_personal_account_lands_outside_the_fund_columns() -> None:
    outside = {c for c in FUND_PAY_TYPE if setl_column(c) not in FUND_COLUMNS}
    assert outside == {"310200"}


# --- assistance categories ---------------------------------------------------------------------


def test_assistance_codes_map_to_yibao_category_names() -> None:
    assert ASSISTANCE_CATEGORY == {
        "2301": "tekun",
        "2302": "dibao",
        "2303": "fanpin",
        "2304": "low_income",
        "2305": "illness_poverty",
        "2306": "orphan",
    }
    assert set(ASSISTANCE_CATEGORY) == set(PSN_IDET_TYPE)
    assert set(ASSISTANCE_CODE) == ASSISTANCE_CATEGORIES
    for code, name in ASSISTANCE_CATEGORY.items():
        assert ASSISTANCE_CODE[name] == code
        assert assistance_category(code) == name


def test_no_identity_means_no_assistance_category() -> None:
    assert assistance_category(None) is None
    assert assistance_category("") is None


def test_an_unknown_identity_code_is_an_error_not_a_silent_none() -> None:
    with pytest.raises(CodeError, match="psn_idet_type: unknown code '2399'"):
        assistance_category("2399")
