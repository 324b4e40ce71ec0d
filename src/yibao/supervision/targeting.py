"""Inspection targeting (飞行检查): the indicators of supervision.md §4.2 per institution and month, compared
within peer groups by robust z, and a ranked list whose reasons a reader can see.

Indicators (:data:`INDICATORS`, data not code: each has a label, a unit, a direction, the least volume it
needs and a floor on its scale) are computed with DuckDB over the dataset's Parquet files (CSV tables go
through :func:`yibao.dataset.io.read_table`) and the findings: 次均费用 and 次均统筹, fund growth (month on
month, and year on year when the dataset has the month a year before), 平均住院日, 日均费用, 床位使用率,
短住院占比, 15天再入院率, 在院期间他处结算占比, 收住院率, 药占比, 耗占比, 检查检验占比, 乙丙类占比, 夜间结算占比,
同金额结算占比, 聚集刷卡, 参保单位集中住院, 人次人头比, 追溯码采集率, 重复追溯码率, and from the findings 规则命中率,
疑点数 and 违规金额 per 10,000 yuan of fees. An indicator whose table or column is absent is skipped and
listed (:attr:`Indicators.skipped`); a value whose denominator is below the indicator's minimum is null.

Peer groups are level × type (:func:`peer_group`: 三级医院, 二级医院, 一级及以下医院, 诊所门诊部, 药店). Within a
group and month, ``z = direction × (x − median) / scale`` with ``scale = 1.4826 × MAD`` — falling back to
``1.2533 × mean absolute deviation`` when the MAD is 0 — and never below the indicator's floors (an
absolute one and a share of the median), so that a tiny difference in a near-constant group does not look
huge. A group with fewer than ``min_peers`` values is compared with its broad group (all medical
institutions, or all pharmacies) instead.

The score of an institution-month is ``Σ weight × min(z, cap)`` over its indicators with ``z ≥ z_min``
plus ``trigger_points`` per hard trigger (a traceability code settled twice, beds above 120 %); the
reasons name the largest contributions in a sentence.

>>> from datetime import date
>>> frame = pl.DataFrame({"fixmedins_code": ["H1", "H2", "H3", "H4", "H5", "H6"],
...     "fixmedins_name": ["甲", "乙", "丙", "丁", "戊", "己"], "peer_group": ["二级医院"] * 6,
...     "month": [date(2024, 5, 1)] * 6, "drug_share": [0.30, 0.32, 0.31, 0.29, 0.33, 0.71]})
>>> top = rank_indicators(frame).row(0, named=True)
>>> top["fixmedins_code"], top["reasons"]
('H6', '药占比 71.0%（同组中位 31.5%，z = 13.2）')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
import pyarrow.parquet as pq

from yibao.codes import MED_TYPE, coarse_hosp_lv, visit_kind
from yibao.dataset.io import DatasetError, read_table, table_path
from yibao.supervision.findings import vola_fen

__all__ = [
    "INDICATORS",
    "PEER_GROUPS",
    "TRIGGERS",
    "Indicator",
    "Indicators",
    "Trigger",
    "compute_indicators",
    "inspection_ranking",
    "peer_group",
    "rank_indicators",
]

PEER_GROUPS = ("三级医院", "二级医院", "一级及以下医院", "诊所门诊部", "药店")
BROAD = {
    "三级医院": "医疗机构",
    "二级医院": "医疗机构",
    "一级及以下医院": "医疗机构",
    "诊所门诊部": "医疗机构",
    "药店": "药店",
}


def peer_group(fixmedins_type: str | None, hosp_lv: str | None, bed_cnt: int | None) -> str:
    """The peer group of an institution: level × type.

    >>> peer_group("1", "02", 900), peer_group("1", "06", 300), peer_group("1", "", 40)
    ('三级医院', '二级医院', '一级及以下医院')
    >>> peer_group("1", "", 0), peer_group("2", "", 0)
    ('诊所门诊部', '药店')
    """
    if fixmedins_type == "2":
        return "药店"
    lv = coarse_hosp_lv(hosp_lv or None)
    if lv == "3":
        return "三级医院"
    if lv == "2":
        return "二级医院"
    if (hosp_lv or "") in ("08", "09", "10") or (bed_cnt or 0) > 0:
        return "一级及以下医院"
    return "诊所门诊部"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One targeting indicator.

    Attributes:
        id: column name in the frames.
        label: its name in Chinese, as in supervision.md §4.2.
        unit: how to show a value — ``fen`` (an average amount in fen), ``share`` (0–1, shown as %),
            ``days``, ``ratio``, ``per10k`` (per 10,000 yuan of fees), ``growth`` (shown as %).
        direction: +1 when high is suspicious, −1 when low is.
        den: the column holding its denominator; ``min_den`` the least denominator for a value.
        min_scale / rel_scale: floors on the z scale, absolute and as a share of |median|.
        weight: its weight in the score.
        needs: the tables it reads.
    """

    id: str
    label: str
    unit: str
    direction: int
    den: str
    min_den: int
    min_scale: float
    rel_scale: float = 0.0
    weight: float = 1.0
    needs: tuple[str, ...] = ()


