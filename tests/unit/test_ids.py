"""Identity numbers, message ids and masking of personal data."""

from __future__ import annotations

import doctest
import logging
import random
import re
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao import ids
from yibao.ids import (
    MIN_BIRTH_DATE,
    CertNo,
    CertnoError,
    MsgId,
    MsgidError,
    PiiFilter,
    certno_check_digit,
    make_msgid,
    make_refmsgid,
    mask_card,
    mask_certno,
    mask_name,
    mask_phone,
    mask_text,
    parse_msgid,
    refmsg_time,
    synthetic_certno,
    validate_certno,
)

STANDARD = "11010519491231002X"  # the GB 11643-1999 example, check character X
ON = date(2025, 6, 12)

birth_dates = st.dates(min_value=MIN_BIRTH_DATE, max_value=date(2025, 6, 12))
gends = st.sampled_from(["1", "2"])
seeds = st.integers(min_value=0, max_value=2**32)


def _synthetic(seed: int, birth: date, gend: str) -> str:
    return synthetic_certno(random.Random(seed), birth_date=birth, gend=gend)


def _valid_windows(text: str) -> list[str]:
    """Every 18-character substring that validate_certno accepts (as of today)."""
    found = []
    for i in range(len(text) - 17):
        try:
            validate_certno(text[i : i + 18])
        except CertnoError:
            continue
        found.append(text[i : i + 18])
    return found


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(ids, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --- check digit -----------------------------------------------------------------------------


def test_the_standard_example_has_check_character_x() -> None:
    assert certno_check_digit(STANDARD[:17]) == "X"


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("11010119900307123", "3"),  # Σ digit × weight = 174, 174 mod 11 = 9 → "3"
        ("00000000000000000", "1"),  # sum 0 → "1"
    ],
)
def test_check_digit_examples(first17: str, check: str) -> None:
    assert certno_check_digit(first17) == check


@pytest.mark.parametrize(
    "bad", ["", "1101051949123100", "110105194912310021", "1101051949123100a", "１" * 17]
)
def test_check_digit_needs_exactly_seventeen_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17"):
        certno_check_digit(bad)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_changes_the_check_character(first17: str, pos: int, delta: int) -> None:
    changed = first17[:pos] + str((int(first17[pos]) + delta) % 10) + first17[pos + 1 :]
    assert certno_check_digit(changed) != certno_check_digit(first17)


# --- validation ------------------------------------------------------------------------------


def test_a_valid_number_gives_its_parts() -> None:
    c = validate_certno(STANDARD, on=ON)
    assert c == CertNo(certno=STANDARD, area="110105", birth_date=date(1949, 12, 31), gend="2")


def test_the_seventeenth_digit_gives_the_gender() -> None:
    odd = "44052418800101001"
    assert validate_certno(odd + certno_check_digit(odd), on=ON).gend == "1"
    even = "44052418800101002"
    assert validate_certno(even + certno_check_digit(even), on=ON).gend == "2"


def test_a_lowercase_check_x_is_accepted_and_normalised() -> None:
    assert validate_certno(STANDARD.lower(), on=ON).certno == STANDARD


def test_unknown_area_codes_are_not_rejected() -> None:
    for area in ("000000", "412723", "990100"):
        first17 = area + "19900307123"
        assert validate_certno(first17 + certno_check_digit(first17), on=ON).area == area


def test_a_person_born_today_is_valid_today() -> None:
    first17 = "110105" + "20250612" + "123"
    assert validate_certno(first17 + certno_check_digit(first17), on=ON).birth_date == ON


def _with_check(first17: str) -> str:
    return first17 + certno_check_digit(first17)


@pytest.mark.parametrize(
    ("certno", "reason"),
    [
        ("11010519491231002", "must be 18 characters, got 17"),
        ("11010519491231002X1", "must be 18 characters, got 19"),
        ("110105491231002", "must be 18 characters, got 15"),  # first-generation numbers are not accepted
        ("", "must be 18 characters, got 0"),
        ("1101051949123100XX", "17 digits followed by a digit or X"),
        ("11010519491231002Y", "17 digits followed by a digit or X"),
        ("１１０１０５１９４９１２３１００２X", "17 digits followed by a digit or X"),
        (" 1010519491231002X", "17 digits followed by a digit or X"),
        ("110105194912310021", "bad check digit"),
        (_with_check("11010519490229002"), "impossible birth date"),  # 1949 is no leap year
        (_with_check("11010519491301002"), "impossible birth date"),
        (_with_check("11010518691231002"), "impossible birth date"),  # before MIN_BIRTH_DATE
        (_with_check("11010520250613002"), "birth date is after 2025-06-12"),
    ],
)
def test_invalid_numbers_are_rejected_with_a_reason(certno: str, reason: str) -> None:
    with pytest.raises(CertnoError) as err:
        validate_certno(certno, on=ON)
    assert isinstance(err.value, ValueError)
    assert err.value.field == "certno"
    assert reason in str(err.value)


