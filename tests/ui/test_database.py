"""The storage layer as a whole: an old data folder is adopted, `findesk db upgrade`, and bad URLs refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from agent.conversations import ConversationStore
from agent.settings import load_settings
from retrieval import migrations
from retrieval.database import DatabaseUnavailable, database_url, open_database
from retrieval.store import FaqStore
from ui.auth import UserStore
from ui.cli import app

# Made by FinDesk 0.1 (before SQLAlchemy and Alembic): an entry added, edited; another added and deleted;
# a conversation with a screenshot handed over and claimed by alice; user alice with this API token.
LEGACY_DB = Path(__file__).resolve().parents[1] / "data" / "findesk-0.1.sqlite3"
LEGACY_TOKEN = "fd_tmIN0L3Law4c5QhSNfN6UUqk3mNZB8FDpYGXGGTjy-k"


def test_a_data_folder_from_before_alembic_keeps_working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINDESK_DATABASE_URL", raising=False)  # SQLite in the data folder, whatever the run
    shutil.copy(LEGACY_DB, tmp_path / "findesk.sqlite3")
    db = load_settings(data_dir=tmp_path).open_database()
    try:
        assert migrations.current_revision(db) == migrations.head_revision()
        faq = FaqStore(db)
        assert faq.version == 4 and [e.id for e in faq.list()] == ["card-lost"]
        assert faq.get("card-lost").version == 2 and [r.action for r in faq.audit()] == ["delete", "add", "edit", "add"]
        assert faq.add(faq.get("card-lost").__class__(id="new", question="Q?", answer="A."), actor="o").version == 1
        assert faq.version == 5  # the change log goes on from where it was
        conversations = ConversationStore(db)
        assert [m.role for m in conversations.messages("s1")] == ["customer", "assistant"]
        assert conversations.messages("s1")[0].has_image and conversations.handoff("s1").claimed_by == "alice"
        users = UserStore(db, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        assert users.user_for_token(LEGACY_TOKEN).name == "alice"
        assert users.verify_password("alice", "correct horse battery").role == "agent"
    finally:
        db.close()


def test_db_upgrade_command_reports_the_revision_and_is_safe_to_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINDESK_DATABASE_URL", raising=False)
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert f"schema at revision {migrations.head_revision()}" in result.stdout


def test_db_upgrade_on_postgresql(postgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setenv("FINDESK_DATABASE_URL", postgres.new_database())
    result = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "postgresql://findesk@" in result.stdout and not (tmp_path / "findesk.sqlite3").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@host/db", "FinDesk runs on PostgreSQL"),
        ("not a url", "is not a database URL"),
    ],
)
def test_a_wrong_database_url_is_refused_with_what_to_write(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match=message):
        database_url(url, tmp_path)


def test_an_unreachable_server_gives_a_clear_error_with_the_password_hidden(tmp_path: Path) -> None:
    url = database_url("postgresql://findesk:s3cret@127.0.0.1:9/findesk", tmp_path)  # port 9: nothing listens
    with pytest.raises(DatabaseUnavailable, match="PostgreSQL server is running") as caught:
        open_database(url)
    assert "s3cret" not in str(caught.value)


def test_cli_commands_report_an_unreachable_database_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDESK_DATABASE_URL", "postgresql://findesk:s3cret@127.0.0.1:9/findesk")
    for command in (["faq", "list"], ["user", "list"], ["db", "upgrade"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1 and "Could not" in result.output and "s3cret" not in result.output, command


def test_with_the_database_down_customers_get_a_friendly_503_and_readyz_says_why(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from agent.services import Services
    from ui.app import build_app

    settings = load_settings(data_dir=tmp_path, database_url="postgresql://findesk:s3cret@127.0.0.1:9/findesk")
    users = UserStore(tmp_path / "users.sqlite3", hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client = TestClient(build_app(settings, services=Services(settings), users=users))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database"] == "unreachable"
    assert client.get("/healthz").status_code == 200
    turn = client.post("/api/chat", data={"text": "How do I reset my password?"})
    assert turn.status_code == 503 and "having trouble" in turn.json()["error"]
    assert "127.0.0.1" not in turn.text and "s3cret" not in turn.text
