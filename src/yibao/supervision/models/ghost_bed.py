"""M-GHOST 挂床住院: bed days billed without the patient being seen; wards above their beds.

A patient who is really in hospital is seen every day: 住院诊查费 (the ward round, 02) is charged per
day, and tests, drugs and treatments carry their dates. A stay whose billed bed days (床位费, 01, by
quantity, at most the nights of the stay plus one) exceed its serviced days — the larger of the ward-
round days billed and the calendar days with any dated service — by ``MIN_EMPTY_DAYS`` (3) or more is a
bed kept for somebody who is not there: 72 hours of bed and nursing without any service, the criterion
of the local agreements (e.g. Liupanshui 2020). The comparison works whether a bill charges each day on
its own line or all days on one line. A surgical patient waiting two days for the operation is still
seen on the ward round, so waiting is not flagged.

Two more signals raise the score and are kept as evidence: the stay's bed is also occupied by another
patient at the same time (two persons per bed), and the hospital's census on some day exceeds its
approved beds (``fixmedins_b.bed_cnt``). A hospital whose census exceeds its beds gets its own finding
(institution level: the days and the peak occupancy).

Before::

    M1  05-02 → 05-11  床位费 ×9, 护理费 ×9, 诊查费 ×5, drugs and tests 05-02…05-06

After::

    M-GHOST  M1  "…床位费计9天，有诊疗服务的仅5天，4天仅收取床位费、护理费…"  vola_amt = 4/9 of bed and nursing

>>> MODEL.id, MIN_EMPTY_DAYS
('M-GHOST', 3)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from yibao.money import round_div
from yibao.supervision.models._common import (
    INPATIENT_MED_TYPES,
    Model,
    Staged,
    days_between,
    evidence_json,
    fetch,
    findings,
    seconds_between,
    sql_list,
    yuan,
)

MIN_EMPTY_DAYS = 3
"""≥ 72 h without a service item (only bed and nursing billed)."""
BED, NURSING, WARD_ROUND = "01", "07", "02"
UNIT = 10_000
"""cnt is in 1e-4 units: 10 000 = one day of a per-day item."""
BED_OVERLAP_HOURS = 4
"""Two stays in one bed overlapping by more than this are two persons per bed (not a same-day turnover)."""


def _stays() -> str:
    """Per inpatient stay: nights, bed units and amounts, nursing amount, ward-round units, serviced days."""
    inpatient = sql_list(INPATIENT_MED_TYPES)
    hotel = sql_list((BED, NURSING, WARD_ROUND))
    nights = days_between("m.begntime", "m.endtime")
    return f"""
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, begntime, endtime, adm_bed, atddr_no
    FROM mdtrt_d WHERE med_type IN {inpatient}
),
lines AS (
    SELECT f.mdtrt_id, f.med_chrgitm_type AS t, f.cnt, f.det_item_fee_sumamt AS amt, CAST(f.fee_ocur_time AS DATE) AS d
    FROM fee_list_d f WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM stays)
),
per_stay AS (
    SELECT mdtrt_id,
           SUM(CASE WHEN t = '{BED}' THEN cnt ELSE 0 END) AS bed_units,
           SUM(CASE WHEN t = '{BED}' THEN amt ELSE 0 END) AS bed_amt,
           SUM(CASE WHEN t = '{NURSING}' THEN amt ELSE 0 END) AS nursing_amt,
           SUM(CASE WHEN t = '{WARD_ROUND}' THEN cnt ELSE 0 END) AS ward_units,
           COUNT(DISTINCT CASE WHEN t NOT IN {hotel} THEN d END) AS service_days
    FROM lines GROUP BY mdtrt_id
)
SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime, m.endtime, m.adm_bed, m.atddr_no, {nights} AS nights,
       CAST(p.bed_units AS BIGINT) AS bed_units, CAST(p.bed_amt AS BIGINT) AS bed_amt,
       CAST(p.nursing_amt AS BIGINT) AS nursing_amt, CAST(p.ward_units AS BIGINT) AS ward_units, p.service_days
