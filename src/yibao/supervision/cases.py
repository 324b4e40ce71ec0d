"""Cases and recovery: findings grouped into cases, a validated workflow, and an append-only ledger.

A **case** gathers the findings of one institution — one case for its rule hits, and one per model
pattern that is investigated on its own (split admissions, ghost beds, card cash-out …, see
:data:`SEPARATE_PATTERNS`). The 两库管理办法 procedure for suspicious information is a fixed path::

    初审 → 复审 → [申诉] → 调查核实 → 处理

Each step is a :class:`Transition` with its date and who made it. A transition may not skip a step
(申诉 is the only optional one), may not go back in time, and has a time limit: the case must leave a
state within ``Workflow.limits[state]`` days. A late step is recorded with its ``late_days``; entering a
*binding* state late is refused — by default an appeal (申诉) filed after the 复审 period, which is the
period within which the institution may appeal the 复审 notice. The day counts are yibao defaults
(the 办法 requires limits but leaves the days to provinces): parameters, not code.

Money recovered is an **append-only ledger** in integer fen: each :class:`Posting` has a case, a date,
an amount and a kind — 追回 (recovered), 拒付 (refused payment) or 罚款 (fine). A correction is a
reversing entry (the negated amount, pointing at the original), never an update; a balance is the sum of
postings. 追回 + 拒付 of a case can never exceed its violation amount; fines are not capped.

Everything is immutable: :class:`Cases` methods return a new collection, and a refused operation raises
:class:`CaseError` and changes nothing. :func:`save_cases` / :func:`load_cases` keep cases in SQLite
(append-only too: triggers refuse updates and deletes of transitions and postings).

>>> import polars as pl
>>> from datetime import date
>>> findings = pl.DataFrame({"jr_id": ["J1", "J2"], "pattern": ["duplicate_charge", "overprice"],
...     "sev_deg": ["1", "1"], "vola_amt": [12000, 3000], "fixmedins_code": ["H1", "H1"],
...     "mdtrt_id": ["M1", "M2"], "feedetl_sn": ["F1", "F2"]})
>>> cases = build_cases(findings, opened=date(2024, 3, 1))
>>> [(c.case_id, c.state, c.violation_amt) for c in cases]
[('H1-rules', '初审', 15000)]
>>> cases = cases.advance("H1-rules", "复审", on=date(2024, 3, 10), by="王审核")
>>> cases = cases.post("H1-rules", on=date(2024, 3, 20), amount=15000, kind="追回", by="财务")
>>> cases.post("H1-rules", on=date(2024, 3, 21), amount=1, kind="追回")
Traceback (most recent call last):
...
yibao.supervision.cases.CaseError: case H1-rules: 追回/拒付 would reach 150.01 yuan, above the violation amount 150.00 yuan
>>> cases.balance("H1-rules")
15000
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl

from yibao.money import Fen, yuan
from yibao.supervision._store import append_only, connect
from yibao.supervision.findings import vola_fen

__all__ = [
    "CAPPED_KINDS",
    "DEFAULT_WORKFLOW",
    "KINDS",
    "NEXT",
    "SEPARATE_PATTERNS",
    "STATES",
    "Case",
    "CaseError",
    "Cases",
    "Posting",
    "Transition",
    "Workflow",
    "advance",
    "build_cases",
    "load_cases",
    "save_cases",
]

STATES: tuple[str, ...] = ("初审", "复审", "申诉", "调查核实", "处理")
"""The states in order; 处理 is final."""

NEXT: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "初审": ("复审",),
        "复审": ("申诉", "调查核实"),
        "申诉": ("调查核实",),
        "调查核实": ("处理",),
        "处理": (),
    }
)
"""The allowed next states of each state (申诉 may be skipped, nothing else)."""

KINDS: tuple[str, ...] = ("追回", "拒付", "罚款")
CAPPED_KINDS = frozenset({"追回", "拒付"})
"""Kinds whose balance may not exceed the case's violation amount (a fine 罚款 may)."""

