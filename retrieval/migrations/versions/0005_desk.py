"""Issue #13 (support desk): private notes and labels on conversations, and the team's canned responses.

- conv_notes: staff-only notes on a conversation (never among its messages, so never shown to the
  customer or put in a model's prompt).
- conv_labels: (conversation, label) pairs, e.g. fraud, complaint; the desk's queue filters by them.
- canned_responses: shared replies per (shortcut, language), with {customer_name} and {agent_name}.

Revision ID: 0005_desk
Revises: 0004_feedback
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_desk"
down_revision = "0004_feedback"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conv_notes",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("conv_notes_session", "conv_notes", ["session_id"])
    op.create_table(
        "conv_labels",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("label", sa.Text, primary_key=True),
    )
    op.create_index("conv_labels_label", "conv_labels", ["label"])
    op.create_table(
        "canned_responses",
        sa.Column("shortcut", sa.Text, primary_key=True),
        sa.Column("language", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("canned_responses")
    op.drop_table("conv_labels")
    op.drop_table("conv_notes")