_S = ("setl_d",)
_M = ("mdtrt_d",)
_F = ("fee_list_d",)
INDICATORS: tuple[Indicator, ...] = (
    Indicator("avg_fee_visit", "次均门诊（购药）费用", "fen", 1, "n_visit", 20, 500.0, 0.05, needs=_S),
    Indicator("avg_fee_stay", "次均住院费用", "fen", 1, "n_stay_setl", 10, 10_000.0, 0.05, needs=_S),
    Indicator("avg_fund", "次均统筹支付", "fen", 1, "n_setl", 20, 500.0, 0.05, needs=_S),
    Indicator("fund_mom", "统筹支付环比增长", "growth", 1, "prev_n_setl", 20, 0.10, needs=_S),
    Indicator("fund_yoy", "统筹支付同比增长", "growth", 1, "prev12_n_setl", 20, 0.10, needs=_S),
    Indicator("visits_per_person", "人次人头比", "ratio", 1, "n_setl", 20, 0.05, 0.05, needs=_S),
    Indicator("night_share", "夜间结算占比", "share", 1, "n_setl", 20, 0.01, needs=_S),
    Indicator("same_amount_share", "同金额结算占比", "share", 1, "n_setl", 20, 0.03, needs=_S),
    Indicator("burst_ratio", "聚集刷卡（单小时最多人数/平均）", "ratio", 1, "active_hours", 20, 0.5, 0.10, needs=_S),
    Indicator("alos", "平均住院日", "days", 1, "n_dscg", 10, 0.5, 0.05, needs=_M),
    Indicator("daily_fee", "日均住院费用", "fen", 1, "bed_days_stays", 30, 2_000.0, 0.05, needs=(*_M, *_F)),
    Indicator("short_stay_share", "短住院（≤2天）占比", "share", 1, "n_dscg", 10, 0.03, needs=_M),
    Indicator("readmit15", "15天再入院率", "share", 1, "n_dscg", 10, 0.02, needs=_M),
    Indicator("in_stay_other", "在院期间他处结算占比", "share", 1, "n_dscg", 10, 0.02, needs=_M),
    Indicator("bed_use", "床位使用率", "share", 1, "bed_cnt", 1, 0.05, needs=(*_M, "fixmedins_b")),
    Indicator("admission_rate", "收住院率", "share", 1, "n_outpatient", 30, 0.01, 0.05, needs=_M),
    Indicator("employer_share", "参保单位集中住院（单一单位占比）", "share", 1, "n_adm_emp", 10, 0.05, needs=(*_M, "psn_info_b")),
    Indicator("drug_share", "药占比", "share", 1, "n_lines", 20, 0.03, needs=_F),
    Indicator("consumable_share", "耗占比", "share", 1, "n_lines", 20, 0.03, needs=_F),
    Indicator("exam_share", "检查检验费占比", "share", 1, "n_lines", 20, 0.03, needs=_F),
    Indicator("yibing_share", "乙类丙类项目费用占比", "share", 1, "n_lines", 20, 0.03, needs=_F),
    Indicator("trace_rate", "追溯码采集率", "share", -1, "n_drug_lines", 20, 0.05, needs=(*_F, "drug_trac_d")),
    Indicator("dup_trace_share", "重复追溯码率", "share", 1, "n_codes", 10, 0.005, needs=("drug_trac_d",)),
    Indicator("hit_rate", "规则命中率", "share", 1, "n_lines", 20, 0.005, weight=1.0, needs=("findings", *_F)),
    Indicator("findings_per_10k", "每万元费用疑点数", "per10k", 1, "n_lines", 20, 0.5, 0.10, needs=("findings", *_F)),
    Indicator("vola_per_10k", "每万元费用违规金额（元）", "per10k", 1, "n_lines", 20, 20.0, 0.10, needs=("findings", *_F)),
)  # fmt: skip
"""The indicators, in the order they are shown."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """A hard trigger: ``column ≥ threshold`` (or ``>``) adds points and a reason of its own."""

    column: str
    threshold: float
    strict: bool
    text: str  # with {value} (formatted by the trigger's unit)
    unit: str = "count"


TRIGGERS: tuple[Trigger, ...] = (
    Trigger("dup_codes", 1, False, "重复结算追溯码 {value} 个"),
    Trigger("bed_use", 1.2, True, "床位使用率 {value}（超过120%）", "share"),
)


class Indicators(NamedTuple):
    """Indicator values per institution-month (``frame``) and the indicators skipped for missing data."""

    frame: pl.DataFrame
    skipped: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Computing the indicators
# ---------------------------------------------------------------------------------------------

_COLUMNS: dict[str, tuple[str, ...]] = {
    "fixmedins_b": ("fixmedins_code", "fixmedins_name", "fixmedins_type", "hosp_lv", "bed_cnt"),
    "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime", "endtime"),
    "fee_list_d": ("feedetl_sn", "mdtrt_id", "fixmedins_code", "med_list_codg", "med_chrgitm_type", "fee_ocur_time",
                   "det_item_fee_sumamt"),
    "setl_d": ("setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "setl_time", "med_type", "medfee_sumamt",
               "fund_pay_sumamt", "refd_setl_flag"),
    "drug_trac_d": ("drug_trac_codg", "feedetl_sn", "fixmedins_code", "sel_time", "retn_flag"),
    "psn_info_b": ("psn_no", "emp_no"),
}  # fmt: skip
_MONEY = {"det_item_fee_sumamt", "medfee_sumamt", "fund_pay_sumamt"}


def _register(con: duckdb.DuckDBPyConnection, folder: Path, name: str) -> str | None:
    """A view ``name`` over the table with money as BIGINT fen; the reason when it cannot be made."""
    try:
        path = table_path(folder, name)
    except DatasetError:
        return f"{name} 缺失"
    cols = _COLUMNS[name]
    if path.suffix == ".csv":
        have = set(pl.read_csv(path, n_rows=0).columns)
    else:
        have = set(pq.read_schema(path).names)
    missing = [c for c in cols if c not in have]
    if missing:
        return f"{name} 缺少列 {', '.join(missing)}"
    if path.suffix == ".csv":
        con.register(f"_{name}", read_table(folder, name, cols).to_arrow())
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}")  # noqa: S608 - fixed table names
        return None
    select = ", ".join(f"CAST({c} * 100 AS BIGINT) AS {c}" if c in _MONEY else c for c in cols)
    src = str(path).replace("'", "''")
    con.execute(f"CREATE VIEW {name} AS SELECT {select} FROM read_parquet('{src}')")  # noqa: S608
    return None


def _catalogue_levels() -> pl.DataFrame:
    from yibao.catalog.loader import default_catalog

    latest: dict[str, str] = {}
    for item in sorted(default_catalog().items(), key=lambda i: i.begndate):
        latest[item.med_list_codg] = item.chrgitm_lv
    return pl.DataFrame({"med_list_codg": list(latest), "chrgitm_lv": list(latest.values())})


_SQL_SETTLEMENTS = """
WITH s AS (
    SELECT st.*, coalesce(k.kind, 'outpatient') AS kind,
           count(*) OVER (PARTITION BY fixmedins_code, month, medfee) AS same_n
    FROM st LEFT JOIN kinds k USING (med_type))
