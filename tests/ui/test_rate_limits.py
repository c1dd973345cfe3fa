"""Issue #9 item 11: chat turns and handoff requests are rate limited per conversation and per address."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.settings import SecurityConfig
from tests.ui.conftest import LiveApp, as_client
from ui.api import api_router, install_error_handlers
from ui.chat_page import ChatHandlers
from ui.rate_limits import RateLimited, RateLimits

STRICT = SecurityConfig(
    chat_turns_per_session="2/minute",
    chat_turns_per_address="3/minute",
    handoffs_per_session="1/hour",
    handoffs_per_address="2/hour",
)


def _api(live_app: LiveApp) -> TestClient:
    """The JSON API on the live app's services, with its own, strict limits."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api_router(live_app.services, live_app.users, RateLimits(STRICT)))
    return TestClient(app)


def test_chat_turns_past_the_per_conversation_limit_get_429_with_retry_after(live_app: LiveApp) -> None:
    client = _api(live_app)
    first = client.post("/api/chat", data={"text": "How do I activate my new card?"}).json()
    own = {"X-Session-Token": first["session_token"]}
    turn = {"session_id": first["session_id"], "text": "and abroad?"}
    assert client.post("/api/chat", data=turn, headers=own).status_code == 200
    refused = client.post("/api/chat", data=turn, headers=own)
    assert refused.status_code == 429 and "please wait" in refused.json()["error"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert len(live_app.services.conversations.messages(first["session_id"])) == 4  # two turns, not three


def test_an_address_cannot_flood_with_new_or_empty_conversations(live_app: LiveApp) -> None:
    client = _api(live_app)
    for _ in range(3):  # empty turns are refused (422) but still count: they cost the server too
        assert client.post("/api/chat", data={"text": " "}).status_code == 422
    flood = client.post("/api/chat", data={"text": "How do I activate my new card?"})
    assert flood.status_code == 429 and int(flood.headers["Retry-After"]) > 0


def test_handoff_requests_are_limited_per_conversation(live_app: LiveApp) -> None:
    client = _api(live_app)
    first = client.post("/api/chat", data={"text": "My transfer hasn't arrived"}).json()
    own = {"X-Session-Token": first["session_token"]}
    assert client.post(f"/api/chat/{first['session_id']}/handoff", headers=own).status_code == 200
    again = client.post(f"/api/chat/{first['session_id']}/handoff", headers=own)
    assert again.status_code == 429 and "Retry-After" in again.headers


def test_chat_page_says_to_slow_down_and_keeps_the_typed_text(live_app: LiveApp) -> None:
    chat = ChatHandlers(live_app.services, live_app.uploads, RateLimits(STRICT))
    request = as_client(host="198.51.100.23")
    state = None
    for _ in range(2):
        *_, (history, _box, state, _timer, _talk) = chat.send(
            {"text": "How do I activate my card?"}, [], state, request
        )
    *_, last = chat.send({"text": "hello?", "files": []}, history, state, request)
    assert "please wait" in last[0][-1]["content"] and "s and send it again" in last[0][-1]["content"]
    assert last[1] is not None and not hasattr(last[1], "value")  # gr.skip(): the customer's text stays
    assert len(live_app.services.conversations.messages(state.session_id)) == 4
    history, state, _timer = chat.talk_to_person(history, state, request)
    history, state, _timer = chat.talk_to_person(history, state, request)
    assert "please wait" in history[-1]["content"]


def test_rate_settings_are_checked_when_loaded() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        SecurityConfig(chat_turns_per_session="lots")
    limits = RateLimits(STRICT)
    limits.hit("handoff", session_id="a", address="x")
    with pytest.raises(RateLimited) as refused:
        limits.hit("handoff", session_id="a", address="y")
    assert refused.value.retry_after_s > 3_000  # an hour's window
