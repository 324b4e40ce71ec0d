"""DRG and DIP payment: weights, points, the point value, outliers, 特例单议, statements and clearing.

Money is integer fen and every rounding is :func:`yibao.money.round_div` (half-up to the unit).
Points are integer **centi-points** (0.01 point): a DRG's base points are RW × 100, so a relative
weight kept to 4 decimals (``rw_e4`` = RW × 10 000) *is* its base in centi-points.

**Case table** (a polars DataFrame; more columns are kept):

============== ======== ===========================================================================
column         type     meaning
============== ======== ===========================================================================
case_id        str      the case
fixmedins_code str      the hospital (定点医药机构编号)
hosp_lv        str      its level, for the level coefficient ("3", "2", "1" …)
month          str      settlement month ``YYYY-MM``
drg            str      the DRG (``GD25``; ``0000`` / ``GQY`` are unpriced) — or, for DIP, ``dip_group``
total_fen      int      the case's total cost in fen (医疗费总额)
============== ======== ===========================================================================

**Weights** (:func:`weights_from_history`): per group the trimmed mean cost over the trimmed mean
of all cases. Trimming (:class:`Trim`) drops, inside each group, the cases outside mean ± k·sd
(default k = 3, population sd, decided in exact integer arithmetic) or outside two percentiles; the
overall mean is that of all kept cases. Or give the weights as a table (:func:`weights_from_table`).

**Points** (点数法, :func:`price_cases`), with coefficient c of the hospital (by code, else by level,
else 1), group mean m, cost x, base b = RW × 100, and thresholds as :class:`PaymentParams`:

- normal: b × c;
- 高倍率 (x ≥ high × m, default 2): b × c + (x / m − high) × b  (benefits.md §8.4);
- 低倍率 (x ≤ low × m, default 0.4): b × x / m;
- unpriced (0000, QY, a DRG without weight): 0, and first in the 特例单议 queue.

**Point value** = (budget − 调剂金) ÷ total points; a hospital's amount is its points × point value,
allocated by cumulative rounding (each running total rounded with ``round_div``, amounts taken as
differences), so the amounts add up to the budget **to the fen**. **费率法** is the same arithmetic
with the rate = budget ÷ Σ RW (fen per 1.0 RW) fixed in advance (:func:`settle_with_rate`).

**特例单议** (:func:`review_queue`): per hospital at most ``review_share`` (default 5%) of its cases,
unpriced cases first, then 高倍率 cases by cost ratio; each entry records its outcome
(:func:`decide`); approved cases are paid by item (cost converted at the overall mean:
x / overall mean × 100 points) or by the points the reviewers set; rejected and pending keep the
formula points.

**Per hospital and month** (:func:`monthly_statements`): cases, groups, points, outliers and the
provisional amount (the year's budget net of 调剂金 in twelve equal monthly parts, each shared by the
month's points); **预付金** (:func:`prepayments`) about one month's payment; **year-end clearing**
(:func:`clear_year`): the final amount by the year's points and point value, less what the months paid
and the prepayment — the balance is paid (positive) or recovered (negative).

**DIP** (:func:`dip_catalogue`, :func:`dip_assign`, :func:`dip_price`): core groups (核心病种) are the
combinations principal diagnosis 亚目 (first 5 characters) × the set of procedure codes with at least
``min_cases`` cases (default 15) in the history; the rest fall into comprehensive groups (综合病种) by
diagnosis 类目 (first 3 characters) × treatment (保守 none / 操作 a procedure / 手术 an operating-room
procedure when the OR list is given). Scores = group mean ÷ overall mean × ``scale`` (default 1000),
in centi-scores; deviation cases: below 50% of the group mean score × x / m, above 200%
score × ((x / m − 2) + 1). The same point value, statements and clearing apply.

>>> allocate(100, [("a", 1), ("b", 1), ("c", 1)])
{'a': 33, 'b': 34, 'c': 33}
>>> Trim.sd(3).describe()
'mean ± 3 sd within each group'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from types import MappingProxyType
from typing import Any, NamedTuple

import polars as pl

from yibao.money import Fen, Ratio, parse_scaled, round_div

__all__ = [
    "CASE_COLUMNS",
    "UNPRICED",
    "Clearing",
    "DipCatalogue",
    "DipGroup",
    "PaymentError",
    "PaymentParams",
    "PricedCase",
    "Review",
    "ReviewQueue",
    "Statement",
    "Trim",
    "Weight",
    "WeightTable",
    "YearClearing",
    "allocate",
    "apply_reviews",
    "clear_year",
    "decide",
    "dip_assign",
    "dip_catalogue",
    "dip_price",
    "monthly_statements",
    "prepayments",
    "price_cases",
    "rate_from_budget",
    "review_queue",
    "settle_with_rate",
    "summary",
    "to_frame",
    "weights_from_history",
    "weights_from_table",
]

CASE_COLUMNS = ("case_id", "fixmedins_code", "hosp_lv", "month", "drg", "total_fen")
UNPRICED = ("0000",)
RW_SCALE = 10_000  # rw_e4: relative weight × 10 000 = base centi-points
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class PaymentError(ValueError):
    """Input that cannot be paid with certainty; names the case and the column."""


# ---------------------------------------------------------------------------------------------
# Exact allocation
# ---------------------------------------------------------------------------------------------


def allocate(total: int, shares: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Split ``total`` fen in proportion to integer ``shares``, summing to ``total`` exactly.

    Running totals ``round_div(total × cumulative share, Σ shares)`` are rounded by the one rule and
    each amount is the difference of two of them, so no fen is lost or created and each amount is
    within one fen of its exact share. Keys keep the given order; all-zero shares give all zero.
    """
    whole = sum(s for _, s in shares)
    if any(s < 0 for _, s in shares):
        raise PaymentError("allocation shares must not be negative")
    out: dict[str, int] = {}
    if whole == 0:
        return {k: 0 for k, _ in shares}
    cum = 0
    prev = 0
    for k, s in shares:
        cum += s
        now = round_div(total * cum, whole)
        out[k] = out.get(k, 0) + now - prev
        prev = now
    return out


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trim:
    """How outlier cases are left out of the means that make the weights."""

    method: str = "sd"  # "sd", "percentile" or "none"
    k: Ratio = field(default_factory=lambda: Ratio.of(3))
    low_pct: int = 0
    high_pct: int = 100

    @staticmethod
    def sd(k: object = 3) -> Trim:
        return Trim("sd", Ratio.of(k))

    @staticmethod
    def percentiles(low: int = 5, high: int = 95) -> Trim:
        if not 0 <= low < high <= 100:
            raise PaymentError("percentiles need 0 ≤ low < high ≤ 100")
        return Trim("percentile", Ratio.of(0), low, high)

    @staticmethod
    def none() -> Trim:
        return Trim("none")

    def describe(self) -> str:
        if self.method == "sd":
            return f"mean ± {self.k.decimal().normalize()} sd within each group"
        if self.method == "percentile":
            return f"cases between the {self.low_pct}th and {self.high_pct}th percentile within each group"
        return "no trimming"

    def keep(self, costs: Sequence[int]) -> list[int]:
        """The costs of one group that stay in its mean."""
        n = len(costs)
        if self.method == "none" or n < 3:
            return list(costs)
        if self.method == "sd":
            s = sum(costs)
            q = sum(x * x for x in costs)
            spread = n * q - s * s  # n² · variance
            num, den = self.k.num, self.k.den
            return [x for x in costs if (n * x - s) ** 2 * den * den <= num * num * spread]
        if self.method == "percentile":
            ordered = sorted(costs)
            lo = ordered[max(0, -(-self.low_pct * n // 100) - 1)] if self.low_pct else ordered[0]
            hi = ordered[min(n - 1, -(-self.high_pct * n // 100) - 1)]
            return [x for x in costs if lo <= x <= hi]
        raise PaymentError(f"unknown trim method {self.method!r}")


@dataclass(frozen=True)
class PaymentParams:
    """Policy parameters of a payment year (dated, with their reference).

    Attributes:
        high_ratio: 高倍率 threshold: cost ≥ this × group mean (default 2).
        low_ratio: 低倍率 threshold: cost ≤ this × group mean (default 0.4).
        review_share: 特例单议 at most this share of a hospital's cases (default 5%).
        reserve_share: 调剂金 kept back from the budget before the point value (default 0).
        dip_high_ratio, dip_low_ratio: DIP deviation bounds: above 200% / below 50% of the group mean.
        coefficients: hospital coefficient by fixmedins_code, or by hosp_lv (code first); default 1.
        effective_from: first day these values apply; reference: the policy document (文号).
    """

    high_ratio: Ratio = field(default_factory=lambda: Ratio.of(2))
    low_ratio: Ratio = field(default_factory=lambda: Ratio.of("0.4"))
    review_share: Ratio = field(default_factory=lambda: Ratio.of("0.05"))
    reserve_share: Ratio = field(default_factory=lambda: Ratio.of(0))
    dip_high_ratio: Ratio = field(default_factory=lambda: Ratio.of(2))
    dip_low_ratio: Ratio = field(default_factory=lambda: Ratio.of("0.5"))
    coefficients: Mapping[str, Ratio] = field(default_factory=lambda: MappingProxyType({}))
    effective_from: date | None = None
    reference: str = "yibao defaults (benefits.md §8.4)"

    def coefficient(self, fixmedins_code: str, hosp_lv: str) -> Ratio:
        c = self.coefficients.get(fixmedins_code)
        if c is None:
            c = self.coefficients.get(hosp_lv)
        return c if c is not None else Ratio(1, 1)


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------


class Weight(NamedTuple):
    group: str  # DRG code (or DIP group key)
    rw_e4: int  # relative weight × 10 000 (= base centi-points; for DIP the score in centi-scores)
    mean_fen: int | None  # the group's (trimmed) mean cost; None when not known (outliers not tested)
    cases: int  # cases kept in the mean
    trimmed: int  # cases left out as outliers


@dataclass(frozen=True)
class WeightTable:
    weights: Mapping[str, Weight]
    overall_mean_fen: int  # mean cost of all kept cases (for by-item conversion)
    trim: str
    cases: int
    trimmed: int

    def rw(self, group: str) -> str:
        """The relative weight of ``group`` as decimal text ("1.2345"), "" when it has none."""
        w = self.weights.get(group)
        return "" if w is None else _e4(w.rw_e4)


def _e4(v: int) -> str:
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // RW_SCALE}.{v % RW_SCALE:04d}"


def _check_cases(df: pl.DataFrame, group_col: str, need: Iterable[str]) -> None:
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise PaymentError(f"the case table lacks the columns {missing} (needs {list(need)})")
    if df.height == 0:
        return
    if df.get_column("total_fen").null_count():
        bad = df.filter(pl.col("total_fen").is_null()).get_column("case_id").head(3).to_list()
        raise PaymentError(f"total_fen is missing for cases {bad}")
    if not df.get_column("total_fen").dtype.is_integer():
        raise PaymentError("total_fen must be integer fen (not float, not yuan)")
    neg = df.filter(pl.col("total_fen") < 0)
    if neg.height:
        raise PaymentError(f"total_fen is negative for cases {neg.get_column('case_id').head(3).to_list()}")


def _group_costs(df: pl.DataFrame, group_col: str, exclude: Iterable[str]) -> dict[str, list[int]]:
    skip = set(exclude)
    out: dict[str, list[int]] = {}
    for g, x in zip(df.get_column(group_col).to_list(), df.get_column("total_fen").to_list(), strict=True):
        if g is None or g in skip or str(g).endswith("QY"):
            continue
        out.setdefault(str(g), []).append(int(x))
    return out


def _weights(costs: Mapping[str, Sequence[int]], trim: Trim, scale: int, min_cases: int) -> WeightTable:
    kept = {g: trim.keep(v) for g, v in costs.items() if len(v) >= min_cases}
    total = sum(sum(v) for v in kept.values())
    n = sum(len(v) for v in kept.values())
    if n == 0 or total == 0:
        raise PaymentError("no priced cases with a cost to make weights from")
    ws: dict[str, Weight] = {}
    for g in sorted(kept):
        v = kept[g]
        sg = sum(v)
        ws[g] = Weight(
            g,
            round_div(sg * n * scale, len(v) * total),
            round_div(sg, len(v)),
            len(v),
            len(costs[g]) - len(v),
        )
    trimmed = sum(w.trimmed for w in ws.values())
    return WeightTable(MappingProxyType(ws), round_div(total, n), trim.describe(), n, trimmed)


def weights_from_history(
    df: pl.DataFrame, *, trim: Trim | None = None, min_cases: int = 1, group_col: str = "drg"
) -> WeightTable:
    """Relative weights from a case table's own history (see the module docstring)."""
    _check_cases(df, group_col, ("case_id", group_col, "total_fen"))
    return _weights(_group_costs(df, group_col, UNPRICED), trim or Trim.sd(3), RW_SCALE, min_cases)


def weights_from_table(df: pl.DataFrame, *, overall_mean_fen: int | None = None) -> WeightTable:
    """Weights given as a table: columns ``drg``, ``rw`` (decimal text, up to 4 places) and optionally
    ``mean_fen`` (the group's standard cost, for the outlier tests) and ``cases``."""
    if "drg" not in df.columns or "rw" not in df.columns:
        raise PaymentError("a weights table needs the columns drg and rw")
    ws: dict[str, Weight] = {}
    rows = df.to_dicts()
    for r in rows:
        g = str(r["drg"]).strip()
        try:
            rw = parse_scaled(str(r["rw"]), 4, f"rw of {g}")
        except ValueError as e:
            raise PaymentError(str(e)) from None
        mean = r.get("mean_fen")
        ws[g] = Weight(g, rw, int(mean) if mean is not None else None, int(r.get("cases") or 0), 0)
    if overall_mean_fen is None:
        pairs = [(w.mean_fen, w.rw_e4) for w in ws.values() if w.mean_fen is not None and w.rw_e4 > 0]
        overall_mean_fen = (
            round_div(sum(m for m, _ in pairs) * RW_SCALE, sum(r for _, r in pairs)) if pairs else 0
        )
    return WeightTable(MappingProxyType(ws), overall_mean_fen, "given", sum(w.cases for w in ws.values()), 0)


# ---------------------------------------------------------------------------------------------
# Pricing cases
# ---------------------------------------------------------------------------------------------


class PricedCase(NamedTuple):
    case_id: str
    fixmedins_code: str
    hosp_lv: str
    month: str
    group: str
    total_fen: int
    rw_e4: int
    coefficient: str
    kind: str  # normal, high, low, unpriced
    points_c: int  # formula points in centi-points
    by_item_c: int  # the cost converted at the overall mean (paid after an approved review)
    cost_ratio_e4: int  # cost ÷ group mean × 10 000 (0 when the group mean is unknown)


def _points(w: Weight | None, x: int, c: Ratio, p: PaymentParams, *, dip: bool = False) -> tuple[str, int]:
    if w is None or w.rw_e4 <= 0:
        return "unpriced", 0
    b = w.rw_e4
    m = w.mean_fen
    if m:
        hi, lo = (p.dip_high_ratio, p.dip_low_ratio) if dip else (p.high_ratio, p.low_ratio)
        high = x * hi.den > hi.num * m if dip else x * hi.den >= hi.num * m
        low = x * lo.den < lo.num * m if dip else x * lo.den <= lo.num * m
        if high:
            if dip:  # score × ((x/m − 2) + 1)
                return "high", round_div(b * (x - m), m)
            # b·c + (x/m − k)·b, one rounding
            num = b * c.num * m * hi.den + (x * hi.den - hi.num * m) * b * c.den
            return "high", round_div(num, c.den * m * hi.den)
        if low:
            return "low", round_div(b * x, m)
    return "normal", round_div(b * c.num, c.den)


def price_cases(
    df: pl.DataFrame, weights: WeightTable, params: PaymentParams | None = None, *, group_col: str = "drg"
) -> list[PricedCase]:
    """Points of every case (点数法 formulas of the module docstring)."""
    p = params or PaymentParams()
    return _price(df, weights, p, group_col, dip=False)


def _price(
    df: pl.DataFrame, weights: WeightTable, p: PaymentParams, group_col: str, *, dip: bool
) -> list[PricedCase]:
    _check_cases(df, group_col, (*CASE_COLUMNS[:4], group_col, "total_fen"))
    months = df.get_column("month").to_list()
    for cid, mo in zip(df.get_column("case_id").to_list(), months, strict=True):
        if mo is None or not _MONTH.match(str(mo)):
            raise PaymentError(f"case {cid}: month {mo!r} is not YYYY-MM")
    mean_all = weights.overall_mean_fen
    out: list[PricedCase] = []
    ws = weights.weights
    cols = [
        df.get_column(c).to_list()
        for c in ("case_id", "fixmedins_code", "hosp_lv", "month", group_col, "total_fen")
    ]
    for cid, h, lv, mo, g, x in zip(*cols, strict=True):
        h, lv, g = str(h), str(lv if lv is not None else ""), str(g if g is not None else "")
        c = p.coefficient(h, lv)
        w = ws.get(g)
        kind, pts = _points(w, int(x), c, p, dip=dip)
        by_item = round_div(int(x) * RW_SCALE, mean_all) if mean_all else 0
        ratio = round_div(int(x) * RW_SCALE, w.mean_fen) if w is not None and w.mean_fen else 0
        out.append(
            PricedCase(
                str(cid), h, lv, str(mo), g, int(x), w.rw_e4 if w else 0, str(c), kind, pts, by_item, ratio
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# 特例单议
# ---------------------------------------------------------------------------------------------


class Review(NamedTuple):
    case_id: str
    fixmedins_code: str
    reason: str  # "unpriced" or "high"
    total_fen: int
    formula_points_c: int
    outcome: str = "pending"  # pending, approved, rejected
    points_c: int | None = None  # points set by the reviewers (None: by item when approved)
    note: str = ""


@dataclass(frozen=True)
class ReviewQueue:
    entries: tuple[Review, ...]
    share: Ratio
    capacity: Mapping[str, int]  # per hospital: floor(share × its cases)
    left_out: int  # candidates that did not fit under the cap

    def get(self, case_id: str) -> Review | None:
        return next((r for r in self.entries if r.case_id == case_id), None)


def review_queue(priced: Sequence[PricedCase], params: PaymentParams | None = None) -> ReviewQueue:
    """The 特例单议 queue: per hospital at most ``review_share`` of its cases (rounded down)."""
    p = params or PaymentParams()
    by_h: dict[str, list[PricedCase]] = {}
    for c in priced:
        by_h.setdefault(c.fixmedins_code, []).append(c)
    entries: list[Review] = []
    capacity: dict[str, int] = {}
    left = 0
    for h in sorted(by_h):
        cases = by_h[h]
        cap = len(cases) * p.review_share.num // p.review_share.den
        capacity[h] = cap
        cands = [c for c in cases if c.kind in ("unpriced", "high")]
        cands.sort(key=lambda c: (c.kind != "unpriced", -c.cost_ratio_e4, c.case_id))
        take = cands[:cap]
        left += len(cands) - len(take)
        entries.extend(Review(c.case_id, h, c.kind, c.total_fen, c.points_c) for c in take)
    return ReviewQueue(tuple(entries), p.review_share, MappingProxyType(capacity), left)


def decide(
    queue: ReviewQueue, case_id: str, *, approve: bool, points_c: int | None = None, note: str = ""
) -> ReviewQueue:
    """Record the experts' outcome for one queued case; returns the new queue."""
    if queue.get(case_id) is None:
        raise PaymentError(f"case {case_id} is not in the 特例单议 queue")
    if points_c is not None and points_c < 0:
        raise PaymentError("reviewed points must not be negative")
    new = tuple(
        r._replace(outcome="approved" if approve else "rejected", points_c=points_c if approve else None, note=note)
        if r.case_id == case_id else r
        for r in queue.entries
    )  # fmt: skip
    return ReviewQueue(new, queue.share, queue.capacity, queue.left_out)


def apply_reviews(priced: Sequence[PricedCase], queue: ReviewQueue) -> list[PricedCase]:
    """Final points: approved reviews paid by item (or as set), everything else by formula."""
    decided = {r.case_id: r for r in queue.entries if r.outcome == "approved"}
    out = []
    for c in priced:
        r = decided.get(c.case_id)
        if r is None:
            out.append(c)
        else:
            pts = r.points_c if r.points_c is not None else c.by_item_c
            out.append(c._replace(points_c=pts, kind=f"{c.kind}+reviewed"))
    return out


# ---------------------------------------------------------------------------------------------
# Statements, prepayment, clearing
# ---------------------------------------------------------------------------------------------


class Statement(NamedTuple):
    fixmedins_code: str
    month: str
    cases: int
    groups: int
    points_c: int
    high: int
    low: int
    unpriced: int
    reviewed: int
    amount_fen: Fen  # provisional amount for the month

    @property
    def points(self) -> str:
        return f"{self.points_c // 100}.{self.points_c % 100:02d}"


def _net_budget(budget_fen: int, p: PaymentParams) -> int:
    if budget_fen < 0:
        raise PaymentError("the budget must not be negative")
    return budget_fen - round_div(budget_fen * p.reserve_share.num, p.reserve_share.den)


def monthly_statements(
    priced: Sequence[PricedCase], budget_fen: int, params: PaymentParams | None = None
) -> list[Statement]:
    """Per hospital and month: cases, groups, points, outliers and the provisional amount.

    The net budget is cut into twelve equal monthly parts (exactly, by :func:`allocate`); each
    month's part is shared among the hospitals by that month's points.
    """
    p = params or PaymentParams()
    net = _net_budget(budget_fen, p)
    parts = allocate(net, [(f"{m:02d}", 1) for m in range(1, 13)])
    cells: dict[tuple[str, str], list[PricedCase]] = {}
    for c in priced:
        cells.setdefault((c.month, c.fixmedins_code), []).append(c)
    out: list[Statement] = []
    for month in sorted({m for m, _ in cells}):
        keys = sorted(h for m, h in cells if m == month)
        pts = [(h, sum(c.points_c for c in cells[(month, h)])) for h in keys]
        money = allocate(parts[month[5:7]], pts)
        for h in keys:
            cs = cells[(month, h)]
            out.append(Statement(
                h, month, len(cs), len({c.group for c in cs}), dict(pts)[h],
                sum(1 for c in cs if c.kind.startswith("high")), sum(1 for c in cs if c.kind.startswith("low")),
                sum(1 for c in cs if c.kind.startswith("unpriced")), sum(1 for c in cs if c.kind.endswith("+reviewed")),
                money[h],
            ))  # fmt: skip
    return out


def prepayments(statements: Sequence[Statement], *, months: int = 1) -> dict[str, Fen]:
    """预付金: about ``months`` month(s) of payment per hospital — its average monthly amount."""
    by_h: dict[str, list[int]] = {}
    for s in statements:
        by_h.setdefault(s.fixmedins_code, []).append(s.amount_fen)
    return {h: round_div(sum(v) * months, len(v)) for h, v in sorted(by_h.items())}


class Clearing(NamedTuple):
    fixmedins_code: str
    points_c: int
    final_fen: Fen  # the year's amount: points × point value (Σ over hospitals = net budget)
    monthly_paid_fen: Fen
    prepaid_fen: Fen
    balance_fen: Fen  # final − monthly − prepaid: paid to (+) or recovered from (−) the hospital


@dataclass(frozen=True)
class YearClearing:
    hospitals: tuple[Clearing, ...]
    budget_fen: int
    reserve_fen: int
    total_points_c: int
    point_value: Fraction  # fen per centi-point (exact)

    def point_value_yuan(self, places: int = 6) -> str:
        """The point value in yuan per point, rounded for display."""
        v = self.point_value  # fen per centi-point is the same number as yuan per point
        scaled = round_div(v.numerator * 10**places, v.denominator)
        return f"{scaled // 10**places}.{scaled % 10**places:0{places}d}"


def clear_year(
    priced: Sequence[PricedCase],
    budget_fen: int,
    statements: Sequence[Statement] = (),
    prepaid: Mapping[str, Fen] | None = None,
    params: PaymentParams | None = None,
) -> YearClearing:
    """Year-end clearing against the budget (点数法)."""
    p = params or PaymentParams()
    net = _net_budget(budget_fen, p)
    pts: dict[str, int] = {}
    for c in priced:
        pts[c.fixmedins_code] = pts.get(c.fixmedins_code, 0) + c.points_c
    hospitals = sorted(set(pts) | {s.fixmedins_code for s in statements} | set(prepaid or {}))
    final = allocate(net, [(h, pts.get(h, 0)) for h in hospitals])
    monthly: dict[str, int] = {}
    for s in statements:
        monthly[s.fixmedins_code] = monthly.get(s.fixmedins_code, 0) + s.amount_fen
    pre = dict(prepaid or {})
    rows = tuple(
        Clearing(h, pts.get(h, 0), final[h], monthly.get(h, 0), pre.get(h, 0), final[h] - monthly.get(h, 0) - pre.get(h, 0))
        for h in hospitals
    )  # fmt: skip
    total = sum(pts.values())
    pv = Fraction(net, total) if total else Fraction(0)
    return YearClearing(rows, budget_fen, budget_fen - net, total, pv)


def settle_with_rate(priced: Sequence[PricedCase], rate_fen_per_rw: Ratio) -> dict[str, Fen]:
    """费率法 with a rate fixed in advance: per hospital Σ RW × rate (one rounding per hospital).

    With the rate = budget ÷ Σ RW of the same cases this equals the point method's amounts within a
    fen per hospital; with a prospective rate the total follows the cases, not the budget.
    """
    sums: dict[str, int] = {}
    for c in priced:
        sums[c.fixmedins_code] = sums.get(c.fixmedins_code, 0) + c.points_c
    return {
        h: round_div(s * rate_fen_per_rw.num, RW_SCALE * rate_fen_per_rw.den) for h, s in sorted(sums.items())
    }


def rate_from_budget(priced: Sequence[PricedCase], budget_fen: int) -> Ratio:
    """费率 = budget ÷ Σ RW (fen per 1.0 RW), exact."""
    total = sum(c.points_c for c in priced)
    if total == 0:
        raise PaymentError("no weighted cases to set a rate from")
    f = Fraction(budget_fen * RW_SCALE, total)
    return Ratio(f.numerator, f.denominator)


def to_frame(records: Sequence[NamedTuple]) -> pl.DataFrame:
    """Any list of the NamedTuples above as a polars DataFrame."""
    if not records:
        return pl.DataFrame()
    return pl.DataFrame([r._asdict() for r in records])


# ---------------------------------------------------------------------------------------------
# DIP
# ---------------------------------------------------------------------------------------------


class DipGroup(NamedTuple):
    key: str  # "K35.8/47.0901" (core) or "K35/手术" (comprehensive)
    kind: str  # core or comprehensive
    score_c: int  # score in centi-scores (group mean ÷ overall mean × scale × 100)
    mean_fen: int
    cases: int
    trimmed: int


@dataclass(frozen=True)
class DipCatalogue:
    groups: Mapping[str, DipGroup]
    min_cases: int
    scale: int
    overall_mean_fen: int
    or_procedures: frozenset[str] | None

    def as_weights(self) -> WeightTable:
        ws = {k: Weight(k, g.score_c, g.mean_fen, g.cases, g.trimmed) for k, g in self.groups.items()}
        n = sum(g.cases for g in self.groups.values())
        return WeightTable(
            MappingProxyType(ws),
            self.overall_mean_fen,
            "dip",
            n,
            sum(g.trimmed for g in self.groups.values()),
        )


def _dip_inputs(df: pl.DataFrame) -> tuple[list[str], list[tuple[str, ...]]]:
    if "principal" in df.columns:
        principals = [str(x or "").strip() for x in df.get_column("principal").to_list()]
    elif "diagnoses" in df.columns:
        principals = [str(x or "").split("|")[0].strip() for x in df.get_column("diagnoses").to_list()]
    else:
        raise PaymentError("DIP needs a principal (or diagnoses) column")
    procs: list[tuple[str, ...]] = []
    raw = df.get_column("procedures").to_list() if "procedures" in df.columns else [None] * df.height
    for v in raw:
        procs.append(tuple(sorted({p.strip() for p in str(v or "").split("|") if p.strip()})))
    return principals, procs


def _treatment(px: tuple[str, ...], or_px: frozenset[str] | None) -> str:
    if not px:
        return "保守"
    if or_px is not None and any(p in or_px for p in px):
        return "手术"
    return "操作"


def _dip_keys(principal: str, px: tuple[str, ...], or_px: frozenset[str] | None) -> tuple[str, str]:
    core = f"{principal[:5]}/{'+'.join(px) if px else '保守'}"
    comp = f"{principal[:3]}/{_treatment(px, or_px)}"
    return core, comp


def dip_catalogue(
    history: pl.DataFrame,
    *,
    min_cases: int = 15,
    trim: Trim | None = None,
    scale: int = 1000,
    or_procedures: frozenset[str] | None = None,
) -> DipCatalogue:
    """DIP groups and scores from a history (columns case_id, principal or diagnoses, procedures, total_fen)."""
    _check_cases(history, "case_id", ("case_id", "total_fen"))
    principals, procs = _dip_inputs(history)
    costs = [int(x) for x in history.get_column("total_fen").to_list()]
    core: dict[str, list[int]] = {}
    for pr, px, x in zip(principals, procs, costs, strict=True):
        if pr:
            core.setdefault(_dip_keys(pr, px, or_procedures)[0], []).append(x)
    keep_core = {k for k, v in core.items() if len(v) >= min_cases}
    grouped: dict[str, list[int]] = {}
    kinds: dict[str, str] = {}
    for pr, px, x in zip(principals, procs, costs, strict=True):
        if not pr:
            continue
        c, comp = _dip_keys(pr, px, or_procedures)
        key = c if c in keep_core else comp
        kinds[key] = "core" if c in keep_core else "comprehensive"
        grouped.setdefault(key, []).append(x)
    wt = _weights(grouped, trim or Trim.sd(3), scale * 100, 1)
    groups = {
        k: DipGroup(k, kinds[k], w.rw_e4, w.mean_fen or 0, w.cases, w.trimmed) for k, w in wt.weights.items()
    }
    return DipCatalogue(MappingProxyType(groups), min_cases, scale, wt.overall_mean_fen, or_procedures)


def dip_assign(df: pl.DataFrame, catalogue: DipCatalogue) -> pl.DataFrame:
    """The DIP group of each case: its core group if the catalogue has it, else its comprehensive group,
    else ``blank`` (no score; it goes to 特例单议). Adds ``dip_group`` and ``dip_kind``."""
    principals, procs = _dip_inputs(df)
    groups: list[str] = []
    kinds: list[str] = []
    for pr, px in zip(principals, procs, strict=True):
        c, comp = _dip_keys(pr, px, catalogue.or_procedures) if pr else ("", "")
        if c in catalogue.groups and catalogue.groups[c].kind == "core":
            groups.append(c)
            kinds.append("core")
        elif comp in catalogue.groups:
            groups.append(comp)
            kinds.append("comprehensive")
        else:
            groups.append("")
            kinds.append("blank")
    return df.with_columns(
        pl.Series("dip_group", groups, dtype=pl.String), pl.Series("dip_kind", kinds, dtype=pl.String)
    )


def dip_price(
    df: pl.DataFrame, catalogue: DipCatalogue, params: PaymentParams | None = None
) -> list[PricedCase]:
    """Points of DIP cases: score × coefficient; below 50% / above 200% of the group mean by the
    deviation formulas. ``df`` needs the case columns and ``dip_group`` (see :func:`dip_assign`)."""
    if "dip_group" not in df.columns:
        df = dip_assign(df, catalogue)
    return _price(df, catalogue.as_weights(), params or PaymentParams(), "dip_group", dip=True)


def summary(records: Iterable[Any]) -> dict[str, int]:
    """Counts of priced cases by kind (for reports)."""
    out: dict[str, int] = {}
    for r in records:
        out[r.kind] = out.get(r.kind, 0) + 1
    return out
