"""``yibao drg …``: CHS-DRG grouping from the command line.

``yibao drg group FILE [--out OUT] [--tables DIR]`` reads a CSV or Parquet file with the columns
case_id, gender (1/2), age, age_day, weight, dept, los, leaving_type, diagnoses (``|``-separated,
principal first) and procedures (``|``-separated, main first), and writes the same rows with status,
mdc, adrg, drg and trace added — to OUT (CSV or Parquet by its suffix) or as CSV to standard output.
Progress and the summary (counts by status, cases per second) go to standard error: a progress bar on
a terminal, plain lines otherwise. Exit 0 when the file was grouped (whatever the statuses), 2 when it
could not be read or the tables are missing.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from yibao.drg.grouper import INPUT_COLUMNS, Grouper, group_frame
from yibao.drg.tables import TablesError, TablesMissing, load_tables

drg_app = typer.Typer(
    help="CHS-DRG 1.1 grouping (MDC → ADRG → DRG) with a trace per case.", no_args_is_help=True
)

_err = Console(stderr=True, highlight=False)


@drg_app.callback()
def _drg() -> None:
    """CHS-DRG 1.1 grouping (MDC → ADRG → DRG) with a trace per case."""


def _say(message: str, *, error: bool = False) -> None:
    prefix = "[red]error:[/red] " if error else ""
    _err.print(prefix + escape(message), soft_wrap=True)


def _read(path: Path) -> Any:
    import polars as pl

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path)
    if suffix in (".csv", ".txt", ""):
        return pl.read_csv(path, infer_schema=False)  # every column as text: codes stay codes
    raise ValueError(f"{path.name}: expected a .csv or .parquet file")


def _write(df: Any, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(df.write_csv())
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        df.write_parquet(out)
    else:
        df.write_csv(out)


@drg_app.command("group")
def group_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of cases.", exists=True, dir_okay=False)],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write (CSV or Parquet by suffix); default stdout.")
    ] = None,
    tables: Annotated[
        Path | None,
        typer.Option(
            "--tables",
            help="Folder of the CHS-DRG 1.1 tables (default: $YIBAO_DRG_TABLES or ../shared/data/chs-drg-1.1).",
        ),
    ] = None,
) -> None:
    """Group every case of FILE into MDC, ADRG and DRG, with status and trace."""
    try:
        t = load_tables(tables)
    except TablesMissing as e:
        _say(str(e), error=True)
        raise typer.Exit(2) from None
    except TablesError as e:
        _say(f"the CHS-DRG tables cannot be read safely: {e}", error=True)
        raise typer.Exit(2) from None
    try:
        df = _read(file)
    except Exception as e:  # unreadable input: say so, change nothing
        _say(f"cannot read {file}: {e}", error=True)
        raise typer.Exit(2) from None
    if "diagnoses" not in df.columns:
        _say(f"{file.name} has no 'diagnoses' column (expected: {', '.join(INPUT_COLUMNS)})", error=True)
        raise typer.Exit(2)
    grouper = Grouper(t)
    n = df.height
    started = time.perf_counter()
    if _err.is_terminal:
        with Progress(
            TextColumn("grouping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=_err,
            transient=True,
        ) as bar:
            task = bar.add_task("group", total=n)
            result = group_frame(
                df, grouper, progress=lambda done: bar.update(task, completed=done), chunk=2_000
            )
    else:
        step = max(1, n // 10)
        marks = {"next": step}

        def plain(done: int) -> None:
            if done >= marks["next"] or done == n:
                _say(f"grouped {done}/{n} cases")
                while marks["next"] <= done:
                    marks["next"] += step

        result = group_frame(df, grouper, progress=plain, chunk=min(20_000, step))
    elapsed = time.perf_counter() - started
    try:
        _write(result, out)
    except OSError as e:
        _say(f"cannot write {out}: {e}", error=True)
        raise typer.Exit(2) from None
    counts = Counter(result.get_column("status").to_list())
    rate = n / elapsed if elapsed > 0 else float("inf")
    by_status = ", ".join(f"{k} {v}" for k, v in counts.most_common())
    where = f" → {out}" if out is not None else ""
    _say(f"{n} cases in {elapsed:.2f} s ({rate:,.0f} cases/s){where}: {by_status or 'no cases'}")
