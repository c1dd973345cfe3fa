"""Staff users (agents, operators), their argon2-hashed passwords, and the tokens that stand for a login.

Customers are anonymous and never appear here. Everything lives in the product's one SQLite file
(`settings.database_path`): table `users`, `auth_tokens` holding only the SHA-256 of each token (so a
copied database does not hand out working sessions), and `auth_audit`, the sign-in log that also drives
the throttle on repeated failures (so it holds across restarts and replicas sharing the database).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agent.settings import Settings

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
    expires_at TEXT,                   -- NULL: until revoked
    token_id TEXT,                     -- issue #9: a public handle to list and revoke one token by
    last_used_at TEXT                  -- issue #9: updated at most once a minute
);
-- Issue #9: every sign-in attempt, failed or not; recent failures throttle further attempts.
CREATE TABLE IF NOT EXISTS auth_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,                  -- ISO 8601 UTC, milliseconds: compared as text
    event TEXT NOT NULL,               -- 'login' | 'login_failed' | 'login_throttled' (refused unchecked)
    user TEXT NOT NULL,                -- the name as typed (may be no user at all)
    address TEXT NOT NULL              -- the client address
);
CREATE INDEX IF NOT EXISTS auth_audit_user ON auth_audit(user, at);
CREATE INDEX IF NOT EXISTS auth_audit_address ON auth_audit(address, at);
"""
# Columns added after the first release, for databases created before them (issue #9).
_ADDED_COLUMNS = {"auth_tokens": ("token_id TEXT", "last_used_at TEXT")}
LAST_USED_EVERY = timedelta(minutes=1)  # a token's last use is written at most this often


class AuthError(Exception):
    """Shown to the user as is: a refused login, an unknown user, a weak password."""


