"""``yibao cases …`` and ``yibao points …``: the supervision desk from the command line.

An auditor opens the cases of an audit, moves them through 初审 → 复审 → [申诉] → 调查核实 → 处理 and
books what is recovered; points go on doctors' and pharmacists' ledgers, and settlement may ask whether
a person may bill on a date. Both stores are SQLite files, append-only (see :mod:`.cases` and
:mod:`.points`); a refused step prints why and changes nothing (exit status 2).

::

    yibao cases open out/audit --on 2025-01-06            # findings.parquet → out/audit/cases.sqlite
    yibao cases list out/audit/cases.sqlite --state 初审
    yibao cases advance out/audit/cases.sqlite H0001-rules 复审 --on 2025-01-20 --by 王审核
    yibao cases post out/audit/cases.sqlite H0001-rules 1520.00 --kind 追回 --on 2025-02-03 --by 财务
    yibao points add points.sqlite D0001 B2-01 --on 2025-02-10 --responsibility 主要 --case H0001-rules
    yibao points may-bill points.sqlite D0001 --on 2025-02-11
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.dataset.io import read_table
from yibao.money import parse_money, yuan
from yibao.supervision.cases import KINDS, STATES, Case, CaseError, Cases, build_cases, load_cases, save_cases
from yibao.supervision.points import (
    RESPONSIBILITY,
    PointsError,
    PointsEvent,
    PointsLedger,
    load_points,
    record_points,
    record_reregistration,
)

__all__ = ["cases_app", "points_app"]

cases_app = typer.Typer(help="Cases of an audit: workflow 初审 → 处理 and the recovery ledger (SQLite).",
                        no_args_is_help=True)  # fmt: skip
points_app = typer.Typer(help="Payment-qualification points (驾照式记分) of doctors and pharmacists (SQLite).",
                         no_args_is_help=True)  # fmt: skip

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

Store = Annotated[Path, typer.Argument(help="The case store (cases.sqlite).")]
PointsStore = Annotated[Path, typer.Argument(help="The points store (points.sqlite; created on first use).")]
On = Annotated[str, typer.Option("--on", help="Date of the step, YYYY-MM-DD.")]
By = Annotated[str, typer.Option("--by", help="Who did it (recorded with the step).")]
Note = Annotated[str, typer.Option("--note", help="A remark kept with the step.")]

@contextmanager
def _refusals() -> Iterator[None]:
    """A refused operation: its reason on stderr, exit status 2, nothing changed."""
    try:
        yield
    except (CaseError, PointsError, ValueError) as e:
        err.print(f"[red]refused:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None


def _day(text: str, option: str = "--on") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be a date YYYY-MM-DD, got {text!r}") from None


def _load(store: Path) -> Cases:
    if not store.exists():
        raise CaseError(f"{store}: no such case store (make one with `yibao cases open AUDIT_DIR`)")
    return load_cases(store)


def _change(store: Path, step: Callable[[Cases], Cases]) -> Cases:
    """Load the cases, apply ``step``, append what is new to the store."""
    cases = step(_load(store))
    save_cases(cases, store)
    return cases


# -- cases ------------------------------------------------------------------------------------------


@cases_app.command("open")
def cases_open(
    audit_dir: Annotated[Path, typer.Argument(help="An audit's output folder (with findings.parquet).")],
    on: On = "",
    by: By = "智能监控",
    store: Annotated[Path | None, typer.Option("--store", help="Case store (default AUDIT_DIR/cases.sqlite).")] = None,
) -> None:
    """Group an audit's findings into cases per institution, all in 初审, and store them."""
    with _refusals():
        findings_path = audit_dir / "findings.parquet"
        if not findings_path.exists():
            raise CaseError(f"{findings_path}: not found (run `yibao audit DATASET --out {audit_dir}` first)")
        target = store or audit_dir / "cases.sqlite"
        if target.exists() and len(load_cases(target)):
            raise CaseError(f"{target}: already holds cases; open into a new store (--store)")
        cases = build_cases(read_table(audit_dir, "findings"), opened=_day(on) if on else None, by=by)
        save_cases(cases, target)
    total = sum(c.violation_amt for c in cases)
    console.print(f"{len(cases)} cases opened in 初审 ({yuan(total)} yuan in question) → {target}")


