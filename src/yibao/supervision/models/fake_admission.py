"""M-FAKE 虚假住院 / 体检住院: one employer's staff admitted together for a check-up billed as care.

Two signals together, as in the 参保单位集中住院 and 体检住院 models of local agencies:

* **check-up care** — the stay's clinical fees (everything but bed, nursing, consultation and
  registration) are at least ``EXAM_SHARE`` (80%) examinations and laboratory tests (03/04), i.e. next
  to no treatment, drugs or procedures;
* **a cohort** — at least ``MIN_COHORT`` (3) persons of one employer (``psn_info_b.emp_no``, the
  pseudo-employer of flexible workers included: the agency that enrols them can organise the same) have
  such a stay at the same hospital with admissions within ``WINDOW_DAYS`` (7) of each other, and their
  examination bundles are near identical (Jaccard ≥ ``SIMILAR``, 0.8) — templated care.

An outbreak (many colleagues admitted after food poisoning) has real treatment (infusions, drugs), so
its stays are not check-up care and are not flagged. Communities cannot be seen in the dataset (no
address), so only employer cohorts are.

Before::

    7 employees of E1 at H3, 06-10 … 06-14: bed, nursing, ward rounds and the same 11 tests, no drugs

After::

    M-FAKE  one finding per stay, vola_amt = the whole stay (a fabricated admission is not payable)

>>> MODEL.id, EXAM_SHARE, MIN_COHORT, WINDOW_DAYS
('M-FAKE', 0.8, 3, 7)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import duckdb
import polars as pl

from yibao.supervision.models._common import (
    EXAMS,
    INPATIENT_MED_TYPES,
    Model,
    Staged,
    encounter_summary,
    evidence_json,
    fetch,
    findings,
    sorted_set,
    sql_list,
    yuan,
)

EXAM_SHARE = 0.8
"""体检住院: examinations ≥ 80% of the clinical fees (supervision.md §5)."""
MIN_COHORT = 3
WINDOW_DAYS = 7
SIMILAR = 0.8


def _checkups(summary: str) -> str:
    inpatient = sql_list(INPATIENT_MED_TYPES)
    return f"""
SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime, m.endtime, m.atddr_no, m.dscg_maindiag_code AS dx, p.emp_no,
       e.amt AS total, e.amt - e.hotel_amt AS clinical, e.exam_amt AS exams
FROM mdtrt_d m
JOIN psn_info_b p ON p.psn_no = m.psn_no
JOIN {summary} e ON e.mdtrt_id = m.mdtrt_id
WHERE m.med_type IN {inpatient} AND p.emp_no IS NOT NULL AND p.emp_no <> ''
  AND e.amt - e.hotel_amt > 0 AND e.exam_amt >= {EXAM_SHARE} * (e.amt - e.hotel_amt)
"""


def _bundles(checkups: str) -> str:
    return f"""
SELECT f.mdtrt_id, {sorted_set("f.med_list_codg")} AS bundle
FROM fee_list_d f
WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM {checkups}) AND f.med_chrgitm_type IN {sql_list(EXAMS)}
GROUP BY f.mdtrt_id
"""


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    with Staged(con, "fake") as st:
        checkups = st.table("checkups", _checkups(encounter_summary(con)))
        # a cohort needs MIN_COHORT check-up stays of one employer at one hospital: look no further otherwise
        cohorts = st.table(
            "cohorts",
            f"SELECT c.* FROM {checkups} c JOIN (SELECT fixmedins_code, emp_no FROM {checkups} GROUP BY fixmedins_code, emp_no "
            f"HAVING COUNT(DISTINCT psn_no) >= {MIN_COHORT}) g ON g.fixmedins_code = c.fixmedins_code AND g.emp_no = c.emp_no",
        )
        stays = fetch(
            con,
            f"SELECT c.*, b.bundle FROM {cohorts} c JOIN ({_bundles(cohorts)}) b ON b.mdtrt_id = c.mdtrt_id",
        )
    if stays.height == 0:
        return findings(MODEL, [])
    rows: list[dict[str, object]] = []
    for (_inst, _emp), group in stays.sort("begntime", "mdtrt_id").group_by(
        ["fixmedins_code", "emp_no"], maintain_order=True
    ):
        if group.height < MIN_COHORT:
            continue
        recs = list(group.iter_rows(named=True))
        sets = [set(r["bundle"].split(",")) for r in recs]
        for i, r in enumerate(recs):
            near = [
                j for j, o in enumerate(recs)
                if j != i and abs((o["begntime"] - r["begntime"]).total_seconds()) <= WINDOW_DAYS * 86400
                and o["psn_no"] != r["psn_no"]
            ]  # fmt: skip
            alike = [j for j in near if _jaccard(sets[i], sets[j]) >= SIMILAR]
            persons = {recs[j]["psn_no"] for j in alike} | {r["psn_no"]}
            if len(persons) < MIN_COHORT:
                continue
            share = r["exams"] / r["clinical"]
            raw = 1.0 + (len(persons) - MIN_COHORT) * 0.2 + (share - EXAM_SHARE) * 2.5
            sentence = (
                f"参保人{r['psn_no']}（单位{r['emp_no']}）于{r['begntime']:%Y-%m-%d}入住{r['fixmedins_code']}，"
                f"同单位{len(persons) - 1}人在{WINDOW_DAYS}天内入住同院，检查化验占诊疗费用{share:.0%}、"
                f"检查项目雷同（{len(sets[i])}项），住院费用{yuan(int(r['total']))}，疑似虚假住院（体检住院）"
            )
            ev = {
                "emp_no": r["emp_no"], "cohort": sorted(persons), "cohort_stays": [recs[j]["mdtrt_id"] for j in alike][:30],
                "exam_share": round(share, 4), "bundle": sorted(sets[i]), "window_days": WINDOW_DAYS,
                "total_fen": r["total"], "dx": r["dx"],
            }  # fmt: skip
            rows.append(
                {"mdtrt_id": r["mdtrt_id"], "psn_no": r["psn_no"], "fixmedins_code": r["fixmedins_code"],
                 "doctor": r["atddr_no"], "vola_amt": int(r["total"]), "vola_cont": sentence,
                 "evidence": evidence_json(ev), "score": raw / (1.0 + raw)}
            )  # fmt: skip
    return findings(MODEL, rows)


MODEL = Model(
    id="M-FAKE",
    name="虚假住院（参保单位集中体检住院）",
    pattern="fake_admission",
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
        "psn_info_b": ("psn_no", "emp_no"),
        "fee_list_d": ("mdtrt_id", "med_list_codg", "med_chrgitm_type", "det_item_fee_sumamt"),
    },
    run=run,
    basis="《医疗保障基金使用监督管理条例》第四十条（虚构医药服务项目）；参保单位集中住院识别",
)
