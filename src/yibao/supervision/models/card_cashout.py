"""M-CASHOUT 空刷 / 套刷: many cards swiped at one pharmacy within minutes for the same basket.

At a pharmacy, swipes of the same basket (the same items in the same quantities, hence the same
amount) follow each other within ``CHAIN_MINUTES`` (10) minutes. A chain of such swipes by
``MIN_CARDS`` (5) or more different cards — ``MIN_CARDS_NIGHT`` (3) between 22:00 and 06:00, the night
window of the 夜间结算占比 indicator — is a burst of collected cards (聚集刷卡), unless the pharmacy sells
that basket so often that such a chain is ordinary: the chain must also exceed what the pharmacy's own
rate of that basket predicts for its duration (Poisson mean μ; more than μ + 3√μ + 1 cards).

Elderly patients stocking up on chronic drugs (different drugs, different quantities) and a shift
worker buying alone at night are not chains.

Before::

    P31  23:41:05  P12  连花清瘟 ×2, 阿莫西林 ×2, 布洛芬 ×1  ¥103.70
    P31  23:42:31  P40  the same basket                    ¥103.70
    … 14 more within 25 minutes

After::

    M-CASHOUT  one finding per swipe, vola_amt = the swipe's amount

>>> MODEL.id, MIN_CARDS, MIN_CARDS_NIGHT, CHAIN_MINUTES
('M-CASHOUT', 5, 3, 10)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import math

import duckdb
import polars as pl

from yibao.supervision.models._common import (
    PHARMACY_MED_TYPES,
    Model,
    Staged,
    encounter_summary,
    evidence_json,
    fetch,
    findings,
    seconds_between,
    sql_list,
    yuan,
)

CHAIN_MINUTES = 10
MIN_CARDS = 5
MIN_CARDS_NIGHT = 3
NIGHT = (22, 6)
"""22:00–06:00 (夜间结算占比, supervision.md §4.2)."""
OPEN_MINUTES_PER_DAY = 14 * 60
"""Minutes a pharmacy sells per day, for the basket's rate (a conservative, long day)."""


def _chains(summary: str) -> str:
    """Pharmacy swipes in chains of the same bill at one pharmacy, each within CHAIN_MINUTES of the last."""
    pharmacy = sql_list(PHARMACY_MED_TYPES)
    gap = seconds_between("prev_t", "t")
    same = "fixmedins_code, bill, amt, lines"
    return f"""
WITH swipes AS (
    SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime AS t, m.atddr_no, e.amt, e.lines, e.bill
    FROM mdtrt_d m JOIN {summary} e ON e.mdtrt_id = m.mdtrt_id
    WHERE m.med_type IN {pharmacy}
       OR m.fixmedins_code IN (SELECT fixmedins_code FROM fixmedins_b WHERE fixmedins_type = '2')
),
b AS (
    SELECT s.*,
           COUNT(*) OVER (PARTITION BY {same}) AS basket_sales,
           LAG(t) OVER (PARTITION BY {same} ORDER BY t, mdtrt_id) AS prev_t
    FROM swipes s
),
chained AS (
    SELECT b.*,
           SUM(CASE WHEN prev_t IS NULL OR {gap} > {CHAIN_MINUTES * 60} THEN 1 ELSE 0 END)
               OVER (PARTITION BY {same} ORDER BY t, mdtrt_id ROWS UNBOUNDED PRECEDING) AS chain
    FROM b
),
chains AS (
    SELECT {same}, chain, COUNT(DISTINCT psn_no) AS cards, MIN(t) AS t0, MAX(t) AS t1, MAX(basket_sales) AS basket_sales,
           SUM(CASE WHEN EXTRACT(HOUR FROM t) >= {NIGHT[0]} OR EXTRACT(HOUR FROM t) < {NIGHT[1]} THEN 1 ELSE 0 END) AS night,
           COUNT(*) AS swipes
    FROM chained GROUP BY {same}, chain
    HAVING COUNT(DISTINCT psn_no) >= {MIN_CARDS_NIGHT}
),
days AS (
    SELECT fixmedins_code, COUNT(DISTINCT CAST(t AS DATE)) AS open_days FROM swipes GROUP BY fixmedins_code
)
SELECT c.mdtrt_id, c.psn_no, c.fixmedins_code, c.t, c.atddr_no, c.amt, c.lines,
       h.cards, h.swipes, h.t0, h.t1, h.night, h.basket_sales, d.open_days
FROM chained c
JOIN chains h ON h.fixmedins_code = c.fixmedins_code AND h.bill = c.bill AND h.amt = c.amt AND h.lines = c.lines
             AND h.chain = c.chain
JOIN days d ON d.fixmedins_code = c.fixmedins_code
"""


