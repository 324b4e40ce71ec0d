# ruff: noqa: S608 - SQL is built from fixed text and registered table names, never from user input
"""What the rules that compare a traceability code's product with the billed drug share: the distinct
(prefix, billed drug) pairs of the sales, decided once each, and the codes of the pairs found wrong.

A region sells millions of codes but only a few hundred distinct (7-digit prefix, billed drug) pairs, so
a rule decides the pairs first (on the small :data:`SOLD_PAIRS`) and reads the codes of the chosen pairs
only — none at all in clean data.
"""

from __future__ import annotations

from typing import Any

import polars as pl

SOLD_PAIRS = """SELECT SUBSTRING(drug_trac_codg, 1, 7) AS prefix, med_list_codg AS billed FROM drug_trac_d
                WHERE retn_flag <> '1' GROUP BY SUBSTRING(drug_trac_codg, 1, 7), med_list_codg"""
"""The distinct (prefix, billed drug) pairs of the sales (returns left out); billed is the item the sale
recorded (drug_trac_d.med_list_codg, the fee line's item as 3505 uploads it)."""


def codes_of_pairs(con: Any, pairs: pl.DataFrame, name: str) -> str:
    """Register ``pairs`` (prefix, billed, product) as ``name``; return the SQL of the sold codes of those
    pairs: drug_trac_codg, feedetl_sn and the pair's product."""
    con.register(name, pairs.to_arrow())
    return f"""SELECT t.drug_trac_codg, t.feedetl_sn, p.product FROM drug_trac_d t
               JOIN {name} p ON p.billed = t.med_list_codg AND p.prefix = SUBSTRING(t.drug_trac_codg, 1, 7)
               WHERE t.retn_flag <> '1' AND t.med_list_codg IN (SELECT billed FROM {name})"""