SELECT fixmedins_code, month,
       count(*) AS n_setl, count(DISTINCT psn_no) AS n_psn, sum(medfee) AS medfee, sum(fund) AS fund,
       count(*) FILTER (WHERE kind <> 'inpatient') AS n_visit,
       avg(medfee) FILTER (WHERE kind <> 'inpatient') AS avg_fee_visit,
       count(*) FILTER (WHERE kind = 'inpatient') AS n_stay_setl,
       avg(medfee) FILTER (WHERE kind = 'inpatient') AS avg_fee_stay,
       avg(fund) AS avg_fund,
       avg(CASE WHEN hour(t) >= 22 OR hour(t) < 6 THEN 1.0 ELSE 0.0 END) AS night_share,
       avg(CASE WHEN same_n >= 2 THEN 1.0 ELSE 0.0 END) AS same_amount_share,
       count(*) / count(DISTINCT psn_no) AS visits_per_person
FROM s GROUP BY fixmedins_code, month
"""

_SQL_BURST = """
WITH h AS (SELECT fixmedins_code, month, date_trunc('hour', t) AS hr, count(DISTINCT psn_no) AS p
           FROM st GROUP BY ALL)
SELECT fixmedins_code, month, max(p) / avg(p) AS burst_ratio, max(p) AS burst_max, count(*) AS active_hours
FROM h GROUP BY fixmedins_code, month
"""

_SQL_STAYS = """
WITH n AS (SELECT *, lead(b) OVER (PARTITION BY psn_no ORDER BY b, mdtrt_id) AS next_b FROM stay)
SELECT fixmedins_code, month, count(*) AS n_dscg, avg(los) AS alos,
       avg(CASE WHEN los <= 2 THEN 1.0 ELSE 0.0 END) AS short_stay_share,
       avg(CASE WHEN next_b >= e AND date_diff('day', e::DATE, next_b::DATE) <= 15 THEN 1.0 ELSE 0.0 END) AS readmit15,
       sum(los) AS bed_days_stays
