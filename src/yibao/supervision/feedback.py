# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""3103 feedback (事前事中反馈) and the reminder compliance rate (事前提醒遵从率), in a SQLite store.

A reminder shown to a doctor (a 3101 / 3102 result) is answered by a 3103 message::

    {"data": {"warn_type": "1", "warns": [{"warn_rslt_id": "<jr_id>", "dspo_way": "2", "dspo_way_rea": ""}]}}

``warn_type`` 1 事前 / 2 事中; ``dspo_way`` 1 继续执行医嘱 (a reason is required) or 2 返回修改医嘱.
:func:`record_shown` logs the reminders an analysis returned (so unanswered ones count too);
:func:`record_feedback_3103` appends the answers (a later answer to the same reminder supersedes an
earlier one; nothing is updated in place). :func:`compliance_rate` is the share of reminders shown in a
period that were followed by 返回修改 — the pilot metric 事前提醒遵从率. When no reminders were logged,
the answered ones are the denominator.

The store is one SQLite file (WAL); the path is the caller's.

>>> import tempfile, pathlib
>>> db = pathlib.Path(tempfile.mkdtemp()) / "feedback.sqlite"
>>> record_shown(db, [{"jr_id": "J1", "rule_id": "R-GEND-01", "patn_id": "P1", "mdtrt_id": "M1", "task_id": "T1"},
...                   {"jr_id": "J2", "rule_id": "R-IND-01", "patn_id": "P1", "mdtrt_id": "M1", "task_id": "T1"}],
...              warn_type="1", on="2025-06-12")
2
>>> record_feedback_3103({"data": {"warn_type": "1", "warns": [
...     {"warn_rslt_id": "J1", "dspo_way": "2"}, {"warn_rslt_id": "J2", "dspo_way": "1", "dspo_way_rea": "病历已记录适应症"}]}},
...     db, on="2025-06-12")
{'recorded': 2}
>>> compliance_rate(db, "2025-06")
Compliance(shown=2, answered=2, followed=1, continued=1, rate=Decimal('0.5000'))
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

from yibao.supervision.rules._base import OnlineInputError

__all__ = ["Compliance", "FeedbackError", "compliance_rate", "record_feedback_3103", "record_shown"]

