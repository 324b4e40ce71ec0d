# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""高套编码 (cc_support): a CC/MCC secondary diagnosis that nothing in the stay supports.

A complication or comorbidity (CC/MCC of CHS-DRG 1.1) on the 结算清单 raises a stay's DRG weight. The
knowledge base (``cc_support.csv``) names, for each such diagnosis, the tests, drugs and procedures any
one of which shows it was real and treated: oxygen or a ventilator for 急性呼吸衰竭, diuresis or dialysis
for 急性肾衰竭, parenteral nutrition for 重度营养不良, iron or a transfusion for 急性出血后贫血, BNP /
echocardiography / a heart-failure drug for 心力衰竭, an antibiotic for 肺炎. A stay that lists the
diagnosis as a secondary one and bills none of them is 可疑 (to be checked against the record).

The amount at stake is the DRG payment difference the diagnosis makes. The batch audit groups every
inpatient stay of the dataset with CHS-DRG 1.1 (relative weights from the year's own costs, as the DRG
payment does), groups each flagged stay again without its unsupported diagnoses, and prices the weight
difference at the year's budget-neutral rate (total cost over total weight): vola_amt is that estimate
(vola_amt_stas 2), or 0 with vola_amt_stas 0 where a group has no weight or the grouping tables are
absent. Online (one stay, no year) the finding states the stay's total only.

Before::

    M1  J18.900 肺炎 (main)  I10.x09   头孢曲松  DR胸片  血常规  肌酐

After::

    M1  J18.900 肺炎 (main)  I10.x09  J96.000 急性呼吸衰竭   (no 氧气吸入, no 呼吸机)
    → R-CC-01 可疑: "…申报次要诊断 J96.000 急性呼吸衰竭（MCC），住院期间无支持该诊断的检查或治疗…，
       DRG由ES35升至ES31（权重0.9123→1.4567），按年度费率估算多支付 3,512.40 元…"
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.drg.dataset import INPATIENT_MED_TYPES, case_frame, coding_gaps
from yibao.drg.payment import PaymentError
from yibao.drg.tables import TablesError, TablesMissing
from yibao.money import yuan
from yibao.supervision.findings import Finding
from yibao.supervision.kb import CcSupport, KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, enc_finding
from yibao.supervision.rules._sql import (
    Columns,
    empty_findings,
    finish,
    lv_sql,
    prefix_join,
    run,
    scope_sql,
    sql_list,
    visit_sql,
    yuan_expr,
)

HINTS = 3
"""How many supporting items a sentence names (the evidence JSON has them all)."""


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _hint(kb: KnowledgeBase, cc: CcSupport) -> str:
    names = sorted(kb.name(c) for c in cc.evidence)
    return "、".join(names[:HINTS]) + ("等" if len(names) > HINTS else "")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(None, (kb.cc_support, {cc.prefix: _hint(kb, cc) for cc in kb.cc_support}))


