"""Webhooks against a real loopback HTTP server: signed bodies, retries with backoff, giving up, and the durable
outbox: deliveries written with the change that causes them, kept across a restart, and shared by replicas
(each delivered once) on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.assignment import DeskTeam
from agent.conversations import ConversationStore
from agent.services import Services
from agent.settings import load_settings
from agent.webhook_delivery import WebhookDeliverer
from agent.webhook_outbox import RetryRefused, WebhookOutbox, webhook_outbox
from agent.webhooks import WebhookConfig, sign, verify_signature
from retrieval.database import Database, open_database
from tests import engines

pytestmark = pytest.mark.storage  # the outbox lives in the database

SECRET = "s3cret-for-tests"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Receiver:
    """A CRM stand-in: answers each POST with the next status code from `statuses` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)
    url: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)
    delay_s: float = 0.0  # how long each answer takes

    def delivered_ids(self) -> list[str]:
        """X-FinDesk-Delivery of every POST answered 2xx, in arrival order."""
        return [h["X-FinDesk-Delivery"] for h, _, _ in self.received if h.get("status") == "200"]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(state.delay_s)
            with lock:
                status = state.statuses.pop(0) if state.statuses else 200
                state.received.append(({**self.headers, "status": str(status)}, body, time.monotonic()))
            self.send_response(status)
            self.end_headers()
            if status == 200:
                state.arrived.set()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDESK_WEBHOOK_SECRET", SECRET)


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    """The engine under test for the single-process behaviours; the replica tests below run on both engines."""
    return engines.database(tmp_path)


def _config(receiver: Receiver, **options: object) -> WebhookConfig:
    return WebhookConfig(urls=(receiver.url,), poll_s=0.05, **options)  # type: ignore[arg-type]


def _wait_until(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _rows(db: Database) -> list[sa.Row]:
    with db.read() as conn:
        return conn.execute(sa.select(webhook_outbox).order_by(webhook_outbox.c.id)).all()


def test_an_event_arrives_signed(receiver: Receiver, db: Database) -> None:
    outbox = WebhookOutbox(db, _config(receiver))
    deliverer = WebhookDeliverer(outbox)
    deliverer.start()
    outbox.publish("handoff.created", {"session_id": "abc", "reason": "the customer asked for a person"})
    assert receiver.arrived.wait(10)
    deliverer.close()
    headers, body, _ = receiver.received[0]
    payload = json.loads(body)
    assert payload["event"] == "handoff.created" and payload["data"]["session_id"] == "abc"
    assert headers["X-FinDesk-Event"] == "handoff.created" and headers["X-FinDesk-Delivery"] == payload["id"]
    assert verify_signature(SECRET, headers["X-FinDesk-Signature"], body)
    assert not verify_signature("wrong secret", headers["X-FinDesk-Signature"], body)
    assert not verify_signature(SECRET, headers["X-FinDesk-Signature"], body.replace(b"abc", b"abd"))
    _wait_until(lambda: outbox.counts()["delivered"] == 1)
    (row,) = _rows(db)
    assert (row.attempts, row.finished_at is not None, row.claimed_by) == (1, True, None)


def test_failures_are_retried_with_growing_delays_and_the_same_delivery_id(receiver: Receiver, db: Database) -> None:
    receiver.statuses = [500, 503]
    outbox = WebhookOutbox(db, _config(receiver, backoff_s=0.3))
    deliverer = WebhookDeliverer(outbox)
    deliverer.start()
    outbox.publish("conversation.resolved", {"session_id": "abc"})
    assert receiver.arrived.wait(20)
    deliverer.close()
    assert len(receiver.received) == 3
    ids = {headers["X-FinDesk-Delivery"] for headers, _, _ in receiver.received}
    assert len(ids) == 1
    times = [at for _, _, at in receiver.received]
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.6  # 0.3 s, then doubled
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, "")


def test_it_gives_up_after_max_attempts(receiver: Receiver, db: Database) -> None:
    receiver.statuses = [500] * 10
    gave_up = threading.Event()
    reasons: list[str] = []
    outbox = WebhookOutbox(db, _config(receiver, backoff_s=0.01, max_attempts=3))
    deliverer = WebhookDeliverer(
        outbox, on_give_up=lambda _url, _event, problem: (reasons.append(problem), gave_up.set())
    )
    deliverer.start()
    outbox.publish("rating.received", {"score": 5})
    assert gave_up.wait(10)
    deliverer.close()
    assert len(receiver.received) == 3 and reasons == ["HTTP 500"]
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 500")


