"""Agents' presence: when each agent's desk was last seen, so round-robin skips agents who left it open as
"available" and closed the tab (agent/assignment.py, desk.presence_timeout_s).

- desk_agents.seen_at: Unix seconds of the agent's latest desk refresh or status change; NULL until the agent's
  desk is next seen, so after the upgrade an available agent is assigned again once their open desk refreshes
  (every 3 s) or they set their status.

Revision ID: 0008_desk_presence
Revises: 0007_webhook_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_desk_presence"
down_revision = "0007_webhook_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("desk_agents", sa.Column("seen_at", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("desk_agents") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("seen_at")
