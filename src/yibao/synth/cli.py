"""``yibao synth``: the command over :func:`yibao.synth.generate.synthesize`.

The lead registers it on the main app (``app.command("synth")(synth_command)``). On a terminal it shows
a rich progress bar per stage; otherwise (CI, a pipe, a log file) it prints one plain line per stage
step, e.g. ``synth: persons 200000/1000000``. A bad argument prints ``error: <field>: <reason>`` and
exits with status 2 before anything is written.

>>> from typer.testing import CliRunner
>>> import typer
>>> app = typer.Typer()
>>> _ = app.command("synth")(synth_command)
>>> result = CliRunner().invoke(app, ["--persons", "0", "--out", "unused"])
>>> result.exit_code, result.output.strip()
(2, 'error: persons: must be a whole number between 1 and 100,000,000, got 0')
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from yibao.synth.generate import DEFAULT_CHUNK_SIZE, SynthError, report_rows, synthesize

__all__ = ["synth_command"]

_STAGE_LABELS = {
    "region": "institutions and employers",
    "persons": "persons, care, fraud and settlement",
    "setl_d": "settlement: writing setl_d",
}


class _PlainProgress:
    """Progress as plain lines: each stage's start, end, and chunk steps in between."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last: tuple[str, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.last == (stage, done):
            return
        self.last = (stage, done)
        self.console.print(f"synth: {stage} {done}/{total}", highlight=False, soft_wrap=True)


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        task = self.tasks.get(stage)
        if task is None:
            task = self.tasks[stage] = self.progress.add_task(
                _STAGE_LABELS.get(stage, stage), total=max(total, 1)
            )
        self.progress.update(task, completed=done, total=max(total, 1))


def synth_command(
    persons: Annotated[int, typer.Option("--persons", help="Number of insured persons.")] = 10_000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same arguments give the same files.")
    ] = 1,
    out: Annotated[Path, typer.Option("--out", help="Folder for the dataset (created if missing).")] = Path(
        "out/synth"
    ),
    year: Annotated[int, typer.Option("--year", help="Year of care (targets exist for 2024).")] = 2024,
    fraud: Annotated[
        float, typer.Option("--fraud", help="Share of institutions, doctors and persons made bad.")
    ] = 0.02,
    report: Annotated[bool, typer.Option("--report", help="Print the calibration report.")] = False,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Persons per chunk (bounds memory).")
    ] = DEFAULT_CHUNK_SIZE,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
) -> None:
    """Synthesise a pooling region calibrated to the 2024 bulletin, with labelled fraud, and settle its year."""
    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    kwargs: dict[str, Any] = {
        "persons": persons, "seed": seed, "out": out, "year": year, "fraud": fraud, "report": report,
        "chunk_size": chunk_size, "workers": workers,
    }  # fmt: skip
    t0 = time.perf_counter()
    try:
        if console.is_terminal:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, transient=False) as bar:
                manifest = synthesize(**kwargs, progress=_RichProgress(bar))
        else:
            manifest = synthesize(**kwargs, progress=_PlainProgress(console))
    except SynthError as e:
        err.print(f"error: {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    _summary(console, manifest, out, time.perf_counter() - t0)
    if report:
        _report(console, manifest)


def _summary(console: Console, manifest: dict[str, Any], out: Path, seconds: float) -> None:
    counts = manifest["counts"]
    console.print(
        f"wrote {out}: {counts.get('psn_info_b', 0):,} persons, {counts.get('mdtrt_d', 0):,} encounters, "
        f"{counts.get('fee_list_d', 0):,} fee lines, {counts.get('labels', 0):,} labels, "
        f"{counts.get('setl_d', 0):,} settlements in {seconds:.1f} s",
        soft_wrap=True,
    )
    c = manifest.get("contributions", {})
    if c:
        console.print(
            f"fund income per insured vs bulletin: employees ×{c['employee_income_ratio']}, "
            f"residents ×{c['resident_income_ratio']}",
            soft_wrap=True,
        )


def _report(console: Console, manifest: dict[str, Any]) -> None:
    from yibao.synth.report import format_report

    console.print("calibration: generated vs target (2024 bulletin)", soft_wrap=True)
    console.print(format_report(report_rows(manifest)), soft_wrap=True, markup=False)
