"""The CHS-DRG 1.1 tables, parsed into immutable lookups for the grouper.

The tables are data published by the NHSA and machine-read by the OpenDRG project (repository
``OpenDRG/DRG_Rules``, folder ``CHS_DRG_11``, Apache-2.0). yibao never ships them: they are read from a
folder, by default ``../shared/data/chs-drg-1.1`` beside the project, or the folder named by the
environment variable ``YIBAO_DRG_TABLES``. When the folder is missing :func:`load_tables` raises
:class:`TablesMissing`, which says where to get them.

Files read (fields separated by a space, UTF-8):

- ``1_MDC.txt`` / ``2_ADRG.txt`` / ``3_DRG.txt``: codes and names (26 MDC, 376 ADRG, 628 DRG);
- ``4_ADRG_DETAIL.txt``: per MDC its principal-diagnosis table (主诊表) and per ADRG its entry rule,
  written as connecting phrases followed by code lists. Every phrase is recognised by
  :data:`PHRASES` (spacing and full/half-width colons do not matter); **any other line is an error
  with its line number**, so a new table version cannot silently mis-group;
- ``5_MCC.txt`` / ``6_CC.txt``: (diagnosis, name, exclusion table) records — the PDF extraction put
  several records on one line and split names over lines, so these are read as a token stream;
- ``7_CCE.txt``: the exclusion tables 表 7-n (principal diagnoses that cancel a CC/MCC), also a stream;
- ``MDC/MDCx.dat``: the principal diagnoses of each MDC (and, for MDCZ, of each trauma site). They are
  cross-checked against the 主诊表 of the detail file; differences end up in :attr:`Tables.warnings`.

The entry-rule forms (:class:`Form`) and how the grouper reads them:

================================  ==========================================================  ======
form                              wording in 4_ADRG_DETAIL.txt                                test
================================  ==========================================================  ======
``main_procedure``                包含以下主要手术或操作                                         main procedure in list
``principal``                     包含以下主要诊断                                               principal diagnosis in list
``principal+main_procedure``      包含以下主要诊断 … 包含以下主要手术或操作                       both
``procedure_pair``                同时包含以下手术 … 和 …                                        one procedure from each list
``principal+procedure_pair``      包含以下主要诊断 … 同时包含以下手术 … 和 …                     both
``principal+procedure_tables``    包含以下主要诊断+手术表 1+手术表 2 / 或 …+手术表 3+手术表 4      principal and one procedure per table, any alternative
``any_diagnosis``                 主要诊断或其他诊断中包含以下诊断 / 包含以下诊断                 any diagnosis in list
``any_or_procedure``              全部手术 / 包含全部手术 / (a surgical ADRG with no list)         any operating-room procedure
``no_or_procedure``               符合 MDCx 主诊表，且无手术                                     no operating-room procedure
================================  ==========================================================  ======

ADRG codes say what kind of group they are (CHS-DRG convention, second letter): A–J surgical, K–Q
non-operating-room procedures, R–Z medical. Outside MDCA every surgical ADRG also needs an
operating-room (OR) procedure; the OR procedures are those listed by the surgical ADRGs of MDCB–MDCZ
(:attr:`Tables.or_procedures`). ADRG names carry the few non-code conditions of 1.1 (newborn age in
days and birth weight, e.g. ``PS2 早产儿（出生体重 1500-1999g）``); they are parsed into the rule.

>>> t = load_tables()                                         # doctest: +SKIP
>>> t.adrgs["GD2"].rule.form, len(t.mdcs), len(t.drgs)        # doctest: +SKIP
('main_procedure', 26, 628)
>>> normalise_code(" k35.800X001 ")
'K35.800x001'
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "ENV_VAR",
    "PHRASES",
    "SOURCE",
    "Adrg",
    "CcEntry",
    "EntryRule",
    "Form",
    "Kind",
    "Mdc",
    "Tables",
    "TablesError",
    "TablesMissing",
    "cc_lists",
    "counts_as",
    "default_folder",
    "load_tables",
    "normalise_code",
]

ENV_VAR = "YIBAO_DRG_TABLES"
SOURCE = (
    "the OpenDRG/DRG_Rules repository (https://github.com/OpenDRG/DRG_Rules), folder CHS_DRG_11 "
    "(Apache-2.0; yibao was checked against commit ab57a5b)"
)
DETAIL = "4_ADRG_DETAIL.txt"

# ---------------------------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------------------------

_DX = r"[A-Z]\d{2}\.[0-9x]{1,4}(?:x\d{3,4})?(?:\+[A-Z]\d{2}(?:\.[0-9x]+)?\*|\*)?"
_PX = r"\d{2}\.[0-9A-Zx]{2,6}(?:x\d{3,4})?"
DX_RE = re.compile(_DX)
PX_RE = re.compile(_PX)
_CODE_START = re.compile(r"^(?:[A-Z]\d{2}|\d{2}\.)")
# a diagnosis code glued to the end of a wrapped name ("其他特指 的J63.800x001")
_GLUED = re.compile(r"(?<=[^\x00-\x7f])(?=" + _DX + r"(?![0-9A-Za-z.]))")


def normalise_code(code: str) -> str:
    """The table spelling of a diagnosis or procedure code: trimmed, upper case except the ``x``.

    >>> normalise_code("a01.002+g01*"), normalise_code("33.6X00"), normalise_code("X59.900")
    ('A01.002+G01*', '33.6x00', 'X59.900')
    """
    c = code.strip().upper()
    if not c:
        return c
    return c[0] + c[1:].replace("X", "x")


def is_diagnosis_code(code: str) -> bool:
    return DX_RE.fullmatch(code) is not None


def is_procedure_code(code: str) -> bool:
    return PX_RE.fullmatch(code) is not None


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class TablesError(ValueError):
    """A table that yibao cannot read with certainty; ``where`` is ``file:line``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class TablesMissing(FileNotFoundError):
    """The CHS-DRG tables are not where yibao looks for them."""

    def __init__(self, folder: Path, missing: str) -> None:
        where = (
            f"the folder {folder} does not exist" if missing == "" else f"{missing} is missing in {folder}"
        )
        super().__init__(
            f"CHS-DRG 1.1 tables not found: {where}. yibao does not ship them. "
            f"Get them from {SOURCE} and put the folder at {default_folder(ignore_env=True)} or point "
            f"the environment variable {ENV_VAR} at it (or pass --tables DIR)."
        )
        self.folder = folder


