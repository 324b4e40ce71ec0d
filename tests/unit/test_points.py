"""驾照式记分: tiers, yearly totals, suspension at 9 (1–6 months by the points), termination at 12 (1 year,
3 years when all at once), the year reset, and may_bill at every boundary."""

from __future__ import annotations

import doctest
from datetime import date, timedelta
from pathlib import Path

import pytest

from yibao.supervision import points as points_module
from yibao.supervision.points import (
    TIERS,
    PointsError,
    PointsEvent,
    PointsLedger,
    add_months,
    load_points_rules,
    points_folder,
)

RULES = load_points_rules()
DAY = timedelta(days=1)


def ledger(*events: tuple[str, date, str, int]) -> PointsLedger:
    return PointsLedger((PointsEvent(*e) for e in events), rules=RULES)


def test_doctests() -> None:
    assert doctest.testmod(points_module).failed == 0


# -- the points table -----------------------------------------------------------------------------


def test_the_points_table_has_every_tier_within_its_range() -> None:
    tiers = {b.tier for b in RULES.behaviours.values()}
    assert tiers == {1, 2, 3, 4}
    for b in RULES.behaviours.values():
        lo, hi = TIERS[b.tier - 1]
        assert lo <= b.points_min <= b.points_max <= hi
        assert b.text and b.source
    assert (points_folder() / "points.csv").exists()


def test_sanctions_are_data() -> None:
    assert dict(RULES.suspension_months) == {9: 1, 10: 3, 11: 6}
    assert (RULES.terminate_at, RULES.bar_months, RULES.bar_months_at_once) == (12, 12, 36)


def write_rules(
    folder: Path, points_rows: str, sanctions_rows: str = "9,9,暂停,2,\n12,12,终止,12,\n"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "points.csv").write_text(
        "behaviour_id,tier,points_min,points_max,behaviour,source\n" + points_rows, encoding="utf-8"
    )
    (folder / "sanctions.csv").write_text(
        "points_from,points_to,action,months,note\n" + sanctions_rows, encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize(
    ("rows", "sanctions", "message"),
    [
        ("X,2,3,6,行为,来源\n", None, r"points 3–6 are outside tier 2 \(4–6\)"),
        ("X,5,1,3,行为,来源\n", None, "tier must be 1–4"),
        ("X,1,1,3,行为,来源\nX,1,1,2,行为,来源\n", None, "repeated"),
        ("X,1,a,3,行为,来源\n", None, "points_min must be a whole number"),
        ("X,1,1,3,行为,来源\n", "9,9,暂停,7,\n", "a suspension lasts 1–6 months"),
        ("X,1,1,3,行为,来源\n", "9,9,警告,1,\n", "action must be"),
    ],
)
def test_a_bad_points_table_is_refused_with_its_line(
    tmp_path: Path, rows: str, sanctions: str | None, message: str
) -> None:
    folder = write_rules(tmp_path, rows, sanctions) if sanctions else write_rules(tmp_path, rows)
    with pytest.raises(PointsError, match=message):
        load_points_rules(folder)


def test_a_missing_points_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PointsError, match=r"points\.csv: missing"):
        load_points_rules(tmp_path)


# -- events ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", sorted(RULES.behaviours))
def test_each_behaviour_accepts_its_range_and_refuses_outside_it(behaviour: str) -> None:
    b = RULES.behaviour(behaviour)
    for p in (b.points_min, b.points_max):
        assert ledger(("D1", date(2024, 1, 2), behaviour, p)).year_points("D1", 2024) == p
    for p in (b.points_min - 1, b.points_max + 1):
        with pytest.raises(PointsError, match=f"must be {b.points_min}–{b.points_max}"):
            ledger(("D1", date(2024, 1, 2), behaviour, p))


