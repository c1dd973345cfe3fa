"""What customers think: thumbs up/down on each bot answer, and a 1-5 rating once a person resolved the chat.

Both sit beside the conversations on the storage layer (tables made by migration 0004_feedback). A thumbs
down marks the question as not answered (it joins the unanswered-questions report) and offers a person.
A rating (CSAT) is taken once per conversation, only after a person resolved it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agent.conversations import (
    _MESSAGE_COLUMNS,
    ConversationNotFound,
    EventSink,
    StoredMessage,
    _message_from_row,
    conv_handoffs,
    conv_messages,
)
from agent.errors import AgentError
from agent.pii import redact
from retrieval.database import Database

MAX_COMMENT_CHARS = 2000
THUMBS = ("up", "down")

_metadata = sa.MetaData()
feedback_thumbs = sa.Table(
    "feedback_thumbs",
    _metadata,
    sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("session_id", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),  # up | down
    sa.Column("at", sa.Text, nullable=False),
)
feedback_ratings = sa.Table(
    "feedback_ratings",
    _metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("score", sa.Integer, nullable=False),  # 1..5
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("agent", sa.Text, nullable=False),  # who resolved the conversation
    sa.Column("at", sa.Text, nullable=False),
)
_LOCK = "feedback"


class AlreadyRated(AgentError):
    """Shown to the customer: each conversation is rated once."""


class NotRatable(AgentError):
    """Shown to the customer: ratings open once a person has resolved the conversation."""


@dataclass(frozen=True)
class Rating:
    session_id: str
    score: int
    comment: str  # PII redacted
    agent: str
    at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class FeedbackStore:
    """Thumbs and ratings. Safe to share between threads; `db` is the database the conversations live in."""

    def __init__(self, db: Database, *, on_event: EventSink | None = None) -> None:
        self.db = db
        # Told "rating.received" in the transaction that stores the rating (webhooks).
        self._on_event = on_event or (lambda _conn, _event, _data: None)

    def thumb(self, session_id: str, message_id: int, value: str | None) -> None:
        """Record "up" or "down" on one of the bot's answers in this conversation (None takes it back)."""
        if value is not None and value not in THUMBS:
            raise AgentError(f"A thumb is 'up' or 'down', not {value!r}.")
        with self.db.write(lock=_LOCK) as conn:
            role = conn.execute(
                sa.select(conv_messages.c.role).where(
                    conv_messages.c.id == message_id, conv_messages.c.session_id == session_id
                )
            ).scalar_one_or_none()
            if role != "assistant":
                raise ConversationNotFound("That message is not one of our answers in this conversation.")
            conn.execute(sa.delete(feedback_thumbs).where(feedback_thumbs.c.message_id == message_id))
            if value is not None:
                conn.execute(
                    sa.insert(feedback_thumbs).values(
                        message_id=message_id, session_id=session_id, value=value, at=_now()
                    )
                )

    def thumbs(self, session_id: str) -> dict[int, str]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(feedback_thumbs.c.message_id, feedback_thumbs.c.value).where(
                    feedback_thumbs.c.session_id == session_id
                )
            ).all()
        return {int(message_id): value for message_id, value in rows}

    def can_rate(self, session_id: str) -> bool:
        """Resolved by a person and not rated yet: the chat page asks once."""
        with self.db.read() as conn:
            return self._status(conn, session_id) == "resolved" and self._rating(conn, session_id) is None

    def rate(self, session_id: str, score: int, comment: str = "") -> Rating:
        if not 1 <= score <= 5:
            raise AgentError(f"A rating is a whole number from 1 to 5, not {score}.")
        if len(comment) > MAX_COMMENT_CHARS:
            raise AgentError(f"The comment is too long ({len(comment)} characters; the limit is {MAX_COMMENT_CHARS}).")
        with self.db.write(lock=_LOCK) as conn:
            status = self._status(conn, session_id)
            if status != "resolved":
                raise NotRatable(
                    "This conversation cannot be rated yet: ratings open once a member of our team has resolved it"
                    + (f" (it is {status} now)." if status else " (no one from our team has been involved).")
                )
            if self._rating(conn, session_id) is not None:
                raise AlreadyRated("This conversation has already been rated. Thank you!")
            agent = conn.execute(
                sa.select(conv_handoffs.c.claimed_by).where(conv_handoffs.c.session_id == session_id)
            ).scalar_one()
            rating = Rating(session_id, score, redact(comment.strip()).text, agent or "", _now())
            try:
                conn.execute(sa.insert(feedback_ratings).values(**rating.__dict__))
            except IntegrityError as error:  # a rating from another replica got in first
                raise AlreadyRated("This conversation has already been rated. Thank you!") from error
            self._on_event(conn, "rating.received", dict(rating.__dict__))
        return rating

    def rating(self, session_id: str) -> Rating | None:
        with self.db.read() as conn:
            return self._rating(conn, session_id)

    def ratings(self, since: str = "", until: str = "\uffff") -> list[Rating]:
        """Ratings given in [since, until) (ISO 8601 UTC prefixes), oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(feedback_ratings)
                .where(feedback_ratings.c.at >= since, feedback_ratings.c.at < until)
                .order_by(feedback_ratings.c.at)
            ).all()
        return [Rating(**row._mapping) for row in rows]

    def all_thumbs(self, since: str = "", until: str = "\uffff") -> list[tuple[int, str, str, str]]:
        """(message_id, session_id, value, at) given in [since, until), oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(feedback_thumbs)
                .where(feedback_thumbs.c.at >= since, feedback_thumbs.c.at < until)
                .order_by(feedback_thumbs.c.at)
            ).all()
        return [(int(r.message_id), r.session_id, r.value, r.at) for r in rows]

    def disliked_questions(self, limit: int = 200) -> list[StoredMessage]:
        """The customer messages whose answer got a thumbs down, newest first: gaps the FAQ did not fill."""
        with self.db.read() as conn:
            answers = conn.execute(
                sa.select(conv_messages.c.id, conv_messages.c.session_id)
                .join(feedback_thumbs, feedback_thumbs.c.message_id == conv_messages.c.id)
                .where(feedback_thumbs.c.value == "down")
                .order_by(conv_messages.c.id.desc())
                .limit(limit)
            ).all()
            questions = []
            for answer_id, session_id in answers:
                row = conn.execute(
                    sa.select(*_MESSAGE_COLUMNS)
                    .where(
                        conv_messages.c.session_id == session_id,
                        conv_messages.c.role == "customer",
                        conv_messages.c.id < answer_id,
                    )
                    .order_by(conv_messages.c.id.desc())
                    .limit(1)
                ).first()
                if row is not None:
                    questions.append(_message_from_row(row))
        return questions

    @staticmethod
    def _status(conn: sa.Connection, session_id: str) -> str | None:
        return conn.execute(
            sa.select(conv_handoffs.c.status).where(conv_handoffs.c.session_id == session_id)
        ).scalar_one_or_none()

    @staticmethod
    def _rating(conn: sa.Connection, session_id: str) -> Rating | None:
        row = conn.execute(sa.select(feedback_ratings).where(feedback_ratings.c.session_id == session_id)).first()
        return Rating(**row._mapping) if row else None
