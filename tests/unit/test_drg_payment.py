"""DRG/DIP payment: weights, points, outliers, 特例单议, point value, statements, prepayment, clearing.

Money is integer fen; every sum that must add up is checked to the fen.
"""

from __future__ import annotations

import doctest
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.drg import payment as payment_module
from yibao.drg.payment import (
    PaymentError,
    PaymentParams,
    Trim,
    allocate,
    apply_reviews,
    clear_year,
    decide,
    dip_assign,
    dip_catalogue,
    dip_price,
    monthly_statements,
    prepayments,
    price_cases,
    rate_from_budget,
    review_queue,
    settle_with_rate,
    to_frame,
    weights_from_history,
    weights_from_table,
)
from yibao.money import Ratio


def cases(rows: list[tuple[str, str, str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["case_id", "fixmedins_code", "hosp_lv", "month", "drg", "total_fen"], orient="row"
    )


def simple() -> pl.DataFrame:
    """Two DRGs, two hospitals: A costs 10,000 fen, B 30,000 fen; overall mean 20,000."""
    rows = []
    for i in range(4):
        rows.append((f"a{i}", "H1", "3", "2025-01", "GD25", 10_000))
        rows.append((f"b{i}", "H2", "2", "2025-02", "FM19", 30_000))
    return cases(rows)


def test_doctests() -> None:
    assert doctest.testmod(payment_module).failed == 0


# ---------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------


def test_weights_are_group_mean_over_overall_mean() -> None:
    w = weights_from_history(simple())
    assert w.overall_mean_fen == 20_000
    assert w.weights["GD25"].rw_e4 == 5_000 and w.rw("GD25") == "0.5000"
    assert w.weights["FM19"].rw_e4 == 15_000 and w.weights["FM19"].mean_fen == 30_000
    assert w.rw("XX99") == ""


def test_unpriced_groups_make_no_weight() -> None:
    df = pl.concat(
        [
            simple(),
            cases([("z", "H1", "3", "2025-01", "0000", 999_999), ("q", "H1", "3", "2025-01", "GQY", 5)]),
        ]
    )
    w = weights_from_history(df)
    assert set(w.weights) == {"GD25", "FM19"} and w.overall_mean_fen == 20_000


def test_sd_trimming_drops_the_outlier() -> None:
    rows = [(f"c{i}", "H1", "3", "2025-01", "GD25", 10_000) for i in range(20)]
    rows.append(("big", "H1", "3", "2025-01", "GD25", 1_000_000))
    w = weights_from_history(cases(rows))
    assert (w.weights["GD25"].mean_fen, w.weights["GD25"].cases, w.weights["GD25"].trimmed) == (10_000, 20, 1)
    kept = weights_from_history(cases(rows), trim=Trim.none())
    assert kept.weights["GD25"].trimmed == 0 and kept.weights["GD25"].mean_fen == round(1_200_000 / 21)
    assert "3 sd" in w.trim


def test_percentile_trimming() -> None:
    assert Trim.percentiles(10, 90).keep(list(range(1, 21))) == list(range(2, 19))
    with pytest.raises(PaymentError):
        Trim.percentiles(90, 10)


def test_weights_given_as_a_table() -> None:
    w = weights_from_table(
        pl.DataFrame({"drg": ["GD25", "FM19"], "rw": ["0.5", "1.5000"], "mean_fen": [10_000, 30_000]})
    )
    assert w.weights["GD25"].rw_e4 == 5_000 and w.overall_mean_fen == 20_000
    with pytest.raises(PaymentError, match="more than 4 decimal"):
        weights_from_table(pl.DataFrame({"drg": ["X"], "rw": ["0.12345"]}))


# ---------------------------------------------------------------------------------------------
# points and outliers
# ---------------------------------------------------------------------------------------------


def _one(cost: int, *, lv: str = "2", params: PaymentParams | None = None) -> tuple[str, int]:
    w = weights_from_history(simple())
    [c] = price_cases(cases([("x", "H9", lv, "2025-03", "FM19", cost)]), w, params)
    return c.kind, c.points_c


def test_points_of_a_normal_case_with_coefficient() -> None:
    assert _one(30_000) == ("normal", 15_000)  # RW 1.5 → 150.00 points
    p = PaymentParams(coefficients={"3": Ratio.of("1.1"), "H9": Ratio.of("0.95")})
    assert _one(30_000, lv="3", params=PaymentParams(coefficients={"3": Ratio.of("1.1")})) == (
        "normal",
        16_500,
    )
    assert _one(30_000, lv="3", params=p) == ("normal", 14_250)  # the hospital's own coefficient wins


def test_high_outlier_formula() -> None:
    # cost 3× the mean, threshold 2: b + (3 − 2) × b = 300.00 points
    assert _one(90_000) == ("high", 30_000)
    assert _one(60_000) == ("high", 15_000)  # exactly 2× is 高倍率: b + 0
    assert _one(59_999) == ("normal", 15_000)
    c = PaymentParams(coefficients={"3": Ratio.of("1.1")})
    assert _one(90_000, lv="3", params=c) == ("high", 16_500 + 15_000)
    three = PaymentParams(high_ratio=Ratio.of(3))
    assert _one(90_000, params=three) == ("high", 15_000)


def test_low_outlier_formula() -> None:
    assert _one(12_000) == ("low", 6_000)  # 0.4 × mean: b × x / m
    assert _one(12_001) == ("normal", 15_000)
    assert _one(3_000) == ("low", 1_500)


def test_a_drg_without_weight_is_unpriced() -> None:
    w = weights_from_history(simple())
    [c] = price_cases(cases([("x", "H1", "3", "2025-03", "0000", 50_000)]), w)
    assert (c.kind, c.points_c, c.by_item_c) == ("unpriced", 0, 25_000)  # by item: 50,000 / 20,000 × 100


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (cases([("x", "H1", "3", "2025-13", "GD25", 1)]), "YYYY-MM"),
        (cases([("x", "H1", "3", "2025-01", "GD25", -1)]), "negative"),
        (
            pl.DataFrame(
                {
                    "case_id": ["x"],
                    "fixmedins_code": ["H"],
                    "hosp_lv": ["3"],
                    "month": ["2025-01"],
                    "drg": ["GD25"],
                    "total_fen": [1.5],
                }
            ),
            "integer fen",
        ),
        (pl.DataFrame({"case_id": ["x"], "drg": ["GD25"]}), "lacks the columns"),
    ],
)
def test_bad_case_tables_are_refused(frame: pl.DataFrame, message: str) -> None:
    w = weights_from_history(simple())
    with pytest.raises(PaymentError, match=message):
        price_cases(frame, w)


