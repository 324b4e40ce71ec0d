"""drug_swap (串换药品): a cheap drug dispensed, a dear one billed.

At a bad pharmacy or clinic, a share (5–30%) of the lines of one cheap drug is billed as a dearer drug
of the same therapeutic group (the first four characters of the ATC part of the national code, e.g. C10A
or A10B): the code, the price and the amount become the dear drug's, while the scanned trace codes stay
those of the cheap package — their product prefix no longer matches the billed drug.

Before::

    F1  XA10BAY026… 盐酸二甲双胍片  2 × ¥9.90 = ¥19.80   codes 8xxxxxx… (二甲双胍's prefix)

After::

    F1  XA10BBG028… 格列美脲片      2 × ¥26.00 = ¥52.00  codes unchanged (二甲双胍's prefix)

Labels: one row per trace code of a swapped line (label 1; a line without codes gets one row with an
empty code); one case per (institution, cheap drug), ``R-drug_swap-<institution>-<drug>``: an
institution swaps the same one or two drugs for the same dearer ones at the same share all year, so
every chunk adds to the case (:meth:`Context.rank`, :meth:`Context.of_entity`); params: dispensed,
billed, price_ratio, share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from yibao.synth.fraud._base import (
    MOST_PER_INSTITUTION,
    Context,
    Labels,
    Tables,
    codes_of,
    defer,
    fee_amount,
    levels,
    lines_at,
    plain,
    rows_by,
)

PATTERN = "drug_swap"
CODE = "DS"
SETTINGS = ("pharmacy", "clinic")
KIND = "modify"


def _group(code: str) -> str:
    return code[1:5]


COMMON = 0.005
"""The drugs an institution swaps are among the common ones at its kind of institution (pharmacy,
clinic): each at least this share of the prescription lines of the chunk's bad institutions of that
kind. Chosen among them by :meth:`Context.rank`, not among the drugs one institution's lines show in
one chunk, an institution swaps the same drugs in every chunk; and as its lines of them are a share
of its lines, a region of ten times the persons has ten times the swapped lines (chosen among what a
chunk shows, the drugs a small share of a large region's institution shows are the commonest ones)."""


def _common(pairs: pl.DataFrame) -> dict[str, list[str]]:
    """The common drugs (:data:`COMMON`) of each kind of institution, by code, from lines counted by
    institution (``fixmedins_code``, ``kind``) and drug (``med_list_codg``, ``len``).

    >>> pairs = pl.DataFrame({"kind": ["2", "2", "2"], "med_list_codg": ["A", "B", "A"], "len": [300, 1, 700]})
    >>> _common(pairs)
    {'2': ['A']}
    """
    by_kind = pairs.group_by("kind", "med_list_codg").agg(pl.col("len").sum())
    shares = by_kind.with_columns((pl.col("len") / pl.col("len").sum().over("kind")).alias("share"))
    out: dict[str, list[str]] = {}
    common = shares.filter(pl.col("share") >= COMMON).sort("kind", "med_list_codg")
    for kind, code in common.select("kind", "med_list_codg").iter_rows():
        out.setdefault(kind, []).append(code)
    return out


def apply(rng: np.random.Generator, tables: Tables, ctx: Context) -> tuple[Tables, pl.DataFrame]:
    lab = Labels(ctx)
    if not ctx.institutions:
        return tables, lab.frame()
    lv_of = levels(tables)
    fee = lines_at(tables, ctx, pl.col("rxno") != "")
    if fee.height == 0:
        return tables, lab.frame()
    drugs = [
        it
        for it in ctx.catalog.items()
        if it.list_type == "drug" and it.chrgitm_lv != "03" and it.in_force(ctx.prices.on)
    ]
    by_group: dict[str, list[str]] = {}
    for it in drugs:
        if plain(it):
            by_group.setdefault(_group(it.med_list_codg), []).append(it.med_list_codg)

    def dearer(code: str, lv: str) -> list[tuple[int, str]]:
        cheap = ctx.prices.price(code, lv)
        dear = [(ctx.prices.price(c, lv), c) for c in by_group.get(_group(code), []) if c != code]
        return sorted((p, c) for p, c in dear if p >= cheap * 3 // 2)

    kind_of = dict(tables["fixmedins_b"].select("fixmedins_code", "fixmedins_type").iter_rows())
    pairs = (
        fee.group_by("fixmedins_code", "med_list_codg")
        .len()
        .with_columns(pl.col("fixmedins_code").replace_strict(kind_of, default="").alias("kind"))
        .sort("fixmedins_code", "med_list_codg")
    )
    common = _common(pairs)
    fee_changes: list[dict[str, Any]] = []
    trace_changes: list[dict[str, Any]] = []
    picks: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    for inst in sorted(set(pairs.get_column("fixmedins_code").to_list())):
        lv = lv_of.get(inst, "1")
        here = set(pairs.filter(pl.col("fixmedins_code") == inst).get_column("med_list_codg").to_list())
        habit = sorted((c for c in common.get(kind_of[inst], ()) if dearer(c, lv)), key=lambda c: ctx.rank(inst, c))
        chosen = habit[: int(ctx.of_entity(inst).integers(1, 3))]
        home = ctx.home_chunk(inst)
        if home and not here.intersection(chosen):  # a small region's institution may lack them all
            chosen = sorted((c for c in here if dearer(c, lv)), key=lambda c: ctx.rank(inst, c))[:1]
        for code in (c for c in chosen if c in here):
            swap = ctx.of_entity(inst, code)  # the same dear drug and share all year
            dear = dearer(code, lv)
            price, target = dear[int(swap.integers(len(dear)))]
            cheap = ctx.prices.price(code, lv)
            lines = fee.filter((pl.col("fixmedins_code") == inst) & (pl.col("med_list_codg") == code)).sort(
                "feedetl_sn"
            )
            share = min(float(swap.uniform(0.05, 0.3)), MOST_PER_INSTITUTION / max(1, lines.height))
            room = ctx.cap(weight=0.3) - sum(len(p[2]) for p in picks)
            if room <= 0:
                break
            # at least one line in the institution's home chunk (so a small region has the case); elsewhere
            # only the share, or a chunk's single line of the drug would be swapped in every chunk
            k = min(room, max(1 if home else 0, int(rng.binomial(lines.height, share))))
            if k == 0:
                continue
            picked = lines[[int(i) for i in np.sort(rng.choice(lines.height, size=k, replace=False))]]
            params = {
                "dispensed": code,
                "billed": target,
                "price_ratio": price / cheap if cheap else None,
                "share": share,
            }
            picks.append((inst, params, list(picked.iter_rows(named=True))))
            item = ctx.item(target)
            for r in picks[-1][2]:
                fee_changes.append({
                    "feedetl_sn": r["feedetl_sn"], "med_list_codg": target, "pric": price,
                    "det_item_fee_sumamt": fee_amount(price, r["cnt"]),
                    "med_chrgitm_type": item.med_chrgitm_type if item else r["med_chrgitm_type"],
                })  # fmt: skip
    swapped = fee.filter(pl.col("feedetl_sn").is_in([str(c["feedetl_sn"]) for c in fee_changes]))
    trace_by = rows_by(codes_of(tables, ctx, swapped), "feedetl_sn")
    for inst, params, picked_rows in picks:
        case = lab.case(f"{inst}-{params['dispensed']}")
        for r in picked_rows:
            codes_ = [t["drug_trac_codg"] for t in trace_by.get(r["feedetl_sn"], [])]
            for c in codes_:
                trace_changes.append(
                    {"drug_trac_codg": c, "feedetl_sn": r["feedetl_sn"], "med_list_codg": params["billed"]}
                )
            for c in codes_ or [""]:
                lab.add(case, "1", params, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"], psn_no=r["psn_no"],
                        fixmedins_code=inst, drug_trac_codg=c, doctor=r["bilg_dr_codg"])  # fmt: skip
    out = dict(tables)
    if fee_changes:
        out = defer(ctx, out, "fee_list_d", fee_changes, "feedetl_sn")
    if trace_changes:
        out = defer(ctx, out, "drug_trac_d", trace_changes, ["drug_trac_codg", "feedetl_sn"])
    return out, lab.frame()