def default_folder(*, ignore_env: bool = False) -> Path:
    """``$YIBAO_DRG_TABLES`` or ``../shared/data/chs-drg-1.1`` beside the project root."""
    env = os.environ.get(ENV_VAR)
    if env and not ignore_env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "chs-drg-1.1"


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


class Form(StrEnum):
    """The entry-rule forms found in 4_ADRG_DETAIL.txt (see the module docstring)."""

    MAIN_PROCEDURE = "main_procedure"
    PRINCIPAL = "principal"
    PRINCIPAL_MAIN_PROCEDURE = "principal+main_procedure"
    PROCEDURE_PAIR = "procedure_pair"
    PRINCIPAL_PROCEDURE_PAIR = "principal+procedure_pair"
    PRINCIPAL_PROCEDURE_TABLES = "principal+procedure_tables"
    ANY_DIAGNOSIS = "any_diagnosis"
    ANY_OR_PROCEDURE = "any_or_procedure"
    NO_OR_PROCEDURE = "no_or_procedure"


class Kind(StrEnum):
    """What the second letter of an ADRG code says: A–J surgical, K–Q procedure, R–Z medical."""

    SURGICAL = "surgical"
    PROCEDURE = "procedure"
    MEDICAL = "medical"


def adrg_kind(code: str) -> Kind:
    letter = code[1]
    if "A" <= letter <= "J":
        return Kind.SURGICAL
    if "K" <= letter <= "Q":
        return Kind.PROCEDURE
    return Kind.MEDICAL


class ProcedureList(NamedTuple):
    """One list of a rule, with where it starts in the detail file (for the trace)."""

    label: str
    codes: frozenset[str]
    line: int


class EntryRule(NamedTuple):
    """The conditions that put a case into an ADRG. All present conditions must hold.

    Attributes:
        form: which wording of the detail file this is (:class:`Form`).
        principal: the principal diagnosis must be in this list.
        any_diagnosis: some diagnosis (principal or secondary) must be in this list.
        main_procedure: the main (first) procedure must be in this list.
        procedure_sets: alternatives; an alternative holds when each of its lists is matched by a
            different procedure of the case (同时包含 … 和 …, 主要诊断+手术表 1+手术表 2 …).
        or_procedure: True = needs an operating-room procedure, False = must have none, None = no test.
        age_days: inclusive range of age in days (newborn ADRGs), from the ADRG name.
        weight: inclusive range of birth weight in grams, from the ADRG name.
        line: line of the ADRG header in 4_ADRG_DETAIL.txt.
        wording: the connecting phrases as they stand in the file.
    """

    form: Form
    principal: ProcedureList | None = None
    any_diagnosis: ProcedureList | None = None
    main_procedure: ProcedureList | None = None
    procedure_sets: tuple[tuple[ProcedureList, ...], ...] = ()
    or_procedure: bool | None = None
    age_days: tuple[int, int] | None = None
    weight: tuple[int, int] | None = None
    line: int = 0
    wording: tuple[str, ...] = ()
    implicit_or: bool = False


class Adrg(NamedTuple):
    code: str
    name: str
    mdc: str
    kind: Kind
    rule: EntryRule
    suffixes: tuple[str, ...]  # DRG 4th characters available: ("1","3","5"), ("9",) …


class Mdc(NamedTuple):
    code: str
    name: str
    principal: frozenset[str]  # empty for MDCA
    adrgs: tuple[Adrg, ...]  # in grouping order: surgical, procedure, medical (file order inside)
    sites: Mapping[str, frozenset[str]]  # MDCZ: trauma site → diagnoses; otherwise empty
    sex: str | None  # "1" MDCM, "2" MDCN/MDCO, else None


class CcEntry(NamedTuple):
    level: str  # "MCC" or "CC"
    table: str | None  # "7-12"; None when the table says 无 (never cancelled)


