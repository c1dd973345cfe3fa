"""Staff users, argon2 password hashes and tokens (ui/auth.py), and the CLI that manages them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from typer.testing import CliRunner

from retrieval.database import Database
from ui.auth import AuthError, UserStore

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # real argon2id, cheaper parameters


@pytest.fixture()
def users(database: Database) -> UserStore:
    """On SQLite and on PostgreSQL (tests/conftest.py)."""
    return UserStore(database, hasher=FAST)


def stored_column(users: UserStore, table: str, column: str) -> list[str]:
    with users.db.read() as conn:
        return list(conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalars())


def test_password_is_stored_as_argon2id_hash_and_verifies(users: UserStore) -> None:
    users.add("alice", "agent", "correct horse")
    [stored] = stored_column(users, "users", "password_hash")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.verify_password("alice", "correct horse").role == "agent"


def test_wrong_password_and_unknown_user_get_the_same_refusal(users: UserStore) -> None:
    users.add("alice", "agent", "correct horse")
    with pytest.raises(AuthError) as wrong:
        users.verify_password("alice", "wrong horse")
    with pytest.raises(AuthError) as unknown:
        users.verify_password("mallory", "correct horse")
    assert str(wrong.value) == str(unknown.value) == "Wrong user name or password."


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("bob", "admin", "long enough", "Unknown role"),
        ("bob", "agent", "short", "too short"),
        ("bob smith", "agent", "long enough", "Invalid user name"),
    ],
)
def test_bad_new_users_are_refused(users: UserStore, name: str, role: str, password: str, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        users.add(name, role, password)


def test_duplicate_user_is_refused(users: UserStore) -> None:
    users.add("alice", "agent", "correct horse")
    with pytest.raises(AuthError, match="already exists"):
        users.add("alice", "operator", "another one")


def test_tokens_are_stored_hashed_and_stop_working_when_revoked_or_user_removed(users: UserStore) -> None:
    users.add("olga", "operator", "correct horse")
    token = users.issue_token("olga")
    assert token.startswith("fd_")
    assert token not in stored_column(users, "auth_tokens", "token_hash")
    assert users.user_for_token(token).name == "olga"
    users.revoke(token)
    assert users.user_for_token(token) is None
    session = users.login("olga", "correct horse")
    assert users.user_for_token(session).role == "operator"
    users.remove("olga")
    assert users.user_for_token(session) is None
    assert users.user_for_token("fd_made-up") is None
    assert users.user_for_token(None) is None


def test_expired_session_is_refused(users: UserStore) -> None:
    users.add("alice", "agent", "correct horse")
    token = users.issue_token("alice", kind="session", ttl=timedelta(seconds=-1))
    assert users.user_for_token(token) is None


def test_cli_user_add_list_token(tmp_path: Path) -> None:
    from ui.cli import app

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    added = runner.invoke(app, ["user", "add", "alice", "--role", "agent", "--password-stdin", *data],
                          input="correct horse\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    refused = runner.invoke(app, ["user", "add", "eve", "--role", "root", "--password-stdin", *data], input="x" * 9)
    assert refused.exit_code == 1 and "Unknown role" in refused.output
    listed = runner.invoke(app, ["user", "list", "--json", *data])
    assert '"name": "alice"' in listed.stdout and '"role": "agent"' in listed.stdout
    token = runner.invoke(app, ["user", "token", "alice", *data]).stdout.strip()
    assert UserStore(tmp_path / "findesk.sqlite3", hasher=FAST).user_for_token(token).name == "alice"
