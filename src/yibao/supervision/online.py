"""Online checks (事前提醒 3101 / 事中审核 3102): the rule library over one encounter, in national shapes.

:func:`check` runs the enabled rules of one stage over one encounter (an ``fsi_encounter_dto``) with the
patient and the patient's history, and returns :class:`~yibao.supervision.findings.Finding` values.
:func:`analyse_3101` / :func:`analyse_3102` take the ``input.data`` of the national 明细审核 messages
(interface.md §4: ``syscode``, ``task_id``, ``trig_scen`` or ``rule_ids``, ``patient_dtos[]`` with their
``fsi_encounter_dtos[]``) and return ``{"result": [...]}`` with one entry per violation (jr_id, rule_id,
rule_name, vola_cont, patn_id, mdtrt_id, vola_amt, vola_amt_stas, sev_deg, vola_evid, vola_bhvr_type,
task_id, judge_result_detail_dtos[] with rx_id per line). ``trig_scen`` 1–5 selects the 事前 rules (3101),
6–10 the 事中 rules (3102); ``rule_ids`` (a list or a comma-separated string) selects rules by id.
Money in the output is ``Decimal`` yuan (write it with :func:`yibao.money.dumps`).

Which encounter is checked: the one whose mdtrt_id is the patient's ``curr_mdtrt_id`` (or the only one);
the patient's other encounters in the message are its history, added to any in-memory history passed
in ``histories`` (patn_id → :class:`~yibao.supervision.rules._base.History`).

Speed: rules are prepared at library load (dict / set indexes); a rule whose items the encounter does
not bill is skipped by one set test; ``benchmarks/online.py`` measures CPU per ten-line bill.

Bad input raises :class:`~yibao.supervision.rules._base.OnlineInputError` naming the field, e.g.
``patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[1].cnt: must be an exact number …``.

>>> out = analyse_3101({"syscode": "HIS01", "task_id": "T1", "trig_scen": "2", "patient_dtos": [{
...     "patn_id": "P1", "gend": "1", "brdy": "1980-01-01", "curr_mdtrt_id": "M1",
...     "fsi_encounter_dtos": [{"mdtrt_id": "M1", "medins_id": "H1", "medins_lv": "05", "med_type": "11",
...         "adm_date": "2025-06-12 08:55:00", "insutype": "310", "fsi_diagnose_dtos": [],
...         "fsi_order_dtos": [{"rx_id": "R1", "hilist_code": "002206000010000", "hilist_name": "经阴道超声检查",
...             "cnt": "1", "pric": "70", "sumamt": "70.00", "drord_begn_date": "2025-06-12 09:00:00"}]}]}]})
>>> [(r["rule_id"], r["vola_amt"], r["judge_result_detail_dtos"][0]["rx_id"]) for r in out["result"]]
[('R-GEND-01', Decimal('70.00'), 'R1')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from yibao.money import to_decimal
from yibao.supervision.findings import Finding
from yibao.supervision.library import Library, Rule, default_library, kind_module
from yibao.supervision.rules._base import (
    EMPTY_HISTORY,
    History,
    OnlineInputError,
    Prepared,
    parse_encounter,
)

__all__ = ["OnlineInputError", "analyse_3101", "analyse_3102", "build_history", "check", "stage_of"]

PRE = frozenset({"1", "2", "3", "4", "5"})
IN = frozenset({"6", "7", "8", "9", "10"})

_Runner = tuple[Rule, Callable[..., list[Finding]], Prepared, frozenset[str], frozenset[str], frozenset[str]]
_PLANS: dict[tuple[int, str], tuple[Library, tuple[_Runner, ...]]] = {}


def _runner(lib: Library, rule: Rule) -> _Runner:
    return (
        rule,
        kind_module(rule.kind).online,
        lib.prepared[rule.id],
        frozenset(rule.scenarios),
        frozenset(rule.hosp_levels),
        frozenset(rule.insutypes),
    )


def _plan(lib: Library, stage: str) -> tuple[_Runner, ...]:
    key = (id(lib), stage)
    got = _PLANS.get(key)
    if got is None or got[0] is not lib:
        got = (lib, tuple(_runner(lib, r) for r in lib.for_stage(stage)))
        _PLANS[key] = got
    return got[1]


def build_history(encounters: Iterable[Mapping[str, Any]], patient: Mapping[str, Any]) -> History:
    """Index a patient's earlier encounters (national encounter shapes) once, for many checks."""
    return History.build(encounters, patient)


