"""Identifiers: resident identity numbers, message ids, and masking of personal data (脱敏).

**Resident identity numbers** (公民身份号码, GB 11643-1999) are 18 characters: 6 area (行政区划) + 8 birth
date (YYYYMMDD) + 3 sequence (the 3rd, i.e. the 17th character, odd for men) + 1 ISO 7064 MOD 11-2 check
character (``X`` for 10). :func:`validate_certno` checks length, digits, check character and birth date;
it does **not** reject unknown area codes — abolished codes are still on issued cards and any bundled
GB/T 2260 table is stale (shared/domain/stack.md §1, the ``stdnum.cn.ric`` pitfall). 15-digit
(first-generation) numbers are not accepted. Errors never carry the full number, only its mask.

**Message ids** of the national envelope: ``msgid`` = fixmedins_code(12) + yyyyMMddHHmmss(14) + seq(4);
``inf_refmsgid`` and ``sign_no`` = admdvs(6) + yyyyMMddHHmmss(14) + serial(10); ``refmsg_time`` /
``respond_time`` = yyyyMMddHHmmssSSS (17). All are 30 characters except the times.

**Masking** defaults of stack.md §4: identity numbers ``110***********1234`` (3 + 4), names ``张**``,
phones ``138****1234``, cards first 6 + last 4; :func:`mask_text` and :class:`PiiFilter` apply them to
free text and log records.

>>> certno_check_digit("11010519491231002")
'X'
>>> c = validate_certno("11010519491231002X")
>>> c.area, c.birth_date, c.gend
('110105', datetime.date(1949, 12, 31), '2')
>>> c
CertNo(certno='110***********002X')
>>> make_msgid("H32058100123", datetime(2025, 6, 12, 9, 30, 15), 7)
'H32058100123202506120930150007'
>>> mask_text("患者 11010519491231002X 电话 13812341234")
'患者 110***********002X 电话 138****1234'
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = [
    "MIN_BIRTH_DATE",
    "SYNTHETIC_AREA_PREFIX",
    "CertNo",
    "CertnoError",
    "MsgId",
    "MsgidError",
    "PiiFilter",
    "certno_check_digit",
    "make_msgid",
    "make_refmsgid",
    "mask_card",
    "mask_certno",
    "mask_name",
    "mask_phone",
    "mask_text",
    "parse_msgid",
    "refmsg_time",
    "synthetic_certno",
    "validate_certno",
]

# ---------------------------------------------------------------------------------------------
# Resident identity numbers (GB 11643-1999)
# ---------------------------------------------------------------------------------------------

CERTNO_LENGTH = 18
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK_CHARS = "10X98765432"  # indexed by (Σ digit × weight) mod 11
_DIGITS = frozenset("0123456789")

MIN_BIRTH_DATE = date(1870, 1, 1)
"""Earliest birth date accepted: numbers were issued from 1999 on, to people alive then."""

SYNTHETIC_AREA_PREFIX = "99"
"""Area codes of synthetic identity numbers start with 99, which is no province (the real ones run 11–82)."""


class CertnoError(ValueError):
    """An identity number that is not valid. The message names the field and the reason and shows the
    number only masked (``masked``); the number itself is never kept on the exception."""

    def __init__(self, reason: str, masked: str = "", *, field: str = "certno") -> None:
        suffix = f" ({masked})" if masked else ""
        super().__init__(f"{field}: {reason}{suffix}")
        self.field = field
        self.reason = reason
        self.masked = masked


@dataclass(frozen=True, slots=True)
class CertNo:
    """A validated 18-character resident identity number.

    Attributes:
        certno: the number, with a lowercase check ``x`` normalised to ``X``.
        area: the 6-digit area code (行政区划代码 at issue; not checked against any table).
        birth_date: the birth date encoded in characters 7–14.
        gend: national gend code, "1" (男) if the 17th character is odd, else "2" (女).

    ``repr`` shows only the masked number: area + birth date + the last four characters would
    otherwise spell out the whole number in a log.
    """

    certno: str
    area: str = field(repr=False)
    birth_date: date = field(repr=False)
    gend: str = field(repr=False)

    def __repr__(self) -> str:
        return f"CertNo(certno={mask_certno(self.certno)!r})"

    def age(self, on: date) -> int:
        """Age in whole years on ``on`` (a person born on 29 February turns a year older on 1 March).

        >>> validate_certno("11010519491231002X").age(date(2025, 12, 30))
        75
        """
        years = on.year - self.birth_date.year
        if (on.month, on.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


def _check_char(first17: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _is_digits(text: str) -> bool:
    return all(ch in _DIGITS for ch in text)


def certno_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ("0"–"9" or "X") for the first 17 digits of a number.

    >>> certno_check_digit("11010519491231002"), certno_check_digit("44052418800101001")
    ('X', '4')
    """
    if not isinstance(first17, str) or len(first17) != 17 or not _is_digits(first17):
        raise ValueError("first17 must be exactly 17 ASCII digits")
    return _check_char(first17)


