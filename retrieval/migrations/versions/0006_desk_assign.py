"""Issue #13 (support desk): agents' status (available, away) for round-robin assignment of the handoff queue.

- desk_agents: one row per agent who has set a status on the desk. `last_assigned` is the round-robin turn:
  the number of the latest automatic assignment the agent got (NULL: none yet, so they are first in line).
  An agent without a row is away, so upgrading changes nothing until agents say they are available.

Revision ID: 0006_desk_assign
Revises: 0005_desk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_desk_assign"
down_revision = "0005_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_agents",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("last_assigned", sa.BigInteger, nullable=True),
        sa.CheckConstraint("status IN ('available', 'away')", name="desk_agents_status"),
    )
    # The desk counts each agent's open conversations on every assignment.
    op.create_index("conv_handoffs_status_claimed_by", "conv_handoffs", ["status", "claimed_by"])


def downgrade() -> None:
    op.drop_index("conv_handoffs_status_claimed_by", table_name="conv_handoffs")
    op.drop_table("desk_agents")