def test_responsibility_sets_the_points_within_the_range() -> None:
    b = RULES.behaviour("B2-01")  # 4–6
    assert [b.points_for(r) for r in ("一般", "重要", "主要")] == [4, 5, 6]
    PointsLedger([PointsEvent("D1", date(2024, 1, 2), "B2-01", 6, responsibility="主要")], rules=RULES)
    with pytest.raises(PointsError, match="主要责任 under B2-01 gives 6 points, not 4"):
        PointsLedger([PointsEvent("D1", date(2024, 1, 2), "B2-01", 4, responsibility="主要")], rules=RULES)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (PointsEvent("D1", date(2024, 1, 2), "B9-99", 3), "not in the points table"),
        (PointsEvent("", date(2024, 1, 2), "B1-01", 1), "staff_codg is empty"),
        (PointsEvent("D1", date(2024, 1, 2), "B1-01", 1, role="院长"), "role '院长'"),
        (PointsEvent("D1", date(2024, 1, 2), "B1-01", True), "whole number"),
    ],
)
def test_a_bad_event_is_refused_and_the_ledger_unchanged(event: PointsEvent, message: str) -> None:
    before = ledger(("D1", date(2024, 1, 1), "B1-01", 2))
    with pytest.raises(PointsError, match=message):
        before.add(event)
    assert before.events("D1") == (PointsEvent("D1", date(2024, 1, 1), "B1-01", 2),)


# -- tiers of sanctions and may_bill boundaries ----------------------------------------------------


def test_below_nine_points_the_person_may_bill() -> None:
    lg = ledger(("D1", date(2024, 2, 1), "B2-01", 6), ("D1", date(2024, 3, 1), "B1-01", 2))
    assert lg.year_points("D1", 2024) == 8
    assert lg.sanctions("D1") == ()
    assert lg.may_bill("D1", date(2024, 3, 1)) == (True, "正常")


@pytest.mark.parametrize(("extra", "months"), [(3, 1), (4, 3), (5, 6)])
def test_nine_ten_and_eleven_points_suspend_for_one_three_and_six_months(extra: int, months: int) -> None:
    start = date(2024, 5, 10)
    lg = ledger(("D1", date(2024, 2, 1), "B2-01", 6), ("D1", start, "B2-01" if extra > 3 else "B1-01", extra))
    end = add_months(start, months)
    assert lg.may_bill("D1", start - DAY) == (True, "正常")
    ok, reason = lg.may_bill("D1", start)
    assert not ok and reason.startswith("暂停医保支付资格") and f"（{months}个月）" in reason
    assert lg.may_bill("D1", end - DAY)[0] is False
    assert lg.may_bill("D1", end) == (True, "正常")
    assert lg.status("D1", start) == "暂停"


def test_a_higher_band_later_in_the_year_extends_the_suspension() -> None:
    lg = ledger(("D1", date(2024, 1, 10), "B3-01", 9), ("D1", date(2024, 1, 20), "B1-01", 1))
    assert [s.kind for s in lg.sanctions("D1")] == ["暂停", "暂停"]
    assert lg.may_bill("D1", date(2024, 4, 19))[0] is False  # 10 points → 3 months from 1-20
    assert lg.may_bill("D1", date(2024, 4, 20)) == (True, "正常")


def test_twelve_points_over_the_year_terminate_for_one_year_until_re_registration() -> None:
    t = date(2024, 6, 1)
    lg = ledger(("D1", date(2024, 2, 1), "B2-01", 6), ("D1", t, "B2-01", 6))
    s = lg.sanctions("D1")[-1]
    assert (s.kind, s.start, s.bar_until, s.end) == ("终止", t, date(2025, 6, 1), None)
    ok, reason = lg.may_bill("D1", date(2026, 1, 1))
    assert not ok and "累计记满12分" in reason and "2025-06-01 起方可重新登记备案" in reason
    with pytest.raises(PointsError, match="before 2025-06-01"):
        lg.reregister("D1", date(2025, 5, 31))
    back = lg.reregister("D1", date(2025, 6, 1))
    assert back.may_bill("D1", date(2025, 5, 31))[0] is False
    assert back.may_bill("D1", date(2025, 6, 1)) == (True, "正常")


def test_twelve_points_at_once_bar_re_registration_for_three_years() -> None:
    t = date(2024, 6, 1)
    lg = ledger(("D1", t, "B4-01", 12))
    s = lg.sanctions("D1")[-1]
    assert s.bar_until == date(2027, 6, 1) and "一次性记满12分" in s.reason
    with pytest.raises(PointsError, match="before 2027-06-01"):
        lg.reregister("D1", date(2027, 5, 31))
    assert lg.reregister("D1", date(2027, 6, 1)).may_bill("D1", date(2027, 6, 1))[0] is True


