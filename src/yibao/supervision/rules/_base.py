"""What every rule kind's online check shares: one encounter parsed from the national 3101 shapes, the
patient's history as an index, and the finding builders.

An online check sees one encounter (an ``fsi_encounter_dto`` with its ``fsi_order_dtos``,
``fsi_diagnose_dtos`` and ``fsi_operation_dtos``), the patient (gend, brdy, optionally death_date) and the
patient's earlier encounters (:class:`History`, built once and kept in memory). Money is read exactly
(cnt in 1e-4, pric in 1e-6 yuan, sumamt in fen; floats are refused) and dates stay ISO strings, compared
as strings, with a cached day number for differences.

yibao extensions to the national order line (all optional): ``prd_days`` (days of medication supplied;
otherwise drord_stop_date − drord_begn_date), ``fee_ocur_time`` (otherwise drord_begn_date),
``drug_trac_codg`` / ``drugtracinfo`` (scanned traceability codes, as in 3505), ``retn_flag`` on a trace
entry ("1" = return), ``drord_dept_caty`` (the 科别 of the ordering department, as registered by 3401;
otherwise drord_dept_codg when that is itself a 科别 code such as "A03") and ``drord_dr_caty`` (the 科别 of
the ordering doctor's own department, from the 医保医师 register: a 会诊 order is billed under the ward but
ordered by a doctor of another department). A patient may carry ``death_date``; an encounter ``dscg_way``
(离院方式) and ``adm_dept_caty`` (the 科别 of adm_dept_codg, which it may also be itself).

>>> enc = parse_encounter({"mdtrt_id": "M1", "medins_id": "H1", "medins_lv": "05", "med_type": "11",
...     "adm_date": "2025-06-12 08:55:00", "insutype": "310",
...     "fsi_order_dtos": [{"rx_id": "R1", "hilist_code": "X1", "hilist_name": "药", "cnt": "2",
...                         "pric": "23.50", "sumamt": "47.00", "drord_begn_date": "2025-06-12 09:06:00"}]},
...     {"patn_id": "P1", "gend": "1", "brdy": "1990-03-15"})
>>> enc.age, enc.hosp_lv, enc.visit, enc.lines[0].cnt, enc.lines[0].sumamt
(35, '2', 'outpatient', 20000, 4700)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from yibao.codes import CATY, caty_code, coarse_hosp_lv, med_types
from yibao.money import round_div, yuan
from yibao.supervision.findings import Finding

__all__ = [
    "SCENARIO",
    "Encounter",
    "History",
    "Line",
    "OnlineInputError",
    "Prepared",
    "age_on",
    "caty_of",
    "day_ord",
    "enc_finding",
    "fee",
    "line_finding",
    "parse_encounter",
    "starts",
]

SCENARIO = {
    "inpatient": "住院",
    "outpatient": "门(急)诊",
    "chronic": "门(急)诊",
    "pharmacy": "购药",
    "ltc": "住院",
}
"""The 两库 应用场景 of a benefit visit kind."""

_MDTRT_TYPE_VISIT = {"1": "outpatient", "2": "inpatient", "3": "pharmacy", "4": "outpatient"}
_MED_TYPE_VISIT: dict[str, str] = {
    code: kind for kind in ("outpatient", "chronic", "inpatient", "pharmacy", "ltc") for code in med_types(kind)
}
FEN_DIVISOR = 10**8  # pric (1e-6 yuan) × cnt (1e-4) → fen


class OnlineInputError(ValueError):
    """Bad online input; ``field`` is the path of the offending field (e.g. fsi_order_dtos[2].cnt)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Prepared(NamedTuple):
    """A rule precompiled at library load: the codes that make it worth running (None = always) and
    whatever indexes the kind needs."""

    codes: frozenset[str] | None
    data: Any


_ORD: dict[str, int] = {}


def day_ord(text: str, field: str = "date") -> int:
    """The day number (date.toordinal) of an ISO date or date-time string, cached."""
    d = text[:10]
    n = _ORD.get(d)
    if n is None:
        try:
            n = date.fromisoformat(d).toordinal()
        except (ValueError, TypeError):
            raise OnlineInputError(field, f"is not an ISO date (YYYY-MM-DD[ HH:MM:SS]): {text!r}") from None
        if len(_ORD) > 100_000:
            _ORD.clear()
        _ORD[d] = n
    return n


