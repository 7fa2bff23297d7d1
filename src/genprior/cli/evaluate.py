"""``genprior evaluate``: the generator report card (placeholder until the evaluation work lands)."""

from __future__ import annotations

from genprior.cli.app import app  # noqa: F401
