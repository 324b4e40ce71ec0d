# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""追溯码无效 / 未对照 (trace_invalid): a scanned code that cannot be a 码上放心 code of a known product.

A code must be 20 digits starting with 8 and its 7-digit prefix must map to a catalogue drug (未对照
otherwise). Digits 8–20 are treated as opaque (their check scheme is not public).

Before::

    F1  阿莫西林胶囊  code 84996380120003455143

After::

    F1  阿莫西林胶囊  code 7499638012000345514   → R-TRACE-02 可疑: 19 characters, does not start with 8
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared, fee, line_finding
from yibao.supervision.rules._sql import (
    Columns,
    empty_findings,
    fee_expr,
    finish,
    full_match,
    line_who,
    lines_sql,
    run,
)

UNIT = 10_000


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    unknown_prefix: bool = True


def reason(code: str, prefixes: frozenset[str] | None) -> str | None:
    """Why ``code`` is not a valid code of a known product, or None."""
    if len(code) != 20:
        return f"长度为 {len(code)} 位（应为 20 位）"
    if not (code.isascii() and code.isdigit()):
        return "含非数字字符"
    if code[0] != "8":
        return "不以 8 开头"
    if prefixes is not None and code[:7] not in prefixes:
        return f"药品标识码 {code[:7]} 未对照"
    return None


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    return Prepared(None, frozenset(kb.trace_products) if p.unknown_prefix else None)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    out = []
    for line in enc.lines:
        for i, (code, _) in enumerate(line.traces):
            why = reason(code, prep.data)
            if why:
                out.append(line_finding(rule, enc, line, fee(line.pric, UNIT), f"，追溯码 {code} {why}",
                                        evidence={"drug_trac_codg": code}, suffix=f":{i}", status="2"))  # fmt: skip
    return out


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "trace", "items")
    cols = Columns(con)
    valid = full_match("drug_trac_codg", "8[0-9]{19}")
    # one pass: per 7-digit prefix, how many of its codes are malformed; only the prefixes with a
    # malformed or unmapped code are read again, row by row (none in clean data)
    per_prefix = run(con, f"""
        SELECT SUBSTRING(drug_trac_codg, 1, 7) AS prefix, SUM(CASE WHEN {valid} THEN 0 ELSE 1 END) AS malformed
        FROM drug_trac_d GROUP BY SUBSTRING(drug_trac_codg, 1, 7)
    """)  # fmt: skip
    known = set(kb.trace_products) if p.unknown_prefix else None
    suspect = [
        (prefix, int(malformed))
        for prefix, malformed in per_prefix.iter_rows()
        if malformed or (known is not None and prefix not in known)
    ]
    if not suspect:
        return empty_findings()
    unmapped = [known is not None and q not in known for q, _ in suspect]
    con.register("yb_trace_suspect", pa.table({"prefix": [q for q, _ in suspect], "unmapped": unmapped}))
    sql = f"""
        WITH bad AS (SELECT t.drug_trac_codg, t.feedetl_sn,
                            CASE WHEN LENGTH(t.drug_trac_codg) <> 20 THEN 'length'
                                 WHEN TRANSLATE(t.drug_trac_codg, '0123456789', '') <> '' THEN 'digits'
                                 WHEN SUBSTRING(t.drug_trac_codg, 1, 1) <> '8' THEN 'lead'
                                 ELSE 'prefix' END AS why
                     FROM drug_trac_d t
                     JOIN yb_trace_suspect q ON q.prefix = SUBSTRING(t.drug_trac_codg, 1, 7)
                     WHERE q.unmapped OR NOT {full_match("t.drug_trac_codg", "8[0-9]{19}")}),
        l AS ({lines_sql(cols, rule, where="f.feedetl_sn IN (SELECT feedetl_sn FROM bad)")})
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, bad.drug_trac_codg,
               bad.why, l.cnt, l.pric
        FROM l JOIN bad ON bad.feedetl_sn = l.feedetl_sn JOIN yb_kb_items it ON it.code = l.code
    """
    rows = run(con, sql).with_columns(vola_amt=fee_expr(pl.col("pric"), pl.lit(UNIT)))
    why = {
        "length": "长度不是 20 位",
        "digits": "含非数字字符",
        "lead": "不以 8 开头",
        "prefix": "药品标识码未对照",
    }
    cont = pl.format("{}，追溯码 {} {}", line_who(), pl.col("drug_trac_codg"), pl.col("why").replace(why))
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn", "drug_trac_codg"],
        evidence=["code", "name", "t", "drug_trac_codg", "why"],
    )
