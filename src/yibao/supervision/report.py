"""The audit summary as one HTML page that works offline: totals, findings by pattern, the top findings
with their sentences, cases by state, the inspection ranking with its reasons, and doctor points.

The page is rendered by Jinja2 with autoescaping (every name and sentence from the data is escaped) from
``templates/audit.html``. Charts are Vega-Lite specifications rendered to SVG by vl-convert (which embeds
Vega and Vega-Lite) and inlined, so the page loads nothing from the network and has no script. Numbers
are written the Chinese way: 万元 / 亿元 for money, 万人次 for counts.

>>> fmt_yuan(123456), fmt_yuan(1234567890), fmt_yuan(12345678901234)
('1,234.56元', '1,234.57万元', '1,234.57亿元')
>>> fmt_count(9876, "人次"), fmt_count(123456, "人次"), fmt_pct(0.1234)
('9,876人次', '12.35万人次', '12.3%')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from yibao.dataset.io import DatasetError, read_table, table_path
from yibao.money import Fen, round_div
from yibao.supervision.cases import STATES, Cases, build_cases
from yibao.supervision.findings import RESULT_TYPES, vola_fen
from yibao.supervision.points import PointsLedger

__all__ = [
    "PATTERN_LABELS",
    "fmt_count",
    "fmt_indicator",
    "fmt_pct",
    "fmt_yuan",
    "render_audit_report",
    "write_audit_report",
]

PATTERN_LABELS: Mapping[str, str] = {
    "split_admission": "分解住院", "ghost_bed": "挂床住院", "fake_admission": "虚假住院", "drug_resale": "倒卖回流药品",
    "drug_swap": "串换药品", "item_swap": "串换项目耗材", "card_cashout": "空刷套现", "duplicate_charge": "重复收费",
    "overprice": "超标准收费", "unbundling": "分解收费", "overdispense": "超量开药", "gender_age": "限性别年龄",
    "indication": "限定适应症", "frequency": "超频次数量", "overlap_stay": "同时多处住院", "after_death": "死亡后就医",
    "identity_fraud": "冒名就医", "doctor_outlier": "医师异常", "upcoding": "高套编码", "catalogue_scope": "目录外项目",
}  # fmt: skip
"""Chinese names of the pattern vocabulary (DESIGN.md §3.5)."""

FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
TEMPLATES = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------------------------------------
# Chinese number formatting
# ---------------------------------------------------------------------------------------------


def _grouped(hundredths: int, unit: str) -> str:
    """An amount in hundredths of ``unit`` as ``1,234.56<unit>``."""
    sign = "-" if hundredths < 0 else ""
    whole, frac = divmod(abs(hundredths), 100)
    return f"{sign}{whole:,}.{frac:02d}{unit}"


def fmt_yuan(fen: Fen) -> str:
    """Money: below 1万元 in 元, below 1亿元 in 万元, else 亿元, two decimals, rounded half-up."""
    a = abs(fen)
    if a < 1_000_000:
        return _grouped(fen, "元")
    if a < 10_000_000_000:
        return _grouped(round_div(fen, 10_000), "万元")
    return _grouped(round_div(fen, 100_000_000), "亿元")


def fmt_count(n: int, unit: str = "") -> str:
    """A count: below 1万 as is, below 1亿 in 万, else 亿 (two decimals)."""
    a = abs(n)
    if a < 10_000:
        return f"{n:,}{unit}"
    if a < 100_000_000:
        return _grouped(round_div(n, 100), "万" + unit)
    return _grouped(round_div(n, 1_000_000), "亿" + unit)


def fmt_pct(x: float | None, digits: int = 1, sign: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x * 100:+.{digits}f}%" if sign else f"{x * 100:.{digits}f}%"


def fmt_indicator(value: Any, unit: str) -> str:
    """An indicator value by its unit (see :class:`yibao.supervision.targeting.Indicator`)."""
    if value is None:
        return "—"
    v = float(value)
    if unit == "fen":
        return fmt_yuan(round(v))
    if unit == "share":
        return fmt_pct(v)
    if unit == "growth":
        return fmt_pct(v, sign=True)
    if unit == "days":
        return f"{v:.1f}天"
    if unit == "count":
        return fmt_count(round(v))
    return f"{v:.2f}"


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------

_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def _svg(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec as inline SVG (namespace declarations dropped: HTML needs none)."""
    import vl_convert as vlc

    spec = {
        "config": {
            "font": FONT, "view": {"stroke": None}, "axis": {"labelFontSize": 12, "titleFontSize": 12},
            "legend": {"labelFontSize": 12, "titleFontSize": 12},
        },
        **spec,
    }  # fmt: skip
    svg: str = vlc.vegalite_to_svg(spec)
    return _XMLNS.sub("", svg, count=2)