SEPARATE_PATTERNS = frozenset(
    {
        "split_admission", "ghost_bed", "fake_admission", "drug_resale", "drug_swap", "card_cashout",
        "identity_fraud", "doctor_outlier", "upcoding", "overlap_stay",
    }
)  # fmt: skip
"""Patterns that get a case of their own per institution (investigated on site, with records); the rule
hits of an institution (duplicate charge, over-price, gender/age …) share one case, group ``rules``."""

RULES_GROUP = "rules"


class CaseError(ValueError):
    """A refused operation on a case or the ledger; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Workflow:
    """Time limits of the workflow, in calendar days.

    Attributes:
        limits: days a case may stay in each state before it is overdue (处理 has none).
        binding: states that may not be entered once the previous state's limit has passed (by default
            申诉: an appeal must be filed within the 复审 period). Other late steps are accepted and
            recorded with their ``late_days``.
    """

    limits: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"初审": 30, "复审": 15, "申诉": 15, "调查核实": 30})
    )
    binding: frozenset[str] = frozenset({"申诉"})

    def __post_init__(self) -> None:
        for state, days in self.limits.items():
            if state not in STATES:
                raise CaseError(f"workflow: unknown state {state!r} in limits (states: {', '.join(STATES)})")
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise CaseError(
                    f"workflow: the limit of {state} must be a whole number of days ≥ 0, got {days!r}"
                )
        for state in self.binding:
            if state not in STATES:
                raise CaseError(f"workflow: unknown binding state {state!r}")
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))

    def to_json(self) -> str:
        return json.dumps({"limits": dict(self.limits), "binding": sorted(self.binding)}, ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Workflow:
        data = json.loads(text)
        return Workflow(limits=data["limits"], binding=frozenset(data["binding"]))


DEFAULT_WORKFLOW = Workflow()


@dataclass(frozen=True, slots=True)
class Transition:
    """Entering ``state`` on ``on``, by ``by``; ``late_days`` > 0 when the previous state overran its limit."""

    state: str
    on: date
    by: str
    note: str = ""
    late_days: int = 0


@dataclass(frozen=True, slots=True)
class Case:
    """One case: an institution's findings of one group, their violation amount and the workflow so far.

    Attributes:
        case_id: ``<fixmedins_code>-<group>`` (``NA-…`` when the findings name no institution).
        fixmedins_code: the institution.
        group: ``rules`` or a pattern of :data:`SEPARATE_PATTERNS`.
        patterns: the patterns of its findings, sorted.
        jr_ids: its findings.
        violation_amt: fen; a fee line (or encounter) flagged by several findings counts once, at its
            largest amount.
        sev_deg: the most severe grade of its findings ("1" 明确违规 < "2" 可疑 < "3" 提示).
        transitions: the history, the first one opening the case in 初审.
    """

    case_id: str
    fixmedins_code: str
    group: str
    patterns: tuple[str, ...]
    jr_ids: tuple[str, ...]
    violation_amt: Fen
    sev_deg: str
    transitions: tuple[Transition, ...]

    @property
    def state(self) -> str:
        return self.transitions[-1].state

    @property
    def opened(self) -> date:
        return self.transitions[0].on

    @property
    def entered(self) -> date:
        """The date the case entered its current state."""
        return self.transitions[-1].on

    def deadline(self, workflow: Workflow = DEFAULT_WORKFLOW) -> date | None:
        """The last day to leave the current state (None for 处理 or a state without a limit)."""
        days = workflow.limits.get(self.state)
        if days is None or not NEXT[self.state]:
            return None
        return date.fromordinal(self.entered.toordinal() + days)

    def overdue_days(self, on: date, workflow: Workflow = DEFAULT_WORKFLOW) -> int:
        """Days past the current state's deadline on ``on`` (0 when not overdue)."""
        end = self.deadline(workflow)
        return 0 if end is None else max(0, (on - end).days)


