"""M-DOCTOR 医师诊疗/处方异常: a doctor far above the peers of the same department and hospital level.

For every doctor with at least ``MIN_ENCOUNTERS`` (20) outpatient encounters (门诊 and 门诊慢特病):

* two amount and quantity features, each compared with the doctor's peers by the robust
  z = (x − median) / (1.4826 · MAD), the scale floored at 5% of the median so that near-identical
  peers do not turn small differences into large z (a flag then needs at least 25% above the median):
  ``amount_per_encounter`` (次均费用 of ordinary visits — 门诊慢特病 amounts are the disease's, dialysis or
  特药 — its scale also floored at the doctor's own standard error, for a mean of heavy-tailed costs over
  few visits is noisy; flagged on only against the same 科别, a department family mixing case mixes) and ``units_per_drug_line`` (each drug line's quantity over that drug's usual
  quantity per line — herbs in grams and tablets in boxes alike; quantities inflated);
* the prescribing intensity of single drugs (医师处方强度): the share of the doctor's encounters that
  carry a drug over the share among the peers (the peers' rate without the doctor);
* repeated bills (重复就诊): ordinary visits of one patient with the same doctor whose bill — every item
  with its quantity, and the amount — repeats an earlier visit's exactly. Genuine acute visits almost
  never repeat to the unit (peers' median 0), so this is a count, not a z: at least ``MIN_REPEATS`` (5)
  repeats and ``MIN_REPEAT_SHARE`` (4%) of the doctor's ordinary visits;
* ``visits_per_patient`` (ordinary visits per patient) is reported with its z but not flagged on: wherever
  fraud is billed on top of a patient's genuine care, visits per patient rise, whoever the doctor.

The peers are the doctors of the same department category (科别, ``dept_b.caty``) at hospitals of the
same level (三级 / 二级 / 一级, ``fixmedins_b.hosp_lv``), else — fewer than ``MIN_PEERS`` doctors — all
doctors of the same department family (the first three characters of the 科别) at that level; the
family's medians, spreads and drug rates are over all its doctors, whatever their own group, and a drug
the doctor's own 科别 colleagues use as much is their case mix. A doctor with neither (an emergency
department of two doctors) is compared only where the department does not matter: drug quantities per
line against every doctor of the level, and repeated bills (levels differ in prices and formularies,
departments in case mix: a small or mixed group says nothing about one member).

A doctor is flagged when one robust z reaches ``Z_FLAG`` (5: heavy-tailed features over hundreds of
doctors call for a stricter cut than the single-variable 3.5 of Iglewicz and Hoaglin; clean doctors'
largest z stayed below 3.5 on regions of several seeds and fraud rates), when one drug is on at least
``MIN_DRUG_SHARE`` (10%) — and ``MIN_DRUG_ENCOUNTERS`` (8) — of the doctor's encounters at
``MIN_INTENSITY`` (5) times or more the peers' rate (the doctor's share taken at the lower end of its
95% Wilson interval, so that 10 prescriptions in 70 visits do not weigh like 100 in 700), on repeated
bills, or when several signals are each partly there: the sum of z/5, intensity/5 and repeat share/4%
(each at most 1) reaches ``COMBINED`` (2). The cuts were checked on synthetic regions of different
seeds, sizes, fraud rates and injected intensities (clean doctors' combined evidence stayed below 1.4,
their intensity below 2.6). Encounters of card bursts (many cards
within minutes, M-IDENT) are left out of the statistics: they are their own finding. The violation
amount is an estimate: the ordinary visits' amount above the peer median, or at least the amount of the
repeated visits.

Before::

    D011: 180 visits, ¥210 per visit, 脑心通胶囊 in 70% of visits (peers: ¥85, 2%)

After::

    M-DOCTOR  doctor D011  "…次均费用210.00元（同组中位数85.00元，稳健z=9.1）；药品…用于70%的就诊（同组2%）…"

>>> MODEL.id, Z_FLAG, MIN_PEERS, MIN_INTENSITY, MIN_REPEATS, COMBINED
('M-DOCTOR', 5.0, 5, 5.0, 5, 2.0)
"""