FeedbackError = OnlineInputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reminders (
    jr_id TEXT PRIMARY KEY, warn_type TEXT NOT NULL, rule_id TEXT, patn_id TEXT, mdtrt_id TEXT, task_id TEXT,
    shown_on TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, jr_id TEXT NOT NULL, warn_type TEXT NOT NULL, dspo_way TEXT NOT NULL,
    dspo_way_rea TEXT NOT NULL, answered_on TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_jr ON feedback (jr_id);
"""


class Compliance(NamedTuple):
    """Reminders shown in a period, how many were answered, followed (返回修改) or overridden (继续)."""

    shown: int
    answered: int
    followed: int
    continued: int
    rate: Decimal | None


def _open(store: Path | str) -> sqlite3.Connection:
    con = sqlite3.connect(str(store))
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(_SCHEMA)
    return con


def _day(on: date | datetime | str | None) -> str:
    if on is None:
        return date.today().isoformat()
    if isinstance(on, datetime):
        return on.date().isoformat()
    if isinstance(on, date):
        return on.isoformat()
    return date.fromisoformat(str(on)[:10]).isoformat()


def record_shown(
    store: Path | str,
    results: Iterable[Mapping[str, Any]],
    *,
    warn_type: str,
    on: date | datetime | str | None = None,
) -> int:
    """Log reminders an analysis returned (3101/3102 ``result`` entries); returns how many were new."""
    if warn_type not in ("1", "2"):
        raise FeedbackError("warn_type", f"must be 1 (事前) or 2 (事中), not {warn_type!r}")
    day = _day(on)
    rows = []
    for i, r in enumerate(results):
        jr = r.get("jr_id")
        if not jr:
            raise FeedbackError(f"result[{i}].jr_id", "is missing")
        rows.append(
            (str(jr), warn_type, r.get("rule_id"), r.get("patn_id"), r.get("mdtrt_id"), r.get("task_id"), day)
        )
    con = _open(store)
    try:
        with con:
            before = con.total_changes
            con.executemany("INSERT OR IGNORE INTO reminders VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            return con.total_changes - before
    finally:
        con.close()


def record_feedback_3103(
    data: Mapping[str, Any], store: Path | str, *, on: date | datetime | str | None = None
) -> dict[str, int]:
    """Validate and append a 3103 message; the whole message is refused if any entry is bad."""
    if not isinstance(data, Mapping):
        raise FeedbackError("data", f"must be a mapping, not {type(data).__name__}")
    d = data.get("data", data)
    if not isinstance(d, Mapping):
        raise FeedbackError("data", "must be a mapping")
    warn_type = str(d.get("warn_type") or "")
    if warn_type not in ("1", "2"):
        raise FeedbackError("warn_type", f"must be 1 (事前) or 2 (事中), not {d.get('warn_type')!r}")
    warns = d.get("warns")
    if not isinstance(warns, list) or not warns:
        raise FeedbackError("warns", "must be a non-empty list")
    day = _day(on)
    rows = []
    for i, w in enumerate(warns):
        if not isinstance(w, Mapping):
            raise FeedbackError(f"warns[{i}]", "must be a mapping")
        jr = w.get("warn_rslt_id")
        if not jr:
            raise FeedbackError(f"warns[{i}].warn_rslt_id", "is missing (the jr_id of the reminder)")
        way = str(w.get("dspo_way") or "")
        if way not in ("1", "2"):
            raise FeedbackError(
                f"warns[{i}].dspo_way",
                f"must be 1 (继续执行医嘱) or 2 (返回修改医嘱), not {w.get('dspo_way')!r}",
            )
        reason = str(w.get("dspo_way_rea") or "").strip()
        if way == "1" and not reason:
            raise FeedbackError(f"warns[{i}].dspo_way_rea", "is required when dspo_way is 1 (继续执行医嘱)")
        rows.append((str(jr), warn_type, way, reason, day))
    con = _open(store)
    try:
        with con:
            con.executemany(
                "INSERT INTO feedback (jr_id, warn_type, dspo_way, dspo_way_rea, answered_on) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
    finally:
        con.close()
    return {"recorded": len(rows)}


def _bounds(period: str | tuple[date | str, date | str]) -> tuple[str, str]:
    if isinstance(period, tuple):
        return _day(period[0]), _day(period[1])
    p = str(period)
    if len(p) == 4 and p.isdigit():
        return f"{p}-01-01", f"{p}-12-31"
    if len(p) == 7 and p[4] == "-":
        y, m = int(p[:4]), int(p[5:])
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        return f"{p}-01", date.fromordinal(nxt.toordinal() - 1).isoformat()
    d = _day(p)
    return d, d


def compliance_rate(
    store: Path | str, period: str | tuple[date | str, date | str], *, warn_type: str = "1"
) -> Compliance:
    """事前提醒遵从率 over ``period`` ("2025", "2025-06", a day, or (first, last) days inclusive)."""
    lo, hi = _bounds(period)
    con = _open(store)
    try:
        latest = """SELECT f.jr_id, f.dspo_way FROM feedback f
                    JOIN (SELECT jr_id, MAX(seq) AS seq FROM feedback WHERE warn_type = ? GROUP BY jr_id) x ON x.seq = f.seq"""
        shown = con.execute(
            "SELECT COUNT(*) FROM reminders WHERE warn_type = ? AND shown_on BETWEEN ? AND ?",
            (warn_type, lo, hi),
        ).fetchone()[0]
        if shown:
            rows = con.execute(
                f"SELECT l.dspo_way FROM reminders r JOIN ({latest}) l ON l.jr_id = r.jr_id "
                "WHERE r.warn_type = ? AND r.shown_on BETWEEN ? AND ?",
                (warn_type, warn_type, lo, hi),
            ).fetchall()
        else:
            rows = con.execute(
                f"SELECT l.dspo_way FROM ({latest}) l JOIN feedback f ON f.jr_id = l.jr_id "
                "WHERE f.answered_on BETWEEN ? AND ? GROUP BY l.jr_id, l.dspo_way",
                (warn_type, lo, hi),
            ).fetchall()
            shown = len(rows)
    finally:
        con.close()
    followed = sum(1 for (w,) in rows if w == "2")
    continued = sum(1 for (w,) in rows if w == "1")
    rate = (Decimal(followed) / Decimal(shown)).quantize(Decimal("0.0001"), ROUND_HALF_UP) if shown else None
    return Compliance(shown, len(rows), followed, continued, rate)
