"""Durable webhooks: an outbox of deliveries that survives restarts and is shared by replicas.

- webhook_outbox: one row per (event, receiver URL). It is written in the same transaction as the change
  that causes the event, and a background deliverer on any replica claims due rows (a lease:
  claimed_until, claimed_by), POSTs them and marks them delivered, or schedules a retry, or gives up (failed).

Revision ID: 0007_webhook_outbox
Revises: 0006_desk_assign
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_webhook_outbox"
down_revision = "0006_desk_assign"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_outbox",
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("claimed_until", sa.Double),
        sa.Column("claimed_by", sa.Text),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("webhook_outbox_due", "webhook_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("webhook_outbox")
