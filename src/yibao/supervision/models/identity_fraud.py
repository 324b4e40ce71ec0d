"""M-IDENT 冒名就医: care billed on a card that cannot be the patient's, and bursts of cards at one doctor.

Three signals, each a contradiction a reviewer can check on the record:

* **sex** — a diagnosis only one sex can have (ICD-10: pregnancy and childbirth O00–O9A, Z32–Z37, Z39;
  female genital organs N70–N98, C51–C58, D25–D28; male genital organs N40–N51, C60–C63, D29) on the
  card of the other sex;
* **age** — care of the paediatric department (科别 07 儿科) on the card of an adult (≥ 18), or a
  disease of adult life (essential hypertension, type 2 diabetes, ischaemic heart and cerebrovascular
  disease, COPD, arthrosis, senile cataract, prostate hyperplasia, osteoporosis, dementia) on the card
  of a child under ``CHILD_AGE`` (10);
* **doctor burst** — one doctor starts encounters for ``BURST_CARDS`` (5) or more different cards, each
  within ``BURST_GAP_SECONDS`` (120 s) of the previous one, all with the same drug: no consultation
  takes so little time (the "many 司美格鲁肽 prescriptions in one minute" case).

Before::

    M1  P8 (男, 51)  产科  O80.000 头位顺产

After::

    M-IDENT  M1  "参保人P8（男）的就诊含仅限女性的诊断O80.000…疑似冒名就医"  vola_amt = the whole encounter

>>> MODEL.id, sex_of("O80.000"), sex_of("N40.x00"), sex_of("J18.900")
('M-IDENT', '2', '1', '')
>>> adult_only("I10.x09"), adult_only("J06.900")
(True, False)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import duckdb
import polars as pl

from yibao import codes
from yibao.supervision.models._common import (
    INPATIENT_MED_TYPES,
    OUTPATIENT_MED_TYPES,
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

CHILD_AGE = 10
ADULT_AGE = 18
PAEDIATRICS = codes.PAEDIATRICS  # also written without the letter (07, 07.01)
BURST_CARDS = 5
BURST_GAP_SECONDS = 120


def _range(letter: str, a: int, b: int) -> tuple[str, ...]:
    return tuple(f"{letter}{i:02d}" for i in range(a, b + 1))


FEMALE_ONLY = (
    "O",
    *_range("N", 70, 98),
    *_range("C", 51, 58),
    *_range("D", 25, 28),
    *_range("Z", 32, 37),
    "Z39",
)
MALE_ONLY = (*_range("N", 40, 51), *_range("C", 60, 63), "D29")
ADULT_ONLY = (
    *_range("I", 10, 15), "E11", *_range("I", 20, 25), *_range("I", 60, 69), "I70", "J43", "J44",
    *_range("M", 15, 19), "M80", "M81", "H25", "N40", "F00", "F01", "F02", "F03", "G30",
)  # fmt: skip
"""ICD-10 categories (or chapter letters) of diseases essentially absent before the age of ten."""


def sex_of(diag_code: str) -> str:
    """The sex a diagnosis requires: "2" women only, "1" men only, "" either."""
    if diag_code.startswith(FEMALE_ONLY):
        return "2"
    if diag_code.startswith(MALE_ONLY):
        return "1"
    return ""


def adult_only(diag_code: str) -> bool:
    return diag_code.startswith(ADULT_ONLY)


def _prefix_case(col: str, prefixes: tuple[str, ...]) -> str:
    """A SQL condition: ``col`` starts with one of the prefixes (by length, ANSI SUBSTR)."""
    by_len: dict[int, list[str]] = {}
    for p in prefixes:
        by_len.setdefault(len(p), []).append(p)
    return (
        "("
        + " OR ".join(f"SUBSTR({col}, 1, {n}) IN {sql_list(ps)}" for n, ps in sorted(by_len.items()))
        + ")"
    )


def _contradictions(dept_b: bool, summary: str) -> str:
    visits = sql_list((*OUTPATIENT_MED_TYPES, *INPATIENT_MED_TYPES))
    female = _prefix_case("d.diag_code", FEMALE_ONLY)
    male = _prefix_case("d.diag_code", MALE_ONLY)
    adult = _prefix_case("d.diag_code", ADULT_ONLY)
    age = "(EXTRACT(YEAR FROM e.begntime) - EXTRACT(YEAR FROM p.brdy) - CASE WHEN EXTRACT(MONTH FROM e.begntime) * 100 + EXTRACT(DAY FROM e.begntime) < EXTRACT(MONTH FROM p.brdy) * 100 + EXTRACT(DAY FROM p.brdy) THEN 1 ELSE 0 END)"
    paed = (
        f"(SELECT k.fixmedins_code, k.dept_codg FROM dept_b k WHERE k.caty IN ('{PAEDIATRICS}', '{PAEDIATRICS[1:]}') "
        f"OR k.caty LIKE '{PAEDIATRICS}.%' OR k.caty LIKE '{PAEDIATRICS[1:]}.%')"
        if dept_b
        else "(SELECT CAST(NULL AS VARCHAR) AS fixmedins_code, CAST(NULL AS VARCHAR) AS dept_codg WHERE 1 = 0)"
    )
    return f"""