def check(
    encounter: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]] | History = (),
    *,
    patient: Mapping[str, Any],
    stage: str,
    library: Library | None = None,
    rule_ids: Iterable[str] | None = None,
) -> list[Finding]:
    """The findings of the ``stage`` (事前 / 事中 / 事后) rules over one encounter.

    ``history`` is the patient's earlier encounters, as national encounter mappings or an index built
    by :func:`build_history` (keep it in memory: building costs more than checking). ``rule_ids``
    restricts the check to those rules, whatever their stage.
    """
    lib = library if library is not None else default_library()
    if stage not in ("事前", "事中", "事后"):
        raise OnlineInputError("stage", f"must be 事前, 事中 or 事后, not {stage!r}")
    enc = parse_encounter(encounter, patient, stage=stage)
    if isinstance(history, History):
        enc.history = history
    elif history:
        enc.history = History.build(history, patient)
    else:
        enc.history = EMPTY_HISTORY
    if rule_ids is None:
        plan = _plan(lib, stage)
    else:
        plan = tuple(_runner(lib, _rule(lib, rid, "rule_ids")) for rid in rule_ids)
    out: list[Finding] = []
    codes = enc.codes
    for rule, fn, prep, scen, levels, insu in plan:
        if prep.codes is not None and prep.codes.isdisjoint(codes):
            continue
        if scen and enc.scenario not in scen:
            continue
        if levels and enc.hosp_lv not in levels:
            continue
        if insu and enc.insutype not in insu:
            continue
        out.extend(fn(enc, rule, prep))
    return out


def _rule(lib: Library, rid: str, field: str) -> Rule:
    try:
        return lib.rule(rid)
    except KeyError:
        raise OnlineInputError(field, f"unknown rule id {rid!r}") from None


def stage_of(trig_scen: object, infno: str) -> str:
    """事前 for trig_scen 1–5 (3101), 事中 for 6–10 (3102); an error naming trig_scen otherwise."""
    t = str(trig_scen).strip() if trig_scen is not None else ""
    want = PRE if infno == "3101" else IN
    if t not in PRE | IN:
        raise OnlineInputError(
            "trig_scen", f"must be 1–5 (事前, 3101) or 6–10 (事中, 3102), not {trig_scen!r}"
        )
    if t not in want:
        other = "3102" if infno == "3101" else "3101"
        raise OnlineInputError(
            "trig_scen", f"{t} is a {other} scene; {infno} takes {'1–5' if infno == '3101' else '6–10'}"
        )
    return "事前" if t in PRE else "事中"


def analyse_3101(
    input_data: Mapping[str, Any],
    *,
    library: Library | None = None,
    histories: Mapping[str, History] | None = None,
) -> dict[str, Any]:
    """3101 明细审核事前分析: ``{"result": [...]}`` in the national output shape."""
    return _analyse(input_data, "3101", library, histories)


def analyse_3102(
    input_data: Mapping[str, Any],
    *,
    library: Library | None = None,
    histories: Mapping[str, History] | None = None,
) -> dict[str, Any]:
    """3102 明细审核事中分析: ``{"result": [...]}`` in the national output shape."""
    return _analyse(input_data, "3102", library, histories)