def _bar_chart(rows: list[dict[str, Any]], *, y: str, x: str, x_title: str, label: str, color: str | None = None,
               width: int = 560, y_title: str = "", order: Sequence[str] | None = None) -> str:  # fmt: skip
    """Horizontal bars (sorted by ``x``, or in ``order``) with a text label at each bar's end."""
    height = max(60, 24 * len(rows))
    enc_y = {"field": y, "type": "nominal", "sort": list(order) if order else "-x", "title": y_title or None,
             "axis": {"labelLimit": 220}}  # fmt: skip
    bar: dict[str, Any] = {"mark": {"type": "bar", "color": "#3b6ea5"},
                           "encoding": {"y": enc_y, "x": {"field": x, "type": "quantitative", "title": x_title}}}  # fmt: skip
    if color:
        bar["mark"] = {"type": "bar"}
        bar["encoding"]["color"] = {
            "field": color,
            "type": "nominal",
            "title": None,
            "legend": {"orient": "bottom"},
        }
    text = {"mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11, "color": "#333"},
            "encoding": {"y": enc_y, "x": {"field": x, "type": "quantitative"}, "text": {"field": label}}}  # fmt: skip
    return _svg({"width": width, "height": height, "data": {"values": rows}, "layer": [bar, text]})


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def _names(dataset: Path | None) -> dict[str, str]:
    if dataset is None:
        return {}
    try:
        f = read_table(dataset, "fixmedins_b", ["fixmedins_code", "fixmedins_name"])
    except (DatasetError, KeyError):
        return {}
    return dict(zip(f["fixmedins_code"].to_list(), f["fixmedins_name"].to_list(), strict=True))


def _dataset_totals(dataset: Path | None) -> dict[str, Any]:
    """Fees and settlements of the dataset, when it has them (exact sums in fen)."""
    out: dict[str, Any] = {}
    if dataset is None:
        return out
    con = duckdb.connect()
    try:
        for name, sql in (
            (
                "fee_list_d",
                "SELECT count(*), CAST(coalesce(sum(det_item_fee_sumamt), 0) * 100 AS BIGINT) FROM {src}",
            ),
            ("setl_d", "SELECT count(*), CAST(coalesce(sum(fund_pay_sumamt), 0) * 100 AS BIGINT) FROM {src}"),
        ):
            try:
                p = table_path(dataset, name)
            except DatasetError:
                continue
            src = f"read_parquet('{p.as_posix()}')" if p.suffix == ".parquet" else None
            if src is None:
                df = read_table(
                    dataset, name, ["det_item_fee_sumamt" if name == "fee_list_d" else "fund_pay_sumamt"]
                )
                n, total = df.height, int(df.to_series(0).sum())
            else:
                row = con.execute(sql.format(src=src)).fetchone()
                assert row is not None
                n, total = int(row[0]), int(row[1])
            out[name] = (n, total)
    except duckdb.Error:
        return out
    finally:
        con.close()
    return out


