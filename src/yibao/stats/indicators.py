"""Indicators by scheme × visit type × hospital level, from the settlement cube (:mod:`yibao.stats.data`).

Definitions (money in fen, ratios exact :class:`~fractions.Fraction`, person-times net of reversals):

- **insured persons** 参保人数: rows of ``psn_info_b`` by ``insutype`` (employees split in service /
  retired by ``psn_type``, and by employer type from ``emp_b``); maternity and long-term care from the
  enrolment periods (``psn_insu_d``, insutype 510 / 410) when present;
- **person-times** 享受待遇人次: settlements (+1 normal, −1 reversal) by 普通门急诊 (med_type 11, 12, 13,
  16, 19, 51), 门诊慢特病 (14, 15), 住院 (21–28, 52, 53) and 药店购药 (41);
- **cost per visit / per admission** 次均费用 = ``medfee_sumamt`` ÷ person-times;
- **length of stay** 次均住院床日 = Σ (discharge date − admission date, at least 1 day) of ``mdtrt_d`` ÷
  admissions;
- **in-catalogue inpatient fund payment ratio** 住院费用目录内基金支付比例 = ``fund_pay_sumamt`` ÷
  (``medfee_sumamt`` − ``fulamt_ownpay_amt`` − ``overlmt_selfpay``). The bulletin's "目录内费用" is read as
  the cost inside the catalogue — everything but 全自费 (丙类 and items outside the catalogue) and the part
  above a price cap (超限价): 乙类先行自付 and the deductible stay *inside* the base, as they are inside the
  catalogue; the numerator is every fund (统筹, 大额 / 大病, 公务员补助, 医疗救助 …, i.e. ``fund_pay_sumamt``,
  without the personal account). Variants are given beside it: without 医疗救助 (``fund_ratio_basic``), and
  over 符合政策范围金额 ``inscp_scp_amt`` alone, i.e. with 乙类先行自付 *outside* the base (``fund_ratio_policy``);
- **cross-region care** 异地就医: the person's ``insuplc_admdvs`` differs from the institution's ``admdvs``
  (跨省 when the province, the first two digits, differs); counted over 普通门急诊, 门诊慢特病 and 住院 as
  the bulletin does, pharmacies given apart;
- **pharmacy share** 药店购药费用占比 = pharmacy ``medfee_sumamt`` ÷ all ``medfee_sumamt``; **drug share**
  药品费用占比 = fee lines of 西药、中成药、中药饮片 (med_chrgitm_type 09–11) ÷ all fee lines;
- **personal-account mutual aid** 个人账户共济: Σ ``acct_mulaid_pay`` and the person-times with a
  non-zero amount.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from yibao.stats.data import KINDS, Frames, load
from yibao.stats.fmt import Fen

__all__ = ["KIND_NAMES", "LEVEL_NAMES", "SCHEME_NAMES", "indicators", "ratio"]

SCHEME_NAMES = {"employee": "职工医保", "resident": "居民医保", "maternity": "生育保险", "ltc": "长期护理保险", "other": "其他"}
KIND_NAMES = {
    "outpatient": "普通门急诊", "chronic": "门诊慢特病", "inpatient": "住院", "pharmacy": "药店购药",
    "ltc": "长期护理", "other": "其他",
}  # fmt: skip
LEVEL_NAMES = {"3": "三级", "2": "二级", "1": "一级及以下（含未定级）", "-": "药店"}
CARE = ("outpatient", "chronic", "inpatient")
"""The kinds counted as 就医 in the cross-region figures (the bulletin's 普通门急诊、门诊慢特病及住院)."""


def ratio(num: int, den: int) -> Fraction | None:
    """num ÷ den exactly; None when den is 0."""
    return Fraction(num, den) if den else None


def _insured(frames: Frames) -> dict[str, Any]:
    psn = frames.psn
    emp = psn.filter(pl.col("insutype") == "310")
    retired = emp.filter(pl.col("psn_type").str.slice(0, 2).is_in(["12", "13"])).height
    res = psn.filter(pl.col("insutype").is_in(["390", "391", "380"]))
    child = res.filter(pl.col("psn_type").str.starts_with("14")).height
    out: dict[str, Any] = {
        "total": emp.height + res.height,
        "employee": {"total": emp.height, "in_service": emp.height - retired, "retired": retired},
        "resident": {"total": res.height, "adult": res.height - child, "child": child},
        "in_service_per_retired": ratio(emp.height - retired, retired),
        "maternity": None,
        "ltc": None,
    }
    if frames.emp is not None:
        types = emp.join(frames.emp, on="emp_no", how="left").get_column("emp_type").fill_null("")
        out["employee"]["by_employer"] = {
            "enterprise": int((types == "1").sum()),
            "public": int((types == "2").sum()),
            "flexible_other": int((~types.is_in(["1", "2"])).sum()),
        }
    assisted = psn.filter(pl.col("psn_idet_type").fill_null("") != "").height
    out["assistance_identity"] = assisted
    if frames.insu is not None:
        for key, code in (("maternity", "510"), ("ltc", "410")):
            n = frames.insu.filter(pl.col("insutype") == code).get_column("psn_no").n_unique()
            out[key] = int(n) if n else None
    return out


def _group(frames: Frames, **where: Any) -> dict[str, Any]:
    s = frames.cube_sum
    n = s("n", **where)
    medfee = s("medfee_sumamt", **where)
    fund = s("fund_pay_sumamt", **where)
    inscope = s("inscope_fen", **where)
    return {
        "person_times": n,
        "medfee": Fen(medfee),
        "fund_pay": Fen(fund),
        "hifp_pay": Fen(s("hifp_pay", **where)),
        "acct_pay": Fen(s("acct_pay", **where)),
        "cash_pay": Fen(s("psn_cash_pay", **where)),
        "inscope": Fen(inscope),
        "cost_per_time": ratio(medfee, n * 100) if n else None,  # yuan
        "fund_ratio": ratio(fund, inscope),
        "fund_ratio_basic": ratio(fund - s("maf_pay", **where), inscope),
        "fund_ratio_policy": ratio(fund, s("inscp_scp_amt", **where)),
    }


def indicators(dataset: Path | str | Frames) -> dict[str, Any]:
    """Every indicator of the bulletin as exact values (money :class:`Fen`, ratios Fractions)."""
    f = dataset if isinstance(dataset, Frames) else load(dataset)
    s = f.cube_sum
    schemes = [sc for sc in ("employee", "resident", "maternity", "ltc", "other") if s("n", scheme=sc) or sc in ("employee", "resident")]
    out: dict[str, Any] = {"insured": _insured(f)}

    benefits: dict[str, Any] = {}
    expenses: dict[str, Any] = {}
    inpatient: dict[str, Any] = {}
    outpatient: dict[str, Any] = {}
    for sc in schemes:
        by_kind = {k: s("n", scheme=sc, kind=k) for k in KINDS if s("n", scheme=sc, kind=k) or k in (*CARE, "pharmacy")}
        benefits[sc] = {
            "person_times": sum(by_kind.values()),
            "by_kind": by_kind,
            "persons": f.distinct_persons(scheme=sc),
        }
        total = s("medfee_sumamt", scheme=sc)
        pharmacy = s("medfee_sumamt", scheme=sc, kind="pharmacy")
        facility_in = s("medfee_sumamt", scheme=sc, retired=False) - s("medfee_sumamt", scheme=sc, retired=False, kind="pharmacy")
        facility_ret = s("medfee_sumamt", scheme=sc, retired=True) - s("medfee_sumamt", scheme=sc, retired=True, kind="pharmacy")
        expenses[sc] = {
            "total": Fen(total),
            "facility": Fen(total - pharmacy),
            "pharmacy": Fen(pharmacy),
            "facility_in_service": Fen(facility_in),
            "facility_retired": Fen(facility_ret),
            "pharmacy_share": ratio(pharmacy, total),
            "fund_pay": Fen(s("fund_pay_sumamt", scheme=sc)),
            "acct_pay": Fen(s("acct_pay", scheme=sc)),
            "cash_pay": Fen(s("psn_cash_pay", scheme=sc)),
            "drug_share": ratio(s("drug_fen", scheme=sc), s("fee_fen", scheme=sc)),
        }
        levels: dict[str, Any] = {}
        for lv in ("all", "3", "2", "1"):
            where: dict[str, Any] = {"scheme": sc, "kind": "inpatient"}
            if lv != "all":
                where["level"] = lv
            g = _group(f, **where)
            n = g["person_times"]
            g["los"] = ratio(s("los_days", **where), n)
            levels[lv] = g
        inpatient[sc] = levels
        outpatient[sc] = {k: _group(f, scheme=sc, kind=k) for k in ("outpatient", "chronic", "pharmacy")}
    out["benefits"] = benefits
    out["expenses"] = expenses
    out["inpatient"] = inpatient
    out["outpatient"] = outpatient

    cross: dict[str, Any] = {}
    for sc in schemes:
        cross[sc] = {
            "person_times": s("n", scheme=sc, kind=CARE, cross=True),
            "medfee": Fen(s("medfee_sumamt", scheme=sc, kind=CARE, cross=True)),
            "fund_pay": Fen(s("fund_pay_sumamt", scheme=sc, kind=CARE, cross=True)),
            "pharmacy_person_times": s("n", scheme=sc, kind="pharmacy", cross=True),
            "pharmacy_medfee": Fen(s("medfee_sumamt", scheme=sc, kind="pharmacy", cross=True)),
        }
    prov_kinds = ("inpatient", "outpatient", "chronic", "pharmacy")
    cross["total"] = {
        "person_times": sum(cross[sc]["person_times"] for sc in schemes),
        "medfee": Fen(sum(cross[sc]["medfee"] for sc in schemes)),
    }
    cross["cross_province"] = {
        "person_times": s("n", cross_prov=True, kind=prov_kinds),
        "by_kind": {k: s("n", cross_prov=True, kind=k) for k in prov_kinds},
        # 直接结算 reduces the insured's advance payment by what the funds paid (基金支付, with the account)
        "advance_avoided": Fen(s("fund_pay_sumamt", cross_prov=True, kind=prov_kinds) + s("acct_pay", cross_prov=True, kind=prov_kinds)),
        "advance_avoided_by_kind": {
            k: Fen(s("fund_pay_sumamt", cross_prov=True, kind=k) + s("acct_pay", cross_prov=True, kind=k)) for k in prov_kinds
        },
    }
    out["cross_region"] = cross

    medfee_all = s("medfee_sumamt")
    out["shares"] = {
        "pharmacy_share": ratio(s("medfee_sumamt", kind="pharmacy"), medfee_all),
        "drug_share": ratio(s("drug_fen"), s("fee_fen")),
        "fee_lines": f.fee_lines,
    }
    out["mutual_aid"] = {
        "amount": Fen(s("acct_mulaid_pay")),
        "person_times": s("mulaid_n"),
    }
    contrib = f.contrib.filter(pl.col("clct_type") == "4")
    ip_maf_n = s("maf_n", kind="inpatient")
    op_maf_n = s("maf_n", kind=("outpatient", "chronic", "pharmacy", "other"))
    ip_maf = s("maf_pay", kind="inpatient")
    op_maf = s("maf_pay", kind=("outpatient", "chronic", "pharmacy", "other"))
    out["assistance"] = {
        "premium_aided_persons": contrib.get_column("psn_no").n_unique(),
        "premium_aided_amount": Fen(int(contrib.get_column("amount").sum() or 0)),
        "person_times": ip_maf_n + op_maf_n,
        "inpatient_person_times": ip_maf_n,
        "outpatient_person_times": op_maf_n,
        "maf_pay": Fen(ip_maf + op_maf + s("maf_pay", kind="ltc")),
        "per_inpatient": ratio(ip_maf, ip_maf_n * 100) if ip_maf_n else None,
        "per_outpatient": ratio(op_maf, op_maf_n * 100) if op_maf_n else None,
        "persons": f.distinct_persons(maf_flag=True),
    }
    out["ltc"] = {
        "person_times": s("n", kind="ltc") + s("n", scheme="ltc", kind=tuple(k for k in KINDS if k != "ltc")),
        "hifp_pay": Fen(s("hifp_pay", kind="ltc") + s("hifp_pay", scheme="ltc", kind=tuple(k for k in KINDS if k != "ltc"))),
        "persons": f.distinct_persons(kind="ltc") + f.distinct_persons(scheme="ltc"),
    }
    out["maternity"] = {
        "person_times": s("n", scheme="maternity"),
        "hifp_pay": Fen(s("hifp_pay", scheme="maternity")),
        "persons": f.distinct_persons(scheme="maternity"),
    }
    out["table"] = _table(f)
    return out


def _table(f: Frames) -> list[dict[str, Any]]:
    """The full cross-tabulation scheme × kind × level (rows with settlements only)."""
    g = (
        f.cube.group_by("scheme", "kind", "level")
        .agg(pl.col("n", "medfee_sumamt", "fund_pay_sumamt", "inscope_fen", "los_days", "acct_pay", "acct_mulaid_pay", "mulaid_n").sum())
        .filter(pl.col("n") != 0)
        .sort("scheme", "kind", "level")
    )
    rows = []
    for r in g.iter_rows(named=True):
        n = int(r["n"])
        rows.append({
            "scheme": r["scheme"], "kind": r["kind"], "level": r["level"], "person_times": n,
            "medfee": Fen(int(r["medfee_sumamt"])), "fund_pay": Fen(int(r["fund_pay_sumamt"])),
            "cost_per_time": ratio(int(r["medfee_sumamt"]), n * 100),
            "fund_ratio": ratio(int(r["fund_pay_sumamt"]), int(r["inscope_fen"])),
            "los": ratio(int(r["los_days"]), n) if r["kind"] == "inpatient" else None,
            "acct_pay": Fen(int(r["acct_pay"])), "mulaid": Fen(int(r["acct_mulaid_pay"])), "mulaid_times": int(r["mulaid_n"]),
        })  # fmt: skip
    return rows