# ruff: noqa: S608 - SQL text is built from code constants, schema names and quoted paths, never from input

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from yibao.supervision.kb import default_kb
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
Z_FLAG = 5.0
MIN_DRUG_SHARE = 0.1
MIN_DRUG_ENCOUNTERS = 8
"""…and on at least this many encounters: a handful of prescriptions is no prescribing pattern."""
MIN_INTENSITY = 5.0
WILSON_Z = 1.96
"""The intensity is the lower end of the 95% Wilson interval of the doctor's share over the peers' rate."""
CHRONIC = ("14", "15")
"""门诊慢特病 / 特药: repeat visits are the norm there, so visits per patient counts the other visits."""
RATE_FLOOR = 0.01
"""The peers' rate of a drug is taken as at least 1% (so "never" does not divide by zero)."""
FLOOR = 0.05
"""The robust scale is at least 5% of the peer median: a flag (z ≥ 5) needs at least 25% above it."""
COMBINED = 2.0
"""Flag on several partial signals: Σ min(1, z/Z_FLAG, intensity/MIN_INTENSITY, repeat share/MIN_REPEAT_SHARE)."""
MIN_REPEATS = 5
MIN_REPEAT_SHARE = 0.04
"""Repeated bills: at least this many, and this share of the doctor's ordinary visits."""
FEATURES = {
    "amount_per_encounter": "次均费用",
    "units_per_drug_line": "单条药品数量",
    "visits_per_patient": "人均就诊次数",
}
FLAGGED = ("amount_per_encounter", "units_per_drug_line")
"""The features a doctor is flagged on (visits per patient is reported only)."""
_LV = {"01": "3", "02": "3", "03": "3", "04": "3", "05": "2", "06": "2", "07": "2"}


def _query(summary: str, bursts: str) -> str:
    visits = sql_list(OUTPATIENT_MED_TYPES)
    return f"""
SELECT m.atddr_no AS doctor, COUNT(*) AS encounters, COUNT(DISTINCT m.psn_no) AS patients,
       MIN(m.begntime) AS first, MAX(m.begntime) AS last,
       CAST(SUM(e.amt) AS BIGINT) AS amount,
       CAST(SUM(CASE WHEN m.med_type IN {sql_list(CHRONIC)} THEN 0 ELSE e.amt END) AS BIGINT) AS acute_amount,
       STDDEV_SAMP(CASE WHEN m.med_type IN {sql_list(CHRONIC)} THEN NULL ELSE CAST(e.amt AS DOUBLE) END) AS acute_sd,
       SUM(CASE WHEN m.med_type IN {sql_list(CHRONIC)} THEN 0 ELSE 1 END) AS acute,
       COUNT(DISTINCT CASE WHEN m.med_type IN {sql_list(CHRONIC)} THEN NULL ELSE m.psn_no END) AS acute_patients
FROM mdtrt_d m JOIN {summary} e ON e.mdtrt_id = m.mdtrt_id
LEFT JOIN {bursts} b ON b.mdtrt_id = m.mdtrt_id
WHERE m.med_type IN {visits} AND m.atddr_no IS NOT NULL AND m.atddr_no <> '' AND b.mdtrt_id IS NULL
GROUP BY m.atddr_no
"""


