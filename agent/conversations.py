"""Conversations, their messages and the handoff queue, in SQLite beside the FAQ store.

Every text is passed through PII redaction here, at the one place anything is written, so no caller can
store a card number by forgetting to redact it first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import AgentError
from agent.pii import redact
from agent.types import Citation, Sentiment, SentimentLabel, VoiceTone
from speech.types import VoiceFeatures

ROLES = ("customer", "assistant", "agent", "system")
OPEN_STATUSES = ("waiting", "claimed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conv_sessions (
    session_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT '',
    token_hash TEXT            -- sha256 of the customer's session token (issue #9); NULL: no outside access
);
CREATE TABLE IF NOT EXISTS conv_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES conv_sessions(session_id),
    role TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    sentiment TEXT,            -- JSON {label, score, cues, source} for customer messages
    route TEXT,
    reason TEXT NOT NULL DEFAULT '',
    citations TEXT NOT NULL DEFAULT '[]',
    generator TEXT NOT NULL DEFAULT '',
    timings TEXT NOT NULL DEFAULT '{}',
    image BLOB,                -- the checked screenshot (PNG), for the agent desk
    voice_tone TEXT            -- JSON VoiceTone {agitation, cues, baseline_clips, features{...}} of a voice message
);
CREATE INDEX IF NOT EXISTS conv_messages_session ON conv_messages(session_id, id);
CREATE TABLE IF NOT EXISTS conv_handoffs (
    session_id TEXT PRIMARY KEY REFERENCES conv_sessions(session_id),
    status TEXT NOT NULL,      -- waiting | claimed | resolved
    priority INTEGER NOT NULL,
    reason TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    claimed_by TEXT NOT NULL DEFAULT ''
);
"""


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ConversationStore:
    """Thread-safe: one connection guarded by a lock (Gradio calls from worker threads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Databases created before a column existed get it (nullable, so old rows stay valid)."""
        with self._lock:
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(conv_messages)")}
            if "voice_tone" not in columns:
                self._db.execute("ALTER TABLE conv_messages ADD COLUMN voice_tone TEXT")
            # Issue #9: conversations from before session tokens stay closed to outside callers (NULL matches
            # no token).
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(conv_sessions)")}
            if "token_hash" not in columns:
                self._db.execute("ALTER TABLE conv_sessions ADD COLUMN token_hash TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- conversations and messages -------------------------------------------------------------

    def start(self, session_id: str | None = None, *, language: str = "") -> str:
        """Create the conversation if new; returns its id (a fresh random one when none is given)."""
        session_id = session_id or uuid.uuid4().hex
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO conv_sessions(session_id, started_at, language) VALUES (?, ?, ?)",
                (session_id, _now(), language),
            )
            if language:
                db.execute("UPDATE conv_sessions SET language = ? WHERE session_id = ?", (language, session_id))
        return session_id

    def open_session(self, *, language: str = "") -> tuple[str, str]:
        """A new conversation for an outside caller: (session id, secret token). Only the token's hash is kept.

        Both are server-made random strings (128 and 256 bits), so ids cannot be guessed or chosen by a client,
        and knowing an id (it appears in the agent desk and in logs) is not enough to read or write.
        """
        session_id, token = secrets.token_hex(16), secrets.token_urlsafe(32)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO conv_sessions(session_id, started_at, language, token_hash) VALUES (?, ?, ?, ?)",
                (session_id, _now(), language, _digest(token)),
            )
        return session_id, token

    def token_matches(self, session_id: str, token: str | None) -> bool:
        """Whether `token` is the conversation's secret; False for unknown ids and token-less conversations."""
        if not token:
            return False
        with self._lock:
            row = self._db.execute("SELECT token_hash FROM conv_sessions WHERE session_id = ?", (session_id,))
            stored = row.fetchone()
        return stored is not None and stored[0] is not None and hmac.compare_digest(stored[0], _digest(token))

    def exists(self, session_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM conv_sessions WHERE session_id = ?", (session_id,)).fetchone()
        return row is not None

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
    ) -> StoredMessage:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        self.start(session_id)
        sentiment_json = _sentiment_json(sentiment) if sentiment else None
        citations_json = json.dumps([{"n": c.n, "entry_id": c.entry_id, "question": c.question} for c in citations])
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO conv_messages(session_id, role, author, text, at, sentiment, route, reason, citations,"
                " generator, timings, image, voice_tone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    role,
                    author,
                    redact(text).text,
                    _now(),
                    sentiment_json,
                    route,
                    redact(reason).text,
                    citations_json,
                    generator,
                    json.dumps(timings_ms or {}),
                    image_png,
                    json.dumps(dataclasses.asdict(voice_tone)) if voice_tone else None,
                ),
            )
            message_id = cursor.lastrowid
        assert message_id is not None
        return self._message(message_id)

    def update_sentiment(self, message_id: int, sentiment: Sentiment) -> None:
        """Replace a customer message's sentiment once the model's own reading has been fused in."""
        with self._transaction() as db:
            db.execute("UPDATE conv_messages SET sentiment = ? WHERE id = ?", (_sentiment_json(sentiment), message_id))

    def messages(self, session_id: str, *, after_id: int = 0) -> list[StoredMessage]:
        """The conversation's messages, oldest first; `after_id` returns only newer ones (for polling)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT *, image IS NOT NULL AS has_image FROM conv_messages WHERE session_id = ? AND id > ?"
                " ORDER BY id",
                (session_id, after_id),
            ).fetchall()
        return [_message_from_row(row) for row in rows]

    def image(self, message_id: int) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT image FROM conv_messages WHERE id = ?", (message_id,)).fetchone()
        return row["image"] if row else None

    def unanswered(self, limit: int = 200) -> list[StoredMessage]:
        """Customer messages whose turn ended in no_answer or handoff, newest first: gaps in the FAQ."""
        with self._lock:
            rows = self._db.execute(
                "SELECT *, image IS NOT NULL AS has_image FROM conv_messages"
                " WHERE role = 'customer' AND route IN ('no_answer', 'handoff') ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_message_from_row(row) for row in rows]

    def _message(self, message_id: int) -> StoredMessage:
        with self._lock:
            row = self._db.execute(
                "SELECT *, image IS NOT NULL AS has_image FROM conv_messages WHERE id = ?", (message_id,)
            ).fetchone()
        return _message_from_row(row)

    # --- the handoff queue ------------------------------------------------------------------------

    def request_handoff(self, session_id: str, *, reason: str, priority: int, summary: str) -> Handoff:
        """Put the conversation in the queue; an open handoff keeps its place but takes the higher priority."""
        self.start(session_id)
        now = _now()
        with self._transaction() as db:
            row = db.execute(
                "SELECT status, priority FROM conv_handoffs WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row is None or row["status"] == "resolved":
                db.execute(
                    "INSERT OR REPLACE INTO conv_handoffs(session_id, status, priority, reason, summary, created_at,"
                    " updated_at, claimed_by) VALUES (?, 'waiting', ?, ?, ?, ?, ?, '')",
                    (session_id, priority, redact(reason).text, redact(summary).text, now, now),
                )
            else:
                db.execute(
                    "UPDATE conv_handoffs SET priority = MAX(priority, ?), summary = ?, updated_at = ?"
                    " WHERE session_id = ?",
                    (priority, redact(summary).text, now, session_id),
                )
        handoff = self.handoff(session_id)
        assert handoff is not None
        return handoff

    def handoff(self, session_id: str) -> Handoff | None:
        with self._lock:
            row = self._db.execute(
                "SELECT h.*, s.language FROM conv_handoffs h JOIN conv_sessions s USING (session_id)"
                " WHERE h.session_id = ?",
                (session_id,),
            ).fetchone()
        return self._handoff_from_row(row) if row else None

    def queue(self, statuses: Sequence[str] = OPEN_STATUSES) -> list[Handoff]:
        """Open handoffs, most urgent first, then longest waiting."""
        marks = ",".join("?" for _ in statuses)
        with self._lock:
            rows = self._db.execute(
                "SELECT h.*, s.language FROM conv_handoffs h JOIN conv_sessions s USING (session_id)"
                f" WHERE h.status IN ({marks}) ORDER BY h.priority DESC, h.created_at ASC",
                tuple(statuses),
            ).fetchall()
        return [self._handoff_from_row(row) for row in rows]

    def claim(self, session_id: str, agent: str) -> Handoff:
        return self._move(session_id, agent, allowed_from=("waiting", "claimed"), to="claimed")

    def resolve(self, session_id: str, agent: str) -> Handoff:
        return self._move(session_id, agent, allowed_from=("waiting", "claimed"), to="resolved")

    def add_agent_reply(self, session_id: str, agent: str, text: str) -> StoredMessage:
        """A human agent's message: it appears in the customer's chat on their next poll."""
        if not text.strip():
            raise AgentError("The reply is empty: type or dictate a message first.")
        if self.handoff(session_id) is None:
            raise ConversationNotFound(f"No handed-over conversation {session_id!r}: it may have been removed.")
        handoff = self.handoff(session_id)
        if handoff is not None and handoff.status == "waiting":
            self.claim(session_id, agent)
        return self.add_message(session_id, "agent", text.strip(), author=agent)

    def _move(self, session_id: str, agent: str, *, allowed_from: Sequence[str], to: str) -> Handoff:
        with self._transaction() as db:
            row = db.execute(
                "SELECT status, claimed_by FROM conv_handoffs WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise ConversationNotFound(f"No handed-over conversation {session_id!r}.")
            if row["status"] not in allowed_from:
                raise HandoffStateError(f"This conversation is already {row['status']}.")
            if to == "claimed" and row["status"] == "claimed" and row["claimed_by"] not in ("", agent):
                raise HandoffStateError(f"{row['claimed_by']} has already claimed this conversation.")
            db.execute(
                "UPDATE conv_handoffs SET status = ?, claimed_by = ?, updated_at = ? WHERE session_id = ?",
                (to, agent, _now(), session_id),
            )
        handoff = self.handoff(session_id)
        assert handoff is not None
        return handoff

    def _handoff_from_row(self, row: sqlite3.Row) -> Handoff:
        with self._lock:
            scores = self._db.execute(
                "SELECT sentiment FROM conv_messages WHERE session_id = ? AND role = 'customer'"
                " AND sentiment IS NOT NULL ORDER BY id",
                (row["session_id"],),
            ).fetchall()
        trend = tuple(round(json.loads(s["sentiment"])["score"], 3) for s in scores)
        return Handoff(
            session_id=row["session_id"],
            status=row["status"],
            priority=row["priority"],
            reason=row["reason"],
            summary=row["summary"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            claimed_by=row["claimed_by"],
            language=row["language"],
            sentiment_trend=trend,
        )


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


def _message_from_row(row: sqlite3.Row) -> StoredMessage:
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
