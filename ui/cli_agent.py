"""Placeholder: commands are added by the package owner."""

from __future__ import annotations

import typer


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `eval` group."""
