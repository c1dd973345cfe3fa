"""Issue #9 (security): customer session tokens, API token ids and last use, and the sign-in log.

- conv_sessions.token_hash: sha256 of the secret a customer must present to read or write a conversation
  (NULL for conversations made before, or inside the server: no outside caller can open them).
- auth_tokens.token_id, auth_tokens.last_used_at: a public handle to list and revoke one token by, and when
  it was last used (written at most once a minute). Existing tokens get an id here, and API tokens issued
  before expiry existed (expires_at NULL: never) now expire 90 days (the default lifetime) after the upgrade.
- auth_audit: every sign-in attempt (login, login_failed, login_throttled) with the name typed and the
  client address; recent failures throttle further attempts (ui/auth.py).

Revision ID: 0003_security
Revises: 0002_voice_tone
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0003_security"
down_revision = "0002_voice_tone"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _add_column(table: str, column: sa.Column) -> None:
    if column.name not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}:
        op.add_column(table, column)


def upgrade() -> None:
    _add_column("conv_sessions", sa.Column("token_hash", sa.Text, nullable=True))
    _add_column("auth_tokens", sa.Column("token_id", sa.Text, nullable=True))
    _add_column("auth_tokens", sa.Column("last_used_at", sa.Text, nullable=True))
    bind = op.get_bind()
    tokens = sa.table(
        "auth_tokens",
        sa.column("token_hash", sa.Text),
        sa.column("token_id", sa.Text),
        sa.column("kind", sa.Text),
        sa.column("expires_at", sa.Text),
    )
    for (token_hash,) in bind.execute(sa.select(tokens.c.token_hash).where(tokens.c.token_id.is_(None))).all():
        bind.execute(sa.update(tokens).where(tokens.c.token_hash == token_hash).values(token_id=secrets.token_hex(6)))
    grace = (datetime.now(UTC) + timedelta(days=90)).isoformat(timespec="milliseconds")
    never = (tokens.c.kind == "api") & tokens.c.expires_at.is_(None)
    bind.execute(sa.update(tokens).where(never).values(expires_at=grace))
    if not sa.inspect(bind).has_table("auth_audit"):
        op.create_table(
            "auth_audit",
            sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
            sa.Column("at", sa.Text, nullable=False),  # ISO 8601 UTC, milliseconds: compared as text
            sa.Column("event", sa.Text, nullable=False),
            sa.Column("user", sa.Text, nullable=False),  # the name as typed (may be no user at all)
            sa.Column("address", sa.Text, nullable=False),
            sqlite_autoincrement=True,
        )
        op.create_index("auth_audit_user", "auth_audit", ["user", "at"])
        op.create_index("auth_audit_address", "auth_audit", ["address", "at"])
