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
from yibao.synth.fraud._base import UNIT, Context, Labels, Rows, Tables, encounters

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
    enc = encounters(tables, ctx).filter(
        pl.col("fixmedins_code").is_in(list(ctx.institutions)) & pl.col("kind").is_in(["outpatient", "chronic", "inpatient"])
    )
    ids = enc.get_column("mdtrt_id").to_list()
    diag = tables["setl_list_diag_d"].filter(pl.col("mdtrt_id").is_in(ids))
    dx_by: dict[str, list[tuple[str, str]]] = {}
    for m, code, flag in diag.select("mdtrt_id", "diag_code", "maindiag_flag").iter_rows():
        dx_by.setdefault(m, []).append((code, flag))
    fee = tables["fee_list_d"].filter(pl.col("mdtrt_id").is_in(ids))
    share = float(rng.uniform(*SHARE))
    # drop: restricted drug justified by a secondary diagnosis only
    restricted = {
        c: it.restriction.indications
        for c in fee.filter(pl.col("rxno") != "").get_column("med_list_codg").unique().sort().to_list()
        if (it := ctx.item(c)) is not None and it.restriction.indications
    }
    drops: list[tuple[str, str]] = []
    lines = fee.filter(pl.col("med_list_codg").is_in(list(restricted))).sort("feedetl_sn")
    by_enc = {key[0]: part for key, part in lines.partition_by("mdtrt_id", as_dict=True).items()}
    budget = ctx.cases(len(by_enc), 4 * share, weight=0.1)
    for m in sorted(by_enc):
        if len(drops) >= budget or rng.random() >= 4 * share:
            continue
        dxs = dx_by.get(m, [])
        mine = list(by_enc[m].iter_rows(named=True))
        secondary = [
            c for r in mine for c, f in dxs
            if f == "0" and c.startswith(restricted[r["med_list_codg"]])
            and not any(cc.startswith(restricted[r["med_list_codg"]]) for cc, ff in dxs if ff == "1")
        ]  # fmt: skip
        if not secondary:
            continue
        gone = secondary[0]
        left = [c for c, _ in dxs if c != gone]
        drops.append((m, gone))
        case = lab.case()
        for r in mine:
            ind = restricted[r["med_list_codg"]]
            if any(c.startswith(ind) for c in left):
                continue
            lab.add(case, "1", {"variant": "drop", "item": r["med_list_codg"], "indications": list(ind), "dropped": gone},
                    mdtrt_id=m, feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"],
                    doctor=r["bilg_dr_codg"])  # fmt: skip
    out = dict(tables)
    if drops:
        gone_df = pl.DataFrame(drops, schema={"mdtrt_id": pl.String, "diag_code": pl.String}, orient="row")
        out["setl_list_diag_d"] = (
            tables["setl_list_diag_d"]
            .join(gone_df.with_columns(pl.lit(True).alias("__gone")), on=["mdtrt_id", "diag_code"], how="left", maintain_order="left")
            .filter(pl.col("__gone").is_null())
            .drop("__gone")
        )
    # add: a restricted drug on an encounter without any of its diagnoses
    dropped = {m for m, _ in drops}
    first = fee.filter(~pl.col("mdtrt_id").is_in(list(dropped))).sort("fee_ocur_time", "feedetl_sn").unique("mdtrt_id", keep="first")
    first = first.join(enc.select("mdtrt_id", "lv", "kind"), on="mdtrt_id").filter(pl.col("kind") != "inpatient").sort("mdtrt_id")
    n = ctx.cases(first.height, share, weight=0.2)
    drugs = [c for c in _ADDED if ctx.has(c)]
    if n and drugs:
        for r in first[[int(i) for i in rng.choice(first.height, size=n, replace=False)]].iter_rows(named=True):
            drug = drugs[int(rng.integers(len(drugs)))]
            item = ctx.item(drug)
            assert item is not None
            ind = item.restriction.indications
            if any(c.startswith(ind) for c, _ in dx_by.get(r["mdtrt_id"], [])):
                continue
            sn, _ = rows.line(
                mdtrt_id=r["mdtrt_id"], psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], med_list_codg=drug,
                when=r["fee_ocur_time"], cnt=UNIT, pric=ctx.prices.price(drug, r["lv"]), doctor=r["bilg_dr_codg"],
                dept=r["bilg_dept_codg"], prd_days=14,
            )  # fmt: skip
            case = lab.case()
            lab.add(case, "1", {"variant": "add", "item": drug, "indications": list(ind)}, mdtrt_id=r["mdtrt_id"],
                    feedetl_sn=sn, psn_no=r["psn_no"], fixmedins_code=r["fixmedins_code"], doctor=r["bilg_dr_codg"])  # fmt: skip
    return rows.added(out), lab.frame()