def _unsupported(
    diagnoses: tuple[str, ...], codes: frozenset[str], table: tuple[CcSupport, ...]
) -> list[tuple[str, CcSupport]]:
    out = []
    for d in diagnoses:
        cc = next((c for c in table if d.startswith(c.prefix)), None)
        if cc is not None and not (cc.evidence & codes):
            out.append((d, cc))
    return out


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    if enc.visit != "inpatient":
        return []
    table, hints = prep.data
    secondary = tuple(d for d in enc.diagnoses if d != enc.main_dx)
    found = _unsupported(secondary, enc.codes, table)
    if not found:
        return []
    listed = "、".join(f"{d} {cc.name}（{cc.cc_level}）" for d, cc in found)
    needs = "；".join(f"{cc.name}应有{hints[cc.prefix]}" for _, cc in found)
    total = sum(ln.sumamt for ln in enc.lines)
    reason = f"申报次要诊断 {listed}，住院期间无支持该诊断的检查或治疗（{needs}），疑为高套编码"
    ev = {"unsupported": [d for d, _ in found], "cc_level": [cc.cc_level for _, cc in found], "total": total}
    return [
        enc_finding(rule, enc, 0, reason, evidence=ev, status="0",
                    amount_text=f"本次住院总费用 {yuan(total)} 元，违规金额须按DRG分组差额核定")
    ]  # fmt: skip


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "cc", "cc_evidence")
    amt = Columns(con).scaled("fee_list_d", "f", "det_item_fee_sumamt")
    sql = f"""
        WITH s AS (SELECT DISTINCT d.mdtrt_id, d.diag_code, k.prefix, k.name AS cc_name, k.cc_level
                   FROM {prefix_join("setl_list_diag_d", "d", "diag_code", "yb_kb_cc", "k")}
                   WHERE d.maindiag_flag <> '1'),
        m AS (SELECT * FROM (
                SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.atddr_no AS doctor, m.begntime, m.endtime,
                       m.insutype, {visit_sql("m.med_type")} AS visit, {lv_sql("i.hosp_lv")} AS lv
                FROM mdtrt_d m JOIN fixmedins_b i ON i.fixmedins_code = m.fixmedins_code
                WHERE m.mdtrt_id IN (SELECT mdtrt_id FROM s)) x
              WHERE visit = 'inpatient' AND {scope_sql(rule)}),
        ev AS (SELECT DISTINCT f.mdtrt_id, e.prefix FROM fee_list_d f JOIN yb_kb_cc_evidence e ON e.code = f.med_list_codg
               WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM m)),
        u AS (SELECT s.* FROM s JOIN m ON m.mdtrt_id = s.mdtrt_id
              LEFT JOIN ev ON ev.mdtrt_id = s.mdtrt_id AND ev.prefix = s.prefix WHERE ev.mdtrt_id IS NULL),
        tot AS (SELECT f.mdtrt_id, CAST(SUM({amt}) AS BIGINT) AS total FROM fee_list_d f
                WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM u) GROUP BY f.mdtrt_id)
        SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.doctor, m.begntime, m.endtime, u.diag_code, u.prefix,
               u.cc_name, u.cc_level, COALESCE(tot.total, 0) AS total
        FROM u JOIN m ON m.mdtrt_id = u.mdtrt_id LEFT JOIN tot ON tot.mdtrt_id = u.mdtrt_id
    """
    rows = run(con, sql)
    if rows.height == 0:
        return empty_findings()
    hints = {cc.prefix: _hint(kb, cc) for cc in kb.cc_support}
    rows = (
        rows.sort("mdtrt_id", "diag_code")
        .with_columns(
            listed=pl.format("{} {}（{}）", "diag_code", "cc_name", "cc_level"),
            needs=pl.format("{}应有{}", "cc_name", pl.col("prefix").replace_strict(hints, default="")),
        )
        .group_by("mdtrt_id", "psn_no", "fixmedins_code", "doctor", "begntime", "endtime", "total", maintain_order=True)
        .agg(
            pl.col("listed").str.join("、"), pl.col("needs").str.join("；"),
            pl.col("diag_code").alias("unsupported"), pl.col("cc_level"),
        )
    )  # fmt: skip
    rows = _priced(con, rows)
    cont = pl.format(
        "{} 于 {} 为参保人 {} 的住院（{}，{} 至 {}）申报次要诊断 {}，住院期间无支持该诊断的检查或治疗（{}），疑为高套编码",
        "fixmedins_code", pl.col("begntime").dt.strftime("%Y-%m-%d"), "psn_no", "mdtrt_id",
        pl.col("begntime").dt.strftime("%Y-%m-%d"), pl.col("endtime").dt.strftime("%Y-%m-%d"), "listed", "needs",
    )  # fmt: skip
    unpriced = pl.format("本次住院总费用 {} 元，违规金额须按DRG分组差额核定", yuan_expr("total"))
    priced = pl.format(
        "DRG由{}升至{}（权重{}→{}），按年度费率估算多支付 {} 元（本次住院总费用 {} 元）",
        "drg_without", "drg", "rw_without", "rw", yuan_expr("vola_amt"), yuan_expr("total"),
    )  # fmt: skip
    same = pl.format("该诊断未改变DRG分组（{}），按DRG付费无多付金额（本次住院总费用 {} 元）", "drg", yuan_expr("total"))
    amount = (
        pl.when(pl.col("vola_amt_stas") != "2")
        .then(unpriced)
        .when(pl.col("drg") == pl.col("drg_without"))
        .then(same)
        .otherwise(priced)
    )
    return finish(rows, rule, cont=cont, key=["mdtrt_id"],
                  evidence=["unsupported", "cc_level", "total", "drg", "drg_without", "rw", "rw_without", "vola_amt_stas"],
                  amount=amount)  # fmt: skip


