"""One real app for the UI tests: real knowledge base (MiniLM), real agent, a small English FAQ subset.

The app is served once per session by uvicorn on a free loopback port (Gradio's queue needs the app's
lifespan to run), and the same FastAPI object is used through TestClient for the JSON API.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from gradio.utils import get_upload_folder
from starlette.datastructures import Address

import retrieval
from agent.services import Services
from agent.settings import Settings
from retrieval.importers import parse_faq_file
from retrieval.knowledge_base import KnowledgeBase
from tests import engines
from ui.app import build_app
from ui.auth import UserStore
from ui.uploads import Uploads

DEFAULT_FAQ = Path(retrieval.__file__).parent / "data" / "default_faq.jsonl"
SUBSET = ("cards", "transfers", "app_errors", "contact")  # English only: no Chinese model loads in fast tests
PASSWORD = "correct horse battery"
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # real argon2id, cheaper
BROWSER = "203.0.113.7"  # the client address handler tests act as (TEST-NET-3, never routed)


def as_client(username: str | None = None, host: str = BROWSER) -> gr.Request:
    """A gr.Request as Gradio builds it for a handler: who is signed in, and the client's address."""
    return gr.Request(username=username, client=Address(host, 50000))


def stored_upload(uploads: Uploads, name: str, data: bytes, host: str = BROWSER) -> str:
    """A file as Gradio's /upload route stores it for a browser (its upload folder, one folder per file)."""
    folder = Path(get_upload_folder()) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(data)
    uploads.record(host, [str(path)])
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_faq(data_dir: Path, settings: Settings) -> None:
    """Import part of the shipped FAQ, so Services skips loading all of it (store version is no longer 0)."""
    lines = [json.loads(line) for line in DEFAULT_FAQ.read_text(encoding="utf-8").splitlines() if line.strip()]
    subset = data_dir / "subset.jsonl"
    subset.write_text(
        "\n".join(json.dumps(e) for e in lines if e["language"] == "en" and e["category"] in SUBSET), encoding="utf-8"
    )
    with closing(settings.open_database()) as db, KnowledgeBase.open(data_dir, settings.retrieval, database=db) as kb:
        kb.import_entries(parse_faq_file(subset, max_bytes=10_000_000, max_row_chars=20_000), actor="tests")


@dataclass
class LiveApp:
    url: str
    settings: Settings
    services: Services
    users: UserStore
    agent_token: str
    operator_token: str
    client: TestClient
    uploads: Uploads

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agent_token if role == 'agent' else self.operator_token}"}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    data_dir = tmp_path_factory.mktemp("findesk-ui")
    # Every test talks from the same client address, faster than any customer: the per-address rate limits
    # would stop the suite itself (tests/ui/test_rate_limits.py checks them on their own app).
    roomy = {"chat_turns_per_address": "10000/minute", "handoffs_per_address": "10000/minute"}
    settings = engines.settings(data_dir, security=roomy)
    seed_faq(data_dir, settings)
    services = Services(settings)
    users = UserStore(services.database, hasher=FAST_HASH)
    users.add("alice", "agent", PASSWORD)
    users.add("olga", "operator", PASSWORD)
    app = build_app(settings, services=services, users=users)
    port = free_port()
    # proxy_headers=False as in `findesk serve`: the app applies FINDESK_WEB__TRUSTED_PROXIES itself.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    services.knowledge_base  # noqa: B018 - build the index once, before any timed request
    yield LiveApp(
        url=f"http://127.0.0.1:{port}",
        settings=settings,
        services=services,
        users=users,
        agent_token=users.issue_token("alice"),
        operator_token=users.issue_token("olga"),
        client=TestClient(app),
        uploads=app.state.uploads,
    )
    server.should_exit = True
    thread.join(timeout=10)
