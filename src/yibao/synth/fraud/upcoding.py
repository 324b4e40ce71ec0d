"""upcoding (高套编码): complications and comorbidities the patient did not have, to reach a dearer DRG.

At a bad hospital a share (5–20%) of stays is recoded:

* ``add_cc`` — one or two CC/MCC secondary diagnoses of the CHS-DRG 1.1 lists (急性呼吸衰竭, 急性肾衰竭,
  重度营养不良, 低钠血症, 急性出血后贫血, 心力衰竭, 肺炎) are added, without the tests or treatment that
  would support them;
* ``swap_main`` — the principal diagnosis is exchanged with a secondary one (the FAU "ICD order swap").

Before::

    M1  J18.900 肺炎 (main)   I10.x09 原发性高血压

After (add_cc)::

    M1  J18.900 肺炎 (main)   I10.x09 原发性高血压   J96.000 急性呼吸衰竭   E87.102 低钠血症

Labels: one row per recoded stay (label 1); params: variant, added (codes) or main_from / main_to.

Hard negative (label 0): a legitimately sicker patient — the same kind of CC added together with the
tests and the treatment that support it (BNP and 超声心动图 with 呋塞米 for 心力衰竭, PCT/CRP and a chest
film with 头孢曲松 for 肺炎 …).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import (
    INPATIENT,
    UNIT,
    Context,
    Labels,
    Rows,
    Tables,
    encounters,
    update,
)

PATTERN = "upcoding"
CODE = "UC"
SETTINGS = ("ward",)
KIND = "add"
AVOID = ("indication",)  # an added CC could justify a drug the indication pattern left unjustified
SHARE = (0.05, 0.20)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    stays = (
        encounters(tables, ctx).filter((pl.col("kind") == INPATIENT) & (pl.col("los") >= 1)).sort("mdtrt_id")
    )
    if stays.height == 0:
        return tables, lab.frame()
    diag = tables["setl_list_diag_d"].join(
        stays.select("mdtrt_id"), on="mdtrt_id", how="semi", maintain_order="left"
    )
    dx_by: dict[str, list[dict[str, Any]]] = {}
    for r in diag.iter_rows(named=True):
        dx_by.setdefault(r["mdtrt_id"], []).append(r)
    bad = stays.filter(pl.col("fixmedins_code").is_in(list(ctx.institutions)))
    n = ctx.cases(bad.height, float(rng.uniform(*SHARE)), kind="inpatient") if ctx.institutions else 0
    chosen = bad[[int(i) for i in rng.choice(bad.height, size=n, replace=False)]] if n else bad.head(0)
    swaps: list[dict[str, Any]] = []
    main_changes: list[dict[str, Any]] = []
    for s in chosen.iter_rows(named=True):
        dxs = dx_by.get(s["mdtrt_id"], [])
        present = {d["diag_code"] for d in dxs}
        case = lab.case()
        if len(dxs) >= 2 and rng.random() < 0.2:
            main = (
                next(d for d in dxs if d["maindiag_flag"] == "1")
                if any(d["maindiag_flag"] == "1" for d in dxs)
                else dxs[0]
            )
            other = next(d for d in dxs if d is not main)
            swaps += [
                {"mdtrt_id": s["mdtrt_id"], "diag_code": main["diag_code"], "maindiag_flag": "0"},
                {"mdtrt_id": s["mdtrt_id"], "diag_code": other["diag_code"], "maindiag_flag": "1"},
            ]
            main_changes.append({"mdtrt_id": s["mdtrt_id"], "dscg_maindiag_code": other["diag_code"],
                                 "dscg_maindiag_name": other["diag_name"]})  # fmt: skip
            params: dict[str, Any] = {
                "variant": "swap_main",
                "main_from": main["diag_code"],
                "main_to": other["diag_code"],
            }
        else:
            options = [
                c
                for c in k.CC_DIAGNOSES
                if c not in present and not s["dscg_maindiag_code"].startswith(c[:3])
            ]
            added = [
                options[int(i)]
                for i in rng.choice(
                    len(options), size=min(len(options), int(rng.integers(1, 3))), replace=False
                )
            ]
            for c in added:
                rows.diag(s["mdtrt_id"], c, k.DX[c], main=False)
            params = {"variant": "add_cc", "added": added}
        lab.add(case, "1", params, mdtrt_id=s["mdtrt_id"], psn_no=s["psn_no"], fixmedins_code=s["fixmedins_code"],
                doctor=s["atddr_no"])  # fmt: skip
    # hard negatives: the CC with its support, at any hospital
    rest = stays.filter(
        ~pl.col("mdtrt_id").is_in(chosen.get_column("mdtrt_id").to_list()) & (pl.col("los") >= 2)
    )
    m = min(rest.height, max(1, round(max(n, 1) * rng.uniform(0.3, 0.8))))
    for s in (
        rest[[int(i) for i in rng.choice(rest.height, size=m, replace=False)]].iter_rows(named=True)
        if m
        else ()
    ):
        present = {d["diag_code"] for d in dx_by.get(s["mdtrt_id"], [])}
        options = [
            c for c in k.CC_SUPPORT if c not in present and not s["dscg_maindiag_code"].startswith(c[:3])
        ]
        if not options:
            continue
        c = options[int(rng.integers(len(options)))]
        rows.diag(s["mdtrt_id"], c, k.DX[c], main=False)
        tests, treatment = k.CC_SUPPORT[c]
        when = s["begntime"] + timedelta(hours=int(rng.integers(2, 20)))
        added_lines = []
        for code in (*tests, *treatment):
            if not ctx.has(code):
                continue
            sn, _ = rows.line(
                mdtrt_id=s["mdtrt_id"], psn_no=s["psn_no"], fixmedins_code=s["fixmedins_code"], med_list_codg=code,
                when=min(when, s["endtime"]), cnt=UNIT, pric=ctx.prices.price(code, s["lv"]), doctor=s["atddr_no"],
                dept=s["dept_codg"], prd_days=1,
            )  # fmt: skip
            added_lines.append(sn)
        case = lab.case()
        lab.add(case, "0", {"kind": "supported_cc", "added": c, "support": added_lines}, mdtrt_id=s["mdtrt_id"],
                psn_no=s["psn_no"], fixmedins_code=s["fixmedins_code"], doctor=s["atddr_no"])  # fmt: skip
    out = dict(tables)
    if swaps:
        out["setl_list_diag_d"] = update(
            tables["setl_list_diag_d"], pl.DataFrame(swaps), ["mdtrt_id", "diag_code"]
        )
        out["mdtrt_d"] = update(tables["mdtrt_d"], pl.DataFrame(main_changes), "mdtrt_id")
    return rows.added(out), lab.frame()
