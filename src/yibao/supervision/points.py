"""Payment-qualification points (驾照式记分, 医保发〔2024〕23号): a ledger per person and natural year.

Points follow an administrative penalty or a heavier agreement sanction against the institution, scaled
by the person's responsibility; they are given per behaviour in four tiers — 1–3, 4–6, 7–9 and 10–12 —
listed as data in ``rules_data/points/points.csv`` (behaviour → tier and range). What the yearly total
triggers is data too (``rules_data/points/sanctions.csv``):

- at **9** points in a natural year the payment qualification is **suspended** (暂停, 1–6 months by the
  points: yibao's defaults are 9 → 1, 10 → 3, 11 → 6 months);
- at **12** it is **terminated** (终止): no re-registration (再次登记备案) for 1 year, 3 years when all 12
  came at once (一次性记满);
- points reset every 1 January; a suspension running over the year end carries on.

:meth:`PointsLedger.may_bill` answers settlement's question for one bill — may this person's services
be settled on this date — from precomputed, disjoint intervals with a bisect, so it costs about a
microsecond. Emergency and rescue services (急诊、抢救) are settled even when suspended.

>>> from datetime import date
>>> ledger = PointsLedger().add(PointsEvent("D1", date(2024, 3, 1), "B2-01", 5))
>>> ledger = ledger.add(PointsEvent("D1", date(2024, 6, 10), "B2-03", 4))
>>> ledger.year_points("D1", 2024)
9
>>> ledger.may_bill("D1", date(2024, 6, 20))
(False, '暂停医保支付资格：2024年累计记分9分，2024-06-10 至 2024-07-09（1个月）')
>>> ledger.may_bill("D1", date(2024, 7, 10))
(True, '正常')
"""

from __future__ import annotations

import csv
import os
import sqlite3
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import polars as pl

from yibao.supervision._store import append_only, connect

__all__ = [
    "RESPONSIBILITY",
    "ROLES",
    "TIERS",
    "Behaviour",
    "PointsError",
    "PointsEvent",
    "PointsLedger",
    "PointsRules",
    "Sanction",
    "load_points",
    "load_points_rules",
    "record_points",
    "record_reregistration",
]

TIERS: tuple[tuple[int, int], ...] = ((1, 3), (4, 6), (7, 9), (10, 12))
"""The points range of tiers 1–4."""

RESPONSIBILITY: Mapping[str, int] = MappingProxyType({"一般": 0, "重要": 1, "主要": 2})
"""Responsibility → position in the behaviour's range (一般 the lowest, 重要 the middle, 主要 the highest)."""

ROLES = frozenset({"医师", "药师", "护士", "技师", "审核结算人员", "主要负责人", "相关人员"})
"""Who can carry points: hospital medical, pharmacy, nursing and technical staff and fee/settlement
auditors; a pharmacy's main responsible person and its pharmacists and service staff (相关人员)."""

MAX_POINTS = 12


class PointsError(ValueError):
    """A refused event or rule file; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A behaviour that earns points, with its tier and range."""

    behaviour_id: str
    tier: int
    points_min: int
    points_max: int
    text: str
    source: str = ""

    def points_for(self, responsibility: str) -> int:
        """The points for a responsibility: 一般 → min, 重要 → middle (rounded down), 主要 → max."""
        if responsibility not in RESPONSIBILITY:
            raise PointsError(
                f"responsibility {responsibility!r}: expected one of {', '.join(RESPONSIBILITY)}"
            )
        return (self.points_min, (self.points_min + self.points_max) // 2, self.points_max)[
            RESPONSIBILITY[responsibility]
        ]