def _birth_date(digits: str) -> date | None:
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def validate_certno(certno: str, *, on: date | None = None, field: str = "certno") -> CertNo:
    """Check an 18-character identity number and return its parts; :class:`CertnoError` if invalid.

    Rejected: a length other than 18; non-digits (other than a final ``X``/``x``); a wrong check
    character; a birth date that is not a calendar date or is before :data:`MIN_BIRTH_DATE`; a birth
    date after ``on`` (default: today). Unknown area codes are accepted.

    >>> validate_certno("11010519491231002X", on=date(1949, 12, 30))
    Traceback (most recent call last):
    ...
    yibao.ids.CertnoError: certno: birth date is after 1949-12-30 (110***********002X)
    >>> validate_certno("110105194912310021")
    Traceback (most recent call last):
    ...
    yibao.ids.CertnoError: certno: bad check digit (110***********0021)
    """
    if not isinstance(certno, str):
        raise CertnoError(f"must be a string, not {type(certno).__name__}", field=field)
    masked = mask_certno(certno)
    if len(certno) != CERTNO_LENGTH:
        raise CertnoError(f"must be {CERTNO_LENGTH} characters, got {len(certno)}", masked, field=field)
    first17, last = certno[:17], certno[17]
    if not _is_digits(first17) or not (last in _DIGITS or last in "Xx"):
        raise CertnoError("must be 17 digits followed by a digit or X", masked, field=field)
    normalised = first17 + last.upper()
    if _check_char(first17) != normalised[17]:
        raise CertnoError("bad check digit", masked, field=field)
    birth = _birth_date(first17[6:14])
    if birth is None or birth < MIN_BIRTH_DATE:
        raise CertnoError("impossible birth date", masked, field=field)
    today = on if on is not None else date.today()
    if birth > today:
        raise CertnoError(f"birth date is after {today.isoformat()}", masked, field=field)
    gend = "1" if int(first17[16]) % 2 == 1 else "2"
    return CertNo(certno=normalised, area=first17[:6], birth_date=birth, gend=gend)


def synthetic_certno(rng: random.Random, *, birth_date: date, gend: str, area: str = "990100") -> str:
    """A valid identity number for a synthetic person, drawn from ``rng``.

    ``area`` must start with 99: no province has that code, so a synthetic number can never be a real
    person's (the 2023 foreigners' permanent-residence numbers start with 9 followed by a real province
    code, never 99 either). The number validates with :func:`validate_certno` on any date from
    ``birth_date`` on, and round-trips ``birth_date`` and ``gend`` ("1" or "2").

    >>> n = synthetic_certno(random.Random(1), birth_date=date(1990, 3, 7), gend="1")
    >>> n[:14], validate_certno(n).gend
    ('99010019900307', '1')
    """
    if gend not in ("1", "2"):
        raise ValueError(f"gend must be '1' or '2', got {gend!r}")
    if len(area) != 6 or not _is_digits(area) or not area.startswith(SYNTHETIC_AREA_PREFIX):
        raise ValueError(
            f"synthetic area code must be 6 digits starting with {SYNTHETIC_AREA_PREFIX}, got {area!r}"
        )
    if birth_date < MIN_BIRTH_DATE:
        raise ValueError(f"birth_date must not be before {MIN_BIRTH_DATE.isoformat()}")
    seq = rng.randrange(100)
    parity = rng.randrange(5) * 2 + (1 if gend == "1" else 0)
    first17 = f"{area}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}{seq:02d}{parity}"
    return first17 + _check_char(first17)


# ---------------------------------------------------------------------------------------------
# Message ids
# ---------------------------------------------------------------------------------------------

MSGID_LENGTH = 30
FIXMEDINS_CODE_LENGTH = 12
_TIME14 = "%Y%m%d%H%M%S"


