"""M-GHOST 挂床住院: days in a stay with nothing billed but the bed and nursing; wards above their beds.

A patient who is really in hospital gets something every day: a ward round, a test, a drug, a
treatment. A stay with ``MIN_EMPTY_DAYS`` (3) or more consecutive days on which only 床位费 (01) and
护理费 (07) are billed — 72 hours without any service, the criterion of the local agreements (e.g.
Liupanshui 2020) — is a bed kept for somebody who is not there. A surgical patient waiting two days for
the operation still gets ward rounds and tests, so waiting is not flagged.

Two more signals raise the score and are kept as evidence: the stay's bed is also occupied by another
patient at the same time (two persons per bed), and the hospital's census on some day exceeds its
approved beds (``fixmedins_b.bed_cnt``). A hospital whose census exceeds its beds gets its own finding
(institution level, the days and the peak occupancy).

Before::

    M1  05-02 → 05-11  05-02…05-06 bed, nursing, ward round, drugs, tests; 05-07…05-10 bed + nursing only

After::

    M-GHOST  M1  "…住院期间连续4天（05-07至05-10）仅收取床位费、护理费…"  vola_amt = those bed and nursing fees

>>> MODEL.id, MIN_EMPTY_DAYS
('M-GHOST', 3)
"""

from __future__ import annotations

import duckdb
import polars as pl

from yibao.supervision.models._common import (
    INPATIENT_MED_TYPES,
    Model,
    date_minus_days,
    evidence_json,
    fetch,
    findings,
    seconds_between,
    sql_list,
    yuan,
)

MIN_EMPTY_DAYS = 3
"""≥ 72 h without a service item (only bed and nursing billed)."""
BED_ONLY = ("01", "07")
"""med_chrgitm_type of 床位费 and 护理费."""
BED_OVERLAP_HOURS = 4
"""Two stays in one bed overlapping by more than this are two persons per bed (not a same-day turnover)."""


def _empty_runs() -> str:
    inpatient = sql_list(INPATIENT_MED_TYPES)
    bed_only = sql_list(BED_ONLY)
    island = date_minus_days("e.d", "e.rn")
    return f"""
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, begntime, endtime, adm_bed, atddr_no
    FROM mdtrt_d WHERE med_type IN {inpatient}
),
days AS (
    SELECT f.mdtrt_id, CAST(f.fee_ocur_time AS DATE) AS d,
           SUM(CASE WHEN f.med_chrgitm_type IN {bed_only} THEN 0 ELSE 1 END) AS service_lines,
           SUM(CASE WHEN f.med_chrgitm_type IN {bed_only} THEN f.det_item_fee_sumamt ELSE 0 END) AS bed_amt
    FROM fee_list_d f
    WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM stays)
    GROUP BY f.mdtrt_id, CAST(f.fee_ocur_time AS DATE)
),
empty AS (
    SELECT mdtrt_id, d, bed_amt, ROW_NUMBER() OVER (PARTITION BY mdtrt_id ORDER BY d) AS rn
    FROM days WHERE service_lines = 0 AND bed_amt > 0
),
runs AS (
    SELECT e.mdtrt_id, {island} AS island, MIN(e.d) AS first_day, MAX(e.d) AS last_day, COUNT(*) AS n_days,
           SUM(e.bed_amt) AS amt
    FROM empty e
    GROUP BY e.mdtrt_id, {island}
    HAVING COUNT(*) >= {MIN_EMPTY_DAYS}
)
SELECT s.mdtrt_id, s.psn_no, s.fixmedins_code, s.begntime, s.endtime, s.adm_bed, s.atddr_no,
       r.first_day, r.last_day, r.n_days, r.amt
FROM runs r JOIN stays s ON s.mdtrt_id = r.mdtrt_id
ORDER BY s.mdtrt_id, r.first_day
"""


def _shared_beds() -> str:
    inpatient = sql_list(INPATIENT_MED_TYPES)
    overlap = seconds_between("GREATEST(a.begntime, b.begntime)", "LEAST(a.endtime, b.endtime)")
    return f"""
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, adm_bed, begntime, endtime
    FROM mdtrt_d WHERE med_type IN {inpatient} AND adm_bed IS NOT NULL AND adm_bed <> ''
)
SELECT a.mdtrt_id, b.mdtrt_id AS other_id, b.psn_no AS other_psn, a.adm_bed, a.fixmedins_code
FROM stays a JOIN stays b
  ON a.fixmedins_code = b.fixmedins_code AND a.adm_bed = b.adm_bed AND a.mdtrt_id <> b.mdtrt_id
 AND a.psn_no <> b.psn_no AND a.begntime < b.endtime AND b.begntime < a.endtime
WHERE {overlap} > {BED_OVERLAP_HOURS * 3600}
"""


