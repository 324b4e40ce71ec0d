"""``yibao audit DATASET --out DIR [--labels] [--k N]``: the batch audit from the command line.

:func:`audit_command` is a Typer command (the main ``yibao`` app registers it as ``audit``). It runs
:func:`yibao.supervision.audit.audit` — every 事后 rule and every model — with a progress bar on a
terminal and one plain line per rule or model otherwise, prints the findings per pattern and what was
skipped or failed and why, and with ``--labels`` scores the findings against the dataset's
``labels.parquet`` (:func:`yibao.supervision.evaluate.evaluate`), printing the table and saving
``evaluation.parquet`` and ``evaluation.md`` beside the findings.

Exit status: 0 when the audit ran (rules skipped for absent data included — they are listed), 1 when
a rule or model failed, 2 when the dataset (or its labels) cannot be read.

>>> import typer
>>> app = typer.Typer()
>>> _ = app.command("audit")(audit_command)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["audit_command"]

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback: a rich bar on a terminal, plain lines otherwise."""
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("audit", total=None)

            def say(message: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=escape(message[:70]))
                bar.console.print(f"  {escape(message)}", soft_wrap=True)

            yield say
    else:

        def plain(message: str, done: int, total: int) -> None:
            print(f"[{done}/{total}] {message}", flush=True)

        yield plain


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def audit_command(
    dataset: Annotated[
        Path, typer.Argument(help="The dataset folder (fee_list_d.parquet, mdtrt_d.parquet …).")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for findings.parquet, audit.html, audit.json and the evaluation."),
    ] = Path("out/audit"),
    labels: Annotated[
        bool,
        typer.Option("--labels", help="Score the findings against DATASET/labels.parquet (synthetic data)."),
    ] = False,
    k: Annotated[int, typer.Option("--k", min=1, help="Inspection capacity: precision at the first k.")] = 50,
    rules: Annotated[
        str | None, typer.Option("--rules", help="Only these rules and models, comma-separated (R-…, M-…).")
    ] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="DuckDB threads.")] = 2,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 5GB.")
    ] = "5GB",
) -> None:
    """Run every 事后 rule and every model over DATASET; write findings and the HTML summary."""
    from yibao.dataset.io import DatasetError, read_table
    from yibao.supervision.audit import audit
    from yibao.supervision.evaluate import evaluate, save

    if not dataset.is_dir():
        raise _fail(f"{dataset}: no such dataset folder")
    truth: pl.DataFrame | None = None
    if labels:
        try:
            truth = read_table(dataset, "labels")
        except DatasetError as e:
            raise _fail(f"--labels: {e}") from None
    selection = [r.strip() for r in rules.split(",") if r.strip()] if rules else None
    try:
        with _progress(_out) as say:
            result = audit(
                dataset, out, rules=selection, progress=say, threads=threads, memory_limit=memory_limit
            )
    except DatasetError as e:
        raise _fail(str(e)) from None
    except ValueError as e:  # unknown rule ids
        raise _fail(str(e)) from None
    for p in result.problems:
        _out.print(f"[yellow]note:[/yellow] {escape(p)}", soft_wrap=True)
    table = Table(title=f"findings: {result.findings:,} in {result.seconds:.1f} s")
    table.add_column("pattern")
    table.add_column("findings", justify="right")
    for pattern, n in result.by_pattern.items():
        table.add_row(pattern, f"{n:,}")
    _out.print(table)
    for c in result.skipped:
        _out.print(
            f"[yellow]skipped[/yellow] {escape(c.id)} {escape(c.name)}: {escape(c.reason)}", soft_wrap=True
        )
    for c in result.failed:
        _out.print(f"[red]failed[/red] {escape(c.id)} {escape(c.name)}: {escape(c.reason)}", soft_wrap=True)
    _out.print(f"wrote {escape(str(result.findings_path))}")
    if result.report_path is not None:
        _out.print(f"wrote {escape(str(result.report_path))}")
    if truth is not None:
        findings = read_table(out, "findings")
        scores = evaluate(findings, truth, k=k)
        _print_evaluation(scores, k)
        pq, md = save(scores, out)
        _out.print(f"wrote {escape(str(pq))} and {escape(str(md))}")
    if result.failed:
        raise typer.Exit(1)


def _print_evaluation(scores: pl.DataFrame, k: int) -> None:
    from yibao.supervision.evaluate import to_markdown

    if not _out.is_terminal:  # a pipe or a file: the Markdown table, whole
        print(to_markdown(scores), flush=True)
        return
    table = Table(title="detection against labels")
    cols = ("pattern", "kind", "level", "positives", "flagged", "tp", "fp", "fn", "precision", "recall")
    for c in (*cols, f"p@{k}", "target"):
        table.add_column(c, justify="left" if c in ("pattern", "kind", "level") else "right")

    def num(v: object) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    for r in scores.iter_rows(named=True):
        mark = "[green]✓[/green]" if r["meets_target"] else "[red]✗[/red]"
        table.add_row(
            *(escape(num(r[c])) for c in cols), num(r["precision_at_k"]), f"{r['target']:.2f} {mark}"
        )
    _out.print(table)
