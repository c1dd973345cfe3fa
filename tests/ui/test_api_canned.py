"""The canned-responses HTTP API: operators keep them, agents read them, customers and other sites get nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.ui.conftest import PASSWORD, LiveApp, free_port

REFUSED = "cross-site request forgery"


def _shortcut() -> str:
    return "t-" + uuid.uuid4().hex[:8]  # the app is shared by the session's tests


def test_an_operator_adds_reads_edits_and_deletes_one(live_app: LiveApp) -> None:
    client, olga, short = live_app.client, live_app.auth("operator"), _shortcut()
    body = {"shortcut": short, "language": "en", "title": "Card frozen", "text": "Hi {customer_name}, frozen."}
    added = client.post("/api/canned", json=body, headers=olga)
    assert added.status_code == 201, added.text
    assert added.json() | {"updated_at": ""} == body | {"updated_by": "olga", "updated_at": ""}
    assert short in [c["shortcut"] for c in client.get("/api/canned", headers=olga).json()]
    assert client.get("/api/canned?language=zh", headers=olga).json() == [
        c for c in client.get("/api/canned", headers=olga).json() if c["language"] == "zh"
    ]

    edited = client.put(f"/api/canned/en/{short}", json={"title": "Frozen", "text": "Now: {agent_name}."}, headers=olga)
    assert edited.status_code == 200 and edited.json()["text"] == "Now: {agent_name}."
    assert client.get(f"/api/canned/en/{short}", headers=olga).json()["title"] == "Frozen"
    assert client.get(f"/api/canned/zh/{short}", headers=olga).status_code == 404  # no fallback to English here

    assert client.delete(f"/api/canned/en/{short}", headers=olga).status_code == 204
    assert client.get(f"/api/canned/en/{short}", headers=olga).status_code == 404
    assert client.delete(f"/api/canned/en/{short}", headers=olga).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"shortcut": "has space", "language": "en", "text": "x"}, 422, "lower-case letters"),
        ({"shortcut": "ok-x", "language": "fr", "text": "x"}, 422, "'en' or 'zh'"),
        ({"shortcut": "ok-x", "language": "en", "text": "Dear {name}"}, 422, "Unknown placeholder 'name'"),
        ({"shortcut": "ok-x", "language": "en", "text": "a { brace"}, 422, "unmatched brace"),
        ({"shortcut": "ok-x", "language": "en", "text": "  "}, 422, "1 to 4000"),
        ({"shortcut": "ok-x", "language": "en", "text": "x" * 4001}, 422, "4000"),
        ({"shortcut": "ok-x", "language": "en", "text": "x", "extra": 1}, 422, "extra"),
        ({"language": "en", "text": "x"}, 422, "shortcut"),
    ],
)
def test_bad_canned_responses_are_refused_with_what_to_fix(
    live_app: LiveApp, body: dict[str, object], status: int, message: str
) -> None:
    refused = live_app.client.post("/api/canned", json=body, headers=live_app.auth("operator"))
    assert refused.status_code == status and message in refused.text, refused.text
    assert live_app.client.get("/api/canned/en/ok-x", headers=live_app.auth("operator")).status_code == 404


def test_a_taken_shortcut_is_409_and_a_missing_one_404(live_app: LiveApp) -> None:
    client, olga, short = live_app.client, live_app.auth("operator"), _shortcut()
    body = {"shortcut": short, "language": "zh", "text": "您好"}
    assert client.post("/api/canned", json=body, headers=olga).status_code == 201
    again = client.post("/api/canned", json=body, headers=olga)
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    missing = client.put(f"/api/canned/en/{short}", json={"text": "hello"}, headers=olga)
    assert missing.status_code == 404 and f"/{short} in en" in missing.json()["error"]


def test_agents_read_but_cannot_change_them(live_app: LiveApp) -> None:
    client, alice, short = live_app.client, live_app.auth("agent"), _shortcut()
    body = {"shortcut": short, "language": "en", "text": "Hello"}
    assert client.post("/api/canned", json=body, headers=live_app.auth("operator")).status_code == 201
    assert short in [c["shortcut"] for c in client.get("/api/canned", headers=alice).json()]
    assert client.get(f"/api/canned/en/{short}", headers=alice).status_code == 200
    for response in (
        client.post("/api/canned", json=body | {"shortcut": _shortcut()}, headers=alice),
        client.put(f"/api/canned/en/{short}", json={"text": "changed"}, headers=alice),
        client.delete(f"/api/canned/en/{short}", headers=alice),
        client.get("/api/canned/export", headers=alice),
    ):
        assert response.status_code == 403 and "operator role" in response.json()["error"], response.request.url
    assert client.get(f"/api/canned/en/{short}", headers=alice).json()["text"] == "Hello"


def test_customers_and_strangers_reach_none_of_it(live_app: LiveApp) -> None:
    client, short = live_app.client, _shortcut()
    body = {"shortcut": short, "language": "en", "text": "Internal: waive the fee once"}
    assert client.post("/api/canned", json=body, headers=live_app.auth("operator")).status_code == 201
    reply = client.post("/api/chat", data={"text": "hello"}).json()
    for headers in ({"X-Session-Token": reply["session_token"]}, {}, {"Authorization": "Bearer not-a-token"}):
        for response in (
            client.get("/api/canned", headers=headers),
            client.get(f"/api/canned/en/{short}", headers=headers),
            client.post("/api/canned", json=body | {"shortcut": _shortcut()}, headers=headers),
            client.put(f"/api/canned/en/{short}", json={"text": "changed"}, headers=headers),
            client.delete(f"/api/canned/en/{short}", headers=headers),
        ):
            assert response.status_code == 401 and "waive" not in response.text, (headers, response.request.url)
    assert client.get(f"/api/canned/en/{short}", headers=live_app.auth("agent")).json()["text"] == body["text"]


@pytest.fixture()
def operator_browser(live_app: LiveApp) -> Iterator[httpx.Client]:
    """A signed-in operator's browser: the cookie jar holds the staff session cookie."""
    with httpx.Client(base_url=live_app.url, follow_redirects=False) as browser:
        response = browser.post("/login", data={"username": "olga", "password": PASSWORD, "next": "/console/"})
        assert response.status_code == 303
        yield browser


def test_the_session_cookie_works_only_from_our_own_pages(live_app: LiveApp, operator_browser: httpx.Client) -> None:
    short = _shortcut()
    body = {"shortcut": short, "language": "en", "text": "Hello"}
    forged = {"Origin": f"http://127.0.0.1:{free_port()}"}  # another port of the same host: same site
    for response in (
        operator_browser.post("/api/canned", json=body, headers=forged),
        operator_browser.put(f"/api/canned/en/{short}", json={"text": "x"}, headers=forged),
        operator_browser.delete(f"/api/canned/en/{short}", headers=forged),
        operator_browser.get("/api/canned", headers=forged),  # a cross-origin read
        operator_browser.post("/api/canned", json=body),  # no Origin, no Sec-Fetch-Site: not a page of ours
    ):
        assert response.status_code == 403 and REFUSED in response.json()["error"], response.request.url
    ours = {"Origin": live_app.url}
    assert operator_browser.post("/api/canned", json=body, headers=ours).status_code == 201
    assert operator_browser.delete(f"/api/canned/en/{short}", headers=ours).status_code == 204