def _census() -> str:
    """Occupied beds per hospital and day (admission day counts, discharge day does not) over bed_cnt."""
    inpatient = sql_list(INPATIENT_MED_TYPES)
    return f"""
WITH stays AS (
    SELECT fixmedins_code, CAST(begntime AS DATE) AS a, CAST(endtime AS DATE) AS b
    FROM mdtrt_d WHERE med_type IN {inpatient} AND endtime > begntime
),
events AS (
    SELECT fixmedins_code, a AS d, 1 AS delta FROM stays
    UNION ALL SELECT fixmedins_code, b AS d, -1 AS delta FROM stays WHERE b > a
),
daily AS (
    SELECT fixmedins_code, d, SUM(delta) AS delta FROM events GROUP BY fixmedins_code, d
),
census AS (
    SELECT fixmedins_code, d,
           SUM(delta) OVER (PARTITION BY fixmedins_code ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS occupied
    FROM daily
)
SELECT c.fixmedins_code, c.d, c.occupied, i.bed_cnt
FROM census c JOIN fixmedins_b i ON i.fixmedins_code = c.fixmedins_code
WHERE i.bed_cnt > 0 AND c.occupied > i.bed_cnt
ORDER BY c.fixmedins_code, c.d
"""


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    runs = fetch(con, _empty_runs())
    shared = fetch(con, _shared_beds())
    over = fetch(con, _census())
    over_days: dict[str, list[tuple[object, int, int]]] = {}
    for code, d, occ, beds in over.iter_rows():
        over_days.setdefault(code, []).append((d, int(occ), int(beds)))
    partners: dict[str, list[dict[str, str]]] = {}
    for mid, other, other_psn, bed, _ in shared.iter_rows():
        partners.setdefault(mid, []).append({"mdtrt_id": other, "psn_no": other_psn, "bed": bed})
    rows: list[dict[str, object]] = []
    by_stay: dict[str, list[dict[str, object]]] = {}
    for r in runs.iter_rows(named=True):
        by_stay.setdefault(r["mdtrt_id"], []).append(r)
    for mid, parts in by_stay.items():
        s = parts[0]
        n_days = sum(int(p["n_days"]) for p in parts)
        amt = sum(int(p["amt"]) for p in parts)
        beds = partners.get(mid, [])
        crowded = [
            (d, occ, cap) for d, occ, cap in over_days.get(s["fixmedins_code"], [])
            if s["begntime"].date() <= d <= s["endtime"].date()  # type: ignore[operator]
        ]  # fmt: skip
        raw = 1.0 + (n_days - MIN_EMPTY_DAYS) * 0.25 + (0.75 if beds else 0.0) + (0.5 if crowded else 0.0)
        spans = "、".join(f"{p['first_day']:%m-%d}至{p['last_day']:%m-%d}" for p in parts)
        sentence = (
            f"参保人{s['psn_no']}在{s['fixmedins_code']}住院（{s['begntime']:%Y-%m-%d}至{s['endtime']:%Y-%m-%d}）期间"
            f"连续{n_days}天（{spans}）仅收取床位费、护理费，无任何诊疗服务，涉及{yuan(amt)}，疑似挂床住院"
            + (f"；同期床位{beds[0]['bed']}另有参保人{beds[0]['psn_no']}占用" if beds else "")
            + (f"；该院同期在院人数超过核定床位{crowded[0][2]}张" if crowded else "")
        )
        ev = {
            "empty_days": [{"from": p["first_day"], "to": p["last_day"], "days": p["n_days"], "amount_fen": p["amt"]} for p in parts],
            "bed": s["adm_bed"], "shared_bed_with": beds[:5], "census_over_beds_days": len(crowded),
            "rule": f"≥{MIN_EMPTY_DAYS} consecutive days with only 床位费/护理费",
        }  # fmt: skip
        rows.append(
            {"mdtrt_id": mid, "psn_no": s["psn_no"], "fixmedins_code": s["fixmedins_code"], "doctor": s["atddr_no"],
             "vola_amt": amt, "vola_cont": sentence, "evidence": evidence_json(ev), "score": raw / (1.0 + raw)}
        )  # fmt: skip
    for code, days in over_days.items():
        peak = max(days, key=lambda x: x[1])
        ratio = peak[1] / peak[2]
        rows.append(
            {"fixmedins_code": code, "vola_amt": 0, "sev_deg": "3", "score": min(ratio / (1.0 + ratio), 0.99),
             "vola_cont": (f"{code}有{len(days)}天在院人数超过核定床位{peak[2]}张，"
                           f"最高{peak[1]}人（{peak[0]:%Y-%m-%d}，床位使用率{ratio:.0%}），疑似挂床或虚增住院"),
             "evidence": evidence_json({"days_over": len(days), "peak_day": peak[0], "peak_occupied": peak[1],
                                        "bed_cnt": peak[2], "first_days": [d for d, _, _ in days[:10]]})}
        )  # fmt: skip
    return findings(MODEL, rows)


MODEL = Model(
    id="M-GHOST",
    name="挂床住院",
    pattern="ghost_bed",
    needs={
        "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "adm_bed", "atddr_no"),
        "fee_list_d": ("mdtrt_id", "med_chrgitm_type", "fee_ocur_time", "det_item_fee_sumamt"),
        "fixmedins_b": ("fixmedins_code", "bed_cnt"),
    },
    run=run,
    basis="《医疗保障基金使用监督管理条例》第十五条（挂床住院）；住院期间72小时无诊疗服务",
)
