"""Staff users (agents, operators), their argon2-hashed passwords, and the tokens that stand for a login.

Customers are anonymous and never appear here. Everything lives in the product's one database (SQLite in
the data folder, or the shared PostgreSQL): table `users`, and `auth_tokens` holding only the SHA-256 of
each token, so a copied database does not hand out working sessions.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
)


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
    """Staff users and tokens on the storage layer (SQLite or PostgreSQL). Safe to share between threads.

    `database` is an open Database shared with the other stores, or the path of a SQLite file (the store
    then opens, migrates and closes it itself).
    """

    def __init__(self, database: Database | Path, *, hasher: PasswordHasher | None = None) -> None:
        self._owns_db = not isinstance(database, Database)
        self.db = database if isinstance(database, Database) else open_database(f"sqlite:///{Path(database)}")
        self._hasher = hasher or PasswordHasher()
        # Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # --- users -------------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        if not _NAME.match(name):
            raise AuthError(f"Invalid user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'.")
        if role not in ROLES:
            raise AuthError(f"Unknown role {role!r}; valid roles: {', '.join(ROLES)}.")
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
        """A new random token for the user; only its hash is stored, so show it to them now or never."""
        if self.get(name) is None:
            raise AuthError(f"No user named {name!r}.")
        token = ("fd_" if kind == "api" else "") + secrets.token_urlsafe(32)
        now = _now()
        expires = (now + ttl).isoformat() if ttl else None
        row = {
            "token_hash": _digest(token),
            "user": name,
            "kind": kind,
            "created_at": now.isoformat(),
            "expires_at": expires,
        }
        with self.db.write() as conn:
            conn.execute(sa.insert(auth_tokens).values(row))
        return token

    def login(self, name: str, password: str) -> str:
        """Check the password and open a browser session; returns the session token for the cookie."""
        user = self.verify_password(name, password)
        return self.issue_token(user.name, kind="session", ttl=timedelta(hours=SESSION_HOURS))

    def user_for_token(self, token: str | None) -> User | None:
        """The user a token stands for, or None if it is unknown, expired or its user was removed."""
        if not token:
            return None
        query = (
            sa.select(users_table.c.name, users_table.c.role, users_table.c.created_at, auth_tokens.c.expires_at)
            .join(users_table, users_table.c.name == auth_tokens.c.user)
            .where(auth_tokens.c.token_hash == _digest(token))
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.expires_at and datetime.fromisoformat(row.expires_at) < _now():
            self.revoke(token)
            return None
        return User(row.name, row.role, row.created_at)

    def revoke(self, token: str) -> None:
        with self.db.write() as conn:
            conn.execute(sa.delete(auth_tokens).where(auth_tokens.c.token_hash == _digest(token)))