# ---------------------------------------------------------------------------------------------
# 特例单议
# ---------------------------------------------------------------------------------------------


def _year(n_h1: int = 100) -> pl.DataFrame:
    rows = []
    for i in range(n_h1):
        drg = "0000" if i < 8 else ("FM19" if i % 2 else "GD25")
        cost = {"0000": 40_000, "FM19": 30_000, "GD25": 10_000}[drg]
        if i in (20, 21, 22):
            cost = 30_000 * (i - 16)  # 4×, 5×, 6× the FM19 mean: 高倍率 (i odd/even below)
            drg = "FM19"
        rows.append((f"h1-{i:03d}", "H1", "3", f"2025-{i % 12 + 1:02d}", drg, cost))
    for i in range(40):
        rows.append(
            (
                f"h2-{i:03d}",
                "H2",
                "2",
                f"2025-{i % 12 + 1:02d}",
                "GD25" if i % 3 else "FM19",
                10_000 if i % 3 else 30_000,
            )
        )
    return cases(rows)


def test_review_queue_is_capped_and_orders_unpriced_first() -> None:
    df = _year()
    w = weights_from_history(df, trim=Trim.none())
    priced = price_cases(df, w)
    q = review_queue(priced)
    assert q.capacity == {"H1": 5, "H2": 2}
    h1 = [r for r in q.entries if r.fixmedins_code == "H1"]
    assert len(h1) == 5 and all(r.reason == "unpriced" for r in h1)
    assert q.left_out >= 3 + 3  # 3 more unpriced and the 高倍率 cases did not fit
    wide = review_queue(priced, PaymentParams(review_share=Ratio.of("0.11")))
    h1w = [r for r in wide.entries if r.fixmedins_code == "H1"]
    assert [r.reason for r in h1w] == ["unpriced"] * 8 + ["high", "high", "high"]
    assert [r.case_id for r in h1w[8:]] == ["h1-022", "h1-021", "h1-020"]  # highest cost ratio first


def test_review_outcomes_are_recorded_and_applied() -> None:
    df = _year()
    w = weights_from_history(df, trim=Trim.none())
    priced = price_cases(df, w)
    q = review_queue(priced)
    a, b, c = (r.case_id for r in q.entries[:3])
    q = decide(q, a, approve=True, note="new technique")
    q = decide(q, b, approve=True, points_c=12_345)
    q = decide(q, c, approve=False, note="coding error")
    assert [r.outcome for r in q.entries[:4]] == ["approved", "approved", "rejected", "pending"]
    assert q.get(a) is not None and q.get(a).note == "new technique"  # type: ignore[union-attr]
    final = {x.case_id: x for x in apply_reviews(priced, q)}
    by_item = next(x.by_item_c for x in priced if x.case_id == a)
    assert final[a].points_c == by_item and final[a].kind == "unpriced+reviewed"
    assert final[b].points_c == 12_345
    assert final[c].points_c == 0 and final[c].kind == "unpriced"
    with pytest.raises(PaymentError, match="not in the"):
        decide(q, "nope", approve=True)


