"""Cross-site request forgery from another origin of the same site (issue 9, item 4).

A page on another port of the same host is "same-site", so the SameSite=Strict session cookie goes with its
requests: FinDesk must refuse them by their Origin / Sec-Fetch-Site, while its own pages and Bearer-token
clients keep working.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from agent.types import Turn
from tests.ui.conftest import PASSWORD, LiveApp, free_port
from ui.csrf import origin_host

REFUSED = "cross-site request forgery"


@pytest.fixture()
def signed_in(live_app: LiveApp) -> Iterator[httpx.Client]:
    """A browser session of agent alice: the cookie jar holds the session cookie."""
    with httpx.Client(base_url=live_app.url, follow_redirects=False) as browser:
        response = browser.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/desk/"})
        assert response.status_code == 303
        yield browser


def _handoff(live_app: LiveApp) -> str:
    session = uuid.uuid4().hex
    live_app.services.agent.ask(Turn(session_id=session, text="My transfer is missing"))
    live_app.services.agent.request_human(session)
    return session


def _forged(live_app: LiveApp) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{free_port()}"}  # another port of the same host: same site


def test_cookie_requests_from_another_origin_are_refused(live_app: LiveApp, signed_in: httpx.Client) -> None:
    session = _handoff(live_app)
    forged = _forged(live_app)
    attempts = [
        signed_in.post(f"/api/handoffs/{session}/resolve", headers=forged),
        signed_in.post(f"/api/handoffs/{session}/reply", json={"text": "phish"}, headers=forged),
        signed_in.post(
            "/desk/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}, headers=forged
        ),  # fmt: skip
        signed_in.post("/desk/gradio_api/upload", files={"files": ("a.wav", b"RIFF")}, headers=forged),
        signed_in.post("/logout", headers=forged),
        signed_in.get("/api/handoffs", headers=forged),  # a cross-origin read (Gradio's CORS allows localhost)
        # No Origin, but the browser says the request came from another origin of the site.
        signed_in.post(f"/api/handoffs/{session}/claim", headers={"Sec-Fetch-Site": "same-site"}),
        # No Origin and no Sec-Fetch-Site: not a browser we can vouch for; scripts use Bearer tokens.
        signed_in.post(f"/api/handoffs/{session}/claim"),
    ]
    for response in attempts:
        assert response.status_code == 403 and REFUSED in response.json()["error"], (response.url, response.text)
    handoff = live_app.services.conversations.handoff(session)
    assert handoff is not None and handoff.status == "waiting"  # nothing happened
    assert signed_in.get("/desk/config").status_code == 200  # still signed in


def test_same_origin_requests_and_bearer_tokens_work(live_app: LiveApp, signed_in: httpx.Client) -> None:
    session = _handoff(live_app)
    ours = {"Origin": live_app.url}
    assert signed_in.post(f"/api/handoffs/{session}/claim", headers=ours).status_code == 200
    assert signed_in.post(f"/api/handoffs/{session}/reply", json={"text": "hi"},
                          headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200  # fmt: skip
    assert signed_in.get("/api/handoffs").status_code == 200  # a plain GET (navigation) needs no Origin
    token = live_app.auth("agent") | _forged(live_app)  # a token is never sent by a foreign page on its own
    assert httpx.post(f"{live_app.url}/api/handoffs/{session}/resolve", headers=token).status_code == 200
    assert signed_in.post("/logout", headers=ours).status_code == 303
    assert signed_in.get("/desk/config").status_code == 401


def test_sign_in_from_another_origin_is_refused(live_app: LiveApp) -> None:
    data = {"username": "alice", "password": PASSWORD, "next": "/desk/"}
    forged = httpx.post(f"{live_app.url}/login", data=data, headers=_forged(live_app))
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    assert httpx.post(f"{live_app.url}/login", data=data, headers={"Origin": live_app.url}).status_code == 303


def test_anonymous_customers_are_not_affected(live_app: LiveApp) -> None:
    """A bank's own website may call the customer API from its origin: no cookie, nothing to forge."""
    response = httpx.post(f"{live_app.url}/api/chat", data={"text": "How do I freeze my card?"},
                          headers=_forged(live_app))  # fmt: skip
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("origin", "host"),
    [("https://bank.example", "bank.example"), ("https://bank.example:443", "bank.example"),
     ("http://127.0.0.1:7860", "127.0.0.1:7860"), ("http://[::1]:8000", "[::1]:8000"), ("null", None),
     ("file://", None), ("http://x:port", None)],
)  # fmt: skip
def test_origin_host(origin: str, host: str | None) -> None:
    assert origin_host(origin) == host
