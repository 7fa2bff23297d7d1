"""The root Typer application; each verb registers itself from its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="genprior",
    help="Generative regularisers for imaging inverse problems (Duff, Campbell, Ehrhardt).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Make or convert data sets into the project's .npz format.", no_args_is_help=True)
train_app = typer.Typer(help="Train a generative model.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