@dataclass(frozen=True, slots=True)
class PointsRules:
    """The behaviours and what the yearly total triggers.

    Attributes:
        behaviours: by id.
        suspension_months: yearly total (≥ the first key) → months suspended; the band of the highest key
            not above the total applies.
        terminate_at: the total that terminates the qualification.
        bar_months / bar_months_at_once: months before re-registration after termination, when the total
            was reached over several events / by one event.
    """

    behaviours: Mapping[str, Behaviour]
    suspension_months: Mapping[int, int]
    terminate_at: int = 12
    bar_months: int = 12
    bar_months_at_once: int = 36

    @property
    def suspend_at(self) -> int:
        return min(self.suspension_months)

    def months_for(self, total: int) -> int:
        keys = [k for k in self.suspension_months if k <= total]
        return self.suspension_months[max(keys)] if keys else 0

    def behaviour(self, behaviour_id: str) -> Behaviour:
        b = self.behaviours.get(behaviour_id)
        if b is None:
            raise PointsError(
                f"behaviour {behaviour_id!r}: not in the points table ({', '.join(self.behaviours)})"
            )
        return b


def points_folder() -> Path:
    """``$YIBAO_RULES_DATA/points`` or ``rules_data/points`` beside the source tree."""
    env = os.environ.get("YIBAO_RULES_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "rules_data"
    return root / "points"


def load_points_rules(folder: Path | str | None = None) -> PointsRules:
    """Read ``points.csv`` and ``sanctions.csv`` from ``folder`` (default :func:`points_folder`)."""
    base = Path(folder) if folder is not None else points_folder()
    behaviours: dict[str, Behaviour] = {}
    for n, row in _rows(
        base / "points.csv", ("behaviour_id", "tier", "points_min", "points_max", "behaviour")
    ):
        where = f"{base / 'points.csv'}, line {n}"
        tier, lo, hi = (
            _int(row, "tier", where),
            _int(row, "points_min", where),
            _int(row, "points_max", where),
        )
        if not 1 <= tier <= len(TIERS):
            raise PointsError(f"{where}: tier must be 1–{len(TIERS)}, got {tier}")
        t_lo, t_hi = TIERS[tier - 1]
        if not t_lo <= lo <= hi <= t_hi:
            raise PointsError(f"{where}: points {lo}–{hi} are outside tier {tier} ({t_lo}–{t_hi})")
        bid = row["behaviour_id"].strip()
        if not bid or bid in behaviours:
            raise PointsError(f"{where}: behaviour_id {bid!r} is empty or repeated")
        behaviours[bid] = Behaviour(
            bid, tier, lo, hi, row["behaviour"].strip(), (row.get("source") or "").strip()
        )
    suspension: dict[int, int] = {}
    terminate_at, bar, bar_once = MAX_POINTS, 12, 36
    for n, row in _rows(base / "sanctions.csv", ("points_from", "action", "months")):
        where = f"{base / 'sanctions.csv'}, line {n}"
        frm, months, action = (
            _int(row, "points_from", where),
            _int(row, "months", where),
            row["action"].strip(),
        )
        if action == "暂停":
            if not 1 <= months <= 6:
                raise PointsError(f"{where}: a suspension lasts 1–6 months, got {months}")
            suspension[frm] = months
        elif action == "终止":
            terminate_at, bar = frm, months
        elif action == "一次记满":
            bar_once = months
        else:
            raise PointsError(f"{where}: action must be 暂停, 终止 or 一次记满, got {action!r}")
    if not suspension:
        raise PointsError(f"{base / 'sanctions.csv'}: no suspension (暂停) rows")
    return PointsRules(
        MappingProxyType(behaviours), MappingProxyType(suspension), terminate_at, bar, bar_once
    )


def _rows(path: Path, need: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise PointsError(f"{path}: missing")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in need if c not in (reader.fieldnames or ())]
        if missing:
            raise PointsError(f"{path}: missing columns {missing}")
        rows = [(i + 2, row) for i, row in enumerate(reader)]
    return rows


def _int(row: Mapping[str, str], key: str, where: str) -> int:
    try:
        return int(row[key])
    except (TypeError, ValueError):
        raise PointsError(f"{where}: {key} must be a whole number, got {row.get(key)!r}") from None


class PointsEvent(NamedTuple):
    """Points given to one person (``staff_codg``) on ``on`` for a behaviour of the points table."""

    staff_codg: str
    on: date
    behaviour_id: str
    points: int
    fixmedins_code: str = ""
    case_id: str = ""
    responsibility: str = ""
    role: str = "医师"
    note: str = ""


class Sanction(NamedTuple):
    """A suspension or termination: ``[start, end)``; a termination's ``end`` is its re-registration (None
    while not re-registered) and ``bar_until`` the first day re-registration is allowed."""

    staff_codg: str
    kind: str
    start: date
    end: date | None
    points: int
    year: int
    bar_until: date | None = None
    reason: str = ""


def add_months(d: date, months: int) -> date:
    """``d`` plus whole months, clamped to the month's last day (2024-01-31 + 1 → 2024-02-29)."""
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


_FAR = date.max.toordinal()


@dataclass(frozen=True, slots=True)
class _Index:
    """A person's disjoint blocked intervals as ordinals: starts, ends (exclusive) and reasons."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    reasons: tuple[str, ...]


def _sanctions(
    staff: str, events: list[PointsEvent], reregistered: list[date], rules: PointsRules
) -> tuple[list[Sanction], _Index]:
    """Walk one person's events in date order: yearly totals, suspensions and terminations."""
    out: list[Sanction] = []
    rereg = sorted(reregistered)
    year, total, band, terminated = 0, 0, 0, None  # terminated = the open termination Sanction's index
    ri = 0
    for e in sorted(events, key=lambda ev: ev.on):
        while ri < len(rereg) and rereg[ri] <= e.on:  # re-registrations before this event
            _close_termination(out, terminated, rereg[ri], staff, rules)
            terminated, total, band, year = None, 0, 0, rereg[ri].year
            ri += 1
        if e.on.year != year:
            year, total, band = e.on.year, 0, 0
        total = min(MAX_POINTS, total + e.points)
        if terminated is not None:
            continue
        if total >= rules.terminate_at:
            at_once = e.points >= rules.terminate_at
            months = rules.bar_months_at_once if at_once else rules.bar_months
            bar = add_months(e.on, months)
            how = "一次性记满" if at_once else "累计记满"
            out.append(Sanction(staff, "终止", e.on, None, total, year, bar,
                                f"终止医保支付资格：{year}年{how}{total}分，{bar} 起方可重新登记备案"))  # fmt: skip
            terminated = len(out) - 1
        elif total >= rules.suspend_at and rules.months_for(total) > band:
            band = rules.months_for(total)
            end = add_months(e.on, band)
            last = end - timedelta(days=1)
            out.append(Sanction(staff, "暂停", e.on, end, total, year, None,
                                f"暂停医保支付资格：{year}年累计记分{total}分，{e.on} 至 {last}（{band}个月）"))  # fmt: skip
    while ri < len(rereg):
        _close_termination(out, terminated, rereg[ri], staff, rules)
        terminated = None
        ri += 1
    return out, _index(out)


def _close_termination(out: list[Sanction], i: int | None, on: date, staff: str, rules: PointsRules) -> None:
    if i is None:
        raise PointsError(f"{staff}: re-registration on {on} without a termination before it")
    t = out[i]
    assert t.bar_until is not None
    if on < t.bar_until:
        raise PointsError(
            f"{staff}: re-registration on {on} is before {t.bar_until} (terminated on {t.start})"
        )
    out[i] = t._replace(end=on)


def _index(sanctions: list[Sanction]) -> _Index:
    """Disjoint intervals over the elementary segments between all boundaries: a termination covering a
    segment wins, else the latest suspension covering it; adjacent segments with one reason are merged."""
    spans = [
        (s.start.toordinal(), _FAR if s.end is None else s.end.toordinal(), s.kind == "终止", s.reason)
        for s in sanctions
    ]
    bounds = sorted({b for lo, hi, _, _ in spans for b in (lo, hi)})
    starts: list[int] = []
    ends: list[int] = []
    reasons: list[str] = []
    for lo, hi in pairwise(bounds):
        covering = [(term, start, r) for start, end, term, r in spans if start <= lo and hi <= end]
        if not covering:
            continue
        reason = max(covering)[2]  # terminations first, then the latest start
        if ends and ends[-1] == lo and reasons[-1] == reason:
            ends[-1] = hi
        else:
            starts.append(lo)
            ends.append(hi)
            reasons.append(reason)
    return _Index(tuple(starts), tuple(ends), tuple(reasons))


_EMPTY = _Index((), (), ())


class PointsLedger:
    """Every person's points events and re-registrations, with their sanctions precomputed.

    Immutable: :meth:`add` and :meth:`reregister` return a new ledger and raise PointsError (changing
    nothing) for an unknown behaviour, points outside the behaviour's range, or a re-registration before
    the bar ends.
    """

    __slots__ = ("_events", "_index", "_rereg", "_sanctions", "rules")

    def __init__(
        self,
        events: Iterable[PointsEvent] = (),
        reregistrations: Iterable[tuple[str, date]] = (),
        rules: PointsRules | None = None,
    ) -> None:
        self.rules = rules or load_points_rules()
        by_staff: dict[str, list[PointsEvent]] = {}
        for e in events:
            self._check(e)
            by_staff.setdefault(e.staff_codg, []).append(e)
        rereg: dict[str, list[date]] = {}
        for staff, on in reregistrations:
            rereg.setdefault(staff, []).append(on)
        self._events = {k: tuple(v) for k, v in by_staff.items()}
        self._rereg = {k: tuple(v) for k, v in rereg.items()}
        self._sanctions: dict[str, tuple[Sanction, ...]] = {}
        self._index: dict[str, _Index] = {}
        for staff in set(self._events) | set(self._rereg):
            self._compute(staff)

    def _compute(self, staff: str) -> None:
        s, idx = _sanctions(
            staff, list(self._events.get(staff, ())), list(self._rereg.get(staff, ())), self.rules
        )
        self._sanctions[staff] = tuple(s)
        self._index[staff] = idx

    def _check(self, e: PointsEvent) -> None:
        where = f"points for {e.staff_codg or '?'} on {e.on}"
        if not e.staff_codg.strip():
            raise PointsError(f"{where}: staff_codg is empty")
        if not isinstance(e.on, date):
            raise PointsError(f"{where}: the date must be a date")
        b = self.rules.behaviour(e.behaviour_id)
        if isinstance(e.points, bool) or not isinstance(e.points, int):
            raise PointsError(f"{where}: points must be a whole number, got {e.points!r}")
        if not b.points_min <= e.points <= b.points_max:
            raise PointsError(
                f"{where}: {e.points} points for {b.behaviour_id} (tier {b.tier}) must be {b.points_min}–{b.points_max}"
            )
        if e.responsibility and b.points_for(e.responsibility) != e.points:
            raise PointsError(
                f"{where}: {e.responsibility}责任 under {b.behaviour_id} gives {b.points_for(e.responsibility)} points, not {e.points}"
            )
        if e.role not in ROLES:
            raise PointsError(f"{where}: role {e.role!r} is not one of {', '.join(sorted(ROLES))}")

    def _copy(self) -> PointsLedger:
        new = PointsLedger.__new__(PointsLedger)
        new.rules = self.rules
        new._events = dict(self._events)
        new._rereg = dict(self._rereg)
        new._sanctions = dict(self._sanctions)
        new._index = dict(self._index)
        return new

    def add(self, event: PointsEvent) -> PointsLedger:
        """A new ledger with ``event`` appended."""
        self._check(event)
        new = self._copy()
        new._events[event.staff_codg] = (*self._events.get(event.staff_codg, ()), event)
        new._compute(event.staff_codg)
        return new

    def reregister(self, staff_codg: str, on: date) -> PointsLedger:
        """A new ledger where a terminated person registered again on ``on`` (not before the bar ends)."""
        new = self._copy()
        new._rereg[staff_codg] = (*self._rereg.get(staff_codg, ()), on)
        new._compute(staff_codg)
        return new

    # -- queries ----------------------------------------------------------------------------------

    def may_bill(self, staff_codg: str, on: date, *, emergency: bool = False) -> tuple[bool, str]:
        """Whether services by ``staff_codg`` on ``on`` may be settled, and why not."""
        idx = self._index.get(staff_codg, _EMPTY)
        if not idx.starts:
            return True, "正常"
        d = on.toordinal()
        i = bisect_right(idx.starts, d) - 1
        if i < 0 or d >= idx.ends[i]:
            return True, "正常"
        if emergency:
            return True, f"急诊、抢救除外（{idx.reasons[i]}）"
        return False, idx.reasons[i]

    def year_points(self, staff_codg: str, year: int) -> int:
        """Points of a natural year (capped at 12)."""
        return min(MAX_POINTS, sum(e.points for e in self._events.get(staff_codg, ()) if e.on.year == year))

    def sanctions(self, staff_codg: str) -> tuple[Sanction, ...]:
        return self._sanctions.get(staff_codg, ())

    def events(self, staff_codg: str | None = None) -> tuple[PointsEvent, ...]:
        if staff_codg is not None:
            return self._events.get(staff_codg, ())
        return tuple(e for k in sorted(self._events) for e in self._events[k])

    def reregistrations(self) -> tuple[tuple[str, date], ...]:
        """Every re-registration, by person."""
        return tuple((k, on) for k in sorted(self._rereg) for on in self._rereg[k])

    def status(self, staff_codg: str, on: date) -> str:
        """正常 / 暂停 / 终止 on a date."""
        ok, reason = self.may_bill(staff_codg, on)
        return "正常" if ok else reason[:2]

    def over_threshold(self, year: int, threshold: int | None = None, on: date | None = None) -> pl.DataFrame:
        """People with at least ``threshold`` (default: the suspension threshold) points in ``year``, most
        points first, with their status on ``on`` (default 31 December of the year)."""
        limit = self.rules.suspend_at if threshold is None else threshold
        day = on or date(year, 12, 31)
        rows = []
        for staff, evs in self._events.items():
            pts = self.year_points(staff, year)
            if pts < limit:
                continue
            mine = [e for e in evs if e.on.year == year]
            last = max(mine, key=lambda e: e.on)
            current = [s for s in self._sanctions.get(staff, ()) if s.year == year]
            rows.append(
                {
                    "staff_codg": staff, "role": last.role, "fixmedins_code": last.fixmedins_code, "year": year,
                    "points": pts, "events": len(mine), "status": self.status(staff, day),
                    "sanction": current[-1].reason if current else "",
                }
            )  # fmt: skip
        schema = {
            "staff_codg": pl.String, "role": pl.String, "fixmedins_code": pl.String, "year": pl.Int64,
            "points": pl.Int64, "events": pl.Int64, "status": pl.String, "sanction": pl.String,
        }  # fmt: skip
        frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
        return frame.sort(["points", "staff_codg"], descending=[True, False])

    def events_frame(self) -> pl.DataFrame:
        """Every event as a frame (for storage or a report)."""
        evs = self.events()
        return pl.DataFrame(
            [e._asdict() for e in evs] if evs else None,
            schema={
                f: (pl.Date if f == "on" else pl.Int64 if f == "points" else pl.String)
                for f in PointsEvent._fields
            },
            orient="row",
        )

    @staticmethod
    def from_frame(events: pl.DataFrame, rules: PointsRules | None = None) -> PointsLedger:
        """A ledger from :meth:`events_frame` rows (missing optional columns take their defaults)."""
        need = ("staff_codg", "on", "behaviour_id", "points")
        missing = [c for c in need if c not in events.columns]
        if missing:
            raise PointsError(f"points events: missing columns {missing}")
        fields = [f for f in PointsEvent._fields if f in events.columns]
        return PointsLedger(
            (PointsEvent(**{f: r[f] for f in fields}) for r in events.select(fields).iter_rows(named=True)),
            rules=rules,
        )


# ---------------------------------------------------------------------------------------------
# SQLite: the ledger as an append-only store
# ---------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points_events (
    seq INTEGER PRIMARY KEY, staff_codg TEXT NOT NULL, on_date TEXT NOT NULL, behaviour_id TEXT NOT NULL,
    points INTEGER NOT NULL, fixmedins_code TEXT NOT NULL, case_id TEXT NOT NULL, responsibility TEXT NOT NULL,
    role TEXT NOT NULL, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reregistrations (
    seq INTEGER PRIMARY KEY, staff_codg TEXT NOT NULL, on_date TEXT NOT NULL);
""" + append_only("points_events", "points events") + append_only("reregistrations", "re-registrations")


def _connect(path: Path | str) -> sqlite3.Connection:
    return connect(path, _SCHEMA)


def _load(con: sqlite3.Connection, rules: PointsRules | None) -> PointsLedger:
    events = [
        PointsEvent(staff, date.fromisoformat(on), b, int(pts), inst, case, resp, role, note)
        for staff, on, b, pts, inst, case, resp, role, note in con.execute(
            "SELECT staff_codg, on_date, behaviour_id, points, fixmedins_code, case_id, responsibility, role, note "
            "FROM points_events ORDER BY seq"
        )
    ]
    rereg = [(s, date.fromisoformat(on)) for s, on in con.execute("SELECT staff_codg, on_date FROM reregistrations ORDER BY seq")]
    return PointsLedger(events, rereg, rules)


def load_points(path: Path | str, rules: PointsRules | None = None) -> PointsLedger:
    """The ledger kept in the SQLite file ``path`` (:func:`record_points`); empty when there is none."""
    if not Path(path).exists():
        return PointsLedger(rules=rules)
    con = _connect(path)
    try:
        return _load(con, rules)
    finally:
        con.close()


def record_points(path: Path | str, event: PointsEvent, rules: PointsRules | None = None) -> PointsLedger:
    """Append ``event`` to the ledger in ``path`` (created if missing) and return the new ledger; a
    refused event (PointsError) leaves the file as it was.

    >>> import tempfile
    >>> store = Path(tempfile.mkdtemp()) / "points.sqlite"
    >>> ledger = record_points(store, PointsEvent("D1", date(2024, 3, 1), "B3-01", 9))
    >>> load_points(store).may_bill("D1", date(2024, 3, 2))[0]
    False
    """
    con = _connect(path)
    try:
        with con:  # one transaction: the check and the row together
            ledger = _load(con, rules).add(event)
            con.execute(
                "INSERT INTO points_events (staff_codg, on_date, behaviour_id, points, fixmedins_code, case_id,"
                " responsibility, role, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.staff_codg, event.on.isoformat(), event.behaviour_id, event.points, event.fixmedins_code,
                 event.case_id, event.responsibility, event.role, event.note),
            )  # fmt: skip
        return ledger
    finally:
        con.close()


def record_reregistration(path: Path | str, staff_codg: str, on: date, rules: PointsRules | None = None) -> PointsLedger:
    """Append a re-registration (再次登记备案) to the ledger in ``path``; refused before the bar ends."""
    con = _connect(path)
    try:
        with con:
            ledger = _load(con, rules).reregister(staff_codg, on)
            con.execute("INSERT INTO reregistrations (staff_codg, on_date) VALUES (?, ?)", (staff_codg, on.isoformat()))
        return ledger
    finally:
        con.close()
