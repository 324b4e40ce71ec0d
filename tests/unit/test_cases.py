"""Cases and recovery: grouping findings, the 初审 → 复审 → [申诉] → 调查核实 → 处理 workflow, the append-only
ledger in fen and the SQLite round trip."""

from __future__ import annotations

import doctest
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.supervision import cases as cases_module
from yibao.supervision.cases import (
    STATES,
    Case,
    CaseError,
    Cases,
    Workflow,
    advance,
    build_cases,
    load_cases,
    save_cases,
)

D0 = date(2024, 3, 1)


def findings(*rows: tuple[str, str, str, int, str, str, str]) -> pl.DataFrame:
    """Rows of (jr_id, pattern, sev_deg, vola_amt, fixmedins_code, mdtrt_id, feedetl_sn)."""
    cols = ("jr_id", "pattern", "sev_deg", "vola_amt", "fixmedins_code", "mdtrt_id", "feedetl_sn")
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def one_case(amount: int = 10_000) -> Cases:
    return build_cases(findings(("J1", "overprice", "1", amount, "H1", "M1", "F1")), opened=D0)


def walk(c: Cases, *steps: tuple[str, int]) -> Cases:
    for state, day in steps:
        c = c.advance("H1-rules", state, on=D0 + timedelta(days=day), by="审核员")
    return c


def test_doctests() -> None:
    assert doctest.testmod(cases_module).failed == 0


# -- grouping -------------------------------------------------------------------------------------


def test_rule_hits_of_an_institution_share_a_case_and_model_patterns_get_their_own() -> None:
    f = findings(
        ("J1", "duplicate_charge", "1", 100, "H1", "M1", "F1"),
        ("J2", "overprice", "1", 200, "H1", "M2", "F2"),
        ("J3", "split_admission", "2", 5_000, "H1", "M3", ""),
        ("J4", "overprice", "1", 300, "H2", "M4", "F4"),
    )
    c = build_cases(f, opened=D0)
    assert [x.case_id for x in c] == ["H1-rules", "H1-split_admission", "H2-rules"]
    rules = c.get("H1-rules")
    assert rules.patterns == ("duplicate_charge", "overprice")
    assert rules.jr_ids == ("J1", "J2")
    assert rules.violation_amt == 300
    assert all(x.state == "初审" and x.opened == D0 for x in c)


def test_a_fee_line_flagged_twice_counts_once_at_its_largest_amount() -> None:
    f = findings(
        ("J1", "duplicate_charge", "1", 1_000, "H1", "M1", "F1"),
        ("J2", "overprice", "2", 400, "H1", "M1", "F1"),
        ("J3", "overprice", "1", 50, "H1", "M1", "F2"),
    )
    case = build_cases(f, opened=D0).get("H1-rules")
    assert case.violation_amt == 1_050
    assert case.sev_deg == "1"


def test_violation_amounts_in_yuan_as_on_disk_are_taken_exactly_as_fen() -> None:
    from decimal import Decimal

    f = findings(("J1", "overprice", "1", 0, "H1", "M1", "F1"), ("J2", "overprice", "1", 0, "H1", "M2", "F2"))
    yuan = f.with_columns(pl.Series("vola_amt", [Decimal("1520.07"), Decimal("0.05")], dtype=pl.Decimal(16, 2)))
    assert build_cases(yuan, opened=D0).get("H1-rules").violation_amt == 152_012
    with pytest.raises(CaseError, match="float"):
        build_cases(f.with_columns(pl.col("vola_amt").cast(pl.Float64)), opened=D0)


def test_findings_without_an_institution_form_an_na_case() -> None:
    c = build_cases(findings(("J1", "identity_fraud", "2", 10, "", "", "")), opened=D0)
    assert c.get("NA-identity_fraud").fixmedins_code == ""


def test_findings_missing_columns_are_named() -> None:
    with pytest.raises(CaseError, match=r"missing columns \['vola_amt'\]"):
        build_cases(
            pl.DataFrame({"jr_id": ["J1"], "pattern": ["x"], "sev_deg": ["1"], "fixmedins_code": ["H"]})
        )