def test_termination_overrides_a_running_suspension() -> None:
    lg = ledger(("D1", date(2024, 3, 1), "B3-01", 9), ("D1", date(2024, 3, 15), "B2-01", 4))
    ok, reason = lg.may_bill("D1", date(2024, 3, 20))
    assert not ok and reason.startswith("终止")
    assert lg.may_bill("D1", date(2024, 3, 10))[1].startswith("暂停")


def test_re_registration_without_termination_is_refused() -> None:
    with pytest.raises(PointsError, match="without a termination"):
        ledger(("D1", date(2024, 3, 1), "B1-01", 2)).reregister("D1", date(2025, 1, 1))


def test_points_reset_each_natural_year() -> None:
    lg = ledger(("D1", date(2024, 12, 20), "B2-01", 6), ("D1", date(2024, 12, 21), "B1-01", 2),
                ("D1", date(2025, 1, 2), "B1-01", 3))  # fmt: skip
    assert (lg.year_points("D1", 2024), lg.year_points("D1", 2025)) == (8, 3)
    assert lg.sanctions("D1") == ()


def test_a_suspension_carries_over_the_year_end() -> None:
    lg = ledger(("D1", date(2024, 12, 15), "B3-01", 9))
    assert lg.may_bill("D1", date(2025, 1, 10))[0] is False
    assert lg.may_bill("D1", date(2025, 1, 15)) == (True, "正常")
    assert lg.year_points("D1", 2025) == 0


def test_emergency_and_rescue_services_are_settled_even_when_suspended() -> None:
    lg = ledger(("D1", date(2024, 5, 1), "B3-01", 9))
    ok, reason = lg.may_bill("D1", date(2024, 5, 2), emergency=True)
    assert ok and reason.startswith("急诊、抢救除外")


def test_people_without_points_may_bill() -> None:
    assert ledger().may_bill("D404", date(2024, 5, 2)) == (True, "正常")


def test_events_out_of_date_order_give_the_same_sanctions() -> None:
    a = ledger(("D1", date(2024, 1, 5), "B2-01", 6), ("D1", date(2024, 4, 1), "B3-01", 7))
    b = ledger(("D1", date(2024, 4, 1), "B3-01", 7), ("D1", date(2024, 1, 5), "B2-01", 6))
    assert a.sanctions("D1") == b.sanctions("D1")


def test_people_over_the_threshold_are_listed_most_points_first() -> None:
    lg = PointsLedger(
        [
            PointsEvent("D1", date(2024, 1, 5), "B3-01", 9, "H1"),
            PointsEvent("Y2", date(2024, 2, 5), "B4-02", 12, "P1", role="药师"),
            PointsEvent("D3", date(2024, 2, 5), "B2-01", 5, "H1"),
        ],
        rules=RULES,
    )
    over = lg.over_threshold(2024)
    assert over.select("staff_codg", "role", "points", "status").rows() == [
        ("Y2", "药师", 12, "终止"),
        ("D1", "医师", 9, "正常"),  # the 1-month suspension ended before 31 December
    ]


def test_the_ledger_round_trips_through_a_frame() -> None:
    lg = ledger(("D1", date(2024, 1, 5), "B3-01", 9), ("D2", date(2024, 3, 5), "B1-02", 1))
    again = PointsLedger.from_frame(lg.events_frame(), rules=RULES)
    assert again.events() == lg.events()
    assert again.sanctions("D1") == lg.sanctions("D1")


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_the_points_store_keeps_events_and_refuses_to_change_them(tmp_path: Path) -> None:
    import sqlite3

    from yibao.supervision.points import load_points, record_points

    store = tmp_path / "points.sqlite"
    record_points(store, PointsEvent("D1", date(2024, 3, 1), "B2-01", 5))
    with pytest.raises(PointsError):
        record_points(store, PointsEvent("D1", date(2024, 3, 2), "B2-01", 9))
    assert [e.points for e in load_points(store).events()] == [5]
    con = sqlite3.connect(store)
    for sql in ("UPDATE points_events SET points = 4", "DELETE FROM points_events"):
        with pytest.raises(sqlite3.DatabaseError, match="points events are append-only"):
            con.execute(sql)
    con.close()
