"""Webhooks against a real loopback HTTP server: signed bodies, retries with backoff, giving up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.webhooks import WebhookConfig, WebhookSender, sign, verify_signature

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """A CRM stand-in: answers each POST with the next status code from `statuses` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)
    url: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body, time.monotonic()))
            status = state.statuses.pop(0) if state.statuses else 200
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


def test_an_event_arrives_signed(receiver: Receiver) -> None:
    sender = WebhookSender(WebhookConfig(urls=(receiver.url,)))
    sender.publish("handoff.created", {"session_id": "abc", "reason": "the customer asked for a person"})
    assert receiver.arrived.wait(10)
    sender.close()
    headers, body, _ = receiver.received[0]
    payload = json.loads(body)
    assert payload["event"] == "handoff.created" and payload["data"]["session_id"] == "abc"
    assert headers["X-FinDesk-Event"] == "handoff.created" and headers["X-FinDesk-Delivery"] == payload["id"]
    assert verify_signature(SECRET, headers["X-FinDesk-Signature"], body)
    assert not verify_signature("wrong secret", headers["X-FinDesk-Signature"], body)
    assert not verify_signature(SECRET, headers["X-FinDesk-Signature"], body.replace(b"abc", b"abd"))


def test_failures_are_retried_with_growing_delays_and_the_same_delivery_id(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sender = WebhookSender(WebhookConfig(urls=(receiver.url,), backoff_s=0.2))
    sender.publish("conversation.resolved", {"session_id": "abc"})
    assert receiver.arrived.wait(10)
    sender.close()
    assert len(receiver.received) == 3
    ids = {headers["X-FinDesk-Delivery"] for headers, _, _ in receiver.received}
    assert len(ids) == 1
    times = [at for _, _, at in receiver.received]
    assert times[1] - times[0] >= 0.2 and times[2] - times[1] >= 0.4  # 0.2 s, then doubled


def test_it_gives_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    gave_up = threading.Event()
    reasons: list[str] = []
    sender = WebhookSender(
        WebhookConfig(urls=(receiver.url,), backoff_s=0.01, max_attempts=3),
        on_give_up=lambda _url, _event, problem: (reasons.append(problem), gave_up.set()),
    )
    sender.publish("rating.received", {"score": 5})
    assert gave_up.wait(10)
    sender.close()
    assert len(receiver.received) == 3 and reasons == ["HTTP 500"]


def test_an_unreachable_receiver_is_retried_then_given_up() -> None:
    gave_up = threading.Event()
    sender = WebhookSender(
        WebhookConfig(urls=("http://127.0.0.1:9/closed",), backoff_s=0.01, max_attempts=2),
        on_give_up=lambda *_: gave_up.set(),
    )
    sender.publish("handoff.created", {})
    assert gave_up.wait(10)
    sender.close()


def test_without_a_secret_nothing_is_sent(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINDESK_WEBHOOK_SECRET")
    sender = WebhookSender(WebhookConfig(urls=(receiver.url,)))
    sender.publish("handoff.created", {})
    time.sleep(0.5)
    sender.close()
    assert receiver.received == []


def test_events_not_chosen_are_not_sent(receiver: Receiver) -> None:
    sender = WebhookSender(WebhookConfig(urls=(receiver.url,), events=("rating.received",)))
    sender.publish("handoff.created", {})
    sender.publish("rating.received", {"score": 4})
    assert receiver.arrived.wait(10)
    sender.close()
    assert [json.loads(body)["event"] for _, body, _ in receiver.received] == ["rating.received"]


def test_bad_configuration_and_events_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown webhook events"):
        WebhookSender(WebhookConfig(events=("handoff.deleted",)))
    with pytest.raises(ValueError, match="unknown webhook event"):
        WebhookSender(WebhookConfig()).publish("nope", {})


def test_old_signatures_are_refused() -> None:
    body = b'{"event": "x"}'
    header = sign(SECRET, 1_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_000_100)
    assert not verify_signature(SECRET, header, body, now=1_000_000 + 301)
    assert not verify_signature(SECRET, "garbage", body)
