"""Anonymous users cannot reach staff functions: not the pages, not Gradio's API, not its files.

Checked over real HTTP against the live server, with raw requests (httpx) and with gradio_client,
which is what a customer could use to script calls against Gradio's auto-generated endpoints.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.ui.conftest import PASSWORD, LiveApp
from ui.login import COOKIE

STAFF_PATHS = [
    "/desk/", "/desk/config", "/desk/gradio_api/info", "/desk/gradio_api/openapi.json", "/desk/gradio_api/queue/data",
    "/console/", "/console/config", "/console/gradio_api/info", "/console/gradio_api/upload_progress",
    "/console/gradio_api/file=/etc/hostname",
]  # fmt: skip


@pytest.mark.parametrize("path", STAFF_PATHS)
def test_anonymous_get_of_staff_pages_and_gradio_routes_is_refused(live_app: LiveApp, path: str) -> None:
    response = httpx.get(live_app.url + path, follow_redirects=False)
    assert response.status_code == 401, (path, response.status_code)
    browser = httpx.get(live_app.url + path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code in (303, 401) and "/login" in browser.headers.get("location", "/login")


@pytest.mark.parametrize("page", ["desk", "console"])
def test_anonymous_calls_to_staff_gradio_events_are_refused(live_app: LiveApp, page: str) -> None:
    body = {"data": [None], "fn_index": 0, "session_hash": uuid.uuid4().hex[:10], "event_data": None, "trigger_id": 1}
    for route in ("queue/join", "run/predict", "call/refresh"):
        response = httpx.post(f"{live_app.url}/{page}/gradio_api/{route}", json=body)
        assert response.status_code == 401, (route, response.text)
    upload = httpx.post(f"{live_app.url}/{page}/gradio_api/upload", files={"files": ("x.txt", b"hi")})
    assert upload.status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own errors for a 401 config
        Client(f"{live_app.url}/{page}/", verbose=False)


def test_wrong_role_is_refused_and_right_role_gets_in(live_app: LiveApp) -> None:
    agent = {"Authorization": f"Bearer {live_app.agent_token}"}
    assert httpx.get(f"{live_app.url}/console/config", headers=agent).status_code == 401
    assert httpx.get(f"{live_app.url}/desk/config", headers=agent).status_code == 200
    operator = {"Authorization": f"Bearer {live_app.operator_token}"}
    assert httpx.get(f"{live_app.url}/desk/gradio_api/info", headers=operator).status_code == 401
    assert httpx.get(f"{live_app.url}/console/gradio_api/info", headers=operator).status_code == 200


def test_login_sets_a_strict_http_only_cookie_and_refuses_bad_passwords(live_app: LiveApp) -> None:
    with httpx.Client(base_url=live_app.url, follow_redirects=False) as browser:
        wrong = browser.post("/login", data={"username": "alice", "password": "nope", "next": "/desk/"})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        right = browser.post(
            "/login", data={"username": "alice", "password": PASSWORD, "next": "https://evil.example/"}
        )
        assert right.status_code == 303 and right.headers["location"] == "/desk/"  # no open redirect
        cookie = right.headers["set-cookie"].lower()
        assert COOKIE in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/desk/config").status_code == 200
        assert browser.get("/console/config").status_code == 401  # an agent is not an operator
        assert browser.get("/api/handoffs").status_code == 200  # the desk's cookie also works for the API
        assert browser.get("/api/faq/export").status_code == 403
        assert browser.get("/logout").status_code == 200  # only asks: a GET (a link, an image) signs nobody out
        assert browser.get("/desk/config").status_code == 200
        browser.post("/logout", headers={"Origin": live_app.url})
        assert browser.get("/desk/config").status_code == 401


def test_customer_page_exposes_only_customer_endpoints(live_app: LiveApp) -> None:
    info = Client(f"{live_app.url}/chat/", verbose=False).view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == {"/send", "/talk_to_person"}


def test_customer_uploads_are_deleted_once_read(live_app: LiveApp, tmp_path: Path) -> None:
    """A screenshot is readable at its Gradio file URL after upload, and gone once the chat has read it."""
    path = tmp_path / f"shot-{uuid.uuid4().hex[:6]}.png"
    Image.new("RGB", (320, 90), (255, 255, 250)).save(path)
    uploaded = httpx.post(f"{live_app.url}/chat/gradio_api/upload", files={"files": (path.name, path.read_bytes())})
    stored = uploaded.json()[0]
    file_url = f"{live_app.url}/chat/gradio_api/file={stored}"
    assert httpx.get(file_url).status_code == 200  # what Gradio guarantees alone: unguessable, but readable

    client = Client(f"{live_app.url}/chat/", verbose=False)
    # The same bytes upload to the same content-addressed path, which the chat handler deletes after reading.
    result = client.predict({"text": "what does this error mean", "files": [handle_file(str(path))]}, api_name="/send")
    assert result[0], "the chat answered"
    assert httpx.get(file_url).status_code in (403, 404)
    assert not Path(stored).exists()


def test_gradio_client_smoke_customer_gets_a_cited_streamed_answer(live_app: LiveApp) -> None:
    client = Client(f"{live_app.url}/chat/", verbose=False)
    job = client.submit({"text": "How do I add my card to Apple Pay?", "files": []}, api_name="/send")
    history = job.result(timeout=120)[0]
    assert len(job.outputs()) >= 3  # intermediate updates were streamed before the final one
    texts = [m["content"] if isinstance(m["content"], str) else str(m["content"]) for m in history]
    assert "[1]" in texts[1]
    assert history[-1]["metadata"]["title"].startswith("📚 Sources")


def test_login_page_throttles_repeated_failures_with_429_and_retry_after(live_app: LiveApp) -> None:
    live_app.users.add("target", "agent", PASSWORD)
    limit = live_app.users.login_limits.per_account
    for _ in range(limit):
        wrong = live_app.client.post("/login", data={"username": "target", "password": "guess"}, follow_redirects=False)
        assert wrong.status_code == 401
    locked = live_app.client.post("/login", data={"username": "target", "password": PASSWORD}, follow_redirects=False)
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert 0 < int(locked.headers["Retry-After"]) <= live_app.users.login_limits.window.total_seconds()
    failed = [e for e in live_app.users.sign_ins() if e["user"] == "target" and e["event"] == "login_failed"]
    assert len(failed) == limit and failed[0]["address"] == "testclient"  # TestClient's client address