def age_on(brdy: str, on: str) -> int:
    """Whole years of age on ``on`` for a birthday ``brdy`` (both ISO strings)."""
    return int(on[:4]) - int(brdy[:4]) - (1 if on[5:10] < brdy[5:10] else 0)


def starts(code: str, prefixes: tuple[str, ...]) -> bool:
    return code.startswith(prefixes) if prefixes else False


def caty_of(dept_codg: str) -> str:
    """The 科别 a department code names when it is itself a 科别 code ("A03.04"), else "" (unknown).

    >>> caty_of("A03.04"), caty_of("KSA0304")
    ('A03.04', '')
    """
    return dept_codg if dept_codg in CATY else ""


def fee(pric: int, cnt: int) -> int:
    """pric (1e-6 yuan) × cnt (1e-4) in fen, by the one rounding rule."""
    return round_div(pric * cnt, FEN_DIVISOR)


_POW = {2: Decimal(100), 4: Decimal(10_000), 6: Decimal(1_000_000)}


def _scaled(value: Any, places: int, field: str, *, default: int | None = None) -> int:
    t = type(value)
    if t is int:
        return int(value) * int(10**places)
    if value is None or value == "":
        if default is None:
            raise OnlineInputError(field, "is missing")
        return default
    if t is float or t is bool:
        raise OnlineInputError(
            field, f"must be an exact number (a string or Decimal), not {t.__name__} {value!r}"
        )
    try:
        d = value if t is Decimal else Decimal(str(value))
        n = d * _POW[places]
        i = int(n)
    except (InvalidOperation, ValueError, TypeError):
        raise OnlineInputError(field, f"is not a number: {value!r}") from None
    if i != n:
        raise OnlineInputError(field, f"has more than {places} decimal places: {value!r}")
    if i < 0 and places != 2:
        raise OnlineInputError(field, f"must not be negative: {value!r}")
    return i


class Line:
    """One order / fee line (``fsi_order_dto``), its money exact."""

    __slots__ = (
        "chrg_type", "cnt", "code", "day", "dept", "dept_caty", "doctor", "dr_caty", "drord_bhvr", "hilist_lv",
        "hilist_type", "index", "name", "ord", "ownpay", "prd_days", "pric", "rx_id", "rxno", "selfpay", "sumamt",
        "time", "traces",
    )  # fmt: skip

    def __init__(self, d: Mapping[str, Any], index: int, where: str, enc_time: str) -> None:
        self.index = index
        self.rx_id = str(d.get("rx_id") or f"{index + 1}")
        code = d.get("hilist_code")
        if not code or not isinstance(code, str):
            raise OnlineInputError(f"{where}.hilist_code", "is missing")
        self.code: str = code
        self.name: str = d.get("hilist_name") or code
        self.rxno: str = d.get("rxno") or ""
        self.hilist_type: str = d.get("hilist_type") or ""
        self.chrg_type: str = d.get("chrg_type") or ""
        self.hilist_lv: str = d.get("hilist_lv") or ""
        self.cnt = _scaled(d.get("cnt"), 4, f"{where}.cnt")
        self.pric = _scaled(d.get("pric"), 6, f"{where}.pric")
        s = d.get("sumamt")
        self.sumamt = fee(self.pric, self.cnt) if s is None or s == "" else _scaled(s, 2, f"{where}.sumamt")
        self.ownpay = _scaled(d.get("ownpay_amt"), 2, f"{where}.ownpay_amt", default=0)
        self.selfpay = _scaled(d.get("selfpay_amt"), 2, f"{where}.selfpay_amt", default=0)
        t = d.get("fee_ocur_time") or d.get("drord_begn_date") or enc_time
        if not isinstance(t, str) or len(t) < 10:
            raise OnlineInputError(f"{where}.drord_begn_date", f"is not a date-time: {t!r}")
        self.time: str = t
        self.day: str = t[:10]
        self.ord = day_ord(t, f"{where}.drord_begn_date")
        pd = d.get("prd_days")
        if pd is None or pd == "":
            stop = d.get("drord_stop_date")
            self.prd_days = max(0, day_ord(stop, f"{where}.drord_stop_date") - self.ord) if stop else 0
        else:
            try:
                self.prd_days = int(pd)
            except (TypeError, ValueError):
                raise OnlineInputError(
                    f"{where}.prd_days", f"must be a whole number of days, not {pd!r}"
                ) from None
        self.dept: str = d.get("drord_dept_codg") or ""
        self.doctor: str = d.get("drord_dr_codg") or ""
        self.dept_caty: str = caty_code(d.get("drord_dept_caty")) or caty_of(self.dept)
        self.dr_caty: str = caty_code(d.get("drord_dr_caty"))
        self.drord_bhvr: str = d.get("drord_bhvr") or "0"
        traces: list[tuple[str, bool]] = []
        one = d.get("drug_trac_codg")
        if one:
            traces.append((str(one), str(d.get("retn_flag") or "0") == "1"))
        for t_ in d.get("drugtracinfo") or ():
            c = t_.get("drug_trac_codg") if isinstance(t_, Mapping) else None
            if c:
                traces.append((str(c), str(t_.get("retn_flag") or "0") == "1"))
        self.traces: tuple[tuple[str, bool], ...] = tuple(traces)

    def __repr__(self) -> str:
        return f"Line({self.rx_id!r}, {self.code!r}, cnt={self.cnt}, pric={self.pric})"