class MsgidError(ValueError):
    """A message id (or one of its parts) in the wrong format; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class MsgId:
    """The parts of a sender ``msgid``.

    Attributes:
        fixmedins_code: the 12-character institution code (定点医药机构编号).
        time: the send time, to the second (naive, the sender's wall clock).
        seq: the 4-digit sequence number within that second.
    """

    fixmedins_code: str
    time: datetime
    seq: int


def _time14(when: datetime) -> str:
    return f"{when.year:04d}{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}{when.second:02d}"


def _is_code(text: str) -> bool:
    return text.isascii() and text.isalnum()


def make_msgid(fixmedins_code: str, when: datetime, seq: int) -> str:
    """``fixmedins_code`` (12) + ``when`` as yyyyMMddHHmmss (14) + ``seq`` as 4 digits = 30 characters.

    >>> make_msgid("H13110200026", datetime(2025, 1, 2, 3, 4, 5), 12)
    'H13110200026202501020304050012'
    """
    if len(fixmedins_code) != FIXMEDINS_CODE_LENGTH or not _is_code(fixmedins_code):
        raise MsgidError(
            "fixmedins_code",
            f"must be {FIXMEDINS_CODE_LENGTH} ASCII letters or digits, got {fixmedins_code!r}",
        )
    if isinstance(seq, bool) or not 0 <= seq <= 9999:
        raise MsgidError("seq", f"must be 0..9999, got {seq!r}")
    return f"{fixmedins_code}{_time14(when)}{seq:04d}"


def parse_msgid(msgid: str) -> MsgId:
    """Split a 30-character msgid into institution, time and sequence; :class:`MsgidError` if malformed.

    >>> parse_msgid("H32058100123202506120930150007")
    MsgId(fixmedins_code='H32058100123', time=datetime.datetime(2025, 6, 12, 9, 30, 15), seq=7)
    >>> parse_msgid("H32058100123202513120930150007")
    Traceback (most recent call last):
    ...
    yibao.ids.MsgidError: msgid: characters 13-26 are not a valid yyyyMMddHHmmss time: '20251312093015'
    """
    if not isinstance(msgid, str) or len(msgid) != MSGID_LENGTH:
        length = len(msgid) if isinstance(msgid, str) else type(msgid).__name__
        raise MsgidError("msgid", f"must be {MSGID_LENGTH} characters, got {length}")
    code, stamp, seq = msgid[:12], msgid[12:26], msgid[26:]
    if not _is_code(code):
        raise MsgidError("msgid", f"characters 1-12 must be the fixmedins_code (letters or digits): {code!r}")
    if not _is_digits(stamp):
        raise MsgidError("msgid", f"characters 13-26 must be digits: {stamp!r}")
    try:
        time = datetime.strptime(stamp, _TIME14)  # the sender's wall clock, no zone on the wire
    except ValueError:
        raise MsgidError(
            "msgid", f"characters 13-26 are not a valid yyyyMMddHHmmss time: {stamp!r}"
        ) from None
    if not _is_digits(seq):
        raise MsgidError("msgid", f"characters 27-30 must be a 4-digit sequence: {seq!r}")
    return MsgId(fixmedins_code=code, time=time, seq=int(seq))


def make_refmsgid(admdvs: str, when: datetime, serial: int) -> str:
    """``admdvs`` (6) + yyyyMMddHHmmss (14) + ``serial`` as 10 digits = 30: ``inf_refmsgid`` and ``sign_no``.

    >>> make_refmsgid("320581", datetime(2025, 6, 12, 9, 30, 16), 4821)
    '320581202506120930160000004821'
    """
    if len(admdvs) != 6 or not _is_digits(admdvs):
        raise MsgidError("admdvs", f"must be 6 digits, got {admdvs!r}")
    if isinstance(serial, bool) or not 0 <= serial < 10**10:
        raise MsgidError("serial", f"must be 0..9999999999, got {serial!r}")
    return f"{admdvs}{_time14(when)}{serial:010d}"


def refmsg_time(when: datetime) -> str:
    """``when`` as yyyyMMddHHmmssSSS (17 characters; milliseconds truncated), for refmsg_time / respond_time.

    >>> refmsg_time(datetime(2025, 6, 12, 9, 30, 16, 112999))
    '20250612093016112'
    """
    return f"{_time14(when)}{when.microsecond // 1000:03d}"


# ---------------------------------------------------------------------------------------------
# Masking (脱敏)
# ---------------------------------------------------------------------------------------------


def _keep(text: str, head: int, tail: int) -> str:
    """Star all but ``head`` leading and ``tail`` trailing characters; all of it if too short to keep any."""
    n = len(text)
    if n <= head + tail:
        return "*" * n
    return text[:head] + "*" * (n - head - tail) + text[n - tail :]


def mask_certno(certno: str) -> str:
    """First 3 and last 4 characters, stars between, same length (numbers of 7 or fewer: all stars).

    >>> mask_certno("110101199003071234")
    '110***********1234'
    """
    return _keep(certno, 3, 4)


def mask_name(name: str) -> str:
    """The first character (the surname, mostly) and a star for every other character.

    >>> mask_name("张三丰"), mask_name("李四"), mask_name("王")
    ('张**', '李*', '*')
    """
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """First 3 and last 4 characters, stars between (7 or fewer characters: all stars).

    >>> mask_phone("13812341234")
    '138****1234'
    """
    return _keep(phone, 3, 4)


def mask_card(card: str) -> str:
    """First 6 and last 4 characters, stars between (10 or fewer characters: all stars).

    >>> mask_card("6222021234567890123")
    '622202*********0123'
    """
    return _keep(card, 6, 4)


# A run of characters that may hold identity numbers: digits and X (the check character).
_CERTNO_RUN = re.compile(r"[0-9Xx]{18,}")
# A mainland mobile number, optionally +86 / 0086 / 86 prefixed and written 3-4-4 with spaces or dashes.
_PHONE = re.compile(r"(?<![0-9])((?:\+|00)?86[ -]?)?(1[3-9][0-9])([ -]?)([0-9]{4})\3([0-9]{4})(?![0-9])")
_PLAUSIBLE_YEARS = range(1800, 2200)


def _certno_shaped(window: str) -> bool:
    return _is_digits(window[:17]) and (window[17] in _DIGITS or window[17] in "Xx")


def _plausible_birth(window: str) -> bool:
    year = int(window[6:10])
    if year not in _PLAUSIBLE_YEARS:
        return False
    return _birth_date(window[6:14]) is not None


def _valid_window(window: str, today: date) -> bool:
    """Whether ``window`` is a number :func:`validate_certno` would accept on ``today``."""
    if not _certno_shaped(window) or _check_char(window[:17]) != window[17].upper():
        return False
    birth = _birth_date(window[6:14])
    return birth is not None and MIN_BIRTH_DATE <= birth <= today


def _mask_certno_run(match: re.Match[str], today: date) -> str:
    run = match.group()
    if len(run) == CERTNO_LENGTH:
        # A lone 18-character token: masked whenever it looks like a number with a real birth date,
        # even with a wrong check digit (a mistyped number is still personal data).
        return mask_certno(run) if _certno_shaped(run) and _plausible_birth(run) else run
    # Inside a longer run (ids glued together, long serials): mask only windows that are valid
    # numbers, so that 20- and 30-digit business ids mostly stay readable.
    chars = list(run)
    for i in range(len(run) - CERTNO_LENGTH + 1):
        if _valid_window(run[i : i + CERTNO_LENGTH], today):
            chars[i + 3 : i + CERTNO_LENGTH - 4] = "*" * (CERTNO_LENGTH - 7)
    return "".join(chars)


def _mask_phone_match(match: re.Match[str]) -> str:
    prefix, head, sep, middle, tail = match.groups()
    return f"{prefix or ''}{head}{sep}{'*' * len(middle)}{sep}{tail}"


def mask_text(text: str) -> str:
    """Mask every identity number and mobile number in free text (log lines, error messages).

    Identity numbers: an 18-character token (17 digits + digit or X, not touching other digits or X)
    with a real birth date is masked even if its check digit is wrong; inside a longer run of digits
    every 18-character window that :func:`validate_certno` would accept today is masked (so now and
    then a long serial that happens to contain one is masked too). Mobile numbers: ``1[3-9]`` + 9 digits
    not touching other digits, also written ``138 1234 1234`` / ``138-1234-1234`` or after +86.

    >>> mask_text("certno=110101199003071234, tel: +86 138-1234-1234; psn_no 32058100000000012345")
    'certno=110***********1234, tel: +86 138-****-1234; psn_no 32058100000000012345'
    """
    if len(text) < 11:
        return text
    today = date.today()
    text = _CERTNO_RUN.sub(lambda m: _mask_certno_run(m, today), text)
    return _PHONE.sub(_mask_phone_match, text)


_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class PiiFilter(logging.Filter):
    """A logging filter that masks identity and mobile numbers in every record (:func:`mask_text`).

    It renders the message with its args, masks it and stores the result as ``record.msg`` with empty
    ``args``; it also masks the exception and stack text and any string passed through ``extra=``.
    Install it on each **handler** (a filter on a logger does not see records propagated from child
    loggers)::

        handler = logging.StreamHandler()
        handler.addFilter(PiiFilter())
        logging.getLogger().addHandler(handler)

    The record is changed in place, so handlers that run after this one also get the masked text.
    It never drops a record (``filter`` always returns ``True``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a bad format string: keep everything, masked
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_text(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
            record.exc_info = None  # formatters would render the raw exception again
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS and isinstance(value, str):
                setattr(record, key, mask_text(value))
        return True
