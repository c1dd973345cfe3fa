"""The one storage layer: SQLite in the data folder (the embedded default) or a shared PostgreSQL server.

Every store keeps its own tables and queries (retrieval's FAQ store, agent's conversations, ui's users) and
runs them through a `Database`; none of them knows which engine is underneath. All dialect differences
live in this module:

- Transactions. `write(lock)` is one transaction in which the store may read and then write. On SQLite it
  starts with BEGIN IMMEDIATE (the file's write lock up front, so two writers queue instead of deadlocking).
  On PostgreSQL it takes `pg_advisory_xact_lock(lock)` first, so writers of the same log commit one at a
  time and in the order of their sequence numbers: a replica that read change 11 never misses change 10,
  and an optimistic version check cannot race with another replica's edit. `read()` is one snapshot
  (SQLite's deferred BEGIN; PostgreSQL's REPEATABLE READ), so several statements agree with each other.
- Upserts. `insert(table)` returns the dialect's INSERT, which has `on_conflict_do_nothing/do_update`.
- Work queues. `claim(...)` takes rows for one worker atomically: on PostgreSQL with SELECT ... FOR UPDATE
  SKIP LOCKED inside the UPDATE, so replicas skip each other's rows instead of waiting; on SQLite the same
  UPDATE runs under BEGIN IMMEDIATE, which lets one writer in at a time.
- Connections. SQLite: WAL, synchronous=FULL, foreign keys, a busy timeout. PostgreSQL: a bounded pool whose
  connections are checked before use (pool_pre_ping), so a restarted server costs one failed request at most.
- Errors. A database that is down, locked or misconfigured raises `DatabaseUnavailable` with the reason,
  which the UI shows to staff (customers get a friendly line instead).

The schema is created and upgraded by Alembic (retrieval/migrations/), run by `open_database` on start and
by `findesk db upgrade`; it lives here, in the lowest package, because one version history covers every
package's tables (each package still owns its `Table` definitions and queries).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    NotSupportedError,
    ProgrammingError,
)

from retrieval.errors import StoreUnavailable

SCHEMES = ("sqlite", "postgresql")
_CALLER_ERRORS = (IntegrityError, ProgrammingError, DataError, NotSupportedError)


class DatabaseUnavailable(StoreUnavailable):
    """The database cannot be reached, is locked past the timeout, or the URL is wrong. Nothing was changed."""


@dataclass(frozen=True)
class PoolLimits:
    """Connections one process may hold (PostgreSQL): `size` kept open, `overflow` more under bursts."""

    size: int = 5
    overflow: int = 10
    timeout_s: float = 10.0  # wait this long for a free pooled connection or for the server to answer


class Database:
    """An engine plus the few dialect-aware helpers the stores need. Safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.description = engine.url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot for several statements; rolled back at the end (it never writes)."""
        with self._errors("read from"), self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self, lock: str | None = None) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back (nothing changed) if it raises.

        Writers that pass the same `lock` never overlap, across processes and replicas.
        """
        with self._errors("save to"), self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(findesk_write=True)  # BEGIN IMMEDIATE, see _sqlite_begin
            with conn.begin():
                if lock is not None and not self.is_sqlite:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(lock))))
                yield conn

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT for `table`, with `on_conflict_do_nothing()` / `on_conflict_do_update()`."""
        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table)

    def claim(
        self,
        table: sa.Table,
        where: sa.ColumnElement[bool],
        *,
        order_by: sa.ColumnElement[Any] | tuple[sa.ColumnElement[Any], ...],
        limit: int,
        values: dict[str, Any],
    ) -> list[sa.Row[Any]]:
        """Set `values` on up to `limit` rows matching `where` (first by `order_by`) and return them, in one
        transaction: callers in other threads, processes or replicas never get the same row at once.

        `values` must make the rows stop matching `where` (a lease time, a status), or the next caller takes
        them again. `table` needs a one-column primary key.
        """
        (key,) = table.primary_key.columns
        keys = order_by if isinstance(order_by, tuple) else (order_by,)
        chosen = sa.select(key).where(where).order_by(*keys).limit(limit)
        if not self.is_sqlite:
            chosen = chosen.with_for_update(skip_locked=True)
        update = sa.update(table).where(key.in_(chosen.scalar_subquery())).values(values).returning(*table.c)
        with self.write() as conn:
            rows = conn.execute(update).all()
        return sorted(rows, key=lambda row: row._mapping[key.name])

    def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers a trivial query now."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    @contextmanager
    def _errors(self, verb: str) -> Iterator[None]:
        try:
            yield
        except DBAPIError as error:
            # Bugs and refused data (a duplicate key, a bad statement) are the caller's to handle; the rest
            # means the database itself is unusable right now.
            if isinstance(error, _CALLER_ERRORS) and not error.connection_invalidated:
                raise
            reason = str(error.orig or error).strip().splitlines()[0]
            hint = (
                "If another FinDesk process is importing, wait for it and try again; else check the disk and "
                "permissions. If the file is damaged, move it aside (FinDesk creates a new one) or choose "
                "another folder with --data-dir / FINDESK_DATA_DIR."
                if self.is_sqlite
                else "Check that the PostgreSQL server is running and reachable; FinDesk reconnects by itself."
            )
            raise DatabaseUnavailable(
                f"Could not {verb} the database ({self.description}): {reason}. Nothing was changed. {hint}"
            ) from error


def lock_key(name: str) -> int:
    """A stable 64-bit key for pg_advisory_xact_lock (the same in every process and replica)."""
    return zlib.crc32(b"findesk:" + name.encode())


def database_url(url: str, data_dir: Path) -> str:
    """`url` as SQLAlchemy wants it, or the SQLite file in `data_dir` when it is empty.

    postgresql:// and postgres:// use the psycopg (3) driver; anything but SQLite or PostgreSQL is refused.
    """
    if not url.strip():
        return f"sqlite:///{Path(data_dir) / 'findesk.sqlite3'}"
    try:
        parsed = make_url(url.strip())
    except ArgumentError as error:
        raise DatabaseUnavailable(
            f"FINDESK_DATABASE_URL is not a database URL ({error}); write it like "
            "postgresql://user:password@host:5432/findesk, or leave it empty for SQLite in the data folder."
        ) from error
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SCHEMES:
        raise DatabaseUnavailable(
            f"FINDESK_DATABASE_URL names {backend!r}; FinDesk runs on PostgreSQL (postgresql://...) or SQLite "
            "(sqlite:///path, or leave it empty for the data folder)."
        )
    if backend == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def open_database(url: str, *, pool: PoolLimits = PoolLimits(), sqlite_busy_timeout_s: float = 30.0) -> Database:
    """Connect and bring the schema up to date (Alembic); the one way every FinDesk process opens its data."""
    from retrieval import migrations  # imports this module

    db = connect(url, pool=pool, sqlite_busy_timeout_s=sqlite_busy_timeout_s)
    try:
        migrations.upgrade(db)
    except BaseException:
        db.close()
        raise
    return db


def connect(url: str, *, pool: PoolLimits = PoolLimits(), sqlite_busy_timeout_s: float = 30.0) -> Database:
    """Build the engine for `url` (no migrations: see `open_database`)."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            engine = sa.create_engine(
                parsed,
                connect_args={"timeout": sqlite_busy_timeout_s, "check_same_thread": False},
                pool_size=pool.size,
                max_overflow=pool.overflow,
                pool_timeout=pool.timeout_s,
            )
            sa.event.listen(engine, "connect", _sqlite_connect)
            sa.event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = sa.create_engine(
                parsed,
                pool_size=pool.size,
                max_overflow=pool.overflow,
                pool_timeout=pool.timeout_s,
                pool_pre_ping=True,  # a connection the server dropped (restart, failover) is replaced, not used
                pool_recycle=1800,
                connect_args={"connect_timeout": max(1, int(pool.timeout_s)), "application_name": "findesk"},
            )
    except (ArgumentError, NoSuchModuleError, OSError) as error:
        raise DatabaseUnavailable(f"Cannot use the database URL {url.split('@')[-1]!r}: {error}") from error
    return Database(engine)


def _private_file(path: Path) -> None:
    """Conversations, handoffs and staff logins live here: the file is readable by this user only (mode 0600;
    SQLite gives its -wal and -shm files the same mode), and a folder FinDesk creates for it is 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)  # a file made before FinDesk did this, or under a loose umask


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (_sqlite_begin): pysqlite's own transaction handling would defer it.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer (server + CLI at once)
    # FULL: operators' edits are the source of truth; one fsync per commit is cheap next to losing one.
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so a read-then-write transaction never fails half-way with
    # "database is locked"; reads use a deferred BEGIN, which is WAL's snapshot.
    immediate = conn.get_execution_options().get("findesk_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
