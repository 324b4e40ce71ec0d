"""Small tables for the unit tests, in the in-memory kinds of :mod:`yibao.dataset.schema`."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES


def fee_lines(n: int, first: int = 0) -> pl.DataFrame:
    """``n`` fee lines in the in-memory kinds (pric 1e-6 yuan, cnt 1e-4, amounts fen), some negative."""
    k = range(first, first + n)
    return pl.DataFrame(
        {
            "feedetl_sn": [f"F{i}" for i in k],
            "mdtrt_id": [f"M{i // 7}" for i in k],
            "psn_no": [f"P{i // 30}" for i in k],
            "fixmedins_code": [f"H{i % 3}" for i in k],
            "med_list_codg": [f"X{i % 11}" for i in k],
            "med_chrgitm_type": ["09"] * n,
            "fee_ocur_time": [datetime(2024, 3, 1) + timedelta(seconds=37 * i) for i in k],
            "cnt": [(i % 5 + 1) * 10_000 for i in k],
            "pric": [i * 1_234_567 - 9_000_000 for i in k],
            "det_item_fee_sumamt": [i * 17 - 500 for i in k],
            "bilg_dr_codg": ["D1"] * n,
            "bilg_dept_codg": ["A03"] * n,
            "rxno": [""] * n,
            "prd_days": [i % 4 for i in k],
        },
        schema=polars_schema(TABLES["fee_list_d"]),
    )