WITH enc AS (
    SELECT e.mdtrt_id, e.psn_no, e.fixmedins_code, e.dept_codg, e.atddr_no, e.begntime, p.gend, {age} AS age
    FROM mdtrt_d e JOIN psn_info_b p ON p.psn_no = e.psn_no
    WHERE e.med_type IN {visits}
),
dx AS (
    SELECT d.mdtrt_id, d.diag_code, d.diag_name,
           CASE WHEN {female} THEN '2' WHEN {male} THEN '1' ELSE '' END AS dx_sex,
           CASE WHEN {adult} THEN 1 ELSE 0 END AS dx_adult
    FROM setl_list_diag_d d
),
hits AS (
    SELECT e.*, x.diag_code, x.diag_name, 'sex' AS kind
    FROM enc e JOIN dx x ON x.mdtrt_id = e.mdtrt_id
    WHERE x.dx_sex <> '' AND e.gend IN ('1', '2') AND x.dx_sex <> e.gend
    UNION ALL
    SELECT e.*, x.diag_code, x.diag_name, 'adult_dx_on_child' AS kind
    FROM enc e JOIN dx x ON x.mdtrt_id = e.mdtrt_id
    WHERE x.dx_adult = 1 AND e.age < {CHILD_AGE}
    UNION ALL
    SELECT e.*, '' AS diag_code, '' AS diag_name, 'paediatrics_on_adult' AS kind
    FROM enc e JOIN {paed} k ON k.fixmedins_code = e.fixmedins_code AND k.dept_codg = e.dept_codg
    WHERE e.age >= {ADULT_AGE}
)
SELECT h.*, COALESCE(a.amt, 0) AS amt FROM hits h LEFT JOIN {summary} a ON a.mdtrt_id = h.mdtrt_id
ORDER BY h.mdtrt_id
"""


def chains_sql() -> str:
    """Encounters of each doctor in chains, each beginning within BURST_GAP_SECONDS of the previous."""
    visits = sql_list(OUTPATIENT_MED_TYPES)
    gap = seconds_between("prev_t", "t")
    return f"""
WITH enc AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, atddr_no AS doctor, begntime AS t,
           LAG(begntime) OVER (PARTITION BY atddr_no ORDER BY begntime, mdtrt_id) AS prev_t
    FROM mdtrt_d WHERE med_type IN {visits} AND atddr_no IS NOT NULL AND atddr_no <> ''
)
SELECT enc.*, SUM(CASE WHEN prev_t IS NULL OR {gap} > {BURST_GAP_SECONDS} THEN 1 ELSE 0 END)
           OVER (PARTITION BY doctor ORDER BY t, mdtrt_id ROWS UNBOUNDED PRECEDING) AS chain
FROM enc
"""


def members_sql(chains: str) -> str:
    return f"""
SELECT c.* FROM {chains} c
JOIN (SELECT doctor, chain FROM {chains} GROUP BY doctor, chain HAVING COUNT(DISTINCT psn_no) >= {BURST_CARDS}) b
  ON b.doctor = c.doctor AND b.chain = c.chain
"""


BURST_MEMBERS = "__yb_burst_members"


def burst_members(con: duckdb.DuckDBPyConnection) -> str:
    """The encounters of card bursts — chains of ≥ BURST_CARDS cards with one drug on every encounter —
    as a temporary table built once per connection (M-DOCTOR leaves them out of its statistics)."""
    exists = con.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [BURST_MEMBERS]
    ).fetchall()
    if not exists[0][0]:
        with Staged(con, "ident") as st:
            chains = st.table("chains", chains_sql())
            members = st.table("members", members_sql(chains))
            con.execute(f"CREATE TEMP TABLE {BURST_MEMBERS} AS {_common_drug(members)}")
    return BURST_MEMBERS


def _common_drug(members: str) -> str:
    """Chain members of the chains whose every encounter carries one same drug, with that drug."""
    return f"""
WITH drugs AS (
    SELECT m.doctor, m.chain, f.med_list_codg, COUNT(DISTINCT m.mdtrt_id) AS n
    FROM {members} m JOIN fee_list_d f ON f.mdtrt_id = m.mdtrt_id
    WHERE f.med_chrgitm_type IN ('09', '10', '11')
    GROUP BY m.doctor, m.chain, f.med_list_codg
),
sizes AS (
    SELECT doctor, chain, COUNT(*) AS encounters, COUNT(DISTINCT psn_no) AS cards, MIN(t) AS t0, MAX(t) AS t1
    FROM {members} GROUP BY doctor, chain
),
common AS (
    SELECT d.doctor, d.chain, MIN(d.med_list_codg) AS drug
    FROM drugs d JOIN sizes s ON s.doctor = d.doctor AND s.chain = d.chain
    WHERE d.n = s.encounters GROUP BY d.doctor, d.chain
)
SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.doctor, m.t, s.cards, s.t0, s.t1, c.drug
FROM {members} m
JOIN sizes s ON s.doctor = m.doctor AND s.chain = m.chain
JOIN common c ON c.doctor = m.doctor AND c.chain = m.chain
"""


def _bursts(bursts: str, summary: str) -> str:
    return f"""
