# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""冒名就医 — 身份矛盾 (identity_contradiction): the care of an encounter belongs to someone else.

The encounter, not a single line, contradicts the card holder:

- a diagnosis only the other sex can have (妊娠, 子宫 / 卵巢 / 前列腺疾病 …; sex_specific_dx.csv);
- a diagnosis outside the holder's age band (新生儿疾病 on an adult, 老年性白内障 or 高血压 on a child;
  age_specific_dx.csv, IOCE-style age edits);
- a paediatric department (``paediatric_depts``, 科别 A07 儿科) treating an adult.

One finding per encounter, vola_amt = the whole encounter (the care was not the holder's).

Before::

    M1  P4 (女, 34)  O80.000 头位顺产   单胎顺产接生 …

After::

    M1  P8 (男, 51)  O80.000 头位顺产   单胎顺产接生 …   → R-IDENT-01 可疑 (男性患者有女性专属诊断)
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, enc_finding
from yibao.supervision.rules._sql import Columns, age_sql, enc_who, finish, prefix_join, run

_SEX = {"1": "男", "2": "女"}


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sex_dx: bool = True
    age_dx: bool = True
    paediatric_depts: tuple[str, ...] = ("A07",)
    adult_age: int = 18


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    return Prepared(None, (rule.params_of(Params), kb))


def reason(enc: Encounter, p: Params, kb: KnowledgeBase) -> str | None:
    if p.sex_dx and enc.gend in _SEX:
        for d in enc.diagnoses:
            g = kb.sex_of_dx(d)
            if g and g != enc.gend:
                return f"诊断 {d} 仅见于{_SEX[g]}性，参保人性别为{_SEX[enc.gend]}"
    if p.age_dx:
        for d in enc.diagnoses:
            band = kb.age_of_dx(d)
            if band is None:
                continue
            lo, hi = band
            if (lo is not None and enc.age < lo) or (hi is not None and enc.age > hi):
                return f"诊断 {d} 与参保人年龄 {enc.age} 岁不符"
    if p.paediatric_depts and enc.age >= p.adult_age and any(c in enc.dept for c in p.paediatric_depts):
        return f"在儿科（{enc.dept}）就诊，参保人年龄 {enc.age} 岁"
    return None


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p, kb = prep.data
    why = reason(enc, p, kb)
    if why is None:
        return []
    return [enc_finding(rule, enc, sum(ln.sumamt for ln in enc.lines), why, lines=enc.lines)]


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "sex_dx", "age_dx")
    cols = Columns(con)
    amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
    age = age_sql("p.brdy", "m.begntime")
    parts = []
    # the diagnoses that a KB entry restricts, grouped by restriction before the persons are joined (a
    # barrier the join order cannot cross: it would pair the KB with every person first)
    if p.sex_dx:
        parts.append(f"""
            SELECT m.mdtrt_id, 'sex' AS why, MIN(x.detail) AS detail
            FROM (SELECT d.mdtrt_id, s.gend AS need, MIN(d.diag_code) AS detail
                  FROM {prefix_join("setl_list_diag_d", "d", "diag_code", "yb_kb_sex_dx", "s")}
                  GROUP BY d.mdtrt_id, s.gend) x
            JOIN mdtrt_d m ON m.mdtrt_id = x.mdtrt_id JOIN psn_info_b p ON p.psn_no = m.psn_no
            WHERE p.gend IN ('1', '2') AND x.need <> p.gend GROUP BY m.mdtrt_id""")
    if p.age_dx:
        parts.append(f"""
            SELECT m.mdtrt_id, 'age' AS why, MIN(x.detail) AS detail
            FROM (SELECT d.mdtrt_id, a.age_min, a.age_max, MIN(d.diag_code) AS detail
                  FROM {prefix_join("setl_list_diag_d", "d", "diag_code", "yb_kb_age_dx", "a")}
                  WHERE a.age_min IS NOT NULL OR a.age_max IS NOT NULL
                  GROUP BY d.mdtrt_id, a.age_min, a.age_max) x
            JOIN mdtrt_d m ON m.mdtrt_id = x.mdtrt_id JOIN psn_info_b p ON p.psn_no = m.psn_no
            WHERE (x.age_min IS NOT NULL AND {age} < x.age_min) OR (x.age_max IS NOT NULL AND {age} > x.age_max)
            GROUP BY m.mdtrt_id""")
    if p.paediatric_depts:
        like = " OR ".join(f"m.dept_codg LIKE '%{c}%'" for c in p.paediatric_depts)
        parts.append(f"""
            SELECT m.mdtrt_id, 'dept' AS why, MIN(m.dept_codg) AS detail FROM mdtrt_d m
            JOIN psn_info_b p ON p.psn_no = m.psn_no WHERE ({like}) AND {age} >= {p.adult_age} GROUP BY m.mdtrt_id""")
    if not parts:
        return finish(pl.DataFrame(), rule, cont=pl.lit(""), key=[], evidence=[])
    union = " UNION ALL ".join(parts)
    sql = f"""
        WITH x AS ({union}),
        one AS (SELECT mdtrt_id, MIN(why) AS why, MIN(detail) AS detail FROM x GROUP BY mdtrt_id)
        SELECT m.mdtrt_id, m.psn_no, m.fixmedins_code, m.begntime, m.atddr_no AS doctor, m.dept_codg, p.gend, {age} AS age,
               one.why, one.detail, billed.vola_amt
        FROM one JOIN mdtrt_d m ON m.mdtrt_id = one.mdtrt_id JOIN psn_info_b p ON p.psn_no = m.psn_no
        LEFT JOIN (SELECT f.mdtrt_id, SUM({amt}) AS vola_amt FROM fee_list_d f
                   WHERE f.mdtrt_id IN (SELECT mdtrt_id FROM one) GROUP BY f.mdtrt_id) billed ON billed.mdtrt_id = m.mdtrt_id
    """
    rows = run(con, sql).with_columns(pl.col("vola_amt").fill_null(0))
    sex = pl.col("gend").replace_strict(_SEX, default="?")
    cont = (
        pl.when(pl.col("why") == "sex").then(pl.format("{}诊断 {} 与参保人性别（{}）不符", enc_who(), pl.col("detail"), sex))
        .when(pl.col("why") == "age").then(pl.format("{}诊断 {} 与参保人年龄 {} 岁不符", enc_who(), pl.col("detail"), pl.col("age")))
        .otherwise(pl.format("{}在儿科（{}）就诊，参保人年龄 {} 岁", enc_who(), pl.col("detail"), pl.col("age")))
    )  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["mdtrt_id"],
        evidence=["why", "detail", "gend", "age", "dept_codg", "begntime"],
    )
