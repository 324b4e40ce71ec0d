"""Shared by the counting kinds (frequency, quantity): the window a line falls in, online and in SQL."""

from __future__ import annotations

from yibao.supervision.rules._base import Encounter, Line
from yibao.supervision.rules._sql import days_between

PER_NAMES = {
    "day": "每日",
    "week": "每周",
    "month": "每月",
    "year": "每年",
    "encounter": "每次就诊",
    "stay": "每次住院",
    "rx": "每张处方",
}
_MONDAY_ORD = 719162 + 4  # date(1970, 1, 5).toordinal(): a Monday, so weeks run Monday–Sunday


def window_key(per: str, enc: Encounter, line_ord: int, day: str) -> tuple[str, object]:
    """The window of a line: ("enc", mdtrt_id) / ("day", (mdtrt_id, day)) / ("week", n) / ("month", "YYYY-MM") …"""
    if per in ("encounter", "stay", "rx"):
        return ("enc", enc.mdtrt_id)
    if per == "day":
        return ("day", (enc.mdtrt_id, day))
    if per == "week":
        return ("week", (line_ord - _MONDAY_ORD) // 7)
    if per == "month":
        return ("month", day[:7])
    return ("year", day[:4])


def history_key(per: str, line_ord: int, day: str) -> tuple[str, object] | None:
    """The window of a history line, for the windows that span encounters (week, month, year)."""
    if per == "week":
        return ("week", (line_ord - _MONDAY_ORD) // 7)
    if per == "month":
        return ("month", day[:7])
    if per == "year":
        return ("year", day[:4])
    return None


def line_day(line: Line) -> str:
    return line.day


def group_sql(per: str = "per") -> str:
    """SQL of the window key of a line (columns mdtrt_id, psn_no, t) by the value of column ``per``."""
    week = f"CAST(FLOOR({days_between(chr(39) + '1970-01-05' + chr(39), 't')} / 7) AS BIGINT)"
    return f"""CASE {per}
        WHEN 'day' THEN mdtrt_id || '|' || CAST(CAST(t AS DATE) AS VARCHAR)
        WHEN 'week' THEN psn_no || '|W' || CAST({week} AS VARCHAR)
        WHEN 'month' THEN psn_no || '|' || CAST(EXTRACT(YEAR FROM t) AS VARCHAR) || '-' || CAST(EXTRACT(MONTH FROM t) AS VARCHAR)
        WHEN 'year' THEN psn_no || '|' || CAST(EXTRACT(YEAR FROM t) AS VARCHAR)
        ELSE mdtrt_id END"""