FROM stays m JOIN per_stay p ON p.mdtrt_id = m.mdtrt_id
WHERE LEAST(p.bed_units, ({nights} + 1) * {UNIT}) - GREATEST(p.ward_units, p.service_days * {UNIT})
      >= {MIN_EMPTY_DAYS * UNIT}
"""


def _service_dates(flagged: str) -> str:
    hotel = sql_list((BED, NURSING, WARD_ROUND))
    return f"""
SELECT DISTINCT f.mdtrt_id, CAST(f.fee_ocur_time AS DATE) AS d FROM fee_list_d f
WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM {flagged}) AND f.med_chrgitm_type NOT IN {hotel}
"""


def _shared_beds(stays: str) -> str:
    """Other stays in the same bed of the same hospital at the same time as a flagged stay."""
    inpatient = sql_list(INPATIENT_MED_TYPES)
    overlap = seconds_between("GREATEST(a.begntime, b.begntime)", "LEAST(a.endtime, b.endtime)")
    return f"""
SELECT a.mdtrt_id, b.mdtrt_id AS other_id, b.psn_no AS other_psn, a.adm_bed
FROM {stays} a JOIN mdtrt_d b
  ON b.fixmedins_code = a.fixmedins_code AND b.adm_bed = a.adm_bed AND b.mdtrt_id <> a.mdtrt_id
 AND b.psn_no <> a.psn_no AND a.begntime < b.endtime AND b.begntime < a.endtime
