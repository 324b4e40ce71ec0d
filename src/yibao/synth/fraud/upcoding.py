"""upcoding (高套编码): complications and comorbidities the patient did not have, to reach a dearer DRG.

At a bad hospital a share (3–25%) of stays gets one or two CC/MCC secondary diagnoses of the CHS-DRG 1.1
lists (急性呼吸衰竭, 急性肾衰竭, 重度营养不良, 急性出血后贫血, 心力衰竭, 肺炎) that nothing in the stay
supports: a CC is only added to a stay that bills none of the tests, drugs or treatments that would show
it (:data:`SUPPORT` — oxygen or a ventilator for respiratory failure, diuresis or dialysis for renal
failure, parenteral nutrition for malnutrition, iron or a transfusion for haemorrhagic anaemia, BNP,
echocardiography or a heart-failure drug for heart failure, an antibiotic for pneumonia). Routine tests
every stay has (血常规, 肌酐, 肝功能) support nothing on their own.

Before::

    M1  J18.900 肺炎 (main)   I10.x09 原发性高血压      头孢曲松  血常规  肌酐

After::

    M1  J18.900 肺炎 (main)   I10.x09 原发性高血压   J96.000 急性呼吸衰竭   N17.900 急性肾衰竭

Labels: one row per recoded stay (label 1); params: variant "add_cc", added (codes).

Hard negative (label 0): a legitimately sicker patient — the same kind of CC added together with the
tests and the treatment that support it (BNP and 超声心动图 with 呋塞米 for 心力衰竭, PCT/CRP and a chest
film with 头孢曲松 for 肺炎 …), each item priced at the hospital's level.

Not injected: 低钠血症 (the starter catalogue has no serum electrolyte test, so no stay can show support
or its absence), and the FAU "principal/secondary order swap" (without grouping the stay, a swap is as
likely to lower the DRG as to raise it, and the claim shows nothing a reviewer could check).
"""

from __future__ import annotations

from datetime import timedelta

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
    lines_with,
)

PATTERN = "upcoding"
CODE = "UC"
SETTINGS = ("ward",)
KIND = "add"
AVOID = ("indication", "item_swap")
"""An added CC could justify a drug the indication pattern left unjustified; a swap (彩超 → 超声心动图)
could bill the very test that would support it."""
SHARE = (0.03, 0.25)

VENTILATOR = "003106030100000"  # 呼吸机辅助呼吸
AMINO_ACIDS = "XB05BAG072B003010113859"  # 复方氨基酸注射液(18AA)
LIPID_EMULSION = "XB05BAH073B003010115653"  # 中/长链脂肪乳注射液
ALBUMIN = "XB05AAD074B001010177846"  # 人血白蛋白
TRANSFUSION_SET = "C01010400500100001510667523"  # 一次性使用输血器
SPIRONOLACTONE = "XC03DAA045A001010115332"
VALSARTAN = "XC09CAB038A010010151311"
DIGOXIN = "XC01AAR057A001010111046"
_HEART_FAILURE_DRUGS = (
    k.FUROSEMIDE, SPIRONOLACTONE, k.SACUBITRIL, k.METOPROLOL, k.BISOPROLOL, k.ENALAPRIL, k.LOSARTAN, VALSARTAN,
    DIGOXIN, k.DAPAGLIFLOZIN,
)  # fmt: skip

SUPPORT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "J96.000": ((k.PCT, k.CRP, k.DR_CHEST), (k.OXYGEN, VENTILATOR)),
    "N17.900": ((k.CREATININE, k.URIC_ACID, k.URINE), (k.FUROSEMIDE, k.DIALYSIS)),
    "E43.x00": ((k.BILIRUBIN, k.ALT, k.CBC), (AMINO_ACIDS, LIPID_EMULSION, ALBUMIN)),
    "D62.x00": ((k.CBC,), (k.IRON_SUCROSE, TRANSFUSION_SET)),
    "I50.900": ((k.BNP, k.ECHO), _HEART_FAILURE_DRUGS),
    "J18.900": ((k.CRP, k.PCT, k.DR_CHEST), (k.CEFTRIAXONE, k.LEVOFLOXACIN, k.AZITHROMYCIN)),
}
"""CC/MCC → (tests a clinician orders for it, treatments): what shows the diagnosis was real. Any one
treatment, or for heart failure also BNP or echocardiography, supports it; so does any antibacterial
(ATC J01) for pneumonia."""

ADDED = tuple(c for c in k.CC_DIAGNOSES if c in SUPPORT)
"""The CCs an upcoding bill adds (低钠血症 left out: nothing in the catalogue could support it)."""