FROM n GROUP BY fixmedins_code, month
"""

_SQL_DAILY_FEE = """
SELECT s.fixmedins_code, s.month, sum(coalesce(fm.fee, 0)) / sum(s.los) AS daily_fee
FROM stay s LEFT JOIN fee_by_mdtrt fm USING (mdtrt_id) GROUP BY s.fixmedins_code, s.month
"""

_SQL_IN_STAY = """
WITH o AS (SELECT m.psn_no, m.mdtrt_id, m.begntime FROM mdtrt_d m JOIN kinds k USING (med_type)
           WHERE k.kind <> 'inpatient')
SELECT s.fixmedins_code, s.month,
       count(DISTINCT s.mdtrt_id) FILTER (WHERE o.mdtrt_id IS NOT NULL) / count(DISTINCT s.mdtrt_id) AS in_stay_other
FROM stay s LEFT JOIN o ON o.psn_no = s.psn_no AND o.begntime > s.b AND o.begntime < s.e
GROUP BY s.fixmedins_code, s.month
"""

_SQL_BEDS = """
WITH months AS (
    SELECT CAST(x AS DATE) AS month FROM generate_series(
        (SELECT min(month) FROM stay), (SELECT max(month) FROM stay), INTERVAL 1 MONTH) AS g(x)),
occ AS (
    SELECT s.fixmedins_code, mo.month,
           sum(greatest(0, date_diff('day', greatest(s.b::DATE, mo.month),
                                     least(s.e::DATE, CAST(mo.month + INTERVAL 1 MONTH AS DATE))))) AS bed_days
    FROM stay s JOIN months mo ON s.b::DATE < CAST(mo.month + INTERVAL 1 MONTH AS DATE) AND s.e::DATE > mo.month
    GROUP BY ALL)
SELECT o.fixmedins_code, o.month, f.bed_cnt,
       o.bed_days / (f.bed_cnt * date_diff('day', o.month, CAST(o.month + INTERVAL 1 MONTH AS DATE))) AS bed_use
FROM occ o JOIN fixmedins_b f USING (fixmedins_code) WHERE f.bed_cnt > 0
"""

_SQL_ADMISSIONS = """
SELECT m.fixmedins_code, date_trunc('month', m.begntime)::DATE AS month,
       count(*) FILTER (WHERE k.kind IN ('outpatient', 'chronic')) AS n_outpatient,
       count(*) FILTER (WHERE k.kind = 'inpatient')
           / nullif(count(*) FILTER (WHERE k.kind IN ('outpatient', 'chronic')), 0) AS admission_rate
FROM mdtrt_d m JOIN kinds k USING (med_type) GROUP BY ALL
"""

_SQL_EMPLOYER = """
WITH a AS (SELECT s.fixmedins_code, date_trunc('month', s.b)::DATE AS month, p.emp_no
           FROM stay s JOIN psn_info_b p USING (psn_no)),
t AS (SELECT fixmedins_code, month, count(*) AS n FROM a GROUP BY ALL),
e AS (SELECT fixmedins_code, month, max(c) AS top FROM
        (SELECT fixmedins_code, month, emp_no, count(*) AS c FROM a WHERE coalesce(emp_no, '') <> '' GROUP BY ALL)
      GROUP BY ALL)
SELECT t.fixmedins_code, t.month, t.n AS n_adm_emp, coalesce(e.top, 0) / t.n AS employer_share
FROM t LEFT JOIN e USING (fixmedins_code, month)
"""

_SQL_FEES = """
SELECT f.fixmedins_code, date_trunc('month', f.fee_ocur_time)::DATE AS month, count(*) AS n_lines,
       sum(f.det_item_fee_sumamt) AS fee,
       sum(f.det_item_fee_sumamt) FILTER (WHERE f.med_chrgitm_type IN ('09', '10', '11')) / nullif(sum(f.det_item_fee_sumamt), 0) AS drug_share,
       sum(f.det_item_fee_sumamt) FILTER (WHERE f.med_chrgitm_type = '08') / nullif(sum(f.det_item_fee_sumamt), 0) AS consumable_share,
       sum(f.det_item_fee_sumamt) FILTER (WHERE f.med_chrgitm_type IN ('03', '04')) / nullif(sum(f.det_item_fee_sumamt), 0) AS exam_share,
       sum(f.det_item_fee_sumamt) FILTER (WHERE c.chrgitm_lv IS NULL OR c.chrgitm_lv IN ('02', '03'))
           / nullif(sum(f.det_item_fee_sumamt), 0) AS yibing_share{trace}
