"""The webhook outbox: deliveries waiting to be sent, kept in the database so a restart loses none.

An event is written here in the same transaction as the change that causes it (a handoff, a resolution, a
rating), one row per receiver URL, so either both are committed or neither is. A deliverer on any replica
(agent/webhooks.py) claims a due row with a lease, POSTs it, and records the outcome:

    pending --POST 2xx--> delivered
    pending --error--> pending (attempts + 1, next_attempt_at = now + backoff * 2^(attempts-1))
    pending --error on attempt max_attempts--> failed (last_error says why)
    failed --retry (an operator: `findesk webhooks retry`)--> pending (attempts 0: max_attempts new tries)

A claim is atomic (Database.claim), so two replicas never send the same row at once. A deliverer that dies
mid-POST leaves its lease to expire, and another one sends the row again with the same delivery id: delivery
is at least once, and receivers drop duplicates by X-FinDesk-Delivery.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.errors import AgentError
from agent.webhooks import EVENTS, WebhookConfig
from retrieval.database import Database

_metadata = sa.MetaData()
webhook_outbox = sa.Table(
    "webhook_outbox",
    _metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.Text, nullable=False),  # one per event, the same for each receiver and retry
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the JSON sent, exactly (the signature covers these bytes)
    sa.Column("status", sa.Text, nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),  # tries made so far
    sa.Column("next_attempt_at", sa.Double, nullable=False),  # Unix seconds
    sa.Column("claimed_until", sa.Double),  # a deliverer's lease (Unix seconds); free again after it
    sa.Column("claimed_by", sa.Text),  # that claim's random id: only its holder records the outcome
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("finished_at", sa.Text),
)
STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class Delivery:
    """One claimed row: what to POST where, and which try this is."""

    id: int
    delivery_id: str
    event: str
    url: str
    body: bytes
    attempt: int  # 1 for the first try
    claim: str


@dataclass(frozen=True)
class OutboxRow:
    """One delivery as an operator sees it (`findesk webhooks list`): never the body."""

    id: int
    delivery_id: str  # the X-FinDesk-Delivery header the receiver got
    event: str
    url: str
    status: str  # pending | delivered | failed
    attempts: int
    last_error: str
    next_attempt_at: str  # ISO 8601 UTC; meaningful while pending
    created_at: str
    finished_at: str  # when it was delivered or given up; "" while pending


class RetryRefused(AgentError):
    """`retry` was asked for a delivery that does not exist or has not been given up."""


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class WebhookOutbox:
    """Write events, claim due deliveries, record outcomes. Safe to share between threads."""

    def __init__(self, db: Database, config: WebhookConfig, *, clock: Callable[[], float] = time.time) -> None:
        unknown = sorted(set(config.events) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown webhook events {unknown}; choose from {', '.join(EVENTS)}")
        self.db = db
        self.config = config
        self._clock = clock

    def add(self, conn: Connection, event: str, data: dict[str, Any]) -> None:
        """Queue `event` for every receiver, inside the caller's transaction (nothing when none wants it)."""
        if event not in EVENTS:
            raise ValueError(f"unknown webhook event {event!r}")
        if not self.config.urls or event not in self.config.events:
            return
        now = self._clock()
        delivery_id = uuid.uuid4().hex
        body = json.dumps({"id": delivery_id, "event": event, "at": _iso(now), "data": data}, ensure_ascii=False)
        row = {"delivery_id": delivery_id, "event": event, "body": body, "status": "pending", "attempts": 0,
               "next_attempt_at": now, "last_error": "", "created_at": _iso(now)}  # fmt: skip
        conn.execute(sa.insert(webhook_outbox), [{**row, "url": url} for url in self.config.urls])

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """`add` in a transaction of its own, for events not tied to a change in the database."""
        with self.db.write() as conn:
            self.add(conn, event, data)

    def _due(self, now: float) -> sa.ColumnElement[bool]:
        c = webhook_outbox.c
        return sa.and_(
            c.status == "pending",
            c.next_attempt_at <= now,
            sa.or_(c.claimed_until.is_(None), c.claimed_until < now),
        )

    def any_due(self) -> bool:
        """A cheap read first, so an idle deliverer never takes SQLite's write lock."""
        with self.db.read() as conn:
            query = sa.select(webhook_outbox.c.id).where(self._due(self._clock())).limit(1)
            return conn.execute(query).first() is not None

    def claim(self, lease_s: float) -> Delivery | None:
        """Take the oldest due delivery for `lease_s` seconds, or None when nothing is due."""
        now, claim = self._clock(), uuid.uuid4().hex
        rows = self.db.claim(
            webhook_outbox,
            self._due(now),
            order_by=(webhook_outbox.c.next_attempt_at, webhook_outbox.c.id),  # ties: in the order written
            limit=1,
            values={"claimed_until": now + lease_s, "claimed_by": claim},
        )
        if not rows:
            return None
        r = rows[0]
        return Delivery(r.id, r.delivery_id, r.event, r.url, r.body.encode(), r.attempts + 1, claim)

    def delivered(self, delivery: Delivery) -> bool:
        """Record a 2xx; False if our lease had run out and another deliverer holds the row now."""
        return self._finish(delivery, status="delivered", finished_at=_iso(self._clock()), last_error="")

    def attempt_failed(self, delivery: Delivery, problem: str) -> str:
        """Schedule the next try, or give up after max_attempts; returns the row's new status."""
        if delivery.attempt >= self.config.max_attempts:
            self._finish(delivery, status="failed", finished_at=_iso(self._clock()), last_error=problem)
            return "failed"
        delay = self.config.backoff_s * 2 ** (delivery.attempt - 1)
        self._finish(delivery, status="pending", next_attempt_at=self._clock() + delay, last_error=problem)
        return "pending"

    def _finish(self, delivery: Delivery, **values: Any) -> bool:
        c = webhook_outbox.c
        values |= {"attempts": delivery.attempt, "claimed_until": None, "claimed_by": None}
        with self.db.write() as conn:
            done = conn.execute(
                sa.update(webhook_outbox).where(c.id == delivery.id, c.claimed_by == delivery.claim).values(values)
            )
        return done.rowcount == 1

    def deliveries(self, *, status: str | None = None, limit: int = 50) -> list[OutboxRow]:
        """The newest `limit` deliveries, newest first; only those with `status` when given."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown delivery status {status!r}; choose from {', '.join(STATUSES)}")
        query = sa.select(webhook_outbox).order_by(webhook_outbox.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(webhook_outbox.c.status == status)
        with self.db.read() as conn:
            return [_outbox_row(r) for r in conn.execute(query)]

    def retry(self, delivery_id: int) -> OutboxRow:
        """Send a given-up delivery again (due now, `max_attempts` new tries); refused for any other row."""
        c = webhook_outbox.c
        with self.db.write() as conn:
            in_range = 0 < delivery_id < 2**63  # a BIGINT: a larger number would be refused by PostgreSQL itself
            row = conn.execute(sa.select(webhook_outbox).where(c.id == delivery_id)).first() if in_range else None
            if row is None:
                raise RetryRefused(f"No webhook delivery {delivery_id}: `findesk webhooks list` shows their ids.")
            if row.status == "delivered":
                raise RetryRefused(f"Webhook delivery {delivery_id} was delivered: only given-up ones are retried.")
            if row.status == "pending":
                raise RetryRefused(f"Webhook delivery {delivery_id} is still being tried (next try due "
                                   f"{_iso(row.next_attempt_at)}): only given-up ones are retried.")  # fmt: skip
            given_up = sa.and_(c.id == delivery_id, c.status == "failed")
            conn.execute(sa.update(webhook_outbox).where(given_up).values(self._requeued()))
            return _outbox_row(conn.execute(sa.select(webhook_outbox).where(c.id == delivery_id)).one())

    def retry_failed(self) -> list[int]:
        """Send every given-up delivery again; their ids (none: nothing had been given up)."""
        c = webhook_outbox.c
        requeue = sa.update(webhook_outbox).where(c.status == "failed").values(self._requeued()).returning(c.id)
        with self.db.write() as conn:
            return sorted(conn.execute(requeue).scalars())

    def _requeued(self) -> dict[str, Any]:
        # last_error stays until the next try replaces it: the operator still sees why it had failed.
        return {"status": "pending", "attempts": 0, "next_attempt_at": self._clock(), "finished_at": None,
                "claimed_until": None, "claimed_by": None}  # fmt: skip

    def counts(self) -> dict[str, int]:
        """Rows per status (pending, delivered, failed)."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(webhook_outbox.c.status, sa.func.count()).group_by(webhook_outbox.c.status)
            ).all()
        return {status: 0 for status in STATUSES} | {status: int(n) for status, n in rows}

    def prune(self, older_than_s: float) -> int:
        """Delete delivered rows finished more than `older_than_s` ago (failed ones stay for inspection)."""
        cutoff = _iso(self._clock() - older_than_s)
        with self.db.write() as conn:
            c = webhook_outbox.c
            return conn.execute(
                sa.delete(webhook_outbox).where(c.status == "delivered", c.finished_at < cutoff)
            ).rowcount


def _outbox_row(r: sa.Row[Any]) -> OutboxRow:
    return OutboxRow(r.id, r.delivery_id, r.event, r.url, r.status, r.attempts, r.last_error,
                     _iso(r.next_attempt_at), r.created_at, r.finished_at or "")  # fmt: skip
