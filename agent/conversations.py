"""Conversations, their messages and the handoff queue, in the database beside the FAQ store.

Every text is passed through PII redaction here, at the one place anything is written, so no caller can
store a card number by forgetting to redact it first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.errors import AgentError
from agent.message_checks import check_plain_text
from agent.pii import redact
from agent.types import Citation, Sentiment, SentimentLabel, VoiceTone
from retrieval.database import Database, open_database
from speech.types import VoiceFeatures

ROLES = ("customer", "assistant", "agent", "system")
OPEN_STATUSES = ("waiting", "claimed")

_metadata = sa.MetaData()
# The tables as the queries below see them; retrieval/migrations/ creates and upgrades them.
conv_sessions = sa.Table(
    "conv_sessions",
    _metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("started_at", sa.Text),
    sa.Column("language", sa.Text),
    # sha256 of the customer's secret session token (issue #9, migration 0003); NULL: no outside access.
    sa.Column("token_hash", sa.Text),
)
conv_messages = sa.Table(
    "conv_messages",
    _metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("session_id", sa.Text),
    sa.Column("role", sa.Text),
    sa.Column("author", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("at", sa.Text),
    sa.Column("sentiment", sa.Text),  # JSON {label, score, cues, source} for customer messages
    sa.Column("route", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("citations", sa.Text),  # JSON [{n, entry_id, question}]
    sa.Column("generator", sa.Text),
    sa.Column("timings", sa.Text),  # JSON {stage: ms}
    sa.Column("image", sa.LargeBinary),  # the checked screenshot (PNG), for the agent desk
    sa.Column("voice_tone", sa.Text),  # JSON VoiceTone {agitation, cues, baseline_clips, features{...}}
)
conv_handoffs = sa.Table(
    "conv_handoffs",
    _metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text),  # waiting | claimed | resolved
    sa.Column("priority", sa.Integer),
    sa.Column("reason", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("created_at", sa.Text),
    sa.Column("updated_at", sa.Text),
    sa.Column("claimed_by", sa.Text),
)
# Every handoff state change takes this lock, so two agents claiming at once (on any replicas) are
# serialised: the second sees the first's claim and gets HandoffStateError. Assignment (agent/assignment.py)
# runs under it too, so replicas never assign past an agent's capacity or hand one conversation out twice.
HANDOFF_LOCK = "conv-handoffs"
# Messages without the image bytes (the desk fetches an image on its own); has_image says if there is one.
_MESSAGE_COLUMNS = [c for c in conv_messages.c if c.name != "image"] + [
    conv_messages.c.image.is_not(None).label("has_image")
]


@dataclass(frozen=True)
class StoredMessage:
    id: int
    session_id: str
    role: str  # customer | assistant | agent | system
    text: str  # PII already redacted
    at: str  # ISO 8601 UTC
    author: str = ""  # the human agent's name for role "agent"
    sentiment: Sentiment | None = None
    route: str | None = None
    reason: str = ""
    citations: tuple[Citation, ...] = ()
    generator: str = ""
    timings_ms: dict[str, float] | None = None
    has_image: bool = False
    voice_tone: VoiceTone | None = None  # customer voice messages only


@dataclass(frozen=True)
class Handoff:
    session_id: str
    status: str  # waiting | claimed | resolved
    priority: int  # higher is more urgent
    reason: str
    summary: str
    created_at: str
    updated_at: str
    claimed_by: str
    language: str
    sentiment_trend: tuple[float, ...]  # the customer's sentiment scores, oldest first


class ConversationNotFound(AgentError):
    pass


class HandoffStateError(AgentError):
    pass


# Told (transaction, event, data) inside the transaction that makes the change, so the event is stored with it
# or not at all (the webhook outbox, agent/webhook_outbox.py).
EventSink = Callable[[Connection, str, dict[str, Any]], None]


@dataclass(frozen=True)
class Assignment:
    """A person has a conversation now: given by round-robin, claimed by them, or handed to them by someone."""

    session_id: str
    agent: str
    at: str  # ISO 8601 UTC, the handoff's updated_at as written
    via: str  # round_robin | claim | manual


# Hands waiting conversations to available agents, inside the caller's transaction (which holds HANDOFF_LOCK);
# returns what it assigned. agent/assignment.py's DeskTeam.assign_waiting.
AssignHook = Callable[[Connection], list[Assignment]]


def handoff_event(handoff: Handoff) -> dict[str, Any]:
    """A handoff as a webhook receiver sees it (texts already PII-redacted; no messages, no sentiment)."""
    fields = ("session_id", "status", "priority", "reason", "summary", "created_at", "updated_at", "language")
    data: dict[str, Any] = {name: getattr(handoff, name) for name in fields}
    data["agent"] = handoff.claimed_by
    return data


def announce_assignments(on_event: EventSink, conn: Connection, assignments: Sequence[Assignment]) -> None:
    """One `handoff.assigned` event per assignment, in the transaction that made it (ids and names only: no
    message, summary or customer data)."""
    for a in assignments:
        on_event(conn, "handoff.assigned", {"session_id": a.session_id, "agent": a.agent, "assigned_at": a.at,
                                             "via": a.via})  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ConversationStore:
    """Conversations and handoffs on the storage layer (SQLite or PostgreSQL). Safe to share between threads.

    `database` is an open Database shared with the other stores, or the path of a SQLite file (the store
    then opens, migrates and closes it itself).
    """

    def __init__(
        self, database: Database | Path, *, on_event: EventSink | None = None, assign: AssignHook | None = None
    ) -> None:
        self._owns_db = not isinstance(database, Database)
        self.db = database if isinstance(database, Database) else open_database(f"sqlite:///{Path(database)}")
        # Told "handoff.created", "handoff.assigned" and "conversation.resolved" in the transaction that makes
        # them (webhooks).
        self._on_event = on_event or (lambda _conn, _event, _data: None)
        # Run whenever a conversation joins the queue or an agent frees a place; None: nobody is assigned.
        self._assign = assign or (lambda _conn: [])

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # --- conversations and messages -------------------------------------------------------------

    def start(self, session_id: str | None = None, *, language: str = "") -> str:
        """Create the conversation if new; returns its id (a fresh random one when none is given)."""
        session_id = session_id or uuid.uuid4().hex
        with self.db.write() as conn:
            self._start(conn, session_id, language)
        return session_id

    def _start(self, conn: Connection, session_id: str, language: str = "") -> None:
        new = {"session_id": session_id, "started_at": _now(), "language": language}
        conn.execute(self.db.insert(conv_sessions).values(new).on_conflict_do_nothing())
        if language:
            where = conv_sessions.c.session_id == session_id
            conn.execute(sa.update(conv_sessions).where(where).values(language=language))

    def open_session(self, *, language: str = "") -> tuple[str, str]:
        """A new conversation for an outside caller: (session id, secret token). Only the token's hash is kept.

        Both are server-made random strings (128 and 256 bits), so ids cannot be guessed or chosen by a client,
        and knowing an id (it appears in the agent desk and in logs) is not enough to read or write.
        """
        session_id, token = secrets.token_hex(16), secrets.token_urlsafe(32)
        new = {"session_id": session_id, "started_at": _now(), "language": language, "token_hash": _digest(token)}
        with self.db.write() as conn:
            conn.execute(sa.insert(conv_sessions).values(new))
        return session_id, token

    def token_matches(self, session_id: str, token: str | None) -> bool:
        """Whether `token` is the conversation's secret; False for unknown ids and token-less conversations."""
        if not token:
            return False
        with self.db.read() as conn:
            query = sa.select(conv_sessions.c.token_hash).where(conv_sessions.c.session_id == session_id)
            stored = conn.execute(query).scalar()
        return stored is not None and hmac.compare_digest(stored, _digest(token))

    def exists(self, session_id: str) -> bool:
        with self.db.read() as conn:
            query = sa.select(conv_sessions.c.session_id).where(conv_sessions.c.session_id == session_id)
            return conn.execute(query).first() is not None

    def add_message(
        self,
        session_id: str,
        role: str,
        text: str,
        *,
        author: str = "",
        sentiment: Sentiment | None = None,
        route: str | None = None,
        reason: str = "",
        citations: Sequence[Citation] = (),
        generator: str = "",
        timings_ms: dict[str, float] | None = None,
        image_png: bytes | None = None,
        voice_tone: VoiceTone | None = None,
        published: Sequence[str] = (),
    ) -> StoredMessage:
        """Store one message, PII redacted; numbers that also appear in `published` (the FAQ passages an
        assistant reply quoted, e.g. the bank's hotline) are the bank's own and kept."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        row = {
            "session_id": session_id,
            "role": role,
            "author": author,
            "text": redact(text, keep=published).text,
            "at": _now(),
            "sentiment": _sentiment_json(sentiment) if sentiment else None,
            "route": route,
            "reason": redact(reason).text,
            "citations": json.dumps([{"n": c.n, "entry_id": c.entry_id, "question": c.question} for c in citations]),
            "generator": generator,
            "timings": json.dumps(timings_ms or {}),
            "image": image_png,
            "voice_tone": json.dumps(dataclasses.asdict(voice_tone)) if voice_tone else None,
        }
        with self.db.write() as conn:
            self._start(conn, session_id)
            inserted = conn.execute(sa.insert(conv_messages).values(row)).inserted_primary_key
        assert inserted is not None
        return self._message(inserted[0])

    def update_sentiment(self, message_id: int, sentiment: Sentiment) -> None:
        """Replace a customer message's sentiment once the model's own reading has been fused in."""
        with self.db.write() as conn:
            where = conv_messages.c.id == message_id
            conn.execute(sa.update(conv_messages).where(where).values(sentiment=_sentiment_json(sentiment)))

    def messages(self, session_id: str, *, after_id: int = 0) -> list[StoredMessage]:
        """The conversation's messages, oldest first; `after_id` returns only newer ones (for polling)."""
        query = (
            sa.select(*_MESSAGE_COLUMNS)
            .where(conv_messages.c.session_id == session_id, conv_messages.c.id > after_id)
            .order_by(conv_messages.c.id)
        )
        with self.db.read() as conn:
            return [_message_from_row(row) for row in conn.execute(query)]

    def image(self, message_id: int) -> bytes | None:
        with self.db.read() as conn:
            return conn.execute(sa.select(conv_messages.c.image).where(conv_messages.c.id == message_id)).scalar()

    def unanswered(self, limit: int = 200) -> list[StoredMessage]:
        """Customer messages whose turn ended in no_answer or handoff, newest first: gaps in the FAQ."""
        query = (
            sa.select(*_MESSAGE_COLUMNS)
            .where(conv_messages.c.role == "customer", conv_messages.c.route.in_(("no_answer", "handoff")))
            .order_by(conv_messages.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return [_message_from_row(row) for row in conn.execute(query)]

    def _message(self, message_id: int) -> StoredMessage:
        with self.db.read() as conn:
            row = conn.execute(sa.select(*_MESSAGE_COLUMNS).where(conv_messages.c.id == message_id)).one()
        return _message_from_row(row)

    # --- the handoff queue ------------------------------------------------------------------------

    def request_handoff(self, session_id: str, *, reason: str, priority: int, summary: str) -> Handoff:
        """Put the conversation in the queue; an open handoff keeps its place but takes the higher priority."""
        now = _now()
        where = conv_handoffs.c.session_id == session_id
        with self.db.write(HANDOFF_LOCK) as conn:
            self._start(conn, session_id)
            row = conn.execute(sa.select(conv_handoffs.c.status, conv_handoffs.c.priority).where(where)).first()
            fresh = {
                "status": "waiting",
                "priority": priority,
                "reason": redact(reason).text,
                "summary": redact(summary).text,
                "created_at": now,
                "updated_at": now,
                "claimed_by": "",
            }
            created = row is None or row.status == "resolved"
            if row is None:
                conn.execute(sa.insert(conv_handoffs).values(session_id=session_id, **fresh))
            elif row.status == "resolved":
                conn.execute(sa.update(conv_handoffs).where(where).values(fresh))
            else:
                raised = max(row.priority, priority)
                update = {"priority": raised, "summary": redact(summary).text, "updated_at": now}
                conn.execute(sa.update(conv_handoffs).where(where).values(update))
            assigned = self._assign(conn) if created else []
            (handoff,) = self._handoffs(conn, where)  # as assigned, if an agent was free
            if created:
                self._on_event(conn, "handoff.created", handoff_event(handoff))
            announce_assignments(self._on_event, conn, assigned)  # after "created": receivers see that first
        return handoff

    def handoff(self, session_id: str) -> Handoff | None:
        with self.db.read() as conn:
            rows = self._handoffs(conn, conv_handoffs.c.session_id == session_id)
        return rows[0] if rows else None

    def queue(self, statuses: Sequence[str] = OPEN_STATUSES) -> list[Handoff]:
        """Open handoffs, most urgent first, then longest waiting."""
        with self.db.read() as conn:
            return self._handoffs(conn, conv_handoffs.c.status.in_(tuple(statuses)))

    def claim(self, session_id: str, agent: str) -> Handoff:
        return self._move(session_id, agent, allowed_from=("waiting", "claimed"), to="claimed")

    def resolve(self, session_id: str, agent: str) -> Handoff:
        return self._move(session_id, agent, allowed_from=("waiting", "claimed"), to="resolved")

    def reassign(self, session_id: str, agent: str) -> Handoff:
        """Give an open conversation to `agent`, or back to the unassigned queue with "" (any agent may claim it).

        Who may receive it (a real agent) is the caller's check. A place freed by handing a conversation to
        someone else goes to the next waiting one; giving it back to the queue assigns nothing, so it is not
        handed straight back to the same agent.
        """
        where = conv_handoffs.c.session_id == session_id
        with self.db.write(HANDOFF_LOCK) as conn:
            row = self._handoff_state(conn, session_id, allowed_from=OPEN_STATUSES)
            now = _now()
            values = {"status": "claimed" if agent else "waiting", "claimed_by": agent, "updated_at": now}
            conn.execute(sa.update(conv_handoffs).where(where).values(values))
            assigned = [Assignment(session_id, agent, now, "manual")] if agent and row.claimed_by != agent else []
            if agent and row.claimed_by not in ("", agent):
                assigned += self._assign(conn)
            (handoff,) = self._handoffs(conn, where)
            announce_assignments(self._on_event, conn, assigned)
        return handoff

    def add_agent_reply(self, session_id: str, agent: str, text: str) -> StoredMessage:
        """A human agent's message: it appears in the customer's chat on their next poll."""
        if not text.strip():
            raise AgentError("The reply is empty: type or dictate a message first.")
        check_plain_text(text)
        handoff = self.handoff(session_id)
        if handoff is None:
            raise ConversationNotFound(f"No handed-over conversation {session_id!r}: it may have been removed.")
        if handoff.status == "waiting":
            self.claim(session_id, agent)
        return self.add_message(session_id, "agent", text.strip(), author=agent)

    def _move(self, session_id: str, agent: str, *, allowed_from: Sequence[str], to: str) -> Handoff:
        where = conv_handoffs.c.session_id == session_id
        with self.db.write(HANDOFF_LOCK) as conn:
            row = self._handoff_state(conn, session_id, allowed_from=allowed_from)
            if to == "claimed" and row.status == "claimed" and row.claimed_by not in ("", agent):
                raise HandoffStateError(f"{row.claimed_by} has already claimed this conversation.")
            now = _now()
            conn.execute(sa.update(conv_handoffs).where(where).values(status=to, claimed_by=agent, updated_at=now))
            claimed = to == "claimed" and row.claimed_by != agent  # claiming one's own again changes nothing
            assigned = [Assignment(session_id, agent, now, "claim")] if claimed else []
            if to == "resolved":
                assigned = self._assign(conn)  # the agent has a free place now
            (handoff,) = self._handoffs(conn, where)
            if to == "resolved":
                self._on_event(conn, "conversation.resolved", handoff_event(handoff))
            announce_assignments(self._on_event, conn, assigned)
        return handoff

    @staticmethod
    def _handoff_state(conn: Connection, session_id: str, *, allowed_from: Sequence[str]) -> sa.Row[Any, Any]:
        """The handoff's status and owner, read under the caller's HANDOFF_LOCK; refused if not in `allowed_from`."""
        columns = sa.select(conv_handoffs.c.status, conv_handoffs.c.claimed_by)
        row = conn.execute(columns.where(conv_handoffs.c.session_id == session_id)).first()
        if row is None:
            raise ConversationNotFound(f"No handed-over conversation {session_id!r}.")
        if row.status not in allowed_from:
            raise HandoffStateError(f"This conversation is already {row.status}.")
        return row

    @staticmethod
    def _handoffs(conn: Connection, where: sa.ColumnElement[bool]) -> list[Handoff]:
        query = (
            sa.select(conv_handoffs, conv_sessions.c.language)
            .join(conv_sessions, conv_sessions.c.session_id == conv_handoffs.c.session_id)
            .where(where)
            .order_by(conv_handoffs.c.priority.desc(), conv_handoffs.c.created_at.asc())
        )
        handoffs = []
        for row in conn.execute(query).all():
            scores = conn.execute(
                sa.select(conv_messages.c.sentiment)
                .where(
                    conv_messages.c.session_id == row.session_id,
                    conv_messages.c.role == "customer",
                    conv_messages.c.sentiment.is_not(None),
                )
                .order_by(conv_messages.c.id)
            ).scalars()
            handoffs.append(
                Handoff(
                    session_id=row.session_id,
                    status=row.status,
                    priority=row.priority,
                    reason=row.reason,
                    summary=row.summary,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    claimed_by=row.claimed_by,
                    language=row.language,
                    sentiment_trend=tuple(round(json.loads(s)["score"], 3) for s in scores),
                )
            )
        return handoffs


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sentiment_json(sentiment: Sentiment) -> str:
    return json.dumps(
        {
            "label": str(sentiment.label),
            "score": sentiment.score,
            "cues": list(sentiment.cues),
            "source": sentiment.source,
        }
    )


def _voice_tone_from_json(text: str | None) -> VoiceTone | None:
    if not text:
        return None
    data = json.loads(text)
    return VoiceTone(
        agitation=data["agitation"],
        cues=tuple(data["cues"]),
        baseline_clips=data["baseline_clips"],
        features=VoiceFeatures(**data["features"]),
    )


def _message_from_row(result: sa.Row) -> StoredMessage:
    row = result._mapping
    sentiment = None
    if row["sentiment"]:
        data = json.loads(row["sentiment"])
        sentiment = Sentiment(
            label=SentimentLabel(data["label"]), score=data["score"], cues=tuple(data["cues"]), source=data["source"]
        )
    return StoredMessage(
        id=row["id"],
        session_id=row["session_id"],
        role=row["role"],
        text=row["text"],
        at=row["at"],
        author=row["author"],
        sentiment=sentiment,
        route=row["route"],
        reason=row["reason"],
        citations=tuple(Citation(**c) for c in json.loads(row["citations"])),
        generator=row["generator"],
        timings_ms=json.loads(row["timings"]),
        has_image=bool(row["has_image"]),
        voice_tone=_voice_tone_from_json(row["voice_tone"]),
    )