class Encounter:
    """One encounter with its patient, lines, diagnoses and operations, and the patient's history."""

    __slots__ = (
        "adm",
        "adm_ord",
        "age",
        "brdy",
        "by_code",
        "codes",
        "death",
        "death_ord",
        "dept",
        "dept_caty",
        "diagnoses",
        "doctor",
        "dscg",
        "dscg_ord",
        "dscg_way",
        "gend",
        "history",
        "hosp_lv",
        "insutype",
        "lines",
        "main_dx",
        "mdtrt_id",
        "med_type",
        "medins_id",
        "medins_type",
        "operations",
        "psn_no",
        "scenario",
        "stage",
        "visit",
    )  # fmt: skip

    psn_no: str
    gend: str
    age: int
    brdy: str
    death: str
    death_ord: int | None
    mdtrt_id: str
    medins_id: str
    medins_type: str
    hosp_lv: str
    med_type: str
    visit: str
    scenario: str
    insutype: str
    adm: str
    adm_ord: int
    dscg: str
    dscg_ord: int
    dscg_way: str
    dept: str
    dept_caty: str
    doctor: str
    main_dx: str
    diagnoses: tuple[str, ...]
    operations: tuple[str, ...]
    lines: tuple[Line, ...]
    by_code: dict[str, list[Line]]
    codes: frozenset[str]
    history: History
    stage: str

    def __init__(self) -> None:
        self.history = EMPTY_HISTORY
        self.stage = "事前"

    def los(self) -> int:
        """Days of the stay (discharge − admission, at least 1)."""
        return max(1, self.dscg_ord - self.adm_ord)