class LoginThrottled(AuthError):
    """Too many failed sign-ins for this account or from this address: try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, math.ceil(retry_after_s / 60))
        super().__init__(f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}.")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins are allowed in `window` before further attempts are refused."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class TokenInfo:
    """What `findesk user tokens` shows about a token: never the token itself."""

    id: str
    kind: str  # 'api' | 'session'
    created_at: str
    expires_at: str | None
    last_used_at: str | None


@dataclass(frozen=True)
class User:
    name: str
    role: str  # "agent" | "operator"
    created_at: str


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(at: datetime | None = None) -> str:
    """A fixed-width UTC timestamp, so timestamps compare correctly as text in SQL."""
    return (at or _now()).isoformat(timespec="milliseconds")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_TOKEN_INFO = "token_id, kind, created_at, expires_at, last_used_at"


def _token_info(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(row["token_id"], row["kind"], row["created_at"], row["expires_at"], row["last_used_at"])


class UserStore:
    """Thread-safe: one connection behind a lock (FastAPI and Gradio call from worker threads)."""

    def __init__(
        self,
        path: Path,
        *,
        hasher: PasswordHasher | None = None,
        api_token_ttl: timedelta = timedelta(days=90),
        login_limits: LoginLimits = LoginLimits(),
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._hasher = hasher or PasswordHasher()
        self.api_token_ttl = api_token_ttl
        self.login_limits = login_limits
        # Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            for table, columns in _ADDED_COLUMNS.items():
                present = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
                for column in columns:
                    if column.split()[0] not in present:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
            # Tokens issued before ids existed get one, so they can be listed and revoked like the rest.
            self._db.execute("UPDATE auth_tokens SET token_id = lower(hex(randomblob(6))) WHERE token_id IS NULL")

    @classmethod
    def from_settings(cls, settings: Settings) -> UserStore:
        security = settings.security
        return cls(
            settings.database_path,
            api_token_ttl=timedelta(days=security.api_token_days),
            login_limits=LoginLimits(
                security.login_failures_per_account,
                security.login_failures_per_address,
                timedelta(seconds=security.login_window_s),
            ),
        )

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
        """A new random token for the user; only its hash is stored, so show it to them now or never.

        API tokens expire after `api_token_ttl` unless `ttl` says otherwise; browser sessions pass their own.
        """
        if self.get(name) is None:
            raise AuthError(f"No user named {name!r}.")
        token = ("fd_" if kind == "api" else "") + secrets.token_urlsafe(32)
        now = _now()
        expires = now + (ttl if ttl is not None else self.api_token_ttl)
        with self._lock:
            self._db.execute(
                "INSERT INTO auth_tokens(token_hash, user, kind, created_at, expires_at, token_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(token), name, kind, _stamp(now), _stamp(expires), secrets.token_hex(6)),
            )
        return token

    def token_info(self, token: str) -> TokenInfo | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_TOKEN_INFO} FROM auth_tokens WHERE token_hash = ?", (_digest(token),))
            found = row.fetchone()
        return _token_info(found) if found else None

    def tokens(self, name: str) -> list[TokenInfo]:
        """The user's live tokens and browser sessions, oldest first (expired ones are dropped here)."""
        if self.get(name) is None:
            raise AuthError(f"No user named {name!r}.")
        with self._lock:
            self._db.execute("DELETE FROM auth_tokens WHERE expires_at IS NOT NULL AND expires_at < ?", (_stamp(),))
            rows = self._db.execute(
                f"SELECT {_TOKEN_INFO} FROM auth_tokens WHERE user = ? ORDER BY created_at", (name,)
            ).fetchall()
        return [_token_info(row) for row in rows]

    def revoke_id(self, name: str, token_id: str) -> None:
        """Revoke one of the user's tokens by the id `tokens` shows; it stops working at once."""
        with self._lock:
            deleted = self._db.execute(
                "DELETE FROM auth_tokens WHERE user = ? AND token_id = ?", (name, token_id)
            ).rowcount
        if not deleted:
            raise AuthError(f"{name!r} has no token {token_id!r}: `findesk user tokens {name}` lists them.")

    def login(self, name: str, password: str, *, address: str = "") -> str:
        """Check the password and open a browser session; returns the session token for the cookie.

        Refused with LoginThrottled, before the password is even checked, after too many recent failures for
        the account or from the address; every attempt is written to the sign-in log.
        """
        try:
            self._check_throttle(name, address)
        except LoginThrottled:
            self._audit("login_throttled", name, address)
            raise
        try:
            user = self.verify_password(name, password)
        except AuthError:
            self._audit("login_failed", name, address)
            raise
        self._audit("login", user.name, address)
        return self.issue_token(user.name, kind="session", ttl=timedelta(hours=SESSION_HOURS))

    def sign_ins(self, limit: int = 100) -> list[dict[str, str]]:
        """The sign-in log, newest first: {at, event, user, address}."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, event, user, address FROM auth_audit ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(row) for row in rows]

    def _audit(self, event: str, name: str, address: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO auth_audit(at, event, user, address) VALUES (?, ?, ?, ?)", (_stamp(), event, name, address)
            )

    def _check_throttle(self, name: str, address: str) -> None:
        limits, now = self.login_limits, _now()
        since = _stamp(now - limits.window)
        with self._lock:
            # An account's count restarts at its last successful sign-in (only its owner can do that); an
            # address's does not, or one valid account would let its holder guess at everyone else's.
            last_ok = self._db.execute(
                "SELECT MAX(at) FROM auth_audit WHERE event = 'login' AND user = ?", (name,)
            ).fetchone()[0]
            checks = [("user", name, max(since, last_ok or ""), limits.per_account)]
            if address:
                checks.append(("address", address, since, limits.per_address))
            for column, value, after, allowed in checks:
                # The oldest failure that still counts: once it leaves the window, one more attempt is allowed.
                count, oldest = self._db.execute(
                    f"SELECT COUNT(*), MIN(at) FROM (SELECT at FROM auth_audit WHERE event = 'login_failed'"
                    f" AND {column} = ? AND at > ? ORDER BY at DESC LIMIT ?)",
                    (value, after, allowed),
                ).fetchone()
                if count >= allowed:
                    wait = datetime.fromisoformat(oldest) + limits.window - now
                    raise LoginThrottled(max(1, math.ceil(wait.total_seconds())))

    def user_for_token(self, token: str | None) -> User | None:
        """The user a token stands for, or None if it is unknown, expired or its user was removed."""
        if not token:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT u.name, u.role, u.created_at, t.expires_at, t.last_used_at FROM auth_tokens t"
                " JOIN users u ON u.name = t.user WHERE t.token_hash = ?",
                (_digest(token),),
            ).fetchone()
        if row is None:
            return None
        now = _now()
        if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) < now:
            self.revoke(token)
            return None
        if not row["last_used_at"] or datetime.fromisoformat(row["last_used_at"]) < now - LAST_USED_EVERY:
            with self._lock:
                self._db.execute(
                    "UPDATE auth_tokens SET last_used_at = ? WHERE token_hash = ?", (_stamp(now), _digest(token))
                )
        return User(row["name"], row["role"], row["created_at"])

    def revoke(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (_digest(token),))
