"""A small, self-consistent *settled* dataset for the statistics module's tests and benchmarks.

This is not the synthetic region (``yibao.synth``, calibrated and with fraud): it is a quick fixture
of every table the bulletin reads — register, institutions, encounters, fee lines, settlements with
every 2207 money field and the settlement identities exact, contributions — drawn from the national
per-insured rates of :mod:`yibao.synth.targets`. The benchmark replicates it (:func:`replicate`) to
reach ten million fee lines when no synthetic region is at hand.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> counts = sample_dataset(d, persons=300, seed=1)
>>> counts["psn_info_b"]
300
>>> from yibao.dataset.io import read_table
>>> s = read_table(d, "setl_d")
>>> bool((s["medfee_sumamt"] == s["fulamt_ownpay_amt"] + s["overlmt_selfpay"] + s["preselfpay_amt"]
...       + s["inscp_scp_amt"]).all())
True
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.dataset.io import write_table
from yibao.dataset.schema import SETLINFO_MONEY

__all__ = ["replicate", "sample_dataset", "write_rows"]

I64 = npt.NDArray[np.int64]

ADMDVS = "990100"
_HOSP_LV = {"3": "02", "2": "05", "1": "08"}
# per insured and year (statistics.md §1 C via yibao.synth.targets): outpatient, chronic, inpatient, pharmacy
_RATES = {"310": (6.94, 0.85, 0.216, 5.98), "390": (2.51, 0.44, 0.2175, 0.037)}
_MED_TYPE = ("11", "14", "21", "41")
_COST = {"310": (220.0, 550.0, 11707.0, 98.0), "390": (150.0, 380.0, 7408.0, 611.0)}  # yuan per encounter
_LINES = (4, 5, 30, 3)
_LEVEL_SHARE = {"310": (0.62, 0.28, 0.10), "390": (0.38, 0.37, 0.25)}  # inpatient: 三/二/一
_DEDUCTIBLE = {"3": 100000, "2": 50000, "1": 20000}  # fen per admission
_POOL = {  # (outpatient, chronic, inpatient by level 3/2/1)
    "310": (0.50, 0.75, {"3": 0.84, "2": 0.89, "1": 0.94}),
    "390": (0.50, 0.65, {"3": 0.66, "2": 0.75, "1": 0.82}),
}


def _split(total: I64, weights: npt.NDArray[np.float64], group: I64) -> I64:
    """Split each group's total over its rows by weight, exactly (cumulative flooring)."""
    csum = np.cumsum(weights)
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    start = np.repeat(csum[first] - weights[first], np.diff(np.r_[first, len(group)]))
    gsum = np.repeat(np.add.reduceat(weights, first), np.diff(np.r_[first, len(group)]))
    t = total[group]
    upper = np.floor(t * (csum - start) / gsum).astype(np.int64)
    last = np.r_[first[1:] - 1, len(group) - 1]
    upper[last] = total[group[last]]
    lower = np.r_[0, upper[:-1]]
    lower[first] = 0
    return np.asarray(upper - lower, dtype=np.int64)


def _pct(x: I64, rate: npt.NDArray[np.float64] | float) -> I64:
    return np.asarray(np.floor(x * rate + 0.5), dtype=np.int64)


