"""The chat features of issue 13 in a real browser: choices as buttons, the out-of-hours message, the widget.

Its own `findesk serve`, configured the way a bank would: opening hours that are closed right now (one
short weekday slot, never today) and one allowed embedding origin, a page on another loopback port.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent.canned import Canned, CannedStore
from agent.opening_hours import DAYS
from retrieval.database import open_database
from tests import engines
from tests.ui.test_browser import (
    PASSWORD,
    WAIT_MS,
    _ask,
    _chat_page,
    _free_port,
    _wait_for_reply,
    browser,
    serve_findesk,
    skip_without_a_browser,
)
from ui.auth import UserStore

__all__ = ["browser"]  # test_browser's fixture, launched against this module's own server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERVERS: dict[str, Path] = {}  # url -> data dir (its agent token is in alice.token)
CLARIFYING = "going to Japan next month, anything I need to do so my card works?"  # a weak match: choices


@pytest.fixture(scope="module")
def host_ports() -> tuple[int, int]:
    """The bank's site (allowed to embed the chat) and some other site (not allowed)."""
    return _free_port(), _free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, host_ports: tuple[int, int]) -> Iterator[str]:
    skip_without_a_browser()
    data_dir = tmp_path_factory.mktemp("findesk-browser-chat")
    with closing(open_database(engines.database_url(data_dir))) as db:
        users = UserStore(db)
        users.add("alice", "agent", PASSWORD)
        users.add("bob", "agent", PASSWORD)
        users.add("olga", "operator", PASSWORD)
        (data_dir / "alice.token").write_text(users.issue_token("alice"))
        text = "Hi {customer_name}, this is {agent_name}: I checked your transfer and it arrives today."
        CannedStore(db).save(Canned("transfer-checked", "en", "Transfer checked", text), actor="olga")
    open_day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]  # never today, so the team is away now
    env = {
        **os.environ,
        "FINDESK_OPENING_HOURS__TIMEZONE": "UTC",
        **{f"FINDESK_OPENING_HOURS__{day.upper()}": "09:00-10:00" if day == open_day else "" for day in DAYS},
        "FINDESK_WEB__EMBEDDING_ORIGINS": f'["http://127.0.0.1:{host_ports[0]}"]',
    }
    with serve_findesk(data_dir, env) as url:
        SERVERS[url] = data_dir
        try:
            yield url
        finally:
            SERVERS.pop(url, None)