def test_the_default_reference_date_is_today() -> None:
    tomorrow = date.today().toordinal() + 1
    first17 = "110105" + date.fromordinal(tomorrow).strftime("%Y%m%d") + "123"
    with pytest.raises(CertnoError, match="birth date is after"):
        validate_certno(_with_check(first17))


def test_the_error_names_the_field_it_was_given() -> None:
    with pytest.raises(CertnoError, match=r"^mdtrt_cert_no: bad check digit"):
        validate_certno("110105194912310021", field="mdtrt_cert_no")


def test_a_non_string_is_rejected() -> None:
    with pytest.raises(CertnoError, match="must be a string, not int"):
        validate_certno(110105194912310021)  # type: ignore[arg-type]


@given(seed=seeds, birth=birth_dates, gend=gends, pos=st.integers(0, 17), char=st.sampled_from("0123456789X"))
def test_errors_never_carry_the_full_number(seed: int, birth: date, gend: str, pos: int, char: str) -> None:
    good = _synthetic(seed, birth, gend)
    bad = good[:pos] + char + good[pos + 1 :]
    for candidate in (bad, bad + "7", bad[:-1]):
        try:
            validate_certno(candidate, on=ON)
        except CertnoError as err:
            assert candidate not in str(err)
            assert candidate not in repr(err)
            assert candidate[3:14] not in str(err)
        else:
            assert candidate == good


def test_the_repr_of_a_validated_number_is_masked() -> None:
    c = validate_certno(STANDARD, on=ON)
    assert repr(c) == "CertNo(certno='110***********002X')"
    assert STANDARD not in str(c)


def test_age_counts_whole_years() -> None:
    c = validate_certno(STANDARD, on=ON)
    assert c.age(date(2024, 12, 30)) == 74
    assert c.age(date(2024, 12, 31)) == 75


# --- synthetic numbers -----------------------------------------------------------------------


@given(seed=seeds, birth=birth_dates, gend=gends)
def test_synthetic_numbers_always_validate_and_round_trip(seed: int, birth: date, gend: str) -> None:
    number = _synthetic(seed, birth, gend)
    parsed = validate_certno(number, on=birth)
    assert parsed.certno == number
    assert parsed.birth_date == birth
    assert parsed.gend == gend
    assert parsed.area == "990100"


def test_synthetic_numbers_are_reproducible_from_the_seed() -> None:
    a = [_synthetic(7, date(1990, 1, 1), "1") for _ in range(3)]
    b = [_synthetic(7, date(1990, 1, 1), "1") for _ in range(3)]
    assert a == b
    rng = random.Random(7)
    drawn = {synthetic_certno(rng, birth_date=date(1990, 1, 1), gend="2") for _ in range(50)}
    assert len(drawn) > 1


def test_synthetic_numbers_accept_other_99_areas() -> None:
    number = synthetic_certno(random.Random(0), birth_date=date(2000, 2, 29), gend="2", area="991234")
    assert validate_certno(number, on=ON).area == "991234"


@pytest.mark.parametrize("area", ["110105", "320581", "99010", "9901000", "99a100"])
def test_synthetic_numbers_never_use_a_real_area(area: str) -> None:
    with pytest.raises(ValueError, match="99"):
        synthetic_certno(random.Random(0), birth_date=date(1990, 1, 1), gend="1", area=area)


@pytest.mark.parametrize("gend", ["0", "9", "", "男"])
def test_synthetic_numbers_need_a_gender_of_one_or_two(gend: str) -> None:
    with pytest.raises(ValueError, match="gend"):
        synthetic_certno(random.Random(0), birth_date=date(1990, 1, 1), gend=gend)


def test_synthetic_numbers_refuse_impossible_birth_dates() -> None:
    with pytest.raises(ValueError, match="birth_date"):
        synthetic_certno(random.Random(0), birth_date=date(1850, 1, 1), gend="1")