def test_an_unreachable_receiver_is_retried_then_given_up(db: Database) -> None:
    gave_up = threading.Event()
    config = WebhookConfig(urls=("http://127.0.0.1:9/closed",), backoff_s=0.01, max_attempts=2, poll_s=0.05)
    outbox = WebhookOutbox(db, config)
    deliverer = WebhookDeliverer(outbox, on_give_up=lambda *_: gave_up.set())
    deliverer.start()
    outbox.publish("handoff.created", {})
    assert gave_up.wait(10)
    deliverer.close()
    assert outbox.counts() == {"pending": 0, "delivered": 0, "failed": 1}
    assert "ConnectError" in _rows(db)[0].last_error


def test_without_a_secret_nothing_is_sent_and_the_delivery_waits(
    receiver: Receiver, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINDESK_WEBHOOK_SECRET")
    outbox = WebhookOutbox(db, _config(receiver))
    deliverer = WebhookDeliverer(outbox)
    outbox.publish("handoff.created", {})
    assert deliverer.deliver_due() == 0
    assert receiver.received == [] and outbox.counts()["pending"] == 1
    monkeypatch.setenv("FINDESK_WEBHOOK_SECRET", SECRET)  # set, and the next look sends it
    assert deliverer.deliver_due() == 1
    deliverer.close()
    assert len(receiver.received) == 1 and outbox.counts()["delivered"] == 1


def test_events_not_chosen_are_not_written(receiver: Receiver, db: Database) -> None:
    outbox = WebhookOutbox(db, _config(receiver, events=("rating.received",)))
    outbox.publish("handoff.created", {})
    outbox.publish("rating.received", {"score": 4})
    assert [row.event for row in _rows(db)] == ["rating.received"]
    assert WebhookDeliverer(outbox).deliver_due() == 1
    assert [json.loads(body)["event"] for _, body, _ in receiver.received] == ["rating.received"]


def test_no_receiver_writes_nothing(db: Database) -> None:
    outbox = WebhookOutbox(db, WebhookConfig())
    outbox.publish("handoff.created", {})
    assert _rows(db) == []


def test_bad_configuration_and_events_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="unknown webhook events"):
        WebhookOutbox(db, WebhookConfig(events=("handoff.deleted",)))
    with pytest.raises(ValueError, match="unknown webhook event"):
        WebhookOutbox(db, WebhookConfig(urls=("http://127.0.0.1:9/",))).publish("nope", {})


def test_old_signatures_are_refused() -> None:
    body = b'{"event": "x"}'
    header = sign(SECRET, 1_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_000_100)
    assert not verify_signature(SECRET, header, body, now=1_000_000 + 301)
    assert not verify_signature(SECRET, "garbage", body)


def test_the_event_is_written_with_the_change_or_not_at_all(receiver: Receiver, db: Database) -> None:
    outbox = WebhookOutbox(db, _config(receiver))
    store = ConversationStore(db, on_event=outbox.add)
    store.add_message("s1", "customer", "My card was stolen")
    store.request_handoff("s1", reason="the customer reported fraud", priority=5, summary="stolen card")
    store.request_handoff("s1", reason="again", priority=6, summary="stolen card")  # still open: no new event
    (row,) = _rows(db)
    data = json.loads(row.body)["data"]
    assert (row.event, data["session_id"], data["status"], data["priority"]) == ("handoff.created", "s1", "waiting", 5)

    with pytest.raises(RuntimeError), db.write() as conn:  # the change fails after the event was added
        outbox.add(conn, "conversation.resolved", {"session_id": "s1"})
        raise RuntimeError("the change could not be saved")
    assert len(_rows(db)) == 1  # rolled back together

    store.resolve("s1", "alice")
    assert [row.event for row in _rows(db)] == ["handoff.created", "conversation.resolved"]