# ---------------------------------------------------------------------------------------------
# point value, statements, prepayment, clearing
# ---------------------------------------------------------------------------------------------


def test_allocation_adds_up_and_is_fair() -> None:
    assert allocate(10, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 3, "b": 4, "c": 3}
    assert allocate(0, [("a", 5)]) == {"a": 0}
    assert allocate(7, [("a", 0), ("b", 0)]) == {"a": 0, "b": 0}
    with pytest.raises(PaymentError):
        allocate(7, [("a", -1)])


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(0, 10**14),
    shares=st.lists(st.integers(0, 10**9), min_size=1, max_size=40),
)
def test_allocation_property(total: int, shares: list[int]) -> None:
    keyed = [(f"h{i:02d}", s) for i, s in enumerate(shares)]
    out = allocate(total, keyed)
    whole = sum(shares)
    if whole == 0:
        assert set(out.values()) == {0}
        return
    assert sum(out.values()) == total
    for k, s in keyed:
        assert abs(out[k] - Fraction(total * s, whole)) < 1


def test_statements_prepayment_and_clearing_add_up() -> None:
    df = _year()
    w = weights_from_history(df)
    p = PaymentParams(coefficients={"3": Ratio.of("1.05")}, reserve_share=Ratio.of("0.05"))
    priced = price_cases(df, w, p)
    budget = 1_234_567_891
    st_ = monthly_statements(priced, budget, p)
    net = budget - round(budget * 0.05)
    assert sum(s.amount_fen for s in st_) == net  # all twelve months have cases
    parts = allocate(net, [(f"{m:02d}", 1) for m in range(1, 13)])
    for month in {s.month for s in st_}:
        assert sum(s.amount_fen for s in st_ if s.month == month) == parts[month[5:]]
    jan = [s for s in st_ if s.month == "2025-01"]
    assert {s.fixmedins_code for s in jan} == {"H1", "H2"}
    assert all(s.cases >= 1 and s.groups >= 1 for s in jan)
    assert sum(s.unpriced for s in st_) == 8 and sum(s.high for s in st_) == 3
    pre = prepayments(st_)
    assert pre["H1"] == round(sum(s.amount_fen for s in st_ if s.fixmedins_code == "H1") / 12)
    year = clear_year(priced, budget, st_, pre, p)
    assert sum(h.final_fen for h in year.hospitals) == net and year.reserve_fen == budget - net
    for h in year.hospitals:
        assert h.monthly_paid_fen + h.prepaid_fen + h.balance_fen == h.final_fen
    assert year.point_value == Fraction(net, year.total_points_c)
    assert year.point_value_yuan().count(".") == 1
    frame = to_frame(list(year.hospitals))
    assert frame.get_column("final_fen").sum() == net


def test_rate_method_matches_the_point_method() -> None:
    df = _year()
    w = weights_from_history(df)
    priced = price_cases(df, w)
    budget = 987_654_321
    year = clear_year(priced, budget)
    rate = rate_from_budget(priced, budget)
    by_rate = settle_with_rate(priced, rate)
    for h in year.hospitals:
        assert abs(by_rate[h.fixmedins_code] - h.final_fen) <= 1
    fixed = settle_with_rate(priced, Ratio.of(20_000))  # 200 yuan per 1.0 RW, set in advance
    assert fixed["H2"] == round(sum(c.points_c for c in priced if c.fixmedins_code == "H2") * 20_000 / 10_000)


hospital_case = st.tuples(
    st.sampled_from(["H1", "H2", "H3", "H4", "H5"]),
    st.sampled_from(["GD25", "FM19", "BR15", "0000"]),
    st.integers(1, 5_000_000),
    st.integers(1, 12),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(hospital_case, min_size=1, max_size=80), budget=st.integers(0, 10**12))
