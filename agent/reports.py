"""Is the bot helping? Conversation figures for operators: `findesk report`, the console's Reports tab, CSV.

Every figure counts conversations that STARTED in [since, until) (their first customer message, UTC), and
whatever happened in them (handoffs, replies, ratings, thumbs), so a figure never mixes periods:

- conversations: with at least one customer message.  handed_over: with a handoff.
- bot_resolved: with customer messages and no handoff.  deflection_rate = bot_resolved / conversations.
- handoff_reasons: handoffs by kind (an urgent topic, the customer asked, the button, sentiment, FAQ misses).
- first_response_time_s / resolution_time_s: for handed-over chats, seconds from the handoff to the first
  reply from our team / to resolution; p50 and p90 by the nearest-rank method (always an observed value).
- csat_count, csat_avg; thumbs_up, thumbs_down (on the bot's answers).
- unanswered_questions: customer messages routed no_answer or handoff, plus questions whose answer got a
  thumbs down (the same gaps the console's unanswered-questions report groups).
- sentiment_trend: the customers' mean sentiment score per day.
- by_day, by_language, by_category: conversations, bot_resolved, handed_over and deflection_rate per group;
  a conversation's category is that of the first FAQ entry our answers cited in it ("none" without one).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from agent.conversations import conv_handoffs, conv_messages
from agent.feedback import feedback_ratings, feedback_thumbs
from agent.language import detect_language
from agent.policy import URGENT_TOPICS
from retrieval.database import Database

KEYS = (
    "since", "until", "conversations", "bot_resolved", "handed_over", "deflection_rate", "handoff_reasons",
    "first_response_time_s", "resolution_time_s", "csat_count", "csat_avg", "thumbs_up", "thumbs_down",
    "unanswered_questions", "sentiment_trend", "by_day", "by_language", "by_category",
)  # fmt: skip


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    """p50 and p90 by nearest rank; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p90": None}
    pick = lambda p: round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 3)  # noqa: E731
    return {"p50": pick(50), "p90": pick(90)}


def handoff_kind(reason: str) -> str:
    """One label per policy rule (agent/policy.py writes the reasons), so the report can count them."""
    for topic in URGENT_TOPICS:
        if reason.startswith(f"{topic}:"):
            return f"urgent: {topic}"
    rules = (
        ("pressed", "talk to a person button"),
        ("asked for a person", "customer asked for a person"),
        ("sentiment negative", "negative sentiment"),
        ("could not answer", "FAQ could not answer"),
    )
    return next((kind for cue, kind in rules if cue in reason), "other")


@dataclass
class _Conversation:
    session_id: str
    started: str  # ISO 8601 UTC of the first customer message
    first_text: str
    handoff: Any = None  # the conv_handoffs row
    first_agent_reply: str | None = None
    cited: list[str] = field(default_factory=list)


