"""M-SPLIT 分解住院: a readmission to the same hospital within 15 days with the same principal diagnosis.

The national 15-day readmission rule: a patient discharged and readmitted to the same hospital within
``WINDOW_DAYS`` (15) days for the same or a similar principal diagnosis (the same ICD-10 category, its
first three characters) is suspected of having one stay split in two — to reset per-stay limits or to be
paid twice. A stay cut in two carries its record over: the readmission is flagged when its coded
diagnoses are (nearly) those of the stay before — Jaccard similarity of the two diagnosis-code sets at
least ``CARRIED_OVER`` (0.75, the 相似诊断 sub-score of the municipal 分解住院 models) — whereas a real
readmission (a relapse, a complication, a new emergency) is coded afresh. Planned sequences are
excluded by what the record says, not by the gap:

* a planned repeat-care diagnosis on either stay: Z49 (dialysis), Z47/Z48 (planned aftercare), and
  Z51 (chemotherapy / radiotherapy sessions) when the readmission comes at least ``MIN_CYCLE_DAYS`` (14)
  after the discharge — a cycle later; a chemotherapy stay "readmitted" three days after its discharge
  is a stay cut in two like any other;
* staged surgery: both stays carry an operation (the second eye, the second knee);
* an emergency readmission (med_type 22 外伤住院 / 24 急诊转住院) coded afresh — an emergency whose
  record is the previous stay's copied is flagged like any other.

The score ranks how much it looks like one stay cut in two: a shorter gap, the identical principal
code, the similarity of the diagnoses, admission examinations billed again on the readmission, the
same attending doctor. Every stay of a chain gets a finding (the readmission with the repeated
admission tests as its violation amount, the first stay as the one involved).

Before (two stays of P1 at H1)::

    M1  04-01 → 04-04  J18.900 肺炎
    M2  04-07 → 04-11  J18.900 肺炎   blood count, CRP, chest X-ray billed again on 04-07

After (findings)::

    M-SPLIT  M2  score 0.8  "…出院后3天再次入院…同一主诊断J18…"  vola_amt = the repeated tests
    M-SPLIT  M1  score 0.8  (the first stay of the chain, vola_amt 0)

A chemotherapy cycle (Z51.100 with the cancer as secondary diagnosis) every 21 days is not flagged.

>>> MODEL.id, MODEL.pattern, WINDOW_DAYS
('M-SPLIT', 'split_admission', 15)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import duckdb
import polars as pl

from yibao.supervision.models._common import (
    INPATIENT_MED_TYPES,
    Model,
    Staged,
    days_between,
    evidence_json,
    fetch,
    findings,
    sql_list,
    yuan,
)

WINDOW_DAYS = 15
"""The national readmission window (15-day readmission rate, supervision.md §4.2)."""
PLANNED_DX = ("Z49", "Z47", "Z48")
"""ICD-10 categories of planned repeat care at any interval: dialysis, planned aftercare."""
CYCLE_DX = ("Z51",)
"""Chemotherapy / radiotherapy sessions: planned when the readmission comes a cycle later."""
MIN_CYCLE_DAYS = 14
"""The shortest interval between inpatient chemotherapy cycles (q14d regimens; q21d and q28d are the
common ones): a Z51 readmission sooner than this is no new cycle but a stay cut short."""
EMERGENCY = ("22", "24")
"""Trauma and emergency admissions (kept as evidence: flagged only when the record is carried over)."""
CARRIED_OVER = 0.75
"""Jaccard similarity of the two stays' diagnosis codes from which the record counts as carried over."""


