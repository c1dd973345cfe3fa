"""Staff users (agents, operators), their argon2-hashed passwords, and the tokens that stand for a login.

Customers are anonymous and never appear here. Everything lives in the product's one database (SQLite in
the data folder, or the shared PostgreSQL): table `users`, `auth_tokens` holding only the SHA-256 of each
token (so a copied database does not hand out working sessions), and `auth_audit`, the sign-in log that also
drives the throttle on repeated failures (so it holds across restarts and replicas sharing the database).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agent.settings import SecurityConfig
from retrieval.database import Database, open_database

ROLES = ("agent", "operator")
SESSION_HOURS = 12  # a browser login lasts one working shift
MIN_PASSWORD_CHARS = 8
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_metadata = sa.MetaData()
# The tables as the queries below see them; retrieval/migrations/ creates and upgrades them.
users_table = sa.Table(
    "users",
    _metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("role", sa.Text),
    sa.Column("password_hash", sa.Text),
    sa.Column("created_at", sa.Text),
)
auth_tokens = sa.Table(
    "auth_tokens",
    _metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),  # sha256 of the token; the token itself is never stored
    sa.Column("user", sa.Text),
    sa.Column("kind", sa.Text),  # 'session' (browser login) or 'api' (findesk user token)
    sa.Column("created_at", sa.Text),
    sa.Column("expires_at", sa.Text),  # NULL: until revoked
    sa.Column("token_id", sa.Text),  # issue #9: a public handle to list and revoke one token by
    sa.Column("last_used_at", sa.Text),  # issue #9: written at most once a minute (LAST_USED_EVERY)
)
# Issue #9: every sign-in attempt; recent failures throttle further attempts (migration 0003).
auth_audit = sa.Table(
    "auth_audit",
    _metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("at", sa.Text),  # ISO 8601 UTC, milliseconds: compared as text
    sa.Column("event", sa.Text),  # 'login' | 'login_failed' | 'login_throttled' (refused unchecked)
    sa.Column("user", sa.Text),  # the name as typed (may be no user at all)
    sa.Column("address", sa.Text),  # the client address
)
LAST_USED_EVERY = timedelta(minutes=1)


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


_TOKEN_INFO = (auth_tokens.c.token_id, auth_tokens.c.kind, auth_tokens.c.created_at, auth_tokens.c.expires_at,
               auth_tokens.c.last_used_at)  # fmt: skip


class UserStore:
    """Staff users and tokens on the storage layer (SQLite or PostgreSQL). Safe to share between threads.

    `database` is an open Database shared with the other stores, or the path of a SQLite file (the store
    then opens, migrates and closes it itself).
    """

    def __init__(
        self,
        database: Database | Path,
        *,
        hasher: PasswordHasher | None = None,
        api_token_ttl: timedelta = timedelta(days=90),
        login_limits: LoginLimits = LoginLimits(),
    ) -> None:
        self._owns_db = not isinstance(database, Database)
        self.db = database if isinstance(database, Database) else open_database(f"sqlite:///{Path(database)}")
        self._hasher = hasher or PasswordHasher()
        self.api_token_ttl = api_token_ttl
        self.login_limits = login_limits
        # Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def configured(cls, database: Database | Path, security: SecurityConfig) -> UserStore:
        """The store with the settings' token lifetime and sign-in limits."""
        limits = LoginLimits(
            security.login_failures_per_account,
            security.login_failures_per_address,
            timedelta(seconds=security.login_window_s),
        )
        return cls(database, api_token_ttl=timedelta(days=security.api_token_days), login_limits=limits)

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # --- users -------------------------------------------------------------------------------------

    def check_new(self, name: str, role: str) -> None:
        """Refuse a bad name, role or a taken name before anyone types a password for it (AuthError)."""
        if not _NAME.match(name):
            raise AuthError(f"Invalid user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'.")
        if role not in ROLES:
            raise AuthError(f"Unknown role {role!r}; valid roles: {', '.join(ROLES)}.")
        if self.get(name) is not None:
            raise AuthError(f"User {name!r} already exists.")

    def add(self, name: str, role: str, password: str) -> User:
        self.check_new(name, role)
        if len(password) < MIN_PASSWORD_CHARS:
            raise AuthError(f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters.")
        created = _now().isoformat(timespec="seconds")
        row = {"name": name, "role": role, "password_hash": self._hasher.hash(password), "created_at": created}
        try:
            with self.db.write() as conn:
                conn.execute(sa.insert(users_table).values(row))
        except sa.exc.IntegrityError as error:
            raise AuthError(f"User {name!r} already exists.") from error
        return User(name, role, created)

    def get(self, name: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(users_table).where(users_table.c.name == name)).first()
        return User(row.name, row.role, row.created_at) if row else None

    def list(self) -> list[User]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(users_table).order_by(users_table.c.name)).all()
        return [User(r.name, r.role, r.created_at) for r in rows]

    def remove(self, name: str) -> None:
        with self.db.write() as conn:
            deleted = conn.execute(sa.delete(users_table).where(users_table.c.name == name)).rowcount
        if not deleted:
            raise AuthError(f"No user named {name!r}.")

    def verify_password(self, name: str, password: str) -> User:
        """The user if the password matches; AuthError otherwise (same message for unknown users)."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(users_table).where(users_table.c.name == name)).first()
        try:
            self._hasher.verify(row.password_hash if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            raise AuthError("Wrong user name or password.")
        if self._hasher.check_needs_rehash(row.password_hash):
            with self.db.write() as conn:
                rehashed = self._hasher.hash(password)
                conn.execute(sa.update(users_table).where(users_table.c.name == name).values(password_hash=rehashed))
        return User(row.name, row.role, row.created_at)

    # --- tokens ------------------------------------------------------------------------------------

    def issue_token(self, name: str, *, kind: str = "api", ttl: timedelta | None = None) -> str:
        """A new random token for the user; only its hash is stored, so show it to them now or never.

        API tokens expire after `api_token_ttl` unless `ttl` says otherwise; browser sessions pass their own.
        """
        if self.get(name) is None:
            raise AuthError(f"No user named {name!r}.")
        token = ("fd_" if kind == "api" else "") + secrets.token_urlsafe(32)
        now = _now()
        row = {
            "token_hash": _digest(token),
            "user": name,
            "kind": kind,
            "created_at": _stamp(now),
            "expires_at": _stamp(now + (ttl if ttl is not None else self.api_token_ttl)),
            "token_id": secrets.token_hex(6),
        }
        with self.db.write() as conn:
            conn.execute(sa.insert(auth_tokens).values(row))
        return token

    def token_info(self, token: str) -> TokenInfo | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(*_TOKEN_INFO).where(auth_tokens.c.token_hash == _digest(token))).first()
        return TokenInfo(*row) if row else None

    def tokens(self, name: str) -> list[TokenInfo]:
        """The user's live API tokens and browser sessions, oldest first (expired ones are dropped here)."""
        if self.get(name) is None:
            raise AuthError(f"No user named {name!r}.")
        with self.db.write() as conn:
            conn.execute(sa.delete(auth_tokens).where(auth_tokens.c.expires_at < _stamp()))
            query = sa.select(*_TOKEN_INFO).where(auth_tokens.c.user == name).order_by(auth_tokens.c.created_at)
            return [TokenInfo(*row) for row in conn.execute(query).all()]

    def revoke_id(self, name: str, token_id: str) -> None:
        """Revoke one of the user's tokens by the id `tokens` shows; it stops working at once."""
        where = (auth_tokens.c.user == name) & (auth_tokens.c.token_id == token_id)
        with self.db.write() as conn:
            deleted = conn.execute(sa.delete(auth_tokens).where(where)).rowcount
        if not deleted:
            raise AuthError(f"{name!r} has no token {token_id!r}: `findesk user tokens {name}` lists them.")

    # --- signing in ----------------------------------------------------------------------------------

    def login(self, name: str, password: str, *, address: str = "") -> str:
        """Check the password and open a browser session; returns the session token for the cookie.

        Refused with LoginThrottled, before the password is even checked, after too many recent failures for
        the account or from the address; every attempt is written to the sign-in log.
        """
        attempt = self._count_attempt(name, address)
        user = self.verify_password(name, password)  # a wrong password leaves the attempt counted as failed
        with self.db.write() as conn:
            conn.execute(sa.update(auth_audit).where(auth_audit.c.id == attempt).values(event="login", user=user.name))
        return self.issue_token(user.name, kind="session", ttl=timedelta(hours=SESSION_HOURS))

    def sign_ins(self, limit: int = 100) -> list[dict[str, str]]:
        """The sign-in log, newest first: {at, event, user, address}."""
        columns = (auth_audit.c.at, auth_audit.c.event, auth_audit.c.user, auth_audit.c.address)
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*columns).order_by(auth_audit.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]

    def _count_attempt(self, name: str, address: str) -> int:
        """Check the limits and log the attempt in one transaction under the sign-in lock; its row's id.

        The attempt is logged as failed before the (slow) password check and turned into "login" if the
        password is right. Checking first and counting after the check would let a burst of guesses sent at
        once, to one replica or several, all pass the limit before the first failure was counted.
        """
        with self.db.write(lock="sign-in") as conn:
            wait = self._throttled_for(conn, name, address)
            event = "login_failed" if wait is None else "login_throttled"
            values = {"at": _stamp(), "event": event, "user": name, "address": address}
            attempt = conn.execute(sa.insert(auth_audit).values(**values).returning(auth_audit.c.id)).scalar_one()
        if wait is not None:
            raise LoginThrottled(wait)
        return attempt

    def _throttled_for(self, conn: sa.Connection, name: str, address: str) -> int | None:
        """Seconds until the next attempt is allowed, or None if this one is."""
        limits, now = self.login_limits, _now()
        since = _stamp(now - limits.window)
        # An account's count restarts at its last successful sign-in (only its owner can do that); an
        # address's does not, or one valid account would let its holder guess at everyone else's.
        last_ok = conn.execute(
            sa.select(sa.func.max(auth_audit.c.at)).where(auth_audit.c.event == "login", auth_audit.c.user == name)
        ).scalar()
        checks = [(auth_audit.c.user == name, max(since, last_ok or ""), limits.per_account)]
        if address:
            checks.append((auth_audit.c.address == address, since, limits.per_address))
        for who, after, allowed in checks:
            # The newest `allowed` failures; once the oldest of them leaves the window, one more try is allowed.
            recent = (
                sa.select(auth_audit.c.at)
                .where(who, auth_audit.c.event == "login_failed", auth_audit.c.at > after)
                .order_by(auth_audit.c.at.desc())
                .limit(allowed)
                .subquery()
            )
            count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(recent.c.at))).one()
            if count >= allowed:
                wait = datetime.fromisoformat(oldest) + limits.window - now
                return max(1, math.ceil(wait.total_seconds()))
        return None

    def user_for_token(self, token: str | None) -> User | None:
        """The user a token stands for, or None if it is unknown, expired or its user was removed."""
        if not token:
            return None
        query = (
            sa.select(
                users_table.c.name, users_table.c.role, users_table.c.created_at, auth_tokens.c.expires_at,
                auth_tokens.c.last_used_at,
            )
            .join(users_table, users_table.c.name == auth_tokens.c.user)
            .where(auth_tokens.c.token_hash == _digest(token))
        )  # fmt: skip
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        now = _now()
        if row.expires_at and datetime.fromisoformat(row.expires_at) < now:
            self.revoke(token)
            return None
        if not row.last_used_at or datetime.fromisoformat(row.last_used_at) < now - LAST_USED_EVERY:
            with self.db.write() as conn:
                used = sa.update(auth_tokens).where(auth_tokens.c.token_hash == _digest(token))
                conn.execute(used.values(last_used_at=_stamp(now)))
        return User(row.name, row.role, row.created_at)

    def revoke(self, token: str) -> None:
        with self.db.write() as conn:
            conn.execute(sa.delete(auth_tokens).where(auth_tokens.c.token_hash == _digest(token)))