@cases_app.command("list")
def cases_list(
    store: Store,
    state: Annotated[str | None, typer.Option("--state", help=f"Only cases in this state ({' / '.join(STATES)}).")] = None,
    on: Annotated[str, typer.Option("--on", help="Day for overdue counts (default today).")] = "",
    top: Annotated[int, typer.Option("--top", min=1, help="At most this many rows.")] = 50,
) -> None:
    """The cases, largest violation amount first, with state, deadline and recovery."""
    with _refusals():
        if state is not None and state not in STATES:
            raise CaseError(f"--state must be one of {', '.join(STATES)}, got {state!r}")
        cases = _load(store)
        day = _day(on) if on else date.today()
    frame = cases.frame(day)
    if state is not None:
        frame = frame.filter(pl.col("state") == state)
    frame = frame.sort(["violation_amt", "case_id"], descending=[True, False])
    t = Table("case", "patterns", "findings", "grade", "violation ¥", "state", "since", "overdue d", "recovered ¥",
              title=f"{frame.height} of {len(cases)} cases · " + " · ".join(f"{k} {v}" for k, v in cases.by_state().items()))  # fmt: skip
    for r in frame.head(top).iter_rows(named=True):
        t.add_row(r["case_id"], r["patterns"], str(r["n_findings"]), r["sev_deg"], yuan(r["violation_amt"]), r["state"],
                  str(r["entered"]), str(r["overdue_days"] or ""), yuan(r["recovered"]))  # fmt: skip
    console.print(t)


def _show(cases: Cases, case: Case) -> None:
    console.print(f"[bold]{case.case_id}[/bold]  {', '.join(case.patterns)}  ·  {len(case.jr_ids)} findings  ·  "
                  f"violation {yuan(case.violation_amt)} yuan  ·  grade {case.sev_deg}  ·  now {case.state}")  # fmt: skip
    for tr in case.transitions:
        late = f"  ({tr.late_days} days late)" if tr.late_days else ""
        console.print(f"  {tr.on}  {tr.state}  by {escape(tr.by)}{late}  {escape(tr.note)}")
    for p in cases.postings:
        if p.case_id == case.case_id:
            rev = f"  reverses {p.reverses}" if p.reverses else ""
            console.print(f"  {p.on}  {p.posting_id}  {p.kind} {yuan(p.amount)}  by {escape(p.by)}{rev}  {escape(p.note)}")
    console.print(f"  recovered (追回 + 拒付) {yuan(cases.balance(case.case_id, ('追回', '拒付')))}, "
                  f"fined {yuan(cases.balance(case.case_id, ('罚款',)))}")  # fmt: skip


@cases_app.command("show")
def cases_show(store: Store, case_id: str) -> None:
    """One case: its history and its postings."""
    with _refusals():
        cases = _load(store)
        _show(cases, cases.get(case_id))


@cases_app.command("advance")
def cases_advance(store: Store, case_id: str, to: Annotated[str, typer.Argument(help="The next state.")],
                  on: On, by: By, note: Note = "") -> None:  # fmt: skip
    """Move a case to its next state (no skipped step, no date before the last, appeals in time)."""
    with _refusals():
        day = _day(on)
        cases = _change(store, lambda c: c.advance(case_id, to, on=day, by=by, note=note))
    _show(cases, cases.get(case_id))


@cases_app.command("post")
def cases_post(
    store: Store,
    case_id: str,
    amount: Annotated[str, typer.Argument(help="Amount in yuan, e.g. 1520.00 (exact, at most 2 decimals).")],
    kind: Annotated[str, typer.Option("--kind", help=f"{' / '.join(KINDS)}.")],
    on: On,
    by: By = "",
    note: Note = "",
) -> None:
    """Book money of a case: 追回 and 拒付 together never above the violation amount; fines are not capped."""
    with _refusals():
        fen, day = parse_money(amount, "amount"), _day(on)
        cases = _change(store, lambda c: c.post(case_id, on=day, amount=fen, kind=kind, by=by, note=note))
    _show(cases, cases.get(case_id))


