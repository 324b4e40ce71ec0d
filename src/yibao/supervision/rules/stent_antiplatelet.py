# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""支架后无抗血小板药 (stent_antiplatelet): a coronary stent with no antiplatelet drug around it.

Everyone who really receives a coronary stent takes dual antiplatelet therapy (a loading dose before the
PCI, aspirin + clopidogrel or ticagrelor for up to a year after). A stent line (coronary_stent.csv role
``stent``) with no antiplatelet line (role ``antiplatelet``: by code, or any 西药 code of ATC B01AC) for
the person — at any institution, pharmacy purchases included — from ``before_days`` before to
``after_days`` after the stent's fee day is a stent that was likely never implanted (虚记).

* **The data's edge.** A dataset holds about a year: a stent late in it is judged only on the days after
  it that the data hold (up to the day the last encounter of the dataset ends; online, the last day the
  encounter and the history know); the evidence says so (observed_days, data_end) and the sentence names
  the window actually searched.
* **Death.** A person who died within ``death_exempt_days`` of the stent (in the PCI stay, or before
  discharge medication could be bought) is exempt; a later death ends the window on the death date.
* **vola_amt** = each stent line, and each PCI procedure line (role ``pci``) of the same encounter as
  a flagged stent: a phantom stent implies a phantom procedure. One finding per line, so that each
  line is recoverable on its own (3102 detail ``rx_id``); the stent's finding names the PCI lines as
  涉及项.

Before::

    M1  P7  H5  inpatient 03-01 → 03-08   经皮冠状动脉支架置入术, 冠状动脉药物洗脱支架, 阿司匹林肠溶片, 硫酸氢氯吡格雷片

After::

    M1  P7  H5  inpatient 03-01 → 03-08   经皮冠状动脉支架置入术, 冠状动脉药物洗脱支架
        (no antiplatelet for P7 anywhere from 01-31 to 12-31)
        → R-STENT-02 可疑 on the stent line and on the PCI line, vola_amt = each line

Not a finding: the same stay with P7 buying 硫酸氢氯吡格雷片 at a pharmacy on 03-12; or P7 dying on 03-05.

**Online.** At 事后 (or given the whole history) the same judgement. At 事中 / 事前 (3101/3102, the bill
of the PCI stay itself) an antiplatelet in the encounter or in the history passes; without one the
finding is only a 提示 (sev_deg 3): the discharge medication may still be bought at a pharmacy, and the
year after the stent has not happened yet.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Line, Prepared, day_ord, line_finding
from yibao.supervision.rules._sql import Columns, days_between, finish, line_who, lines_sql, run, sql_list


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    before_days: int = Field(30, ge=0, le=366)
    """An antiplatelet this many days before the stent counts (a patient already on aspirin)."""
    after_days: int = Field(366, ge=1, le=731)
    """… and this many days after it (the year of dual antiplatelet therapy)."""
    death_exempt_days: int = Field(30, ge=0, le=731)
    """A person who died within this many days of the stent is exempt."""


def _names(kb: KnowledgeBase) -> str:
    st = kb.stent
    names = [kb.name(c) for c in sorted(st.antiplatelets)]
    atc = [f"ATC {p[1:]}" for p in st.antiplatelet_prefixes]
    return "、".join(names + atc)


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    p: Params = rule.params_of(Params)
    return Prepared(kb.stent.stents, (p, kb.stent, _names(kb)))


