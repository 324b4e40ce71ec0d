# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""限定开单科室 / 限专科 (dept_restriction): an item only some departments may order, ordered by another.

The knowledge base (restrictions.csv, kind ``depts``) names the 科别 (dept_b.caty, yibao.codes.CATY)
that may order an item: 信迪利单抗 限肿瘤科 (A19)、血液内科 (A03.05), 雷珠单抗 限眼科 (A10). A 科目 covers its
二级科目 (A03 covers A03.05). A line is ordered by an allowed department when

- its ordering department (fee_list_d.bilg_dept_codg → dept_b.caty) is one, or
- its ordering doctor (bilg_dr_codg → medstaff_b.dept_codg → dept_b.caty) belongs to one: a 会诊 order,
  written by the oncologist called to a surgical ward and billed under the ward, is not a violation.

A 科别 written without its letter ("19", as 诊疗科目 registers do) is read as A19. A line is judged on
what is known of who ordered it: when neither the department's nor the doctor's 科别 is known (a code
dept_b does not list, or lists without a 科别) there is no finding; the batch form needs dept_b and medstaff_b
(:data:`NEEDS`: the audit skips the rule, and says so, when they are absent). Online, the 科别 come from
the order line (``drord_dept_caty``, or drord_dept_codg when it is a 科别 code; ``drord_dr_caty`` for the
doctor's own department; the encounter's adm_dept_codg when the line names no department).

Before (payable)::

    H1 肿瘤科 (A19)  M… 注射用曲妥珠单抗 ¥2600.00  ordered by D… of 肿瘤科

After (a finding)::

    H1 普通外科 (A04.01)  M… 注射用曲妥珠单抗 ¥2600.00  ordered by D… of 普通外科
    → R-DEPT-01 可疑, vola_amt ¥2600.00 (the line): 限肿瘤科、血液内科开具，开单科室为普通外科

Not a violation: the same line billed under 普通外科 but ordered by a doctor of 肿瘤科 (会诊).

>>> from yibao.supervision.kb import default_kb
>>> allowed_of(default_kb())["XS01LAC135B001010156870"]
('A10',)
>>> ordered_by_allowed(("A19", "A03.05"), "A04.01", "A03.05"), ordered_by_allowed(("A19",), "A04.01", "")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.codes import CATY, caty_covers
from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, line_finding
from yibao.supervision.rules._sql import Columns, finish, line_who, lines_sql, run

NEEDS: Mapping[str, tuple[str, ...]] = {
    "dept_b": ("fixmedins_code", "dept_codg", "caty"),
    "medstaff_b": ("staff_codg", "fixmedins_code", "dept_codg"),
}
"""The tables (and columns) the batch form reads besides the fee lines: without them it is skipped."""


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    consultation: bool = True
    """A line ordered by a doctor of an allowed department (会诊) is not a violation."""


def allowed_of(kb: KnowledgeBase) -> dict[str, tuple[str, ...]]:
    """Item → the 科别 allowed to order it."""
    return dict(kb.depts)


def ordered_by_allowed(allowed: tuple[str, ...], dept_caty: str, dr_caty: str) -> bool:
    """Whether the ordering department or the ordering doctor's department falls under an allowed 科别."""
    return any(caty_covers(a, c) for a in allowed for c in (dept_caty, dr_caty) if c)


def names(catys: tuple[str, ...] | list[str]) -> str:
    """``肿瘤科（A19）、血液内科（A03.05）``."""
    return "、".join(f"{CATY.get(c, c)}（{c}）" for c in catys)


def _who(caty: str) -> str:
    return f"{CATY.get(caty, caty)}（{caty}）" if caty else "不详"


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    allowed = allowed_of(kb)
    return Prepared(frozenset(allowed), (allowed, p.consultation))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    allowed, consultation = prep.data
    out = []
    for line in enc.lines:
        ok = allowed.get(line.code)
        if ok is None:
            continue
        dept = line.dept_caty if line.dept else enc.dept_caty
        doctor = line.dr_caty if consultation else ""
        if not (dept or doctor) or ordered_by_allowed(ok, dept, doctor):
            continue
        # without drord_dr_caty, the encounter's own doctor is taken to work in the encounter's department
        own = line.dr_caty or (enc.dept_caty if line.doctor in ("", enc.doctor) else "")
        out.append(
            line_finding(
                rule,
                enc,
                line,
                line.sumamt,
                f"，该项目限{names(ok)}开具，开单科室为{_who(dept)}，开单医师 {line.doctor or enc.doctor} "
                f"所属科室为{_who(own)}",
                evidence={"dept_caty": dept, "dr_caty": own, "allowed": list(ok)},
            )
        )
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "depts", "items")
    cols = Columns(con)
    doctor = "s.caty" if p.consultation else "CAST(NULL AS VARCHAR)"
    covered = "(a.caty = {c} OR {c} LIKE a.caty || '.%')"
    sql = f"""
        WITH l AS ({lines_sql(cols, rule, where="f.med_list_codg IN (SELECT code FROM yb_kb_depts)")}),
        k AS (SELECT fixmedins_code, dept_codg,
                     CASE WHEN caty IS NULL OR caty = '' THEN NULL WHEN SUBSTRING(caty, 1, 1) = 'A' THEN caty
                          ELSE 'A' || caty END AS caty FROM dept_b),
        s AS (SELECT m.staff_codg, m.fixmedins_code, k.caty FROM medstaff_b m
              JOIN k ON k.fixmedins_code = m.fixmedins_code AND k.dept_codg = m.dept_codg),
        w AS (SELECT l.*, d.caty AS dept_caty, s.caty AS dr_caty, {doctor} AS judged_dr_caty
              FROM l LEFT JOIN k d ON d.fixmedins_code = l.fixmedins_code AND d.dept_codg = l.dept
              LEFT JOIN s ON s.staff_codg = l.doctor AND s.fixmedins_code = l.fixmedins_code)
        SELECT w.feedetl_sn, w.mdtrt_id, w.psn_no, w.fixmedins_code, w.doctor, w.dept, w.code, it.name, w.t,
               w.dept_caty, w.dr_caty, w.amt AS vola_amt, w.cnt, w.pric
        FROM w JOIN yb_kb_items it ON it.code = w.code
        WHERE (w.dept_caty IS NOT NULL OR w.judged_dr_caty IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM yb_kb_depts a WHERE a.code = w.code
                          AND ({covered.format(c="w.dept_caty")} OR {covered.format(c="w.judged_dr_caty")}))
    """
    allowed = {c: names(a) for c, a in allowed_of(kb).items()}
    rows = run(con, sql).with_columns(
        pl.col("dept_caty").fill_null(""),
        pl.col("dr_caty").fill_null(""),
        pl.col("code").replace_strict(allowed, default="").alias("allowed"),
    )
    cont = pl.format(
        "{}，该项目限{}开具，开单科室为{}，开单医师 {} 所属科室为{}",
        line_who(),
        pl.col("allowed"),
        _who_expr("dept_caty"),
        pl.col("doctor").fill_null(""),
        _who_expr("dr_caty"),
    )
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "dept", "dept_caty", "dr_caty", "allowed", "cnt", "pric"],
    )


def _who_expr(col: str) -> pl.Expr:
    c = pl.col(col)
    return (
        pl.when(c == "")
        .then(pl.lit("不详"))
        .otherwise(pl.format("{}（{}）", c.replace_strict(CATY, default=c), c))
    )