@cases_app.command("reverse")
def cases_reverse(store: Store, posting_id: str, on: On, by: By = "", note: Note = "") -> None:
    """Book the reversing entry of a posting (a correction never edits the ledger)."""
    with _refusals():
        day = _day(on)
        cases = _change(store, lambda c: c.reverse(posting_id, on=day, by=by, note=note))
        case_id = next(p.case_id for p in cases.postings if p.posting_id == posting_id)
    _show(cases, cases.get(case_id))


# -- points -----------------------------------------------------------------------------------------


def _status(ledger: PointsLedger, staff: str, day: date) -> None:
    ok, why = ledger.may_bill(staff, day)
    colour = "green" if ok else "red"
    console.print(f"{staff}: {day.year}年 {ledger.year_points(staff, day.year)} 分 · [{colour}]{escape(why)}[/{colour}]")


@points_app.command("add")
def points_add(
    store: PointsStore,
    staff: Annotated[str, typer.Argument(help="staff_codg of the doctor, pharmacist …")],
    behaviour: Annotated[str, typer.Argument(help="behaviour_id of rules_data/points/points.csv, e.g. B2-01.")],
    on: On,
    responsibility: Annotated[str, typer.Option("--responsibility", help=f"{' / '.join(RESPONSIBILITY)}: the points of the behaviour's range.")] = "",
    points: Annotated[int | None, typer.Option("--points", help="Points, when no --responsibility is given.")] = None,
    role: Annotated[str, typer.Option("--role", help="医师, 药师, 护士 …")] = "医师",
    institution: Annotated[str, typer.Option("--institution", help="fixmedins_code.")] = "",
    case: Annotated[str, typer.Option("--case", help="The case the points come from.")] = "",
    note: Note = "",
) -> None:
    """Give points for a behaviour; prints the person's year total and whether they may bill."""
    with _refusals():
        day = _day(on)
        ledger = load_points(store)
        b = ledger.rules.behaviour(behaviour)
        if responsibility and responsibility not in RESPONSIBILITY:
            raise PointsError(f"--responsibility must be one of {', '.join(RESPONSIBILITY)}, got {responsibility!r}")
        if points is None and not responsibility:
            raise PointsError(f"give --responsibility ({' / '.join(RESPONSIBILITY)}) or --points "
                              f"({b.points_min}–{b.points_max} for {behaviour})")  # fmt: skip
        pts = b.points_for(responsibility) if points is None else points
        event = PointsEvent(staff, day, behaviour, pts, institution, case, responsibility, role, note)
        ledger = record_points(store, event)
    console.print(f"{staff}: +{pts} 分 for {behaviour} ({escape(b.text)})")
    _status(ledger, staff, day)


@points_app.command("may-bill")
def points_may_bill(
    store: PointsStore,
    staff: str,
    on: On,
    emergency: Annotated[bool, typer.Option("--emergency", help="An emergency or rescue service (急诊、抢救).")] = False,
) -> None:
    """May services by this person be settled on this date? Exit status 1 when not."""
    with _refusals():
        day = _day(on)
        ledger = load_points(store)
    ok, why = ledger.may_bill(staff, day, emergency=emergency)
    console.print(f"{'yes' if ok else 'no'}: {escape(why)}")
    if not ok:
        raise typer.Exit(1)


@points_app.command("reregister")
def points_reregister(store: PointsStore, staff: str, on: On) -> None:
    """Record a terminated person's re-registration (再次登记备案); refused before the bar ends."""
    with _refusals():
        day = _day(on)
        ledger = record_reregistration(store, staff, day)
    _status(ledger, staff, day)


@points_app.command("list")
def points_list(
    store: PointsStore,
    year: Annotated[int, typer.Option("--year", help="Natural year.")],
    threshold: Annotated[int | None, typer.Option("--threshold", help="At least this many points (default: the suspension threshold).")] = None,
) -> None:
    """People at or above a points threshold in a year, most points first, with their sanction."""
    with _refusals():
        ledger = load_points(store)
    frame = ledger.over_threshold(year, threshold)
    t = Table("staff", "role", "institution", "points", "events", "status", "sanction",
              title=f"{year}: {frame.height} people with ≥ {threshold if threshold is not None else ledger.rules.suspend_at} points")  # fmt: skip
    for r in frame.iter_rows(named=True):
        t.add_row(r["staff_codg"], r["role"], r["fixmedins_code"], str(r["points"]), str(r["events"]), r["status"], r["sanction"])
    console.print(t)
