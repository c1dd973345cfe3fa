"""Outgoing webhooks: an HTTP POST with a signed JSON body when something happens a bank's CRM wants to know.

Events: `handoff.created`, `conversation.resolved`, `rating.received`. Each delivery is

    POST <url>
    Content-Type: application/json
    X-FinDesk-Event: handoff.created
    X-FinDesk-Delivery: 6f1c...            (the same on every retry: receivers can drop duplicates)
    X-FinDesk-Signature: t=1764633600,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

    {"id": "6f1c...", "event": "handoff.created", "at": "2026-12-02T00:00:00Z", "data": {...}}

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with the shared secret
(`verify_signature`), compares in constant time and refuses old timestamps (replays). A non-2xx answer or a
network error is retried with exponential backoff (1 s, 2 s, 4 s, ... by default) up to `max_attempts`.
Deliveries run on one background thread, so a slow CRM never slows a customer's turn. Pending retries live
in memory: a restart drops them (the data stays in FinDesk's database and reports).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

EVENTS = ("handoff.created", "conversation.resolved", "rating.received")


class WebhookConfig(BaseModel):
    """Where to POST events and how hard to try (FINDESK_WEBHOOKS__*). No URLs: no webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: tuple[str, ...] = Field((), description="Receivers, e.g. ['https://crm.bank.example/findesk'].")
    events: tuple[str, ...] = Field(EVENTS, description=f"Which events to send, of {', '.join(EVENTS)}.")
    secret_env: str = Field(
        "FINDESK_WEBHOOK_SECRET", description="Environment variable holding the shared signing secret."
    )
    max_attempts: int = Field(6, ge=1, description="Tries per delivery, the first included.")
    backoff_s: float = Field(1.0, ge=0, description="Delay before the first retry, in seconds; doubles each retry.")
    timeout_s: float = Field(5.0, gt=0, description="Seconds to wait for a receiver to answer.")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float | None = None, max_age_s: int = 300) -> bool:
    """What a receiver does: the signature matches the body and the timestamp is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


@dataclass(order=True)
class _Delivery:
    due: float
    order: int
    url: str = field(compare=False)
    event: str = field(compare=False)
    delivery_id: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookSender:
    """Signs and delivers events in the background; `publish` never blocks and never raises."""

    def __init__(
        self,
        config: WebhookConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        on_give_up: Callable[[str, str, str], None] | None = None,
    ) -> None:
        unknown = sorted(set(config.events) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown webhook events {unknown}; choose from {', '.join(EVENTS)}")
        self.config = config
        self._client = client or httpx.Client(timeout=config.timeout_s, follow_redirects=False)
        self._clock = clock
        self._on_give_up = on_give_up
        self._pending: list[_Delivery] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.urls)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Queue `event` for every receiver (nothing happens when none is configured or it is not wanted)."""
        if event not in EVENTS:
            raise ValueError(f"unknown webhook event {event!r}")
        if not self.enabled or event not in self.config.events:
            return
        delivery_id = uuid.uuid4().hex
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = json.dumps({"id": delivery_id, "event": event, "at": at, "data": data}, ensure_ascii=False).encode()
        with self._wake:
            for url in self.config.urls:
                heapq.heappush(
                    self._pending, _Delivery(time.monotonic(), next(self._order), url, event, delivery_id, body)
                )
            self._start()
            self._wake.notify()

    def close(self, timeout_s: float = 5.0) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._worker is not None:
            self._worker.join(timeout_s)
        self._client.close()

    def _start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="findesk-webhooks", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._pending or self._pending[0].due > time.monotonic()):
                    wait = self._pending[0].due - time.monotonic() if self._pending else None
                    self._wake.wait(wait)
                if self._closed:
                    return
                delivery = heapq.heappop(self._pending)
            self._attempt(delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        secret = os.environ.get(self.config.secret_env, "")
        if not secret:
            log.error(
                "webhook %s not sent: set %s to the shared signing secret", delivery.event, self.config.secret_env
            )
            return
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "FinDesk-Webhooks/1",
            "X-FinDesk-Event": delivery.event,
            "X-FinDesk-Delivery": delivery.delivery_id,
            "X-FinDesk-Signature": sign(secret, timestamp, delivery.body),
        }
        try:
            response = self._client.post(delivery.url, content=delivery.body, headers=headers)
            problem = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            return
        if delivery.attempt >= self.config.max_attempts:
            log.error("webhook %s to %s failed %d times (%s); giving up", delivery.event, delivery.url,
                      delivery.attempt, problem)  # fmt: skip
            if self._on_give_up is not None:
                self._on_give_up(delivery.url, delivery.event, problem)
            return
        delay = self.config.backoff_s * 2 ** (delivery.attempt - 1)
        log.warning("webhook %s to %s: %s; retry %d in %.1f s", delivery.event, delivery.url, problem,
                    delivery.attempt, delay)  # fmt: skip
        delivery.attempt += 1
        delivery.due = time.monotonic() + delay
        with self._wake:
            heapq.heappush(self._pending, delivery)
            self._wake.notify()
