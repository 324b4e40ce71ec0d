# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""追溯码重复结算 (trace_duplicate): one traceability code settled more than once net of returns.

Every smallest package has its own code, so a code settled twice means a package sold twice: a drug
dispensed to one patient came back (回流药) and was sold again, often at another institution or in
another region. Returns (retn_flag 1) cancel a sale; scans of one code on one fee line (拆零) count once.

Before::

    03-02  H1  P3   阿托伐他汀钙片  code 8…001
    03-09  H1       (return of 8…001)
    03-20  H1  P9   阿托伐他汀钙片  code 8…001      net 1 settlement: fine

After::

    03-02  H1  P3   阿托伐他汀钙片  code 8…001      → R-TRACE-01 明确违规 (first sale, 涉及, vola_amt 0)
    04-18  Y7  P77  阿托伐他汀钙片  code 8…001      → R-TRACE-01 明确违规 (resale, one package)

Batch form: the candidate codes (seen more than once) are found first, and only those are looked at
closely. The portable SQL finds them with a GROUP BY (:func:`duplicate_codes_sql`, what Spark runs);
on DuckDB, :func:`register_candidates` does it faster — a GROUP BY over millions of distinct strings
is memory-bound — by sorting the 64-bit hashes of the codes in NumPy and keeping the hashes seen
twice (DuckDB's ``hash``; Spark's is ``xxhash64``), then reads the rows of those hashes once into a
small table that the rest of the SQL works on: two scans of drug_trac_d in all, more than five
million codes a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import DIALECT, Columns, fee_expr, finish, line_who, lines_sql, run

UNIT = 10_000


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(None, None)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    seen = enc.history.traces
    out = []
    for line in enc.lines:
        for i, (code, retn) in enumerate(line.traces):
            if retn:
                continue
            past = seen.get(code)
            if not past:
                continue
            sales = {m for m, _, _, r in past if not r}
            net = len(sales) - sum(1 for *_, r in past if r)
            if net < 1:
                continue
            where = "、".join(sorted({inst for _, inst, _, r in past if not r}))
            out.append(line_finding(rule, enc, line, fee(line.pric, UNIT), f"，追溯码 {code} 已于 {where} 结算 {net} 次，本次重复结算",
                                    evidence={"drug_trac_codg": code, "previous": sorted(sales)}, suffix=f":{i}"))  # fmt: skip
    return out


_TRACE_COLUMNS = "drug_trac_codg, feedetl_sn, retn_flag, fixmedins_code, sel_time"


def register_candidates(con: Any) -> int:
    """Register ``yb_trace_cand(h)``: the hashes of codes scanned more than once, and
    ``yb_trace_rows``: the drug_trac_d rows of those hashes (the only ones that can be duplicates);
    returns the number of candidate hashes."""
    got = con.sql("SELECT hash(drug_trac_codg) AS h FROM drug_trac_d").fetchnumpy()["h"]
    h = pl.Series(np.asarray(got, dtype=np.uint64)).sort().to_numpy()  # Polars' parallel sort: half NumPy's time
    dup = np.unique(h[1:][h[1:] == h[:-1]])
    con.register("yb_trace_cand", pa.table({"h": pa.array(dup, type=pa.uint64())}))
    rows = con.sql(
        f"SELECT {_TRACE_COLUMNS} FROM drug_trac_d WHERE hash(drug_trac_codg) IN (SELECT h FROM yb_trace_cand)"
    ).to_arrow_table()
    con.register("yb_trace_rows", rows)
    return len(dup)


def duplicate_codes_sql(source: str = "drug_trac_d") -> str:
    """The codes settled more than once net of returns, with their counts (the vectorised core), over
    ``source``: drug_trac_d, or the candidate rows :func:`register_candidates` registered
    (``yb_trace_rows``, DuckDB).
    """
    return f"""
        WITH cand AS (SELECT drug_trac_codg FROM {source} GROUP BY drug_trac_codg HAVING COUNT(*) > 1),
        rows_ AS (SELECT t.drug_trac_codg, t.feedetl_sn, t.retn_flag, t.fixmedins_code, t.sel_time
                  FROM {source} t JOIN cand ON cand.drug_trac_codg = t.drug_trac_codg),
        sales AS (SELECT drug_trac_codg, feedetl_sn, MIN(fixmedins_code) AS fixmedins_code, MIN(sel_time) AS sel_time
                  FROM rows_ WHERE retn_flag <> '1' GROUP BY drug_trac_codg, feedetl_sn),
        net AS (SELECT s.drug_trac_codg, s.n_sales - COALESCE(r.n_returns, 0) AS net, s.n_sales, s.n_inst,
                       COALESCE(r.n_returns, 0) AS n_returns
                FROM (SELECT drug_trac_codg, COUNT(*) AS n_sales, COUNT(DISTINCT fixmedins_code) AS n_inst
                      FROM sales GROUP BY drug_trac_codg) s
                LEFT JOIN (SELECT drug_trac_codg, COUNT(*) AS n_returns FROM rows_ WHERE retn_flag = '1'
                           GROUP BY drug_trac_codg) r ON r.drug_trac_codg = s.drug_trac_codg)
        SELECT sales.drug_trac_codg, sales.feedetl_sn, sales.sel_time, net.net, net.n_sales, net.n_returns, net.n_inst,
               ROW_NUMBER() OVER (PARTITION BY sales.drug_trac_codg ORDER BY sales.sel_time, sales.feedetl_sn) AS nth
        FROM sales JOIN net ON net.drug_trac_codg = sales.drug_trac_codg
        WHERE net.net > 1
    """


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    rule.params_of(Params)
    kb.register(con, "items")
    cols = Columns(con)
    source = "drug_trac_d"
    if DIALECT == "duckdb":
        register_candidates(con)
        source = "yb_trace_rows"
    sql = f"""
        WITH d AS ({duplicate_codes_sql(source)}),
        l AS ({lines_sql(cols, rule, where="f.feedetl_sn IN (SELECT feedetl_sn FROM d)")})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, d.drug_trac_codg,
               d.net, d.n_sales, d.n_returns, d.n_inst, d.nth, l.cnt, l.pric
        FROM l JOIN d ON d.feedetl_sn = l.feedetl_sn JOIN yb_kb_items it ON it.code = l.code
    """
    rows = run(con, sql).with_columns(
        vola_amt=pl.when(pl.col("nth") == 1).then(pl.lit(0)).otherwise(fee_expr(pl.col("pric"), pl.lit(UNIT)))
    )
    role = (
        pl.when(pl.col("nth") == 1)
        .then(pl.lit("首次结算（涉及）"))
        .otherwise(pl.format("第 {} 次结算", pl.col("nth")))
    )
    cont = pl.format("{}，追溯码 {} 净结算 {} 次（{} 家机构，退货 {} 次），本条为{}", line_who(), pl.col("drug_trac_codg"),
                     pl.col("net"), pl.col("n_inst"), pl.col("n_returns"), role)  # fmt: skip
    return finish(rows, rule, cont=cont, key=["feedetl_sn", "drug_trac_codg"],
                  evidence=["code", "name", "t", "drug_trac_codg", "net", "n_sales", "n_returns", "n_inst", "nth"])  # fmt: skip