def test_a_claim_that_runs_out_is_taken_over_and_its_late_outcome_ignored(receiver: Receiver, db: Database) -> None:
    now = [1_000_000.0]
    outbox = WebhookOutbox(db, _config(receiver), clock=lambda: now[0])
    outbox.publish("handoff.created", {})
    first = outbox.claim(lease_s=60)
    assert first is not None and outbox.claim(lease_s=60) is None  # held: nobody else gets it
    now[0] += 61  # the first deliverer died mid-POST; its lease runs out
    second = outbox.claim(lease_s=60)
    assert second is not None and second.delivery_id == first.delivery_id
    assert not outbox.delivered(first)  # the stale holder cannot record anything
    assert outbox.delivered(second) and outbox.counts()["delivered"] == 1


def test_delivered_rows_are_pruned_after_the_retention(receiver: Receiver, db: Database) -> None:
    now = [1_000_000.0]
    outbox = WebhookOutbox(db, _config(receiver), clock=lambda: now[0])
    for event in ("handoff.created", "conversation.resolved"):
        outbox.publish(event, {})
    delivery = outbox.claim(lease_s=60)
    assert delivery is not None and outbox.delivered(delivery)
    now[0] += 8 * 86400
    assert outbox.prune(7 * 86400) == 1
    assert outbox.counts() == {"pending": 1, "delivered": 0, "failed": 0}  # never the ones not sent yet


# --- operators: listing and retrying given-up deliveries, and the assignment event (both engines) ------------


def _give_up(outbox: WebhookOutbox, problem: str = "HTTP 500") -> int:
    """Claim the oldest due delivery and record a failure on its last allowed try; its id."""
    delivery = outbox.claim(lease_s=60)
    assert delivery is not None
    failed = dataclasses.replace(delivery, attempt=outbox.config.max_attempts)
    assert outbox.attempt_failed(failed, problem) == "failed"
    return delivery.id


def test_a_given_up_delivery_is_retried_and_delivered_with_the_same_id(receiver: Receiver, database: Database) -> None:
    receiver.statuses = [500]
    outbox = WebhookOutbox(database, _config(receiver, max_attempts=1))
    deliverer = WebhookDeliverer(outbox)
    outbox.publish("handoff.created", {"session_id": "s1"})
    assert deliverer.deliver_due() == 1 and outbox.counts()["failed"] == 1  # the receiver was down: given up
    assert deliverer.deliver_due() == 0  # a given-up delivery is never tried again by itself
    (failed,) = outbox.deliveries(status="failed")
    again = outbox.retry(failed.id)
    assert (again.status, again.attempts, again.finished_at, again.last_error) == ("pending", 0, "", "HTTP 500")
    assert deliverer.deliver_due() == 1
    deliverer.close()
    (row,) = outbox.deliveries()
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, "")
    assert [h["X-FinDesk-Delivery"] for h, _, _ in receiver.received] == [failed.delivery_id] * 2


def test_only_given_up_deliveries_are_retried(receiver: Receiver, database: Database) -> None:
    outbox = WebhookOutbox(database, _config(receiver))
    for event in ("handoff.created", "conversation.resolved", "rating.received"):
        outbox.publish(event, {})
    delivered = outbox.claim(lease_s=60)
    assert delivered is not None and outbox.delivered(delivered)
    failed = _give_up(outbox)
    (pending,) = outbox.deliveries(status="pending")
    with pytest.raises(RetryRefused, match="No webhook delivery 999"):
        outbox.retry(999)
    with pytest.raises(RetryRefused, match=f"delivery {delivered.id} was delivered"):
        outbox.retry(delivered.id)
    with pytest.raises(RetryRefused, match=f"delivery {pending.id} is still being tried"):
        outbox.retry(pending.id)
    assert outbox.retry_failed() == [failed]
    assert outbox.retry_failed() == []  # nothing given up any more
    assert outbox.counts() == {"pending": 2, "delivered": 1, "failed": 0}


def test_deliveries_are_listed_newest_first(receiver: Receiver, database: Database) -> None:
    outbox = WebhookOutbox(database, _config(receiver))
    for event in ("handoff.created", "conversation.resolved", "rating.received"):
        outbox.publish(event, {"secret": "never listed"})
    failed = _give_up(outbox, "ConnectError: refused")
    rows = outbox.deliveries()
    assert [r.event for r in rows] == ["rating.received", "conversation.resolved", "handoff.created"]
    assert [r.event for r in outbox.deliveries(limit=1)] == ["rating.received"]
    (row,) = outbox.deliveries(status="failed")
    assert (row.id, row.url, row.attempts, row.last_error) == (failed, receiver.url, 6, "ConnectError: refused")
    assert row.finished_at and "never listed" not in repr(rows)  # the body is not shown
    with pytest.raises(ValueError, match="unknown delivery status"):
        outbox.deliveries(status="lost")