def advance(
    case: Case, to: str, *, on: date, by: str, note: str = "", workflow: Workflow = DEFAULT_WORKFLOW
) -> Case:
    """The case moved to ``to`` on ``on``; CaseError for a skipped step, a date before the last step, no
    actor, or a binding state entered after the limit.

    >>> c = build_cases(pl.DataFrame({"jr_id": ["J1"], "pattern": ["overprice"], "sev_deg": ["1"],
    ...     "vola_amt": [100], "fixmedins_code": ["H1"]}), opened=date(2024, 1, 2)).get("H1-rules")
    >>> advance(c, "调查核实", on=date(2024, 1, 5), by="李")
    Traceback (most recent call last):
    ...
    yibao.supervision.cases.CaseError: case H1-rules: cannot go from 初审 to 调查核实 (next: 复审)
    """
    where = f"case {case.case_id}"
    if to not in STATES:
        raise CaseError(f"{where}: unknown state {to!r} (states: {', '.join(STATES)})")
    allowed = NEXT[case.state]
    if to not in allowed:
        nxt = ", ".join(allowed) if allowed else f"none, {case.state} is final"
        raise CaseError(f"{where}: cannot go from {case.state} to {to} (next: {nxt})")
    if not isinstance(on, date):
        raise CaseError(f"{where}: the date must be a date, got {on!r}")
    if on < case.entered:
        raise CaseError(f"{where}: {to} on {on} is before {case.state} on {case.entered}")
    if not by.strip():
        raise CaseError(f"{where}: {to} needs who did it (by)")
    end = case.deadline(workflow)
    late = 0 if end is None else max(0, (on - end).days)
    if late and to in workflow.binding:
        raise CaseError(
            f"{where}: {to} on {on} is {late} day(s) after the {case.state} period ended on {end} "
            f"({workflow.limits[case.state]} days)"
        )
    return replace(case, transitions=(*case.transitions, Transition(to, on, by.strip(), note, late)))


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger entry in fen. A reversal has the negated amount and ``reverses`` = the original's id."""

    posting_id: str
    case_id: str
    on: date
    amount: Fen
    kind: str
    by: str = ""
    note: str = ""
    reverses: str = ""


