"""Baseline: the schema FinDesk had before Alembic (FAQ store, conversations and handoffs, staff users).

Each table and index is created only if it is missing, so a data folder made by an older FinDesk (which
created these tables itself, some only when first used) is adopted as it is.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the rowid (AUTOINCREMENT never reuses one).
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _table(name: str, *columns: Any, **kwargs: Any) -> None:
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns, **kwargs)


def _index(name: str, table: str, columns: list[str]) -> None:
    if name not in {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns)


def upgrade() -> None:
    _table(
        "faq_entries",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("alternates", sa.Text, nullable=False, server_default="[]"),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False, server_default=""),
        sa.Column("language", sa.Text, nullable=False, server_default="en"),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    _index("faq_entries_category", "faq_entries", ["category"])
    _table(
        "faq_audit",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entry_id", sa.Text, nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.CheckConstraint("action IN ('add', 'edit', 'delete', 'import')"),
        sqlite_autoincrement=True,
    )
    _index("faq_audit_entry", "faq_audit", ["entry_id"])
    _table(
        "faq_changes",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Text, nullable=False),
        sa.Column("op", sa.Text, nullable=False),
        sa.CheckConstraint("op IN ('add', 'edit', 'delete')"),
        sqlite_autoincrement=True,
    )
    _table(
        "conv_sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False, server_default=""),
    )
    _table(
        "conv_messages",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("conv_sessions.session_id"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("sentiment", sa.Text),
        sa.Column("route", sa.Text),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("citations", sa.Text, nullable=False, server_default="[]"),
        sa.Column("generator", sa.Text, nullable=False, server_default=""),
        sa.Column("timings", sa.Text, nullable=False, server_default="{}"),
        sa.Column("image", sa.LargeBinary),
        sqlite_autoincrement=True,
    )
    _index("conv_messages_session", "conv_messages", ["session_id", "id"])
    _table(
        "conv_handoffs",
        sa.Column("session_id", sa.Text, sa.ForeignKey("conv_sessions.session_id"), primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("claimed_by", sa.Text, nullable=False, server_default=""),
    )
    _table(
        "users",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    _table(
        "auth_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("user", sa.Text, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text),
    )
