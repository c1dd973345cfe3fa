"""Alembic's entry point: migrations always run on the connection `retrieval.migrations.upgrade` passes in."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
# render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead (a no-op elsewhere).
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