# --- message ids -----------------------------------------------------------------------------


def test_msgid_is_institution_time_and_sequence() -> None:
    msgid = make_msgid("H32058100123", datetime(2025, 6, 12, 9, 30, 15), 7)
    assert msgid == "H32058100123202506120930150007"
    assert len(msgid) == 30


@given(
    code=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=12, max_size=12),
    when=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    seq=st.integers(0, 9999),
)
def test_msgid_round_trips(code: str, when: datetime, seq: int) -> None:
    msgid = make_msgid(code, when, seq)
    assert len(msgid) == 30
    assert parse_msgid(msgid) == MsgId(fixmedins_code=code, time=when.replace(microsecond=0), seq=seq)


@pytest.mark.parametrize("code", ["H3205810012", "H320581001234", "H3205810012-", "H32058100１2"])
def test_msgid_needs_a_twelve_character_institution_code(code: str) -> None:
    with pytest.raises(MsgidError) as err:
        make_msgid(code, datetime(2025, 6, 12), 1)
    assert err.value.field == "fixmedins_code"


@pytest.mark.parametrize("seq", [-1, 10000])
def test_msgid_sequence_has_four_digits(seq: int) -> None:
    with pytest.raises(MsgidError) as err:
        make_msgid("H32058100123", datetime(2025, 6, 12), seq)
    assert err.value.field == "seq"


@pytest.mark.parametrize(
    ("msgid", "reason"),
    [
        ("H3205810012320250612093015000", "must be 30 characters, got 29"),
        ("H32058100123202506120930150007X", "must be 30 characters, got 31"),
        ("H320581001-3202506120930150007", "characters 1-12"),
        ("H32058100123202506120930A50007", "characters 13-26 must be digits"),
        ("H32058100123202502300930150007", "not a valid yyyyMMddHHmmss time"),
        ("H32058100123202506122530150007", "not a valid yyyyMMddHHmmss time"),
        ("H3205810012320250612093015000A", "characters 27-30"),
    ],
)
def test_malformed_msgids_are_rejected(msgid: str, reason: str) -> None:
    with pytest.raises(MsgidError) as err:
        parse_msgid(msgid)
    assert err.value.field == "msgid"
    assert reason in str(err.value)


def test_refmsgid_matches_the_centre_format() -> None:
    assert (
        make_refmsgid("220000", datetime(2025, 5, 30, 15, 37, 8), 2844878588)
        == "220000202505301537082844878588"
    )
    assert make_refmsgid("320581", datetime(2025, 6, 12, 8, 1, 2), 1177) == "320581202506120801020000001177"


@pytest.mark.parametrize(
    ("admdvs", "serial"), [("32058", 1), ("32058a", 1), ("320581", -1), ("320581", 10**10)]
)
def test_refmsgid_rejects_bad_parts(admdvs: str, serial: int) -> None:
    with pytest.raises(MsgidError):
        make_refmsgid(admdvs, datetime(2025, 6, 12), serial)


def test_refmsg_time_has_milliseconds() -> None:
    assert refmsg_time(datetime(2025, 6, 12, 9, 30, 16, 587000)) == "20250612093016587"
    assert refmsg_time(datetime(2025, 6, 12, 9, 30, 16)) == "20250612093016000"
    assert len(refmsg_time(datetime(2025, 1, 1, 0, 0, 0, 999999))) == 17


# --- masking ---------------------------------------------------------------------------------


def test_masking_defaults() -> None:
    assert mask_certno("110101199003071234") == "110***********1234"
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone("13812341234") == "138****1234"
    assert mask_card("6222021234567890123") == "622202*********0123"


def test_masks_keep_the_length() -> None:
    for value in ("110101199003071234", "13812341234", "6222021234567890123"):
        for mask in (mask_certno, mask_phone, mask_card, mask_name):
            assert len(mask(value)) == len(value)


def test_values_too_short_to_keep_anything_are_starred_entirely() -> None:
    assert mask_certno("1234567") == "*******"
    assert mask_phone("") == ""
    assert mask_card("1234567890") == "**********"
    assert mask_name("王") == "*"


def test_mask_text_masks_numbers_inside_chinese_text() -> None:
    text = "患者张三丰(身份证11010519491231002X,手机13812341234)就诊"
    assert mask_text(text) == "患者张三丰(身份证110***********002X,手机138****1234)就诊"