def parse_encounter(
    e: Mapping[str, Any], patient: Mapping[str, Any], *, where: str = "encounter", stage: str = "事前"
) -> Encounter:
    """Read one ``fsi_encounter_dto`` and its patient; :class:`OnlineInputError` names a bad field."""
    if not isinstance(e, Mapping):
        raise OnlineInputError(where, f"must be a mapping, not {type(e).__name__}")
    enc = Encounter()
    enc.stage = stage
    enc.psn_no = str(patient.get("patn_id") or patient.get("psn_no") or "")
    gend = patient.get("gend")
    enc.gend = str(gend) if gend is not None else ""
    enc.mdtrt_id = str(e.get("mdtrt_id") or "")
    if not enc.mdtrt_id:
        raise OnlineInputError(f"{where}.mdtrt_id", "is missing")
    enc.medins_id = str(e.get("medins_id") or e.get("fixmedins_code") or "")
    enc.medins_type = str(e.get("medins_type") or "")
    enc.hosp_lv = coarse_hosp_lv(e.get("medins_lv") or None)
    med_type = str(e.get("med_type") or "")
    enc.med_type = med_type
    visit = _MED_TYPE_VISIT.get(med_type) or _MDTRT_TYPE_VISIT.get(str(e.get("med_mdtrt_type") or ""))
    if visit is None:
        raise OnlineInputError(f"{where}.med_type", f"unknown med_type {med_type!r} and no med_mdtrt_type")
    enc.visit = visit
    enc.scenario = SCENARIO[visit]
    enc.insutype = str(e.get("insutype") or "")
    adm = e.get("adm_date") or e.get("begntime")
    if not isinstance(adm, str) or len(adm) < 10:
        raise OnlineInputError(f"{where}.adm_date", f"is missing or not a date-time: {adm!r}")
    enc.adm = adm
    enc.adm_ord = day_ord(adm, f"{where}.adm_date")
    dscg = e.get("dscg_date") or e.get("endtime") or adm
    if not isinstance(dscg, str) or len(dscg) < 10:
        raise OnlineInputError(f"{where}.dscg_date", f"is not a date-time: {dscg!r}")
    enc.dscg = dscg
    enc.dscg_ord = day_ord(dscg, f"{where}.dscg_date")
    enc.dscg_way = str(e.get("dscg_way") or "")
    enc.dept = str(e.get("adm_dept_codg") or e.get("dept_codg") or "")
    enc.dept_caty = caty_code(e.get("adm_dept_caty")) or caty_of(enc.dept)
    enc.doctor = str(e.get("dr_codg") or e.get("atddr_no") or "")
    brdy = patient.get("brdy")
    if not isinstance(brdy, str) or len(brdy) < 10:
        raise OnlineInputError("patient.brdy", f"is missing or not an ISO date: {brdy!r}")
    day_ord(brdy, "patient.brdy")
    enc.brdy = brdy
    enc.age = age_on(brdy, adm)
    death = patient.get("death_date")
    enc.death = str(death) if death else ""
    enc.death_ord = day_ord(enc.death, "patient.death_date") if death else None
    dx: list[str] = []
    main = str(e.get("dscg_main_dise_codg") or "")
    for i, d in enumerate(e.get("fsi_diagnose_dtos") or ()):
        code = d.get("dise_codg") if isinstance(d, Mapping) else None
        if not code:
            raise OnlineInputError(f"{where}.fsi_diagnose_dtos[{i}].dise_codg", "is missing")
        if str(d.get("maindise_flag") or "") == "1" and not main:
            main = str(code)
        dx.append(str(code))
    if main and main not in dx:
        dx.insert(0, main)
    enc.main_dx = main or (dx[0] if dx else "")
    enc.diagnoses = tuple(dx)
    ops: list[str] = []
    for i, o in enumerate(e.get("fsi_operation_dtos") or ()):
        code = o.get("oprn_code") if isinstance(o, Mapping) else None
        if not code:
            raise OnlineInputError(f"{where}.fsi_operation_dtos[{i}].oprn_code", "is missing")
        ops.append(str(code))
    enc.operations = tuple(ops)
    orders = e.get("fsi_order_dtos") or ()
    if not isinstance(orders, Sequence):
        raise OnlineInputError(f"{where}.fsi_order_dtos", "must be a list")
    lines = []
    by_code: dict[str, list[Line]] = {}
    for i, o in enumerate(orders):
        w = f"{where}.fsi_order_dtos[{i}]"
        if not isinstance(o, Mapping):
            raise OnlineInputError(w, f"must be a mapping, not {type(o).__name__}")
        line = Line(o, i, w, adm)
        lines.append(line)
        by_code.setdefault(line.code, []).append(line)
    enc.lines = tuple(lines)
    enc.by_code = by_code
    enc.codes = frozenset(by_code)
    return enc


class Dispense(NamedTuple):
    ord: int
    prd_days: int
    cnt: int
    mdtrt_id: str
    medins_id: str
    rx_id: str


class Stay(NamedTuple):
    adm: str
    dscg: str
    mdtrt_id: str
    medins_id: str
    visit: str


class History:
    """A patient's earlier encounters as indexes: lines per code (``dispenses``: day, days supplied,
    quantity …, sorted by day), stays, visit days, trace codes.

    Build it once per patient (``History.build(encounters, patient)``) and keep it: checks only read it.
    """

    __slots__ = ("dispenses", "first_use", "mdtrt_ids", "stays", "traces", "visits")

    def __init__(self) -> None:
        self.dispenses: dict[str, list[Dispense]] = {}
        self.stays: list[Stay] = []
        self.visits: list[tuple[int, str, str, str]] = []
        self.traces: dict[str, list[tuple[str, str, int, bool]]] = {}
        self.first_use: dict[tuple[str, str], int] = {}
        self.mdtrt_ids: frozenset[str] = frozenset()

    @staticmethod
    def build(encounters: Iterable[Mapping[str, Any]], patient: Mapping[str, Any]) -> History:
        h = History()
        ids = set()
        for i, e in enumerate(encounters):
            enc = parse_encounter(e, patient, where=f"history[{i}]")
            h.add(enc)
            ids.add(enc.mdtrt_id)
        h.mdtrt_ids = frozenset(ids)
        for v in h.dispenses.values():
            v.sort()
        h.stays.sort()
        h.visits.sort()
        return h

    def add(self, enc: Encounter) -> None:
        self.stays.append(Stay(enc.adm, enc.dscg, enc.mdtrt_id, enc.medins_id, enc.visit))
        if enc.visit != "inpatient":
            self.visits.append((enc.adm_ord, enc.mdtrt_id, enc.medins_id, enc.med_type))
        for ln in enc.lines:
            self.dispenses.setdefault(ln.code, []).append(
                Dispense(ln.ord, ln.prd_days, ln.cnt, enc.mdtrt_id, enc.medins_id, ln.rx_id)
            )
            key = (enc.mdtrt_id, ln.code)
            if key not in self.first_use or ln.ord < self.first_use[key]:
                self.first_use[key] = ln.ord
            for code, retn in ln.traces:
                self.traces.setdefault(code, []).append((enc.mdtrt_id, enc.medins_id, ln.ord, retn))


