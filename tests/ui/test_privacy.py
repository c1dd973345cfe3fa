"""Issue #9 item 6 at the app level: no unredacted copies of a conversation, and the bank's own numbers kept."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from gradio.utils import get_upload_folder

from tests.ui.conftest import LiveApp


def _chat_over_the_queue(live_app: LiveApp, text: str) -> str:
    """One chat turn as a browser sends it (raw queue/join); returns the Gradio session hash."""
    config = httpx.get(f"{live_app.url}/chat/config").json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "send")
    session_hash = uuid.uuid4().hex[:11]
    body = {"data": [{"text": text, "files": []}, [], None], "fn_index": fn_index, "session_hash": session_hash,
            "event_data": None, "trigger_id": None}  # fmt: skip
    assert httpx.post(f"{live_app.url}/chat/gradio_api/queue/join", json=body).status_code == 200
    with httpx.stream(
        "GET", f"{live_app.url}/chat/gradio_api/queue/data", params={"session_hash": session_hash}, timeout=120
    ) as events:
        for line in events.iter_lines():
            if '"process_completed"' in line:
                break
    return session_hash


def test_deep_links_cannot_write_a_conversation_to_disk(live_app: LiveApp) -> None:
    marker = uuid.uuid4().hex  # this run's words, told apart from anything else in Gradio's shared folder
    secret = f"my card 4111 1111 1111 1111 was stolen, {marker}"
    session_hash = _chat_over_the_queue(live_app, secret)
    deep_links = Path(get_upload_folder()) / "deep_links"
    before = set(deep_links.rglob("state.json")) if deep_links.exists() else set()
    for page in ("chat", "desk", "console"):
        headers = live_app.auth("agent" if page == "desk" else "operator") if page != "chat" else {}
        response = httpx.get(
            f"{live_app.url}/{page}/gradio_api/deep_link", params={"session_hash": session_hash}, headers=headers
        )
        assert response.status_code == 404, (page, response.text)
    after = set(deep_links.rglob("state.json")) if deep_links.exists() else set()
    assert after == before
    assert not any(marker in path.read_text(errors="ignore") for path in after)


def test_a_reply_quoting_the_faq_keeps_the_banks_hotline_but_not_the_customers_number(live_app: LiveApp) -> None:
    reply = live_app.client.post(
        "/api/chat", data={"text": "I lost my card, call me back on (415) 555-0132 please"}
    ).json()
    assert "+1-800-555-0100" in reply["text"]  # the FAQ's first steps for a lost card name the hotline
    stored = live_app.services.conversations.messages(reply["session_id"])
    customer, assistant = stored[0], next(m for m in stored if m.role == "assistant")
    assert "[PHONE]" in customer.text and "555-0132" not in customer.text
    assert "+1-800-555-0100" in assistant.text and "[PHONE]" not in assistant.text
