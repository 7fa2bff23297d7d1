"""``genprior demo``: the main job, Shapes tomography with a VAE prior against TV."""

from __future__ import annotations

from pathlib import Path

import typer

from genprior.cli.app import app


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Output directory: model/, data.npz, report.md (with the command repeating each row), results.json, figure.png."),
    quick: bool = typer.Option(False, "--quick", help="A one-minute smoke version: tiny training, few iterations."),
) -> None:
    """Train a VAE on Shapes and compare hard/relaxed with TV and Tikhonov on tomography."""
    from genprior.experiments.demo import run_demo
    from genprior.outputs import RunLock, check_output_directory

    # The demo's folder is its own cache: a rerun reuses the model and refreshes the report.
    check_output_directory(out, force=True, label="--out")
    with RunLock(out):
        run_demo(out, quick=quick, verbose=True)