def _priced(con: Any, rows: pl.DataFrame) -> pl.DataFrame:
    """The flagged stays with the DRG payment their unsupported diagnoses make (:func:`coding_gaps`):
    vola_amt and vola_amt_stas "2" where both groups have a weight, else 0 and "0"."""
    drop = dict(zip(rows.get_column("mdtrt_id").to_list(), rows.get_column("unsupported").to_list(), strict=True))
    try:
        gaps: pl.DataFrame | None = coding_gaps(_cases(con), drop)
    except (TablesMissing, TablesError, PaymentError):  # no usable grouping tables, or no stay with a cost
        gaps = None
    if gaps is None or gaps.height == 0:
        return rows.with_columns(
            vola_amt=pl.lit(0, dtype=pl.Int64), vola_amt_stas=pl.lit("0"),
            **{c: pl.lit("") for c in ("drg", "drg_without", "rw", "rw_without")},
        )  # fmt: skip
    gain = pl.col("gap_fen").fill_null(0).clip(lower_bound=0)
    return rows.join(gaps.rename({"case_id": "mdtrt_id"}), on="mdtrt_id", how="left", maintain_order="left").with_columns(
        vola_amt=gain,
        vola_amt_stas=pl.when(pl.col("gap_fen").is_null()).then(pl.lit("0")).otherwise(pl.lit("2")),
        **{c: pl.col(c).fill_null("") for c in ("drg", "drg_without", "rw", "rw_without")},
    ).drop("gap_fen")  # fmt: skip


def _cases(con: Any) -> pl.DataFrame:
    """Every inpatient stay of the registered dataset with a cost as a grouper case: its cost is the
    settlement's total (setl_d medfee_sumamt, not refunded) when the dataset is settled, else the sum of its
    lines."""
    cols = Columns(con)
    if cols.has("setl_d", "medfee_sumamt") and cols.has("setl_d", "refd_setl_flag"):
        amt = cols.scaled("setl_d", "s", "medfee_sumamt")
        totals = f"""SELECT s.mdtrt_id, CAST(SUM({amt}) AS BIGINT) AS total_fen FROM setl_d s
                     WHERE s.refd_setl_flag = '0' GROUP BY s.mdtrt_id"""
    else:
        amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
        totals = f"SELECT f.mdtrt_id, CAST(SUM({amt}) AS BIGINT) AS total_fen FROM fee_list_d f GROUP BY f.mdtrt_id"
    stays = run(con, f"""
        SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime, m.endtime, m.dept_codg,
               {"m.dscg_way" if cols.has("mdtrt_d", "dscg_way") else "''"} AS dscg_way,
               t.total_fen
        FROM mdtrt_d m JOIN ({totals}) t ON t.mdtrt_id = m.mdtrt_id
        WHERE m.med_type IN {sql_list(INPATIENT_MED_TYPES)}""")  # fmt: skip
    persons = (
        run(con, "SELECT psn_no, gend, brdy FROM psn_info_b")
        if cols.has("psn_info_b", "brdy") and cols.has("psn_info_b", "gend")
        else pl.DataFrame(schema={"psn_no": pl.String, "gend": pl.String, "brdy": pl.Date})
    )
    inpatient = f"mdtrt_id IN (SELECT mdtrt_id FROM mdtrt_d WHERE med_type IN {sql_list(INPATIENT_MED_TYPES)})"
    diag = run(con, f"SELECT mdtrt_id, maindiag_flag, diag_code FROM setl_list_diag_d WHERE {inpatient}")
    oprn = (
        run(con, f"SELECT mdtrt_id, main_oprn_flag, oprn_code FROM setl_list_oprn_d WHERE {inpatient}")
        if cols.has("setl_list_oprn_d", "oprn_code")
        else pl.DataFrame(schema={"mdtrt_id": pl.String, "main_oprn_flag": pl.String, "oprn_code": pl.String})
    )
    return case_frame(stays, persons, diag, oprn)