@dataclass(frozen=True, slots=True)
class Cases:
    """The cases of an audit and their recovery ledger (immutable: every change returns a new one)."""

    cases: tuple[Case, ...]
    postings: tuple[Posting, ...] = ()
    workflow: Workflow = DEFAULT_WORKFLOW
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, c in enumerate(self.cases):
            if c.case_id in index:
                raise CaseError(f"case {c.case_id}: appears twice")
            index[c.case_id] = i
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def get(self, case_id: str) -> Case:
        i = self._index.get(case_id)
        if i is None:
            raise CaseError(f"case {case_id}: no such case")
        return self.cases[i]

    def _with(self, case: Case) -> Cases:
        i = self._index[case.case_id]
        return replace(self, cases=(*self.cases[:i], case, *self.cases[i + 1 :]))

    def advance(self, case_id: str, to: str, *, on: date, by: str, note: str = "") -> Cases:
        """Move one case (see :func:`advance`)."""
        return self._with(advance(self.get(case_id), to, on=on, by=by, note=note, workflow=self.workflow))

    # -- the ledger -------------------------------------------------------------------------------

    def balance(self, case_id: str | None = None, kinds: Iterable[str] | None = None) -> Fen:
        """Sum of postings, optionally of one case and of some kinds."""
        wanted = None if kinds is None else frozenset(kinds)
        return sum(
            p.amount
            for p in self.postings
            if (case_id is None or p.case_id == case_id) and (wanted is None or p.kind in wanted)
        )

    def post(self, case_id: str, *, on: date, amount: Fen, kind: str, by: str = "", note: str = "") -> Cases:
        """Append a posting of ``amount`` fen (> 0) of ``kind`` to a case."""
        case = self.get(case_id)
        where = f"case {case_id}"
        if kind not in KINDS:
            raise CaseError(f"{where}: unknown posting kind {kind!r} (kinds: {', '.join(KINDS)})")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise CaseError(f"{where}: the amount must be whole fen (int), got {type(amount).__name__}")
        if amount <= 0:
            raise CaseError(
                f"{where}: the amount must be positive (a correction is a reversal), got {amount}"
            )
        if on < case.opened:
            raise CaseError(f"{where}: posting on {on} is before the case was opened on {case.opened}")
        if kind in CAPPED_KINDS:
            total = self.balance(case_id, CAPPED_KINDS) + amount
            if total > case.violation_amt:
                raise CaseError(
                    f"{where}: 追回/拒付 would reach {yuan(total)} yuan, above the violation amount "
                    f"{yuan(case.violation_amt)} yuan"
                )
        return self._append(Posting(self._next_id(), case_id, on, amount, kind, by, note))

    def reverse(self, posting_id: str, *, on: date, by: str = "", note: str = "") -> Cases:
        """Append the reversing entry of a posting (which must not be a reversal or already reversed)."""
        original = next((p for p in self.postings if p.posting_id == posting_id), None)
        if original is None:
            raise CaseError(f"posting {posting_id}: no such posting")
        if original.reverses:
            raise CaseError(f"posting {posting_id}: is itself a reversal (of {original.reverses}); post anew")
        if any(p.reverses == posting_id for p in self.postings):
            raise CaseError(f"posting {posting_id}: is already reversed")
        if on < original.on:
            raise CaseError(
                f"posting {posting_id}: a reversal on {on} is before the posting on {original.on}"
            )
        p = Posting(
            self._next_id(), original.case_id, on, -original.amount, original.kind, by, note, posting_id
        )
        return self._append(p)

    def _next_id(self) -> str:
        return f"P{len(self.postings) + 1:06d}"

    def _append(self, posting: Posting) -> Cases:
        return replace(self, postings=(*self.postings, posting))

    # -- views ------------------------------------------------------------------------------------

    def by_state(self) -> dict[str, int]:
        """Number of cases in each state (every state present, in workflow order)."""
        counts = dict.fromkeys(STATES, 0)
        for c in self.cases:
            counts[c.state] += 1
        return counts

    def frame(self, on: date | None = None) -> pl.DataFrame:
        """One row per case: ids, state and dates, violation amount, recovered (追回 + 拒付) and fines, in fen."""
        rows: list[dict[str, Any]] = []
        for c in self.cases:
            rows.append(
                {
                    "case_id": c.case_id,
                    "fixmedins_code": c.fixmedins_code,
                    "group": c.group,
                    "patterns": ",".join(c.patterns),
                    "n_findings": len(c.jr_ids),
                    "sev_deg": c.sev_deg,
                    "violation_amt": c.violation_amt,
                    "state": c.state,
                    "opened": c.opened,
                    "entered": c.entered,
                    "overdue_days": c.overdue_days(on, self.workflow) if on is not None else 0,
                    "recovered": self.balance(c.case_id, CAPPED_KINDS),
                    "fined": self.balance(c.case_id, ("罚款",)),
                }
            )
        schema = {
            "case_id": pl.String, "fixmedins_code": pl.String, "group": pl.String, "patterns": pl.String,
            "n_findings": pl.Int64, "sev_deg": pl.String, "violation_amt": pl.Int64, "state": pl.String,
            "opened": pl.Date, "entered": pl.Date, "overdue_days": pl.Int64, "recovered": pl.Int64,
            "fined": pl.Int64,
        }  # fmt: skip
        return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _deduplicated_amount(rows: pl.DataFrame) -> Fen:
    """Σ over distinct fee lines (else encounters, else findings) of the largest amount claimed on each."""
    key = (
        pl.when(pl.col("feedetl_sn") != "")
        .then(pl.lit("L") + pl.col("feedetl_sn"))
        .when(pl.col("mdtrt_id") != "")
        .then(pl.lit("E") + pl.col("mdtrt_id"))
        .otherwise(pl.lit("J") + pl.col("jr_id"))
    )
    return int(rows.group_by(key.alias("_k")).agg(pl.col("vola_amt").max())["vola_amt"].sum())


