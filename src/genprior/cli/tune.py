"""``genprior tune``: parameter choice (placeholder until the tuning work lands)."""

from __future__ import annotations

from genprior.cli.app import app  # noqa: F401