FROM fee_list_d f LEFT JOIN cat c USING (med_list_codg){trace_join}
GROUP BY ALL
"""
_SQL_FEES_TRACE = (
    """,
       count(*) FILTER (WHERE f.med_chrgitm_type IN ('09', '11')) AS n_drug_lines,
       count(s.feedetl_sn) FILTER (WHERE f.med_chrgitm_type IN ('09', '11'))
           / nullif(count(*) FILTER (WHERE f.med_chrgitm_type IN ('09', '11')), 0) AS trace_rate""",
    "\nLEFT JOIN (SELECT DISTINCT feedetl_sn FROM drug_trac_d) s USING (feedetl_sn)",
)
"""The traceability-code collection rate (scanned coded-drug lines / coded-drug lines; 饮片 exempt), in the
same scan of fee_list_d when drug_trac_d is present."""

_SQL_DUP_TRACE = """
WITH seq AS (
    SELECT fixmedins_code, drug_trac_codg, sel_time, coalesce(retn_flag, '0') = '1' AS is_return,
           sum(CASE WHEN coalesce(retn_flag, '0') = '1' THEN -1 ELSE 1 END)
               OVER (PARTITION BY drug_trac_codg ORDER BY sel_time, feedetl_sn ROWS UNBOUNDED PRECEDING) AS net
    FROM drug_trac_d)
SELECT fixmedins_code, date_trunc('month', sel_time)::DATE AS month,
       count(*) AS n_codes,
       count(*) FILTER (WHERE net > 1) AS dup_codes,
       count(*) FILTER (WHERE net > 1) / count(*) AS dup_trace_share
FROM seq WHERE NOT is_return
GROUP BY ALL
"""

_SQL_FINDINGS = """
SELECT f.fixmedins_code,
       coalesce(date_trunc('month', coalesce(m.endtime, m.begntime)), date_trunc('month', l.fee_ocur_time))::DATE AS month,
       count(*) AS n_findings, sum(f.vola_amt) AS vola,
       count(DISTINCT nullif(f.feedetl_sn, '')) AS flagged_lines
FROM fnd f
LEFT JOIN mdtrt_d m ON f.mdtrt_id <> '' AND m.mdtrt_id = f.mdtrt_id
LEFT JOIN (SELECT feedetl_sn, fee_ocur_time FROM fee_list_d WHERE feedetl_sn IN (SELECT feedetl_sn FROM fnd)) l
       ON f.mdtrt_id = '' AND l.feedetl_sn = f.feedetl_sn
GROUP BY ALL
"""

_KEY = ["fixmedins_code", "month"]


def compute_indicators(dataset: Path | str, findings: pl.DataFrame | None = None) -> Indicators:
    """Every indicator per institution-month, with the institution's name and peer group."""
    folder = Path(dataset)
    con = duckdb.connect()
    try:
        return _compute(con, folder, findings)
    finally:
        con.close()