def _totals(findings: pl.DataFrame, dataset: Path | None) -> dict[str, Any]:
    amt = int(findings["vola_amt"].sum()) if findings.height else 0
    inst = (
        findings.filter(pl.col("fixmedins_code").fill_null("") != "")["fixmedins_code"].n_unique()
        if findings.height
        else 0
    )
    persons = (
        findings.filter(pl.col("psn_no").fill_null("") != "")["psn_no"].n_unique()
        if findings.height and "psn_no" in findings.columns else 0
    )  # fmt: skip
    grades = []
    for code, name in RESULT_TYPES.items():
        g = findings.filter(pl.col("sev_deg") == code) if findings.height else findings
        grades.append(
            {
                "name": name,
                "count": fmt_count(g.height, "条"),
                "amount": fmt_yuan(int(g["vola_amt"].sum()) if g.height else 0),
            }
        )
    ds = _dataset_totals(dataset)
    cards = [
        {"label": "疑点", "value": fmt_count(findings.height, "条")},
        {"label": "违规金额", "value": fmt_yuan(amt)},
        {"label": "涉及机构", "value": fmt_count(inst, "家")},
        {"label": "涉及参保人", "value": fmt_count(persons, "人")},
    ]
    context = []
    if "fee_list_d" in ds:
        n, fee = ds["fee_list_d"]
        context.append(
            f"审核费用明细 {fmt_count(n, '条')}，金额 {fmt_yuan(fee)}；违规金额占 {fmt_pct(amt / fee if fee else None, 2)}"
        )
    if "setl_d" in ds:
        n, fund = ds["setl_d"]
        context.append(f"结算 {fmt_count(n, '人次')}，基金支付 {fmt_yuan(fund)}")
    return {"cards": cards, "grades": grades, "context": context}


def _by_pattern(findings: pl.DataFrame) -> dict[str, Any]:
    if not findings.height:
        return {"rows": [], "chart": ""}
    g = (
        findings.group_by("pattern")
        .agg(
            pl.len().alias("n"),
            pl.col("vola_amt").sum().alias("amt"),
            pl.col("fixmedins_code").n_unique().alias("inst"),
        )
        .sort(["amt", "n", "pattern"], descending=[True, True, False])
    )
    rows = [
        {"pattern": PATTERN_LABELS.get(p, p), "code": p, "count": fmt_count(n, "条"), "amount": fmt_yuan(a),
         "institutions": fmt_count(i, "家")}
        for p, n, a, i in g.iter_rows()
    ]  # fmt: skip
    chart_rows = [
        {"模式": r["pattern"], "万元": round(a / 1_000_000, 2), "标签": f"{r['amount']}（{r['count']}）"}
        for r, a in zip(rows, g["amt"].to_list(), strict=True)
    ]
    chart = _bar_chart(chart_rows, y="模式", x="万元", x_title="违规金额（万元）", label="标签")
    return {"rows": rows, "chart": chart}


def _top_findings(findings: pl.DataFrame, names: Mapping[str, str], top: int) -> list[dict[str, Any]]:
    if not findings.height:
        return []
    t = findings.sort(["sev_deg", "vola_amt", "jr_id"], descending=[False, True, False]).head(top)
    return [
        {
            "rule": r["rule_name"] or r["rule_id"], "rule_id": r["rule_id"],
            "pattern": PATTERN_LABELS.get(r["pattern"], r["pattern"]),
            "grade": RESULT_TYPES.get(r["sev_deg"], r["sev_deg"]), "grade_code": r["sev_deg"],
            "institution": names.get(r["fixmedins_code"] or "", r["fixmedins_code"] or "—"),
            "amount": fmt_yuan(int(r["vola_amt"])), "sentence": r["vola_cont"],
        }
        for r in t.iter_rows(named=True)
    ]  # fmt: skip


