"""Two real `findesk serve` processes on one real PostgreSQL: what a bank's multi-replica desk relies on.

Each replica has its own data folder (its own FAISS/BM25 files) and shares the database. The tests run in
file order: the database outage and the `kill -9` come last because they disturb the replicas.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from retrieval.database import database_url, open_database
from tests.postgres import Cluster, free_port
from ui.auth import UserStore

pytestmark = pytest.mark.slow  # each replica loads the real embedding model

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@dataclass
class Replica:
    url: str
    process: subprocess.Popen
    log: Path

    def chat(self, text: str, conversation: Conversation | None = None, timeout: float = 60) -> httpx.Response:
        """A customer's turn: a new conversation, or the given one (any replica may serve any turn)."""
        if conversation is None:
            return httpx.post(f"{self.url}/api/chat", data={"text": text}, timeout=timeout)
        data = {"text": text, "session_id": conversation.id}
        return httpx.post(f"{self.url}/api/chat", data=data, headers=conversation.headers, timeout=timeout)

    def start(self, text: str) -> Conversation:
        reply = self.chat(text)
        assert reply.status_code == 200, reply.text
        return Conversation(reply.json()["session_id"], reply.json()["session_token"])

    def customer_get(self, path: str, conversation: Conversation) -> httpx.Response:
        return httpx.get(f"{self.url}/api/chat/{conversation.id}{path}", headers=conversation.headers, timeout=30)

    def customer_post(self, path: str, conversation: Conversation) -> httpx.Response:
        return httpx.post(f"{self.url}/api/chat/{conversation.id}{path}", headers=conversation.headers, timeout=30)


@dataclass(frozen=True)
class Conversation:
    """The server-issued conversation id and the secret a customer sends with every later call."""

    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Session-Token": self.token}