def test_mask_text_masks_a_mistyped_number_too() -> None:
    assert mask_text("certno=110105194912310021") == "certno=110***********0021"


def test_mask_text_masks_written_out_phone_numbers() -> None:
    assert mask_text("tel 138 1234 1234") == "tel 138 **** 1234"
    assert mask_text("tel +8613812341234") == "tel +86138****1234"
    assert mask_text("tel 008613812341234") == "tel 0086138****1234"


@pytest.mark.parametrize(
    "text",
    [
        "msgid H32058100123202506120930150007",
        "psn_no 32058100000000012345",
        "mdtrt_id 320581000000123456",
        "inf_refmsgid 220000202505301537082844878588",
        "hilist_code XA10BAE054A001010101234",
        "fee 286.40 on 2025-06-12 09:30:15, 12 lines",
        "no numbers here at all, 没有号码",
        "23812341234 and 12812341234 are not mobile numbers",
    ],
)
def test_mask_text_leaves_business_ids_and_plain_text_alone(text: str) -> None:
    assert mask_text(text) == text


pieces = st.one_of(
    st.text(alphabet="0123456789Xx -:=,患者号", max_size=12),
    st.builds(_synthetic, seeds, birth_dates, gends),
    st.builds(lambda s, b, g: _synthetic(s, b, g).lower(), seeds, birth_dates, gends),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
)


@given(st.lists(pieces, max_size=8))
def test_mask_text_never_leaves_a_valid_identity_number(parts: list[str]) -> None:
    text = "".join(parts)
    masked = mask_text(text)
    assert _valid_windows(masked) == []
    assert len(masked) == len(text)


@given(st.lists(pieces, max_size=8))
def test_mask_text_leaves_no_separate_mobile_number_or_identity_number(parts: list[str]) -> None:
    masked = mask_text(" ".join(parts))
    for token in masked.split(" "):
        assert not re.fullmatch(r"1[3-9][0-9]{9}", token)
        assert not _valid_windows(token)


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=50))
def test_mask_text_changes_nothing_without_digits(text: str) -> None:
    assert mask_text(text) == text


@given(seed=seeds, birth=birth_dates, gend=gends)
def test_mask_text_is_idempotent(seed: int, birth: date, gend: str) -> None:
    text = f"a {_synthetic(seed, birth, gend)} b 13912345678"
    once = mask_text(text)
    assert mask_text(once) == once


# --- logging filter ---------------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> _Capture:
    handler = _Capture()
    handler.addFilter(PiiFilter())
    return handler


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"yibao.tests.{name}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_pii_filter_masks_message_and_args(captured: _Capture) -> None:
    log = _logger("args", captured)
    log.info("1101 for %s, phone %s, %d lines", STANDARD, "13812341234", 3)
    log.info("dict args %(certno)s", {"certno": STANDARD})
    log.info("in the message itself: 11010519491231002X")
    assert captured.lines == [
        "1101 for 110***********002X, phone 138****1234, 3 lines",
        "dict args 110***********002X",
        "in the message itself: 110***********002X",
    ]
    assert all(r.args == () for r in captured.records)


def test_pii_filter_masks_non_string_args_by_their_text(captured: _Capture) -> None:
    log = _logger("objects", captured)
    log.warning("input_value=%r", {"certno": STANDARD, "mobile": 13812341234})
    assert STANDARD not in captured.lines[0]
    assert "13812341234" not in captured.lines[0]


def test_pii_filter_masks_exception_text(captured: _Capture) -> None:
    log = _logger("exc", captured)
    try:
        raise ValueError(f"no person with certno {STANDARD}")
    except ValueError:
        log.exception("lookup failed for %s", STANDARD)
    (line,) = captured.lines
    assert "Traceback" in line and "ValueError" in line
    assert STANDARD not in line
    assert "110***********002X" in line


def test_pii_filter_masks_extra_fields(captured: _Capture) -> None:
    log = _logger("extra", captured)
    log.info("settled", extra={"certno": STANDARD, "count": 2})
    (record,) = captured.records
    assert getattr(record, "certno") == "110***********002X"
    assert getattr(record, "count") == 2


def test_pii_filter_survives_a_bad_format_string(captured: _Capture) -> None:
    log = _logger("badfmt", captured)
    log.info("two placeholders %s %s", STANDARD)
    (line,) = captured.lines
    assert STANDARD not in line
    assert "110***********002X" in line


def test_pii_filter_never_drops_a_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None)
    assert PiiFilter().filter(record) is True
