"""What only staff see on a conversation: private notes, and the labels the queue is filtered by.

Notes live in their own table, never among the conversation's messages, so nothing that reads messages
(the customer's chat and API, the model's prompt, handoff summaries) can pick one up by mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from agent.conversations import ConversationNotFound, conv_sessions
from agent.errors import AgentError
from agent.pii import redact
from retrieval.database import Database

MAX_NOTE_CHARS = 4000
LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # e.g. fraud, complaint, vip, follow-up

_metadata = sa.MetaData()
conv_notes = sa.Table(
    "conv_notes",
    _metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("session_id", sa.Text, nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
)
conv_labels = sa.Table(
    "conv_labels",
    _metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("label", sa.Text, primary_key=True),
)


@dataclass(frozen=True)
class Note:
    id: int
    session_id: str
    author: str
    text: str  # PII redacted
    at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class DeskNotes:
    """Private notes and labels. Safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_note(self, session_id: str, author: str, text: str) -> Note:
        text = text.strip()
        if not text:
            raise AgentError("The note is empty: type something first.")
        if len(text) > MAX_NOTE_CHARS:
            raise AgentError(f"The note is too long ({len(text)} characters; the limit is {MAX_NOTE_CHARS}).")
        with self.db.write() as conn:
            self._require(conn, session_id)
            values = {"session_id": session_id, "author": author, "text": redact(text).text, "at": _now()}
            note_id = conn.execute(sa.insert(conv_notes).values(values).returning(conv_notes.c.id)).scalar_one()
        return Note(id=int(note_id), **values)

    def notes(self, session_id: str) -> list[Note]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(conv_notes).where(conv_notes.c.session_id == session_id).order_by(conv_notes.c.id)
            ).all()
        return [Note(int(r.id), r.session_id, r.author, r.text, r.at) for r in rows]

    def set_labels(self, session_id: str, labels: list[str]) -> list[str]:
        """Replace the conversation's labels; each is lower case letters, digits, '-' or '_' (at most 32)."""
        clean = sorted({label.strip().lower() for label in labels if label.strip()})
        bad = [label for label in clean if not LABEL.match(label)]
        if bad:
            raise AgentError(f"Labels are lower-case words like 'fraud' or 'follow-up'; not {', '.join(bad)}.")
        with self.db.write() as conn:
            self._require(conn, session_id)
            conn.execute(sa.delete(conv_labels).where(conv_labels.c.session_id == session_id))
            if clean:
                conn.execute(sa.insert(conv_labels), [{"session_id": session_id, "label": label} for label in clean])
        return clean

    def labels(self, session_ids: list[str] | None = None) -> dict[str, list[str]]:
        """Labels by conversation (all conversations with a label, or just these)."""
        query = sa.select(conv_labels).order_by(conv_labels.c.label)
        if session_ids is not None:
            query = query.where(conv_labels.c.session_id.in_(session_ids))
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.session_id, []).append(row.label)
        return found

    def all_labels(self) -> list[str]:
        with self.db.read() as conn:
            return list(conn.execute(sa.select(conv_labels.c.label).distinct().order_by(conv_labels.c.label)).scalars())

    @staticmethod
    def _require(conn: sa.Connection, session_id: str) -> None:
        found = conn.execute(sa.select(conv_sessions.c.session_id).where(conv_sessions.c.session_id == session_id))
        if found.first() is None:
            raise ConversationNotFound(f"No conversation {session_id!r}.")