def _analyse(
    input_data: Mapping[str, Any],
    infno: str,
    library: Library | None,
    histories: Mapping[str, History] | None,
) -> dict[str, Any]:
    lib = library if library is not None else default_library()
    if not isinstance(input_data, Mapping):
        raise OnlineInputError("data", f"must be a mapping, not {type(input_data).__name__}")
    data = input_data.get("data", input_data)
    if not isinstance(data, Mapping):
        raise OnlineInputError("data", "must be a mapping")
    task_id = data.get("task_id")
    if not task_id or not isinstance(task_id, str):
        raise OnlineInputError("task_id", "is missing (a unique id per request)")
    raw_ids = data.get("rule_ids")
    ids: list[str] | None = None
    if raw_ids:
        ids = (
            [s.strip() for s in raw_ids.split(",")] if isinstance(raw_ids, str) else [str(s) for s in raw_ids]
        )
        ids = [i for i in ids if i]
        for i in ids:
            _rule(lib, i, "rule_ids")
    trig = data.get("trig_scen")
    if trig in (None, "") and not ids:
        raise OnlineInputError("trig_scen", "is missing (give trig_scen or rule_ids)")
    stage = stage_of(trig, infno) if trig not in (None, "") else ("事前" if infno == "3101" else "事中")
    patients = data.get("patient_dtos")
    if not isinstance(patients, Sequence) or isinstance(patients, (str, bytes)) or not patients:
        raise OnlineInputError("patient_dtos", "must be a non-empty list")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pi, p in enumerate(patients):
        where = f"patient_dtos[{pi}]"
        if not isinstance(p, Mapping):
            raise OnlineInputError(where, "must be a mapping")
        patn_id = p.get("patn_id")
        if not patn_id:
            raise OnlineInputError(f"{where}.patn_id", "is missing")
        for f in ("gend", "brdy"):
            if not p.get(f):
                raise OnlineInputError(f"{where}.{f}", "is missing")
        encs = p.get("fsi_encounter_dtos")
        if not isinstance(encs, Sequence) or isinstance(encs, (str, bytes)) or not encs:
            raise OnlineInputError(f"{where}.fsi_encounter_dtos", "must be a non-empty list")
        curr = p.get("curr_mdtrt_id")
        if curr:
            idx = [j for j, e in enumerate(encs) if isinstance(e, Mapping) and e.get("mdtrt_id") == curr]
            if not idx:
                raise OnlineInputError(
                    f"{where}.curr_mdtrt_id", f"{curr!r} is not the mdtrt_id of any fsi_encounter_dtos entry"
                )
            current = idx[0]
        elif len(encs) == 1:
            current = 0
        else:
            raise OnlineInputError(
                f"{where}.curr_mdtrt_id", "is required when fsi_encounter_dtos has several encounters"
            )
        try:
            others = [e for j, e in enumerate(encs) if j != current]
            base = (histories or {}).get(str(patn_id))
            history: History | Sequence[Mapping[str, Any]]
            if others:
                history = History.build(others, p)
                if base is not None:
                    history = _merge(base, history)
            else:
                history = base if base is not None else ()
            found = check(encs[current], history, patient=p, stage=stage, library=lib, rule_ids=ids)
        except OnlineInputError as e:
            field = e.field
            if field.startswith("encounter"):
                field = f"{where}.fsi_encounter_dtos[{current}]" + field[len("encounter") :]
            elif field.startswith("history["):
                field = f"{where}.fsi_encounter_dtos(history){field[len('history') :]}"
            elif field.startswith("patient."):
                field = f"{where}.{field[len('patient.') :]}"
            raise OnlineInputError(field, e.message) from None
        for finding in found:
            result.append(_national(finding, lib, str(patn_id), task_id, seen))
    return {"result": result}


def _merge(a: History, b: History) -> History:
    h = History()
    for src in (a, b):
        for code, v in src.dispenses.items():
            h.dispenses.setdefault(code, []).extend(v)
        h.stays.extend(src.stays)
        h.visits.extend(src.visits)
        for code, t in src.traces.items():
            h.traces.setdefault(code, []).extend(t)
        h.first_use.update(src.first_use)
    for v in h.dispenses.values():
        v.sort()
    h.stays.sort()
    h.visits.sort()
    h.mdtrt_ids = a.mdtrt_ids | b.mdtrt_ids
    return h


def _national(f: Finding, lib: Library, patn_id: str, task_id: str, seen: set[str]) -> dict[str, Any]:
    jr_id = f.jr_id
    n = 1
    while jr_id in seen:
        n += 1
        jr_id = f"{f.jr_id}#{n}"
    seen.add(jr_id)
    rule = lib.rule(f.rule_id)
    ev = f.evidence if isinstance(f.evidence, Mapping) else {}
    details = [
        {
            "jrd_id": f"{jr_id}/{k + 1}",
            "patn_id": patn_id,
            "mdtrt_id": f.mdtrt_id,
            "rx_id": d["rx_id"],
            "vola_item_type": d["vola_item_type"],
            "vola_amt": to_decimal(int(d["vola_amt"])),
        }
        for k, d in enumerate(ev.get("lines", ()))
    ]
    return {
        "jr_id": jr_id,
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "vola_cont": f.vola_cont,
        "patn_id": patn_id,
        "mdtrt_id": f.mdtrt_id,
        "vola_amt": to_decimal(f.vola_amt),
        "vola_amt_stas": str(ev.get("vola_amt_stas", "1")),
        "sev_deg": f.sev_deg,
        "vola_evid": "；".join(rule.legal_basis),
        "vola_bhvr_type": rule.vola_bhvr_type,
        "task_id": task_id,
        "judge_result_detail_dtos": details,
    }
