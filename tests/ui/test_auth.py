"""Staff users, argon2 password hashes and tokens (ui/auth.py), and the CLI that manages them."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from typer.testing import CliRunner

from agent.settings import load_settings
from retrieval.database import Database, open_database
from ui.auth import AuthError, LoginLimits, LoginThrottled, UserStore

LEGACY_DB = Path(__file__).resolve().parents[1] / "data" / "findesk-0.1.sqlite3"
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


@pytest.mark.storage
def test_cli_user_add_list_token(tmp_path: Path) -> None:
    from ui.cli import app

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    added = runner.invoke(app, ["user", "add", "alice", "--role", "agent", "--password-stdin", *data],
                          input="correct horse\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    refused = runner.invoke(app, ["user", "add", "eve", "--role", "root", "--password-stdin", *data], input="x" * 9)
    assert refused.exit_code == 1 and "Unknown role" in refused.output
    early_refusals = ((["alice", "--role", "operator"], "already exists"), (["eve", "--role", "root"], "Unknown role"))
    for args, says in early_refusals:
        early = runner.invoke(app, ["user", "add", *args, *data], input="")  # refused before the password prompt
        assert early.exit_code == 1 and says in early.output and "Password" not in early.output, early.output
    listed = runner.invoke(app, ["user", "list", "--json", *data])
    assert '"name": "alice"' in listed.stdout and '"role": "agent"' in listed.stdout
    token = runner.invoke(app, ["user", "token", "alice", *data]).stdout.strip()
    db = load_settings(data_dir=tmp_path).open_database()  # where the CLI wrote (PostgreSQL when the suite runs on it)
    try:
        assert UserStore(db, hasher=FAST).user_for_token(token).name == "alice"
    finally:
        db.close()


# --- sign-in throttling and the sign-in log (issue #9 item 8) ---------------------------------------------


def _strict(database: Database, **limits: object) -> UserStore:
    store = UserStore(database, hasher=FAST, login_limits=LoginLimits(**limits))
    store.add("alice", "agent", "correct horse")
    store.add("bob", "agent", "correct horse")
    return store


def test_repeated_failures_lock_the_account_even_for_the_right_password(database: Database) -> None:
    users = _strict(database, per_account=3, per_address=100, window=timedelta(minutes=15))
    for _ in range(3):
        with pytest.raises(AuthError, match="Wrong user name or password"):
            users.login("alice", "guess", address="203.0.113.9")
    with pytest.raises(LoginThrottled) as throttled:
        users.login("alice", "correct horse", address="198.51.100.1")  # another address: still the same account
    assert 0 < throttled.value.retry_after_s <= 15 * 60 and "15 minutes" in str(throttled.value)
    assert users.login("bob", "correct horse", address="203.0.113.9")  # other accounts are not locked
    log = users.sign_ins()
    assert [e["event"] for e in log] == ["login", "login_throttled", "login_failed", "login_failed", "login_failed"]
    assert log[2] == {"at": log[2]["at"], "event": "login_failed", "user": "alice", "address": "203.0.113.9"}


def test_repeated_failures_from_one_address_lock_that_address(database: Database) -> None:
    users = _strict(database, per_account=100, per_address=3)
    for name in ("alice", "bob", "nobody"):  # spraying one guess over many names
        with pytest.raises(AuthError):
            users.login(name, "Summer2026!", address="203.0.113.9")
    with pytest.raises(LoginThrottled):
        users.login("bob", "correct horse", address="203.0.113.9")
    assert users.login("bob", "correct horse", address="198.51.100.1")


class SlowHasher(PasswordHasher):
    """Real argon2id whose check takes 0.3 s, as a production-cost hash does under load (FAST takes about a
    millisecond): the window in which concurrent guesses could all pass the limit before any is counted."""

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 - argon2's parameter name
        time.sleep(0.3)
        return super().verify(hash, password)


def test_a_burst_of_guesses_on_two_replicas_gets_no_more_password_checks_than_the_limit(database_url: str) -> None:
    """Sign-in throttling is the limit a bank relies on against password guessing: it lives in the database, so
    replicas share it, and checking it and counting the attempt is one step, so guesses sent at once, to one
    replica or to several, cannot all be checked before the first failure is counted."""
    limits = LoginLimits(per_account=3, per_address=100)
    dbs = [open_database(database_url) for _ in range(2)]  # each its own engine and pool, as two servers
    try:
        replicas = [UserStore(db, hasher=SlowHasher(time_cost=1, memory_cost=8192, parallelism=1), login_limits=limits)
                    for db in dbs]  # fmt: skip
        replicas[0].add("alice", "agent", "correct horse")
        guesses, start, outcomes = 12, threading.Barrier(12), []

        def guess(n: int) -> None:
            start.wait()
            try:
                replicas[n % 2].login("alice", f"guess {n}", address=f"203.0.113.{n}")
            except LoginThrottled:
                outcomes.append("throttled")
            except AuthError:
                outcomes.append("wrong password")

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["throttled"] * 9 + ["wrong password"] * 3
        log = replicas[1].sign_ins()
        assert sorted(e["event"] for e in log) == ["login_failed"] * 3 + ["login_throttled"] * 9
        with pytest.raises(LoginThrottled):  # the right password too, on either replica, until the window passes
            replicas[1].login("alice", "correct horse", address="198.51.100.1")
    finally:
        for db in dbs:
            db.close()


def test_the_lock_lifts_when_the_failures_leave_the_window(database: Database) -> None:
    users = _strict(database, per_account=2, per_address=100)
    for _ in range(2):
        with pytest.raises(AuthError):
            users.login("alice", "guess", address="a")
    with pytest.raises(LoginThrottled):
        users.login("alice", "correct horse", address="a")
    with users.db.write() as conn:  # as if the window had passed
        conn.execute(sa.text("UPDATE auth_audit SET at = '2000-01-01T00:00:00.000+00:00'"))
    assert users.login("alice", "correct horse", address="a")


def test_a_successful_sign_in_restarts_the_accounts_count(database: Database) -> None:
    users = _strict(database, per_account=2, per_address=100)
    with pytest.raises(AuthError):
        users.login("alice", "typo", address="a")
    assert users.login("alice", "correct horse", address="a")
    with pytest.raises(AuthError):
        users.login("alice", "typo", address="a")
    assert users.login("alice", "correct horse", address="a")  # one failure since the last success, not two


# --- API token expiry, listing and revocation (issue #9 item 12) -------------------------------------------


def test_api_tokens_expire_after_the_configured_lifetime(database: Database) -> None:
    users = UserStore(database, hasher=FAST, api_token_ttl=timedelta(days=90))
    users.add("olga", "operator", "correct horse")
    token = users.issue_token("olga")
    lifetime = datetime.fromisoformat(users.token_info(token).expires_at) - datetime.now(UTC)
    assert timedelta(days=89, hours=23) < lifetime <= timedelta(days=90)
    short = UserStore(database, hasher=FAST, api_token_ttl=timedelta(seconds=-1))
    assert short.user_for_token(short.issue_token("olga")) is None
    assert short.user_for_token(token).name == "olga"  # an older token keeps the expiry it was issued with


def test_tokens_are_listed_without_secrets_and_revoked_one_by_one(users: UserStore) -> None:
    users.add("olga", "operator", "correct horse")
    users.add("alice", "agent", "correct horse")
    first, second = users.issue_token("olga"), users.issue_token("olga")
    assert users.user_for_token(first).name == "olga"  # records its use
    listed = users.tokens("olga")
    assert [t.kind for t in listed] == ["api", "api"]
    assert listed[0].last_used_at and listed[1].last_used_at is None
    assert all(t.id and t.created_at and t.expires_at for t in listed)
    assert first not in repr(listed) and second not in repr(listed)
    users.revoke_id("olga", listed[0].id)
    assert users.user_for_token(first) is None and users.user_for_token(second).name == "olga"
    with pytest.raises(AuthError, match="no token"):
        users.revoke_id("olga", "not-an-id")
    with pytest.raises(AuthError, match="no token"):
        users.revoke_id("alice", listed[1].id)  # another user's token id revokes nothing
    assert users.user_for_token(second).name == "olga"


def test_tokens_from_before_token_ids_get_one_and_an_expiry(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    shutil.copy(LEGACY_DB, path)  # made by FinDesk 0.1: alice has an API token without id or expiry
    users = UserStore(path, hasher=FAST)
    try:
        (legacy,) = users.tokens("alice")
        lifetime = datetime.fromisoformat(legacy.expires_at) - datetime.now(UTC)
        assert legacy.id and timedelta(days=89) < lifetime <= timedelta(days=90)  # "never" became 90 days
        users.revoke_id("alice", legacy.id)
        assert users.tokens("alice") == []
    finally:
        users.close()


@pytest.mark.storage
def test_cli_user_token_tokens_and_revoke(tmp_path: Path) -> None:
    from ui.cli import app

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    add = ["user", "add", "olga", "--role", "operator", "--password-stdin", *data]
    runner.invoke(app, add, input="correct horse\n")
    issued = runner.invoke(app, ["user", "token", "olga", *data])
    token = issued.stdout.strip()
    assert issued.exit_code == 0 and token.startswith("fd_") and "--revoke" in issued.stderr
    listed = runner.invoke(app, ["user", "tokens", "olga", "--json", *data])
    (row,) = json.loads(listed.stdout)["tokens"]
    assert set(row) == {"id", "kind", "created_at", "expires_at", "last_used_at"} and token not in listed.stdout
    table = runner.invoke(app, ["user", "tokens", "olga", *data]).stdout
    assert table.splitlines()[0] == "id\tkind\tcreated\texpires\tlast used" and row["id"] in table
    revoked = runner.invoke(app, ["user", "token", "olga", "--revoke", row["id"], *data])
    assert revoked.exit_code == 0
    again = runner.invoke(app, ["user", "token", "olga", "--revoke", row["id"], *data])
    assert again.exit_code == 1 and "no token" in again.output