def _compute(con: duckdb.DuckDBPyConnection, folder: Path, findings: pl.DataFrame | None) -> Indicators:
    problems = {name: _register(con, folder, name) for name in _COLUMNS}
    have = {name for name, why in problems.items() if why is None}
    if "fixmedins_b" not in have:
        raise DatasetError(f"{folder}: inspection targeting needs fixmedins_b ({problems['fixmedins_b']})")
    kinds = pl.DataFrame({"med_type": list(MED_TYPE), "kind": [visit_kind(m) for m in MED_TYPE]})
    con.register("kinds", kinds.to_arrow())
    con.register("cat", _catalogue_levels().to_arrow())
    if findings is not None and findings.height:
        fnd = findings.select(
            *(pl.col(c).cast(pl.String).fill_null("") if c in findings.columns else pl.lit("").alias(c)
              for c in ("fixmedins_code", "mdtrt_id", "feedetl_sn")),
            vola_fen(findings),
        )  # fmt: skip
        con.register("fnd", fnd.to_arrow())
        have.add("findings")
    else:
        problems["findings"] = "没有疑点"
    if "fee_list_d" in have:
        con.execute(
            "CREATE TEMP TABLE fee_by_mdtrt AS SELECT mdtrt_id, sum(det_item_fee_sumamt) AS fee FROM fee_list_d GROUP BY 1"
        )
    if "setl_d" in have:
        con.execute(
            "CREATE TEMP VIEW st AS SELECT fixmedins_code, psn_no, mdtrt_id, setl_time AS t, med_type, "
            "date_trunc('month', setl_time)::DATE AS month, medfee_sumamt AS medfee, fund_pay_sumamt AS fund "
            "FROM setl_d WHERE coalesce(refd_setl_flag, '0') <> '1'"
        )
    if "mdtrt_d" in have:
        con.execute(
            "CREATE TEMP TABLE stay AS SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime AS b, m.endtime AS e, "
            "greatest(1, date_diff('day', m.begntime::DATE, m.endtime::DATE)) AS los, "
            "date_trunc('month', m.endtime)::DATE AS month FROM mdtrt_d m JOIN kinds k USING (med_type) "
            "WHERE k.kind = 'inpatient' AND m.endtime IS NOT NULL AND m.begntime IS NOT NULL"
        )

    blocks: list[tuple[tuple[str, ...], str]] = [
        (("setl_d",), _SQL_SETTLEMENTS), (("setl_d",), _SQL_BURST), (("mdtrt_d",), _SQL_STAYS),
        (("mdtrt_d", "fee_list_d"), _SQL_DAILY_FEE), (("mdtrt_d",), _SQL_IN_STAY), (("mdtrt_d",), _SQL_BEDS),
        (("mdtrt_d",), _SQL_ADMISSIONS), (("mdtrt_d", "psn_info_b"), _SQL_EMPLOYER),
        (("fee_list_d",), _SQL_FEES.format(**(dict(zip(("trace", "trace_join"), _SQL_FEES_TRACE, strict=True))
                                            if "drug_trac_d" in have else {"trace": "", "trace_join": ""}))),
        (("drug_trac_d",), _SQL_DUP_TRACE),
        (("findings", "mdtrt_d", "fee_list_d"), _SQL_FINDINGS),
    ]  # fmt: skip
    frames: list[pl.DataFrame] = []
    for needs, sql in blocks:
        if all(n in have for n in needs):
            frames.append(con.sql(sql).pl())
    base = _combine(frames)
    base = _growth(base) if "n_setl" in base.columns else base
    if "n_findings" in base.columns or "n_lines" in base.columns:
        base = _findings_rates(base)
    inst = con.sql("SELECT * FROM fixmedins_b").pl()
    assert isinstance(inst, pl.DataFrame)
    inst = inst.with_columns(
        pl.struct("fixmedins_type", "hosp_lv", "bed_cnt")
        .map_elements(
            lambda r: peer_group(r["fixmedins_type"], r["hosp_lv"], r["bed_cnt"]), return_dtype=pl.String
        )
        .alias("peer_group")
    ).select("fixmedins_code", "fixmedins_name", "peer_group", pl.col("bed_cnt").alias("_beds"))
    base = base.join(inst, on="fixmedins_code", how="left").with_columns(
        pl.col("fixmedins_name").fill_null(pl.col("fixmedins_code")), pl.col("peer_group").fill_null("其他")
    )
    if "bed_cnt" not in base.columns:
        base = base.with_columns(pl.col("_beds").alias("bed_cnt"))
    base = base.drop("_beds")
    skipped = []
    for ind in INDICATORS:
        why = [problems.get(n) or n for n in ind.needs if n not in have]
        if why or ind.id not in base.columns:
            skipped.append(f"{ind.label}（{'；'.join(why) or '无数据'}）")
            if ind.id in base.columns:
                base = base.drop(ind.id)
            continue
        den = pl.col(ind.den) if ind.den in base.columns else pl.lit(0)
        base = base.with_columns(
            pl.when(den.fill_null(0) >= ind.min_den)
            .then(pl.col(ind.id).cast(pl.Float64))
            .otherwise(None)
            .alias(ind.id)
        )
    front = ["fixmedins_code", "fixmedins_name", "peer_group", "month"]
    rest = [c for c in base.columns if c not in front]
    return Indicators(base.select(*front, *rest).sort(["month", "fixmedins_code"]), tuple(skipped))