def _cases(cases: Cases, names: Mapping[str, str], top: int) -> dict[str, Any]:
    counts = cases.by_state()
    frame = cases.frame()
    by_state = []
    for s in STATES:
        sub = frame.filter(pl.col("state") == s)
        by_state.append({"state": s, "count": fmt_count(counts[s], "件"),
                         "amount": fmt_yuan(int(sub["violation_amt"].sum()) if sub.height else 0)})  # fmt: skip
    chart = _bar_chart(
        [{"状态": s, "件数": counts[s], "标签": f"{counts[s]}件"} for s in STATES],
        y="状态", x="件数", x_title="案件数（件）", label="标签", width=420, order=STATES,
    ) if len(cases) else ""  # fmt: skip
    rows = []
    for r in (
        frame.sort(["violation_amt", "case_id"], descending=[True, False]).head(top).iter_rows(named=True)
    ):
        rows.append(
            {
                "case_id": r["case_id"], "institution": names.get(r["fixmedins_code"], r["fixmedins_code"] or "—"),
                "group": "规则审核" if r["group"] == "rules" else PATTERN_LABELS.get(r["group"], r["group"]),
                "findings": fmt_count(r["n_findings"], "条"), "amount": fmt_yuan(r["violation_amt"]),
                "state": r["state"], "recovered": fmt_yuan(r["recovered"]), "fined": fmt_yuan(r["fined"]),
            }
        )  # fmt: skip
    ledger = {
        "recovered": fmt_yuan(cases.balance(kinds=("追回",))), "refused": fmt_yuan(cases.balance(kinds=("拒付",))),
        "fined": fmt_yuan(cases.balance(kinds=("罚款",))), "postings": len(cases.postings),
    }  # fmt: skip
    return {
        "by_state": by_state,
        "chart": chart,
        "rows": rows,
        "total": fmt_count(len(cases), "件"),
        "ledger": ledger,
    }


def _ranking(ranking: pl.DataFrame | None, why_not: str, top: int) -> dict[str, Any]:
    from yibao.supervision.targeting import by_institution

    if ranking is None or not ranking.height:
        return {"rows": [], "chart": "", "note": why_not or "数据不足，未能计算飞行检查指标。"}
    best = by_institution(ranking, top)
    rows = [
        {
            "rank": r["rank"], "institution": r["fixmedins_name"], "code": r["fixmedins_code"], "peer": r["peer_group"],
            "month": r["month"].strftime("%Y年%m月") if r["month"] else "—", "score": f"{r['score']:.1f}",
            "flagged": f"{r['months_flagged']}/{r['months']}", "triggers": r["triggers"] or "",
            "reasons": r["reasons"] or "无明显偏离",
        }
        for r in best.iter_rows(named=True)
    ]  # fmt: skip
    chart_rows = [
        {"机构": f"{r['rank']}. {r['institution']}", "得分": round(float(r["score"]), 1), "同组": r["peer"], "标签": r["score"]}
        for r in rows if float(r["score"]) > 0
    ]  # fmt: skip
    chart = (
        _bar_chart(chart_rows, y="机构", x="得分", x_title="检查优先得分", label="标签", color="同组")
        if chart_rows
        else ""
    )
    return {"rows": rows, "chart": chart, "note": why_not}


def _points(points: PointsLedger | None, findings: pl.DataFrame, names: Mapping[str, str], year: int | None,
            top: int) -> dict[str, Any]:  # fmt: skip
    if points is not None:
        years = sorted({e.on.year for e in points.events()}, reverse=True)
        if year is not None:
            years = [year]
        rows = []
        for y in years:
            for r in points.over_threshold(y).iter_rows(named=True):
                rows.append(
                    {"year": y, "staff": r["staff_codg"], "role": r["role"],
                     "institution": names.get(r["fixmedins_code"], r["fixmedins_code"] or "—"),
                     "points": r["points"], "status": r["status"], "sanction": r["sanction"]}
                )  # fmt: skip
        label = "、".join(str(y) for y in years) if years else "—"
        return {
            "ledger": True,
            "year": label,
            "rows": rows,
            "threshold": points.rules.suspend_at,
            "candidates": [],
        }
    candidates = []
    if findings.height and "doctor" in findings.columns:
        d = (
            findings.filter(pl.col("doctor").fill_null("") != "")
            .group_by("doctor")
            .agg(pl.len().alias("n"), pl.col("vola_amt").sum().alias("amt"), pl.col("fixmedins_code").first().alias("inst"),
                 pl.col("pattern").unique().sort().alias("patterns"))
            .sort(["amt", "doctor"], descending=[True, False])
            .head(top)
        )  # fmt: skip
        for doc, n, amt, inst, pats in d.iter_rows():
            candidates.append({"staff": doc, "institution": names.get(inst or "", inst or "—"), "count": fmt_count(n, "条"),
                               "amount": fmt_yuan(int(amt)), "patterns": "、".join(PATTERN_LABELS.get(p, p) for p in pats)})  # fmt: skip
    return {"ledger": False, "year": year, "rows": [], "threshold": 9, "candidates": candidates}


