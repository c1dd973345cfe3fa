"""The product in a real browser: headless Debian Chromium driven by Playwright against `findesk serve`.

The server is a subprocess on a free loopback port with a temp data dir (the shipped default FAQ, the
offline models, the extractive generator). Set FINDESK_SCREENSHOTS=docs/screenshots to refresh the
README's screenshots from this run. FINDESK_BROWSER_TEST_URL runs the flows against a server you started
instead (it needs users alice/agent and olga/operator with the password below).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from retrieval.database import open_database
from tests import engines
from ui.auth import UserStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"
WAIT_MS = 60_000  # the first answer may still be loading models on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_findesk(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`findesk serve` on a free loopback port with `data_dir`; yields its URL once /healthz answers."""
    port = _free_port()
    findesk = shutil.which("findesk", path=str(Path(sys.executable).parent)) or "findesk"
    log = (data_dir / "serve.log").open("wb")
    cmd = [findesk, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    env = engines.process_env(data_dir, env)  # the data folder's database on the engine under test
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


def skip_without_a_browser() -> None:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (its driver ships in the wheel)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    skip_without_a_browser()
    if existing := os.environ.get("FINDESK_BROWSER_TEST_URL"):  # a server you started, with alice and olga
        yield existing.rstrip("/")
        return
    data_dir = tmp_path_factory.mktemp("findesk-browser")
    with closing(open_database(engines.database_url(data_dir))) as db:
        users = UserStore(db)
        users.add("alice", "agent", PASSWORD)
        users.add("olga", "operator", PASSWORD)
    with serve_findesk(data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _shots_dir() -> Path | None:
    target = os.environ.get("FINDESK_SCREENSHOTS")
    return Path(target) if target else None


def _chat_page(browser, server: str):  # noqa: ANN001, ANN202 - playwright objects
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/chat/")
    page.locator("#chat-input textarea").wait_for(timeout=WAIT_MS)
    return page


def _ask(page, question: str, *, attach: Path | None = None) -> None:  # noqa: ANN001
    if attach is not None:
        page.locator("#chat-input input[type=file]").set_input_files(str(attach))
        page.locator("#chat-input img, #chat-input .thumbnail-item").first.wait_for(timeout=WAIT_MS)
    box = page.locator("#chat-input textarea")
    box.fill(question)
    box.press("Enter")


def _wait_for_reply(page, text: str) -> None:  # noqa: ANN001
    page.locator("#chat").get_by_text(text, exact=False).first.wait_for(timeout=WAIT_MS)
    # The input is disabled while a reply streams; once it is back the chat will not re-render this turn.
    page.locator("#chat-input textarea:not([disabled])").wait_for(timeout=WAIT_MS)


def _login(browser, server: str, path: str, user: str):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}{path}")
    assert "/login" in page.url  # the staff page sent an anonymous browser to sign in
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}{path}", timeout=WAIT_MS)
    return page


def error_screenshot(path: Path) -> Path:
    """A phone-style app screen showing error E2002 from the app error-code table."""
    image = Image.new("RGB", (720, 400), "white")
    draw = ImageDraw.Draw(image)
    title, body = ImageFont.load_default(size=40), ImageFont.load_default(size=34)
    draw.rectangle((0, 0, 720, 80), fill=(31, 111, 235))
    draw.text((24, 18), "Transfer confirmation", font=title, fill="white")
    draw.text((24, 150), "Error E2002", font=title, fill=(180, 35, 24))
    draw.text((24, 220), "Daily transfer limit reached", font=body, fill="black")
    image.save(path)
    return path


def test_customer_gets_a_cited_answer(browser, server: str) -> None:  # noqa: ANN001
    page = _chat_page(browser, server)
    _ask(page, "I lost my debit card, what should I do?")
    _wait_for_reply(page, "Freeze the card")
    sources = page.locator("#chat").get_by_text("Sources", exact=False).first
    sources.wait_for(timeout=WAIT_MS)
    sources.click()  # expand the collapsed sources: the cited FAQ question is listed
    _wait_for_reply(page, "My card is lost or stolen")
    page.close()


def test_screenshot_of_an_app_error_gets_the_matching_answer(browser, server: str, tmp_path: Path) -> None:  # noqa: ANN001
    page = _chat_page(browser, server)
    _ask(page, "what does this mean?", attach=error_screenshot(tmp_path / "e2002.png"))
    _wait_for_reply(page, "daily transfer limit")  # the answer of the E2002 entry, found from the OCR'd text
    page.locator("#chat").get_by_text("Sources", exact=False).last.click()
    _wait_for_reply(page, "E2002")  # the cited entry is the one for this error code
    if (shots := _shots_dir()) is not None:
        shots.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(800)  # let the sources finish expanding
        page.screenshot(path=str(shots / "chat.png"), full_page=True)
    page.close()


def test_operator_adds_an_entry_that_a_customer_then_finds(browser, server: str) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    console = _login(browser, server, "/console/", "olga")
    console.locator("#faq-question textarea").fill("Can I open a savings account for my child?")
    console.locator("#faq-answer textarea").fill(
        "Yes. The Junior Saver account is for children under 16; a parent opens it in the app under Accounts > New."
    )
    console.click("#faq-add")
    # The saved entry's id appears in the form. Slow the first time: the first edit may load an embedder.
    expect(console.locator("#faq-id textarea")).to_have_value(re.compile("savings-account"), timeout=2 * WAIT_MS)
    if (shots := _shots_dir()) is not None:
        console.locator("#faq-search textarea").fill("account")
        console.locator("#faq-search textarea").press("Enter")
        console.locator("#faq-table").get_by_text("savings account for my child", exact=False).wait_for(timeout=WAIT_MS)
        console.evaluate("window.scrollTo(0, 0)")
        console.screenshot(path=str(shots / "console.png"), full_page=True)
    console.close()

    page = _chat_page(browser, server)
    _ask(page, "can my kid have a savings account?")
    _wait_for_reply(page, "Junior Saver")
    page.close()


def test_handoff_reaches_the_agent_desk_and_the_reply_reaches_the_customer(browser, server: str) -> None:  # noqa: ANN001
    customer = _chat_page(browser, server)
    landlord = f"landlord {random.randint(100, 999)}"  # tells this conversation apart in a reused server's queue
    _ask(customer, f"My transfer to my {landlord} hasn't arrived and I'm getting really worried")
    # The reply is done: its sources line, or the "did you mean" buttons of a weak match (no sources line).
    customer.locator("#chat").get_by_text(re.compile("Sources|Details|Did you mean")).first.wait_for(timeout=WAIT_MS)
    customer.click("#talk-to-person")
    _wait_for_reply(customer, "reply here")

    desk = _login(browser, server, "/desk/", "alice")
    desk.locator("#desk-picker input").click()
    desk.get_by_role("option").filter(has_text=landlord).first.click()
    desk.locator("#desk-transcript").get_by_text(landlord, exact=False).first.wait_for(timeout=WAIT_MS)
    desk.locator("#desk-reply textarea").fill("Hi, this is Alice. I can see the transfer; it will arrive today.")
    desk.click("#desk-send")
    if (shots := _shots_dir()) is not None:
        desk.locator("#desk-transcript").get_by_text("it will arrive today", exact=False).wait_for(timeout=WAIT_MS)
        desk.screenshot(path=str(shots / "desk.png"), full_page=True)

    _wait_for_reply(customer, "it will arrive today")  # no reload: the chat polls for our team's messages
    desk.close()
    customer.close()
