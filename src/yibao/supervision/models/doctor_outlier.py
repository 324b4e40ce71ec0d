"""M-DOCTOR 医师诊疗/处方异常: a doctor far above the peers of the same department and hospital level.

For every doctor with at least ``MIN_ENCOUNTERS`` (20) outpatient encounters (门诊 and 门诊慢特病):

* three volume and amount features, each compared with the doctor's peers by the robust
  z = (x − median) / (1.4826 · MAD), the scale floored at 5% of the median so that near-identical
  peers do not turn small differences into large z (a flag then needs at least 30% above the median):
  ``amount_per_encounter`` (次均费用), ``units_per_drug_line`` (each drug line's quantity over that
  drug's usual quantity per line — herbs in grams and tablets in boxes alike; quantities inflated) and
  ``visits_per_patient`` (fabricated return visits, ordinary visits only);
* the prescribing intensity of single drugs (医师处方强度): the share of the doctor's encounters that
  carry a drug over the share among the peers.

The peers are the doctors of the same department category (科别, ``dept_b.caty``) at hospitals of the
same level (三级 / 二级 / 一级, ``fixmedins_b.hosp_lv``), else — fewer than ``MIN_PEERS`` doctors — the
same department family (the first three characters of the 科别) at the same level; without enough peers
a doctor is not compared (levels differ in prices and formularies, departments in case mix: a small or
mixed group says nothing about one member). Visits per patient count the ordinary visits only
(门诊慢特病 patients come back every month by design).

A doctor is flagged when one robust z reaches ``Z_FLAG`` (6: three heavy-tailed features over hundreds
of doctors call for a far stricter cut than the single-variable 3.5 of Iglewicz and Hoaglin; the cut was
checked on four synthetic regions of different seeds and fraud rates), or when one drug is on at least
``MIN_DRUG_SHARE`` (20%) — and ``MIN_DRUG_ENCOUNTERS`` (10) — of the doctor's encounters at
``MIN_INTENSITY`` (5) times or more the peers' rate. Encounters of card bursts (many cards within
minutes, M-IDENT) are left out of the statistics: they are their own finding. The violation amount is
an estimate: the encounters' amount above the peer median.

Before::

    D011: 180 visits, ¥210 per visit, 脑心通胶囊 in 70% of visits (peers: ¥85, 2%)

After::

    M-DOCTOR  doctor D011  "…次均费用210.00元（同组中位数85.00元，稳健z=9.1）；药品…用于70%的就诊（同组2%）…"

>>> MODEL.id, Z_FLAG, MIN_PEERS, MIN_INTENSITY
('M-DOCTOR', 6.0, 5, 5.0)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

import duckdb
import polars as pl

from yibao.supervision.models import identity_fraud
from yibao.supervision.models._common import (
    DRUGS,
    OUTPATIENT_MED_TYPES,
    Model,
    encounter_summary,
    evidence_json,
    fetch,
    findings,
    robust_z,
    sql_list,
    yuan,
)

MIN_ENCOUNTERS = 20
MIN_PEERS = 5
Z_FLAG = 6.0
MIN_DRUG_SHARE = 0.2
MIN_DRUG_ENCOUNTERS = 10
"""…and on at least this many encounters: a handful of prescriptions is no prescribing pattern."""
MIN_INTENSITY = 5.0
CHRONIC = ("14", "15")
"""门诊慢特病 / 特药: repeat visits are the norm there, so visits per patient counts the other visits."""
RATE_FLOOR = 0.01
"""The peers' rate of a drug is taken as at least 1% (so "never" does not divide by zero)."""
FLOOR = 0.05
"""The robust scale is at least 5% of the peer median: a flag (z ≥ 6) needs at least 30% above it."""
FEATURES = {
    "amount_per_encounter": "次均费用",
    "units_per_drug_line": "单条药品数量",
    "visits_per_patient": "人均就诊次数",
}
_LV = {"01": "3", "02": "3", "03": "3", "04": "3", "05": "2", "06": "2", "07": "2"}