def render_audit_report(
    findings: pl.DataFrame,
    dataset: Path | str | None = None,
    *,
    cases: Cases | None = None,
    ranking: pl.DataFrame | None = None,
    points: PointsLedger | None = None,
    title: str = "医保基金智能监管审核报告",
    generated: datetime | None = None,
    top: int = 20,
    points_year: int | None = None,
    template: str = "audit.html",
    template_dirs: Sequence[Path] = (),
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_audit_report`).

    ``template`` may name a page in ``template_dirs`` that extends audit.html (blocks ``head_extra``,
    ``nav_extra`` and ``before``), with ``extra`` added to its context — the demo's combined report does.
    """
    from yibao.supervision.targeting import compute_indicators, rank_indicators

    folder = Path(dataset) if dataset is not None else None
    f = _normalise(findings)
    names = _names(folder)
    why_not = ""
    skipped: Sequence[str] = ()
    if ranking is None and folder is not None:
        try:
            ind = compute_indicators(folder, f)
            skipped = ind.skipped
            ranking = rank_indicators(ind.frame)
        except (DatasetError, duckdb.Error) as e:
            why_not = f"未能计算飞行检查指标：{e}"
    elif folder is None and ranking is None:
        why_not = "未提供数据集，未计算飞行检查指标。"
    env = Environment(loader=FileSystemLoader([*template_dirs, TEMPLATES]), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    return env.get_template(template).render(
        **(extra or {}),
        title=title,
        generated=(generated or datetime.now()).strftime("%Y-%m-%d %H:%M"),
        dataset=folder.name if folder is not None else "",
        totals=_totals(f, folder),
        patterns=_by_pattern(f),
        top=_top_findings(f, names, top),
        cases=_cases(cases if cases is not None else build_cases(f), names, top),
        ranking=_ranking(ranking, why_not, top),
        skipped=list(skipped),
        points=_points(points, f, names, points_year, top),
    )


def write_audit_report(
    out: Path | str,
    findings: pl.DataFrame,
    dataset: Path | str | None = None,
    **options: Any,
) -> Path:
    """Write ``out/audit.html`` and return its path. ``options`` are those of :func:`render_audit_report`
    (cases, ranking, points, points_year, title,
    generated, top); without them the cases are built from the findings
    and the inspection ranking is computed from the dataset."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "audit.html"
    path.write_text(render_audit_report(findings, dataset, **options), encoding="utf-8")
    return path


_FINDING_DEFAULTS: dict[str, Any] = {
    "jr_id": "", "rule_id": "", "rule_name": "", "pattern": "", "sev_deg": "2", "vola_amt": 0, "vola_cont": "",
    "fixmedins_code": "", "psn_no": "", "mdtrt_id": "", "feedetl_sn": "", "doctor": "",
}  # fmt: skip


def _normalise(findings: pl.DataFrame) -> pl.DataFrame:
    """The findings with every column the report reads (absent ones empty), strings never null."""
    f = findings
    for c, v in _FINDING_DEFAULTS.items():
        if c not in f.columns:
            f = f.with_columns(pl.lit(v).alias(c))
    return f.with_columns(
        *(
            pl.col(c).cast(pl.String).fill_null("")
            for c, v in _FINDING_DEFAULTS.items()
            if isinstance(v, str)
        ),
        vola_fen(f),
    )