def _baskets(members: str) -> str:
    return f"""
SELECT f.mdtrt_id, f.med_list_codg, f.cnt FROM fee_list_d f
WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM {members})
ORDER BY f.mdtrt_id, f.med_list_codg, f.cnt
"""


def _units(cnt: int) -> str:
    whole, frac = divmod(int(cnt), 10_000)
    return str(whole) if frac == 0 else f"{whole}.{frac:04d}".rstrip("0")


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    with Staged(con, "cashout") as st:
        chains = st.table("chains", _chains(encounter_summary(con)))
        swipes = fetch(con, f"SELECT * FROM {chains}")
        baskets: dict[str, list[str]] = {}
        for mid, code, cnt in fetch(con, _baskets(chains)).iter_rows():
            baskets.setdefault(mid, []).append(f"{code}×{_units(cnt)}")
    rows: list[dict[str, object]] = []
    for s in swipes.sort("fixmedins_code", "t", "mdtrt_id").iter_rows(named=True):
        cards = int(s["cards"])
        night = int(s["night"]) == int(s["swipes"])  # the whole chain at night
        if cards < (MIN_CARDS_NIGHT if night else MIN_CARDS):
            continue
        span = (s["t1"] - s["t0"]).total_seconds() / 60 + CHAIN_MINUTES
        rate = s["basket_sales"] / (max(int(s["open_days"]), 1) * OPEN_MINUTES_PER_DAY)
        mu = rate * span
        if cards <= mu + 3 * math.sqrt(mu) + 1:
            continue
        basket = baskets.get(s["mdtrt_id"], [])
        raw = (
            1.0
            + (cards - MIN_CARDS_NIGHT) * 0.15
            + (0.75 if night else 0.0)
            + (0.25 if s["lines"] > 1 else 0.0)
        )
        sentence = (
            f"{s['fixmedins_code']}于{s['t0']:%Y-%m-%d %H:%M}至{s['t1']:%H:%M}间连续为{cards}张不同医保卡结算相同药品组合"
            f"（{s['lines']}种）、相同金额{yuan(int(s['amt']))}"
            + ("，且均在夜间22:00至06:00" if night else "")
            + f"；本笔为参保人{s['psn_no']}{s['t']:%H:%M:%S}刷卡，疑似空刷套现"
        )
        ev = {
            "chain": {"from": s["t0"], "to": s["t1"], "cards": cards, "night": night},
            "basket": basket, "amount_fen": s["amt"],
            "expected_cards": round(mu, 3), "basket_sales_at_pharmacy": s["basket_sales"],
        }  # fmt: skip
        rows.append(
            {"mdtrt_id": s["mdtrt_id"], "psn_no": s["psn_no"], "fixmedins_code": s["fixmedins_code"],
             "doctor": s["atddr_no"], "vola_amt": int(s["amt"]), "vola_cont": sentence,
             "evidence": evidence_json(ev), "score": raw / (1.0 + raw)}
        )  # fmt: skip
    return findings(MODEL, rows)


MODEL = Model(
    id="M-CASHOUT",
    name="药店空刷套现（聚集刷卡）",
    pattern="card_cashout",
    needs={
        "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "atddr_no"),
        "fee_list_d": ("mdtrt_id", "med_list_codg", "med_chrgitm_type", "cnt", "det_item_fee_sumamt"),
        "fixmedins_b": ("fixmedins_code", "fixmedins_type"),
    },
    run=run,
    basis="《医疗保障基金使用监督管理条例》第三十八条、第四十一条（医保电子凭证套现）",
)
