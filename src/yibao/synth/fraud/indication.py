"""indication (限适应症 / 无指征用药): a drug whose payment is limited to some diagnoses, billed without one.

At a bad hospital, clinic or pharmacy:

* ``drop`` — an encounter with an indication-restricted drug and the secondary diagnosis that justifies
  it loses that diagnosis (the claim no longer shows why the drug was paid);
* ``add`` — an indication-restricted drug (达格列净, 西格列汀, 替格瑞洛, 沙库巴曲缬沙坦 …) is added to an
  outpatient or chronic encounter none of whose diagnoses is in its list.

Before (add)::

    M1  K29.500 慢性胃炎   诊察费, 奥美拉唑

After::

    M1  K29.500 慢性胃炎   诊察费, 奥美拉唑, 达格列净片  ← 限 E11/I50/N18

Labels: one row per restricted drug line (label 1); params: variant, item, indications, dropped (the
diagnosis removed, for ``drop``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    encounters,
    lines_at,
    lines_for,
    rows_by,
)

PATTERN = "indication"
CODE = "IN"
SETTINGS = ("ward", "clinic", "pharmacy")
KIND = "add"
SHARE = (0.01, 0.05)

_ADDED = (k.DAPAGLIFLOZIN, k.SITAGLIPTIN, k.TICAGRELOR, k.SACUBITRIL, k.INSULIN_GLARGINE)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    enc = encounters(
        tables,
        ctx,
        pl.col("fixmedins_code").is_in(list(ctx.institutions))
        & pl.col("kind").is_in(["outpatient", "chronic", "inpatient"]),
    )
    share = float(rng.uniform(*SHARE))
    restricted = {
        it.med_list_codg: it.restriction.indications
        for it in ctx.catalog.items()
        if it.list_type == "drug" and it.restriction.indications and it.in_force(ctx.prices.on)
    }
    drops = _drop(rng, tables, ctx, lab, enc, restricted, share)
    out = dict(tables)
    if drops:
        gone_df = pl.DataFrame(
            list(drops.items()), schema={"mdtrt_id": pl.String, "diag_code": pl.String}, orient="row"
        )
        out["setl_list_diag_d"] = (
            tables["setl_list_diag_d"]
            .join(
                gone_df.with_columns(pl.lit(True).alias("__gone")),
                on=["mdtrt_id", "diag_code"],
                how="left",
                maintain_order="left",
            )
            .filter(pl.col("__gone").is_null())
            .drop("__gone")
        )
    # add: a restricted drug on an encounter without any of its diagnoses
    drugs = [c for c in _ADDED if ctx.has(c)]
    pool = (
        enc.filter((pl.col("kind") != "inpatient") & ~pl.col("mdtrt_id").is_in(list(drops)))
        .get_column("mdtrt_id")
        .sort()
    )
    n = ctx.cases(pool.len(), share, weight=0.2)
    if n and drugs:
        chosen = pool.gather(np.sort(rng.choice(pool.len(), size=n, replace=False))).to_list()
        lv_of = dict(enc.filter(pl.col("mdtrt_id").is_in(chosen)).select("mdtrt_id", "lv").iter_rows())
        first = rows_by(
            lines_for(tables, ctx, enc.filter(pl.col("mdtrt_id").is_in(chosen))).sort("fee_ocur_time", "feedetl_sn")
            .unique("mdtrt_id", keep="first", maintain_order=True), "mdtrt_id",
        )  # fmt: skip
        dx_of = rows_by(tables["setl_list_diag_d"].filter(pl.col("mdtrt_id").is_in(chosen)), "mdtrt_id")
        for m in chosen:
            if m not in first:
                continue
            r = first[m][0]
            drug = drugs[int(rng.integers(len(drugs)))]
            ind = restricted.get(drug, ())
            if not ind or any(d["diag_code"].startswith(ind) for d in dx_of.get(m, [])):
                continue
            sn, _ = rows.line(
                mdtrt_id=m, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], med_list_codg=drug,
                when=r["fee_ocur_time"], cnt=UNIT, pric=ctx.prices.price(drug, lv_of.get(m, "1")), doctor=r["bilg_dr_codg"],
                dept=r["bilg_dept_codg"], prd_days=14,
            )  # fmt: skip
            case = lab.case()
            lab.add(case, "1", {"variant": "add", "item": drug, "indications": list(ind)}, mdtrt_id=m,
                    feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], doctor=r["bilg_dr_codg"])  # fmt: skip
    return rows.added(out), lab.frame()


def _drop(
    rng: np.random.Generator,
    tables: Tables,
    ctx: Context,
    lab: Labels,
    enc: pl.DataFrame,
    restricted: dict[str, tuple[str, ...]],
    share: float,
) -> dict[str, str]:
    """Encounters whose restricted drug is justified by a secondary diagnosis only lose that diagnosis."""
    lines = lines_at(tables, ctx, pl.col("med_list_codg").is_in(list(restricted))).join(
        enc.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left"
    )
    if lines.height == 0:
        return {}
    prefixes = pl.DataFrame(
        [(c, p) for c, ps in restricted.items() for p in ps],
        schema={"med_list_codg": pl.String, "prefix": pl.String},
        orient="row",
    )
    ids = lines.get_column("mdtrt_id").unique().to_list()
    just = (
        lines.select("mdtrt_id", "med_list_codg").unique()
        .join(prefixes, on="med_list_codg", maintain_order="left")
        .join(tables["setl_list_diag_d"].filter(pl.col("mdtrt_id").is_in(ids)).select("mdtrt_id", "diag_code", "maindiag_flag"),
              on="mdtrt_id", maintain_order="left")
        .filter(pl.col("diag_code").str.starts_with(pl.col("prefix")))
        .group_by("mdtrt_id", "med_list_codg")
        .agg((pl.col("maindiag_flag") == "1").any().alias("by_main"), pl.col("diag_code").filter(pl.col("maindiag_flag") != "1").sort().alias("sec"))
        .filter(~pl.col("by_main") & (pl.col("sec").list.len() > 0))
        .sort("mdtrt_id", "med_list_codg")
        .unique("mdtrt_id", keep="first", maintain_order=True)
    )  # fmt: skip
    budget = ctx.cases(just.height, 4 * share, weight=0.1)
    if budget == 0:
        return {}
    chosen = just[[int(i) for i in np.sort(rng.choice(just.height, size=budget, replace=False))]]
    gone = {m: sec[0] for m, sec in chosen.select("mdtrt_id", "sec").iter_rows()}
    dx_of = rows_by(tables["setl_list_diag_d"].filter(pl.col("mdtrt_id").is_in(list(gone))), "mdtrt_id")
    lines_of = rows_by(lines.filter(pl.col("mdtrt_id").is_in(list(gone))).sort("feedetl_sn"), "mdtrt_id")
    for m, dropped in gone.items():
        left = [d["diag_code"] for d in dx_of.get(m, []) if d["diag_code"] != dropped]
        case = lab.case()
        for r in lines_of.get(m, []):
            ind = restricted[r["med_list_codg"]]
            if any(c.startswith(ind) for c in left):
                continue
            lab.add(case, "1", {"variant": "drop", "item": r["med_list_codg"], "indications": list(ind), "dropped": dropped},
                    mdtrt_id=m, feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                    doctor=r["bilg_dr_codg"])  # fmt: skip
    return gone
