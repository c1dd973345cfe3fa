"""`findesk report`: is the bot helping? Conversations, deflection, handoffs, response times, ratings."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.errors import user_errors
from agent.settings import load_settings
from ui.cli_output import fail

if TYPE_CHECKING:
    from retrieval.store import FaqStore

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and index live.")]
Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (UTC).")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    since: Day = None,
    until: Day = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write the report as CSV here.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Conversations that started in [--since, --until): bot-resolved, handed over, times, ratings, gaps."""
    from agent.reports import build_report, report_csv
    from retrieval.store import FaqStore

    if since and until and until <= since:
        raise fail("--until must be after --since.", as_json=as_json)
    settings = load_settings(data_dir=data_dir)
    try:
        db = settings.open_database()
    except user_errors() as error:
        raise fail(error, as_json=as_json) from error
    try:
        faq = FaqStore(db)  # the entries' categories only: no index or model is loaded
        figures = build_report(db, category_of(faq), since.date() if since else None, until.date() if until else None)
    except user_errors() as error:
        raise fail(error, as_json=as_json) from error
    finally:
        db.close()
    if csv_path is not None:
        csv_path.write_text(report_csv(figures), encoding="utf-8")
    if as_json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    _print(figures)


def category_of(faq: FaqStore) -> Callable[[str], str | None]:
    def category(entry_id: str) -> str | None:
        entry = faq.get(entry_id)
        return entry.category if entry else None

    return category


def _print(figures: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"FinDesk report {figures['since'] or 'start'} .. {figures['until'] or 'now'}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("conversations", "bot_resolved", "handed_over", "deflection_rate", "csat_count", "csat_avg",
                "thumbs_up", "thumbs_down", "unanswered_questions"):  # fmt: skip
        table.add_row(key, "-" if figures[key] is None else str(figures[key]))
    for key in ("first_response_time_s", "resolution_time_s"):
        times = figures[key]
        table.add_row(key, f"p50 {times['p50']} · p90 {times['p90']}")
    for reason, count in figures["handoff_reasons"].items():
        table.add_row(f"handoff: {reason}", str(count))
    console.print(table)