def _query(summary: str, bursts: str) -> str:
    visits = sql_list(OUTPATIENT_MED_TYPES)
    return f"""
SELECT m.atddr_no AS doctor, COUNT(*) AS encounters, COUNT(DISTINCT m.psn_no) AS patients,
       CAST(SUM(e.amt) AS BIGINT) AS amount,
       SUM(CASE WHEN m.med_type IN {sql_list(CHRONIC)} THEN 0 ELSE 1 END) AS acute,
       COUNT(DISTINCT CASE WHEN m.med_type IN {sql_list(CHRONIC)} THEN NULL ELSE m.psn_no END) AS acute_patients
FROM mdtrt_d m JOIN {summary} e ON e.mdtrt_id = m.mdtrt_id
LEFT JOIN {bursts} b ON b.mdtrt_id = m.mdtrt_id
WHERE m.med_type IN {visits} AND m.atddr_no IS NOT NULL AND m.atddr_no <> '' AND b.mdtrt_id IS NULL
GROUP BY m.atddr_no
"""


def _drug_query(bursts: str) -> str:
    visits = sql_list(OUTPATIENT_MED_TYPES)
    return f"""
SELECT m.atddr_no AS doctor, f.med_list_codg, COUNT(DISTINCT f.mdtrt_id) AS n, COUNT(*) AS lines,
       CAST(SUM(f.cnt) AS BIGINT) AS cnt
FROM fee_list_d f JOIN mdtrt_d m ON m.mdtrt_id = f.mdtrt_id
LEFT JOIN {bursts} b ON b.mdtrt_id = m.mdtrt_id
WHERE m.med_type IN {visits} AND m.atddr_no IS NOT NULL AND m.atddr_no <> '' AND f.med_chrgitm_type IN {sql_list(DRUGS)}
  AND b.mdtrt_id IS NULL
GROUP BY m.atddr_no, f.med_list_codg
"""


def _home_query(staff: bool, depts: bool, inst: bool) -> str:
    """Each doctor's institution and department (the register when there is one, else the encounters)."""
    visits = sql_list(OUTPATIENT_MED_TYPES)
    if staff:
        base = (
            "SELECT staff_codg AS doctor, fixmedins_code, dept_codg, 1000000 AS n FROM medstaff_b UNION ALL "
        )
    else:
        base = ""
    caty = "k.caty" if depts else "h.dept_codg"
    join_dept = (
        "LEFT JOIN dept_b k ON k.fixmedins_code = h.fixmedins_code AND k.dept_codg = h.dept_codg"
        if depts
        else ""
    )
    lv = "i.hosp_lv" if inst else "''"
    join_inst = "LEFT JOIN fixmedins_b i ON i.fixmedins_code = h.fixmedins_code" if inst else ""
    return f"""
WITH homes AS (
    {base}SELECT atddr_no AS doctor, fixmedins_code, dept_codg, COUNT(*) AS n FROM mdtrt_d
    WHERE med_type IN {visits} AND atddr_no IS NOT NULL AND atddr_no <> '' GROUP BY atddr_no, fixmedins_code, dept_codg
)
SELECT h.doctor, h.fixmedins_code, h.dept_codg, h.n, COALESCE({caty}, '') AS caty, COALESCE({lv}, '') AS hosp_lv
FROM homes h {join_dept} {join_inst}
"""


