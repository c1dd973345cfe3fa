"""Grouping unanswered customer messages by meaning with the real MiniLM embedder (offline pack)."""

from __future__ import annotations

import pytest

from agent.conversations import StoredMessage
from agent.unanswered import DEFAULT_THRESHOLD, group_unanswered, threshold_for
from retrieval.embedders import load_embedder


@pytest.fixture(scope="module")
def embedder():  # noqa: ANN201
    model = load_embedder("all-MiniLM-L6-v2")
    try:
        model.warm_up()
    except Exception as error:  # the offline pack is part of the dev install; say so if it is missing
        pytest.skip(f"all-MiniLM-L6-v2 is not available here: {error}")
    return model


def _message(i: int, text: str, session: str = "s1", route: str = "no_answer") -> StoredMessage:
    at = f"2026-11-22T10:{i:02d}:00"
    return StoredMessage(id=i, session_id=session, role="customer", text=text, at=at, route=route)


def test_paraphrases_group_together_biggest_group_first(embedder) -> None:  # noqa: ANN001
    messages = [
        _message(1, "Do you offer crypto trading?", "a"),
        _message(2, "Is cryptocurrency trading available?", "b"),
        _message(3, "What are your branch opening hours on Sunday?", "c", route="handoff"),
        _message(7, "Do you have student accounts?", "f"),
        _message(4, "can i trade cryptocurrency with you", "d"),
        _message(5, "is cryptocurrency trading available?", "b"),
        _message(6, "(screenshot)", "e"),
    ]
    groups = group_unanswered(messages, embedder)
    assert [g.count for g in groups] == [4, 1, 1]
    crypto = groups[0]
    assert crypto.sessions == 3
    assert set(crypto.message_ids) == {1, 2, 4, 5}
    assert len(crypto.examples) == 3  # the repeated phrasing is listed once
    assert crypto.last_at == "2026-11-22T10:05:00"
    assert groups[1].question == "Do you have student accounts?"  # newest first among equals
    assert groups[2].routes == ("handoff",)


def test_threshold_controls_how_much_is_merged(embedder) -> None:  # noqa: ANN001
    messages = [_message(1, "Do you offer crypto trading?"), _message(2, "What are your opening hours?")]
    assert len(group_unanswered(messages, embedder, threshold=0.99)) == 2
    assert len(group_unanswered(messages, embedder, threshold=-1.0)) == 1
    assert threshold_for(embedder.name) == DEFAULT_THRESHOLD
    assert threshold_for("multilingual-e5-small") > DEFAULT_THRESHOLD


def test_nothing_to_group(embedder) -> None:  # noqa: ANN001
    assert group_unanswered([], embedder) == []
    assert group_unanswered([_message(1, "  ")], embedder) == []