EMPTY_HISTORY = History()


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------


def line_finding(
    rule: Any,
    enc: Encounter,
    line: Line,
    amount: int,
    reason: str,
    *,
    related: Sequence[Line] = (),
    evidence: Mapping[str, Any] | None = None,
    suffix: str = "",
    status: str = "1",
) -> Finding:
    """A finding on one line: the sentence names the institution, day, patient, item, reason, amount, rule.

    ``related`` lines are reported as 涉及项 (vola_item_type 2); the line itself is the 违规项 (1).
    ``status`` is the vola_amt_stas (1 exact, 2 estimated, 0 not computable).
    """
    cont = (
        f"{enc.medins_id} 于 {line.day} 为参保人 {enc.psn_no} 收取「{line.name}」（{line.code}）"
        f"{reason}，违规金额 {yuan(amount)} 元，依据规则「{rule.name}」（{rule.id}）。"
    )
    lines = [{"rx_id": line.rx_id, "vola_item_type": "1", "vola_amt": amount}]
    lines += [{"rx_id": r.rx_id, "vola_item_type": "2", "vola_amt": 0} for r in related]
    ev: dict[str, Any] = {"lines": lines, "hilist_code": line.code, "cnt": line.cnt, "pric": line.pric,
                          "sumamt": line.sumamt, "time": line.time, "vola_amt_stas": status}  # fmt: skip
    if evidence:
        ev.update(evidence)
    return Finding(
        f"{rule.id}:{enc.mdtrt_id}:{line.rx_id}{suffix}", rule.id, rule.name, rule.pattern, rule.sev_deg, amount, cont,
        fixmedins_code=enc.medins_id, psn_no=enc.psn_no, mdtrt_id=enc.mdtrt_id, feedetl_sn=line.rx_id,
        doctor=line.doctor or enc.doctor, evidence=ev, stage=enc.stage,
    )  # fmt: skip


def enc_finding(
    rule: Any,
    enc: Encounter,
    amount: int,
    reason: str,
    *,
    lines: Sequence[Line] = (),
    evidence: Mapping[str, Any] | None = None,
    status: str = "1",
    amount_text: str | None = None,
) -> Finding:
    """A finding on a whole encounter (every line involved is a 违规项 with its own amount).

    ``amount_text`` replaces "违规金额 X 元" where the amount is not computable here (status "0").
    """
    money = amount_text if amount_text is not None else f"违规金额 {yuan(amount)} 元"
    cont = (
        f"{enc.medins_id} 于 {enc.adm[:10]} 为参保人 {enc.psn_no} 的就诊（{enc.mdtrt_id}）{reason}，"
        f"{money}，依据规则「{rule.name}」（{rule.id}）。"
    )
    ev: dict[str, Any] = {
        "lines": [{"rx_id": ln.rx_id, "vola_item_type": "1", "vola_amt": ln.sumamt} for ln in lines],
        "vola_amt_stas": status,
    }
    if evidence:
        ev.update(evidence)
    return Finding(
        f"{rule.id}:{enc.mdtrt_id}", rule.id, rule.name, rule.pattern, rule.sev_deg, amount, cont,
        fixmedins_code=enc.medins_id, psn_no=enc.psn_no, mdtrt_id=enc.mdtrt_id, doctor=enc.doctor, evidence=ev,
        stage=enc.stage,
    )  # fmt: skip