def build_cases(
    findings: pl.DataFrame,
    *,
    opened: date | None = None,
    by: str = "智能监控",
    workflow: Workflow = DEFAULT_WORKFLOW,
    separate: frozenset[str] = SEPARATE_PATTERNS,
) -> Cases:
    """Group findings (schema ``findings``; needs jr_id, pattern, sev_deg, vola_amt, fixmedins_code) into
    cases in 初审, opened on ``opened`` (default today) by ``by``."""
    need = ("jr_id", "pattern", "sev_deg", "vola_amt", "fixmedins_code")
    missing = [c for c in need if c not in findings.columns]
    if missing:
        raise CaseError(f"findings: missing columns {missing}")
    try:
        amount = vola_fen(findings)
    except ValueError as e:
        raise CaseError(str(e)) from None
    day = opened or date.today()
    f = findings.with_columns(amount).with_columns(
        *(pl.lit("").alias(c) for c in ("feedetl_sn", "mdtrt_id") if c not in findings.columns)
    ).with_columns(
        pl.col("fixmedins_code").fill_null(""),
        pl.col("feedetl_sn").fill_null(""),
        pl.col("mdtrt_id").fill_null(""),
        pl.when(pl.col("pattern").is_in(list(separate))).then(pl.col("pattern")).otherwise(pl.lit(RULES_GROUP)).alias("_group"),
    )  # fmt: skip
    out: list[Case] = []
    for (code, group), rows in sorted(
        f.group_by(["fixmedins_code", "_group"]), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        code_s, group_s = str(code), str(group)
        out.append(
            Case(
                case_id=f"{code_s or 'NA'}-{group_s}",
                fixmedins_code=code_s,
                group=group_s,
                patterns=tuple(sorted(set(rows["pattern"].to_list()))),
                jr_ids=tuple(rows["jr_id"].to_list()),
                violation_amt=_deduplicated_amount(rows),
                sev_deg=min(rows["sev_deg"].to_list()),
                transitions=(Transition("初审", day, by),),
            )
        )  # fmt: skip
    return Cases(tuple(out), (), workflow)


# ---------------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, fixmedins_code TEXT NOT NULL, grp TEXT NOT NULL, patterns TEXT NOT NULL,
    violation_amt INTEGER NOT NULL, sev_deg TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS case_findings (
    case_id TEXT NOT NULL REFERENCES cases(case_id), seq INTEGER NOT NULL, jr_id TEXT NOT NULL,
    PRIMARY KEY (case_id, seq));
CREATE TABLE IF NOT EXISTS transitions (
    case_id TEXT NOT NULL REFERENCES cases(case_id), seq INTEGER NOT NULL, state TEXT NOT NULL,
    on_date TEXT NOT NULL, by_whom TEXT NOT NULL, note TEXT NOT NULL, late_days INTEGER NOT NULL,
    PRIMARY KEY (case_id, seq));
CREATE TABLE IF NOT EXISTS postings (
    posting_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, case_id TEXT NOT NULL REFERENCES cases(case_id),
    on_date TEXT NOT NULL, amount INTEGER NOT NULL, kind TEXT NOT NULL, by_whom TEXT NOT NULL,
    note TEXT NOT NULL, reverses TEXT NOT NULL);
""" + append_only("transitions", "transitions") + append_only("postings", "postings")


def _connect(path: Path | str) -> sqlite3.Connection:
    return connect(path, _SCHEMA)


def save_cases(cases: Cases, path: Path | str) -> None:
    """Store ``cases`` in the SQLite file ``path``, appending what is new.

    What the file already holds must be a prefix of ``cases`` (same case headers, same first transitions
    and postings): a different history raises CaseError and the file is left as it was.
    """
    con = _connect(path)
    try:
        with con:  # one transaction: all or nothing
            stored = con.execute("SELECT value FROM meta WHERE key = 'workflow'").fetchone()
            if stored is None:
                con.execute("INSERT INTO meta VALUES ('workflow', ?)", (cases.workflow.to_json(),))
            elif Workflow.from_json(stored[0]) != cases.workflow:
                raise CaseError(f"{path}: holds cases of another workflow ({stored[0]})")
            n_cases = con.execute("SELECT count(*) FROM cases").fetchone()[0]
            for seq, c in enumerate(cases.cases):
                _save_case(con, c, seq + n_cases)
            _save_postings(con, cases.postings)
    finally:
        con.close()


def _save_case(con: sqlite3.Connection, c: Case, seq: int) -> None:
    header = (c.fixmedins_code, c.group, ",".join(c.patterns), c.violation_amt, c.sev_deg)
    row = con.execute(
        "SELECT fixmedins_code, grp, patterns, violation_amt, sev_deg FROM cases WHERE case_id = ?",
        (c.case_id,),
    ).fetchone()
    if row is None:
        con.execute("INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?)", (c.case_id, *header, seq))
        con.executemany(
            "INSERT INTO case_findings VALUES (?, ?, ?)", [(c.case_id, i, j) for i, j in enumerate(c.jr_ids)]
        )
    elif tuple(row) != header:
        raise CaseError(f"case {c.case_id}: stored with other findings or amount {tuple(row)}; not {header}")
    stored = con.execute(
        "SELECT state, on_date, by_whom, note, late_days FROM transitions WHERE case_id = ? ORDER BY seq",
        (c.case_id,),
    ).fetchall()
    mine = [(t.state, t.on.isoformat(), t.by, t.note, t.late_days) for t in c.transitions]
    if [tuple(r) for r in stored] != mine[: len(stored)]:
        raise CaseError(
            f"case {c.case_id}: the stored history differs from this one (history is append-only)"
        )
    con.executemany(
        "INSERT INTO transitions VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(c.case_id, i, *t) for i, t in enumerate(mine) if i >= len(stored)],
    )


def _save_postings(con: sqlite3.Connection, postings: tuple[Posting, ...]) -> None:
    stored = con.execute(
        "SELECT posting_id, case_id, on_date, amount, kind, by_whom, note, reverses FROM postings ORDER BY seq"
    ).fetchall()
    mine = [
        (p.posting_id, p.case_id, p.on.isoformat(), p.amount, p.kind, p.by, p.note, p.reverses)
        for p in postings
    ]
    if [tuple(r) for r in stored] != mine[: len(stored)]:
        raise CaseError("ledger: the stored postings differ from these (the ledger is append-only)")
    con.executemany(
        "INSERT INTO postings (posting_id, case_id, on_date, amount, kind, by_whom, note, reverses, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*p, i) for i, p in enumerate(mine) if i >= len(stored)],
    )


def load_cases(path: Path | str) -> Cases:
    """The cases stored in ``path`` by :func:`save_cases`."""
    if not Path(path).exists():
        raise CaseError(f"{path}: no such case store")
    con = _connect(path)
    try:
        meta = con.execute("SELECT value FROM meta WHERE key = 'workflow'").fetchone()
        workflow = Workflow.from_json(meta[0]) if meta else DEFAULT_WORKFLOW
        jr: dict[str, list[str]] = {}
        for case_id, jr_id in con.execute("SELECT case_id, jr_id FROM case_findings ORDER BY case_id, seq"):
            jr.setdefault(case_id, []).append(jr_id)
        tr: dict[str, list[Transition]] = {}
        for case_id, state, on, by, note, late in con.execute(
            "SELECT case_id, state, on_date, by_whom, note, late_days FROM transitions ORDER BY case_id, seq"
        ):
            tr.setdefault(case_id, []).append(Transition(state, date.fromisoformat(on), by, note, int(late)))
        out = [
            Case(cid, code, grp, tuple(p for p in patterns.split(",") if p), tuple(jr.get(cid, ())), int(amt), sev,
                 tuple(tr.get(cid, ())))
            for cid, code, grp, patterns, amt, sev in con.execute(
                "SELECT case_id, fixmedins_code, grp, patterns, violation_amt, sev_deg FROM cases ORDER BY seq"
            )
        ]  # fmt: skip
        postings = tuple(
            Posting(pid, cid, date.fromisoformat(on), int(amount), kind, by, note, rev)
            for pid, cid, on, amount, kind, by, note, rev in con.execute(
                "SELECT posting_id, case_id, on_date, amount, kind, by_whom, note, reverses FROM postings ORDER BY seq"
            )
        )
    finally:
        con.close()
    return Cases(tuple(out), postings, workflow)
