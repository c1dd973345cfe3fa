"""Staff users (agents, operators), their argon2-hashed passwords, and the tokens that stand for a login.

Customers are anonymous and never appear here. Everything lives in the product's one SQLite file
(`settings.database_path`): table `users`, and `auth_tokens` holding only the SHA-256 of each token, so a
copied database does not hand out working sessions.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("agent", "operator")
SESSION_HOURS = 12  # a browser login lasts one working shift
MIN_PASSWORD_CHARS = 8
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_tokens (
    token_hash TEXT PRIMARY KEY,       -- sha256 of the token; the token itself is never stored
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    kind TEXT NOT NULL,                -- 'session' (browser login) or 'api' (findesk user token)
    created_at TEXT NOT NULL,
    expires_at TEXT                    -- NULL: until revoked
);
"""


class AuthError(Exception):
    """Shown to the user as is: a refused login, an unknown user, a weak password."""


@dataclass(frozen=True)
class User:
    name: str
    role: str  # "agent" | "operator"
    created_at: str


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Thread-safe: one connection behind a lock (FastAPI and Gradio call from worker threads)."""

    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._hasher = hasher or PasswordHasher()
        # Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- users -------------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        if not _NAME.match(name):
            raise AuthError(f"Invalid user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'.")
        if role not in ROLES:
            raise AuthError(f"Unknown role {role!r}; valid roles: {', '.join(ROLES)}.")
        if len(password) < MIN_PASSWORD_CHARS:
            raise AuthError(f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters.")
        created = _now().isoformat(timespec="seconds")
        password_hash = self._hasher.hash(password)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users(name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    (name, role, password_hash, created),
                )
            except sqlite3.IntegrityError as error:
                raise AuthError(f"User {name!r} already exists.") from error
        return User(name, role, created)

    def get(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute("SELECT name, role, created_at FROM users WHERE name = ?", (name,)).fetchone()
        return User(row["name"], row["role"], row["created_at"]) if row else None

    def list(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, created_at FROM users ORDER BY name").fetchall()
        return [User(r["name"], r["role"], r["created_at"]) for r in rows]

    def remove(self, name: str) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise AuthError(f"No user named {name!r}.")

    def verify_password(self, name: str, password: str) -> User:
        """The user if the password matches; AuthError otherwise (same message for unknown users)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        try:
            self._hasher.verify(row["password_hash"] if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            raise AuthError("Wrong user name or password.")
        if self._hasher.check_needs_rehash(row["password_hash"]):
            with self._lock:
                self._db.execute(
                    "UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name)
                )
        return User(row["name"], row["role"], row["created_at"])

    # --- tokens ------------------------------------------------------------------------------------

    def issue_token(self, name: str, *, kind: str = "api", ttl: timedelta | None = None) -> str:
        """A new random token for the user; only its hash is stored, so show it to them now or never."""
        if self.get(name) is None:
            raise AuthError(f"No user named {name!r}.")
        token = ("fd_" if kind == "api" else "") + secrets.token_urlsafe(32)
        now = _now()
        expires = (now + ttl).isoformat() if ttl else None
        with self._lock:
            self._db.execute(
                "INSERT INTO auth_tokens(token_hash, user, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_digest(token), name, kind, now.isoformat(), expires),
            )
        return token

    def login(self, name: str, password: str) -> str:
        """Check the password and open a browser session; returns the session token for the cookie."""
        user = self.verify_password(name, password)
        return self.issue_token(user.name, kind="session", ttl=timedelta(hours=SESSION_HOURS))

    def user_for_token(self, token: str | None) -> User | None:
        """The user a token stands for, or None if it is unknown, expired or its user was removed."""
        if not token:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT u.name, u.role, u.created_at, t.expires_at FROM auth_tokens t JOIN users u ON u.name = t.user"
                " WHERE t.token_hash = ?",
                (_digest(token),),
            ).fetchone()
        if row is None:
            return None
        if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) < _now():
            self.revoke(token)
            return None
        return User(row["name"], row["role"], row["created_at"])

    def revoke(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (_digest(token),))
