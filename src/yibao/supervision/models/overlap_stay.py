"""M-OVERLAP 同时多院住院: one person in two hospital beds at once.

Two inpatient stays of one person whose periods overlap by more than ``TOLERANCE_HOURS`` (4 h: clocks
and hand-over times differ between hospitals) cannot both be real. A transfer (转院) — the first stay
ends, the next begins a few hours later — touches but does not overlap, and is not flagged.

Both stays get a finding: the one admitted later (the stay that began while the other was running)
carries the fees billed during the overlap as its violation amount; the earlier one is involved.

Before::

    M1  P7  H-A  04-03 09:00 → 04-12 10:00
    M9  P7  H-B  04-06 14:00 → 04-10 10:00

After::

    M-OVERLAP  M9  "…与其在H-A的住院重叠3.8天…"  vola_amt = M9's fees from 04-06 to 04-10
    M-OVERLAP  M1  (involved, vola_amt 0)

>>> MODEL.id, TOLERANCE_HOURS
('M-OVERLAP', 4)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import duckdb
import polars as pl

from yibao.supervision.models._common import (
    INPATIENT_MED_TYPES,
    Model,
    evidence_json,
    fetch,
    findings,
    seconds_between,
    sql_list,
    yuan,
)

TOLERANCE_HOURS = 4


def _query() -> str:
    inpatient = sql_list(INPATIENT_MED_TYPES)
    overlap = seconds_between("GREATEST(a.begntime, b.begntime)", "LEAST(a.endtime, b.endtime)")
    return f"""
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, begntime, endtime, atddr_no, dscg_maindiag_code AS dx
    FROM mdtrt_d WHERE med_type IN {inpatient} AND endtime > begntime
),
pairs AS (
    SELECT a.mdtrt_id AS a_id, a.fixmedins_code AS a_inst, a.begntime AS a_begin, a.endtime AS a_end, a.atddr_no AS a_doctor,
           b.mdtrt_id AS b_id, b.fixmedins_code AS b_inst, b.begntime AS b_begin, b.endtime AS b_end, b.atddr_no AS b_doctor,
           a.psn_no, {overlap} AS overlap_s
    FROM stays a JOIN stays b
      ON a.psn_no = b.psn_no AND a.mdtrt_id <> b.mdtrt_id
     AND (a.begntime < b.begntime OR (a.begntime = b.begntime AND a.mdtrt_id < b.mdtrt_id))
     AND b.begntime < a.endtime
    WHERE {overlap} > {TOLERANCE_HOURS * 3600}
),
during AS (
    SELECT p.b_id, p.a_id, SUM(f.det_item_fee_sumamt) AS amt
    FROM pairs p JOIN fee_list_d f ON f.mdtrt_id = p.b_id
    WHERE f.fee_ocur_time >= p.b_begin AND f.fee_ocur_time < LEAST(p.a_end, p.b_end)
    GROUP BY p.b_id, p.a_id
)
SELECT p.*, COALESCE(d.amt, 0) AS amt
FROM pairs p LEFT JOIN during d ON d.b_id = p.b_id AND d.a_id = p.a_id
ORDER BY p.psn_no, p.a_begin
"""


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    pairs = fetch(con, _query())
    rows: list[dict[str, object]] = []
    for p in pairs.iter_rows(named=True):
        days = p["overlap_s"] / 86400
        raw = 1.0 + min(days, 10.0) * 0.3 + (0.5 if p["a_inst"] != p["b_inst"] else 0.0)
        score = raw / (1.0 + raw)
        ev = {
            "later": {"mdtrt_id": p["b_id"], "fixmedins_code": p["b_inst"], "begntime": p["b_begin"], "endtime": p["b_end"]},
            "earlier": {"mdtrt_id": p["a_id"], "fixmedins_code": p["a_inst"], "begntime": p["a_begin"], "endtime": p["a_end"]},
            "overlap_hours": round(p["overlap_s"] / 3600, 1), "fees_during_overlap_fen": p["amt"],
        }  # fmt: skip
        where = "同一机构" if p["a_inst"] == p["b_inst"] else f"在{p['a_inst']}"
        rows.append(
            {"mdtrt_id": p["b_id"], "psn_no": p["psn_no"], "fixmedins_code": p["b_inst"], "doctor": p["b_doctor"],
             "vola_amt": int(p["amt"]), "score": score, "evidence": evidence_json(ev), "sev_deg": "1",
             "vola_cont": (f"参保人{p['psn_no']}于{p['b_begin']:%Y-%m-%d %H:%M}入住{p['b_inst']}时，{where}的住院"
                           f"（{p['a_begin']:%Y-%m-%d}至{p['a_end']:%Y-%m-%d}）尚未出院，重叠{days:.1f}天，"
                           f"重叠期间费用{yuan(int(p['amt']))}，同时多院住院")}
        )  # fmt: skip
        rows.append(
            {"mdtrt_id": p["a_id"], "psn_no": p["psn_no"], "fixmedins_code": p["a_inst"], "doctor": p["a_doctor"],
             "vola_amt": 0, "score": score, "evidence": evidence_json(ev), "sev_deg": "1",
             "vola_cont": (f"参保人{p['psn_no']}在{p['a_inst']}住院（{p['a_begin']:%Y-%m-%d}至{p['a_end']:%Y-%m-%d}）期间"
                           f"又于{p['b_begin']:%Y-%m-%d}入住{p['b_inst']}（{p['b_id']}），涉及同时多院住院")}
        )  # fmt: skip
    if not rows:
        return findings(MODEL, [])
    df = findings(MODEL, rows)
    # a stay overlapping several others keeps its strongest finding with the largest amount
    return df.sort(["mdtrt_id", "vola_amt", "score"], descending=[False, True, True]).unique(
        "mdtrt_id", keep="first", maintain_order=True
    )


MODEL = Model(
    id="M-OVERLAP",
    name="同时多院住院",
    pattern="overlap_stay",
    needs={
        "mdtrt_d": (
            "mdtrt_id",
            "psn_no",
            "fixmedins_code",
            "med_type",
            "begntime",
            "endtime",
            "atddr_no",
            "dscg_maindiag_code",
        ),
        "fee_list_d": ("mdtrt_id", "fee_ocur_time", "det_item_fee_sumamt"),
    },
    run=run,
    sev_deg="1",
    basis="《医疗保障基金使用监督管理条例》第十五条；住院期间重复住院结算",
)