def _combine(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Outer-join the blocks on institution and month (rows without a month are dropped)."""
    keys = (
        pl.concat([f.select(_KEY) for f in frames]).unique()
        if frames
        else pl.DataFrame(schema={"fixmedins_code": pl.String, "month": pl.Date})
    )
    out = keys.filter(pl.col("month").is_not_null() & pl.col("fixmedins_code").is_not_null())
    for f in frames:
        out = out.join(f, on=_KEY, how="left")
    return out


def _growth(base: pl.DataFrame) -> pl.DataFrame:
    """Fund (or, without fund figures, fee) growth against the month before and the month a year before."""
    amount = pl.coalesce(pl.col("fund"), pl.col("medfee")).cast(pl.Float64)
    cur = base.select(*_KEY, amount.alias("_amt"), "n_setl")
    out = base.with_columns(amount.alias("_amt"))
    for name, months in (("fund_mom", 1), ("fund_yoy", 12)):
        prev = cur.with_columns(pl.col("month").dt.offset_by(f"{months}mo")).rename(
            {"_amt": f"_p{months}", "n_setl": "prev_n_setl" if months == 1 else "prev12_n_setl"}
        )
        out = out.join(prev, on=_KEY, how="left").with_columns(
            pl.when(pl.col(f"_p{months}") > 0)
            .then(pl.col("_amt") / pl.col(f"_p{months}") - 1)
            .otherwise(None)
            .alias(name)
        )
    return out.drop("_amt", "_p1", "_p12")


def _findings_rates(base: pl.DataFrame) -> pl.DataFrame:
    if "n_findings" not in base.columns:
        return base
    wan = pl.col("fee").cast(pl.Float64) / 1_000_000  # 万元 of fees (fee in fen)
    return base.with_columns(
        pl.col("n_findings").fill_null(0), pl.col("vola").fill_null(0), pl.col("flagged_lines").fill_null(0)
    ).with_columns(
        (pl.col("flagged_lines") / pl.col("n_lines")).alias("hit_rate"),
        pl.when(wan > 0).then(pl.col("n_findings") / wan).alias("findings_per_10k"),
        pl.when(wan > 0).then(pl.col("vola").cast(pl.Float64) / 100 / wan).alias("vola_per_10k"),
    )


# ---------------------------------------------------------------------------------------------
# Robust z within peer groups, scores and reasons
# ---------------------------------------------------------------------------------------------


def _z(frame: pl.DataFrame, ind: Indicator, group: str, min_peers: int) -> pl.DataFrame:
    """median, scale and count of ``ind`` per (month, ``group``)."""
    x = pl.col(ind.id)
    stats = (
        frame.filter(x.is_not_null())
        .group_by(["month", group])
        .agg(x.median().alias("_med"), x.alias("_xs"), x.count().alias("_n"))
        .with_columns(
            pl.col("_xs")
            .list.eval((pl.element() - pl.element().median()).abs().median())
            .list.first()
            .alias("_mad"),
            pl.col("_xs")
            .list.eval((pl.element() - pl.element().median()).abs().mean())
            .list.first()
            .alias("_mean_ad"),
        )
        .with_columns(
            pl.max_horizontal(
                pl.when(pl.col("_mad") > 0)
                .then(pl.col("_mad") * 1.4826)
                .otherwise(pl.col("_mean_ad") * 1.2533),
                pl.lit(ind.min_scale),
                pl.col("_med").abs() * ind.rel_scale,
            ).alias("_scale")
        )
        .filter(pl.col("_n") >= min_peers)
        .select("month", group, "_med", "_scale", "_n")
    )
    return stats


def rank_indicators(
    frame: pl.DataFrame,
    *,
    indicators: Sequence[Indicator] = INDICATORS,
    triggers: Sequence[Trigger] = TRIGGERS,
    min_peers: int = 5,
    z_min: float = 2.0,
    cap: float = 8.0,
    trigger_points: float = 10.0,
    max_reasons: int = 3,
) -> pl.DataFrame:
    """Rank institution-months of an indicator frame (fixmedins_code, fixmedins_name, peer_group, month and
    indicator columns): robust z per indicator within (month, peer group), falling back to the broad group,
    the score, the hard triggers and the reasons; highest score first, ``rank`` from 1."""
    from yibao.supervision.report import fmt_indicator

    present = [i for i in indicators if i.id in frame.columns]
    f = frame.with_columns(pl.col("peer_group").replace_strict(BROAD, default="其他").alias("_broad"))
    for ind in present:
        fine = _z(f, ind, "peer_group", min_peers).rename({"_med": "_mf", "_scale": "_sf", "_n": "_nf"})
        broad = _z(f, ind, "_broad", min_peers).rename({"_med": "_mb", "_scale": "_sb", "_n": "_nb"})
        f = f.join(fine, on=["month", "peer_group"], how="left").join(
            broad, on=["month", "_broad"], how="left"
        )
        use_fine = pl.col("_mf").is_not_null()
        med = pl.when(use_fine).then(pl.col("_mf")).otherwise(pl.col("_mb"))
        scale = pl.when(use_fine).then(pl.col("_sf")).otherwise(pl.col("_sb"))
        f = f.with_columns(
            (ind.direction * (pl.col(ind.id) - med) / scale).alias(f"z_{ind.id}"),
            med.alias(f"med_{ind.id}"),
            pl.when(use_fine).then(pl.lit("同组")).when(pl.col("_mb").is_not_null()).then(pl.lit("全部")).otherwise(None).alias(f"_cmp_{ind.id}"),
        ).drop("_mf", "_sf", "_nf", "_mb", "_sb", "_nb")  # fmt: skip
    contrib = [
        pl.when(pl.col(f"z_{i.id}") >= z_min).then(i.weight * pl.min_horizontal(pl.col(f"z_{i.id}"), pl.lit(cap))).otherwise(0.0).fill_null(0.0)
        for i in present
    ]  # fmt: skip
    trig = [_trigger_hit(t) for t in triggers if t.column in f.columns]
    n_trig = pl.sum_horizontal(*(h.cast(pl.Int64) for h in trig)) if trig else pl.lit(0)
    f = f.with_columns(
        (pl.sum_horizontal(*contrib) if contrib else pl.lit(0.0)).alias("score_z"),
        n_trig.alias("n_triggers"),
        (pl.sum_horizontal(*(pl.col(f"z_{i.id}") >= z_min for i in present)) if present else pl.lit(0)).alias(
            "n_flags"
        ),
    ).with_columns((pl.col("score_z") + trigger_points * pl.col("n_triggers")).alias("score"))
    rows = f.to_dicts()
    reasons, trig_text = [], []
    for r in rows:
        parts = []
        for i in present:
            z = r.get(f"z_{i.id}")
            if z is not None and z >= z_min:
                parts.append((min(z, cap) * i.weight, i, z))
        parts.sort(key=lambda p: -p[0])
        texts = []
        for _, i, z in parts[:max_reasons]:
            where = (
                "同组中位" if r.get(f"_cmp_{i.id}") == "同组" else f"{BROAD.get(r['peer_group'], '全部')}中位"
            )
            texts.append(
                f"{i.label} {fmt_indicator(r[i.id], i.unit)}（{where} {fmt_indicator(r[f'med_{i.id}'], i.unit)}，z = {z:.1f}）"
            )
        reasons.append("；".join(texts))
        trig_text.append("；".join(
            t.text.format(value=fmt_indicator(r[t.column], t.unit)) for t in triggers
            if t.column in r and r[t.column] is not None and (r[t.column] > t.threshold if t.strict else r[t.column] >= t.threshold)
        ))  # fmt: skip
    f = f.with_columns(
        pl.Series("reasons", reasons, dtype=pl.String), pl.Series("triggers", trig_text, dtype=pl.String)
    )
    f = f.drop("_broad", *(c for c in f.columns if c.startswith("_cmp_")))
    f = f.sort(["score", "fixmedins_code", "month"], descending=[True, False, False]).with_row_index(
        "rank", offset=1
    )
    front = ["rank", "fixmedins_code", "fixmedins_name", "peer_group", "month", "score", "n_flags", "n_triggers",
             "triggers", "reasons"]  # fmt: skip
    return f.select(*front, *(c for c in f.columns if c not in front)).with_columns(
        pl.col("rank").cast(pl.Int64)
    )


def _trigger_hit(t: Trigger) -> pl.Expr:
    c = pl.col(t.column)
    return (c > t.threshold if t.strict else c >= t.threshold).fill_null(False)


def inspection_ranking(
    dataset: Path | str, findings: pl.DataFrame | None = None, *, min_peers: int = 5, **options: float
) -> pl.DataFrame:
    """Institution-months ranked for inspection: the indicators (values ``<id>``, robust z ``z_<id>``, peer
    medians ``med_<id>``), ``score``, ``triggers`` and ``reasons``; highest score first."""
    ind = compute_indicators(dataset, findings)
    return rank_indicators(ind.frame, min_peers=min_peers, **options)  # type: ignore[arg-type]


def by_institution(ranking: pl.DataFrame, top: int | None = None, *, quantile: float = 0.9) -> pl.DataFrame:
    """One row per institution: its best-scoring month, with ``months_flagged`` = its months whose score is
    positive and in the top ``1 − quantile`` of all institution-months (a persistent outlier shows in many)."""
    positive = ranking.filter(pl.col("score") > 0)["score"]
    cut = float(positive.quantile(quantile) or 0.0) if positive.len() else 0.0
    months = ranking.group_by("fixmedins_code").agg(
        ((pl.col("score") > 0) & (pl.col("score") >= cut)).sum().alias("months_flagged"),
        pl.len().alias("months"),
    )
    best = ranking.sort(["score", "month"], descending=[True, False]).unique("fixmedins_code", keep="first")
    out = best.join(months, on="fixmedins_code").sort(["score", "fixmedins_code"], descending=[True, False])
    out = out.drop("rank").with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))
    return out.head(top) if top is not None else out


def labels(indicators: Sequence[Indicator] = INDICATORS) -> Mapping[str, str]:
    """Indicator id → label."""
    return {i.id: i.label for i in indicators}
