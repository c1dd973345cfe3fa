"""`findesk webhooks list` and `findesk webhooks retry` on SQLite and PostgreSQL: what an operator types to see
deliveries that were given up and send them again, and every bad input refused with a clear message."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agent.webhook_outbox import WebhookOutbox
from agent.webhooks import WebhookConfig
from retrieval.database import open_database
from ui.cli import app

pytestmark = pytest.mark.storage

RECEIVER = "http://127.0.0.1:9/crm"  # never contacted: the tests record outcomes on the outbox directly


@dataclass
class Outbox:
    """Three deliveries written through the real outbox: one delivered, one given up, one still pending."""

    outbox: WebhookOutbox
    data_dir: Path
    delivered: int
    failed: int
    pending: int

    def findesk(self, *args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--data-dir", str(self.data_dir)], env={"COLUMNS": "160"})

    def status(self, delivery: int) -> tuple[str, int]:
        (row,) = [r for r in self.outbox.deliveries() if r.id == delivery]
        return row.status, row.attempts


@pytest.fixture
def outbox(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbox]:
    monkeypatch.setenv("FINDESK_DATABASE_URL", database_url)  # the CLI opens the same database
    db = open_database(database_url)
    outbox = WebhookOutbox(db, WebhookConfig(urls=(RECEIVER,), max_attempts=2))
    for event, data in (("handoff.created", {"session_id": "s1"}), ("handoff.assigned", {"session_id": "s1"}),
                        ("conversation.resolved", {"session_id": "s1"})):  # fmt: skip
        outbox.publish(event, data)
    first = outbox.claim(lease_s=60)
    assert first is not None and outbox.delivered(first)
    second = outbox.claim(lease_s=60)
    assert second is not None
    assert outbox.attempt_failed(dataclasses.replace(second, attempt=2), "HTTP 503") == "failed"
    (pending,) = outbox.deliveries(status="pending")
    yield Outbox(outbox, tmp_path, first.id, second.id, pending.id)
    db.close()


def test_list_shows_every_delivery_and_when_it_is_tried_next(outbox: Outbox) -> None:
    result = outbox.findesk("webhooks", "list")
    assert result.exit_code == 0, result.output
    for text in ("handoff.created", "handoff.assigned", "conversation.resolved", "HTTP 503", "given up",
                 "delivered", "next try", "pending 1 · delivered 1 · failed 1", "findesk webhooks retry"):  # fmt: skip
        assert text in result.output, text


def test_list_failed_limit_and_json(outbox: Outbox) -> None:
    result = outbox.findesk("webhooks", "list", "--failed", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    (row,) = listed["deliveries"]
    assert (row["id"], row["event"], row["url"], row["attempts"]) == (outbox.failed, "handoff.assigned", RECEIVER, 2)
    assert (row["status"], row["last_error"]) == ("failed", "HTTP 503") and row["finished_at"]
    assert listed["counts"] == {"pending": 1, "delivered": 1, "failed": 1}
    newest = json.loads(outbox.findesk("webhooks", "list", "--limit", "1", "--json").stdout)["deliveries"]
    assert [r["id"] for r in newest] == [outbox.pending]


def test_retry_one_delivery_makes_it_due_again(outbox: Outbox) -> None:
    result = outbox.findesk("webhooks", "retry", str(outbox.failed))
    assert result.exit_code == 0, result.output
    assert f"Delivery {outbox.failed} (handoff.assigned to {RECEIVER}) is due again" in result.output
    assert "No receivers are configured here" in result.output  # this shell has no FINDESK_WEBHOOKS__URLS
    assert outbox.status(outbox.failed) == ("pending", 0)
    due = [outbox.outbox.claim(lease_s=60) for _ in range(3)]  # what a server's deliverer takes now
    assert {(d.id, d.attempt) for d in due if d} == {(outbox.pending, 1), (outbox.failed, 1)} and due[2] is None


def test_retry_all_failed(outbox: Outbox) -> None:
    result = outbox.findesk("webhooks", "retry", "--all-failed")
    assert result.exit_code == 0, result.output
    assert f"1 given-up deliveries are due again (ids {outbox.failed})" in result.output
    assert outbox.status(outbox.failed) == ("pending", 0) and outbox.status(outbox.delivered) == ("delivered", 1)


def test_nothing_to_retry_is_an_error(outbox: Outbox) -> None:
    assert outbox.findesk("webhooks", "retry", "--all-failed").exit_code == 0
    again = outbox.findesk("webhooks", "retry", "--all-failed")
    assert again.exit_code == 1 and "Nothing to retry: no webhook delivery has been given up" in again.output
    empty = outbox.findesk("webhooks", "list", "--failed")
    assert empty.exit_code == 0 and "No given-up webhook deliveries" in empty.output


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("unknown", "No webhook delivery 999: `findesk webhooks list` shows their ids"),
        ("huge", "No webhook delivery 99999999999999999999:"),  # past BIGINT: refused, not a database error
        ("delivered", "was delivered: only given-up ones are retried"),
        ("pending", "is still being tried (next try due"),
    ],
)
def test_retry_refuses_deliveries_that_were_not_given_up(outbox: Outbox, which: str, message: str) -> None:
    delivery = {"unknown": 999, "huge": 99999999999999999999, "delivered": outbox.delivered, "pending": outbox.pending}[
        which
    ]
    result = outbox.findesk("webhooks", "retry", str(delivery))
    assert result.exit_code == 1 and message in result.output, result.output
    assert outbox.status(outbox.failed) == ("failed", 2)  # nothing else changed


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["retry", "abc"], 1, "A delivery id is a number (the first column of `findesk webhooks list`), not 'abc'"),
        (["retry", "-1"], 2, "No such option: -1"),
        (["retry", "٣"], 1, "not '٣'"),  # an Arabic-Indic digit: str.isdigit() alone would let it through
        (["retry"], 1, "Say which deliveries to retry: an ID"),
        (["retry", "1", "--all-failed"], 1, "or --all-failed, not both"),
        (["list", "--limit", "0"], 2, "Invalid value for '--limit': Input should be greater than or equal to 1"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(outbox: Outbox, args: list[str], code: int, message: str) -> None:
    result = outbox.findesk("webhooks", *args)
    assert result.exit_code == code and message in result.output, result.output
    assert outbox.status(outbox.failed) == ("failed", 2)


def test_unknown_events_in_the_settings_are_named(outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDESK_WEBHOOKS__EVENTS", '["handoff.deleted"]')
    result = outbox.findesk("webhooks", "list")
    assert result.exit_code == 1 and "unknown webhook events ['handoff.deleted']" in result.output, result.output