@dataclass(frozen=True)
class Tables:
    """Everything the grouper needs, immutable. Build with :func:`load_tables`."""

    folder: Path
    mdcs: Mapping[str, Mdc]
    adrgs: Mapping[str, Adrg]
    drgs: Mapping[str, str]
    cc: Mapping[str, CcEntry]
    exclusions: Mapping[str, frozenset[str]]
    diagnosis_names: Mapping[str, str]
    procedure_names: Mapping[str, str]
    or_procedures: frozenset[str]
    principal_mdcs: Mapping[str, tuple[str, ...]]  # principal diagnosis → regular MDCs (B–X but P)
    aliases: Mapping[str, str]  # dagger code alone → the table's dagger+asterisk code
    warnings: tuple[str, ...]
    load_seconds: float = field(default=0.0, compare=False)

    @property
    def diagnoses(self) -> frozenset[str]:
        return frozenset(self.diagnosis_names)

    def form_counts(self) -> dict[str, int]:
        """How many ADRGs use each entry-rule form (implicit any-OR-procedure rules counted apart)."""
        out: dict[str, int] = {}
        for a in self.adrgs.values():
            key = str(a.rule.form) + (
                " (implicit)" if a.rule.implicit_or and a.rule.form == Form.ANY_OR_PROCEDURE else ""
            )
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def drg_name(self, code: str) -> str:
        return self.drgs.get(code, "")

    def dx_name(self, code: str) -> str:
        return self.diagnosis_names.get(code, "")

    def px_name(self, code: str) -> str:
        return self.procedure_names.get(code, "")


# ---------------------------------------------------------------------------------------------
# Phrases of 4_ADRG_DETAIL.txt
# ---------------------------------------------------------------------------------------------


class _P(StrEnum):
    PRINCIPAL = "principal"
    MAIN_PX = "main_px"
    PAIR_A = "pair_a"
    PAIR_B = "pair_b"
    ANY_DX = "any_dx"
    ANY_DX_PLAIN = "any_dx_plain"
    ALL_SURGERY = "all_surgery"
    FORMULA_PRINCIPAL = "formula_principal"


PHRASES: Mapping[str, str] = MappingProxyType(
    {
        "包含以下主要诊断：": _P.PRINCIPAL,
        "包含以下主要手术或操作：": _P.MAIN_PX,
        "同时包含以下手术：": _P.PAIR_A,
        "和": _P.PAIR_B,
        "主要诊断或其他诊断中包含以下诊断：": _P.ANY_DX,
        "包含以下诊断：": _P.ANY_DX_PLAIN,
        "全部手术": _P.ALL_SURGERY,
        "包含全部手术": _P.ALL_SURGERY,
        "主要诊断：": _P.FORMULA_PRINCIPAL,
    }
)
"""The fixed connecting phrases (normalised: no spaces, full-width colon). Pattern phrases — the
``主要诊断+手术表 n`` formulas, the ``手术表 n：`` headers and ``符合 MDCx 主诊表，且无手术`` — are the
regular expressions below."""

_FORMULA = re.compile(r"^(或)?包含以下主要诊断((?:\+手术表\d+)+)$")
_TABLE_HEAD = re.compile(r"^手术(?:表)?(\d+)：$")
_NO_SURGERY = re.compile(r"^符合(MDC[A-Z])主诊表，且无手术$")
_MDC_HEAD = re.compile(r"^(MDC[A-Z]) (.*)$")
_ADRG_HEAD = re.compile(r"^([A-Z]{2}\d) (.*)$")


def _norm_phrase(text: str) -> str:
    return text.replace(" ", "").replace("\u3000", "").replace(":", "：").strip()


def _is_site_header(phrase: str, lines: list[str], i: int) -> bool:
    """A named sub-list header: plain words directly followed by 包含以下主要诊断： (``i`` is 1-based)."""
    if phrase.endswith("：") or "包含" in phrase or i >= len(lines):
        return False
    return _norm_phrase(lines[i]) == "包含以下主要诊断："


def _clean_name(text: str) -> str:
    return text.replace("~~", "").strip()


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _read_lines(folder: Path, name: str) -> list[str]:
    path = folder / name
    if not path.is_file():
        raise TablesMissing(folder, name)
    return path.read_text(encoding="utf-8").splitlines()