def test_an_assignment_is_sent_as_handoff_assigned(receiver: Receiver, database: Database) -> None:
    outbox = WebhookOutbox(database, _config(receiver))
    team = DeskTeam(database, capacity=2, on_event=outbox.add)
    store = ConversationStore(database, on_event=outbox.add, assign=team.assign_waiting)
    team.set_status("alice", "available")
    store.add_message("s1", "customer", "I was charged twice, my card is 4111 1111 1111 1111")
    store.request_handoff("s1", reason="asked for a person", priority=1, summary="charged twice")
    deliverer = WebhookDeliverer(outbox)
    assert deliverer.deliver_due() == 2
    deliverer.close()
    bodies = [json.loads(body) for _, body, _ in receiver.received]
    assert [b["event"] for b in bodies] == ["handoff.created", "handoff.assigned"]
    assigned = bodies[1]["data"]
    assert assigned == {"session_id": "s1", "agent": "alice", "assigned_at": assigned["assigned_at"],
                        "via": "round_robin"}  # fmt: skip
    assert assigned["assigned_at"] == store.handoff("s1").updated_at


# --- across processes and replicas: both engines ------------------------------------------------------------

_FIRST_PROCESS = """
import sys
from agent.services import Services
from agent.settings import load_settings
services = Services(load_settings(data_dir=sys.argv[1]))
services.conversations.add_message("s1", "customer", "I need a person")
services.conversations.request_handoff("s1", reason="asked for a person", priority=1, summary="wants a person")
services.webhook_deliverer.deliver_due()  # the receiver is down: the first try fails, a retry is scheduled
print(services.webhook_outbox.counts()["pending"])
services.close()
"""


def test_a_delivery_pending_across_a_restart_is_delivered(
    receiver: Receiver, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("FINDESK_WEBHOOKS__URLS", json.dumps([receiver.url]))
    monkeypatch.setenv("FINDESK_WEBHOOKS__BACKOFF_S", "0.5")
    monkeypatch.setenv("FINDESK_WEBHOOKS__POLL_S", "0.05")
    receiver.statuses = [503]
    first = subprocess.run(
        [sys.executable, "-c", _FIRST_PROCESS, str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "1" and len(receiver.received) == 1  # tried once, still pending, process gone

    services = Services(load_settings(data_dir=tmp_path))  # the restarted server: same database, new process state
    services.webhook_deliverer.start()
    try:
        assert receiver.arrived.wait(20)
        _wait_until(lambda: services.webhook_outbox.counts()["delivered"] == 1)
    finally:
        services.close()
    assert len(receiver.received) == 2 and len(set(receiver.delivered_ids())) == 1
    headers, body, _ = receiver.received[-1]
    assert json.loads(body)["data"]["session_id"] == "s1" and verify_signature(
        SECRET, headers["X-FinDesk-Signature"], body
    )


def test_two_deliverers_on_one_database_deliver_each_event_once(receiver: Receiver, database_url: str) -> None:
    events = 40
    receiver.delay_s = 0.01  # long enough for the two to overlap
    replicas = [open_database(database_url) for _ in range(2)]  # each its own engine and pool, as two servers
    config = _config(receiver)
    for n in range(events):
        WebhookOutbox(replicas[n % 2], config).publish("rating.received", {"n": n})
    deliverers = [WebhookDeliverer(WebhookOutbox(db, config)) for db in replicas]
    try:
        for deliverer in deliverers:
            deliverer.start()
        _wait_until(lambda: len(receiver.delivered_ids()) >= events, timeout_s=60)
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        for deliverer in deliverers:
            deliverer.close()
    ids = receiver.delivered_ids()
    assert len(ids) == events and len(set(ids)) == events  # every event, none twice
    assert sorted(json.loads(body)["data"]["n"] for _, body, _ in receiver.received) == list(range(events))
    assert WebhookOutbox(replicas[0], config).counts() == {"pending": 0, "delivered": events, "failed": 0}
    for db in replicas:
        db.close()
