"""Loading region packs: validation errors that name the file and key, exact values, dated lookups."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from yibao.money import Ratio
from yibao.policy import loader as loader_module
from yibao.policy.loader import Policy, load_region, load_topic, policy_root
from yibao.policy.parameters import UNLIMITED, Band, PolicyError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policy"


def load_fixture(name: str) -> Policy:
    return load_region(FIXTURES / name, cache=False)


def policy_error(name: str) -> str:
    with pytest.raises(PolicyError) as info:
        load_fixture(name)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# One fixture per failure mode: the message names the file and the key path
# ---------------------------------------------------------------------------------------------

FAILURES = [
    # fixture, file named, key path named, what is wrong
    ("bad_unit", "inpatient.yaml", "deductible: unit", "unknown unit 'percent'"),
    ("bad_dimension_name", "inpatient.yaml", "deductible: dims", "unknown dimension 'colour'"),
    ("bad_dimension_key", "inpatient.yaml", "deductible.values[employee][4]", "unknown hosp_lv '4'"),
    ("bad_admission_key", "inpatient.yaml", "deductible.values[second]", "admission key is a number or 'N+'"),
    ("bad_date_key", "inpatient.yaml", "deductible.values[employee]", "'from 2024' is not an effective date"),
    (
        "bad_ratio_above_one",
        "outpatient.yaml",
        "retiree_uplift.values[employee][2024-01-01]",
        "between 0 and 1",
    ),
    (
        "bad_rate_above_one",
        "outpatient.yaml",
        "pool_ratio.values[employee][2024-01-01][1]",
        "between 0 and 1",
    ),
    ("bad_scale_order", "inpatient.yaml", "pool_ratio.values[resident][2024-01-01]", "increasing order"),
    (
        "bad_scale_start",
        "inpatient.yaml",
        "pool_ratio.values[resident][2024-01-01]",
        "first bracket must start at 0",
    ),
    (
        "bad_money_decimals",
        "inpatient.yaml",
        "deductible.values[employee][2024-01-01]",
        "more than 2 decimal places",
    ),
    (
        "bad_negative_money",
        "inpatient.yaml",
        "deductible.values[employee][2024-01-01]",
        "must not be negative",
    ),
    ("bad_months", "enrollment.yaml", "waiting_fixed_months.values[2025-01-01]", "whole number of months"),
    ("bad_flag", "enrollment.yaml", "waiting_applies.values[resident][2025-01-01]", "true or false"),
    (
        "bad_choice",
        "serious_illness.yaml",
        "base.values[employee][2024-01-01]",
        "expected one of copay, above_pool_cap",
    ),
    ("bad_extra_field", "inpatient.yaml", "deductible: colour", "Extra inputs are not permitted"),
    ("bad_missing_reference", "inpatient.yaml", "deductible: reference", "Field required"),
    (
        "bad_value_keys",
        "inpatient.yaml",
        "deductible.values[employee][2024-01-01]",
        "unknown keys ['source']",
    ),
    ("bad_nesting", "inpatient.yaml", "deductible.values[employee]", "unknown hosp_lv '2024-01-01'"),
    ("bad_parameter_name", "inpatient.yaml", "pool-cap", "must be a word"),
    ("bad_topic_shape", "inpatient.yaml", "", "must map parameter names"),
    ("bad_region_yaml", "region.yaml", "admdvs", "pattern"),
]


@pytest.mark.parametrize(("fixture", "file", "key", "problem"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_bad_pack_raises_a_policy_error_naming_file_and_key(
    fixture: str, file: str, key: str, problem: str
) -> None:
    message = policy_error(fixture)
    assert message.startswith(f"{file}: {key}"), message
    assert problem in message, message


def test_the_region_yaml_error_lists_every_bad_field() -> None:
    message = policy_error("bad_region_yaml")
    assert "admdvs" in message and "synthetic" in message


def test_the_pydantic_message_does_not_echo_input_values() -> None:
    # region.yaml says `synthetic: maybe`; the message says what is wrong, not what was written
    assert "maybe" not in policy_error("bad_region_yaml")


def test_malformed_yaml_names_the_file_and_line() -> None:
    message = policy_error("malformed_yaml")
    assert message.startswith("inpatient.yaml line 6: malformed YAML"), message
    with pytest.raises(PolicyError) as info:
        load_fixture("malformed_yaml")
    assert info.value.where == "inpatient.yaml line 6"


def test_a_missing_region_yaml_is_named() -> None:
    message = policy_error("missing_region_yaml")
    assert "missing_region_yaml" in message and "region.yaml is missing" in message


def test_an_unknown_region_is_named() -> None:
    with pytest.raises(PolicyError, match="no region pack") as info:
        load_region("000000", cache=False)
    assert "000000" in str(info.value)


def test_a_topic_file_can_be_loaded_alone(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert load_topic(empty) == {}
    params = load_topic(FIXTURES / "float_free" / "inpatient.yaml")
    assert "inpatient.pool_ratio" in params and params["inpatient.pool_ratio"].file == "inpatient.yaml"


def test_an_impossible_date_is_a_policy_error() -> None:
    message = policy_error("bad_date_invalid")
    assert message.startswith("inpatient.yaml"), message


def test_an_infinite_value_is_a_policy_error() -> None:
    message = policy_error("bad_infinite")
    assert message.startswith("inpatient.yaml"), message


def test_an_effective_date_with_a_time_is_refused() -> None:
    message = policy_error("bad_date_with_time")
    assert message.startswith("inpatient.yaml: deductible.values[employee]"), message


def test_a_duplicate_key_is_refused() -> None:
    message = policy_error("bad_duplicate_key")
    assert message.startswith("inpatient.yaml") and "duplicate" in message.lower(), message


# ---------------------------------------------------------------------------------------------
# Values are exact, dated, sourced
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def float_free() -> Policy:
    return load_fixture("float_free")


def test_values_are_exact_decimals(float_free: Policy) -> None:
    uplift = float_free.param("inpatient.uplift")
    assert uplift.unit == "ratio"
    assert uplift.at(date(2024, 5, 1))[0] == Ratio(21, 25)  # 0.84, not 0.83999999999999996891
    assert uplift.at(date(2025, 5, 1))[0] == Ratio(7, 100)
    assert uplift.at(date(2026, 5, 1))[0] == Ratio(1, 1)
    scale, _ = float_free.param("inpatient.pool_ratio").at(date(2024, 5, 1), scheme="resident")
    assert scale == (
        Band(0, Ratio(7, 10)),
        Band(10000_50, Ratio(3, 4)),  # 10000.50 yuan in fen
        Band(50000_00, Ratio(4, 5)),  # 50_000 with an underscore
    )
    dedc = float_free.param("inpatient.deductible")
    assert dedc.at(date(2025, 5, 1), scheme="employee", hosp_lv="3", admission="1")[0] == 900_10
    assert dedc.at(date(2025, 5, 1), scheme="resident", hosp_lv="1", admission="1")[0] == 1  # 0.01 yuan
    cap = float_free.param("inpatient.cap")
    assert cap.at(date(2024, 5, 1), assistance="dibao")[0] == 1_000_000_00
    assert cap.at(date(2024, 5, 1), assistance="tekun")[0] is UNLIMITED
    assert float_free.param("enrollment.waiting_fixed_months").at(date(2025, 1, 1))[0] == 3
    assert float_free.param("enrollment.base").at(date(2025, 1, 1))[0] == "copay"
    flag = float_free.param("enrollment.waiting_applies")
    assert flag.at(date(2024, 12, 31), scheme="resident")[0] is False
    assert flag.at(date(2025, 1, 1), scheme="resident")[0] is True


def test_the_yaml_reader_never_makes_floats(float_free: Policy) -> None:
    doc = loader_module.read_yaml(FIXTURES / "float_free" / "inpatient.yaml")

    def walk(node: object) -> None:
        assert not isinstance(node, float), node
        if isinstance(node, dict):
            for k, v in node.items():
                walk(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)


@pytest.mark.parametrize(
    ("scheme", "hosp_lv", "admission", "value", "key"),
    [
        ("employee", "3", "1", 900_10, "employee/3/1"),
        ("employee", "3", "2", 600_00, "employee/3/2"),
        ("employee", "3", "3", 300_00, "employee/3/3+"),  # 'N+' covers the Nth admission …
        ("employee", "3", "9", 300_00, "employee/3/3+"),  # … and every later one
        ("employee", "2", "1", 200_00, "employee/*/*"),  # wildcard hospital level
        ("employee", "1", "5", 200_00, "employee/*/*"),
        ("resident", "3", "1", 1, "*/*/1+"),  # wildcard scheme, '1+' = every admission
        ("resident", "2", "4", 1, "*/*/1+"),
    ],
)
def test_wildcard_and_n_plus_admission_lookup(
    float_free: Policy, scheme: str, hosp_lv: str, admission: str, value: int, key: str
) -> None:
    got, read = float_free.param("inpatient.deductible").at(
        date(2025, 6, 1), scheme=scheme, hosp_lv=hosp_lv, admission=admission
    )
    assert (got, read.key) == (value, key)


def test_the_most_specific_cell_wins_in_the_engine_region() -> None:
    policy = load_region(FIXTURES / "engine_region", cache=False)
    dedc = policy.param("inpatient.deductible")
    on = date(2025, 6, 1)
    assert dedc.at(on, scheme="employee", hosp_lv="3", admission="1")[0] == 1000_00
    assert dedc.at(on, scheme="resident", hosp_lv="3", admission="2")[0] == 500_00
    assert dedc.at(on, scheme="resident", hosp_lv="1", admission="6")[0] == 100_00
    factor = policy.param("inpatient.deductible_factor")
    assert factor.at(on, assistance="tekun", psn_cat="retired")[0] == Ratio(0, 1)  # outer dimension first
    assert factor.at(on, assistance="none", psn_cat="retired")[0] == Ratio(13, 20)
    assert factor.at(on, assistance="fanpin", psn_cat="in_service")[0] == Ratio(1, 1)


def test_a_date_before_every_value_names_the_parameter(float_free: Policy) -> None:
    with pytest.raises(PolicyError) as info:
        float_free.param("inpatient.pilot").at(date(2024, 6, 30))
    message = str(info.value)
    assert "inpatient.yaml" in message and "inpatient.pilot" in message
    assert "no value in force on 2024-06-30" in message and "2024-07-01" in message


def test_a_date_before_every_value_in_990100_names_the_parameter() -> None:
    policy = load_region("990100")
    with pytest.raises(
        PolicyError, match=r"inpatient\.deductible\[employee/3/1\]|inpatient\.deductible\[\*/3/1\]"
    ):
        policy.param("inpatient.deductible").at(
            date(2023, 6, 1), scheme="employee", hosp_lv="3", admission="1"
        )


def test_a_null_value_ends_the_rule(float_free: Policy) -> None:
    pilot = float_free.param("inpatient.pilot")
    assert pilot.at(date(2024, 7, 1))[0] == 123_45
    assert pilot.at(date(2025, 12, 31))[0] == 123_45
    for on in (date(2026, 1, 1), date(2030, 1, 1)):
        with pytest.raises(PolicyError, match="the rule ended on 2026-01-01") as info:
            pilot.at(on)
        assert "inpatient.pilot" in str(info.value)


def test_per_value_references_appear_in_the_read(float_free: Policy) -> None:
    dedc = float_free.param("inpatient.deductible")
    _, before = dedc.at(date(2024, 6, 1), scheme="employee", hosp_lv="3", admission="1")
    _, after = dedc.at(date(2025, 6, 1), scheme="employee", hosp_lv="3", admission="1")
    assert (before.since, before.reference, before.value) == (
        date(2024, 1, 1),
        "fixture default reference",
        1000_00,
    )
    assert (after.since, after.reference, after.value) == (date(2025, 1, 1), "fixture 2025 notice", 900_10)
    assert after.name == "inpatient.deductible" and after.key == "employee/3/1"
    text = after.describe()
    assert text.startswith("inpatient.deductible[employee/3/1] = ")
    assert text.endswith(" (since 2025-01-01; fixture 2025 notice)")


def test_a_yuan_read_is_described_in_yuan(float_free: Policy) -> None:
    _, read = float_free.param("inpatient.deductible").at(
        date(2025, 6, 1), scheme="employee", hosp_lv="3", admission="1"
    )
    assert "= 900.10 " in read.describe()  # yuan, not the fen integer 90010
    _, months = float_free.param("enrollment.waiting_fixed_months").at(date(2025, 6, 1))
    assert "= 3 " in months.describe()


def test_reads_describe_every_unit(float_free: Policy) -> None:
    on = date(2025, 6, 1)
    assert "0.07" in float_free.param("inpatient.uplift").at(on)[1].describe()
    assert "unlimited" in float_free.param("inpatient.cap").at(on, assistance="tekun")[1].describe()
    scale = float_free.param("inpatient.pool_ratio").at(on, scheme="resident")[1].describe()
    assert "≥10,000.50: 0.75" in scale
    assert "true" in float_free.param("enrollment.waiting_applies").at(on, scheme="resident")[1].describe()


def test_reading_without_a_dimension_or_an_unknown_cell_or_parameter(float_free: Policy) -> None:
    ratio = float_free.param("inpatient.pool_ratio")
    with pytest.raises(PolicyError, match="reading needs dimension 'scheme'"):
        ratio.at(date(2025, 1, 1))
    with pytest.raises(PolicyError, match="no cell for scheme=employee") as info:
        ratio.at(date(2025, 1, 1), scheme="employee")
    assert "inpatient.yaml" in str(info.value)
    with pytest.raises(PolicyError, match=r"'inpatient\.nope' is not defined"):
        float_free.param("inpatient.nope")
    assert float_free.has("inpatient.pilot") and not float_free.has("inpatient.nope")


# ---------------------------------------------------------------------------------------------
# The shipped packs
# ---------------------------------------------------------------------------------------------


def test_the_990100_pack_loads() -> None:
    policy = load_region("990100", cache=False)  # uncached: the full parse and validation
    assert policy.region.admdvs == "990100" and policy.region.synthetic
    assert policy.region.folder == policy_root().resolve() / "regions" / "990100"
    for name in ("inpatient.deductible", "inpatient.pool_ratio", "inpatient.pool_cap", "serious_illness.cap",
                 "assistance.cap", "ltc.per_diem", "enrollment.waiting_applies", "account.pays_out_of_scope"):  # fmt: skip
        assert policy.has(name), name
    for p in policy.parameters.values():
        assert p.cells, p.name
        for values in p.cells.values():
            assert [v.since for v in values] == sorted(v.since for v in values)
            assert all(v.reference for v in values), p.name


def test_load_region_caches_by_folder() -> None:
    a = load_region("990100")
    assert load_region("990100") is a
    assert load_region(policy_root() / "regions" / "990100") is a
    assert load_region("990100", cache=False) is not a


def test_the_510000_pack_loads() -> None:
    policy = load_region("510000", cache=False)
    assert policy.region.admdvs == "510000" and not policy.region.synthetic
    assert policy.has("serious_illness.cap")


def test_every_990100_parameter_reads_on_a_2025_day() -> None:
    """Every cell of every parameter answers for a day in 2025 (no gaps in the demo pack)."""
    policy = load_region("990100")
    for p in policy.parameters.values():
        for key in p.cells:
            # a cell key read back as a dimension value: '*' and 'N+' stand for a concrete admission
            dims = {
                d: (k.rstrip("+").replace("*", "1") if d == "admission" else k)
                for d, k in zip(p.dims, key, strict=True)
            }
            _, read = p.at(date(2025, 6, 1), **dims)
            assert read.name == p.name
            assert read.since <= date(2025, 6, 1)