def _code_names(folder: Path, name: str, pattern: re.Pattern[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, line in enumerate(_read_lines(folder, name), 1):
        if not line.strip():
            continue
        code, _, label = line.strip().partition(" ")
        if not pattern.fullmatch(code):
            raise TablesError(f"{name}:{i}", f"not a code line: {line!r}")
        if code in out:
            raise TablesError(f"{name}:{i}", f"duplicate code {code}")
        out[code] = _clean_name(label)
    return out


class _Block:
    """An ADRG block of the detail file being read."""

    def __init__(self, code: str, name: str, mdc: str, line: int) -> None:
        self.code, self.name, self.mdc, self.line = code, name, mdc, line
        self.lists: dict[str, tuple[list[str], int, str]] = {}  # key → (codes, line, wording)
        self.formulas: list[tuple[tuple[int, ...], int]] = []
        self.all_surgery: str | None = None
        self.no_surgery: str | None = None
        self.current: list[str] | None = None
        self.wording: list[str] = []

    def open_list(self, key: str, line: int, wording: str) -> None:
        if key in self.lists:
            raise TablesError(f"{DETAIL}:{line}", f"{self.code}: a second {wording!r} list")
        codes: list[str] = []
        self.lists[key] = (codes, line, wording)
        self.current = codes
        self.wording.append(wording)


def _parse_detail(
    folder: Path, mdc_names: Mapping[str, str]
) -> tuple[dict[str, dict[str, tuple[list[str], int]]], list[_Block], dict[str, str], dict[str, str]]:
    """Read 4_ADRG_DETAIL.txt into per-MDC principal tables (and sites), ADRG blocks and names."""
    lines = _read_lines(folder, DETAIL)
    mdc_tables: dict[str, dict[str, tuple[list[str], int]]] = {}
    blocks: list[_Block] = []
    dx_names: dict[str, str] = {}
    px_names: dict[str, str] = {}
    mdc: str | None = None
    block: _Block | None = None
    table: dict[str, tuple[list[str], int]] | None = None  # the 主诊表 being read
    current: list[str] | None = None
    pending_site: str | None = None
    for i, raw in enumerate(lines, 1):
        line = raw.strip()
        where = f"{DETAIL}:{i}"
        if not line:
            continue
        first = line.split(" ", 1)[0]
        if _CODE_START.match(first):
            if DX_RE.fullmatch(first):
                names = dx_names
            elif PX_RE.fullmatch(first):
                names = px_names
            else:
                raise TablesError(where, f"malformed code {first!r}")
            target = block.current if block is not None else current
            if target is None:
                raise TablesError(where, f"code {first} outside any list")
            target.append(first)
            names.setdefault(first, _clean_name(line[len(first) :]))
            continue
        if m := _MDC_HEAD.match(line):
            code, rest = m.group(1), m.group(2)
            if code not in mdc_names:
                raise TablesError(where, f"unknown MDC {code} (not in 1_MDC.txt)")
            block = None
            if _norm_phrase(rest) == "主诊表":
                if code != mdc:
                    raise TablesError(where, f"主诊表 of {code} outside its MDC section")
                table = mdc_tables.setdefault(code, {})
                current = None
                pending_site = ""
            else:
                mdc, table, current, pending_site = code, None, None, None
            continue
        if m := _ADRG_HEAD.match(line):
            if mdc is None:
                raise TablesError(where, f"ADRG {m.group(1)} before any MDC")
            if m.group(1)[0] != mdc[3]:
                raise TablesError(where, f"ADRG {m.group(1)} inside {mdc}")
            block = _Block(m.group(1), _clean_name(m.group(2)), mdc, i)
            blocks.append(block)
            table, current, pending_site = None, None, None
            continue
        phrase = _norm_phrase(line)
        if block is None:
            if table is None:
                raise TablesError(where, f"unrecognised line outside any ADRG: {line!r}")
            if phrase == "包含以下主要诊断：":
                site = pending_site or ""
                if site in table:
                    raise TablesError(where, f"a second principal list for {site or mdc}")
                codes: list[str] = []
                table[site] = (codes, i)
                current, pending_site = codes, None
            elif _is_site_header(phrase, lines, i):
                pending_site = _clean_name(line)  # a named sub-table (MDCZ trauma sites)
                current = None
            else:
                raise TablesError(where, f"unrecognised phrase in the 主诊表 of {mdc}: {line!r}")
            continue
        _block_phrase(block, phrase, line, i)
    return mdc_tables, blocks, dx_names, px_names


def _block_phrase(block: _Block, phrase: str, line: str, i: int) -> None:
    where = f"{DETAIL}:{i}"
    kind = PHRASES.get(phrase)
    if kind == _P.PAIR_B:
        if _P.PAIR_A not in block.lists:
            raise TablesError(where, f"{block.code}: '和' without '同时包含以下手术'")
        block.open_list(_P.PAIR_B, i, line)
    elif kind == _P.ALL_SURGERY:
        block.all_surgery = line
        block.current = None
        block.wording.append(line)
    elif kind is not None:
        block.open_list(kind, i, line)
    elif m := _FORMULA.match(phrase):
        tables = tuple(int(n) for n in re.findall(r"\d+", m.group(2)))
        if bool(m.group(1)) != bool(block.formulas):
            raise TablesError(where, f"{block.code}: '或' must join a second formula to a first")
        block.formulas.append((tables, i))
        block.current = None
        block.wording.append(line)
    elif m := _TABLE_HEAD.match(phrase):
        block.open_list(f"table{m.group(1)}", i, line)
    elif m := _NO_SURGERY.match(phrase):
        if m.group(1) != block.mdc:
            raise TablesError(where, f"{block.code}: refers to the 主诊表 of {m.group(1)}")
        block.no_surgery = line
        block.current = None
        block.wording.append(line)
    else:
        raise TablesError(
            where, f"{block.code}: unrecognised phrase {line!r} — teach yibao.drg.tables this form"
        )


_AGE_LT = re.compile(r"出生年龄<(\d+)天")
_AGE_RANGE = re.compile(r"(\d+)天≤出生年龄<1周岁")
_W_LT = re.compile(r"出生体重<(\d+)g")
_W_RANGE = re.compile(r"出生体重(\d+)-(\d+)g")
_W_GT = re.compile(r"出生体重>(\d+)g")
NEWBORN_DAYS = (0, 28)
INFANT_MAX_DAYS = 364


def _name_conditions(
    code: str, name: str, line: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    n = name.replace(" ", "").replace("＜", "<").replace("＞", ">").replace("（", "(").replace("）", ")")
    age: tuple[int, int] | None = None
    weight: tuple[int, int] | None = None
    if m := _AGE_RANGE.search(n):
        age = (int(m.group(1)), INFANT_MAX_DAYS)
    elif m := _AGE_LT.search(n):
        age = (0, int(m.group(1)) - 1)
    if m := _W_LT.search(n):
        weight = (1, int(m.group(1)) - 1)
    elif m := _W_RANGE.search(n):
        weight = (int(m.group(1)), int(m.group(2)))
    elif m := _W_GT.search(n):
        weight = (int(m.group(1)) + 1, 10**6)
    if ("出生年龄" in n and age is None) or ("出生体重" in n and weight is None):
        raise TablesError(
            f"{DETAIL}:{line}", f"{code}: an age or weight condition yibao cannot read in {name!r}"
        )
    return age, weight


def _build_rule(block: _Block, mdc_principal: frozenset[str], adrg_name: str) -> EntryRule:
    where = f"{DETAIL}:{block.line}"
    lists = {k: ProcedureList(f"{block.code} {w}", frozenset(c), ln) for k, (c, ln, w) in block.lists.items()}
    for k, (c, ln, _w) in block.lists.items():
        if not c:
            raise TablesError(f"{DETAIL}:{ln}", f"{block.code}: empty list {k}")
    age, weight = _name_conditions(block.code, adrg_name, block.line)
    kind = adrg_kind(block.code)
    needs_or: bool | None = True if (kind == Kind.SURGICAL and block.mdc != "MDCA") else None
    keys = set(lists)
    base = EntryRule(
        Form.PRINCIPAL,
        or_procedure=needs_or,
        age_days=age,
        weight=weight,
        line=block.line,
        wording=tuple(block.wording),
    )

    def only(*allowed: str) -> bool:
        return keys == set(allowed)

    if block.formulas:
        tables = {k for k in keys if k.startswith("table")}
        if keys - tables != {_P.FORMULA_PRINCIPAL}:
            raise TablesError(
                where, f"{block.code}: a 主要诊断+手术表 formula mixed with other lists {sorted(keys)}"
            )
        alternatives: list[tuple[ProcedureList, ...]] = []
        for numbers, ln in block.formulas:
            try:
                alternatives.append(tuple(lists[f"table{n}"] for n in numbers))
            except KeyError as e:
                raise TablesError(
                    f"{DETAIL}:{ln}", f"{block.code}: formula names a missing {e.args[0]}"
                ) from None
        used = {f"table{n}" for numbers, _ in block.formulas for n in numbers}
        if used != tables:
            raise TablesError(
                where, f"{block.code}: procedure tables not used by any formula: {sorted(tables - used)}"
            )
        return base._replace(
            form=Form.PRINCIPAL_PROCEDURE_TABLES,
            principal=lists[_P.FORMULA_PRINCIPAL],
            procedure_sets=tuple(alternatives),
        )
    if block.no_surgery:
        if keys:
            raise TablesError(where, f"{block.code}: '且无手术' mixed with lists")
        principal = ProcedureList(f"{block.mdc} 主诊表", mdc_principal, block.line)
        return base._replace(form=Form.NO_OR_PROCEDURE, principal=principal, or_procedure=False)
    if block.all_surgery or not keys:
        if keys:
            raise TablesError(where, f"{block.code}: '全部手术' mixed with lists")
        if kind != Kind.SURGICAL:
            raise TablesError(where, f"{block.code}: a non-surgical ADRG without any entry rule")
        return base._replace(
            form=Form.ANY_OR_PROCEDURE, or_procedure=True, implicit_or=block.all_surgery is None
        )
    if (_P.PAIR_A in keys) != (_P.PAIR_B in keys):
        raise TablesError(where, f"{block.code}: '同时包含以下手术' needs its '和' list")
    pair = (lists[_P.PAIR_A], lists[_P.PAIR_B]) if _P.PAIR_A in keys else None
    if only(_P.MAIN_PX):
        return base._replace(form=Form.MAIN_PROCEDURE, main_procedure=lists[_P.MAIN_PX])
    if only(_P.PRINCIPAL):
        return base._replace(form=Form.PRINCIPAL, principal=lists[_P.PRINCIPAL])
    if only(_P.PRINCIPAL, _P.MAIN_PX):
        return base._replace(
            form=Form.PRINCIPAL_MAIN_PROCEDURE,
            principal=lists[_P.PRINCIPAL],
            main_procedure=lists[_P.MAIN_PX],
        )
    if pair and only(_P.PAIR_A, _P.PAIR_B):
        return base._replace(form=Form.PROCEDURE_PAIR, procedure_sets=(pair,))
    if pair and only(_P.PRINCIPAL, _P.PAIR_A, _P.PAIR_B):
        return base._replace(
            form=Form.PRINCIPAL_PROCEDURE_PAIR, principal=lists[_P.PRINCIPAL], procedure_sets=(pair,)
        )
    if only(_P.ANY_DX) or only(_P.ANY_DX_PLAIN):
        key = _P.ANY_DX if _P.ANY_DX in keys else _P.ANY_DX_PLAIN
        return base._replace(form=Form.ANY_DIAGNOSIS, any_diagnosis=lists[key])
    raise TablesError(where, f"{block.code}: a combination of lists yibao does not know: {sorted(keys)}")


def _tokens(lines: Iterable[str]) -> Iterator[tuple[int, bool, str]]:
    """(line number, first on its line, token) over a PDF-extracted stream, splitting glued codes."""
    for i, line in enumerate(lines, 1):
        first = True
        for raw in line.split():
            for tok in _GLUED.split(raw):
                if tok:
                    yield i, first, tok
                    first = False


def _parse_cc(folder: Path, name: str, level: str, names: dict[str, str]) -> dict[str, tuple[CcEntry, int]]:
    out: dict[str, tuple[CcEntry, int]] = {}
    code: str | None = None
    words: list[str] = []
    line_of = 0
    toks = list(_tokens(_read_lines(folder, name)))
    j = 0
    while j < len(toks):
        i, first, tok = toks[j]
        j += 1
        if tok in ("疾病编码", "疾病名称", "排除内容") or (first and tok.isdigit() and code is None):
            continue
        if DX_RE.fullmatch(tok):
            if code is not None:
                raise TablesError(f"{name}:{i}", f"{code} has no exclusion table before {tok}")
            code, words, line_of = tok, [], i
            continue
        if tok == "无" and code is not None and (j >= len(toks) or toks[j][1] or DX_RE.fullmatch(toks[j][2])):
            out[code] = (CcEntry(level, None), line_of)  # 无: no exclusion table, never cancelled
            names.setdefault(code, "".join(words))
            code = None
            continue
        if tok == "表":
            if code is None or j >= len(toks) or not re.fullmatch(r"7-\d+", toks[j][2]):
                raise TablesError(f"{name}:{i}", "'表' without a code before it and a table id after it")
            table = toks[j][2]
            j += 1
            if code in out and out[code][0].table != table:
                raise TablesError(f"{name}:{i}", f"{code} listed with two exclusion tables")
            out[code] = (CcEntry(level, table), line_of)
            names.setdefault(code, "".join(words))
            code = None
            continue
        if code is None:
            raise TablesError(f"{name}:{i}", f"unrecognised text {tok!r} outside a record")
        words.append(tok)
    if code is not None:
        raise TablesError(f"{name}:end", f"{code} has no exclusion table")
    return out


def _parse_cce(folder: Path) -> dict[str, frozenset[str]]:
    name = "7_CCE.txt"
    out: dict[str, set[str]] = {}
    current: set[str] | None = None
    toks = list(_tokens(_read_lines(folder, name)))
    j = 0
    expect_phrase = False
    while j < len(toks):
        i, _first, tok = toks[j]
        j += 1
        if tok == "表" and j < len(toks) and re.fullmatch(r"7-\d+", toks[j][2]):
            table = toks[j][2]
            j += 1
            if table in out:
                raise TablesError(f"{name}:{i}", f"表 {table} twice")
            current = out[table] = set()
            expect_phrase = True
            continue
        if expect_phrase:
            if _norm_phrase(tok) != "包含以下主要诊断：":
                raise TablesError(
                    f"{name}:{i}", f"expected 包含以下主要诊断： after the table id, got {tok!r}"
                )
            expect_phrase = False
            continue
        if _norm_phrase(tok).endswith("：") or "包含" in tok:
            raise TablesError(f"{name}:{i}", f"unrecognised phrase {tok!r}")
        if DX_RE.fullmatch(tok):
            if current is None:
                raise TablesError(f"{name}:{i}", f"{tok} before any table")
            current.add(tok)
        # anything else is a page number or a piece of a name
    empty = [t for t, s in out.items() if not s]
    if empty:
        raise TablesError(name, f"empty exclusion tables: {empty}")
    return {t: frozenset(s) for t, s in out.items()}


def _parse_dat(folder: Path, mdc: str) -> tuple[dict[str, set[str]], list[str]]:
    """Principal diagnoses of one MDC (per site for MDCZ); '#' lines are commented out."""
    name = f"MDC/{mdc}.dat"
    sites: dict[str, set[str]] = {}
    site = ""
    comments: list[str] = []
    lines = _read_lines(folder, name)
    for i, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(f"{name}:{i}: commented out: {line[1:].strip()}")
            continue
        first = line.split(" ", 1)[0]
        if DX_RE.fullmatch(first):
            sites.setdefault(site, set()).add(first)
        elif _norm_phrase(line) == "包含以下主要诊断：":
            sites.setdefault(site, set())
        elif _CODE_START.match(first):
            raise TablesError(f"{name}:{i}", f"malformed code {first!r}")
        elif _is_site_header(_norm_phrase(line), lines, i):
            site = _clean_name(line)  # a site header (MDCZ) followed by its list
        elif line.endswith("：") or "包含" in line:
            raise TablesError(f"{name}:{i}", f"unrecognised phrase {line!r}")
        # otherwise: the rest of a name wrapped onto its own line
    return sites, comments


def _cc_lists(
    folder: Path, names: dict[str, str], warnings: list[str]
) -> tuple[dict[str, CcEntry], dict[str, frozenset[str]]]:
    """5_MCC.txt and 6_CC.txt (an MCC wins over a CC), and the exclusion tables of 7_CCE.txt."""
    mcc = _parse_cc(folder, "5_MCC.txt", "MCC", names)
    cc = _parse_cc(folder, "6_CC.txt", "CC", names)
    exclusions = _parse_cce(folder)
    both = sorted(set(mcc) & set(cc))
    if both:
        warnings.append(
            f"{len(both)} diagnoses are in both 5_MCC.txt and 6_CC.txt; MCC is used (e.g. {both[:3]})"
        )
    cc_all: dict[str, CcEntry] = {k: v for k, (v, _) in cc.items()}
    cc_all.update({k: v for k, (v, _) in mcc.items()})
    for code, e in cc_all.items():
        if e.table is not None and e.table not in exclusions:
            raise TablesError(
                "5_MCC.txt/6_CC.txt", f"{code} refers to 表 {e.table}, which is not in 7_CCE.txt"
            )
    return cc_all, exclusions


@lru_cache(maxsize=4)
def cc_lists(folder: Path | str | None = None) -> tuple[Mapping[str, CcEntry], Mapping[str, frozenset[str]]]:
    """Only the MCC/CC list and its exclusion tables (5_MCC.txt, 6_CC.txt, 7_CCE.txt), as
    :class:`Tables` holds them (``cc``, ``exclusions``): for a caller that asks whether a secondary
    diagnosis counts but groups nothing (0.2 s to read, the whole tables 0.5 s).
    :class:`TablesMissing` when a file is missing."""
    path = Path(folder) if folder is not None else default_folder()
    cc, exclusions = _cc_lists(path, {}, [])
    return MappingProxyType(cc), MappingProxyType(exclusions)


def counts_as(
    principal: str, secondary: str, cc: Mapping[str, CcEntry], exclusions: Mapping[str, frozenset[str]]
) -> str:
    """"MCC", "CC" or "" — what ``secondary`` counts as beside ``principal``: its level in the MCC/CC
    list ``cc`` unless its exclusion table (表 7-n of ``exclusions``) holds the principal, the
    grouper's rule.

    >>> cc = {"J96.000": CcEntry("MCC", "7-1"), "E87.600": CcEntry("CC", None)}
    >>> exclusions = {"7-1": frozenset({"J96.000"})}
    >>> [counts_as(p, s, cc, exclusions) for p, s in (("J18.900", "J96.000"), ("J96.000", "J96.000"), ("J96.000", "E87.600"))]
    ['MCC', '', 'CC']
    """
    e = cc.get(secondary)
    if e is None or (e.table is not None and principal in exclusions[e.table]):
        return ""
    return e.level


def load_tables(folder: Path | str | None = None, *, cache: bool = True) -> Tables:
    """Read and check the CHS-DRG 1.1 tables from ``folder`` (default :func:`default_folder`).

    Loaded tables are kept per folder; ``cache=False`` reads the files again.
    """
    key = str(Path(folder) if folder is not None else default_folder())
    return _load(key) if cache else _load.__wrapped__(key)


@lru_cache(maxsize=4)
def _load(folder_s: str) -> Tables:
    t0 = time.perf_counter()
    folder = Path(folder_s)
    if not folder.is_dir():
        raise TablesMissing(folder, "")
    warnings: list[str] = []
    mdc_names = _code_names(folder, "1_MDC.txt", re.compile(r"MDC[A-Z]"))
    adrg_names = _code_names(folder, "2_ADRG.txt", re.compile(r"[A-Z]{2}\d"))
    drg_names = _code_names(folder, "3_DRG.txt", re.compile(r"[A-Z]{2}\d[1359]"))
    suffixes: dict[str, list[str]] = {}
    for d in drg_names:
        if d[:3] not in adrg_names:
            raise TablesError("3_DRG.txt", f"DRG {d} of an unknown ADRG")
        suffixes.setdefault(d[:3], []).append(d[3])
    for adrg_code, sfx in suffixes.items():
        if "9" in sfx and len(sfx) > 1:
            raise TablesError("3_DRG.txt", f"{adrg_code}: suffix 9 (not split) together with {sfx}")

    mdc_tables, blocks, dx_names, px_names = _parse_detail(folder, mdc_names)

    # MDC principal tables: MDC/*.dat, cross-checked with the detail file
    principal: dict[str, frozenset[str]] = {}
    sites_of: dict[str, dict[str, frozenset[str]]] = {}
    for mdc in mdc_names:
        if mdc == "MDCA":
            principal[mdc] = frozenset()
            continue
        dat, comments = _parse_dat(folder, mdc)
        warnings.extend(comments)
        detail = {s: set(c) for s, (c, _) in mdc_tables.get(mdc, {}).items()}
        dat_all = set().union(*dat.values()) if dat else set()
        det_all = set().union(*detail.values()) if detail else set()
        if not dat_all:
            raise TablesError(f"MDC/{mdc}.dat", "no principal diagnoses")
        if dat_all != det_all:
            warnings.append(
                f"{mdc}: MDC/{mdc}.dat and the 主诊表 of {DETAIL} differ "
                f"(only in .dat: {sorted(dat_all - det_all)[:5]}, only in detail: {sorted(det_all - dat_all)[:5]}); "
                "MDC/*.dat is used"
            )
        principal[mdc] = frozenset(dat_all)
        named = {s: frozenset(c) for s, c in dat.items() if s}
        if named:
            sites_of[mdc] = named
    if "MDCZ" in mdc_names and len(sites_of.get("MDCZ", {})) < 2:
        raise TablesError("MDC/MDCZ.dat", "MDCZ needs its trauma sites")

    # ADRGs
    adrgs: dict[str, Adrg] = {}
    by_mdc: dict[str, list[Adrg]] = {m: [] for m in mdc_names}
    for b in blocks:
        if b.code in adrgs:
            raise TablesError(f"{DETAIL}:{b.line}", f"ADRG {b.code} twice")
        if b.code not in adrg_names:
            raise TablesError(f"{DETAIL}:{b.line}", f"ADRG {b.code} is not in 2_ADRG.txt")
        if b.code not in suffixes:
            raise TablesError(f"{DETAIL}:{b.line}", f"ADRG {b.code} has no DRG in 3_DRG.txt")
        rule = _build_rule(b, principal[b.mdc], adrg_names[b.code])
        if b.mdc == "MDCP" and rule.age_days is None:
            rule = rule._replace(age_days=NEWBORN_DAYS)
        a = Adrg(b.code, adrg_names[b.code], b.mdc, adrg_kind(b.code), rule, tuple(sorted(suffixes[b.code])))
        adrgs[b.code] = a
        by_mdc[b.mdc].append(a)
    missing = sorted(set(adrg_names) - set(adrgs))
    if missing:
        raise TablesError(DETAIL, f"ADRGs without an entry rule: {missing}")

    order = {Kind.SURGICAL: 0, Kind.PROCEDURE: 1, Kind.MEDICAL: 2}
    sex = {"MDCM": "1", "MDCN": "2", "MDCO": "2"}
    mdcs = {
        m: Mdc(m, mdc_names[m], principal[m], tuple(sorted(by_mdc[m], key=lambda a: order[a.kind])),
               MappingProxyType(sites_of.get(m, {})), sex.get(m))
        for m in mdc_names
    }  # fmt: skip

    or_px: set[str] = set()
    for a in adrgs.values():
        if a.kind == Kind.SURGICAL and a.mdc != "MDCA":
            r = a.rule
            if r.main_procedure:
                or_px |= r.main_procedure.codes
            for alt in r.procedure_sets:
                for pl in alt:
                    or_px |= pl.codes

    cc_names: dict[str, str] = {}
    cc_all, exclusions = _cc_lists(folder, cc_names, warnings)
    for code, label in cc_names.items():
        dx_names.setdefault(code, label)
    for mdc in mdc_names:
        if mdc == "MDCA":
            continue
        for code in principal[mdc]:
            dx_names.setdefault(code, "")
    for s in exclusions.values():
        for code in s:
            dx_names.setdefault(code, "")

    regular = [m for m in mdc_names if m not in ("MDCA", "MDCP", "MDCY", "MDCZ")]
    pm: dict[str, list[str]] = {}
    for m in regular:
        for code in principal[m]:
            pm.setdefault(code, []).append(m)

    aliases: dict[str, str] = {}
    clash: set[str] = set()
    for code in dx_names:
        if "+" in code:
            dagger = code.split("+", 1)[0]
            if dagger in dx_names:
                continue
            if dagger in aliases and aliases[dagger] != code:
                clash.add(dagger)
            aliases[dagger] = code
    for d in clash:
        del aliases[d]

    return Tables(
        folder=folder,
        mdcs=MappingProxyType(mdcs),
        adrgs=MappingProxyType(adrgs),
        drgs=MappingProxyType(drg_names),
        cc=MappingProxyType(cc_all),
        exclusions=MappingProxyType(exclusions),
        diagnosis_names=MappingProxyType(dx_names),
        procedure_names=MappingProxyType(px_names),
        or_procedures=frozenset(or_px),
        principal_mdcs=MappingProxyType({k: tuple(v) for k, v in pm.items()}),
        aliases=MappingProxyType(aliases),
        warnings=tuple(warnings),
        load_seconds=time.perf_counter() - t0,
    )