@dataclass
class Desk:
    db_url: str
    a: Replica
    b: Replica
    tokens: dict[str, str]  # user name -> API token

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def start_replica(tmp: Path, name: str, db_url: str) -> Replica:
    port = free_port()
    log = tmp / f"{name}.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "FINDESK_DATABASE_URL": db_url,
        "FINDESK_DATA_DIR": str(tmp / name),  # this replica's own index files
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # Every simulated customer comes from 127.0.0.1: lift the per-address limits (tested in test_security).
        "FINDESK_SECURITY__CHAT_TURNS_PER_ADDRESS": "100000/minute",
        "FINDESK_SECURITY__HANDOFFS_PER_ADDRESS": "100000/hour",
    }
    command = [sys.executable, "-c", "from ui.cli import main; main()", "serve", "--port", str(port), "--no-warm-up"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return Replica(f"http://127.0.0.1:{port}", process, log)


def wait_ready(replica: Replica, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"replica exited ({replica.process.returncode}):\n{replica.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{replica.url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"replica not ready in {timeout_s} s:\n{replica.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def desk(postgres: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("replicas")
    db_url = postgres.new_database()
    db = open_database(database_url(db_url, tmp))
    users = UserStore(db, hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    for name, role in (("alice", "agent"), ("bob", "agent"), ("olga", "operator")):
        users.add(name, role, PASSWORD)
    tokens = {name: users.issue_token(name) for name in ("alice", "bob", "olga")}
    db.close()
    a, b = start_replica(tmp, "a", db_url), start_replica(tmp, "b", db_url)
    try:
        wait_ready(a)
        wait_ready(b)
        for replica in (a, b):  # load the sentiment model etc. now, not inside a timed test
            assert replica.chat("How do I reset my password?").status_code == 200
        yield Desk(db_url, a, b, tokens)
    finally:
        for replica in (a, b):
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in (a, b):
            try:
                replica.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.process.kill()


def test_an_faq_entry_added_on_one_replica_is_cited_by_the_other_within_5_s(desk: Desk) -> None:
    entry = {
        "id": f"unicorn-{uuid.uuid4().hex[:6]}",
        "question": "How do I order the platinum unicorn travel card?",
        "answer": "Order the platinum unicorn travel card in the app under Cards > New card > Unicorn.",
    }
    added = httpx.post(f"{desk.a.url}/api/faq", json=entry, headers=desk.auth("olga"), timeout=30)
    assert added.status_code == 201, added.text
    started = time.monotonic()
    cited: list[str] = []
    while time.monotonic() - started < 5:
        reply = desk.b.chat(entry["question"]).json()
        cited = [c["entry_id"] for c in reply["citations"]]
        if entry["id"] in cited:
            break
        time.sleep(0.2)
    assert entry["id"] in cited, f"replica b still cites {cited} after 5 s"


def test_an_edit_with_a_stale_version_is_refused_across_replicas(desk: Desk) -> None:
    entry = {"id": f"fees-{uuid.uuid4().hex[:6]}", "question": "Is there a monthly fee?", "answer": "No."}
    httpx.post(f"{desk.a.url}/api/faq", json=entry, headers=desk.auth("olga"), timeout=30).raise_for_status()
    first = httpx.patch(
        f"{desk.a.url}/api/faq/{entry['id']}", json={"answer": "No fee.", "expected_version": 1},
        headers=desk.auth("olga"), timeout=30,
    )  # fmt: skip
    second = httpx.patch(
        f"{desk.b.url}/api/faq/{entry['id']}", json={"answer": "Zero.", "expected_version": 1},
        headers=desk.auth("olga"), timeout=30,
    )  # fmt: skip
    assert first.status_code == 200 and second.status_code == 409, (first.text, second.text)
    assert "changed by someone else" in second.json()["error"]


def test_a_handoff_made_on_one_replica_is_claimed_on_the_other(desk: Desk) -> None:
    conversation = desk.a.start("My card was stolen")
    session = conversation.id
    asked = desk.a.customer_post("/handoff", conversation)
    assert asked.json()["status"] == "waiting"
    queue = httpx.get(f"{desk.b.url}/api/handoffs", headers=desk.auth("alice"), timeout=30).json()
    assert session in [h["session_id"] for h in queue]
    claimed = httpx.post(f"{desk.b.url}/api/handoffs/{session}/claim", headers=desk.auth("alice"), timeout=30)
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "alice"


def test_two_agents_claiming_at_once_on_two_replicas_get_one_winner_and_a_409(desk: Desk) -> None:
    for _ in range(5):
        conversation = desk.a.start("I want to talk to a person")
        session = conversation.id
        desk.a.customer_post("/handoff", conversation).raise_for_status()
        codes = claim_at_once(desk, session, [(desk.a, "alice"), (desk.b, "bob")])
        assert sorted(codes.values()) == [200, 409], codes
        winner = next(agent for agent, code in codes.items() if code == 200)
        queue = httpx.get(f"{desk.b.url}/api/handoffs", headers=desk.auth("alice"), timeout=30).json()
        assert next(h for h in queue if h["session_id"] == session)["claimed_by"] == winner


def claim_at_once(desk: Desk, session: str, claims: list[tuple[Replica, str]]) -> dict[str, int]:
    """Each (replica, agent) claims `session` at the same moment; the HTTP status each one got."""
    barrier = threading.Barrier(len(claims))
    codes: dict[str, int] = {}

    def claim(replica: Replica, agent: str) -> None:
        barrier.wait()
        url = f"{replica.url}/api/handoffs/{session}/claim"
        codes[agent] = httpx.post(url, headers=desk.auth(agent), timeout=30).status_code

    threads = [threading.Thread(target=claim, args=pair) for pair in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def test_an_agents_reply_on_one_replica_reaches_the_customer_polling_the_other(desk: Desk) -> None:
    conversation = desk.b.start("My transfer hasn't arrived")
    desk.b.customer_post("/handoff", conversation).raise_for_status()
    url = f"{desk.a.url}/api/handoffs/{conversation.id}/reply"
    text = "Hi, I'm Alice. I've frozen the card."
    sent = httpx.post(url, json={"text": text}, headers=desk.auth("alice"), timeout=30)
    assert sent.status_code == 200, sent.text
    polled = desk.b.customer_get("/messages", conversation).json()
    assert [(m["role"], m["author"], m["text"]) for m in polled if m["role"] == "agent"] == [("agent", "alice", text)]


def test_postgresql_down_for_10_s_gives_clear_errors_and_everything_recovers(desk: Desk, postgres: Cluster) -> None:
    conversation = desk.a.start("How do I reset my password?")
    postgres.stop()
    stopped = time.monotonic()
    try:
        turn = desk.a.chat("How do I reset my password?", conversation)
        assert turn.status_code == 503 and "having trouble" in turn.json()["error"], turn.text  # no host names
        staff = httpx.get(f"{desk.b.url}/api/handoffs", headers=desk.auth("alice"), timeout=30)
        assert staff.status_code == 503 and "database" in staff.json()["error"], staff.text  # staff see why
        ready = httpx.get(f"{desk.a.url}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "unreachable"
        assert httpx.get(f"{desk.b.url}/healthz", timeout=30).status_code == 200  # alive: do not restart it
        time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))
    finally:
        postgres.start()
    for replica in (desk.a, desk.b):  # no restart: the pools drop the dead connections by themselves
        deadline = time.monotonic() + 30
        while (code := replica.chat("How do I reset my password?", conversation).status_code) != 200:
            assert time.monotonic() < deadline, f"{replica.url} still answers {code}"
            time.sleep(0.5)
        assert httpx.get(f"{replica.url}/readyz", timeout=30).status_code == 200
    customer = [m["text"] for m in desk.a.customer_get("/messages", conversation).json()]
    assert customer.count("How do I reset my password?") >= 3  # before, and after on each replica


def test_kill_9_mid_turns_and_mid_import_loses_nothing_committed(desk: Desk, tmp_path: Path) -> None:
    bulk = tmp_path / "bulk.jsonl"
    rows = [{"id": f"bulk-{i}", "question": f"Bulk question number {i}?", "answer": "A."} for i in range(1500)]
    bulk.write_text("\n".join(json.dumps(r) for r in rows))
    answered: list[tuple[Conversation, str]] = []  # turns replica b confirmed before it died

    def turns() -> None:
        for n in range(200):
            text = f"Where is my card? ({n})"
            try:
                reply = desk.b.chat(text, timeout=10)
                if reply.status_code == 200:
                    answered.append((Conversation(reply.json()["session_id"], reply.json()["session_token"]), text))
            except httpx.TransportError:
                return

    def import_file() -> None:
        try:
            with bulk.open("rb") as f:
                httpx.post(f"{desk.b.url}/api/faq/import", files={"file": ("bulk.jsonl", f)},
                           headers=desk.auth("olga"), timeout=120)  # fmt: skip
        except httpx.TransportError:
            pass

    workers = [threading.Thread(target=turns), threading.Thread(target=import_file)]
    for worker in workers:
        worker.start()
    time.sleep(1.5)
    desk.b.process.send_signal(signal.SIGKILL)
    desk.b.process.wait(timeout=30)
    for worker in workers:
        worker.join(timeout=60)

    assert desk.a.chat("How do I reset my password?").status_code == 200  # the other replica keeps answering
    for conversation, text in answered:  # every turn b confirmed is in the shared log, question and answer
        messages = desk.a.customer_get("/messages", conversation).json()
        assert [m["text"] for m in messages if m["role"] == "customer"] == [text]
        assert any(m["role"] == "assistant" for m in messages)
    db = open_database(database_url(desk.db_url, tmp_path))
    try:
        with db.read() as conn:
            imported = conn.execute(sa.text("SELECT COUNT(*) FROM faq_entries WHERE id LIKE 'bulk-%'")).scalar_one()
    finally:
        db.close()
    assert imported in (0, len(rows)), f"a killed import left {imported} of {len(rows)} entries"
