"""The chat features of issue 13 in a real browser: choices as buttons, the out-of-hours message, the widget.

Its own `findesk serve`, configured the way a bank would: opening hours that are closed right now (one
short weekday slot, never today) and one allowed embedding origin, a page on another loopback port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent.opening_hours import DAYS
from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _ask, _chat_page, _free_port, _wait_for_reply

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLARIFYING = "going to Japan next month, anything I need to do so my card works?"  # a weak match: choices


@pytest.fixture(scope="module")
def host_ports() -> tuple[int, int]:
    """The bank's site (allowed to embed the chat) and some other site (not allowed)."""
    return _free_port(), _free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, host_ports: tuple[int, int]) -> Iterator[str]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (its driver ships in the wheel)")
    data_dir = tmp_path_factory.mktemp("findesk-browser-chat")
    open_day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]  # never today, so the team is away now
    env = {
        **os.environ,
        "FINDESK_OPENING_HOURS__TIMEZONE": "UTC",
        **{f"FINDESK_OPENING_HOURS__{day.upper()}": "09:00-10:00" if day == open_day else "" for day in DAYS},
        "FINDESK_WEB__EMBEDDING_ORIGINS": f'["http://127.0.0.1:{host_ports[0]}"]',
    }
    port = _free_port()
    findesk = shutil.which("findesk", path=str(Path(sys.executable).parent)) or "findesk"
    log = (data_dir / "serve.log").open("wb")
    cmd = [findesk, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 400  # a busy shared 2-core machine loads the models slowly
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"findesk serve did not start:\n{(data_dir / 'serve.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


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


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


def test_the_widget_shows_nothing_on_a_site_that_is_not_allowed(browser, host_ports, bank_sites) -> None:  # noqa: ANN001
    page = browser.new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.goto(f"http://127.0.0.1:{host_ports[1]}/", wait_until="load")
    assert page.locator("#findesk-widget-button").count() == 0
    assert any("not an allowed embedding origin" in text for text in warnings)
    page.close()
