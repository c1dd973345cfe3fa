"""Outgoing webhooks: an HTTP POST with a signed JSON body when something happens a bank's CRM wants to know.

Events: `handoff.created`, `handoff.assigned`, `conversation.resolved`, `rating.received`. Each delivery is

    POST <url>
    Content-Type: application/json
    X-FinDesk-Event: handoff.created
    X-FinDesk-Delivery: 6f1c...            (the same on every retry: receivers can drop duplicates)
    X-FinDesk-Signature: t=1764633600,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

    {"id": "6f1c...", "event": "handoff.created", "at": "2026-12-02T00:00:00Z", "data": {...}}

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with the shared secret
(`verify_signature`), compares in constant time and refuses old timestamps (replays). A non-2xx answer or a
network error is retried with exponential backoff (1 s, 2 s, 4 s, ... by default) up to `max_attempts`.

This module is the contract (settings, events, signature). Deliveries wait in a table written in the same
transaction as the change they report (agent/webhook_outbox.py), so a restart loses none, and a background
deliverer on each replica sends them (agent/webhook_delivery.py), so a slow CRM never slows a customer's turn.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from pydantic import BaseModel, ConfigDict, Field

EVENTS = ("handoff.created", "handoff.assigned", "conversation.resolved", "rating.received")


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
    poll_s: float = Field(1.0, gt=0, description="How often each replica looks for due deliveries, in seconds.")
    keep_delivered_days: float = Field(7.0, gt=0, description="Delivered rows are deleted after this many days.")


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
