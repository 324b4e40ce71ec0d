"""`yibao demo`: the main job on embedded defaults, as one readable pipeline.

synthesise a region (people, institutions, care, fraud with labels) → settle its year → audit it (rules
and models) → group and pay DRG (when the CHS-DRG tables are present) → write the bulletin → write
``out/report.html``: the fund dashboard, the bulletin, DRG payment, the top findings and the inspection
ranking, in one page that works offline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from markupsafe import Markup

from yibao.dataset.io import read_table
from yibao.money import yuan

Progress = Callable[[str, int, int], None]
TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class DemoResult:
    out: Path
    report: Path
    steps: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def run_demo(
    out: Path,
    *,
    persons: int = 20_000,
    seed: int = 2024,
    fraud: float = 0.02,
    workers: int = 2,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the whole demo into ``out`` and return where the report is."""
    from yibao.drg.dataset import pay_dataset
    from yibao.drg.tables import TablesError, TablesMissing, load_tables
    from yibao.stats.bulletin import bulletin_section, dashboard_section, write_bulletin
    from yibao.supervision.audit import audit
    from yibao.supervision.report import write_audit_report
    from yibao.supervision.targeting import compute_indicators, rank_indicators
    from yibao.synth.generate import synthesize

    say = progress or (lambda stage, done, total: None)
    out.mkdir(parents=True, exist_ok=True)
    dataset = out / "dataset"
    result = DemoResult(out, out / "report.html")

    with _step(result, "合成统筹区与年度结算", "synthesise the region and settle its year"):
        manifest = synthesize(
            persons=persons, seed=seed, out=dataset, fraud=fraud, workers=workers, progress=say
        )
    with _step(result, "智能监管审核", "every 事后 rule and model over the year"):
        audited = audit(dataset, out, progress=say, report=False)
    drg: dict[str, Any] | None = None
    drg_missing = ""
    with _step(result, "DRG 分组与点数法付费", "CHS-DRG 1.1 grouping, weights, points, clearing"):
        try:
            load_tables()
        except (TablesError, TablesMissing) as e:
            drg_missing = f"未找到 CHS-DRG 1.1 分组表，未进行 DRG 付费：{e}"
        else:
            drg = pay_dataset(dataset, out, progress=say)
    with _step(result, "基金统计与公报", "fund accounts, indicators, the bulletin"):
        doc = write_bulletin(dataset, out)
    with _step(result, "报告", "report.html"):
        findings = read_table(audited.findings_path.parent, "findings")  # vola_amt in fen
        ranking = rank_indicators(compute_indicators(dataset, findings).frame)
        extra = {
            "demo": {
                "region": manifest.get("parameters", {}).get("admdvs", "990100"),
                "persons": f"{persons:,}",
                "seed": seed,
                "year": manifest.get("parameters", {}).get("year", 2024),
                "steps": result.steps,
            },
            "dashboard": Markup(dashboard_section(doc)),  # noqa: S704 - fragments rendered with autoescape
            "bulletin": Markup(bulletin_section(doc)),  # noqa: S704
            "drg": _drg_view(out, dataset, drg) if drg is not None else None,
            "drg_missing": drg_missing,
        }
        write_audit_report(
            out,
            findings,
            dataset,
            ranking=ranking,
            template="report.html",
            template_dirs=(TEMPLATES,),
            extra=extra,
            title="示范统筹区 医保基金运行、统计公报与智能监管报告",
            generated=datetime.now(),
        ).rename(result.report)
    result.summary = {
        "persons": persons,
        "encounters": manifest.get("counts", {}).get("mdtrt_d"),
        "fee_lines": manifest.get("counts", {}).get("fee_list_d"),
        "findings": audited.findings,
        "drg": drg,
        "bulletin": doc.get("files"),
    }
    return result


@contextmanager
def _step(result: DemoResult, name: str, what: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    result.steps.append({"name": name, "what": what, "seconds": f"{time.perf_counter() - t0:.1f}"})


def _drg_view(out: Path, dataset: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The DRG section: totals and the clearing per hospital, in yuan for people."""
    cases = pl.read_parquet(out / "drg_cases.parquet")
    priced = pl.read_parquet(out / "drg_settlement.parquet")
    clearing = pl.read_parquet(out / "drg_clearing.parquet")
    names = dict(read_table(dataset, "fixmedins_b", ["fixmedins_code", "fixmedins_name"]).iter_rows())
    per_hospital = priced.group_by("fixmedins_code").len("cases")
    clearing = clearing.join(per_hospital, on="fixmedins_code", how="left").sort("final_fen", descending=True)
    kinds = dict(priced.group_by("kind").len().iter_rows())
    total_points = int(clearing["points_c"].sum() or 0)
    final = int(clearing["final_fen"].sum() or 0)
    return {
        "cases": f"{cases.height:,}",
        "grouped": f"{cases.filter(pl.col('status') == 'ok').height:,}",
        "groups": cases.filter(pl.col("status") == "ok")["drg"].n_unique(),
        "point_value": f"{final / total_points:.4f}" if total_points else "—",
        "high": kinds.get("high", 0),
        "low": kinds.get("low", 0),
        "unpriced": kinds.get("unpriced", 0),
        "review": summary.get("review_queue", 0),
        "parameters": f"policy_data/regions/990100/drg.yaml ({summary.get('parameters', '')})",
        "hospitals": [
            {
                "name": names.get(r["fixmedins_code"], r["fixmedins_code"]),
                "cases": r["cases"] or 0,
                "points": f"{r['points_c'] / 100:,.2f}",
                "final": yuan(r["final_fen"]),
                "monthly": yuan(r["monthly_paid_fen"]),
                "prepaid": yuan(r["prepaid_fen"]),
                "balance": yuan(r["balance_fen"]),
            }
            for r in clearing.iter_rows(named=True)
        ],
    }
