"""``genprior paper``: reproduce the paper's figures and tables into one directory and REPORT.md."""

from __future__ import annotations

from pathlib import Path

import typer

from genprior.cli.app import app


@app.command("paper")
def paper_command(
    names: list[str] = typer.Argument(None, help="Experiments to run (default: all); see --list."),
    out: Path = typer.Option(Path("paper-output"), "--out", "-o",
                             help="Output directory (the run): data, models, one folder per experiment, REPORT.md. Finished "
                                  "work in it is reused, so a rerun (or a run after a kill) continues."),
    quick: bool = typer.Option(False, "--quick", help="Toy sizes: a few minutes in all, for testing."),
    preset: str = typer.Option("compact", "--preset", help="Generator architecture: compact or paper."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    mnist: Path = typer.Option(None, "--mnist", help="An MNIST .npz (genprior data mnist) instead of the wheel."),
    list_only: bool = typer.Option(False, "--list", help="List the experiments and their estimated times."),
    accept_code_change: str = typer.Option(
        None, "--accept-code-change", metavar="REASON",
        help="Keep finished results whose code changed since they were computed (their setup did not), for a "
             "change verified to leave every number as it was: re-stamps their code fingerprint, records REASON "
             "in result.json and makes their report again from the cached parts."),
) -> None:
    """Reproduce the paper: every figure and table, with its protocol, cached and resumable."""
    from genprior.experiments.paper import EXPERIMENTS, run_paper

    if list_only:
        from genprior.experiments.paper.estimates import estimate, training_minutes

        estimates = {e.name: estimate(e) for e in EXPERIMENTS.values()}
        for e in EXPERIMENTS.values():
            guess = estimates[e.name]
            how = "measured by benchmarks/bench_paper_profile.py" if guess.measured else "from the published run"
            typer.echo(f"{e.name:10s} {e.reproduces} (about {guess.minutes:,.0f} min, {how}; quick "
                       f"{e.minutes[0]:g} min; training the models comes on top)")
        full = sum(g.minutes for g in estimates.values())
        quick_total = sum(e.minutes[0] for e in EXPERIMENTS.values())
        measured = sum(g.measured for g in estimates.values())
        typer.echo(f"{'all':10s} every experiment: about {full:,.0f} min = {full / 60:.1f} h on 2 CPU cores "
                   f"({measured} of {len(estimates)} measured by benchmarks/bench_paper_profile.py, the others from "
                   f"the published run), quick {quick_total:g} min")
        minutes, count = training_minutes(out / "models")
        if count:
            typer.echo(f"{'training':10s} the {count} finished models in {out / 'models'} took {minutes:,.0f} min "
                       "to train (their own records); `paper all` from an empty folder trains its models first")
        return
    from genprior.devices import resolve_device
    from genprior.outputs import RunLock, check_output_directory

    resolve_device(device)  # before any work
    check_output_directory(out, force=True, inputs=(mnist,), label="--out")  # the run directory is its own cache
    with RunLock(out):
        run_paper(names or ["all"], out, quick=quick, preset=preset, device=device, mnist=mnist,
                  log=lambda message: typer.echo(message), accept_code_change=accept_code_change)
    typer.echo(f"wrote {out / 'REPORT.md'}")