def supported(cc: str, items: set[str]) -> bool:
    """Whether a stay billing ``items`` shows ``cc`` (a treatment, a specific test, or any antibacterial
    for pneumonia).

    >>> supported("J96.000", {k.CBC, k.OXYGEN}), supported("J96.000", {k.CBC, k.CREATININE})
    (True, False)
    >>> supported("J18.900", {"XJ01MAC013A001010182323"}), supported("I50.900", {k.BNP})
    (True, True)
    """
    tests, treatment = SUPPORT[cc]
    if items.intersection(treatment):
        return True
    if cc == "I50.900" and items.intersection(tests):
        return True
    return cc == "J18.900" and any(c.startswith("XJ01") for c in items)


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    rows = Rows(ctx)
    stays = encounters(tables, ctx, (pl.col("kind") == INPATIENT) & (pl.col("los") >= 1)).sort("mdtrt_id")
    if stays.height == 0:
        return tables, lab.frame()
    bad = stays.filter(pl.col("fixmedins_code").is_in(list(ctx.institutions)))
    present = _present(tables, ctx, bad)
    n = ctx.cases(bad.height, float(rng.uniform(*SHARE)), kind="inpatient") if ctx.institutions else 0
    order = rng.permutation(bad.height) if n else np.array([], dtype=np.int64)
    chosen: list[str] = []
    for i in order.tolist():
        if len(chosen) >= n:
            break
        s = bad.row(int(i), named=True)
        dxs, items = present.get(s["mdtrt_id"], (set(), set()))
        options = [
            c
            for c in ADDED
            if c not in dxs and not s["dscg_maindiag_code"].startswith(c[:3]) and not supported(c, items)
        ]
        if not options:
            continue
        size = min(len(options), int(rng.integers(1, 3)))
        added = [options[int(j)] for j in sorted(rng.choice(len(options), size=size, replace=False))]
        for c in added:
            rows.diag(s["mdtrt_id"], c, k.DX[c], main=False)
        lab.add(lab.case(), "1", {"variant": "add_cc", "added": added}, mdtrt_id=s["mdtrt_id"], psn_no=s["psn_no"],
                fixmedins_code=s["fixmedins_code"], doctor=s["atddr_no"])  # fmt: skip
        chosen.append(s["mdtrt_id"])
    _sicker_patients(rng, ctx, rows, lab, tables, stays.filter(~pl.col("mdtrt_id").is_in(chosen)), len(chosen))
    return rows.added(tables), lab.frame()


def _present(tables: Tables, ctx: Context, stays: pl.DataFrame) -> dict[str, tuple[set[str], set[str]]]:
    """Each stay's diagnoses and billed items (for the stays a pattern looks at only: gathering the
    sets is most of the pattern's work; the lines are found by :func:`lines_with`)."""

    def per_stay(rows: pl.DataFrame, col: str) -> pl.DataFrame:
        return rows.select("mdtrt_id", col).group_by("mdtrt_id").agg(pl.col(col).unique())

    diag = tables["setl_list_diag_d"].join(stays.select("mdtrt_id"), on="mdtrt_id", how="semi")
    dx = per_stay(diag, "diag_code")
    items = per_stay(lines_with(tables, ctx, stays.get_column("mdtrt_id")), "med_list_codg")
    out: dict[str, tuple[set[str], set[str]]] = {m: (set(d), set()) for m, d in dx.iter_rows()}
    for m, codes in items.iter_rows():
        out.setdefault(m, (set(), set()))[1].update(codes)
    return out


def _sicker_patients(
    rng: np.random.Generator,
    ctx: Context,
    rows: Rows,
    lab: Labels,
    tables: Tables,
    rest: pl.DataFrame,
    n: int,
) -> None:
    """Hard negatives at any hospital: a CC added with the tests and a treatment that support it."""
    rest = rest.filter(pl.col("los") >= 2)
    m = min(rest.height, max(1, round(max(n, 1) * rng.uniform(0.3, 0.8))))
    picked = rng.choice(rest.height, size=m, replace=False).tolist() if m else []
    present = _present(tables, ctx, rest.get_column("mdtrt_id").gather(picked).to_frame())
    for i in picked:
        s = rest.row(int(i), named=True)
        dxs = present.get(s["mdtrt_id"], (set(), set()))[0]
        options = [c for c in ADDED if c not in dxs and not s["dscg_maindiag_code"].startswith(c[:3])]
        if not options:
            continue
        c = options[int(rng.integers(len(options)))]
        tests, treatment = SUPPORT[c]
        priced = [x for x in (*tests, *treatment[:1]) if _priced(ctx, x, s["lv"])]
        if not any(x in treatment or (c == "I50.900" and x in tests) for x in priced):
            continue
        rows.diag(s["mdtrt_id"], c, k.DX[c], main=False)
        when = min(s["begntime"] + timedelta(hours=int(rng.integers(2, 20))), s["endtime"])
        added_lines = []
        for code in priced:
            sn, _ = rows.line(
                mdtrt_id=s["mdtrt_id"], psn_no=s["psn_no"], fixmedins_code=s["fixmedins_code"], med_list_codg=code,
                when=when, cnt=UNIT, pric=ctx.prices.price(code, s["lv"]), doctor=s["atddr_no"], dept=s["dept_codg"],
                prd_days=1,
            )  # fmt: skip
            added_lines.append(sn)
        lab.add(lab.case(), "0", {"kind": "supported_cc", "added": c, "support": added_lines}, mdtrt_id=s["mdtrt_id"],
                psn_no=s["psn_no"], fixmedins_code=s["fixmedins_code"], doctor=s["atddr_no"])  # fmt: skip


def _priced(ctx: Context, code: str, lv: str) -> bool:
    """An item the hospital may bill at its level: in the catalogue, and priced there if it is priced at all."""
    item = ctx.item(code)
    if item is None:
        return False
    return not item.pric_uplmt or ctx.prices.cap(code, lv) is not None