def test_no_findings_no_cases() -> None:
    empty = pl.DataFrame(
        schema={"jr_id": pl.String, "pattern": pl.String, "sev_deg": pl.String, "vola_amt": pl.Int64,
                "fixmedins_code": pl.String}
    )  # fmt: skip
    c = build_cases(empty, opened=D0)
    assert len(c) == 0
    assert c.by_state() == dict.fromkeys(STATES, 0)


# -- the workflow ---------------------------------------------------------------------------------


def test_full_path_with_an_appeal_records_every_date_and_actor() -> None:
    c = walk(one_case(), ("复审", 10), ("申诉", 12), ("调查核实", 20), ("处理", 40)).get("H1-rules")
    assert [t.state for t in c.transitions] == list(STATES)
    assert [t.on for t in c.transitions] == [D0 + timedelta(days=d) for d in (0, 10, 12, 20, 40)]
    assert c.transitions[1].by == "审核员"
    assert c.state == "处理"
    assert c.deadline() is None


def test_the_appeal_is_optional() -> None:
    c = walk(one_case(), ("复审", 1), ("调查核实", 2), ("处理", 3)).get("H1-rules")
    assert [t.state for t in c.transitions] == ["初审", "复审", "调查核实", "处理"]


@pytest.mark.parametrize(
    ("steps", "to", "message"),
    [
        ((), "调查核实", "cannot go from 初审 to 调查核实 (next: 复审)"),
        ((), "处理", "cannot go from 初审 to 处理"),
        ((("复审", 1),), "初审", "cannot go from 复审 to 初审 (next: 申诉, 调查核实)"),
        ((("复审", 1),), "复审", "cannot go from 复审 to 复审"),
        ((("复审", 1), ("调查核实", 2)), "申诉", "cannot go from 调查核实 to 申诉 (next: 处理)"),
        ((("复审", 1), ("调查核实", 2), ("处理", 3)), "复审", "none, 处理 is final"),
        ((), "结案", "unknown state '结案'"),
    ],
)
def test_an_invalid_transition_is_refused_and_changes_nothing(
    steps: tuple[tuple[str, int], ...], to: str, message: str
) -> None:
    before = walk(one_case(), *steps)
    snapshot = before.get("H1-rules")
    with pytest.raises(CaseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        before.advance("H1-rules", to, on=D0 + timedelta(days=5), by="审核员")
    assert before.get("H1-rules") == snapshot


def test_a_step_dated_before_the_previous_one_is_refused() -> None:
    c = walk(one_case(), ("复审", 10))
    with pytest.raises(CaseError, match="before 复审 on 2024-03-11"):
        c.advance("H1-rules", "调查核实", on=D0 + timedelta(days=9), by="x")


def test_a_step_needs_who_did_it() -> None:
    with pytest.raises(CaseError, match="needs who did it"):
        one_case().advance("H1-rules", "复审", on=D0, by="  ")


def test_a_late_step_is_recorded_with_its_days_over_the_limit() -> None:
    c = walk(one_case(), ("复审", 35)).get("H1-rules")  # 初审 allows 30 days
    assert c.transitions[-1].late_days == 5


def test_an_appeal_after_the_review_period_is_refused_and_on_its_last_day_accepted() -> None:
    c = walk(one_case(), ("复审", 10))  # 复审 allows 15 days: the last day is D0 + 25
    with pytest.raises(
        CaseError, match=r"申诉 on 2024-03-27 is 1 day\(s\) after the 复审 period ended on 2024-03-26"
    ):
        c.advance("H1-rules", "申诉", on=D0 + timedelta(days=26), by="机构")
    ok = c.advance("H1-rules", "申诉", on=D0 + timedelta(days=25), by="机构").get("H1-rules")
    assert ok.state == "申诉"
    assert ok.transitions[-1].late_days == 0


def test_time_limits_are_parameters() -> None:
    wf = Workflow(
        limits={"初审": 3, "复审": 2, "申诉": 5, "调查核实": 10}, binding=frozenset({"申诉", "复审"})
    )
    c = build_cases(findings(("J1", "overprice", "1", 1, "H1", "", "")), opened=D0, workflow=wf)
    with pytest.raises(CaseError, match="after the 初审 period"):
        c.advance("H1-rules", "复审", on=D0 + timedelta(days=4), by="x")
    c = c.advance("H1-rules", "复审", on=D0 + timedelta(days=3), by="x")
    assert c.get("H1-rules").deadline(wf) == D0 + timedelta(days=5)
    assert c.get("H1-rules").overdue_days(D0 + timedelta(days=8), wf) == 3


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"受理": 3}, "unknown state '受理'"),
        ({"初审": -1}, "whole number of days"),
        ({"初审": 1.5}, "whole number"),
    ],
)
def test_a_bad_workflow_is_refused(limits: dict[str, object], message: str) -> None:
    with pytest.raises(CaseError, match=message):
        Workflow(limits=limits)  # type: ignore[arg-type]


