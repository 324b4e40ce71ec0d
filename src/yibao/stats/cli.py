"""``yibao bulletin DATASET``: the statistical bulletin of a settled dataset.

The lead registers it on the main app::

    from yibao.stats.cli import bulletin_command
    app.command("bulletin")(bulletin_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.dataset.io import DatasetError
from yibao.policy.parameters import PolicyError
from yibao.stats import fmt

__all__ = ["bulletin_command"]

_SHORT = {
    "employee_pool": "职工统筹", "personal_account": "个人账户", "resident": "居民医保", "assistance": "医疗救助",
    "maternity": "生育保险", "ltc": "长期护理", "total": "合计",
}  # fmt: skip

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def bulletin_command(
    dataset: Annotated[Path, typer.Argument(help="A settled dataset folder (psn_info_b, setl_d, contribution_d …).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write bulletin.json, .md and .html (default: ./out).")
    ] = None,
    previous: Annotated[
        Path | None, typer.Option("--previous", help="Last year's bulletin.json, for year-on-year change.")
    ] = None,
) -> None:
    """Write the statistical bulletin (参保, 基金收支, 待遇享受 … 基金监管) as JSON, Markdown and HTML."""
    from yibao.stats.bulletin import write_bulletin

    if not dataset.is_dir():
        err_console.print(f"[red]error:[/red] {escape(str(dataset))} is not a dataset folder")
        raise typer.Exit(2)
    if previous is not None and not previous.is_file():
        err_console.print(f"[red]error:[/red] {escape(str(previous))} is not a file")
        raise typer.Exit(2)
    target = out if out is not None else Path("out")
    try:
        doc = write_bulletin(dataset, target, previous=previous)
    except (DatasetError, PolicyError, KeyError, ValueError) as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    rows = {r["key"]: r for r in doc["funds"]["accounts"]}
    unit = fmt.money_unit(max(abs(rows["total"]["income"]), abs(rows["total"]["cumulative"])))
    table = Table(title=escape(doc["title"]), caption=f"金额单位：{unit}；月数 = 累计结存可支付月数", show_lines=False)
    table.add_column("基金", no_wrap=True)
    for col in ("收入", "支出", "累计结存", "月数", "支出预算执行率"):
        table.add_column(col, justify="right", no_wrap=True)
    for key in ("employee_pool", "personal_account", "resident", "assistance", "maternity", "ltc", "total"):
        r = rows.get(key)
        if r is None or not (r["present"] or key in ("employee_pool", "resident", "total")):
            continue
        table.add_row(
            _SHORT[key], *(fmt.cn_money(r[k], unit, 2, False) for k in ("income", "expenditure", "cumulative")),
            fmt.num(r["months_payable"], 1), fmt.cn_pct(r["expenditure_execution"], 2),
        )  # fmt: skip
    console.print(table)
    off = [r for r in doc["fidelity"] if r["within"] is False]
    console.print(
        f"目录内住院基金支付比例: 职工 {fmt.cn_pct(doc['inpatient']['employee']['all']['fund_ratio'])} (全国 84.8%), "
        f"居民 {fmt.cn_pct(doc['inpatient']['resident']['all']['fund_ratio'])} (全国 68.6%); "
        f"{8 - len(off)}/8 within ±3 pp"
    )
    bad = [c["check"] for c in doc["checks"] if not c["ok"]]
    if bad:
        err_console.print(f"[red]sums that do not add up:[/red] {escape(', '.join(bad))}")
    for path in doc["files"].values():
        console.print(f"wrote {escape(path)}")
    console.print(f"{doc['meta']['fee_lines']:,} fee lines, {doc['meta']['settlements']:,} settlements in {doc['seconds']} s")
    if bad:
        raise typer.Exit(1)
