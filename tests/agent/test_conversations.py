"""The conversation log and handoff queue: ordering, state changes, redaction, and refusals."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.conversations import ConversationNotFound, ConversationStore, HandoffStateError
from agent.errors import AgentError
from agent.types import Citation, Sentiment, SentimentLabel, VoiceTone
from retrieval.database import Database, open_database
from speech.types import VoiceFeatures

LEGACY_DB = Path(__file__).resolve().parents[1] / "data" / "findesk-0.1.sqlite3"


@pytest.fixture
def store(database: Database) -> ConversationStore:
    """On SQLite and on PostgreSQL (tests/conftest.py)."""
    store = ConversationStore(database)
    yield store
    store.close()


def test_messages_round_trip_with_sentiment_citations_and_image(store: ConversationStore) -> None:
    sad = Sentiment(SentimentLabel.NEGATIVE, -0.6, ("shouting",), "lexicon+cues")
    first = store.add_message(
        "s1", "customer", "WHY is my card declined", sentiment=sad, route="answer", image_png=b"\x89PNG fake"
    )
    second = store.add_message(
        "s1",
        "assistant",
        "Try this [1]",
        citations=[Citation(1, "cards-declined", "Q")],
        generator="extractive",
        timings_ms={"retrieve": 3.5},
    )
    messages = store.messages("s1")
    assert [m.id for m in messages] == [first.id, second.id]
    assert messages[0].sentiment == sad and messages[0].has_image and not messages[1].has_image
    assert messages[1].citations == (Citation(1, "cards-declined", "Q"),)
    assert messages[1].timings_ms == {"retrieve": 3.5}
    assert store.image(first.id) == b"\x89PNG fake"
    assert store.messages("s1", after_id=first.id) == [messages[1]]


def test_pii_is_redacted_before_it_is_stored(store: ConversationStore) -> None:
    store.add_message("s1", "customer", "my card 4111 1111 1111 1111 was charged twice")
    [message] = store.messages("s1")
    assert "4111" not in message.text and "[CARD]" in message.text
    store.request_handoff("s1", reason="asked", priority=1, summary="Customer wrote 4111 1111 1111 1111")
    assert "4111" not in store.queue()[0].summary


def test_queue_orders_by_priority_then_waiting_time(store: ConversationStore) -> None:
    store.request_handoff("calm", reason="asked for a person", priority=1, summary="")
    store.request_handoff("fraud", reason="possible fraud", priority=3, summary="")
    store.request_handoff("calm2", reason="asked for a person", priority=1, summary="")
    assert [h.session_id for h in store.queue()] == ["fraud", "calm", "calm2"]


def test_repeated_handoff_keeps_its_place_and_raises_priority(store: ConversationStore) -> None:
    store.request_handoff("a", reason="first", priority=1, summary="")
    store.request_handoff("b", reason="first", priority=2, summary="")
    again = store.request_handoff("a", reason="upset", priority=2, summary="newer")
    assert again.priority == 2 and again.reason == "first" and again.summary == "newer"
    assert [h.session_id for h in store.queue()] == ["a", "b"]


def test_claim_reply_resolve(store: ConversationStore) -> None:
    store.add_message("s1", "customer", "help", sentiment=Sentiment(SentimentLabel.NEGATIVE, -0.5))
    store.add_message("s1", "customer", "HELP", sentiment=Sentiment(SentimentLabel.NEGATIVE, -0.9))
    store.request_handoff("s1", reason="upset", priority=2, summary="")
    assert store.queue()[0].sentiment_trend == (-0.5, -0.9)
    reply = store.add_agent_reply("s1", "alice", "Hi, I'm Alice. Let me look.")
    assert reply.role == "agent" and reply.author == "alice"
    assert store.handoff("s1").status == "claimed" and store.handoff("s1").claimed_by == "alice"
    with pytest.raises(HandoffStateError, match="alice has already claimed"):
        store.claim("s1", "bob")
    assert store.resolve("s1", "alice").status == "resolved"
    assert store.queue() == []
    with pytest.raises(HandoffStateError, match="already resolved"):
        store.claim("s1", "alice")


def test_refusals_are_specific(store: ConversationStore) -> None:
    with pytest.raises(ConversationNotFound):
        store.claim("nope", "alice")
    with pytest.raises(ConversationNotFound):
        store.add_agent_reply("nope", "alice", "hello")
    store.request_handoff("s1", reason="r", priority=1, summary="")
    with pytest.raises(AgentError, match="empty"):
        store.add_agent_reply("s1", "alice", "   ")
    with pytest.raises(ValueError, match="unknown role"):
        store.add_message("s1", "robot", "hi")


def test_unanswered_lists_customer_messages_that_ended_without_an_answer(store: ConversationStore) -> None:
    store.add_message("s1", "customer", "what's the weather", route="no_answer")
    store.add_message("s1", "customer", "card declined", route="answer")
    store.add_message("s2", "customer", "PERSON NOW", route="handoff")
    assert [m.text for m in store.unanswered()] == ["PERSON NOW", "what's the weather"]


def test_concurrent_writers_lose_nothing(store: ConversationStore) -> None:
    def write(n: int) -> None:
        for i in range(25):
            store.add_message(f"s{n}", "customer", f"message {i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(store.messages(f"s{n}")) for n in range(4)) == 100


def test_voice_tone_is_stored_with_the_message(store: ConversationStore) -> None:
    features = VoiceFeatures(
        voiced_s=2.1, pitch_st=4.5, pitch_range_st=3.2, level_db=-31.0, tilt_db=-14.5, rate_per_s=4.1
    )
    tone = VoiceTone(agitation=0.82, cues=("raised_pitch", "tense_voice"), baseline_clips=2, features=features)
    spoken = store.add_message("s1", "customer", "where is my refund", voice_tone=tone)
    typed = store.add_message("s1", "customer", "hello")
    assert store.messages("s1")[0].voice_tone == tone == spoken.voice_tone
    assert typed.voice_tone is None


def test_a_database_from_before_voice_tone_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copy(LEGACY_DB, path)  # made by FinDesk 0.1, before the column existed
    with sqlite3.connect(path) as old:
        assert "voice_tone" not in {row[1] for row in old.execute("PRAGMA table_info(conv_messages)")}
    store = ConversationStore(path)
    try:
        assert store.messages("s1")[0].voice_tone is None
        assert store.add_message("s1", "customer", "again").voice_tone is None
    finally:
        store.close()


def test_two_replicas_claiming_at_once_get_exactly_one_winner(database_url: str) -> None:
    """Two stores on two connection pools (as two replicas have) race for the same handoffs."""
    first, second = ConversationStore(open_database(database_url)), ConversationStore(open_database(database_url))
    try:
        for n in range(10):
            first.request_handoff(f"s{n}", reason="upset", priority=1, summary="")
        barrier = threading.Barrier(2)
        outcomes: dict[str, list[str]] = {"alice": [], "bob": []}

        def claim_all(store: ConversationStore, agent: str) -> None:
            for n in range(10):
                barrier.wait()
                try:
                    store.claim(f"s{n}", agent)
                    outcomes[agent].append(f"s{n}")
                except HandoffStateError:
                    pass

        threads = [threading.Thread(target=claim_all, args=a) for a in ((first, "alice"), (second, "bob"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes["alice"] + outcomes["bob"]) == sorted(f"s{n}" for n in range(10))  # one winner each
        for n in range(10):
            winner = "alice" if f"s{n}" in outcomes["alice"] else "bob"
            assert second.handoff(f"s{n}").claimed_by == winner == first.handoff(f"s{n}").claimed_by
    finally:
        first.db.close()
        second.db.close()


def test_open_session_makes_a_random_id_and_keeps_only_the_tokens_hash(store: ConversationStore) -> None:
    session, token = store.open_session(language="en")
    other, other_token = store.open_session()
    assert session != other and len(session) == 32 and token != other_token
    assert store.token_matches(session, token) and not store.token_matches(session, other_token)
    assert not store.token_matches(session, "") and not store.token_matches("unknown", token)
    with store.db.read() as conn:
        stored = conn.execute(sa.text("SELECT session_id, token_hash FROM conv_sessions")).all()
    assert token not in str(stored) and all(h for s, h in stored if s in (session, other))


def test_a_database_from_before_session_tokens_keeps_its_old_chats_closed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copy(LEGACY_DB, path)  # made by FinDesk 0.1, before session tokens
    store = ConversationStore(path)
    try:
        assert store.exists("s1") and not store.token_matches("s1", "anything")  # NULL matches no token
        session, token = store.open_session()
        assert store.token_matches(session, token)
    finally:
        store.close()
