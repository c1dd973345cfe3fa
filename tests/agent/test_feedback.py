"""Thumbs and ratings on the storage layer (SQLite and PostgreSQL): the rules, refusals and events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.conversations import ConversationNotFound, ConversationStore
from agent.errors import AgentError
from agent.feedback import AlreadyRated, FeedbackStore, NotRatable
from agent.unanswered import unanswered_messages
from retrieval.database import Database


@pytest.fixture
def events() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def conversations(database: Database, events: list) -> Iterator[ConversationStore]:
    store = ConversationStore(database, on_event=lambda _conn, event, data: events.append((event, data)))
    yield store
    store.close()


@pytest.fixture
def feedback(database: Database, events: list) -> FeedbackStore:
    return FeedbackStore(database, on_event=lambda _conn, event, data: events.append((event, data)))


def _answered(conversations: ConversationStore, session: str, question: str = "How do I reset my PIN?") -> int:
    conversations.add_message(session, "customer", question, route="answer")
    return conversations.add_message(session, "assistant", "Like this [1].", route="answer").id


def test_thumbs_on_the_bots_answers(conversations: ConversationStore, feedback: FeedbackStore) -> None:
    answer = _answered(conversations, "s1")
    feedback.thumb("s1", answer, "up")
    feedback.thumb("s1", answer, "down")  # the latest click counts
    assert feedback.thumbs("s1") == {answer: "down"}
    feedback.thumb("s1", answer, None)
    assert feedback.thumbs("s1") == {}


def test_thumbs_only_on_answers_in_the_same_conversation(
    conversations: ConversationStore, feedback: FeedbackStore
) -> None:
    answer = _answered(conversations, "s1")
    question = conversations.messages("s1")[0].id
    with pytest.raises(ConversationNotFound):
        feedback.thumb("someone-else", answer, "down")  # another customer's conversation
    with pytest.raises(ConversationNotFound):
        feedback.thumb("s1", question, "down")  # the customer's own message
    with pytest.raises(AgentError, match="'up' or 'down'"):
        feedback.thumb("s1", answer, "meh")
    assert feedback.thumbs("s1") == {}


def test_a_thumbs_down_makes_the_question_a_gap(conversations: ConversationStore, feedback: FeedbackStore) -> None:
    liked, disliked = _answered(conversations, "s1", "fees abroad?"), _answered(conversations, "s2", "card limit?")
    feedback.thumb("s1", liked, "up")
    feedback.thumb("s2", disliked, "down")
    assert [m.text for m in feedback.disliked_questions()] == ["card limit?"]


def test_rating_after_resolution_once(conversations: ConversationStore, feedback: FeedbackStore, events: list) -> None:
    _answered(conversations, "s1")
    with pytest.raises(NotRatable, match="no one from our team"):
        feedback.rate("s1", 5)
    conversations.request_handoff("s1", reason="asked", priority=1, summary="")
    conversations.claim("s1", "alice")
    with pytest.raises(NotRatable, match="it is claimed now"):
        feedback.rate("s1", 5)
    assert not feedback.can_rate("s1")
    conversations.resolve("s1", "alice")
    assert feedback.can_rate("s1")
    rating = feedback.rate("s1", 4, "  quick, thanks. My card 4111 1111 1111 1111  ")
    assert (rating.score, rating.agent) == (4, "alice") and "4111" not in rating.comment
    assert feedback.rating("s1") == rating and not feedback.can_rate("s1")
    with pytest.raises(AlreadyRated):
        feedback.rate("s1", 1)
    assert [event for event, _ in events] == [
        "handoff.created", "handoff.assigned", "conversation.resolved", "rating.received"
    ]  # fmt: skip
    assert events[3][1]["score"] == 4 and events[2][1]["agent"] == "alice" and events[1][1]["via"] == "claim"


@pytest.mark.parametrize(("score", "comment"), [(0, ""), (6, ""), (3, "x" * 2001)])
def test_bad_ratings_are_refused(
    conversations: ConversationStore, feedback: FeedbackStore, score: int, comment: str
) -> None:
    conversations.request_handoff("s1", reason="asked", priority=1, summary="")
    conversations.resolve("s1", "alice")
    with pytest.raises(AgentError):
        feedback.rate("s1", score, comment)
    assert feedback.rating("s1") is None


def test_a_new_handoff_after_resolution_is_a_new_event(conversations: ConversationStore, events: list) -> None:
    conversations.request_handoff("s1", reason="asked", priority=1, summary="")
    conversations.request_handoff("s1", reason="again", priority=3, summary="")  # still open: no new event
    conversations.resolve("s1", "alice")
    conversations.request_handoff("s1", reason="back", priority=1, summary="")
    assert [event for event, _ in events] == ["handoff.created", "conversation.resolved", "handoff.created"]


def test_the_unanswered_report_includes_thumbs_down(conversations: ConversationStore, feedback: FeedbackStore) -> None:
    conversations.add_message("s1", "customer", "banana bread recipe?", route="no_answer")
    disliked = _answered(conversations, "s2", "card limit?")
    feedback.thumb("s2", disliked, "down")
    gaps = unanswered_messages(conversations, feedback)
    assert [(m.text, m.route) for m in gaps] == [("banana bread recipe?", "no_answer"), ("card limit?", "thumbs_down")]
