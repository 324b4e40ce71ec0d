"""The bulletin's charts: Altair (Vega-Lite) specifications rendered to inline SVG by vl-convert.

An SVG inlined in the page needs no script and no network, prints, and shows the same in the combined
report as in the bulletin. Every chart reads the bulletin JSON (already rounded for display there is
nothing: values are converted to floats only here, to draw). Titles and axes say what and in which unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt

from yibao.stats.fmt import money_unit

__all__ = ["FONT", "benefits_chart", "fund_chart", "inpatient_chart", "months_chart", "ratio_chart", "svg"]

FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
_FONT_DIRS = ("/usr/share/fonts/truetype/wqy", "/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/noto")
_registered = False
_DIV = {"亿元": Decimal(100_000_000), "万元": Decimal(10_000), "元": Decimal(1)}
_SCHEME_COLORS = alt.Scale(domain=["职工医保", "居民医保"], range=["#2b6cb0", "#dd6b20"])
MAIN_FUNDS = ("employee_pool", "personal_account", "resident", "assistance", "maternity", "ltc", "cvlserv")


def _register_fonts() -> None:
    global _registered
    if _registered:
        return
    import vl_convert as vlc

    for d in _FONT_DIRS:
        if Path(d).is_dir():
            vlc.register_font_directory(d)
    _registered = True


def svg(chart: Any) -> str:
    """Render one chart to an SVG string (no script, no network)."""
    import vl_convert as vlc

    _register_fonts()
    spec = chart.configure(font=FONT).configure_view(stroke=None).to_dict()
    out: str = vlc.vegalite_to_svg(spec)
    return out


def _data(values: list[dict[str, Any]]) -> Any:
    return alt.Data(values=values)  # type: ignore[no-untyped-call]


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _accounts(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = {r["key"]: r for r in doc["funds"]["accounts"]}
    return [rows[k] for k in MAIN_FUNDS if k in rows and rows[k]["present"]]


def fund_chart(doc: Mapping[str, Any]) -> Any:
    """基金收支: income, spending and cumulative balance of each main fund."""
    rows = _accounts(doc)
    largest = max((abs(r[k]) for r in rows for k in ("income", "expenditure", "cumulative")), default=Decimal(0))
    unit = money_unit(largest)
    data = [
        {"基金": r["name"], "项目": label, "金额": _f(r[k] / _DIV[unit]), "order": i}
        for r in rows
        for i, (k, label) in enumerate((("income", "本年收入"), ("expenditure", "本年支出"), ("cumulative", "累计结存")))
    ]
    return (
        alt.Chart(_data(data), title=alt.Title(f"基金收支与累计结存（{unit}）", anchor="start"))
        .mark_bar()
        .encode(
            x=alt.X("基金:N", title=None, sort=[r["name"] for r in rows], axis=alt.Axis(labelAngle=0, labelLimit=160)),
            xOffset=alt.XOffset("项目:N", sort=["本年收入", "本年支出", "累计结存"]),
            y=alt.Y("金额:Q", title=unit),
            color=alt.Color("项目:N", sort=["本年收入", "本年支出", "累计结存"], title=None,
                            scale=alt.Scale(range=["#2b6cb0", "#dd6b20", "#38a169"]), legend=alt.Legend(orient="top")),
            tooltip=["基金:N", "项目:N", alt.Tooltip("金额:Q", format=",.2f")],
        )
        .properties(width=640, height=260)
    )  # fmt: skip


def months_chart(doc: Mapping[str, Any]) -> Any:
    """可支付月数 of each fund that spent something."""
    rows = [r for r in _accounts(doc) if r["months_payable"] is not None and r["months_payable"] >= 0]
    data = [{"基金": r["name"], "月数": _f(r["months_payable"])} for r in rows]
    base = alt.Chart(_data(data), title=alt.Title("累计结存可支付月数（个月）", anchor="start")).encode(
        y=alt.Y("基金:N", title=None, sort=[r["name"] for r in rows], axis=alt.Axis(labelLimit=200)),
        x=alt.X("月数:Q", title="个月"),
    )
    bars = base.mark_bar(color="#2b6cb0")
    text = base.mark_text(align="left", dx=4).encode(text=alt.Text("月数:Q", format=".1f"))
    return (bars + text).properties(width=520, height=max(60, 34 * len(rows)))


def benefits_chart(doc: Mapping[str, Any]) -> Any:
    """享受待遇人次 by scheme and type."""
    names = doc["names"]
    data = []
    for scheme in ("employee", "resident"):
        b = doc["benefits"].get(scheme)
        if not b:
            continue
        for kind, n in b["by_kind"].items():
            data.append({"险种": names["scheme"][scheme], "类别": names["kind"][kind], "人次": n})
    kinds = [names["kind"][k] for k in ("outpatient", "chronic", "inpatient", "pharmacy", "ltc", "other")]
    return (
        alt.Chart(_data(data), title=alt.Title("享受待遇人次（按类别）", anchor="start"))
        .mark_bar()
        .encode(
            y=alt.Y("险种:N", title=None, sort=["职工医保", "居民医保"]),
            x=alt.X("人次:Q", title="人次", stack="zero"),
            color=alt.Color("类别:N", sort=kinds, title=None, legend=alt.Legend(orient="top")),
            order=alt.Order("类别:N"),
            tooltip=["险种:N", "类别:N", alt.Tooltip("人次:Q", format=",")],
        )
        .properties(width=640, height=110)
    )  # fmt: skip


def inpatient_chart(doc: Mapping[str, Any]) -> Any:
    """次均住院费用 by scheme and hospital level."""
    names = doc["names"]
    data = []
    for scheme in ("employee", "resident"):
        for lv in ("all", "3", "2", "1"):
            g = doc["inpatient"].get(scheme, {}).get(lv)
            if g and g["cost_per_time"] is not None:
                data.append({"险种": names["scheme"][scheme], "医院等级": names["level"][lv], "元": _f(g["cost_per_time"])})
    order = [names["level"][lv] for lv in ("all", "3", "2", "1")]
    return (
        alt.Chart(_data(data), title=alt.Title("次均住院费用（元，按医院等级）", anchor="start"))
        .mark_bar()
        .encode(
            x=alt.X("医院等级:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=180)),
            xOffset=alt.XOffset("险种:N", sort=["职工医保", "居民医保"]),
            y=alt.Y("元:Q", title="元"),
            color=alt.Color("险种:N", title=None, legend=alt.Legend(orient="top"), scale=_SCHEME_COLORS),
            tooltip=["险种:N", "医院等级:N", alt.Tooltip("元:Q", format=",.0f")],
        )
        .properties(width=640, height=240)
    )  # fmt: skip


def ratio_chart(doc: Mapping[str, Any]) -> Any:
    """住院费用目录内基金支付比例 by level, with the 2024 national values as ticks (± 3 pp band)."""
    names = doc["names"]
    data = []
    for r in doc["fidelity"]:
        if r["computed"] is None:
            continue
        data.append({
            "险种": names["scheme"][r["scheme"]], "医院等级": names["level"][r["level"]],
            "本统筹区": _f(r["computed"] * 100), "全国2024": _f(r["target"] * 100),
            "低": _f(r["target"] * 100 - 3), "高": _f(r["target"] * 100 + 3),
        })  # fmt: skip
    order = [names["level"][lv] for lv in ("all", "3", "2", "1")]
    base = alt.Chart(_data(data)).encode(
        x=alt.X("医院等级:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=180)),
        xOffset=alt.XOffset("险种:N", sort=["职工医保", "居民医保"]),
    )
    bars = base.mark_bar(opacity=0.85).encode(
        y=alt.Y("本统筹区:Q", title="%", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("险种:N", title=None, legend=alt.Legend(orient="top"), scale=_SCHEME_COLORS),
        tooltip=["险种:N", "医院等级:N", alt.Tooltip("本统筹区:Q", format=".1f"), alt.Tooltip("全国2024:Q", format=".1f")],
    )
    band = base.mark_errorbar(color="black", thickness=1, ticks=True).encode(y=alt.Y("低:Q"), y2=alt.Y2("高:Q"))
    ticks = base.mark_tick(color="black", thickness=2, size=18).encode(y="全国2024:Q")
    return alt.layer(bars, band, ticks, title=alt.Title(
        "住院费用目录内基金支付比例（%）", subtitle="柱：本统筹区；黑线：2024年全国公报值 ±3个百分点", anchor="start",
    )).properties(width=640, height=260)  # fmt: skip