def _kept() -> str:
    """Readmission pairs that meet the rule and are not planned."""
    inpatient = sql_list(INPATIENT_MED_TYPES)
    planned = sql_list(PLANNED_DX)
    cycle = sql_list(CYCLE_DX)
    not_elective = sql_list(EMERGENCY)
    gap = days_between("p.prev_end", "p.begntime")
    return f"""
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, med_type, begntime, endtime, dscg_maindiag_code AS dx,
           dscg_maindiag_name AS dx_name, atddr_no
    FROM mdtrt_d
    WHERE med_type IN {inpatient} AND dscg_maindiag_code IS NOT NULL AND dscg_maindiag_code <> ''
),
ordered AS (
    SELECT s.*,
           LAG(mdtrt_id) OVER w AS prev_id, LAG(endtime) OVER w AS prev_end, LAG(begntime) OVER w AS prev_begin,
           LAG(dx) OVER w AS prev_dx, LAG(atddr_no) OVER w AS prev_doctor
    FROM stays s
    WINDOW w AS (PARTITION BY psn_no, fixmedins_code ORDER BY begntime, mdtrt_id)
),
pairs AS (
    SELECT p.*, {gap} AS gap_days
    FROM ordered p
    WHERE p.prev_id IS NOT NULL
      AND p.begntime >= p.prev_end
      AND {gap} <= {WINDOW_DAYS}
      AND SUBSTR(p.dx, 1, 3) = SUBSTR(p.prev_dx, 1, 3)
      AND SUBSTR(p.dx, 1, 3) NOT IN {planned}
      AND NOT (SUBSTR(p.dx, 1, 3) IN {cycle} AND {gap} >= {MIN_CYCLE_DAYS})
),
involved AS (SELECT mdtrt_id FROM pairs UNION SELECT prev_id FROM pairs),
planned AS (
    SELECT DISTINCT d.mdtrt_id FROM setl_list_diag_d d JOIN involved i ON i.mdtrt_id = d.mdtrt_id
    WHERE SUBSTR(d.diag_code, 1, 3) IN {planned}
),
cycles AS (
    SELECT DISTINCT d.mdtrt_id FROM setl_list_diag_d d JOIN involved i ON i.mdtrt_id = d.mdtrt_id
    WHERE SUBSTR(d.diag_code, 1, 3) IN {cycle}
),
operated AS (
    SELECT DISTINCT o.mdtrt_id FROM setl_list_oprn_d o JOIN involved i ON i.mdtrt_id = o.mdtrt_id
),
dx AS (
    SELECT DISTINCT d.mdtrt_id, d.diag_code FROM setl_list_diag_d d JOIN involved i ON i.mdtrt_id = d.mdtrt_id
),
dx_n AS (SELECT mdtrt_id, COUNT(*) AS n FROM dx GROUP BY mdtrt_id),
shared AS (
    SELECT p.mdtrt_id, COUNT(*) AS n
    FROM pairs p JOIN dx a ON a.mdtrt_id = p.mdtrt_id JOIN dx b ON b.mdtrt_id = p.prev_id AND b.diag_code = a.diag_code
    GROUP BY p.mdtrt_id
)
SELECT p.*, CAST(COALESCE(s.n, 0) AS DOUBLE) / GREATEST(COALESCE(na.n, 0) + COALESCE(nb.n, 0) - COALESCE(s.n, 0), 1)
           AS dx_similarity,
       CASE WHEN p.med_type IN {not_elective} THEN 1 ELSE 0 END AS emergency
FROM pairs p
LEFT JOIN planned a ON a.mdtrt_id = p.mdtrt_id
LEFT JOIN planned b ON b.mdtrt_id = p.prev_id
LEFT JOIN cycles ca ON ca.mdtrt_id = p.mdtrt_id
LEFT JOIN cycles cb ON cb.mdtrt_id = p.prev_id
LEFT JOIN operated c ON c.mdtrt_id = p.mdtrt_id
LEFT JOIN operated d ON d.mdtrt_id = p.prev_id
LEFT JOIN shared s ON s.mdtrt_id = p.mdtrt_id
LEFT JOIN dx_n na ON na.mdtrt_id = p.mdtrt_id
LEFT JOIN dx_n nb ON nb.mdtrt_id = p.prev_id
WHERE a.mdtrt_id IS NULL AND b.mdtrt_id IS NULL AND (c.mdtrt_id IS NULL OR d.mdtrt_id IS NULL)
  AND NOT ((ca.mdtrt_id IS NOT NULL OR cb.mdtrt_id IS NOT NULL) AND p.gap_days >= {MIN_CYCLE_DAYS})
  AND CAST(COALESCE(s.n, 0) AS DOUBLE) / GREATEST(COALESCE(na.n, 0) + COALESCE(nb.n, 0) - COALESCE(s.n, 0), 1)
      >= {CARRIED_OVER}
"""


def _tests(kept: str) -> str:
    """The examinations and laboratory tests of the admission day of every stay of a kept pair."""
    return f"""
SELECT f.mdtrt_id, f.med_list_codg, SUM(f.det_item_fee_sumamt) AS amt
FROM fee_list_d f
JOIN (SELECT mdtrt_id, begntime FROM {kept} UNION ALL SELECT prev_id, prev_begin FROM {kept}) k ON f.mdtrt_id = k.mdtrt_id
WHERE f.med_chrgitm_type IN ('03', '04') AND CAST(f.fee_ocur_time AS DATE) = CAST(k.begntime AS DATE)
GROUP BY f.mdtrt_id, f.med_list_codg
"""


