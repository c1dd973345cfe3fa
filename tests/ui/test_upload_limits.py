"""Uploads that are never sent, of the wrong kind, or too many (issue 9, item 5)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from gradio.utils import get_upload_folder
from pydantic import SecretStr

from tests import engines
from tests.ui.conftest import LiveApp
from ui.app import build_app
from ui.uploads import Uploads


def _app(live_app: LiveApp, **web: object) -> TestClient:
    settings = live_app.settings.model_copy(update={"web": live_app.settings.web.model_copy(update=web)})
    return TestClient(build_app(settings, services=live_app.services, users=live_app.users))


def _upload(client: httpx.Client | TestClient, page: str, name: str, data: bytes = b"x", **headers: str):  # noqa: ANN202
    return client.post(f"/{page}/gradio_api/upload", files={"files": (name, data)}, headers=headers)


@pytest.mark.parametrize(
    ("page", "name", "accepted"),
    [("chat", "screen.png", True), ("chat", "voice.webm", True), ("chat", "notes.txt", False),
     ("chat", "page.html", False), ("chat", "noextension", False), ("desk", "dictation.wav", True),
     ("desk", "screen.png", False), ("console", "faq.md", True), ("console", "faq.csv", True),
     ("console", "tool.exe", False)],
)  # fmt: skip
def test_each_page_takes_only_its_own_file_types(live_app: LiveApp, page: str, name: str, accepted: bool) -> None:
    headers = live_app.auth("agent" if page == "desk" else "operator")
    with httpx.Client(base_url=live_app.url, headers=headers) as client:
        marker = f"{time.monotonic_ns()}".encode()  # unique content: its own folder in the upload area
        response = _upload(client, page, name, marker)
    if accepted:
        assert response.status_code == 200 and Path(response.json()[0]).name == name
    else:
        assert response.status_code == 415 and "not a kind of file accepted here" in response.json()["error"]
        stored = [p for p in Path(get_upload_folder()).rglob(name) if p.read_bytes() == marker]
        assert stored == []  # deleted at once, not left for the sweep


def test_too_many_uploads_from_one_client_get_429_with_retry_after(live_app: LiveApp) -> None:
    client = _app(live_app, uploads_per_window=3, upload_bytes_per_window=10_000)
    for n in range(3):
        assert _upload(client, "chat", f"shot{n}.png", b"p" * 10).status_code == 200
    refused = _upload(client, "chat", "shot4.png", b"p" * 10)
    assert refused.status_code == 429 and "Too many uploads" in refused.json()["error"]
    assert 0 < int(refused.headers["Retry-After"]) <= live_app.settings.web.upload_window_s

    by_bytes = _app(live_app, uploads_per_window=100, upload_bytes_per_window=2_000)
    assert _upload(by_bytes, "chat", "a.png", b"p" * 500).status_code == 200
    assert _upload(by_bytes, "chat", "big.png", b"p" * 1_800).status_code == 429  # over the byte budget


def test_upload_budget_is_per_client_and_renews_after_the_window(live_app: LiveApp) -> None:
    now = [0.0]
    web = live_app.settings.web.model_copy(update={"uploads_per_window": 2, "upload_window_s": 60})
    uploads = Uploads(web, clock=lambda: now[0])
    assert uploads.admit("198.51.100.1", 10) == 0 and uploads.admit("198.51.100.1", 10) == 0
    assert uploads.admit("198.51.100.1", 10) == 60  # seconds until the first upload leaves the window
    assert uploads.admit("198.51.100.2", 10) == 0  # another client has its own budget
    now[0] = 61.0
    assert uploads.admit("198.51.100.1", 10) == 0


def test_unsent_uploads_are_deleted_after_the_ttl(live_app: LiveApp, tmp_path: Path) -> None:
    web = live_app.settings.web.model_copy(update={"upload_ttl_s": 10})
    # Its own data folder, services and users: the lifespan closes them at the end.
    own = {"web": web, "data_dir": tmp_path, "database_url": SecretStr(engines.env_url(tmp_path))}
    app = build_app(live_app.settings.model_copy(update=own))
    with TestClient(app) as client:  # runs the lifespan, and with it Gradio's delete_cache sweep
        stored = Path(_upload(client, "chat", "never-sent.png", f"{time.monotonic_ns()}".encode()).json()[0])
        assert stored.exists()
        deadline = time.monotonic() + 60
        while stored.exists() and time.monotonic() < deadline:
            time.sleep(1)
        assert not stored.exists()  # swept within a check interval (10 s) after the 10 s it may stay
