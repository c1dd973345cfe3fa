"""Secure cookies behind HTTPS, private database files, no calls out to Gradio's analytics (issue 9, item 9)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import gradio as gr
import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from retrieval.database import open_database
from tests.ui.conftest import PASSWORD, LiveApp
from ui.app import build_app

LOGIN = {"username": "alice", "password": PASSWORD, "next": "/desk/"}


def _cookie_flags(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["set-cookie"].lower()


def _app(live_app: LiveApp, **web: object) -> TestClient:
    settings = live_app.settings.model_copy(update={"web": live_app.settings.web.model_copy(update=web)})
    return TestClient(build_app(settings, services=live_app.services, users=live_app.users))


def test_cookie_is_secure_when_a_trusted_proxy_says_https(live_app: LiveApp) -> None:
    # The live server's client is 127.0.0.1, a trusted proxy by default.
    over_https = httpx.post(f"{live_app.url}/login", data=LOGIN, headers={"X-Forwarded-Proto": "https"})
    assert "; secure" in _cookie_flags(over_https)
    assert "; secure" not in _cookie_flags(httpx.post(f"{live_app.url}/login", data=LOGIN))  # plain HTTP


def test_forwarded_proto_from_anyone_else_is_ignored(live_app: LiveApp) -> None:
    client = _app(live_app)  # TestClient's address, "testclient", is no trusted proxy
    response = client.post("/login", data=LOGIN, headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert "; secure" not in _cookie_flags(response)
    trusting = _app(live_app, trusted_proxies=("*",))  # the setting decides whom to believe
    response = trusting.post("/login", data=LOGIN, headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert "; secure" in _cookie_flags(response)


@pytest.mark.parametrize(("setting", "secure"), [(True, True), (False, False)])
def test_secure_cookies_setting_overrides_the_scheme(live_app: LiveApp, setting: bool, secure: bool) -> None:
    response = _app(live_app, secure_cookies=setting).post("/login", data=LOGIN, follow_redirects=False)
    assert ("; secure" in _cookie_flags(response)) is secure


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_file_is_private_and_its_new_folder_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = open_database(f"sqlite:///{data / 'findesk.sqlite3'}")
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
        files = sorted(data.glob("findesk.sqlite3*"))
        assert {f.name for f in files} >= {"findesk.sqlite3", "findesk.sqlite3-wal"}
        assert all(_mode(f) == 0o600 for f in files), {f.name: oct(_mode(f)) for f in files}
        assert _mode(data) == 0o700
    finally:
        db.close()


def test_an_older_world_readable_database_is_made_private(tmp_path: Path) -> None:
    old = tmp_path / "findesk.sqlite3"
    old.touch(mode=0o644)
    os.chmod(old, 0o644)
    open_database(f"sqlite:///{old}").close()
    assert _mode(old) == 0o600


def test_gradio_analytics_are_off(live_app: LiveApp) -> None:
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"  # set by build_app, before any page is built
    pages = [r.app.get_blocks() for r in live_app.client.app.routes if isinstance(r, Mount)]
    assert len(pages) == 3 and all(isinstance(p, gr.Blocks) and p.analytics_enabled is False for p in pages)