def sample_dataset(folder: Path | str, *, persons: int = 5000, seed: int = 1, year: int = 2024) -> dict[str, int]:
    """Write the sample dataset to ``folder`` and return its row counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = persons
    is_emp = rng.random(n) < 0.286
    retired = is_emp & (rng.random(n) < 0.275)
    flexible = is_emp & ~retired & (rng.random(n) < 0.17)
    insutype = np.where(is_emp, "310", "390")
    psn_no = np.array([f"P{seed:02d}{i:08d}" for i in range(n)])
    age = np.where(retired, rng.integers(60, 90, n), np.where(is_emp, rng.integers(22, 60, n), rng.integers(0, 90, n)))
    psn_type = np.where(retired, "1201", np.where(flexible, "1103", np.where(is_emp, "1101", np.where(age < 18, "1403", "1501"))))
    idet = np.where(~is_emp & (rng.random(n) < 0.05), rng.choice(["2301", "2302", "2304"], n), "")
    emps = max(1, n // 40)
    emp_idx = rng.integers(0, emps, n)
    emp_no = np.where(is_emp, np.array([f"E{j:06d}" for j in range(emps)])[emp_idx], "")
    emp_no = np.where(flexible, "E_FLEX", emp_no)
    mulaid = np.full(n, "", dtype=object)
    emp_people = np.flatnonzero(is_emp)
    linked = np.flatnonzero(~is_emp & (rng.random(n) < 0.08))
    if len(emp_people) and len(linked):
        mulaid[linked] = psn_no[rng.choice(emp_people, len(linked))]
    brdy = [datetime(year - int(a), 7, 1).date() for a in age]
    psn = pl.DataFrame({
        "psn_no": psn_no, "certno": [f"99{i:016d}" for i in range(n)], "psn_name": ["样本"] * n,
        "gend": rng.choice(["1", "2"], n), "brdy": brdy, "insutype": insutype, "psn_type": psn_type,
        "insuplc_admdvs": np.full(n, ADMDVS), "emp_no": emp_no, "psn_idet_type": idet,
        "death_date": pl.Series([None] * n, dtype=pl.Date),
        "acct_balc_begn": np.where(is_emp, rng.integers(0, 800000, n), 0), "mulaid_psn_no": mulaid.astype(str),
    })  # fmt: skip
    write_table(folder, "psn_info_b", psn)
    write_table(folder, "psn_insu_d", pl.DataFrame({
        "psn_no": psn_no, "insutype": insutype, "begndate": [datetime(year - 5, 1, 1).date()] * n,
        "enddate": pl.Series([None] * n, dtype=pl.Date), "in_window": ["1"] * n, "repaid": ["0"] * n, "zero_claim": [""] * n,
    }))  # fmt: skip
    emp_codes = [f"E{j:06d}" for j in range(emps)] + ["E_FLEX"]
    write_table(folder, "emp_b", pl.DataFrame({
        "emp_no": emp_codes, "emp_name": ["单位"] * len(emp_codes),
        "emp_type": [("2" if j % 5 == 0 else "1") for j in range(emps)] + ["3"], "emp_size": [40] * len(emp_codes),
    }))  # fmt: skip

    # institutions: hospitals of each level (a few outside the region), pharmacies
    per_level = {"3": max(1, n // 100_000 + 2), "2": max(2, n // 40_000 + 3), "1": max(3, n // 10_000 + 5)}
    inst_rows: list[dict[str, Any]] = []
    for grade, k in per_level.items():
        for j in range(k):
            outside = grade == "3" and j == 0  # the first 三级 hospital is in another province
            inst_rows.append({"fixmedins_code": f"H{grade}{j:04d}", "fixmedins_name": f"{grade}级医院{j}", "fixmedins_type": "1",
                              "hosp_lv": _HOSP_LV[grade] if j % 7 != 6 else "", "admdvs": "110100" if outside else ADMDVS,
                              "bed_cnt": 100})  # fmt: skip
    pharmacies = max(3, n // 3000)
    for j in range(pharmacies):
        inst_rows.append({"fixmedins_code": f"P{j:05d}", "fixmedins_name": f"药店{j}", "fixmedins_type": "2",
                          "hosp_lv": "", "admdvs": ADMDVS, "bed_cnt": 0})  # fmt: skip
    inst = pl.DataFrame(inst_rows)
    write_table(folder, "fixmedins_b", inst)
    levels = {lv: [r["fixmedins_code"] for r in inst_rows if r["fixmedins_code"].startswith(f"H{lv}")] for lv in "321"}
    level_of = {r["fixmedins_code"]: lv for lv in "321" for r in inst_rows if r["fixmedins_code"].startswith(f"H{lv}")}

    # encounters
    enc_person, enc_kind = [], []
    for k in range(4):
        rate = np.where(is_emp, _RATES["310"][k], _RATES["390"][k]) * np.where(retired, 1.8, 1.0)
        c = rng.poisson(rate)
        enc_person.append(np.repeat(np.arange(n), c))
        enc_kind.append(np.full(int(c.sum()), k))
    person = np.concatenate(enc_person)
    kind = np.concatenate(enc_kind)
    m = len(person)
    emp_enc = is_emp[person]
    lv = np.empty(m, dtype="<U1")
    for scheme, sel in (("310", emp_enc), ("390", ~emp_enc)):
        share = _LEVEL_SHARE[scheme]
        lv[sel] = rng.choice(["3", "2", "1"], int(sel.sum()), p=share)
    lv = np.where(kind == 0, rng.choice(["3", "2", "1"], m, p=(0.3, 0.3, 0.4)), lv)
    fixmedins = np.empty(m, dtype=object)
    for level, codes in levels.items():
        sel = (lv == level) & (kind != 3)
        fixmedins[sel] = np.array(codes)[rng.integers(0, len(codes), int(sel.sum()))]
    ph = kind == 3
    fixmedins[ph] = np.array([f"P{j:05d}" for j in range(pharmacies)])[rng.integers(0, pharmacies, int(ph.sum()))]
    fixmedins = fixmedins.astype(str)
    level_factor = np.array([{"3": 1.18, "2": 0.71, "1": 0.52}.get(level_of.get(f, "1"), 1.0) for f in fixmedins])
    mean = np.where(emp_enc, np.array(_COST["310"])[kind], np.array(_COST["390"])[kind])
    mean = np.where(kind == 2, mean * level_factor, mean)
    total = np.maximum(100, np.floor(rng.lognormal(np.log(mean) - 0.18, 0.6) * 100)).astype(np.int64)
    start = datetime(year, 1, 1)
    day = rng.integers(0, 365 - 40, m)
    los = np.where(kind == 2, np.maximum(1, rng.poisson(np.where(lv == "1", 10.0, 8.0))), 0)
    begin = [start + timedelta(days=int(d), hours=9) for d in day]
    end = [b + timedelta(days=int(s), hours=2) for b, s in zip(begin, los, strict=True)]
    order = np.lexsort((day, person))
    person, kind, fixmedins, total, los = person[order], kind[order], fixmedins[order], total[order], los[order]
    begin = [begin[i] for i in order]
    end = [end[i] for i in order]
    emp_enc = is_emp[person]
    mdtrt_id = np.array([f"M{seed:02d}{i:09d}" for i in range(m)])
    med_type = np.array(_MED_TYPE)[kind]
    write_table(folder, "mdtrt_d", pl.DataFrame({
        "mdtrt_id": mdtrt_id, "psn_no": psn_no[person], "fixmedins_code": fixmedins, "med_type": med_type,
        "begntime": begin, "endtime": end, "dscg_maindiag_code": ["I10.x00"] * m, "dscg_maindiag_name": ["高血压"] * m,
        "dept_codg": ["KSA03"] * m, "atddr_no": ["D0001"] * m, "insutype": insutype[person],
        "adm_bed": np.where(kind == 2, "01", ""), "dscg_way": np.where(kind == 2, "1", ""),
    }))  # fmt: skip

    # fee lines: each encounter's total split over its lines
    lines = np.maximum(1, rng.poisson(np.array(_LINES)[kind]))
    grp = np.repeat(np.arange(m), lines)
    weights = rng.random(len(grp)) + 0.05
    line_fee = _split(total, weights, grp)
    chrg = np.where(kind[grp] == 3, "09", rng.choice(["09", "11", "03", "04", "05", "01", "07", "08"], len(grp)))
    cnt = np.full(len(grp), 10000, dtype=np.int64)
    write_table(folder, "fee_list_d", pl.DataFrame({
        "feedetl_sn": np.char.add("F", np.arange(len(grp)).astype(str)), "mdtrt_id": mdtrt_id[grp],
        "psn_no": psn_no[person][grp], "fixmedins_code": fixmedins[grp], "med_list_codg": ["XA01"] * len(grp),
        "med_chrgitm_type": chrg, "fee_ocur_time": [begin[i] for i in grp], "cnt": cnt, "pric": line_fee * 10000,
        "det_item_fee_sumamt": line_fee, "bilg_dr_codg": ["D0001"] * len(grp), "bilg_dept_codg": ["KSA03"] * len(grp),
        "rxno": [""] * len(grp), "prd_days": np.where(chrg == "09", 7, 0),
    }))  # fmt: skip

    # settlement: the 2207 split, identities exact
    fulamt = _pct(total, rng.uniform(0.0, 0.08, m))
    overlmt = _pct(total, np.where(rng.random(m) < 0.1, 0.02, 0.0))
    presel = _pct(total - fulamt - overlmt, 0.06)
    inscp = total - fulamt - overlmt - presel
    lvl = np.array([level_of.get(f, "1") for f in fixmedins])
    dedc = np.where(kind == 2, np.minimum(inscp, np.array([_DEDUCTIBLE[x] for x in lvl])), 0)
    ratio = np.zeros(m)
    for scheme, sel in (("310", emp_enc), ("390", ~emp_enc)):
        op, ch, ip = _POOL[scheme]
        ratio = np.where(sel & (kind == 0), op, ratio)
        ratio = np.where(sel & (kind == 1), ch, ratio)
        for level, r in ip.items():
            ratio = np.where(sel & (kind == 2) & (lvl == level), r + np.where(retired[person], 0.03, 0.0), ratio)
        ratio = np.where(sel & (kind == 3), 0.0 if scheme == "310" else 0.5, ratio)
    hifp = _pct(inscp - dedc, ratio)
    copay = inscp - dedc - hifp
    big = (kind == 2) & (copay > 2_000_000)
    hifmi = np.where(big & ~emp_enc, _pct(copay - 2_000_000, 0.6), 0)
    hifob = np.where(big & emp_enc, _pct(copay - 2_000_000, 0.9), 0)
    aided = idet[person] != ""
    maf = np.where(aided & (kind >= 1), _pct(copay - hifmi, 0.7), 0)
    fund = hifp + hifmi + hifob + maf
    part = total - fund
    acct_share = np.where(kind == 2, 0.3, 0.8)
    acct = np.where(emp_enc, _pct(part, acct_share), 0)
    mul = (mulaid[person] != "") & (kind != 2)
    mulaid_pay = np.where(mul, _pct(part, 0.5), 0)
    acct = acct + mulaid_pay
    zero = np.zeros(m, dtype=np.int64)
    money = {
        "medfee_sumamt": total, "fulamt_ownpay_amt": fulamt, "overlmt_selfpay": overlmt, "preselfpay_amt": presel,
        "inscp_scp_amt": inscp, "act_pay_dedc": dedc, "hifp_pay": hifp, "cvlserv_pay": zero, "hifes_pay": zero,
        "hifmi_pay": hifmi, "hifob_pay": hifob, "maf_pay": maf, "oth_pay": zero, "fund_pay_sumamt": fund,
        "psn_part_amt": part, "acct_pay": acct, "psn_cash_pay": part - acct, "hosp_part_amt": zero, "balc": zero,
        "acct_mulaid_pay": mulaid_pay,
    }  # fmt: skip
    assert set(money) == set(SETLINFO_MONEY)
    clr = np.array(["11", "11", "21", "41"])[kind]
    hosp_lv = np.array([_HOSP_LV.get(level_of.get(f, ""), "") if f.startswith("H") else "" for f in fixmedins])
    setl = pl.DataFrame({
        "setl_id": np.char.add("S", mdtrt_id), "mdtrt_id": mdtrt_id, "psn_no": psn_no[person], "fixmedins_code": fixmedins,
        "setl_time": end, "insutype": insutype[person], "psn_type": psn_type[person], "med_type": med_type,
        "clr_type": clr, "hosp_lv": hosp_lv, **money, "pool_prop_selfpay": _pct(np.full(m, 10000), ratio),
        "refd_setl_flag": ["0"] * m,
    })  # fmt: skip
    # a few settlements reversed (a negated row flagged 1) and settled again
    redo = setl.filter(pl.Series(rng.random(m) < 0.003))
    neg = redo.with_columns([(-pl.col(c)).alias(c) for c in SETLINFO_MONEY]).with_columns(
        pl.lit("1").alias("refd_setl_flag"), (pl.col("setl_id") + "R").alias("setl_id")
    )
    again = redo.with_columns((pl.col("setl_id") + "B").alias("setl_id"))
    setl = pl.concat([setl, neg, again]).sort("setl_time", "setl_id")
    write_table(folder, "setl_d", setl)

    # contributions
    rows: list[pl.DataFrame] = []
    base = rng.integers(4000, 20000, n) * 100
    months = [f"{year}-{k:02d}" for k in range(1, 13)]

    def monthly(sel: npt.NDArray[np.bool_], clct: str, amount: I64, to_acct: I64) -> None:
        who = np.flatnonzero(sel)
        if not len(who):
            return
        rows.append(pl.DataFrame({
            "psn_no": np.repeat(psn_no[who], 12), "emp_no": np.repeat(emp_no[who], 12), "insutype": ["310"] * (12 * len(who)),
            "clct_month": months * len(who), "clct_type": [clct] * (12 * len(who)),
            "amount": np.repeat(amount[who], 12), "to_account": np.repeat(to_acct[who], 12),
        }))  # fmt: skip

    working = is_emp & ~retired & ~flexible
    monthly(working, "1", _pct(base, 0.07), np.zeros(n, dtype=np.int64))
    monthly(working, "2", _pct(base, 0.02), _pct(base, 0.02))
    monthly(flexible, "5", _pct(base, 0.09), _pct(base, 0.02))
    monthly(retired, "6", np.full(n, 8800), np.full(n, 8800))
    res = np.flatnonzero(~is_emp)
    aid = np.where(idet != "", 40000, 0)
    for clct, amount in (("2", 40000 - aid), ("3", np.full(n, 67000)), ("4", aid)):
        who = res[amount[res] > 0]
        rows.append(pl.DataFrame({
            "psn_no": psn_no[who], "emp_no": [""] * len(who), "insutype": ["390"] * len(who),
            "clct_month": [f"{year}-01"] * len(who), "clct_type": [clct] * len(who),
            "amount": amount[who].astype(np.int64), "to_account": np.zeros(len(who), dtype=np.int64),
        }))  # fmt: skip
    contrib = pl.concat(rows)
    write_table(folder, "contribution_d", contrib)
    return {"psn_info_b": n, "mdtrt_d": m, "fee_list_d": len(grp), "setl_d": setl.height, "contribution_d": contrib.height}


_DEFAULT = {"str": "", "int": 0, "float": 0.0, "money": 0, "count": 0, "price": 0, "ratio": 0, "date": None, "datetime": None}


def write_rows(folder: Path | str, name: str, rows: list[dict[str, Any]]) -> None:
    """Write a table from row dicts, every column the rows leave out at its default ("" for codes, 0 for
    money in fen, null for dates): small hand-made datasets for tests.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_rows(d, "contribution_d", [{"psn_no": "1", "insutype": "310", "clct_type": "1", "amount": 700}])
    >>> from yibao.dataset.io import read_table
    >>> read_table(d, "contribution_d")["amount"].to_list()
    [700]
    """
    from yibao.dataset.io import polars_schema
    from yibao.dataset.schema import TABLES

    table = TABLES[name]
    unknown = {k for r in rows for k in r} - set(table.names)
    if unknown:
        raise KeyError(f"{name} has no columns {sorted(unknown)}")
    data = {c.name: [r.get(c.name, _DEFAULT[c.kind]) for r in rows] for c in table.columns}
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_table(folder, name, pl.DataFrame(data, schema=polars_schema(table)))


_ID_COLUMNS = {
    "psn_info_b": ("psn_no", "certno", "mulaid_psn_no"),
    "psn_insu_d": ("psn_no",),
    "mdtrt_d": ("mdtrt_id", "psn_no"),
    "setl_d": ("setl_id", "mdtrt_id", "psn_no"),
    "fee_list_d": ("feedetl_sn", "mdtrt_id", "psn_no"),
    "contribution_d": ("psn_no",),
    "setl_list_diag_d": ("mdtrt_id",),
    "setl_list_oprn_d": ("mdtrt_id",),
    "drug_trac_d": ("drug_trac_codg", "feedetl_sn", "mdtrt_id"),
    "findings": ("jr_id", "psn_no", "mdtrt_id", "feedetl_sn"),
}
"""Per-person and per-event tables and their identifier columns (suffixed in each copy)."""


def replicate(source: Path | str, out: Path | str, times: int, tables: tuple[str, ...] | None = None) -> dict[str, int]:
    """Copy a dataset ``times`` over into ``out`` with distinct identifiers (``…~k``), for scale tests.

    Region tables (institutions, employers …) are copied once; per-person and per-event tables are
    concatenated, on disk as they are (decimals untouched), row group by row group.
    """
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for path in sorted(source.glob("*.parquet")):
        name = path.stem
        if tables is not None and name not in tables:
            continue
        ids = _ID_COLUMNS.get(name)
        table = pq.read_table(path)
        if ids is None:
            pq.write_table(table, out / path.name, compression="zstd")
            counts[name] = table.num_rows
            continue
        with pq.ParquetWriter(out / path.name, table.schema, compression="zstd") as writer:
            for k in range(times):
                copy = table
                for col in ids:
                    if col not in copy.column_names:
                        continue
                    i = copy.column_names.index(col)
                    values = copy.column(col)
                    suffixed = pc.if_else(pc.equal(values, ""), values, pc.binary_join_element_wise(values, pa.scalar(f"~{k}"), ""))
                    copy = copy.set_column(i, col, suffixed)
                writer.write_table(copy)
        counts[name] = table.num_rows * times
    return counts