def _first_reply(conversation: _Conversation, at: str) -> bool:
    handoff = conversation.handoff
    return handoff is not None and conversation.first_agent_reply is None and at >= handoff.created_at


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _group(conversations: list[_Conversation], key: Callable[[_Conversation], str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[_Conversation]] = defaultdict(list)
    for conversation in conversations:
        groups[key(conversation)].append(conversation)
    return {name: _counts(members) for name, members in sorted(groups.items())}


def _counts(conversations: list[_Conversation]) -> dict[str, Any]:
    handed = sum(c.handoff is not None for c in conversations)
    total = len(conversations)
    return {
        "conversations": total,
        "bot_resolved": total - handed,
        "handed_over": handed,
        "deflection_rate": round((total - handed) / total, 4) if total else 0.0,
    }


def build_report(
    db: Database, category_of: Callable[[str], str | None], since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """The report as a JSON-ready dict with exactly KEYS; `category_of(entry_id)` names an FAQ entry's category."""
    low, high = (since.isoformat() if since else ""), (until.isoformat() if until else "\uffff")
    with db.read() as conn:
        firsts = (
            sa.select(conv_messages.c.session_id, sa.func.min(conv_messages.c.id).label("first_id"))
            .where(conv_messages.c.role == "customer")
            .group_by(conv_messages.c.session_id)
            .subquery()
        )
        started = conn.execute(
            sa.select(conv_messages.c.session_id, conv_messages.c.at, conv_messages.c.text)
            .join(firsts, firsts.c.first_id == conv_messages.c.id)
            .where(conv_messages.c.at >= low, conv_messages.c.at < high)
        ).all()
        conversations = {row.session_id: _Conversation(row.session_id, row.at, row.text) for row in started}
        ids = list(conversations)
        messages = conn.execute(
            sa.select(conv_messages).where(conv_messages.c.session_id.in_(ids)).order_by(conv_messages.c.id)
        ).all()
        handoffs = conn.execute(sa.select(conv_handoffs).where(conv_handoffs.c.session_id.in_(ids))).all()
        ratings = conn.execute(sa.select(feedback_ratings).where(feedback_ratings.c.session_id.in_(ids))).all()
        thumbs = conn.execute(sa.select(feedback_thumbs).where(feedback_thumbs.c.session_id.in_(ids))).all()

    for handoff in handoffs:
        conversations[handoff.session_id].handoff = handoff
    sentiment_by_day: dict[str, list[float]] = defaultdict(list)
    asked_before: dict[int, int] = {}  # answer id -> the customer message it answered
    last_question: dict[str, int] = {}
    unanswered: set[int] = set()
    for m in messages:
        conversation = conversations[m.session_id]
        if m.role == "customer":
            last_question[m.session_id] = m.id
            if m.route in ("no_answer", "handoff"):
                unanswered.add(m.id)
            if m.sentiment:
                sentiment_by_day[m.at[:10]].append(json.loads(m.sentiment)["score"])
        elif m.role == "assistant":
            if m.session_id in last_question:
                asked_before[m.id] = last_question[m.session_id]
            conversation.cited += [c["entry_id"] for c in json.loads(m.citations or "[]")]
        elif m.role == "agent" and _first_reply(conversation, m.at):
            conversation.first_agent_reply = m.at
    for thumb in thumbs:
        if thumb.value == "down" and thumb.message_id in asked_before:
            unanswered.add(asked_before[thumb.message_id])

    everyone = sorted(conversations.values(), key=lambda c: c.started)
    handed = [c for c in everyone if c.handoff is not None]
    categories: dict[str, str] = {}

    def category(conversation: _Conversation) -> str:
        if not conversation.cited:
            return "none"
        entry = conversation.cited[0]
        if entry not in categories:
            categories[entry] = category_of(entry) or "none"
        return categories[entry]

    scores = [r.score for r in ratings]
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        **_counts(everyone),
        "handoff_reasons": dict(sorted(Counter(handoff_kind(c.handoff.reason) for c in handed).items())),
        "first_response_time_s": percentiles(
            _seconds(c.handoff.created_at, c.first_agent_reply) for c in handed if c.first_agent_reply
        ),
        "resolution_time_s": percentiles(
            _seconds(c.handoff.created_at, c.handoff.updated_at) for c in handed if c.handoff.status == "resolved"
        ),
        "csat_count": len(scores),
        "csat_avg": round(sum(scores) / len(scores), 3) if scores else None,
        "thumbs_up": sum(t.value == "up" for t in thumbs),
        "thumbs_down": sum(t.value == "down" for t in thumbs),
        "unanswered_questions": len(unanswered),
        "sentiment_trend": [
            {"day": day, "mean_score": round(sum(values) / len(values), 3), "messages": len(values)}
            for day, values in sorted(sentiment_by_day.items())
        ],
        "by_day": _group(everyone, lambda c: c.started[:10]),
        "by_language": _group(everyone, lambda c: detect_language(c.first_text)),
        "by_category": _group(everyone, category),
    }


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV rows (section, group, figure, value), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "group", "figure", "value"])
    for key in KEYS:
        value = report[key]
        if key.startswith("by_"):
            for group, figures in value.items():
                writer.writerows([key, group, name, figure] for name, figure in figures.items())
        elif key == "sentiment_trend":
            writer.writerows([key, row["day"], "mean_score", row["mean_score"]] for row in value)
        elif isinstance(value, dict):
            writer.writerows([key, "", name, "" if figure is None else figure] for name, figure in value.items())
        else:
            writer.writerow(["total", "", key, "" if value is None else value])
    return out.getvalue()