def _repeat_query(summary: str, bursts: str) -> str:
    """Per doctor: ordinary visits whose patient, bill (items × quantities), line count and amount repeat
    an earlier visit with the same doctor, and the amount of those repeats."""
    visits = sql_list(tuple(t for t in OUTPATIENT_MED_TYPES if t not in CHRONIC))
    return f"""
SELECT doctor, CAST(SUM(k - 1) AS BIGINT) AS repeats, CAST(SUM((k - 1) * amt) AS BIGINT) AS repeat_amount
FROM (SELECT m.atddr_no AS doctor, m.psn_no, e.bill, e.lines, e.amt, COUNT(*) AS k
      FROM mdtrt_d m JOIN {summary} e ON e.mdtrt_id = m.mdtrt_id
      LEFT JOIN {bursts} b ON b.mdtrt_id = m.mdtrt_id
      WHERE m.med_type IN {visits} AND m.atddr_no IS NOT NULL AND m.atddr_no <> '' AND b.mdtrt_id IS NULL
      GROUP BY m.atddr_no, m.psn_no, e.bill, e.lines, e.amt) g
WHERE k > 1
GROUP BY doctor
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
    summary = encounter_summary(con)
    everyone = fetch(con, _query(summary, bursts))
    doc = everyone.filter(pl.col("encounters") >= MIN_ENCOUNTERS)
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
    placed = [
        pl.col("caty").fill_null(""),
        pl.col("lv").fill_null("1"),
        pl.col("fixmedins_code").fill_null(""),
    ]
    doc = _peer_groups(doc.join(homes, on="doctor", how="left").with_columns(placed))
    pool = (
        everyone.join(homes, on="doctor", how="left")
        .with_columns(placed)
        .select("doctor", "lv", "caty", pl.col("caty").str.slice(0, 3).alias("family"), "encounters")
    )
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
    repeats = fetch(con, _repeat_query(summary, bursts))
    doc = (
        doc.join(units, on="doctor", how="left")
        .join(_top_drugs(doc, drugs, pool), on="doctor", how="left")
        .join(repeats, on="doctor", how="left")
        .with_columns(
            pl.col("intensity").fill_null(0.0),
            (pl.col("acute_amount") / pl.col("acute").clip(lower_bound=1)).alias("amount_per_encounter"),
            pl.col("units_per_drug_line").fill_null(1.0),
            (pl.col("acute") / pl.col("acute_patients").clip(lower_bound=1)).alias("visits_per_patient"),
            pl.col("repeats").fill_null(0),
            pl.col("repeat_amount").fill_null(0),
        )
        .with_columns((pl.col("repeats") / pl.col("acute").clip(lower_bound=1)).alias("repeat_share"))
    )
    # the mean amount of a doctor's visits is noisy (heavy-tailed costs): its standard error floors the scale
    doc = doc.with_columns(
        (pl.col("acute_sd").fill_null(0.0) / pl.col("acute").clip(lower_bound=1).sqrt()).alias("se")
    )
    for f in FEATURES:
        noise = pl.col("se") if f == "amount_per_encounter" else None
        doc = doc.with_columns(
            _robust(pl.col(f).cast(pl.Float64), level_wide=f == "units_per_drug_line", name=f, noise=noise)
        )
    return doc


def _peer_groups(doc: pl.DataFrame) -> pl.DataFrame:
    """The peer group of each doctor: ``tier`` 1 = same level and 科别, 2 = same level and department
    family, 0 = neither (``peers`` names the group, None for tier 0)."""
    return (
        doc.with_columns(pl.col("caty").str.slice(0, 3).alias("family"))
        .with_columns(pl.len().over("lv", "caty").alias("n1"), pl.len().over("lv", "family").alias("n2"))
        .with_columns(
            pl.when(pl.col("n1") >= MIN_PEERS)
            .then(1)
            .when(pl.col("n2") >= MIN_PEERS)
            .then(2)
            .otherwise(0)
            .alias("tier")
        )
        .with_columns(
            pl.when(pl.col("tier") == 1)
            .then(pl.concat_str(pl.col("lv"), pl.lit("级/科别"), pl.col("caty")))
            .when(pl.col("tier") == 2)
            .then(pl.concat_str(pl.col("lv"), pl.lit("级/科别"), pl.col("family"), pl.lit("*")))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias("peers"),
        )
    )


def _robust(x: pl.Expr, *, level_wide: bool, name: str, noise: pl.Expr | None = None) -> list[pl.Expr]:
    """z and median of one feature against each doctor's peers (the whole family for tier 2; the whole
    level for tier 0 when ``level_wide``); ``noise`` (the doctor's own standard error) floors the scale."""
    tiers = [(1, ["lv", "caty"]), (2, ["lv", "family"])] + ([(0, ["lv"])] if level_wide else [])
    z = pl.lit(0.0)
    med = pl.lit(None, dtype=pl.Float64)
    for tier, over in reversed(tiers):
        m = x.median().over(over)
        here = pl.col("tier") == tier
        floor = m.abs() * FLOOR if noise is None else pl.max_horizontal(m.abs() * FLOOR, noise)
        z = pl.when(here).then(robust_z(x, over, floor=floor)).otherwise(z)
        med = pl.when(here).then(m).otherwise(med)
    return [z.alias(f"z_{name}"), med.alias(f"m_{name}")]


def _top_drugs(doc: pl.DataFrame, drugs: pl.DataFrame, pool: pl.DataFrame) -> pl.DataFrame:
    """Each doctor's most intensely prescribed drug against the peers' rate (the peer group without the
    doctor, its rate over every doctor of the group in ``pool``, however few their encounters), among
    drugs on at least MIN_DRUG_SHARE and MIN_DRUG_ENCOUNTERS of the doctor's encounters.

    Compared with the department family (tier 2), the rate is the higher of the family's and that of the
    doctor's own 科别 colleagues, however few: a drug the 科别 uses as much (iron for 血液内科 among 内科) is
    its case mix, not the doctor's."""
    who = doc.filter(pl.col("tier") > 0).select("doctor", "lv", "caty", "family", "tier", "encounters")
    if who.height == 0:
        return pl.DataFrame(schema={"doctor": pl.String, "top_drug": pl.String, "top_share": pl.Float64,
                                    "top_ref": pl.Float64, "intensity": pl.Float64})  # fmt: skip
    d = drugs.join(who, on="doctor", how="inner")
    everyone = drugs.join(pool.drop("encounters"), on="doctor", how="inner")
    for key in ("caty", "family"):
        n = everyone.group_by("lv", key, "med_list_codg").agg(pl.col("n").sum().alias(f"{key}_n"))
        enc = pool.group_by("lv", key).agg(pl.col("encounters").sum().alias(f"{key}_enc"))
        d = d.join(n, on=["lv", key, "med_list_codg"]).join(enc, on=["lv", key])
    others = {key: pl.col(f"{key}_enc") - pl.col("encounters") for key in ("caty", "family")}
    rate = {
        key: pl.when(others[key] > 0).then((pl.col(f"{key}_n") - pl.col("n")) / others[key]).otherwise(0.0)
        for key in others
    }
    ref = (
        pl.when(pl.col("tier") == 1)
        .then(rate["caty"])
        .otherwise(pl.max_horizontal(rate["family"], rate["caty"]))
    )
    return (
        d.with_columns((pl.col("n") / pl.col("encounters")).alias("share"), ref.alias("ref"))
        .with_columns(
            (wilson_lower(pl.col("share"), pl.col("encounters")) / pl.max_horizontal(pl.col("ref"), pl.lit(RATE_FLOOR)))
            .alias("intensity")
        )
        .filter((pl.col("share") >= MIN_DRUG_SHARE) & (pl.col("n") >= MIN_DRUG_ENCOUNTERS))
        .sort(["doctor", "intensity", "med_list_codg"], descending=[False, True, False])
        .unique("doctor", keep="first")
        .select("doctor", pl.col("med_list_codg").alias("top_drug"), pl.col("share").alias("top_share"),
                pl.col("ref").alias("top_ref"), "intensity")
    )  # fmt: skip


def wilson_lower(share: pl.Expr, n: pl.Expr, z: float = WILSON_Z) -> pl.Expr:
    """The lower end of the Wilson score interval of a share observed over ``n`` encounters: a share
    seen on few encounters counts for less than the same share seen on many.

    >>> df = pl.DataFrame({"p": [0.2, 0.2], "n": [40, 1000]})
    >>> [round(x, 3) for x in df.select(wilson_lower(pl.col("p"), pl.col("n"))).to_series()]
    [0.105, 0.176]
    """
    z2 = z * z
    centre = share + z2 / (2 * n)
    spread = z * (share * (1 - share) / n + z2 / (4 * n * n)).sqrt()
    return (centre - spread) / (1 + z2 / n)


def _flag_z(f: str) -> pl.Expr:
    """The z a doctor is flagged on: 次均费用 only against the same 科别 (a department family mixes case
    mixes: a 血液内科 doctor's infusions are dear among 内科), quantities against any peer group."""
    z = pl.col(f"z_{f}")
    return pl.when(pl.col("tier") == 1).then(z).otherwise(0.0) if f == "amount_per_encounter" else z


def _flagged(doc: pl.DataFrame) -> pl.DataFrame:
    doc = doc.with_columns(_flag_z(f).alias(f"flag_{f}") for f in FLAGGED)
    zcols = [f"flag_{f}" for f in FLAGGED]
    repeated = (pl.col("repeats") >= MIN_REPEATS) & (pl.col("repeat_share") >= MIN_REPEAT_SHARE)
    partial = [
        *(pl.col(c) / Z_FLAG for c in zcols),
        pl.col("intensity") / MIN_INTENSITY,
        pl.when(pl.col("repeats") >= 3).then(pl.col("repeat_share") / MIN_REPEAT_SHARE).otherwise(0.0),
    ]
    evidence = pl.sum_horizontal(p.clip(0.0, 1.0) for p in partial)
    return doc.with_columns(
        pl.max_horizontal(zcols).alias("zmax"), repeated.alias("repeated"), evidence.alias("combined")
    ).filter(
        (pl.col("zmax") >= Z_FLAG)
        | (pl.col("intensity") >= MIN_INTENSITY)
        | pl.col("repeated")
        | (pl.col("combined") >= COMBINED)
    )


PARTIAL = 0.3
"""A signal at least this far towards its cut is named when several together flag a doctor."""


def _reasons(d: dict[str, Any]) -> list[str]:
    """The signals that flag the doctor — the full ones, else (combined evidence) the partial ones."""
    full = _signals(d, 1.0)
    if full:
        return full
    return [*_signals(d, PARTIAL), f"多项指标同时偏高（综合证据{d['combined']:.1f}，阈值{COMBINED:.0f}）"]


def _signals(d: dict[str, Any], at: float) -> list[str]:
    parts = []
    for f in FLAGGED:
        z = float(d[f"flag_{f}"])
        if z < at * Z_FLAG:
            continue
        x, m, name = float(d[f]), float(d["m_" + f]), FEATURES[f]
        if f == "amount_per_encounter":
            parts.append(f"{name}{yuan(round(x))}（同组中位数{yuan(round(m))}，稳健z={z:.1f}）")
        else:
            parts.append(f"{name}{x:.2f}（同组中位数{m:.2f}，稳健z={z:.1f}）")
    if float(d["intensity"]) >= at * MIN_INTENSITY:
        drug = str(d["top_drug"])
        parts.append(
            f"药品「{default_kb().name(drug)}」（{drug}）用于{d['top_share']:.0%}的就诊"
            f"（同组{d['top_ref']:.1%}，处方强度{d['intensity']:.1f}倍）"
        )
    full = at >= 1.0
    if (d["repeated"] and full) or (
        not full and d["repeats"] >= 3 and d["repeat_share"] >= at * MIN_REPEAT_SHARE
    ):
        parts.append(
            f"同一患者费用明细完全相同的重复就诊{d['repeats']}次（占普通门诊{d['repeat_share']:.1%}，"
            f"金额{yuan(int(d['repeat_amount']))}）"
        )
    return parts


def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    doc = features(con)
    if doc.height == 0:
        return findings(MODEL, [])
    rows: list[dict[str, object]] = []
    for d in _flagged(doc).iter_rows(named=True):
        median = (
            d["m_amount_per_encounter"]
            if d["m_amount_per_encounter"] is not None
            else d["amount_per_encounter"]
        )
        excess = max(
            0,
            round((d["amount_per_encounter"] - median) * d["encounters"]),
            d["repeat_amount"] if d["repeated"] else 0,
        )
        sentence = (
            f"医师{d['doctor']}（{d['fixmedins_code']}，同组：{d['peers'] or d['lv'] + '级全部科别'}）"
            f"{d['first'].date()} 至 {d['last'].date()} {d['encounters']}人次门诊中"
            + "；".join(_reasons(d))
            + f"，高于同级同科室医师，估算超出{yuan(excess)}，疑似诊疗或处方异常，依据模型「{MODEL_NAME}」（M-DOCTOR）"
        )
        ev = {
            "doctor": d["doctor"],
            "peers": d["peers"],
            "tier": d["tier"],
            "encounters": d["encounters"],
            "patients": d["patients"],
            "features": {f: round(float(d[f]), 4) for f in FEATURES},
            "peer_median": {f: None if d["m_" + f] is None else round(float(d["m_" + f]), 4) for f in FEATURES},
            "robust_z": {f: round(float(d["z_" + f]), 2) for f in FEATURES},
            "top_drug": {"code": d["top_drug"], "share": d["top_share"], "peer_share": d["top_ref"],
                         "intensity": round(float(d["intensity"]), 2)},
            "repeats": {"visits": d["repeats"], "share": round(float(d["repeat_share"]), 4), "amount": d["repeat_amount"]},
            "combined": round(float(d["combined"]), 3),
            "z_flag": Z_FLAG,
            "min_intensity": MIN_INTENSITY,
        }  # fmt: skip
        strength = max(
            float(d["zmax"]),
            float(d["intensity"]),
            Z_FLAG if d["repeated"] else 0.0,
            3 * float(d["combined"]),
        )
        rows.append(
            {
                "doctor": d["doctor"],
                "fixmedins_code": d["fixmedins_code"],
                "vola_amt": excess,
                "vola_cont": sentence,
                "evidence": evidence_json(ev),
                "score": round(strength / (1.0 + strength), 6),  # the same digits whatever order the sums ran in
            }
        )
    return findings(MODEL, rows)


MODEL_NAME = "医师诊疗处方异常"
MODEL = Model(
    id="M-DOCTOR",
    name=MODEL_NAME,
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