def test_hospital_amounts_add_up_to_the_budget_after_clearing(
    rows: list[tuple[str, str, int, int]], budget: int
) -> None:
    df = cases([(f"c{i}", h, "3", f"2025-{m:02d}", d, x) for i, (h, d, x, m) in enumerate(rows)])
    try:
        w = weights_from_history(df)
    except PaymentError:
        return  # nothing priced (only 0000 cases)
    priced = price_cases(df, w)
    q = review_queue(priced, PaymentParams(review_share=Ratio.of("0.2")))
    for r in q.entries[::2]:
        q = decide(q, r.case_id, approve=True)
    final = apply_reviews(priced, q)
    st_ = monthly_statements(final, budget)
    pre = prepayments(st_)
    year = clear_year(final, budget, st_, pre)
    if year.total_points_c == 0:
        assert all(h.final_fen == 0 for h in year.hospitals)
        return
    assert sum(h.final_fen for h in year.hospitals) == budget
    assert all(h.monthly_paid_fen + h.prepaid_fen + h.balance_fen == h.final_fen for h in year.hospitals)
    points_by_month: dict[str, int] = {}
    for s in st_:
        points_by_month[s.month] = points_by_month.get(s.month, 0) + s.points_c
    if len(points_by_month) == 12 and all(points_by_month.values()):  # a month without points pays nobody
        assert sum(s.amount_fen for s in st_) == budget


# ---------------------------------------------------------------------------------------------
# DIP
# ---------------------------------------------------------------------------------------------


def _dip_history() -> pl.DataFrame:
    rows = []
    for i in range(16):  # a core group: 急性阑尾炎 亚目 K35.8 × 阑尾切除术
        rows.append((f"a{i}", "H1", "3", "2025-01", "K35.800x001", "47.0901", 20_000))
    for i in range(5):  # too few for a core group: comprehensive K35 × 操作
        rows.append((f"b{i}", "H2", "2", "2025-01", "K35.800x001", "47.0100|54.1100", 30_000))
    for i in range(4):  # conservative treatment
        rows.append((f"c{i}", "H2", "2", "2025-02", "K35.300", "", 10_000))
    return pl.DataFrame(
        rows,
        schema=["case_id", "fixmedins_code", "hosp_lv", "month", "principal", "procedures", "total_fen"],
        orient="row",
    )


def test_dip_core_and_comprehensive_groups() -> None:
    cat = dip_catalogue(_dip_history(), min_cases=15)
    assert set(cat.groups) == {"K35.8/47.0901", "K35/操作", "K35/保守"}
    core = cat.groups["K35.8/47.0901"]
    assert core.kind == "core" and core.cases == 16
    assert cat.groups["K35/操作"].kind == "comprehensive"
    # score = group mean / overall mean × 1000, in centi-scores
    mean_all = (16 * 20_000 + 5 * 30_000 + 4 * 10_000) / 25
    assert core.score_c == round(20_000 / mean_all * 1000 * 100)
    with_or = dip_catalogue(_dip_history(), min_cases=15, or_procedures=frozenset({"47.0100"}))
    assert "K35/手术" in with_or.groups


def test_dip_assign_and_deviation_formulas() -> None:
    cat = dip_catalogue(_dip_history(), min_cases=15)
    new = pl.DataFrame(
        [("n1", "H1", "3", "2025-03", "K35.800x001", "47.0901", 20_000),
         ("n2", "H1", "3", "2025-03", "K35.800x001", "47.0901", 60_000),   # 300%: high
         ("n3", "H1", "3", "2025-03", "K35.800x001", "47.0901", 8_000),    # 40%: low
         ("n4", "H1", "3", "2025-03", "K35.800x001", "47.0901", 40_000),   # exactly 200%: not high
         ("n5", "H2", "2", "2025-03", "K35.100", "54.1100", 30_000),       # comprehensive
         ("n6", "H2", "2", "2025-03", "A00.000", "", 30_000)],             # blank
        schema=["case_id", "fixmedins_code", "hosp_lv", "month", "principal", "procedures", "total_fen"], orient="row",
    )  # fmt: skip
    assigned = dip_assign(new, cat)
    assert assigned.get_column("dip_kind").to_list() == ["core"] * 4 + ["comprehensive", "blank"]
    priced = {c.case_id: c for c in dip_price(assigned, cat)}
    s = cat.groups["K35.8/47.0901"].score_c
    assert (priced["n1"].kind, priced["n1"].points_c) == ("normal", s)
    assert (priced["n2"].kind, priced["n2"].points_c) == ("high", 2 * s)  # score × ((3 − 2) + 1)
    assert (priced["n3"].kind, priced["n3"].points_c) == ("low", round(s * 0.4))
    assert priced["n4"].kind == "normal"
    assert priced["n6"].kind == "unpriced"
    year = clear_year(list(priced.values()), 1_000_000)
    assert sum(h.final_fen for h in year.hospitals) == 1_000_000