def features(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per doctor with enough encounters: the features, the peer groups and each feature's z.

    Encounters of card bursts (M-IDENT: many cards within minutes) are left out: they are a finding
    of their own, not the doctor's practice.
    """
    tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    bursts = identity_fraud.burst_members(con)
    doc = fetch(con, _query(encounter_summary(con), bursts)).filter(pl.col("encounters") >= MIN_ENCOUNTERS)
    drugs = fetch(con, _drug_query(bursts))
    if doc.height == 0:
        return doc
    homes = (
        fetch(con, _home_query("medstaff_b" in tables, "dept_b" in tables, "fixmedins_b" in tables))
        .sort(["doctor", "n"], descending=[False, True])
        .unique("doctor", keep="first")
        .with_columns(pl.col("hosp_lv").replace_strict(_LV, default="1").alias("lv"))
        .select("doctor", "fixmedins_code", "dept_codg", "caty", "lv")
    )
    doc = doc.join(homes, on="doctor", how="left").with_columns(
        pl.col("caty").fill_null(""), pl.col("lv").fill_null("1"), pl.col("fixmedins_code").fill_null("")
    )
    # peers: the same level and 科别, else the same level and department family; a doctor without
    # enough peers is not compared (levels differ in prices and formularies, departments in case mix)
    doc = (
        doc.with_columns(pl.col("caty").str.slice(0, 3).alias("family"))
        .with_columns(pl.len().over("lv", "caty").alias("n1"), pl.len().over("lv", "family").alias("n2"))
        .with_columns(
            pl.when(pl.col("n1") >= MIN_PEERS)
            .then(pl.concat_str(pl.col("lv"), pl.lit("级/科别"), pl.col("caty")))
            .when(pl.col("n2") >= MIN_PEERS)
            .then(pl.concat_str(pl.col("lv"), pl.lit("级/科别"), pl.col("family"), pl.lit("*")))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias("peers")
        )
        .with_columns(pl.col("peers").alias("drug_peers"))
        .filter(pl.col("peers").is_not_null() | pl.col("drug_peers").is_not_null())
    )
    if doc.height == 0:
        return doc
    # quantities: each drug line against the drug's usual quantity per line (the median over doctors),
    # so grams of herbs and boxes of tablets compare alike
    usual = (
        drugs.with_columns((pl.col("cnt") / pl.col("lines")).alias("per_line"))
        .group_by("med_list_codg")
        .agg(pl.col("per_line").median().alias("usual"))
    )
    units = (
        drugs.join(usual, on="med_list_codg")
        .group_by("doctor")
        .agg(((pl.col("cnt") / pl.col("usual")).sum() / pl.col("lines").sum()).alias("units_per_drug_line"))
    )
    doc = doc.join(units, on="doctor", how="left")
    drugs = drugs.join(doc.select("doctor", "drug_peers", "encounters"), on="doctor", how="inner").filter(
        pl.col("drug_peers").is_not_null()
    )
    ref = drugs.group_by("drug_peers", "med_list_codg").agg(pl.col("n").sum().alias("peer_n"))
    tot = doc.group_by("drug_peers").agg(pl.col("encounters").sum().alias("peer_enc"))
    drugs = (
        drugs.join(ref, on=["drug_peers", "med_list_codg"])
        .join(tot, on="drug_peers")
        .with_columns(
            (pl.col("n") / pl.col("encounters")).alias("share"),
            (
                (pl.col("peer_n") - pl.col("n"))
                / (pl.col("peer_enc") - pl.col("encounters")).clip(lower_bound=1)
            ).alias("ref"),
        )
        .with_columns(
            (pl.col("share") / pl.max_horizontal(pl.col("ref"), pl.lit(RATE_FLOOR))).alias("intensity")
        )
        .filter((pl.col("share") >= MIN_DRUG_SHARE) & (pl.col("n") >= MIN_DRUG_ENCOUNTERS))
        .sort(["doctor", "intensity"], descending=[False, True])
        .unique("doctor", keep="first")
        .select(
            "doctor",
            pl.col("med_list_codg").alias("top_drug"),
            pl.col("share").alias("top_share"),
            pl.col("ref").alias("top_ref"),
            "intensity",
        )
    )
    doc = doc.join(drugs, on="doctor", how="left").with_columns(
        pl.col("intensity").fill_null(0.0),
        (pl.col("amount") / pl.col("encounters")).alias("amount_per_encounter"),
        pl.col("units_per_drug_line").fill_null(1.0),
        (pl.col("acute") / pl.col("acute_patients").clip(lower_bound=1)).alias("visits_per_patient"),
    )
    grouped = pl.col("peers").is_not_null()
    for f in FEATURES:
        x = pl.col(f).cast(pl.Float64)
        floor = x.median().over("peers").abs() * FLOOR
        doc = doc.with_columns(
            pl.when(grouped).then(robust_z(x, "peers", floor=floor)).otherwise(0.0).alias(f"z_{f}"),
            x.median().over("peers").alias(f"m_{f}"),
        )
    return doc


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    doc = features(con)
    if doc.height == 0:
        return findings(MODEL, [])
    zcols = [f"z_{f}" for f in FEATURES]
    doc = doc.with_columns(pl.max_horizontal(zcols).alias("zmax")).filter(
        (pl.col("zmax") >= Z_FLAG) | (pl.col("intensity") >= MIN_INTENSITY)
    )
    rows: list[dict[str, object]] = []
    for d in doc.iter_rows(named=True):
        parts = []
        for f, name in FEATURES.items():
            z = d[f"z_{f}"]
            if z < Z_FLAG:
                continue
            if f == "amount_per_encounter":
                parts.append(
                    f"{name}{yuan(round(d[f]))}（同组中位数{yuan(round(d['m_' + f]))}，稳健z={z:.1f}）"
                )
            else:
                parts.append(f"{name}{d[f]:.2f}（同组中位数{d['m_' + f]:.2f}，稳健z={z:.1f}）")
        if d["intensity"] >= MIN_INTENSITY:
            parts.append(
                f"药品{d['top_drug']}用于{d['top_share']:.0%}的就诊（同组{d['top_ref']:.1%}，处方强度{d['intensity']:.0f}倍）"
            )
        median = d["m_amount_per_encounter"] if d["peers"] is not None else d["amount_per_encounter"]
        excess = max(0, round((d["amount_per_encounter"] - median) * d["encounters"]))
        sentence = (
            f"医师{d['doctor']}（{d['fixmedins_code']}，同组：{d['peers'] or d['drug_peers']}）{d['encounters']}人次门诊中"
            + "；".join(parts)
            + f"，高于同级同科室医师，估算超出{yuan(excess)}，疑似诊疗或处方异常"
        )
        ev = {
            "doctor": d["doctor"],
            "peers": d["peers"],
            "drug_peers": d["drug_peers"],
            "encounters": d["encounters"],
            "patients": d["patients"],
            "features": {f: round(float(d[f]), 4) for f in FEATURES},
            "peer_median": {f: round(float(d["m_" + f]), 4) if d["peers"] else None for f in FEATURES},
            "robust_z": {f: round(float(d["z_" + f]), 2) for f in FEATURES},
            "top_drug": {"code": d["top_drug"], "share": d["top_share"], "peer_share": d["top_ref"],
                         "intensity": round(float(d["intensity"]), 2)},
            "z_flag": Z_FLAG,
            "min_intensity": MIN_INTENSITY,
        }  # fmt: skip
        strength = max(float(d["zmax"]), float(d["intensity"]))
        rows.append(
            {
                "doctor": d["doctor"],
                "fixmedins_code": d["fixmedins_code"],
                "vola_amt": excess,
                "vola_cont": sentence,
                "evidence": evidence_json(ev),
                "score": strength / (1.0 + strength),
            }
        )
    return findings(MODEL, rows)


MODEL = Model(
    id="M-DOCTOR",
    name="医师诊疗处方异常",
    pattern="doctor_outlier",
    needs={
        "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "atddr_no", "dept_codg"),
        "fee_list_d": ("mdtrt_id", "med_list_codg", "med_chrgitm_type", "cnt", "det_item_fee_sumamt"),
    },
    optional={
        "medstaff_b": ("staff_codg", "fixmedins_code", "dept_codg"),
        "dept_b": ("fixmedins_code", "dept_codg", "caty"),
        "fixmedins_b": ("fixmedins_code", "hosp_lv"),
    },
    run=run,
    basis="医师处方强度、次均费用同级同科室比较（稳健z，supervision.md §4.2）",
)