def _iso(n: int) -> str:
    return date.fromordinal(n).isoformat()


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    p, care, names = prep.data
    stents = [ln for ln in enc.lines if ln.code in care.stents]
    if not stents:
        return []
    ap_days = [ln.ord for ln in enc.lines if care.is_antiplatelet(ln.code)]
    for code, ds in enc.history.dispenses.items():
        if care.is_antiplatelet(code):
            ap_days.extend(d.ord for d in ds)
    last = max([enc.dscg_ord, *(ln.ord for ln in enc.lines), *(day_ord(s.dscg) for s in enc.history.stays)])
    pcis = [ln for ln in enc.lines if ln.code in care.procedures]
    final = enc.stage == "事后"
    out: list[Finding] = []
    flagged: list[tuple[Line, str, str, dict[str, Any]]] = []
    for ln in stents:
        if enc.death_ord is not None and enc.death_ord <= ln.ord + p.death_exempt_days:
            continue
        lo, hi = ln.ord - p.before_days, ln.ord + p.after_days
        if any(lo <= d <= hi for d in ap_days):
            continue
        end = min(hi, last, enc.death_ord if enc.death_ord is not None else hi)
        observed = end - ln.ord
        edge = _edge(
            p, observed, _iso(last), enc.death if enc.death_ord is not None and enc.death_ord == end else ""
        )
        where = "住院" if enc.visit == "inpatient" else "门诊就诊"
        missing = f"{_iso(lo)} 至 {_iso(end)} 该参保人在任何机构（含药店）均无抗血小板药（{names}）记录{edge}"
        if not final:
            missing += "；事中提示：术后用药尚未发生，事后按窗口复核"
        ev = {"window_from": _iso(lo), "window_to": _iso(end), "observed_days": observed, "after_days": p.after_days,
              "data_end": _iso(last), "stent_line": ln.rx_id}  # fmt: skip
        flagged.append(
            (
                ln,
                f"，{where}（{enc.mdtrt_id}，{enc.adm[:10]} 至 {enc.dscg[:10]}）中收取，但 {missing}",
                missing,
                ev,
            )
        )
    for ln, reason, _, ev in flagged:
        out.append(
            line_finding(rule, enc, ln, ln.sumamt, reason, related=pcis, evidence={**ev, "role": "stent"})
        )
    if flagged:
        ln0, _, missing0, ev0 = flagged[0]
        for pc in pcis:
            reason = f"，同次就诊的支架（{ln0.rx_id}）置入后 {missing0}"
            out.append(
                line_finding(rule, enc, pc, pc.sumamt, reason, related=[ln0], evidence={**ev0, "role": "pci"})
            )
    if not final:
        out = [f._replace(sev_deg="3") for f in out]
    return out


