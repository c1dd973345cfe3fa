"""`findesk webhooks ...`: what the webhook outbox holds (pending, delivered, given up), and sending given-up
deliveries again once the receiver is fixed. The outbox (agent/webhook_outbox.py) does the work; this module only
reads the options and prints."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.errors import user_errors
from agent.settings import Settings, load_settings
from agent.webhook_outbox import OutboxRow, WebhookOutbox
from ui.cli_output import fail

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and indexes live.")]
err = Console(stderr=True)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    webhooks = typer.Typer(help="Webhook deliveries to the CRM: list them, retry given-up ones.", no_args_is_help=True)
    app.add_typer(webhooks, name="webhooks")
    webhooks.command("list")(list_deliveries)
    webhooks.command("retry")(retry)


@contextmanager
def _outbox(data_dir: Path | None, *, as_json: bool = False) -> Iterator[tuple[WebhookOutbox, Settings]]:
    """The configured database's outbox; a database that cannot be opened ends the command with its message."""
    settings = load_settings(data_dir=data_dir)
    try:
        db = settings.open_database()
    except user_errors() as error:
        raise fail(error, as_json=as_json) from error
    refused: tuple[type[Exception], ...] = (*user_errors(), ValueError)  # a refused retry; unknown events
    try:
        yield WebhookOutbox(db, settings.webhooks), settings
    except refused as error:
        raise fail(error, as_json=as_json) from error
    finally:
        db.close()


def list_deliveries(
    failed: Annotated[bool, typer.Option("--failed", help="Only the deliveries that were given up.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as one JSON object.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Webhook deliveries, newest first: event, receiver, tries, last error, and when the next try is or when
    it was delivered or given up."""
    with _outbox(data_dir, as_json=as_json) as (outbox, _settings):
        rows = outbox.deliveries(status="failed" if failed else None, limit=limit)
        counts = outbox.counts()
    if as_json:
        print(json.dumps({"deliveries": [dataclasses.asdict(r) for r in rows], "counts": counts}))
        return
    if not rows:
        err.print("No given-up webhook deliveries." if failed else "No webhook deliveries yet.")
        return
    table = Table(title="Webhook deliveries, newest first")
    for column in ("id", "event", "target", "status", "tries", "last error", "next try / finished"):
        short = column in ("id", "event", "status", "tries")  # never wrapped; the long ones fold instead
        number = column in ("id", "tries")
        table.add_column(column, overflow="fold", no_wrap=short, justify="right" if number else "left")
    for r in rows:
        table.add_row(str(r.id), r.event, escape(r.url), r.status, str(r.attempts), escape(r.last_error), _when(r))
    Console().print(table)
    err.print(" · ".join(f"{status} {n}" for status, n in counts.items()), highlight=False)
    if counts["failed"]:
        err.print("Send given-up ones again: `findesk webhooks retry ID` or `findesk webhooks retry --all-failed`.")


def _when(row: OutboxRow) -> str:
    if row.status == "pending":
        return f"next try {row.next_attempt_at}"
    return f"{'given up' if row.status == 'failed' else 'delivered'} {row.finished_at}"


def retry(
    delivery: Annotated[
        str | None, typer.Argument(metavar="ID", help="The delivery's id (`findesk webhooks list --failed`).")
    ] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every given-up delivery.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Send given-up deliveries again: each is due at once, with max_attempts new tries, to the receiver URL it
    was written for. A running `findesk serve` sends them."""
    if (delivery is None) == (not all_failed):
        raise fail("Say which deliveries to retry: an ID (from `findesk webhooks list --failed`) or --all-failed, "
                   "not both.")  # fmt: skip
    if delivery is not None and not (delivery.isascii() and delivery.isdigit()):
        raise fail(f"A delivery id is a number (the first column of `findesk webhooks list`), not {delivery!r}.")
    with _outbox(data_dir) as (outbox, settings):
        if delivery is not None:
            row = outbox.retry(int(delivery))
            done = f"Delivery {row.id} ({row.event} to {row.url}) is due again."
        else:
            ids = outbox.retry_failed()
            if not ids:
                raise fail("Nothing to retry: no webhook delivery has been given up.")
            done = f"{len(ids)} given-up deliveries are due again (ids {', '.join(map(str, ids))})."
    err.print(escape(done), highlight=False)
    if not settings.webhooks.urls:  # the deliverer only runs where receivers are configured
        err.print("[yellow]No receivers are configured here (FINDESK_WEBHOOKS__URLS): check that the servers "
                  "have them, or the deliveries wait.")  # fmt: skip
