# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""串换药品 (drug_swap): the scanned traceability code's product is not the drug billed.

The first 7 digits of a 码上放心 code (药品标识码) name the product and package; the knowledge base's
prefix → product table comes from the catalogue (:func:`yibao.catalog.trace.prefix_table`). A code whose
product is a payable drug other than the billed one is a swap (a 丙类 product is catalogue_scope's).

Before::

    F1  盐酸二甲双胍片  2 × ¥9.90    codes 8792357… (二甲双胍's prefix)

After (a finding per code)::

    F1  格列美脲片      2 × ¥26.00   codes 8792357… → R-DSWAP-01 可疑,
        vola_amt = billed price − the dispensed product's median price there, per package (estimated)

Prefixes shared by several catalogue codes (hash collisions) pass when any of them is the billed drug.
The billed drug of a code is the one its sale recorded (drug_trac_d.med_list_codg, the fee line's item
as 3505 uploads it), so the batch form first decides each distinct (prefix, billed drug) pair once, then
reads the codes of the swapped pairs (none in clean data) and the fee lines of those codes only.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import Columns, empty_findings, fee_expr, finish, line_who, lines_sql, run
from yibao.supervision.rules._trace import SOLD_PAIRS, codes_of_pairs

UNIT = 10_000


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    lv = {c: i.chrgitm_lv for c, i in kb.items.items()}
    payable = {
        p: codes for p, codes in kb.trace_products.items() if not all(lv.get(c) == "03" for c in codes)
    }
    return Prepared(None, (payable, kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    payable, kb = prep.data
    out = []
    for line in enc.lines:
        for i, (code, retn) in enumerate(line.traces):
            products = payable.get(code[:7])
            if retn or products is None or line.code in products:
                continue
            names = "、".join(kb.name(c) for c in sorted(products))
            out.append(line_finding(rule, enc, line, fee(line.pric, UNIT), f"，追溯码 {code} 的产品为「{names}」，与收费药品不符",
                                    evidence={"drug_trac_codg": code, "product": sorted(products)}, suffix=f":{i}", status="2"))  # fmt: skip
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "trace", "items")
    cols = Columns(con)
    pric = cols.scaled("fee_list_d", "f", "pric")
    swapped = run(con, f"""
        WITH pairs AS ({SOLD_PAIRS})
        SELECT p.prefix, p.billed, MIN(k.code) AS product FROM pairs p JOIN yb_kb_trace k ON k.prefix = p.prefix
        GROUP BY p.prefix, p.billed
        HAVING SUM(CASE WHEN k.code = p.billed THEN 1 ELSE 0 END) = 0 AND SUM(CASE WHEN k.chrgitm_lv = '03' THEN 0 ELSE 1 END) > 0
    """)  # fmt: skip
    if swapped.height == 0:
        return empty_findings()
    sql = f"""
        WITH bad AS ({codes_of_pairs(con, swapped, "yb_swapped_pairs")}),
        l AS ({lines_sql(cols, rule, where="f.feedetl_sn IN (SELECT feedetl_sn FROM bad)")}),
        price AS (SELECT f.fixmedins_code, f.med_list_codg AS code, PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {pric}) AS product_pric
                  FROM fee_list_d f WHERE f.med_list_codg IN (SELECT product FROM bad)
                    AND f.fixmedins_code IN (SELECT fixmedins_code FROM l)
                  GROUP BY f.fixmedins_code, f.med_list_codg)
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, bad.drug_trac_codg,
               bad.product, pr.name AS product_name, l.cnt, l.pric, price.product_pric
        FROM l JOIN bad ON bad.feedetl_sn = l.feedetl_sn
        JOIN yb_kb_items it ON it.code = l.code JOIN yb_kb_items pr ON pr.code = bad.product
        LEFT JOIN price ON price.fixmedins_code = l.fixmedins_code AND price.code = bad.product
    """
    rows = run(con, sql).with_columns(
        vola_amt=pl.when(pl.col("product_pric").is_null())
        .then(fee_expr(pl.col("pric"), pl.lit(UNIT)))
        .otherwise(
            pl.max_horizontal(fee_expr(pl.col("pric") - pl.col("product_pric"), pl.lit(UNIT)), pl.lit(0))
        )
    )
    cont = pl.format(
        "{}，追溯码 {} 的产品为「{}」（{}），与收费药品不符",
        line_who(),
        pl.col("drug_trac_codg"),
        pl.col("product_name"),
        pl.col("product"),
    )
    return finish(rows, rule, cont=cont, key=["feedetl_sn", "drug_trac_codg"],
                  evidence=["code", "name", "t", "drug_trac_codg", "product", "product_name", "cnt", "pric", "product_pric"])  # fmt: skip
