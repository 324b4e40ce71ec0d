"""Findings: what supervision reports, in one immutable shape for online checks, batch rules and models.

A finding (DESIGN.md §3.5) says which rule or model fired, on which entities, why (a sentence a reviewer
can read), how much money is at stake (``vola_amt`` in fen: the whole line, the excess units or the price
gap) and how sure it is (``result_type`` 明确违规 / 可疑 / 提示 and ``sev_deg``). ``evidence`` carries the
rows that prove it, as a JSON-serialisable mapping.

yibao's dictionaries for the fields the national interface leaves undefined (interface.md §4):

- ``sev_deg`` 严重程度: "1" 明确违规 (clear violation), "2" 可疑 (suspicious), "3" 提示 (reminder);
- ``vola_amt_stas`` 违规金额计算状态: "1" computed exactly, "2" estimated, "0" not computable;
- ``vola_bhvr_type`` 违规行为分类: "1" 诊疗行为, "2" 收费行为, "3" 药品耗材, "4" 身份与就医, "5" 基金结算.

>>> f = Finding("J1", "R-GEND-01", "限定性别", "gender_age", "1", 4700, "男性患者开具限女性药品", mdtrt_id="M1")
>>> f.result_type
'明确违规'
"""

from __future__ import annotations

from typing import Any, NamedTuple

import polars as pl

RESULT_TYPES = {"1": "明确违规", "2": "可疑", "3": "提示"}
PATTERNS = frozenset(
    {
        "split_admission", "ghost_bed", "fake_admission", "drug_resale", "drug_swap", "item_swap", "card_cashout",
        "duplicate_charge", "overprice", "unbundling", "overdispense", "gender_age", "indication", "frequency",
        "overlap_stay", "after_death", "identity_fraud", "doctor_outlier", "upcoding", "catalogue_scope",
    }
)  # fmt: skip
"""The pattern vocabulary of DESIGN.md §3.5."""


class Finding(NamedTuple):
    """One finding. Money (``vola_amt``) in fen; entity fields empty when they do not apply.

    Attributes:
        jr_id: 违规标识, unique per finding.
        rule_id / rule_name: the rule or model that fired (rules_data id, e.g. R-GEND-01, or M-SPLIT).
        pattern: from PATTERNS.
        sev_deg: "1" 明确违规 / "2" 可疑 / "3" 提示.
        vola_amt: violation amount in fen.
        vola_cont: 违规内容 — who, what, when, how much, which rule, as a sentence.
        fixmedins_code, psn_no, mdtrt_id, feedetl_sn, drug_trac_codg, doctor: the entities.
        evidence: the rows and figures that support it (JSON-serialisable).
        score: a model's score (higher = more suspicious); 1.0 for rules.
        stage: 事前 / 事中 / 事后.
    """

    jr_id: str
    rule_id: str
    rule_name: str
    pattern: str
    sev_deg: str
    vola_amt: int
    vola_cont: str
    fixmedins_code: str = ""
    psn_no: str = ""
    mdtrt_id: str = ""
    feedetl_sn: str = ""
    drug_trac_codg: str = ""
    doctor: str = ""
    evidence: Any = None
    score: float = 1.0
    stage: str = "事后"

    @property
    def result_type(self) -> str:
        return RESULT_TYPES[self.sev_deg]


def vola_fen(findings: pl.DataFrame) -> pl.Expr:
    """``vola_amt`` in whole fen (Int64, nulls 0), whether the frame holds fen (in memory) or yuan as
    DECIMAL(16,2) (findings.parquet read as it is): a decimal is scaled exactly, never truncated.

    >>> from decimal import Decimal
    >>> disk = pl.DataFrame({"vola_amt": [Decimal("12.34")]}, schema={"vola_amt": pl.Decimal(16, 2)})
    >>> memory = pl.DataFrame({"vola_amt": [1234]})
    >>> disk.select(vola_fen(disk))["vola_amt"].to_list(), memory.select(vola_fen(memory))["vola_amt"].to_list()
    ([1234], [1234])
    """
    amt = pl.col("vola_amt")
    dtype = findings.schema["vola_amt"]
    if isinstance(dtype, pl.Decimal):
        if (dtype.scale or 0) > 2:
            raise ValueError(f"findings: vola_amt {dtype} has more than 2 decimal places (yuan to the fen)")
        amt = amt * 100
    elif dtype.is_float():
        raise ValueError("findings: vola_amt is a float; money must be fen (integer) or yuan DECIMAL(16,2)")
    return amt.cast(pl.Int64).fill_null(0).alias("vola_amt")
