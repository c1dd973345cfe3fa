"""conv_messages.voice_tone: the voice tone of a spoken customer message (JSON, nullable).

A data folder used by a FinDesk that added this column itself already has it; it is then left alone.

Revision ID: 0002_voice_tone
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_voice_tone"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "voice_tone" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("conv_messages")}:
        op.add_column("conv_messages", sa.Column("voice_tone", sa.Text, nullable=True))