@pytest.fixture(scope="module")
def bank_sites(server: str, host_ports: tuple[int, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Both host sites serve one page with the single script tag a bank adds."""
    folder = tmp_path_factory.mktemp("bank-site")
    (folder / "index.html").write_text(
        f'<!doctype html><html><body><h1>Example Bank</h1><script src="{server}/widget.js"></script></body></html>'
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    sites = [ThreadingHTTPServer(("127.0.0.1", port), handler) for port in host_ports]
    for site in sites:
        threading.Thread(target=site.serve_forever, daemon=True).start()
    yield
    for site in sites:
        site.shutdown()
        site.server_close()


def test_did_you_mean_choices_are_buttons(browser, server: str) -> None:  # noqa: ANN001
    page = _chat_page(browser, server)
    _ask(page, CLARIFYING)
    _wait_for_reply(page, "Did you mean")
    choice = page.locator("#chat button").filter(has_text="2. ").first
    label = choice.inner_text().strip()[3:]
    choice.click()
    page.locator("#chat").get_by_text("Sources (1)", exact=False).first.wait_for(timeout=WAIT_MS)
    page.locator("#chat").get_by_text("Sources (1)", exact=False).first.click()
    _wait_for_reply(page, label)  # the cited source is the entry the customer picked
    page.close()


def test_out_of_hours_handoff_says_when_a_person_will_reply(browser, server: str) -> None:  # noqa: ANN001
    page = _chat_page(browser, server)
    _ask(page, "How do I activate my new card?")
    _wait_for_reply(page, "Sources")
    page.click("#talk-to-person")
    _wait_for_reply(page, "Our team is away right now: a person will reply from")
    page.close()


def test_the_widget_opens_the_chat_on_an_allowed_site(browser, server: str, host_ports, bank_sites) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"http://127.0.0.1:{host_ports[0]}/")
    page.click("#findesk-widget-button")
    chat = page.frame_locator("#findesk-widget-frame")
    box = chat.locator("#chat-input textarea")
    box.wait_for(timeout=WAIT_MS)
    box.fill("How do I activate my new card?")
    box.press("Enter")
    chat.locator("#chat").get_by_text("Sources", exact=False).first.wait_for(timeout=WAIT_MS)
    page.close()


def test_the_widget_shows_nothing_on_a_site_that_is_not_allowed(browser, server: str, host_ports, bank_sites) -> None:  # noqa: ANN001
    page = browser.new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.goto(f"http://127.0.0.1:{host_ports[1]}/", wait_until="load")
    assert page.locator("#findesk-widget-button").count() == 0
    assert any("not an allowed embedding origin" in text for text in warnings)
    # A frame made by hand is refused by the browser itself: the pages' CSP frame-ancestors is the same list.
    page.evaluate(
        "url => { const f = document.createElement('iframe'); f.id = 'by-hand'; f.src = url;"
        " document.body.appendChild(f); }",
        f"{server}/chat/",
    )
    frame = page.locator("#by-hand").element_handle().content_frame()
    deadline = time.monotonic() + WAIT_MS / 1000
    while not frame.url.startswith("chrome-error://") and time.monotonic() < deadline:
        assert frame.locator("#chat-input").count() == 0, "the chat loaded in a frame on a site not allowed"
        page.wait_for_timeout(200)
    assert frame.url.startswith("chrome-error://")  # what Chromium shows for a frame its CSP refused
    page.close()


def _agent(server: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(SERVERS[server] / 'alice.token').read_text()}"}


def _newest_handoff(server: str) -> str:
    queue = httpx.get(f"{server}/api/handoffs", headers=_agent(server), timeout=30).json()
    return max(queue, key=lambda h: h["created_at"])["session_id"]


def test_thumbs_down_leads_to_a_person(browser, server: str) -> None:  # noqa: ANN001
    page = _chat_page(browser, server)
    _ask(page, "How do I activate my new card?")
    _wait_for_reply(page, "Sources")
    page.locator("#chat").get_by_label("Dislike").last.click()
    _wait_for_reply(page, "Sorry that didn't help")
    page.locator("#chat button").filter(has_text="Talk to a person").last.click()
    _wait_for_reply(page, "a person will reply from")  # handed over (out of hours here)
    page.close()


def test_rating_after_resolution(browser, server: str) -> None:  # noqa: ANN001
    page = _chat_page(browser, server)
    _ask(page, "My transfer hasn't arrived yet")
    _wait_for_reply(page, "Sources")
    page.click("#talk-to-person")
    _wait_for_reply(page, "a person will reply from")
    session = _newest_handoff(server)
    reply = httpx.post(f"{server}/api/handoffs/{session}/reply", headers=_agent(server),
                       json={"text": "It arrives today."}, timeout=30)  # fmt: skip
    assert reply.status_code == 200, reply.text
    _wait_for_reply(page, "It arrives today.")
    assert httpx.post(f"{server}/api/handoffs/{session}/resolve", headers=_agent(server), timeout=30).is_success
    _wait_for_reply(page, "Please rate this conversation")
    page.locator("#rating-comment textarea").fill("Sorted in minutes by a <b>friendly</b> agent, thanks!")
    page.locator("#chat button").filter(has_text="★★★★★ 5").click()
    _wait_for_reply(page, "Thank you for your rating and your comment!")
    page.locator("#rating-comment").wait_for(state="hidden", timeout=WAIT_MS)  # offered once
    page.close()

    console = _login(browser, server, "/console/", "olga", PASSWORD)
    console.get_by_role("tab", name="Reports").click()
    console.click("#report-show")
    comments = console.locator("#report-comments")
    comments.get_by_text("Sorted in minutes by a <b>friendly</b> agent", exact=False).wait_for(timeout=WAIT_MS)
    assert "★★★★★ (5)" in comments.inner_text() and "alice" in comments.inner_text()
    console.close()


def _login(browser, server: str, path: str, user: str, password: str):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(f"{server}{path}")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}{path}", timeout=WAIT_MS)
    return page


def test_agent_uses_a_canned_response_and_a_private_note_the_customer_never_sees(browser, server: str) -> None:  # noqa: ANN001
    customer = _chat_page(browser, server)
    _ask(customer, "My transfer to my landlord hasn't arrived")
    _wait_for_reply(customer, "landlord")  # the question is shown, and the input is back once the reply is done
    customer.click("#talk-to-person")
    _wait_for_reply(customer, "a person will reply from")

    desk = _login(browser, server, "/desk/", "alice", PASSWORD)
    desk.locator("#desk-picker input").click()
    desk.get_by_role("option").filter(has_text="landlord").first.click()
    desk.locator("#desk-transcript").get_by_text("landlord", exact=False).first.wait_for(timeout=WAIT_MS)
    desk.locator("#desk-note textarea").fill("Private: landlord is the customer's brother; SWIFT ref 7781.")
    desk.click("#desk-add-note")
    desk.locator("#desk-notes").get_by_text("SWIFT ref 7781", exact=False).wait_for(timeout=WAIT_MS)
    desk.locator("#desk-canned input").click()
    desk.get_by_role("option").filter(has_text="/transfer-checked").first.click()
    box = desk.locator("#desk-reply textarea")
    expect_value = "Hi there, this is alice: I checked your transfer and it arrives today."
    desk.wait_for_function("v => document.querySelector('#desk-reply textarea').value === v", arg=expect_value,
                           timeout=WAIT_MS)  # fmt: skip
    assert box.input_value() == expect_value
    desk.click("#desk-send")
    _wait_for_reply(customer, "it arrives today")
    if (shots := os.environ.get("FINDESK_SCREENSHOTS")) is not None:
        Path(shots).mkdir(parents=True, exist_ok=True)
        desk.screenshot(path=str(Path(shots) / "desk_team.png"), full_page=True)
    customer.wait_for_timeout(2 * 2000)  # two more polls: nothing else arrives
    assert "7781" not in customer.locator("#chat").inner_text()
    desk.close()
    customer.close()


def test_operator_sees_the_reports_tab(browser, server: str) -> None:  # noqa: ANN001
    console = _login(browser, server, "/console/", "olga", PASSWORD)
    console.get_by_role("tab", name="Reports").click()
    console.click("#report-show")
    console.locator("#report-summary").get_by_text("conversations", exact=False).wait_for(timeout=WAIT_MS)
    assert "handed over" in console.locator("#report-summary").inner_text()
    if (shots := os.environ.get("FINDESK_SCREENSHOTS")) is not None:
        console.wait_for_timeout(1500)  # let the plots draw
        console.screenshot(path=str(Path(shots) / "reports.png"), full_page=True)
    console.close()


def _hand_over_by_api(server: str, text: str) -> str:
    """A customer of the HTTP API asks, then presses "talk to a person"; the conversation's id."""
    reply = httpx.post(f"{server}/api/chat", data={"text": text, "language": "en"}, timeout=120).json()
    token = {"X-Session-Token": reply["session_token"]}
    handed = httpx.post(f"{server}/api/chat/{reply['session_id']}/handoff", headers=token, timeout=60)
    assert handed.status_code == 200, handed.text
    return reply["session_id"]


def test_round_robin_assignment_across_two_agents(browser, server: str) -> None:  # noqa: ANN001
    """alice and bob say they are available on their desks; two new handoffs go one to each, and each desk
    shows "you" on its own and the other agent's name on the other's; then alice hands hers to bob."""
    for left in httpx.get(f"{server}/api/handoffs", headers=_agent(server), timeout=30).json():
        # The earlier tests' chats would be assigned first (and fill the table past what Gradio draws at once).
        httpx.post(f"{server}/api/handoffs/{left['session_id']}/resolve", headers=_agent(server), timeout=30)
    desks = {name: _login(browser, server, "/desk/", name, PASSWORD) for name in ("alice", "bob")}
    for desk in desks.values():
        desk.locator("#desk-status").get_by_label("available").check()
        desk.locator("#desk-team-status").get_by_text("you available", exact=False).wait_for(timeout=WAIT_MS)
    words = {"first": "round robin first: the ATM kept my card", "second": "round robin second: my card expired"}
    sessions = {key: _hand_over_by_api(server, text) for key, text in words.items()}
    queue = httpx.get(f"{server}/api/handoffs", headers=_agent(server), timeout=30).json()
    owners = {key: next(h["claimed_by"] for h in queue if h["session_id"] == s) for key, s in sessions.items()}
    assert sorted(owners.values()) == ["alice", "bob"]  # one each: round-robin, not both to the first in line

    for name, desk in desks.items():
        for key, owner in owners.items():
            seen = "you" if owner == name else owner
            desk.wait_for_function(  # Gradio 6 draws rows as role=row divs
                "([words, seen]) => [...document.querySelectorAll('#desk-queue [role=row]')].some(r => "
                "r.innerText.includes(words) && r.innerText.includes(seen))",
                arg=[words[key][:28], seen],
                timeout=WAIT_MS,
            )
    if (shots := os.environ.get("FINDESK_SCREENSHOTS")) is not None:
        Path(shots).mkdir(parents=True, exist_ok=True)
        desks["alice"].screenshot(path=str(Path(shots) / "desk_assign.png"), full_page=True)

    # alice gives hers to bob from her desk: bob's desk now says "you" on both.
    alice, bob = desks["alice"], desks["bob"]
    mine = next(key for key, owner in owners.items() if owner == "alice")
    alice.locator("#desk-picker input").click()
    alice.get_by_role("option").filter(has_text=words[mine][:28]).first.click()
    alice.locator("#desk-assignee input").click()
    alice.get_by_role("option", name="bob", exact=True).click()
    alice.click("#desk-assign")
    bob.wait_for_function(
        "() => [...document.querySelectorAll('#desk-queue [role=row]')]"
        ".filter(r => r.innerText.includes('round robin') && r.innerText.includes('you')).length === 2",
        timeout=WAIT_MS,
    )
    for desk in desks.values():
        desk.locator("#desk-status").get_by_label("away").check()
        desk.locator("#desk-team-status").get_by_text("you away", exact=False).wait_for(timeout=WAIT_MS)
        desk.close()