def test_advance_is_a_pure_function_of_a_case() -> None:
    c = one_case().get("H1-rules")
    d = advance(c, "复审", on=D0, by="x")
    assert c.state == "初审" and d.state == "复审"
    assert isinstance(d, Case)


def test_an_unknown_case_is_named() -> None:
    with pytest.raises(CaseError, match="case H9-rules: no such case"):
        one_case().advance("H9-rules", "复审", on=D0, by="x")


# -- the ledger -----------------------------------------------------------------------------------


def test_balance_is_the_sum_of_postings_by_case_and_kind() -> None:
    c = one_case(10_000)
    c = c.post("H1-rules", on=D0, amount=3_000, kind="追回", by="财务")
    c = c.post("H1-rules", on=D0, amount=2_000, kind="拒付")
    c = c.post("H1-rules", on=D0, amount=50_000, kind="罚款")
    assert c.balance("H1-rules") == 55_000
    assert c.balance("H1-rules", ("追回", "拒付")) == 5_000
    assert c.balance(kinds=("罚款",)) == 50_000
    assert [p.posting_id for p in c.postings] == ["P000001", "P000002", "P000003"]


def test_recovery_may_reach_but_not_exceed_the_violation_amount_unless_a_fine() -> None:
    c = one_case(10_000).post("H1-rules", on=D0, amount=6_000, kind="追回")
    c = c.post("H1-rules", on=D0, amount=4_000, kind="拒付")  # exactly the violation amount
    with pytest.raises(
        CaseError, match=r"追回/拒付 would reach 100\.01 yuan, above the violation amount 100\.00 yuan"
    ):
        c.post("H1-rules", on=D0, amount=1, kind="追回")
    assert c.post("H1-rules", on=D0, amount=1_000_000, kind="罚款").balance(kinds=("罚款",)) == 1_000_000


def test_a_correction_is_a_reversing_entry_never_an_update() -> None:
    c = one_case(10_000).post("H1-rules", on=D0, amount=8_000, kind="追回")
    original = c.postings[0]
    r = c.reverse("P000001", on=D0 + timedelta(days=1), by="财务", note="金额有误")
    assert r.postings[0] == original
    assert (
        r.postings[1].amount == -8_000
        and r.postings[1].reverses == "P000001"
        and r.postings[1].kind == "追回"
    )
    assert r.balance("H1-rules") == 0
    r = r.post(
        "H1-rules", on=D0 + timedelta(days=1), amount=10_000, kind="追回"
    )  # room again after the reversal
    assert r.balance("H1-rules") == 10_000
    assert len(r.postings) == 3


@pytest.mark.parametrize(
    ("posting", "message"),
    [("P000009", "no such posting"), ("P000002", "is itself a reversal"), ("P000001", "is already reversed")],
)
def test_a_reversal_must_reverse_one_live_original(posting: str, message: str) -> None:
    c = one_case().post("H1-rules", on=D0, amount=100, kind="追回").reverse("P000001", on=D0)
    with pytest.raises(CaseError, match=message):
        c.reverse(posting, on=D0)


@pytest.mark.parametrize(
    ("amount", "kind", "on", "message"),
    [
        (0, "追回", D0, "must be positive"),
        (-5, "追回", D0, "must be positive"),
        (1.5, "追回", D0, "whole fen"),
        (True, "追回", D0, "whole fen"),
        (10, "退款", D0, "unknown posting kind '退款'"),
        (10, "追回", D0 - timedelta(days=1), "before the case was opened"),
    ],
)
def test_a_bad_posting_is_refused_and_changes_nothing(
    amount: object, kind: str, on: date, message: str
) -> None:
    c = one_case()
    with pytest.raises(CaseError, match=message):
        c.post("H1-rules", on=on, amount=amount, kind=kind)  # type: ignore[arg-type]
    assert c.postings == ()