def _edge(p: Params, observed: int, data_end: str, death: str) -> str:
    if death:
        return f"（参保人 {death[:10]} 死亡，观察至死亡日，共 {observed} 天）"
    if observed < p.after_days:
        return f"（数据截至 {data_end}，术后 {p.after_days} 天窗口仅观察 {observed} 天）"
    return ""


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "items")
    st = kb.stent
    cols = Columns(con)
    amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
    cnt = cols.scaled("fee_list_d", "f", "cnt")
    pric = cols.scaled("fee_list_d", "f", "pric")
    ap = " OR ".join(
        ([f"f.med_list_codg IN {sql_list(sorted(st.antiplatelets))}"] if st.antiplatelets else [])
        + [f"f.med_list_codg LIKE '{x}%'" for x in st.antiplatelet_prefixes]
    )
    pcis = sql_list(sorted(st.procedures)) if st.procedures else "('')"
    sql = f"""
        WITH s AS ({lines_sql(cols, rule, person=True, where=f"f.med_list_codg IN {sql_list(sorted(st.stents))}")}),
        ap AS (SELECT f.psn_no, f.fee_ocur_time AS at FROM fee_list_d f
               WHERE ({ap}) AND f.psn_no IN (SELECT psn_no FROM s)),
        edge AS (SELECT MAX(endtime) AS last_t FROM mdtrt_d),
        bad AS (SELECT s.*, edge.last_t FROM s CROSS JOIN edge
                WHERE (s.death_date IS NULL OR {days_between("s.t", "s.death_date")} > {p.death_exempt_days})
                  AND NOT EXISTS (SELECT 1 FROM ap WHERE ap.psn_no = s.psn_no
                                  AND {days_between("s.t", "ap.at")} BETWEEN {-p.before_days} AND {p.after_days})),
        enc AS (SELECT mdtrt_id, MIN(t) AS stent_t, MIN(feedetl_sn) AS stent_line FROM bad GROUP BY mdtrt_id)
        SELECT b.feedetl_sn, b.mdtrt_id, b.psn_no, b.fixmedins_code, b.doctor, b.code, b.t, b.amt AS vola_amt, b.cnt, b.pric,
               b.begntime, b.endtime, b.visit, b.death_date, b.last_t, b.t AS stent_t, b.feedetl_sn AS stent_line, 'stent' AS role
        FROM bad b
        UNION ALL
        SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.bilg_dr_codg AS doctor, f.med_list_codg AS code,
               f.fee_ocur_time AS t, {amt} AS vola_amt, {cnt} AS cnt, {pric} AS pric, b.begntime, b.endtime, b.visit,
               b.death_date, b.last_t, e.stent_t, e.stent_line, 'pci' AS role
        FROM fee_list_d f JOIN enc e ON e.mdtrt_id = f.mdtrt_id
        JOIN bad b ON b.mdtrt_id = e.mdtrt_id AND b.feedetl_sn = e.stent_line
        WHERE f.med_list_codg IN {pcis}
    """
    rows = run(con, sql)
    if rows.height == 0:
        return finish(rows, rule, cont=pl.lit(""), key=["feedetl_sn"], evidence=[])
    names = {c: kb.name(c) for c in rows.get_column("code").unique().to_list()}
    day = pl.col("stent_t").cast(pl.Date)
    hi = day + timedelta(days=p.after_days)
    last = pl.col("last_t").cast(pl.Date)
    end = pl.min_horizontal(hi, last, pl.col("death_date").fill_null(hi))
    rows = rows.with_columns(
        name=pl.col("code").replace_strict(names, default=pl.col("code")),
        window_from=day - timedelta(days=p.before_days),
        window_to=end,
        data_end=last,
        observed_days=(end - day).dt.total_days(),
        after_days=pl.lit(p.after_days),
    )
    edge = (
        pl.when(pl.col("death_date").is_not_null() & (pl.col("death_date") == pl.col("window_to")))
        .then(pl.format("（参保人 {} 死亡，观察至死亡日，共 {} 天）", pl.col("death_date").dt.strftime("%Y-%m-%d"), pl.col("observed_days")))
        .when(pl.col("observed_days") < p.after_days)
        .then(pl.format("（数据截至 {}，术后 {} 天窗口仅观察 {} 天）", pl.col("data_end").dt.strftime("%Y-%m-%d"), pl.lit(p.after_days),
                        pl.col("observed_days")))
        .otherwise(pl.lit(""))
    )  # fmt: skip
    missing = pl.format("{} 至 {} 该参保人在任何机构（含药店）均无抗血小板药（{}）记录{}", pl.col("window_from").dt.strftime("%Y-%m-%d"),
                        pl.col("window_to").dt.strftime("%Y-%m-%d"), pl.lit(_names(kb)), edge)  # fmt: skip
    where = pl.when(pl.col("visit") == "inpatient").then(pl.lit("住院")).otherwise(pl.lit("门诊就诊"))
    stent_text = pl.format("{}，{}（{}，{} 至 {}）中收取，但 {}", line_who(), where, pl.col("mdtrt_id"),
                           pl.col("begntime").dt.strftime("%Y-%m-%d"), pl.col("endtime").dt.strftime("%Y-%m-%d"), missing)  # fmt: skip
    pci_text = pl.format("{}，同次就诊的支架（{}）置入后 {}", line_who(), pl.col("stent_line"), missing)
    cont = pl.when(pl.col("role") == "stent").then(stent_text).otherwise(pci_text)
    return finish(rows, rule, cont=cont, key=["feedetl_sn"],
                  evidence=["role", "code", "name", "t", "cnt", "pric", "stent_line", "window_from", "window_to", "observed_days",
                            "after_days", "data_end", "death_date"])  # fmt: skip
