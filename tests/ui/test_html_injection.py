"""Customer text and FAQ answers reach the pages as inert HTML; every response carries the security headers.

These check the HTML the handlers hand to Gradio; tests/ui/test_browser_security.py checks what a real
browser then does with it.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from agent.types import Turn
from retrieval.types import FaqEntry
from tests.ui.conftest import LiveApp, as_client
from ui.app import build_app
from ui.chat_page import ChatHandlers
from ui.desk_page import DeskHandlers, summary_html
from ui.safe_html import markdown_html, text_html
from ui.security_headers import content_security_policy

FORM = '<form action="http://127.0.0.1:9/steal"><input type="password" name="pw"><button>Verify</button></form>'
PAYLOADS = (FORM, "![x](/logout)", '<img src="http://127.0.0.1:9/pixel.gif">', "![p](http://127.0.0.1:9/md.gif)",
            "[sign out](/logout)", "[click](javascript:alert(1))")  # fmt: skip


def _inert(html: str) -> None:
    lowered = html.lower()
    for live in ("<form", "<input", "<img", "<button", '<a href="/logout"', 'href="javascript'):
        assert live not in lowered, (live, html)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_customer_text_is_escaped_and_markdown_is_defused(payload: str) -> None:
    _inert(text_html(payload))
    _inert(markdown_html(payload))
    assert text_html(FORM).startswith("&lt;form")


def test_markdown_keeps_formatting_and_safe_links_only() -> None:
    shown = markdown_html("**Call us** on [0800 123](tel:0800123) or see [help](https://bank.example/help).\n- one")
    assert "<strong>Call us</strong>" in shown and 'href="tel:0800123"' in shown
    assert 'href="https://bank.example/help"' in shown and 'rel="noopener noreferrer nofollow"' in shown
    assert "<li>one</li>" in shown
    assert "<a" not in markdown_html("[home](/) [rel](../logout) [data](data:text/html,hi)")


def test_desk_shows_customer_payloads_as_text(live_app: LiveApp) -> None:
    session = uuid.uuid4().hex
    for payload in PAYLOADS:
        live_app.services.agent.ask(Turn(session_id=session, text=payload))
    live_app.services.agent.request_human(session)
    desk = DeskHandlers(live_app.services, live_app.users, live_app.uploads)
    _current, summary, transcript, _shots, _dataset, _ = desk.open(session, as_client("alice"))
    customer = [m["content"] for m in transcript if m["role"] == "user"]
    assert len(customer) == len(PAYLOADS) and customer[0].startswith("&lt;form")
    for shown in [summary, *customer]:
        _inert(shown)
    handoff = live_app.services.conversations.handoff(session)
    assert handoff is not None
    _inert(summary_html(handoff))
    # The queue table and picker get plain text (str cells, option labels), which Gradio shows as text:
    # tests/ui/test_browser_security.py checks that in a browser.


def test_chat_shows_faq_answers_without_live_html(live_app: LiveApp) -> None:
    kb = live_app.services.knowledge_base
    question = f"How do I verify my vault pin {uuid.uuid4().hex[:6]}?"
    answer = "Open **Settings**, then tap Verify. " + " ".join(PAYLOADS)
    entry = kb.add(FaqEntry(id="", question=question, answer=answer, category="cards", language="en"), actor="t")
    try:
        chat = ChatHandlers(live_app.services, live_app.uploads)
        history = list(chat.send({"text": question, "files": []}, [], None, as_client()))[-1][0]
        reply = history[1]["content"]
        assert "<strong>Settings</strong>" in reply
        _inert(reply)
        user = list(chat.send({"text": FORM, "files": []}, [], None, as_client()))[-1][0][0]["content"]
        assert user.startswith("&lt;form")
    finally:
        kb.delete(entry.id, actor="t")


@pytest.mark.parametrize("path", ["/chat/", "/login", "/logout", "/api/faq/status", "/healthz", "/desk/config"])
def test_every_response_carries_the_security_headers(live_app: LiveApp, path: str) -> None:
    response = httpx.get(live_app.url + path, headers=live_app.auth("agent"))
    policy = response.headers["content-security-policy"]
    for directive in ("form-action 'self'", "img-src 'self' data:", "frame-ancestors 'self'", "object-src 'none'"):
        assert directive in policy, (path, policy)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_frame_ancestors_follow_the_embedding_setting(live_app: LiveApp) -> None:
    assert "frame-ancestors 'self' https://www.bank.example" in content_security_policy(("https://www.bank.example",))
    settings = live_app.settings.model_copy(update={"web": live_app.settings.web.model_copy(
        update={"embedding_origins": ("https://www.bank.example",)})})  # fmt: skip
    app = build_app(settings, services=live_app.services, users=live_app.users)
    from fastapi.testclient import TestClient

    policy = TestClient(app).get("/healthz").headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.bank.example" in policy


def test_docs_page_may_load_swagger_ui_from_its_cdn_only(live_app: LiveApp) -> None:
    policy = httpx.get(live_app.url + "/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in policy
    chat_policy = httpx.get(live_app.url + "/chat/").headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in chat_policy