def test_a_reversal_cannot_predate_its_posting() -> None:
    c = one_case().post("H1-rules", on=D0 + timedelta(days=3), amount=100, kind="追回")
    with pytest.raises(CaseError, match="before the posting"):
        c.reverse("P000001", on=D0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["post", "reverse"]),
            st.integers(1, 6_000),
            st.sampled_from(["追回", "拒付", "罚款"]),
        ),
        max_size=25,
    )
)
def test_the_ledger_never_exceeds_the_cap_and_balances_are_sums(ops: list[tuple[str, int, str]]) -> None:
    c = one_case(10_000)
    for op, amount, kind in ops:
        try:
            if op == "post":
                c = c.post("H1-rules", on=D0, amount=amount, kind=kind)
            elif c.postings:
                c = c.reverse(c.postings[amount % len(c.postings)].posting_id, on=D0)
        except CaseError:
            pass
        assert 0 <= c.balance("H1-rules", ("追回", "拒付")) <= 10_000
        assert c.balance() == sum(p.amount for p in c.postings)
        reversed_ids = [p.reverses for p in c.postings if p.reverses]
        assert len(reversed_ids) == len(set(reversed_ids))


def test_cases_frame_and_counts_by_state() -> None:
    c = build_cases(
        findings(("J1", "overprice", "1", 100, "H1", "", ""), ("J2", "overprice", "1", 200, "H2", "", "")),
        opened=D0,
    ).advance("H1-rules", "复审", on=D0, by="x")
    c = c.post("H1-rules", on=D0, amount=100, kind="追回")
    assert c.by_state() == {"初审": 1, "复审": 1, "申诉": 0, "调查核实": 0, "处理": 0}
    frame = c.frame(on=D0 + timedelta(days=40))
    assert frame.select("case_id", "state", "recovered", "overdue_days").rows() == [
        ("H1-rules", "复审", 100, 25),
        ("H2-rules", "初审", 0, 10),
    ]


# -- SQLite ---------------------------------------------------------------------------------------


def busy() -> Cases:
    c = build_cases(
        findings(
            ("J1", "overprice", "1", 9_000, "H1", "M1", "F1"),
            ("J2", "ghost_bed", "2", 30_000, "H2", "M2", ""),
        ),
        opened=D0,
    )
    c = c.advance("H1-rules", "复审", on=D0 + timedelta(days=2), by="王", note="证据充分")
    c = c.post("H1-rules", on=D0 + timedelta(days=3), amount=9_000, kind="追回", by="财务")
    return c.reverse("P000001", on=D0 + timedelta(days=4), by="财务")


def test_cases_round_trip_through_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "cases.sqlite"
    c = busy()
    save_cases(c, db)
    assert load_cases(db) == c


def test_saving_again_appends_what_is_new(tmp_path: Path) -> None:
    db = tmp_path / "cases.sqlite"
    c = busy()
    save_cases(c, db)
    more = c.advance("H1-rules", "调查核实", on=D0 + timedelta(days=5), by="李").post(
        "H2-ghost_bed", on=D0 + timedelta(days=6), amount=30_000, kind="拒付"
    )
    save_cases(more, db)
    save_cases(more, db)  # idempotent
    assert load_cases(db) == more


def test_a_different_history_is_refused_and_the_file_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "cases.sqlite"
    save_cases(busy(), db)
    other = build_cases(
        findings(
            ("J1", "overprice", "1", 9_000, "H1", "M1", "F1"),
            ("J2", "ghost_bed", "2", 30_000, "H2", "M2", ""),
        ),
        opened=D0,
    ).post("H1-rules", on=D0, amount=1, kind="罚款")
    with pytest.raises(CaseError, match="append-only"):
        save_cases(other, db)
    assert load_cases(db) == busy()


def test_stored_postings_and_transitions_cannot_be_updated_or_deleted(tmp_path: Path) -> None:
    db = tmp_path / "cases.sqlite"
    save_cases(busy(), db)
    con = sqlite3.connect(db)
    try:
        for sql in (
            "UPDATE postings SET amount = 1",
            "DELETE FROM postings",
            "UPDATE transitions SET by_whom = 'x'",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()


def test_loading_a_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no such case store"):
        load_cases(tmp_path / "none.sqlite")