def _pairs(kept: str, tests: str) -> str:
    return f"""
WITH repeated AS (
    SELECT k.mdtrt_id, COUNT(*) AS repeated_tests, SUM(t.amt) AS repeated_amt
    FROM {kept} k
    JOIN {tests} t ON t.mdtrt_id = k.mdtrt_id
    JOIN {tests} u ON u.mdtrt_id = k.prev_id AND u.med_list_codg = t.med_list_codg
    GROUP BY k.mdtrt_id
)
SELECT k.mdtrt_id, k.prev_id, k.psn_no, k.fixmedins_code, k.atddr_no, k.prev_doctor, k.dx, k.dx_name, k.prev_dx,
       k.begntime, k.endtime, k.prev_begin, k.prev_end, k.gap_days, k.dx_similarity, k.emergency,
       COALESCE(r.repeated_tests, 0) AS repeated_tests, COALESCE(r.repeated_amt, 0) AS repeated_amt
FROM {kept} k LEFT JOIN repeated r ON r.mdtrt_id = k.mdtrt_id
ORDER BY k.psn_no, k.begntime
"""


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    with Staged(con, "split") as st:
        kept = st.table("kept", _kept())
        tests = st.table("tests", _tests(kept))
        pairs = fetch(con, _pairs(kept, tests))
    if pairs.height == 0:
        return findings(MODEL, [])
    pairs = pairs.with_columns(
        (
            1.0
            + (1.0 - pl.col("gap_days") / (WINDOW_DAYS + 1))
            + (pl.col("dx") == pl.col("prev_dx")).cast(pl.Float64) * 0.5
            + pl.col("dx_similarity")
            + (pl.col("repeated_tests") > 0).cast(pl.Float64) * 0.5
            + (pl.col("atddr_no") == pl.col("prev_doctor")).cast(pl.Float64) * 0.3
        ).alias("raw")
    ).with_columns((pl.col("raw") / (1.0 + pl.col("raw"))).alias("score"))
    rows = []
    first: dict[str, dict[str, object]] = {}
    for p in pairs.iter_rows(named=True):
        ev = {
            "readmission": {
                "mdtrt_id": p["mdtrt_id"],
                "begntime": p["begntime"],
                "endtime": p["endtime"],
                "dx": p["dx"],
            },
            "previous": {
                "mdtrt_id": p["prev_id"],
                "begntime": p["prev_begin"],
                "endtime": p["prev_end"],
                "dx": p["prev_dx"],
            },
            "gap_days": p["gap_days"],
            "diagnosis_similarity": round(float(p["dx_similarity"]), 3),
            "emergency_readmission": bool(p["emergency"]),
            "repeated_admission_tests": p["repeated_tests"],
            "repeated_amount_fen": p["repeated_amt"],
            "window_days": WINDOW_DAYS,
        }
        sentence = (
            f"参保人{p['psn_no']}于{p['prev_end']:%Y-%m-%d}从{p['fixmedins_code']}出院后{p['gap_days']}天"
            f"（{p['begntime']:%Y-%m-%d}）再次入院，主诊断同为{p['dx'][:3]}类（{p['dx_name']}），"
            f"诊断与前次住院相似度{p['dx_similarity']:.0%}，入院检查重复{p['repeated_tests']}项计{yuan(p['repeated_amt'])}，"
            f"疑似分解住院（{WINDOW_DAYS}天内再入院规则）"
        )
        rows.append(
            {"mdtrt_id": p["mdtrt_id"], "psn_no": p["psn_no"], "fixmedins_code": p["fixmedins_code"],
             "doctor": p["atddr_no"], "vola_amt": int(p["repeated_amt"]), "vola_cont": sentence,
             "evidence": evidence_json(ev), "score": float(p["score"])}
        )  # fmt: skip
        prev = first.get(p["prev_id"])
        if prev is None or float(p["score"]) > float(prev["score"]):  # type: ignore[arg-type]
            first[p["prev_id"]] = {
                "mdtrt_id": p["prev_id"], "psn_no": p["psn_no"], "fixmedins_code": p["fixmedins_code"],
                "doctor": p["prev_doctor"], "vola_amt": 0, "evidence": evidence_json(ev), "score": float(p["score"]),
                "vola_cont": (
                    f"参保人{p['psn_no']}在{p['fixmedins_code']}的住院（{p['prev_begin']:%Y-%m-%d}至{p['prev_end']:%Y-%m-%d}，"
                    f"主诊断{p['prev_dx']}）出院后{p['gap_days']}天即以同类诊断再次入院（{p['mdtrt_id']}），涉及分解住院"
                ),
            }  # fmt: skip
    readmitted = {r["mdtrt_id"] for r in rows}
    rows.extend(r for m, r in first.items() if m not in readmitted)
    return findings(MODEL, rows)


MODEL = Model(
    id="M-SPLIT",
    name="分解住院",
    pattern="split_admission",
    needs={
        "mdtrt_d": (
            "mdtrt_id",
            "psn_no",
            "fixmedins_code",
            "med_type",
            "begntime",
            "endtime",
            "dscg_maindiag_code",
            "dscg_maindiag_name",
            "atddr_no",
        ),
        "setl_list_diag_d": ("mdtrt_id", "diag_code"),
        "setl_list_oprn_d": ("mdtrt_id",),
        "fee_list_d": (
            "mdtrt_id",
            "med_list_codg",
            "med_chrgitm_type",
            "fee_ocur_time",
            "det_item_fee_sumamt",
        ),
    },
    run=run,
    basis="国家医保局《医疗保障基金使用监督管理条例》第十五条（分解住院）；15日内再入院率",
)
