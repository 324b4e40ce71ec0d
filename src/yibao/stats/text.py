"""The bulletin's sentences, in the pattern of the 2024 national bulletin, written from the bulletin JSON.

Every number in the text is formatted here from the loaded ``bulletin.json`` document (never from the
computation directly), so the text cannot say what the JSON does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.stats.fmt import (
    cn_count,
    cn_growth,
    cn_money,
    cn_months,
    cn_pct,
    cn_persons,
    cn_times,
    money_unit,
    num,
)

__all__ = ["SECTIONS", "paragraphs"]

SECTIONS = (
    ("coverage", "一、参保情况"),
    ("funds", "二、基金收支"),
    ("benefits", "三、待遇享受"),
    ("expenses", "四、医药费用"),
    ("cross_region", "五、异地就医"),
    ("assistance", "六、医疗救助"),
    ("ltc", "七、长期护理保险"),
    ("maternity", "八、生育保险"),
    ("supervision", "九、基金监管"),
)
"""Section keys and headings, in the order of the national bulletin."""


def _acct(doc: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    for r in doc["funds"]["accounts"]:
        if r["key"] == key:
            row: Mapping[str, Any] = r
            return row
    return None


def _yoy(r: Mapping[str, Any], what: str) -> str:
    g = (r.get("yoy") or {}).get(what)
    return f"，比上年{cn_growth(g)}" if g is not None else ""


def _coverage(doc: Mapping[str, Any]) -> list[str]:
    c = doc["coverage"]
    y = doc["meta"]["year"]
    e, r = c["employee"], c["resident"]
    ratio = f"，职退比{num(c['in_service_per_retired'], 2)}" if c["in_service_per_retired"] is not None else ""
    out = [
        f"{y}年末，{doc['meta']['region_name']}基本医疗保险参保人数{cn_persons(c['total'])}。"
        f"其中，参加职工基本医疗保险（以下简称职工医保）人数{cn_persons(e['total'])}，"
        f"在职职工{cn_persons(e['in_service'])}，退休职工{cn_persons(e['retired'])}{ratio}；"
        f"参加城乡居民基本医疗保险（以下简称居民医保）人数{cn_persons(r['total'])}。"
    ]
    by = e.get("by_employer")
    if by:
        out.append(
            f"职工医保参保人员中，企业职工{cn_persons(by['enterprise'])}，机关事业单位职工{cn_persons(by['public'])}，"
            f"灵活就业人员等其他人员{cn_persons(by['flexible_other'])}。"
        )
    if c.get("assistance_identity"):
        out.append(f"参保人员中有医疗救助对象身份的{cn_persons(c['assistance_identity'])}。")
    return out


def _funds(doc: Mapping[str, Any]) -> list[str]:
    y = doc["meta"]["year"]
    total, emp, pool, acct, res = (_acct(doc, k) for k in ("total", "employee", "employee_pool", "personal_account", "resident"))
    assert total and emp and pool and acct and res
    u = money_unit(max(abs(total["income"]), abs(total["cumulative"])))

    def m(v: Any) -> str:
        return cn_money(v, u)

    months = doc["meta"]["months"]
    period = f"{y}年" if months == 12 else f"{y}年前{months}个月"
    out = [
        f"{period}，基本医疗保险基金（含生育保险）总收入{m(total['income'])}{_yoy(total, 'income')}，"
        f"总支出{m(total['expenditure'])}{_yoy(total, 'expenditure')}；当期结存{m(total['current'])}，"
        f"累计结存{m(total['cumulative'])}。",
        f"职工医保基金收入{m(emp['income'])}，支出{m(emp['expenditure'])}。其中，统筹基金（含大额医疗费用补助）收入"
        f"{m(pool['income'])}，支出{m(pool['expenditure'])}，当期结存{m(pool['current'])}，累计结存{m(pool['cumulative'])}，"
        f"可支付月数{cn_months(pool['months_payable'])}；个人账户收入{m(acct['income'])}，支出{m(acct['expenditure'])}，"
        f"当期结存{m(acct['current'])}，累计结存{m(acct['cumulative'])}。",
        f"居民医保基金（含大病保险）收入{m(res['income'])}，支出{m(res['expenditure'])}，当期结存{m(res['current'])}，"
        f"累计结存{m(res['cumulative'])}，可支付月数{cn_months(res['months_payable'])}。",
    ]
    execs = []
    for r in (pool, acct, res):
        parts = [
            f"{label}预算执行率{cn_pct(r[key], 2)}"
            for key, label in (("income_execution", "收入"), ("expenditure_execution", "支出"))
            if r[key] is not None
        ]
        if parts:
            execs.append(f"{r['name']}" + "，".join(parts))
    if execs:
        out.append("；".join(execs) + "。")
    return out


def _scheme_benefits(doc: Mapping[str, Any], scheme: str, label: str) -> str:
    b = doc["benefits"][scheme]
    k = b["by_kind"]
    names = doc["names"]["kind"]
    parts = "、".join(f"{names[kind]}{cn_times(n)}" for kind, n in k.items())
    ip = doc["inpatient"][scheme]
    lv = [ip[x] for x in ("3", "2", "1")]
    cost = "、".join(f"{cn_money(g['cost_per_time'], '元', 0)}" if g["cost_per_time"] is not None else "—" for g in lv)
    los = "、".join(f"{num(g['los'])}天" for g in lv)
    ratio = "、".join(cn_pct(g["fund_ratio"]) for g in lv)
    a = ip["all"]
    cost_all = cn_money(a["cost_per_time"], "元", 0) if a["cost_per_time"] is not None else "—"
    los_all = f"{num(a['los'])}天"
    return (
        f"{label}参保人员享受待遇{cn_times(b['person_times'])}，其中{parts}。"
        f"次均住院费用{cost_all}，三级、二级、一级及以下（含未定级）医疗机构分别为{cost}；"
        f"次均住院床日{los_all}，分别为{los}。{label}住院费用目录内基金支付比例{cn_pct(a['fund_ratio'])}，"
        f"三级、二级、一级及以下医疗机构分别为{ratio}。"
    )


def _benefits(doc: Mapping[str, Any]) -> list[str]:
    out = [_scheme_benefits(doc, "employee", "职工医保"), _scheme_benefits(doc, "resident", "居民医保")]
    mu = doc["mutual_aid"]
    if mu["person_times"]:
        out.append(f"个人账户家庭共济使用{cn_times(mu['person_times'])}，共济金额{cn_money(mu['amount'])}。")
    return out


def _expenses(doc: Mapping[str, Any]) -> list[str]:
    e, r = doc["expenses"]["employee"], doc["expenses"]["resident"]
    u = money_unit(max(e["total"], r["total"]))
    out = [
        f"职工医保参保人员医药总费用{cn_money(e['total'], u)}，其中医疗机构发生费用{cn_money(e['facility'], u)}，"
        f"药店购药费用{cn_money(e['pharmacy'], u)}。医疗机构发生费用中，在职职工{cn_money(e['facility_in_service'], u)}，"
        f"退休职工{cn_money(e['facility_retired'], u)}。",
        f"居民医保参保人员医药总费用{cn_money(r['total'], u)}，其中医疗机构发生费用{cn_money(r['facility'], u)}，"
        f"药店购药费用{cn_money(r['pharmacy'], u)}。",
    ]
    s = doc["shares"]
    if s["drug_share"] is not None:
        out.append(
            f"全部参保人员医药费用中，药店购药费用占{cn_pct(s['pharmacy_share'])}；"
            f"在{cn_count(s['fee_lines'], '条')}费用明细中，药品费用占{cn_pct(s['drug_share'])}。"
        )
    return out


def _cross(doc: Mapping[str, Any]) -> list[str]:
    c = doc["cross_region"]
    t = c["total"]
    if not t["person_times"] and not c["cross_province"]["person_times"]:
        return ["本期数据中无异地就医记录（参保人员均在参保地就医）。"]
    out = [
        f"参保人员普通门急诊、门诊慢特病及住院异地就医{cn_times(t['person_times'])}，其中职工{cn_times(c['employee']['person_times'])}，"
        f"居民{cn_times(c['resident']['person_times'])}；异地就医费用{cn_money(t['medfee'])}，其中职工"
        f"{cn_money(c['employee']['medfee'])}，居民{cn_money(c['resident']['medfee'])}。"
    ]
    p = c["cross_province"]
    if p["person_times"]:
        k = p["by_kind"]
        out.append(
            f"跨省异地就医直接结算{cn_times(p['person_times'])}，其中住院{cn_times(k['inpatient'])}，普通门诊{cn_times(k['outpatient'])}，"
            f"门诊慢特病{cn_times(k['chronic'])}，定点零售药店{cn_times(k['pharmacy'])}；减少参保群众垫付{cn_money(p['advance_avoided'])}。"
        )
    else:
        out.append("本期无跨省异地就医直接结算记录。")
    return out


def _assistance(doc: Mapping[str, Any]) -> list[str]:
    a = doc["assistance"]
    fund = _acct(doc, "assistance")
    spent = fund["expenditure"] if fund else None
    out = [
        f"医疗救助支出{cn_money(spent)}，其中资助参保{cn_money(a['premium_aided_amount'])}，"
        f"门诊和住院救助{cn_money(a['maf_pay'])}。医疗救助资助参加基本医疗保险{cn_persons(a['premium_aided_persons'])}；"
        f"实施门诊和住院救助{cn_times(a['person_times'])}，次均住院救助{cn_money(a['per_inpatient'], '元', 0) if a['per_inpatient'] is not None else '—'}，"
        f"次均门诊救助{cn_money(a['per_outpatient'], '元', 0) if a['per_outpatient'] is not None else '—'}。"
    ]
    return out


def _ltc(doc: Mapping[str, Any]) -> list[str]:
    t = doc["ltc"]
    if not t["present"]:
        return ["本期数据中无长期护理保险的参保、缴费和待遇记录（未开展或未纳入本数据集）。"]
    fund = _acct(doc, "ltc")
    out = [
        f"长期护理保险参保{cn_persons(doc['coverage']['ltc']) if doc['coverage']['ltc'] else '—'}，享受待遇{cn_persons(t['persons'])}，"
        f"待遇{cn_times(t['person_times'])}，基金支付{cn_money(t['hifp_pay'])}。"
    ]
    if fund and fund["present"]:
        out.append(f"长期护理保险基金收入{cn_money(fund['income'])}，支出{cn_money(fund['expenditure'])}。")
    return out


def _maternity(doc: Mapping[str, Any]) -> list[str]:
    t = doc["maternity"]
    if not t["present"]:
        return ["本期数据中无生育保险的参保、缴费和待遇记录（生育保险未纳入本数据集）。"]
    fund = _acct(doc, "maternity")
    insured = doc["coverage"]["maternity"]
    return [
        f"参加生育保险{cn_persons(insured) if insured else '—'}，享受各项生育保险待遇{cn_times(t['person_times'])}，"
        f"生育保险基金支出{cn_money(fund['expenditure'] if fund else t['hifp_pay'])}。"
    ]


def _drg(doc: Mapping[str, Any]) -> list[str]:
    d = doc.get("drg") or {}
    if not d.get("present"):
        return []
    totals = "，".join(f"{k} {cn_money(v)}" for k, v in d.get("totals", {}).items())
    return [f"按病组（DRG/DIP）付费结算{d['cases']:,}例" + (f"（{totals}）" if totals else "") + "。"]


def _supervision(doc: Mapping[str, Any]) -> list[str]:
    s = doc["supervision"]
    if not s["present"]:
        return ["本期未提供基金监管结果（数据集或输出目录中无 findings.parquet）。", *_drg(doc)]
    sev = s["by_severity"]
    parts = "、".join(f"{doc['names']['severity'].get(k, k)}{v['findings']:,}条（{cn_money(v['amount'])}）" for k, v in sev.items())
    return [
        f"智能监管规则和模型发现疑点{s['findings']:,}条，涉及金额{cn_money(s['amount'])}，涉及定点医药机构{s['institutions']:,}家、"
        f"参保人员{cn_persons(s['persons'])}；其中{parts}。",
        *_drg(doc),
    ]


_WRITERS = {
    "coverage": _coverage, "funds": _funds, "benefits": _benefits, "expenses": _expenses, "cross_region": _cross,
    "assistance": _assistance, "ltc": _ltc, "maternity": _maternity, "supervision": _supervision,
}  # fmt: skip


def paragraphs(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sections in order: ``{"key", "title", "paragraphs": [str]}``."""
    return [{"key": k, "title": t, "paragraphs": _WRITERS[k](doc)} for k, t in SECTIONS]
