"""The schema's version history (Alembic), run on every start and by `findesk db upgrade`.

A database made before FinDesk used Alembic has the tables but no `alembic_version` row: the baseline
revision creates only what is missing, so such a folder is simply upgraded in place. Concurrent starts
(several replicas, or the CLI beside a server) queue on the migration lock and each finds the schema current.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from retrieval.database import Database


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "retrieval:migrations")
    return config


def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision, in one transaction (all or nothing)."""
    config = _config()
    with db.write(lock="schema-migrations") as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def current_revision(db: Database) -> str | None:
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head
