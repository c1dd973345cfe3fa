"""Issue #13 (support desk): thumbs up/down on the bot's answers, and customer ratings (CSAT).

- feedback_thumbs: one "up" or "down" per assistant message (the latest click counts).
- feedback_ratings: one 1-5 rating with an optional comment per conversation, after a person resolved it.

Revision ID: 0004_feedback
Revises: 0003_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_feedback"
down_revision = "0003_security"
branch_labels = None
depends_on = None

MESSAGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_thumbs",
        sa.Column("message_id", MESSAGE_ID, sa.ForeignKey("conv_messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.CheckConstraint("value IN ('up', 'down')", name="feedback_thumbs_value"),
    )
    op.create_index("feedback_thumbs_session", "feedback_thumbs", ["session_id"])
    op.create_index("feedback_thumbs_at", "feedback_thumbs", ["at"])
    op.create_table(
        "feedback_ratings",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("agent", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.Text, nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="feedback_ratings_score"),
    )
    op.create_index("feedback_ratings_at", "feedback_ratings", ["at"])


def downgrade() -> None:
    op.drop_table("feedback_ratings")
    op.drop_table("feedback_thumbs")
