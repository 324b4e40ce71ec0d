"""The statistical bulletin of a pooling region: ``bulletin.json``, ``bulletin.md`` and ``bulletin.html``.

:func:`build` computes the document (fund accounts, indicators, fidelity, supervision) as exact values;
:func:`write_bulletin` writes it as JSON, **reads the JSON back** and renders the Markdown and the HTML
from what it read, so every number in the text is one of the JSON's. Sections follow the 2024 national
bulletin: 参保, 基金收支, 待遇享受, 医药费用, 异地就医, 医疗救助, 长期护理, 生育, 基金监管; a section without
data says so. The HTML is one self-contained file (Jinja2 with autoescape; charts inlined as SVG).

For the combined report: :func:`dashboard_section` (the fund dashboard: income, spending, balance,
months payable per fund, with charts) and :func:`bulletin_section` return HTML fragments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from yibao.money import dumps, loads
from yibao.policy.loader import load_region
from yibao.policy.parameters import PolicyError
from yibao.stats import charts, fmt
from yibao.stats.accounts import SUMS, Budget, FundRow, fund_accounts, heads, load_budget
from yibao.stats.data import Frames, load
from yibao.stats.fidelity import fidelity
from yibao.stats.fmt import Fen, jsonify
from yibao.stats.indicators import KIND_NAMES, LEVEL_NAMES, SCHEME_NAMES, indicators
from yibao.stats.text import SECTIONS, paragraphs

__all__ = ["build", "bulletin_section", "dashboard_section", "render_html", "render_markdown", "write_bulletin"]

SEVERITY = {"1": "明确违规", "2": "可疑", "3": "提示"}
FILES = ("bulletin.json", "bulletin.md", "bulletin.html")


def _region_name(admdvs: str) -> tuple[str, bool]:
    try:
        r = load_region(admdvs).region
    except PolicyError:
        return f"统筹区{admdvs}", False
    return r.name.split(" (")[0].split("（")[0], r.synthetic


def _account_json(r: FundRow) -> dict[str, Any]:
    return {
        "key": r.key, "name": r.name, "present": r.present, "parts": list(r.parts),
        "income": Fen(r.income), "expenditure": Fen(r.expenditure), "current": Fen(r.current),
        "opening": Fen(r.opening), "cumulative": Fen(r.cumulative), "months": r.months,
        "months_payable": r.months_payable,
        "budget_income": None if r.budget_income is None else Fen(r.budget_income),
        "budget_expenditure": None if r.budget_expenditure is None else Fen(r.budget_expenditure),
        "income_execution": r.income_execution, "expenditure_execution": r.expenditure_execution,
        "income_parts": {k: Fen(v) for k, v in r.income_parts.items()},
        "expenditure_parts": {k: Fen(v) for k, v in r.expenditure_parts.items()},
        "yoy": {w: r.yoy(w) for w in ("income", "expenditure", "current", "cumulative")} if r.previous else None,
    }  # fmt: skip


def _supervision(frames: Frames) -> dict[str, Any]:
    f = frames.findings
    if f is None or f.height == 0:
        return {"present": False}
    by = f.group_by("sev_deg").agg(pl.len().alias("n"), pl.col("vola_amt").sum()).sort("sev_deg")
    top = (
        f.group_by("rule_id", "rule_name").agg(pl.len().alias("n"), pl.col("vola_amt").sum())
        .sort(["vola_amt", "n", "rule_id"], descending=[True, True, False]).head(8)
    )  # fmt: skip
    inst = f.get_column("fixmedins_code").fill_null("")
    psn = f.get_column("psn_no").fill_null("")
    return {
        "present": True,
        "findings": f.height,
        "amount": Fen(int(f.get_column("vola_amt").sum() or 0)),
        "institutions": inst.filter(inst != "").n_unique(),
        "persons": psn.filter(psn != "").n_unique(),
        "by_severity": {str(r[0]): {"findings": int(r[1]), "amount": Fen(int(r[2] or 0))} for r in by.iter_rows()},
        "top_rules": [
            {"rule_id": r[0], "rule_name": r[1], "findings": int(r[2]), "amount": Fen(int(r[3] or 0))} for r in top.iter_rows()
        ],
    }


def _drg(frames: Frames) -> dict[str, Any]:
    d = frames.drg
    if d is None:
        return {"present": False}
    totals = {c: Fen(int(d.get_column(c).sum() or 0)) for c in d.columns if c.endswith("_fen") and d.schema[c].is_integer()}
    return {"present": True, "cases": d.height, "totals": totals}


def _checks(doc: Mapping[str, Any], rows: Mapping[str, FundRow], ind: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Sums that must add up, checked on the exact values."""
    out = []
    for key, (_, parts) in SUMS.items():
        for what in ("income", "expenditure", "cumulative"):
            total = getattr(rows[key], what)
            out.append({"check": f"{key}.{what} = Σ {'+'.join(parts)}", "ok": total == sum(getattr(rows[p], what) for p in parts)})
    for sc, b in ind["benefits"].items():
        out.append({"check": f"benefits.{sc}.person_times = Σ by_kind", "ok": b["person_times"] == sum(b["by_kind"].values())})
    for sc, e in ind["expenses"].items():
        out.append({"check": f"expenses.{sc}.total = facility + pharmacy", "ok": e["total"] == e["facility"] + e["pharmacy"]})
    c = ind["insured"]
    out.append({"check": "insured.total = employee + resident", "ok": c["total"] == c["employee"]["total"] + c["resident"]["total"]})
    return out