SELECT b.*, COALESCE(a.amt, 0) AS amt FROM {bursts} b LEFT JOIN {summary} a ON a.mdtrt_id = b.mdtrt_id
ORDER BY b.doctor, b.t
"""


_SEX = {"1": "男", "2": "女"}


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    summary = encounter_summary(con)
    hits = fetch(con, _contradictions("dept_b" in tables, summary))
    rows: list[dict[str, object]] = []
    for mid, group in hits.group_by("mdtrt_id", maintain_order=True):
        recs = list(group.iter_rows(named=True))
        r = recs[0]
        kinds = sorted({x["kind"] for x in recs})
        reasons = []
        for x in recs:
            if x["kind"] == "sex":
                reasons.append(
                    f"仅限{_SEX['2' if x['gend'] == '1' else '1']}性的诊断{x['diag_code']}（{x['diag_name']}）"
                )
            elif x["kind"] == "adult_dx_on_child":
                reasons.append(f"{x['age']}岁儿童不应有的成人疾病诊断{x['diag_code']}（{x['diag_name']}）")
            else:
                reasons.append(f"{x['age']}岁成人在儿科就诊")
        reasons = list(dict.fromkeys(reasons))
        raw = 1.5 * len(kinds) + 0.25 * (len(reasons) - len(kinds))
        sentence = (
            f"参保人{r['psn_no']}（{_SEX.get(r['gend'], '性别不详')}，{r['age']}岁）{r['begntime']:%Y-%m-%d}在{r['fixmedins_code']}的就诊含"
            + "；".join(reasons[:3])
            + f"，与持卡人身份不符，涉及{yuan(int(r['amt']))}，疑似冒名就医"
        )
        ev = {"card_holder": {"psn_no": r["psn_no"], "gend": r["gend"], "age": r["age"]}, "contradictions": kinds,
              "diagnoses": sorted({x["diag_code"] for x in recs if x["diag_code"]}), "dept_codg": r["dept_codg"]}  # fmt: skip
        rows.append(
            {"mdtrt_id": mid[0], "psn_no": r["psn_no"], "fixmedins_code": r["fixmedins_code"], "doctor": r["atddr_no"],
             "vola_amt": int(r["amt"]), "vola_cont": sentence, "evidence": evidence_json(ev), "score": raw / (1.0 + raw)}
        )  # fmt: skip
    bursts = fetch(con, _bursts(burst_members(con), summary))
    for b in bursts.iter_rows(named=True):
        seconds = (b["t1"] - b["t0"]).total_seconds()
        raw = 1.0 + (int(b["cards"]) - BURST_CARDS) * 0.2
        rows.append(
            {"mdtrt_id": b["mdtrt_id"], "psn_no": b["psn_no"], "fixmedins_code": b["fixmedins_code"], "doctor": b["doctor"],
             "vola_amt": int(b["amt"]), "score": raw / (1.0 + raw),
             "vola_cont": (f"医师{b['doctor']}于{b['t0']:%Y-%m-%d %H:%M}起{seconds / 60:.0f}分钟内为{b['cards']}张不同医保卡"
                           f"开具相同药品{b['drug']}，本笔为参保人{b['psn_no']}（{yuan(int(b['amt']))}），疑似冒名/集中刷卡就医"),
             "evidence": evidence_json({"burst": {"doctor": b["doctor"], "from": b["t0"], "to": b["t1"], "cards": b["cards"],
                                                  "drug": b["drug"]}, "max_gap_seconds": BURST_GAP_SECONDS})}
        )  # fmt: skip
    if not rows:
        return findings(MODEL, [])
    return (
        findings(MODEL, rows)
        .sort("score", descending=True)
        .unique("mdtrt_id", keep="first", maintain_order=True)
    )


MODEL = Model(
    id="M-IDENT",
    name="冒名就医",
    pattern="identity_fraud",
    needs={
        "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "dept_codg", "atddr_no"),
        "psn_info_b": ("psn_no", "gend", "brdy"),
        "setl_list_diag_d": ("mdtrt_id", "diag_code", "diag_name"),
        "fee_list_d": ("mdtrt_id", "med_list_codg", "med_chrgitm_type", "det_item_fee_sumamt"),
    },
    optional={"dept_b": ("fixmedins_code", "dept_codg", "caty")},
    run=run,
    basis="《医疗保障基金使用监督管理条例》第十九条、第四十一条（冒名就医、盗刷医保凭证）",
)
