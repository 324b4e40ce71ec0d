"""unbundling (分解收费 / 分解项目): one service billed as several.

At a bad hospital or clinic a share of the lines of per-time services (静脉输液, 换药, 雾化吸入, 运动疗法, 针刺,
理疗, 肌肉注射, 吸氧) is split: the line stays and 1–3 more lines of the same item follow 1–20 minutes apart,
as if the one service were several sessions.

Before::

    F1  静脉输液  10:40  ¥10.00

After (split into 3)::

    F1          静脉输液  10:40  ¥10.00
    F3UB000001  静脉输液  10:47  ¥10.00
    F3UB000002  静脉输液  10:58  ¥10.00

Labels: one row per added line (label 1), one case per split service; params: split_into, original.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import Context, Labels, Rows, Tables, lines_at

PATTERN = "unbundling"
CODE = "UB"
SETTINGS = ("ward", "clinic")
KIND = "add"
SHARE = (0.02, 0.10)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    fee = lines_at(tables, ctx, pl.col("med_list_codg").is_in([c for c in k.UNBUNDLE_ITEMS if ctx.has(c)]))
    if ctx.taken_lines and fee.height:
        fee = fee.filter(~pl.col("feedetl_sn").is_in(list(ctx.taken_lines)))
    fee = fee.sort("feedetl_sn").unique("mdtrt_id", keep="first", maintain_order=True)
    n = ctx.cases(fee.height, float(rng.uniform(*SHARE)), weight=0.2)
    chosen = fee[[int(i) for i in rng.choice(fee.height, size=n, replace=False)]] if n else fee.head(0)
    ends = dict(
        tables["mdtrt_d"]
        .join(chosen.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left")
        .select("mdtrt_id", "endtime")
        .iter_rows()
    )
    for r in chosen.iter_rows(named=True):
        parts = int(rng.integers(2, 5))
        case = lab.case()
        when = r["fee_ocur_time"]
        for _ in range(parts - 1):
            when = when + timedelta(minutes=int(rng.integers(1, 21)))
            if when > ends[r["mdtrt_id"]] or when.date() != r["fee_ocur_time"].date():
                break
            sn, _ = rows.copy_line(r, fee_ocur_time=when)
            lab.add(case, "1", {"split_into": parts, "original": r["feedetl_sn"]}, mdtrt_id=r["mdtrt_id"], feedetl_sn=sn,
                    psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], doctor=r["bilg_dr_codg"])  # fmt: skip
    return rows.added(tables), lab.frame()