def build(
    dataset: Path | str | Frames,
    *,
    out: Path | str | None = None,
    budget: Budget | None = None,
    previous: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """The bulletin document as exact values (money :class:`Fen`, ratios Fractions); see :func:`write_bulletin`."""
    t0 = time.perf_counter()
    frames = dataset if isinstance(dataset, Frames) else load(dataset, extra=out)
    if budget is None:
        budget = load_budget(heads(frames), date(frames.year, 1, 1), region=frames.region)
    rows = fund_accounts(frames, budget=budget, previous=previous)
    ind = indicators(frames)
    name, synthetic = _region_name(frames.region)
    ltc_present = bool(ind["ltc"]["person_times"] or ind["insured"]["ltc"] or rows["ltc"].present)
    mat_present = bool(ind["maternity"]["person_times"] or ind["insured"]["maternity"] or rows["maternity"].present)
    doc: dict[str, Any] = {
        "title": f"{name}{frames.year}年医疗保障事业发展统计公报",
        "meta": {
            "region": frames.region, "region_name": name, "synthetic": synthetic, "year": frames.year,
            "months": frames.months,
            "period_from": frames.first.isoformat() if frames.first else None,
            "period_to": frames.last.isoformat() if frames.last else None,
            "dataset": str(frames.folder), "generated_by": "yibao.stats",
            "settlements": frames.setl.height, "fee_lines": frames.fee_lines,
            "budget_basis": budget.basis,
            "serious_illness_share": budget.serious_illness_share.decimal(),
            "large_amount_share": budget.large_amount_share.decimal(),
        },
        "names": {
            "scheme": SCHEME_NAMES, "kind": KIND_NAMES, "level": {**LEVEL_NAMES, "all": "合计"}, "severity": SEVERITY,
            "sections": dict(SECTIONS),
        },
        "coverage": ind["insured"],
        "funds": {"accounts": [_account_json(r) for r in rows.values()], "budget_references": dict(budget.references)},
        "benefits": ind["benefits"],
        "expenses": ind["expenses"],
        "inpatient": ind["inpatient"],
        "outpatient": ind["outpatient"],
        "cross_region": ind["cross_region"],
        "shares": ind["shares"],
        "mutual_aid": ind["mutual_aid"],
        "assistance": ind["assistance"],
        "ltc": {"present": ltc_present, **ind["ltc"]},
        "maternity": {"present": mat_present, **ind["maternity"]},
        "supervision": _supervision(frames),
        "drg": _drg(frames),
        "fidelity": fidelity(ind),
        "table": ind["table"],
    }
    doc["checks"] = _checks(doc, rows, ind)
    doc["meta"]["compute_seconds"] = None  # filled by write_bulletin (kept out of the exact build)
    doc["_seconds"] = time.perf_counter() - t0
    return doc


# ---------------------------------------------------------------------------------------------
# Rendering (from the loaded JSON only)
# ---------------------------------------------------------------------------------------------

_ENV: dict[bool, Environment] = {}


def _env(html: bool) -> Environment:
    if html not in _ENV:
        env = Environment(
            loader=PackageLoader("yibao.stats", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=html, default=html),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters.update(
            money=fmt.cn_money, persons=fmt.cn_persons, times=fmt.cn_times, pct=fmt.cn_pct, growth=fmt.cn_growth,
            months=fmt.cn_months, unit=fmt.money_unit, count=fmt.cn_count, num=fmt.num,
        )  # fmt: skip
        _ENV[html] = env
    return _ENV[html]


_ORDER = (
    ("total", 0), ("employee", 1), ("employee_pool", 2), ("employee_basic", 3), ("large_amount", 3),
    ("personal_account", 2), ("resident", 1), ("resident_basic", 2), ("serious_illness", 2), ("maternity", 1),
    ("pooled", 0), ("assistance", 0), ("cvlserv", 0), ("ltc", 0), ("other", 0),
)  # fmt: skip
"""Fund rows as the tables show them: sums above their parts, with an indent depth."""


def _funds_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    by_key = {r["key"]: r for r in doc["funds"]["accounts"]}
    always = ("total", "employee", "employee_pool", "personal_account", "resident")
    rows = [
        {**by_key[k], "depth": depth}
        for k, depth in _ORDER
        if k in by_key and (by_key[k]["present"] or k in always)
    ]
    largest = max((abs(r[k]) for r in rows for k in ("income", "expenditure", "cumulative")), default=0)
    return {"rows": rows, "unit": fmt.money_unit(largest)}


def _chart_svgs(doc: Mapping[str, Any], which: tuple[str, ...]) -> dict[str, Markup]:
    makers = {
        "funds": charts.fund_chart, "months": charts.months_chart, "benefits": charts.benefits_chart,
        "inpatient": charts.inpatient_chart, "ratio": charts.ratio_chart,
    }  # fmt: skip
    return {k: Markup(charts.svg(makers[k](doc))) for k in which}  # noqa: S704 - SVG we rendered ourselves


def render_markdown(doc: Mapping[str, Any]) -> str:
    """bulletin.md from the loaded bulletin JSON."""
    return _env(False).get_template("bulletin.md").render(doc=doc, sections=paragraphs(doc), funds=_funds_view(doc))


def bulletin_section(source: Path | str | Mapping[str, Any], out: Path | str | None = None) -> str:
    """The bulletin as an HTML fragment (text, tables, charts) for the combined report.

    ``source`` is a bulletin document (as :func:`write_bulletin` returns it), a ``bulletin.json`` file or a
    dataset folder (then computed, with ``findings`` looked up in ``out`` as well).
    """
    doc = _doc(source, out)
    svgs = _chart_svgs(doc, ("benefits", "inpatient", "ratio"))
    return _env(True).get_template("section.html").render(
        doc=doc, sections=paragraphs(doc), funds=_funds_view(doc), charts=svgs
    )


def dashboard_section(source: Path | str | Mapping[str, Any], out: Path | str | None = None) -> str:
    """The fund dashboard as an HTML fragment: income, spending, balance and months payable per fund."""
    doc = _doc(source, out)
    svgs = _chart_svgs(doc, ("funds", "months"))
    return _env(True).get_template("dashboard.html").render(doc=doc, funds=_funds_view(doc), charts=svgs)


def render_html(doc: Mapping[str, Any]) -> str:
    """bulletin.html (one self-contained page) from the loaded bulletin JSON."""
    return _env(True).get_template("bulletin.html").render(
        doc=doc,
        dashboard=Markup(dashboard_section(doc)),  # noqa: S704 - rendered by our autoescaping templates
        section=Markup(bulletin_section(doc)),  # noqa: S704
    )


def _doc(source: Path | str | Mapping[str, Any], out: Path | str | None) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    p = Path(source)
    if p.is_file():
        doc: Mapping[str, Any] = loads(p.read_text(encoding="utf-8"))
        return doc
    if (p / "bulletin.json").is_file() and not (p / "setl_d.parquet").exists():
        return _doc(p / "bulletin.json", out)
    built = build(p, out=out)
    built.pop("_seconds", None)
    loaded: Mapping[str, Any] = loads(dumps(jsonify(built)))
    return loaded


def write_bulletin(
    dataset: Path | str,
    out: Path | str,
    *,
    previous: Mapping[str, Mapping[str, int]] | Path | str | None = None,
) -> dict[str, Any]:
    """Compute the bulletin of ``dataset`` and write bulletin.json, bulletin.md and bulletin.html to ``out``.

    ``previous`` is last year's bulletin.json (or its fund figures in fen) for year-on-year change.
    Returns the document as read back from the JSON (money as yuan Decimals), with ``files`` and ``seconds``.
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prev: Mapping[str, Mapping[str, int]] | None
    if isinstance(previous, (str, Path)):
        from yibao.stats.accounts import previous_from_bulletin

        prev = previous_from_bulletin(loads(Path(previous).read_text(encoding="utf-8")))
    else:
        prev = previous
    built = build(dataset, out=out, previous=prev)
    built["meta"]["compute_seconds"] = Decimal(f"{built.pop('_seconds'):.3f}")
    text = dumps(jsonify(built), indent=2) + "\n"
    (out / "bulletin.json").write_text(text, encoding="utf-8")
    doc: dict[str, Any] = loads(text)  # everything below renders what the JSON says
    (out / "bulletin.md").write_text(render_markdown(doc), encoding="utf-8")
    (out / "bulletin.html").write_text(render_html(doc), encoding="utf-8")
    doc["files"] = {name: str(out / name) for name in FILES}
    doc["seconds"] = round(time.perf_counter() - t0, 3)
    return doc
