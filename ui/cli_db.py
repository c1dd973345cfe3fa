"""`findesk db ...`: the schema of the shared database (SQLite in the data folder, or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.settings import load_settings
from retrieval import migrations
from retrieval.database import DatabaseUnavailable

err = Console(stderr=True)
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite database and indexes live.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    db_app = typer.Typer(help="The database schema (FINDESK_DATABASE_URL, or SQLite in the data folder).")
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
    def upgrade(data_dir: DataDir = None) -> None:
        """Create or upgrade the schema to this version's (also done on every start; safe to repeat)."""
        settings = load_settings(data_dir=data_dir)
        try:
            db = settings.open_database()  # migrates
            revision = migrations.current_revision(db)
            db.close()
        except DatabaseUnavailable as error:
            err.print(f"[red]{error}", highlight=False)
            raise typer.Exit(1) from error
        print(f"{db.description}: schema at revision {revision} (newest: {migrations.head_revision()})")
