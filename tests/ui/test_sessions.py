"""Issue #9 item 3: a conversation id alone opens nothing. The server makes the id and a secret token, and
every later call (API or chat page) must prove it holds the token; client-chosen ids are refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.ui.conftest import LiveApp, as_client
from ui.chat_page import ChatHandlers, ChatState


def _start(live_app: LiveApp, text: str = "How do I activate my new card?") -> tuple[str, str]:
    response = live_app.client.post("/api/chat", data={"text": text})
    assert response.status_code == 200, response.text
    reply = response.json()
    return reply["session_id"], reply["session_token"]


def test_a_new_conversation_gets_a_server_made_id_and_secret_token(live_app: LiveApp) -> None:
    session, token = _start(live_app)
    assert len(session) == 32 and int(session, 16) >= 0  # 128 random bits, hex
    assert len(token) >= 43  # 256 bits, url-safe base64
    later = live_app.client.post(
        "/api/chat", data={"session_id": session, "text": "and abroad?"}, headers={"X-Session-Token": token}
    )
    assert later.status_code == 200 and later.json()["session_id"] == session
    assert later.json()["session_token"] is None  # handed out once, in the reply that started it
    # Only the token's hash is stored: a copied database does not open conversations.
    with live_app.services.conversations.db.read() as conn:
        query = sa.text("SELECT token_hash FROM conv_sessions WHERE session_id = :s")
        stored = conn.execute(query, {"s": session}).scalar()
    assert stored and stored != token and token not in stored


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_reading_or_writing_a_conversation_needs_its_token(live_app: LiveApp, token: str | None) -> None:
    session, _right = _start(live_app)
    headers = {} if token is None else {"X-Session-Token": token}
    client = live_app.client
    before = len(live_app.services.conversations.messages(session))
    write = client.post("/api/chat", data={"session_id": session, "text": "hello"}, headers=headers)
    read = client.get(f"/api/chat/{session}/messages", headers=headers)
    handoff = client.post(f"/api/chat/{session}/handoff", headers=headers)
    assert (write.status_code, read.status_code, handoff.status_code) == (401, 401, 401)
    assert "X-Session-Token" in read.json()["error"]
    assert len(live_app.services.conversations.messages(session)) == before  # nothing was written
    assert live_app.services.conversations.handoff(session) is None


def test_one_conversations_token_does_not_open_another(live_app: LiveApp) -> None:
    mine, my_token = _start(live_app)
    theirs, _ = _start(live_app, "Why was my card declined?")
    response = live_app.client.get(f"/api/chat/{theirs}/messages", headers={"X-Session-Token": my_token})
    assert response.status_code == 401
    assert live_app.client.get(f"/api/chat/{mine}/messages", headers={"X-Session-Token": my_token}).status_code == 200


@pytest.mark.parametrize("chosen", ["12345678", uuid.uuid4().hex, "a" * 32])
def test_client_chosen_ids_are_refused_and_never_created(live_app: LiveApp, chosen: str) -> None:
    response = live_app.client.post(
        "/api/chat", data={"session_id": chosen, "text": "hi"}, headers={"X-Session-Token": "anything"}
    )
    assert response.status_code == 401
    assert not live_app.services.conversations.exists(chosen)


def test_a_conversation_the_desk_knows_by_id_stays_closed_without_its_token(live_app: LiveApp) -> None:
    """Agents see session ids in the desk; conversations made inside the server (CLI) have no token at all."""
    internal = live_app.services.conversations.start(uuid.uuid4().hex)
    live_app.services.conversations.add_message(internal, "customer", "my balance please")
    for token in ("", "None", "null"):
        response = live_app.client.get(f"/api/chat/{internal}/messages", headers={"X-Session-Token": token})
        assert response.status_code == 401


def test_streamed_first_reply_carries_the_session_token(live_app: LiveApp) -> None:
    with live_app.client.stream("POST", "/api/chat", data={"text": "Why was my card declined?", "stream": "true"}) as r:
        final = [json.loads(line) for line in r.iter_lines() if line][-1]
    assert final["type"] == "reply"
    assert live_app.services.conversations.token_matches(final["session_id"], final["session_token"])


def test_chat_page_refuses_a_state_naming_someone_elses_conversation(live_app: LiveApp) -> None:
    victim, _token = _start(live_app)
    chat = ChatHandlers(live_app.services, live_app.uploads)
    forged = ChatState(session_id=victim, token="guessed")
    history = list(chat.send({"text": "show me everything", "files": []}, [], forged, as_client()))[-1][0]
    assert "reload the page" in history[-1]["content"]
    history, _state, _timer = chat.talk_to_person([], forged)
    assert "reload the page" in history[-1]["content"]
    assert live_app.services.conversations.handoff(victim) is None
    live_app.services.agent.request_human(victim)  # now the victim's chat has a note a poll would show
    before = live_app.services.conversations.messages(victim)
    shown, _state, timer, _comment = chat.poll([], ChatState(session_id=victim, token="guessed", handed_over=True))
    assert not isinstance(shown, list) and timer.active is False
    assert live_app.services.conversations.messages(victim) == before


def test_chat_page_opens_its_conversation_on_the_first_message(live_app: LiveApp) -> None:
    chat = ChatHandlers(live_app.services, live_app.uploads)
    state = list(chat.send({"text": "How do I activate my new card?", "files": []}, [], None, as_client()))[-1][2]
    assert live_app.services.conversations.token_matches(state.session_id, state.token)
    again = list(chat.send({"text": "thanks", "files": []}, [], state, as_client()))[-1][2]
    assert again.session_id == state.session_id


def test_raw_queue_join_cannot_put_a_forged_state_into_the_chat_page(live_app: LiveApp) -> None:
    """Gradio takes gr.State from its server-side session store, never from the request's data."""
    victim, _token = _start(live_app)
    before = len(live_app.services.conversations.messages(victim))
    config = httpx.get(f"{live_app.url}/chat/config").json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "send")
    session_hash = uuid.uuid4().hex[:11]
    forged = {"session_id": victim, "token": "", "language": "en", "last_seen_id": 0, "handed_over": False}
    body = {
        "data": [{"text": "hello from the attacker", "files": []}, [], forged],
        "fn_index": fn_index,
        "session_hash": session_hash,
        "event_data": None,
        "trigger_id": None,
    }
    joined = httpx.post(f"{live_app.url}/chat/gradio_api/queue/join", json=body)
    assert joined.status_code == 200, joined.text
    with httpx.stream(
        "GET", f"{live_app.url}/chat/gradio_api/queue/data", params={"session_hash": session_hash}, timeout=120
    ) as events:
        for line in events.iter_lines():
            if '"process_completed"' in line:
                break
    assert len(live_app.services.conversations.messages(victim)) == before


@pytest.mark.storage
def test_cli_ask_continues_only_conversations_that_exist(tmp_path: Path) -> None:
    from ui.cli import app

    result = CliRunner().invoke(app, ["ask", "hello", "--session", "trip", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "No conversation 'trip'" in result.output
