# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""非医保目录 / 不予支付 (catalogue_scope): care the fund never pays (丙类, 目录外) billed as payable.

Two signs:

- a line of a 丙类 item (hilist_lv / chrgitm_lv 03) with an in-scope amount: sumamt − ownpay_amt > 0
  (online, where the order line carries ownpay_amt);
- a drug line whose scanned traceability codes belong to a 丙类 product (the prefix → product table of
  the knowledge base) while the billed item is payable — a supplement sold, a vitamin billed.

Before::

    药店 P…  维生素C片 × 3 ¥9.00   codes 8xxxxxx… (prefix of 维生素C片)

After (a finding per scanned code)::

    药店 P…  维生素C片 × 3 ¥9.00   codes 8yyyyyy… (prefix of 多维元素片, 丙类)
    → R-SCOPE-01 明确违规, vola_amt = one package at the billed price per code
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
    trace_codes: bool = True
    in_scope_amount: bool = True


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    lv = {c: i.chrgitm_lv for c, i in kb.items.items()}
    excluded = {
        prefix: sorted(codes)
        for prefix, codes in kb.trace_products.items()
        if all(lv.get(c) == "03" for c in codes)
    }
    return Prepared(None, (p, lv, excluded, kb))


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p, lv, excluded, kb = prep.data
    out = []
    for line in enc.lines:
        level = line.hilist_lv or lv.get(line.code, "")
        if level == "03":
            if p.in_scope_amount and line.sumamt - line.ownpay > 0:
                out.append(
                    line_finding(
                        rule,
                        enc,
                        line,
                        line.sumamt - line.ownpay,
                        "为丙类（目录外）项目，却按医保范围内费用申报",
                    )
                )
            continue
        if not p.trace_codes:
            continue
        for i, (code, retn) in enumerate(line.traces):
            products = excluded.get(code[:7])
            if retn or not products:
                continue
            names = "、".join(kb.name(c) for c in products)
            out.append(line_finding(rule, enc, line, fee(line.pric, UNIT), f"，追溯码 {code} 对应目录外产品「{names}」",
                                    evidence={"drug_trac_codg": code, "product": products}, suffix=f":{i}"))  # fmt: skip
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "trace", "items")
    cols = Columns(con)
    # first the (prefix, billed drug) pairs of the sales, once each: those whose code names a 丙类 product
    # and whose billed drug is another one; then the codes and fee lines of those pairs only
    pairs = run(con, f"""
        WITH x AS (SELECT prefix, MIN(code) AS product FROM yb_kb_trace GROUP BY prefix
                   HAVING SUM(CASE WHEN chrgitm_lv = '03' THEN 0 ELSE 1 END) = 0),
        sold AS ({SOLD_PAIRS})
        SELECT sold.prefix, sold.billed, x.product FROM sold JOIN x ON x.prefix = sold.prefix WHERE x.product <> sold.billed
    """)  # fmt: skip
    if pairs.height == 0:
        return empty_findings()
    sql = f"""
        WITH c AS ({codes_of_pairs(con, pairs, "yb_scope_pairs")}),
        l AS ({lines_sql(cols, rule, where="f.feedetl_sn IN (SELECT feedetl_sn FROM c)")})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, c.drug_trac_codg,
               c.product, pr.name AS product_name, l.cnt, l.pric
        FROM l JOIN c ON c.feedetl_sn = l.feedetl_sn
        JOIN yb_kb_items it ON it.code = l.code AND it.chrgitm_lv <> '03'
        JOIN yb_kb_items pr ON pr.code = c.product
        WHERE c.product <> l.code
    """
    rows = run(con, sql).with_columns(vola_amt=fee_expr(pl.col("pric"), pl.lit(UNIT)))
    cont = pl.format(
        "{}，追溯码 {} 对应目录外产品「{}」（{}）",
        line_who(),
        pl.col("drug_trac_codg"),
        pl.col("product_name"),
        pl.col("product"),
    )
    return finish(rows, rule, cont=cont, key=["feedetl_sn", "drug_trac_codg"],
                  evidence=["code", "name", "t", "drug_trac_codg", "product", "product_name", "cnt", "pric"])  # fmt: skip
