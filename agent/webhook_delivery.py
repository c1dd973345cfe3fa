"""The background deliverer: claims due rows from the webhook outbox and POSTs them, signed.

One thread per process. Every replica runs one; the outbox's atomic claim shares the work between them.
It looks for due rows every `poll_s` seconds (the outbox is in the database, so a row written by another
replica, or a retry that falls due, is found the same way); `wake()` makes it look at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import httpx

from agent.webhook_outbox import Delivery, WebhookOutbox
from agent.webhooks import sign
from retrieval.errors import StoreUnavailable

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 60.0  # a claim outlives the POST's timeout by this much before another replica may retry it
PRUNE_EVERY_S = 3600.0


class WebhookDeliverer:
    """Sends what the outbox holds; `start` once, `close` on shutdown. Never raises into its caller."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        on_give_up: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.config = outbox.config
        self._client = client or httpx.Client(timeout=self.config.timeout_s, follow_redirects=False)
        self._clock = clock  # for the signature's timestamp
        self._on_give_up = on_give_up  # told (url, event, problem) when a delivery is given up
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._worker: threading.Thread | None = None
        self._warned_no_secret = False
        self._pruned_at = 0.0

    def start(self) -> None:
        """Run in the background (nothing to do, and no thread, when no receiver is configured)."""
        if self.config.urls and self._worker is None:
            self._worker = threading.Thread(target=self._run, name="findesk-webhooks", daemon=True)
            self._worker.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop after the POST in flight (pending rows stay in the outbox for the next start)."""
        self._closed.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout_s)
        self._client.close()

    def deliver_due(self) -> int:
        """Send every delivery that is due now, one claim at a time; returns how many were tried."""
        secret = os.environ.get(self.config.secret_env, "")
        if not secret:
            if not self._warned_no_secret:
                log.error("webhooks not sent: set %s to the shared signing secret (they wait in the outbox)",
                          self.config.secret_env)  # fmt: skip
                self._warned_no_secret = True
            return 0
        tried = 0
        while not self._closed.is_set() and self.outbox.any_due():
            delivery = self.outbox.claim(self.config.timeout_s + LEASE_MARGIN_S)
            if delivery is None:  # another replica took it first
                continue
            self._attempt(delivery, secret)
            tried += 1
        return tried

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self.deliver_due()
                if self._clock() - self._pruned_at > PRUNE_EVERY_S:
                    self._pruned_at = self._clock()
                    self.outbox.prune(self.config.keep_delivered_days * 86400)
            except StoreUnavailable as error:  # the database is away: the rows wait, we look again later
                log.warning("webhook deliveries paused: %s", error)
            except Exception:
                log.exception("webhook deliverer error (it keeps running)")
            self._wake.wait(self.config.poll_s)
            self._wake.clear()

    def _attempt(self, delivery: Delivery, secret: str) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "FinDesk-Webhooks/1",
            "X-FinDesk-Event": delivery.event,
            "X-FinDesk-Delivery": delivery.delivery_id,
            "X-FinDesk-Signature": sign(secret, int(self._clock()), delivery.body),
        }
        try:
            response = self._client.post(delivery.url, content=delivery.body, headers=headers)
            problem = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            if not self.outbox.delivered(delivery):
                log.warning("webhook %s to %s was delivered after its claim ran out", delivery.event, delivery.url)
            return
        status = self.outbox.attempt_failed(delivery, problem)
        if status == "failed":
            log.error("webhook %s to %s failed %d times (%s); giving up", delivery.event, delivery.url,
                      delivery.attempt, problem)  # fmt: skip
            if self._on_give_up is not None:
                self._on_give_up(delivery.url, delivery.event, problem)
        else:
            log.warning("webhook %s to %s: %s (try %d of %d); retrying later", delivery.event, delivery.url,
                        problem, delivery.attempt, self.config.max_attempts)  # fmt: skip
