"""CHS-DRG 1.1 grouping: one case → MDC → ADRG → DRG, with a trace a coder can read.

The order (issue 6 §2, benefits.md §8.2):

1. **MDCA** 先期分组 — the main procedure (or, for AC1, a pair of procedures) is a transplant,
   long ventilation, ECMO … (whatever the principal diagnosis);
2. **MDCP** newborns — principal diagnosis in the MDCP table and age under one year; inside MDCP the
   newborn ADRGs need an age under 29 days (PV1: 29 days to one year) and PS1–PS4 a birth weight;
3. **MDCY** HIV — principal diagnosis in the MDCY table;
4. **MDCZ** multiple trauma — principal in the MDCZ table and at least two diagnoses on two different
   trauma sites of the MDCZ table;
5. otherwise the regular MDC of the principal diagnosis (MDCB … MDCX), with the **sex check**
   (MDCM men, MDCN and MDCO women; where a diagnosis is in two MDCs the first one the sex allows).

Inside the MDC the ADRGs are tried surgical (A–J) first, then non-operating-room procedures (K–Q), then
medical (R–Z), in file order. A case with an operating-room procedure that no surgical or procedure
ADRG of its MDC takes is **QY** (歧义组: ``adrg='QY'``, ``drg='GQY'`` …). The DRG then follows from
MCC/CC: a secondary diagnosis of 5_MCC.txt / 6_CC.txt counts unless its exclusion table (表 7-n of
7_CCE.txt) contains the principal diagnosis; the 4th character is 1 (MCC), 3 (CC), 5 (neither) or
9 (not split), taking the nearest split the ADRG has (MCC → 3 where there is no 1; CC → 5 where there
is no 3).

A case that cannot be grouped gets ``drg='0000'``, ``adrg='00'`` and a :class:`Status` that says why;
nothing in a case ever raises. Every result carries a trace (a tuple of sentences).

>>> from yibao.drg.tables import load_tables                  # doctest: +SKIP
>>> r = group(Case("c1", "1", 45, diagnoses=("K35.800",), procedures=("47.0901",)))  # doctest: +SKIP
>>> r.status, r.mdc, r.adrg, r.drg                             # doctest: +SKIP
('ok', 'MDCG', 'GD2', 'GD25')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from yibao.drg.tables import (
    INFANT_MAX_DAYS,
    Adrg,
    EntryRule,
    Form,
    Kind,
    Mdc,
    ProcedureList,
    Tables,
    counts_as,
    is_diagnosis_code,
    is_procedure_code,
    load_tables,
    normalise_code,
)

__all__ = [
    "INPUT_COLUMNS",
    "OUTPUT_COLUMNS",
    "Case",
    "GroupResult",
    "Grouper",
    "Status",
    "case_from_row",
    "group",
    "group_batch",
    "group_frame",
]

INPUT_COLUMNS = (
    "case_id", "gender", "age", "age_day", "weight", "dept", "los", "leaving_type", "diagnoses", "procedures",
)  # fmt: skip
OUTPUT_COLUMNS = ("status", "mdc", "adrg", "drg", "trace")
TRACE_SEP = "; "
MAX_AGE = 150
MAX_WEIGHT_G = 10_000


class Status(StrEnum):
    """Why a case has the group it has."""

    OK = "ok"
    AMBIGUOUS = "ambiguous"  # QY: an operating-room procedure unrelated to the MDC
    NO_PRINCIPAL = "no_principal"
    UNKNOWN_PRINCIPAL = "unknown_principal"  # the principal diagnosis is in no table
    INVALID_AGE = "invalid_age"
    INVALID_WEIGHT = "invalid_weight"
    SEX_CONFLICT = "sex_conflict"  # e.g. a male principal diagnosis for a woman
    NO_MDC = "no_mdc"  # the principal diagnosis is in no MDC table (for this age)
    NO_ADRG = "no_adrg"  # in an MDC, but no entry rule matched
    NEWBORN_DATA = "newborn_data_missing"  # age in days or birth weight needed and missing
    INTERNAL_ERROR = "internal_error"  # a bug in yibao, reported in the trace; the batch goes on


class Case(NamedTuple):
    """One discharge as the grouper needs it (the columns of ``yibao drg group``).

    Attributes:
        case_id: the caller's id, copied to the result.
        gender: "1" male, "2" female, None unknown.
        age: age in whole years.
        age_day: age in days, for infants under one year.
        weight: birth weight in grams, for newborns.
        dept, los, leaving_type: department, length of stay (days), 离院方式 — carried, not used by 1.1.
        diagnoses: ICD-10 医保版 2.0 codes, principal first.
        procedures: ICD-9-CM-3 医保版 codes, main first.
        problems: what could not be read from the input row (field: message).
    """

    case_id: str = ""
    gender: str | None = None
    age: int | None = None
    age_day: int | None = None
    weight: int | None = None
    dept: str | None = None
    los: int | None = None
    leaving_type: str | None = None
    diagnoses: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    problems: tuple[tuple[str, str], ...] = ()


class GroupResult(NamedTuple):
    case_id: str
    status: Status
    mdc: str
    adrg: str
    drg: str
    severity: str  # "MCC", "CC" or "" — what the DRG split used
    trace: tuple[str, ...]

    @property
    def trace_text(self) -> str:
        return TRACE_SEP.join(self.trace)


class _Input(NamedTuple):
    dx: tuple[str, ...]
    px: tuple[str, ...]
    sex: str | None
    age_days: int | None  # days when under one year, else None
    infant: bool | None  # under one year; None = unknown
    weight: int | None
    notes: tuple[str, ...]


def _fail(status: Status, mdc: str, trace: list[str]) -> GroupResult:
    return GroupResult("", status, mdc, "00", "0000", "", tuple(trace))


class Grouper:
    """A grouper over one set of tables, with precomputed indexes and a memo of recent results.

    The memo key is (diagnoses, procedures, sex, age in days for infants / "one year or more", weight
    for infants): nothing else changes the group or the trace, so a repeat is answered from the memo.
    """

    def __init__(self, tables: Tables | None = None, *, memo_size: int = 262_144) -> None:
        self.t = tables if tables is not None else load_tables()
        t = self.t
        self._memo: dict[tuple[Any, ...], GroupResult] = {}
        self._memo_size = memo_size
        self._mdca = t.mdcs["MDCA"]
        self._mdca_px = frozenset().union(*(_rule_procedures(a.rule) for a in self._mdca.adrgs))
        self._p = t.mdcs.get("MDCP")
        self._y = t.mdcs.get("MDCY")
        self._z = t.mdcs.get("MDCZ")
        site_of: dict[str, list[str]] = {}
        if self._z is not None:
            for site, codes in self._z.sites.items():
                for c in codes:
                    site_of.setdefault(c, []).append(site)
        self._site_of = {k: tuple(v) for k, v in site_of.items()}
        # plain dicts: a little faster than the read-only mapping proxies on the hot path
        self._cc = dict(t.cc)
        self._excl = dict(t.exclusions)
        self._or = t.or_procedures
        self._dx_known = dict(t.diagnosis_names)
        self._px_known = dict(t.procedure_names)
        self._aliases = dict(t.aliases)
        self._principal_mdcs = dict(t.principal_mdcs)

    # -- public -----------------------------------------------------------------------------

    def group(self, case: Case) -> GroupResult:
        """Group one case; never raises for bad input (the status and trace say what is wrong)."""
        try:
            return self._group(case)
        except Exception as e:  # a bug, not bad input: keep the batch going and say so
            return GroupResult(case.case_id, Status.INTERNAL_ERROR, "", "00", "0000", "",
                               (f"internal error while grouping: {type(e).__name__}: {e}",))  # fmt: skip

    def group_many(self, cases: Iterable[Case]) -> list[GroupResult]:
        g = self.group
        return [g(c) for c in cases]

    # -- the steps --------------------------------------------------------------------------

    def _group(self, case: Case) -> GroupResult:
        bad = self._check(case)
        if bad is not None:
            return bad._replace(case_id=case.case_id)
        inp = self._prepare(case)
        key = (
            inp.dx,
            inp.px,
            inp.sex,
            inp.infant,
            inp.age_days if inp.infant else None,
            inp.weight if inp.infant else None,
        )
        hit = self._memo.get(key)
        if hit is None:
            hit = self._assign(inp)
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[key] = hit
        if inp.notes:
            return hit._replace(case_id=case.case_id, trace=inp.notes + hit.trace)
        return hit._replace(case_id=case.case_id)

    def _check(self, case: Case) -> GroupResult | None:
        for fld, message in case.problems:
            status = {
                "age": Status.INVALID_AGE,
                "age_day": Status.INVALID_AGE,
                "weight": Status.INVALID_WEIGHT,
            }.get(fld)
            if status is not None:
                return _fail(status, "", [f"input: {fld} {message}"])
        if case.age is not None and not 0 <= case.age <= MAX_AGE:
            return _fail(Status.INVALID_AGE, "", [f"input: age {case.age} years is impossible (0–{MAX_AGE})"])
        if case.age_day is not None:
            if case.age_day < 0:
                return _fail(Status.INVALID_AGE, "", [f"input: age {case.age_day} days is negative"])
            if case.age_day > INFANT_MAX_DAYS + 1 and not (case.age or 0) >= 1:
                return _fail(Status.INVALID_AGE, "", [
                    f"input: age {case.age_day} days with age {case.age} years: age in days is for infants (0–365)"])  # fmt: skip
        if case.weight is not None and not 0 <= case.weight <= MAX_WEIGHT_G:
            return _fail(
                Status.INVALID_WEIGHT, "", [f"input: weight {case.weight} g is impossible (0–{MAX_WEIGHT_G})"]
            )
        if not case.diagnoses or not case.diagnoses[0].strip():
            return _fail(Status.NO_PRINCIPAL, "", ["input: no principal diagnosis (the first of diagnoses)"])
        return None

    def _prepare(self, case: Case) -> _Input:
        notes: list[str] = [f"input: {f} {m} (ignored)" for f, m in case.problems]
        dx: list[str] = []
        for i, raw in enumerate(case.diagnoses):
            c = normalise_code(raw)
            if not c:
                continue
            if c not in self._dx_known:
                alias = self._aliases.get(c)
                if alias is not None:
                    notes.append(f"input: {c} read as {alias} {self.t.dx_name(alias)}")
                    c = alias
                elif i == 0:
                    pass  # judged by the MDC step
                elif not is_diagnosis_code(c):
                    notes.append(f"input: secondary diagnosis {raw!r} is not an ICD-10 医保版 code, ignored")
                    continue
                else:
                    notes.append(f"input: secondary diagnosis {c} is in no table, ignored")
                    continue
            if c not in dx:
                dx.append(c)
        px: list[str] = []
        for raw in case.procedures:
            c = normalise_code(raw)
            if not c:
                continue
            if c not in self._px_known:
                what = (
                    "is not an ICD-9-CM-3 医保版 code" if not is_procedure_code(c) else "is in no ADRG list"
                )
                notes.append(f"input: procedure {raw!r} {what}, so it cannot place the case")
            if c not in px:
                px.append(c)
        sex = case.gender if case.gender in ("1", "2") else None
        if case.gender not in (None, "", "1", "2"):
            notes.append(f"input: gender {case.gender!r} is neither 1 nor 2, treated as unknown")
        infant: bool | None
        age_days: int | None = None
        if case.age is not None and case.age >= 1:
            infant = False
        elif case.age_day is not None:
            infant = case.age_day <= INFANT_MAX_DAYS
            age_days = case.age_day if infant else None
        elif case.age == 0:
            infant = True  # under one year, days unknown
        else:
            infant = None
        weight = case.weight if case.weight else None
        return _Input(tuple(dx), tuple(px), sex, age_days, infant, weight, tuple(notes))

    def _assign(self, inp: _Input) -> GroupResult:
        t = self.t
        trace: list[str] = []
        principal = inp.dx[0]
        if principal not in self._dx_known:
            what = (
                "is not an ICD-10 医保版 code"
                if not is_diagnosis_code(principal)
                else "is in no CHS-DRG 1.1 table"
            )
            return _fail(Status.UNKNOWN_PRINCIPAL, "", [*trace, f"principal diagnosis {principal!r} {what}"])
        # 1. MDCA: before the MDC of the principal diagnosis, whatever it is
        if inp.px and not self._mdca_px.isdisjoint(inp.px):
            hit = self._try_adrgs(self._mdca, inp, trace, kinds=None)
            if hit is not None:
                return self._finish(self._mdca, hit, inp, trace, "先期分组, tried first for every case")
        pname = t.dx_name(principal)
        # 2. MDCP newborns and infants
        p = self._p
        if p is not None and principal in p.principal:
            if inp.infant:
                age = f"{inp.age_days} days" if inp.age_days is not None else "under one year (days unknown)"
                why = f"principal {principal} {pname} is in the MDCP table and the age is {age}"
                return self._in_mdc(p, inp, trace, why)
            if inp.infant is None:
                return _fail(Status.NEWBORN_DATA, "MDCP", [
                    *trace, f"principal {principal} {pname} is in the MDCP table but the age is missing"])  # fmt: skip
            trace.append(
                f"MDCP not used: principal {principal} is in the MDCP table but the patient is one year or older"
            )
        # 3. MDCY HIV
        y = self._y
        if y is not None and principal in y.principal:
            return self._in_mdc(y, inp, trace, f"principal {principal} {pname} is in the MDCY (HIV) table")
        # 4. MDCZ multiple trauma
        z = self._z
        if z is not None and principal in z.principal:
            sites: dict[str, str] = {}
            with_site = 0
            for d in inp.dx:
                s = self._site_of.get(d)
                if s:
                    with_site += 1
                    for site in s:
                        sites.setdefault(site, d)
            listed = ", ".join(f"{s} ({d})" for s, d in sites.items())
            if with_site >= 2 and len(sites) >= 2:
                why = f"principal {principal} {pname} is in the MDCZ table and the diagnoses cover {len(sites)} trauma sites: {listed}"
                return self._in_mdc(z, inp, trace, why)
            trace.append(
                f"MDCZ not used: principal {principal} is in the MDCZ table but only one trauma site is coded ({listed})"
            )
        # 5. the MDC of the principal diagnosis, with the sex check
        candidates = self._principal_mdcs.get(principal, ())
        if not candidates:
            return _fail(Status.NO_MDC, "", [*trace, f"principal {principal} {pname} is in no MDC table"])
        allowed = [m for m in candidates if inp.sex is None or t.mdcs[m].sex in (None, inp.sex)]
        if not allowed:
            who = "a man" if inp.sex == "1" else "a woman"
            return _fail(Status.SEX_CONFLICT, candidates[0], [
                *trace, f"principal {principal} {pname} is in the table of {'/'.join(candidates)}, not for {who}"])  # fmt: skip
        mdc = t.mdcs[allowed[0]]
        why = f"principal {principal} {pname} is in the {mdc.code} table"
        if len(candidates) > 1:
            why += f" (also in {'/'.join(m for m in candidates if m != mdc.code)}; {mdc.code} is first for this sex)"
        if mdc.sex is not None and inp.sex is None:
            why += f"; sex unknown, so the sex check of {mdc.code} was not made"
        return self._in_mdc(mdc, inp, trace, why)

    def _in_mdc(self, mdc: Mdc, inp: _Input, trace: list[str], why: str) -> GroupResult:
        hit = self._try_adrgs(mdc, inp, trace, kinds=(Kind.SURGICAL, Kind.PROCEDURE))
        if hit is None:
            ors = [p for p in inp.px if p in self._or]
            if ors:
                names = ", ".join(f"{p} {self.t.px_name(p)}" for p in ors[:3])
                trace.append(f"MDC {mdc.code} {mdc.name}: {why}")
                trace.append(
                    f"QY: operating-room procedure {names} fits no surgical or procedure ADRG of {mdc.code}"
                )
                drg = f"{mdc.code[3]}QY"
                trace.append(f"DRG {drg} 歧义组 (ambiguous)")
                return GroupResult("", Status.AMBIGUOUS, mdc.code, "QY", drg, "", tuple(trace))
            hit = self._try_adrgs(mdc, inp, trace, kinds=(Kind.MEDICAL,))
        if hit is None:
            trace.append(f"MDC {mdc.code} {mdc.name}: {why}")
            missing = [a.code for a in mdc.adrgs if self._wants_newborn_data(a.rule, inp)]
            if missing:
                trace.append(
                    f"no ADRG: {', '.join(missing)} need the age in days or the birth weight, which is missing"
                )
                return _fail(Status.NEWBORN_DATA, mdc.code, trace)
            trace.append(f"no ADRG: no entry rule of {mdc.code} takes principal {inp.dx[0]}"
                         + (f" with main procedure {inp.px[0]}" if inp.px else " without procedures"))  # fmt: skip
            return _fail(Status.NO_ADRG, mdc.code, trace)
        return self._finish(mdc, hit, inp, trace, why)

    def _try_adrgs(
        self, mdc: Mdc, inp: _Input, trace: list[str], kinds: tuple[Kind, ...] | None
    ) -> tuple[Adrg, str] | None:
        has_or = not self._or.isdisjoint(inp.px)
        for a in mdc.adrgs:
            if kinds is not None and a.kind not in kinds:
                continue
            reason = self._match(a.rule, inp, has_or)
            if reason is not None:
                return a, reason
        return None

    def _match(self, r: EntryRule, inp: _Input, has_or: bool) -> str | None:
        dx, px = inp.dx, inp.px
        parts: list[str] = []
        t = self.t
        if r.principal is not None:
            if dx[0] not in r.principal.codes:
                return None
            parts.append(f"principal {dx[0]} in {_where(r.principal)}")
        if r.main_procedure is not None:
            if not px or px[0] not in r.main_procedure.codes:
                return None
            parts.append(f"main procedure {px[0]} {t.px_name(px[0])} in {_where(r.main_procedure)}")
        if r.any_diagnosis is not None:
            found = next((d for d in dx if d in r.any_diagnosis.codes), None)
            if found is None:
                return None
            parts.append(f"diagnosis {found} {t.dx_name(found)} in {_where(r.any_diagnosis)}")
        if r.or_procedure is True and not has_or:
            return None
        if r.or_procedure is False and has_or:
            return None
        if r.age_days is not None:
            lo, hi = r.age_days
            if inp.age_days is None or not lo <= inp.age_days <= hi:
                return None
            parts.append(f"age {inp.age_days} days in {lo}–{hi}")
        if r.weight is not None:
            lo, hi = r.weight
            if inp.weight is None or not lo <= inp.weight <= hi:
                return None
            parts.append(f"birth weight {inp.weight} g in {lo}–{hi if hi < 10**6 else '…'}")
        if r.procedure_sets:
            for alternative in r.procedure_sets:
                chosen = _assign_distinct(alternative, px)
                if chosen is not None:
                    parts.append(
                        " and ".join(
                            f"{p} in {_where(pl)}" for p, pl in zip(chosen, alternative, strict=True)
                        )
                    )
                    break
            else:
                return None
        if r.form == Form.ANY_OR_PROCEDURE:
            p = next(p for p in px if p in self._or)
            parts.append(
                f"operating-room procedure {p} {t.px_name(p)} ({' / '.join(r.wording) or 'surgical ADRG without a list: any OR procedure'})"
            )
        elif r.form == Form.NO_OR_PROCEDURE:
            parts.append("no operating-room procedure (" + " / ".join(r.wording) + ")")
        elif r.or_procedure is True and r.form == Form.ANY_DIAGNOSIS:
            p = next(p for p in px if p in self._or)
            parts.append(f"with operating-room procedure {p} {t.px_name(p)}")
        return ", ".join(parts)

    def _wants_newborn_data(self, r: EntryRule, inp: _Input) -> bool:
        """The rule needs an age in days or a birth weight the case lacks, and would match otherwise."""
        if not (
            (r.age_days is not None and inp.age_days is None) or (r.weight is not None and inp.weight is None)
        ):
            return False
        has_or = not self._or.isdisjoint(inp.px)
        return self._match(r._replace(age_days=None, weight=None), inp, has_or) is not None

    def _finish(
        self, mdc: Mdc, hit: tuple[Adrg, str], inp: _Input, trace: list[str], why: str
    ) -> GroupResult:
        a, reason = hit
        trace.append(f"MDC {mdc.code} {mdc.name}: {why}")
        trace.append(f"ADRG {a.code} {a.name} [{a.rule.form}, {_DETAIL}:{a.rule.line}]: {reason}")
        if a.suffixes == ("9",):
            drg = a.code + "9"
            trace.append(f"DRG {drg} {self.t.drg_name(drg)}: not split by MCC/CC")
            return GroupResult("", Status.OK, mdc.code, a.code, drg, "", tuple(trace))
        level = self._severity(inp.dx, trace)
        want = {"MCC": "1", "CC": "3", "": "5"}[level]
        suffix = next((s for s in a.suffixes if s >= want), a.suffixes[-1])
        drg = a.code + suffix
        said = {"MCC": "an MCC counts", "CC": "a CC counts, no MCC", "": "no MCC or CC counts"}[level]
        if suffix != want:
            said += f" ({a.code} is split only into {'/'.join(a.code + s for s in a.suffixes)})"
        trace.append(f"DRG {drg} {self.t.drg_name(drg)}: {said}")
        return GroupResult("", Status.OK, mdc.code, a.code, drg, level, tuple(trace))

    def _severity(self, dx: tuple[str, ...], trace: list[str]) -> str:
        principal = dx[0]
        level = ""
        for d in dx[1:]:
            e = self._cc.get(d)
            if e is None:
                continue
            label = f"{e.level} {d} {self.t.dx_name(d)}"
            if not counts_as(principal, d, self._cc, self._excl):
                trace.append(
                    f"{label} (表 {e.table}): excluded, 表 {e.table} contains the principal {principal}"
                )
                continue
            if e.table is None:
                trace.append(f"{label} (no exclusion table): counts")
            else:
                trace.append(f"{label} (表 {e.table}): counts, the principal is not in 表 {e.table}")
            if e.level == "MCC":
                level = "MCC"
            elif not level:
                level = "CC"
        return level


_DETAIL = "4_ADRG_DETAIL.txt"


def _where(pl: ProcedureList) -> str:
    return f"'{pl.label}' (line {pl.line})"


def _rule_procedures(r: EntryRule) -> frozenset[str]:
    out: set[str] = set(r.main_procedure.codes) if r.main_procedure else set()
    for alt in r.procedure_sets:
        for pl in alt:
            out |= pl.codes
    return frozenset(out)


def _assign_distinct(lists: Sequence[ProcedureList], px: Sequence[str]) -> tuple[str, ...] | None:
    """One procedure per list, all different (a tiny backtracking search), or None."""

    def rec(k: int, used: frozenset[str]) -> tuple[str, ...] | None:
        if k == len(lists):
            return ()
        codes = lists[k].codes
        for p in px:
            if p not in used and p in codes:
                rest = rec(k + 1, used | {p})
                if rest is not None:
                    return (p, *rest)
        return None

    return rec(0, frozenset())


# ---------------------------------------------------------------------------------------------
# Rows in, results out
# ---------------------------------------------------------------------------------------------


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _int(v: object, fld: str, problems: list[tuple[str, str]]) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v != int(v):
            problems.append((fld, f"{v!r} is not a whole number"))
            return None
        return int(v)
    s = str(v).strip()
    if not s:
        return None
    try:
        return int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            problems.append((fld, f"{s!r} is not a number"))
            return None
        if math.isnan(f) or f != int(f):
            problems.append((fld, f"{s!r} is not a whole number"))
            return None
        return int(f)


_SEX = {"1": "1", "2": "2", "男": "1", "女": "2", "M": "1", "F": "2", "m": "1", "f": "2"}


def _codes(v: object) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, (list, tuple)):
        return tuple(str(x).strip() for x in v if x is not None and str(x).strip())
    s = _text(v)
    if s is None:
        return ()
    return tuple(x.strip() for x in s.split("|"))


def case_from_row(row: Mapping[str, object]) -> Case:
    """A :class:`Case` from a row of the input columns; unreadable values become ``problems``.

    >>> c = case_from_row({"case_id": 7, "gender": "2", "age": "30", "diagnoses": "O80.000| Z37.000 ",
    ...                    "procedures": None, "weight": "abc"})
    >>> c.case_id, c.age, c.diagnoses, c.procedures, c.problems
    ('7', 30, ('O80.000', 'Z37.000'), (), (('weight', "'abc' is not a number"),))
    """
    problems: list[tuple[str, str]] = []
    g = _text(row.get("gender"))
    gender = _SEX.get(g, g) if g is not None else None
    if gender is not None and gender.endswith(".0"):
        gender = gender[:-2]
    return Case(
        case_id=_text(row.get("case_id")) or "",
        gender=gender,
        age=_int(row.get("age"), "age", problems),
        age_day=_int(row.get("age_day"), "age_day", problems),
        weight=_int(row.get("weight"), "weight", problems),
        dept=_text(row.get("dept")),
        los=_int(row.get("los"), "los", problems),
        leaving_type=_text(row.get("leaving_type")),
        diagnoses=_codes(row.get("diagnoses")),
        procedures=_codes(row.get("procedures")),
        problems=tuple(problems),
    )


_DEFAULT: Grouper | None = None


def _default() -> Grouper:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Grouper()
    return _DEFAULT


def group(case: Case, grouper: Grouper | None = None) -> GroupResult:
    """Group one case with the default tables (or ``grouper``)."""
    return (grouper or _default()).group(case)


def group_batch(
    rows: Iterable[Mapping[str, object] | Case], grouper: Grouper | None = None
) -> list[GroupResult]:
    """Group many rows (mappings of the input columns, or :class:`Case`); one result per row, in order."""
    g = grouper or _default()
    return [g.group(r if isinstance(r, Case) else case_from_row(r)) for r in rows]


def group_frame(
    df: Any,
    grouper: Grouper | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 20_000,
) -> Any:
    """Group a polars DataFrame of the input columns; returns it with status, mdc, adrg, drg, trace.

    Missing optional columns are treated as null. ``progress(n)`` is called after each chunk of rows.
    """
    import polars as pl

    g = grouper or _default()
    if not isinstance(df, pl.DataFrame):
        raise TypeError("group_frame needs a polars DataFrame")
    if "diagnoses" not in df.columns:
        raise ValueError("the input has no 'diagnoses' column")
    n = df.height
    cols = {c: (df.get_column(c).to_list() if c in df.columns else [None] * n) for c in INPUT_COLUMNS}
    out: dict[str, list[str]] = {c: [] for c in OUTPUT_COLUMNS}
    names = INPUT_COLUMNS
    done = 0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        for i in range(start, stop):
            r = g.group(case_from_row({c: cols[c][i] for c in names}))
            out["status"].append(r.status.value)
            out["mdc"].append(r.mdc)
            out["adrg"].append(r.adrg)
            out["drg"].append(r.drg)
            out["trace"].append(TRACE_SEP.join(r.trace))
        done = stop
        if progress is not None:
            progress(done)
    result = df.drop([c for c in OUTPUT_COLUMNS if c in df.columns])
    return result.with_columns(pl.Series(c, out[c], dtype=pl.String) for c in OUTPUT_COLUMNS)