WHERE a.adm_bed IS NOT NULL AND a.adm_bed <> '' AND b.med_type IN {inpatient}
  AND {overlap} > {BED_OVERLAP_HOURS * 3600}
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
SELECT c.fixmedins_code, c.d, CAST(c.occupied AS BIGINT) AS occupied, i.bed_cnt
FROM census c JOIN fixmedins_b i ON i.fixmedins_code = c.fixmedins_code
WHERE i.bed_cnt > 0 AND c.occupied > i.bed_cnt
ORDER BY c.fixmedins_code, c.d
"""


def _days_text(units: int) -> str:
    whole, frac = divmod(int(units), UNIT)
    return str(whole) if frac == 0 else f"{units / UNIT:.1f}"


def _unserviced(a: date, b: date, serviced: set[date]) -> list[date]:
    """The calendar days of [a, b] without a dated service."""
    return [a + timedelta(days=i) for i in range((b - a).days + 1) if a + timedelta(days=i) not in serviced]


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    with Staged(con, "ghost") as st:
        flagged = st.table("flagged", _stays())
        stays = fetch(con, f"SELECT * FROM {flagged} ORDER BY mdtrt_id")
        dates = fetch(con, _service_dates(flagged))
        shared = fetch(con, _shared_beds(flagged))
    over = fetch(con, _census())
    over_days: dict[str, list[tuple[date, int, int]]] = {}
    for code, d, occ, beds in over.iter_rows():
        over_days.setdefault(code, []).append((d, int(occ), int(beds)))
    partners: dict[str, list[dict[str, str]]] = {}
    for mid, other, other_psn, bed in shared.iter_rows():
        partners.setdefault(mid, []).append({"mdtrt_id": other, "psn_no": other_psn, "bed": bed})
    serviced: dict[str, set[date]] = {}
    for mid, d in dates.iter_rows():
        serviced.setdefault(mid, set()).add(d)
    rows: list[dict[str, object]] = []
    for s in stays.iter_rows(named=True):
        mid = s["mdtrt_id"]
        billed = min(int(s["bed_units"]), (int(s["nights"]) + 1) * UNIT)
        seen = max(int(s["ward_units"]), int(s["service_days"]) * UNIT)
        gap = billed - seen
        amt = round_div((int(s["bed_amt"]) + int(s["nursing_amt"])) * gap, max(int(s["bed_units"]), 1))
        beds = partners.get(mid, [])
        crowded = [
            (d, occ, cap)
            for d, occ, cap in over_days.get(s["fixmedins_code"], [])
            if s["begntime"].date() <= d <= s["endtime"].date()
        ]
        empty = _unserviced(s["begntime"].date(), s["endtime"].date(), serviced.get(mid, set()))
        raw = 1.0 + (gap / UNIT - MIN_EMPTY_DAYS) * 0.25 + (0.75 if beds else 0.0) + (0.5 if crowded else 0.0)
        sentence = (
            f"参保人{s['psn_no']}在{s['fixmedins_code']}住院（{s['begntime']:%Y-%m-%d}至{s['endtime']:%Y-%m-%d}）"
            f"床位费计{_days_text(s['bed_units'])}天，诊查及诊疗服务仅{_days_text(seen)}天，"
            f"{_days_text(gap)}天仅收取床位费、护理费，涉及{yuan(amt)}，疑似挂床住院"
            + (f"；同期床位{beds[0]['bed']}另有参保人{beds[0]['psn_no']}占用" if beds else "")
            + (f"；该院同期在院人数超过核定床位{crowded[0][2]}张" if crowded else "")
        )
        ev = {
            "nights": s["nights"],
            "bed_days_billed": s["bed_units"] / UNIT,
            "ward_round_days_billed": s["ward_units"] / UNIT,
            "days_with_dated_services": s["service_days"],
            "days_without_service": gap / UNIT,
            "dates_without_dated_service": empty[:31],
            "bed_amount_fen": s["bed_amt"],
            "nursing_amount_fen": s["nursing_amt"],
            "bed": s["adm_bed"],
            "shared_bed_with": beds[:5],
            "census_over_beds_days": len(crowded),
            "rule": f"bed days − serviced days ≥ {MIN_EMPTY_DAYS}",
        }
        rows.append(
            {
                "mdtrt_id": mid,
                "psn_no": s["psn_no"],
                "fixmedins_code": s["fixmedins_code"],
                "doctor": s["atddr_no"],
                "vola_amt": amt,
                "vola_cont": sentence,
                "evidence": evidence_json(ev),
                "score": raw / (1.0 + raw),
            }
        )
    for code, cdays in over_days.items():
        peak = max(cdays, key=lambda x: x[1])
        ratio = peak[1] / peak[2]
        rows.append(
            {
                "fixmedins_code": code,
                "vola_amt": 0,
                "sev_deg": "3",
                "score": min(ratio / (1.0 + ratio), 0.99),
                "vola_cont": (
                    f"{code}有{len(cdays)}天在院人数超过核定床位{peak[2]}张，"
                    f"最高{peak[1]}人（{peak[0]:%Y-%m-%d}，床位使用率{ratio:.0%}），疑似挂床或虚增住院"
                ),
                "evidence": evidence_json(
                    {
                        "days_over": len(cdays),
                        "peak_day": peak[0],
                        "peak_occupied": peak[1],
                        "bed_cnt": peak[2],
                        "first_days": [d for d, _, _ in cdays[:10]],
                    }
                ),
            }
        )
    return findings(MODEL, rows)


MODEL = Model(
    id="M-GHOST",
    name="挂床住院",
    pattern="ghost_bed",
    needs={
        "mdtrt_d": (
            "mdtrt_id",
            "psn_no",
            "fixmedins_code",
            "med_type",
            "begntime",
            "endtime",
            "adm_bed",
            "atddr_no",
        ),
        "fee_list_d": ("mdtrt_id", "med_chrgitm_type", "fee_ocur_time", "cnt", "det_item_fee_sumamt"),
        "fixmedins_b": ("fixmedins_code", "bed_cnt"),
    },
    run=run,
    basis="《医疗保障基金使用监督管理条例》第十五条（挂床住院）；住院期间72小时无诊疗服务",
)
