"""The ``yibao`` command. Each sub-command is a thin shell over one pipeline function."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

from yibao.drg.cli import drg_app
from yibao.money import dumps
from yibao.policy.cases import CaseError, Outcome, load_cases, run_case
from yibao.policy.parameters import PolicyError
from yibao.stats.cli import bulletin_command
from yibao.supervision.casework_cli import cases_app, points_app
from yibao.supervision.cli import audit_command
from yibao.synth.cli import synth_command

app = typer.Typer(
    help="yibao (医保): the core platform of a pooling region of China's basic medical insurance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
)
policy_app = typer.Typer(
    help="Benefit policy as dated data: golden cases, results and traces.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")
app.add_typer(drg_app, name="drg")
app.add_typer(cases_app, name="cases")
app.add_typer(points_app, name="points")
app.command("synth")(synth_command)
app.command("audit")(audit_command)
app.command("bulletin")(bulletin_command)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

Paths = Annotated[list[Path], typer.Argument(help="YAML case files or folders of them.", exists=True)]


def _run_all(paths: list[Path], *, trace: bool = False) -> list[Outcome]:
    try:
        cases = load_cases(paths)
    except CaseError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    return [run_case(c, trace=trace) for c in cases]


@policy_app.command("test")
def policy_test(paths: Paths) -> None:
    """Run golden cases; print every difference; exit 1 if any case fails."""
    outcomes = _run_all(paths)
    failed = [o for o in outcomes if not o.passed]
    for o in failed:
        console.print(f"[red]FAIL[/red] {escape(o.case.where)}")
        for d in o.differences:
            console.print(f"     {escape(d)}")
    console.print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@policy_app.command("run")
def policy_run(
    paths: Paths,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the results as a JSON list in case order.")
    ] = False,
) -> None:
    """Compute every case and print its results (all setlinfo money fields and intermediates)."""
    outcomes = _run_all(paths)
    rows = [
        {"name": o.case.name, "file": o.case.file, "region": o.case.region, "date": o.case.date.isoformat(),
         "error": o.error, "results": o.results}
        for o in outcomes
    ]  # fmt: skip
    if json_out:
        sys.stdout.write(dumps(rows, indent=2) + "\n")
        return
    for o in outcomes:
        _print_results(o)


@policy_app.command("explain")
def policy_explain(paths: Paths) -> None:
    """Show how every amount of every case was reached: the steps and each parameter read."""
    for o in _run_all(paths, trace=True):
        _print_trace(o)


def _print_results(o: Outcome) -> None:
    console.rule(escape(f"{o.case.name}  [{o.case.region} {o.case.date}]"))
    if o.error:
        console.print(f"[red]error:[/red] {escape(o.error)}")
        return
    for k, v in o.results.items():
        if not k.startswith(("lines.", "ytd.", "setldetail")):
            console.print(f"  {escape(k):<28} {escape(str(v))}")


def _print_trace(o: Outcome) -> None:
    console.rule(f"[bold]{escape(o.case.name)}[/bold]  " + escape(f"[{o.case.region} {o.case.date}]"))
    console.print(f"  source: {escape(o.case.reference)}")
    if o.error:
        console.print(f"  [red]error:[/red] {escape(o.error)}")
        return
    if not o.trace:
        for k, v in o.results.items():
            console.print(f"  {escape(k)} = {escape(str(v))}")
        return
    for i, step in enumerate(o.trace, 1):
        console.print(f"  [bold]{i}. {escape(step.name)}[/bold]: {escape(step.result)}")
        for read in step.reads:
            console.print(f"       [dim]· {escape(read.describe())}[/dim]")
    r = o.results
    console.print(
        f"  → 统筹 {r['hifp_pay']} · 大病/大额 {r['hifmi_pay'] + r['hifob_pay']} · 救助 {r['maf_pay']}"
        f" · 个人账户 {r['acct_pay']} · 现金 {r['psn_cash_pay']}"
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("out"),
    persons: Annotated[int, typer.Option(min=100, help="Size of the synthetic region.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2024,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
) -> None:
    """The main job: example bills explained, then a synthetic region synthesised, settled, audited, paid
    by DRG and reported — out/report.html."""
    from yibao.demo import run_demo
    from yibao.policy.loader import policy_root

    examples = policy_root() / "cases" / "990100_examples.yaml"
    outcomes = _run_all([examples], trace=True)
    table = Table(title="示范统筹区 990100 — example settlements (yuan)", show_lines=False)
    for col in ("bill", "总额", "全自费", "先行自付", "起付线", "统筹", "大病/大额", "救助", "账户", "现金"):
        table.add_column(col, justify="left" if col == "bill" else "right")
    for o in outcomes:
        if o.error:
            table.add_row(escape(o.case.name), "error", escape(o.error))
            continue
        r = o.results
        table.add_row(
            escape(o.case.name),
            *(
                str(r[k])
                for k in ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "act_pay_dedc", "hifp_pay")
            ),
            str(r["hifmi_pay"] + r["hifob_pay"]),
            str(r["maf_pay"]),
            str(r["acct_pay"]),
            str(r["psn_cash_pay"]),
        )
    console.print(table)
    traced = next((o for o in outcomes if o.trace and not o.error), None)
    if traced is not None:
        console.print("\nHow the first bill was settled:")
        _print_trace(traced)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"name": o.case.name, "error": o.error, "results": o.results} for o in outcomes]
    (out / "demo_settlements.json").write_text(dumps(rows, indent=2) + "\n", encoding="utf-8")
    if any(not o.passed for o in outcomes):
        err_console.print("[red]error:[/red] an example bill no longer settles as its golden case says")
        raise typer.Exit(1)

    console.print(f"\nA synthetic region of {persons:,} persons (seed {seed}) …")
    with _progress() as say:
        result = run_demo(out, persons=persons, seed=seed, workers=workers, progress=say)
    for step in result.steps:
        console.print(f"  {escape(step['name'])}: {step['seconds']} s")
    s = result.summary
    console.print(
        f"{s['persons']:,} persons, {s['encounters']:,} encounters, {s['fee_lines']:,} fee lines;"
        f" {s['findings']:,} findings"
    )
    console.print(f"\nreport: {result.report.resolve()}")


@app.command("settle-year")
def settle_year_command(
    dataset: Annotated[Path, typer.Argument(help="The dataset folder (psn_info_b, mdtrt_d, fee_list_d …).")],
    region: Annotated[str, typer.Option(help="The region pack whose policy applies.")] = "990100",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (people are independent).")] = 2,
    waves: Annotated[
        bool,
        typer.Option(
            help="Settle every household's n-th bill at once (the engine's rules on arrays);"
            " --no-waves settles bill by bill with the engine: the same file, several times slower."
        ),
    ] = True,
) -> None:
    """Replay the dataset's encounters through the benefit engine in time order, writing setl_d."""
    from yibao.dataset.io import DatasetError
    from yibao.settlement.batch import settle_year

    if not dataset.is_dir():
        err_console.print(f"[red]error:[/red] {escape(str(dataset))} is not a dataset folder")
        raise typer.Exit(2)
    try:
        with _progress() as say:
            result = settle_year(dataset, region=region, workers=workers, progress=say, waves=waves)
    except (DatasetError, PolicyError) as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    r = result.as_dict()
    console.print(
        f"settled {r['settlements']:,} of {r['encounters']:,} encounters ({r['in_waves']:,} in waves)"
        f" in {r['seconds']} s"
        f" ({r['encounters_per_s']:,}/s); {r['failed']} could not be settled"
    )
    for f in r["first_failures"]:
        console.print(f"  {escape(f['mdtrt_id'])}: {escape(f['error'])}")


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback: a rich bar on a terminal, plain lines otherwise."""
    if console.is_terminal:
        with Progress(console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def say(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            yield say
    else:

        def plain(stage: str, done: int, total: int) -> None:
            print(f"{stage}: {done}/{total}", flush=True)

        yield plain


def main() -> None:
    app()


if __name__ == "__main__":
    main()
