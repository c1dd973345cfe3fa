"""The database engine the suite runs on, and the one rule that gives every fixture its database.

`FINDESK_TEST_ENGINE=sqlite` (the default) or `postgresql`. The rule mirrors FinDesk itself: a FinDesk process
on a data folder uses that folder's SQLite file unless FINDESK_DATABASE_URL names a server. In PostgreSQL mode
every temporary folder (a test's `tmp_path`, or a folder a module or session fixture made with
`tmp_path_factory`) gets its own fresh database on the session's throwaway cluster (tests/postgres.py), and
every data folder inside it uses that database. So a test, its CLI subprocesses and the servers it starts on
the same folder share one database, and two fixtures never share one by accident.

- `env_url(folder)`: what FINDESK_DATABASE_URL must hold for a FinDesk process on `folder` ("" on SQLite).
- `database_url(folder)`: the URL FinDesk resolves from it (the SQLite file in the folder, or the server).
- `settings(folder, ...)`: Settings for a process on `folder`, as `findesk --data-dir folder` would build them.
- `database(folder)`: an open, migrated Database for the current test, closed when the test ends
  (module- and session-scoped fixtures open their own with `open_database(database_url(folder))`).

tests/conftest.py sets FINDESK_DATABASE_URL to `env_url(tmp_path)` for each test in PostgreSQL mode, so the
in-process CLI and Services built from the environment land in the same database as the test's helpers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.settings import Settings, load_settings
from retrieval import database as layer
from retrieval.database import Database
from tests.postgres import Cluster

ENGINES = ("sqlite", "postgresql")
ENGINE = os.environ.get("FINDESK_TEST_ENGINE", "sqlite").strip().lower() or "sqlite"
if ENGINE not in ENGINES:
    raise RuntimeError(f"FINDESK_TEST_ENGINE={ENGINE!r}: choose one of {', '.join(ENGINES)}")
ON_POSTGRESQL = ENGINE == "postgresql"

_cluster: Cluster | None = None  # the session's server, once a test needed it (tests/conftest.py)
_template: str | None = None  # a database migrated to the head revision, copied for each new one
_folders: dict[Path, str] = {}  # temporary folder -> its PostgreSQL database URL
_open: dict[str, Database] = {}  # databases opened by `database()` during the current test


def use_cluster(cluster: Cluster | None) -> None:
    global _cluster, _template
    _cluster, _template = cluster, None
    _folders.clear()


def new_postgres_database() -> str:
    """A fresh PostgreSQL database at the head revision: a copy of one migrated once per session (the
    migrations from an empty database run for that one), much cheaper than migrating each."""
    global _template
    if _cluster is None:
        raise RuntimeError("the session's PostgreSQL cluster is not running (the `postgres` fixture starts it)")
    if _template is None:
        first = _cluster.new_database()
        layer.open_database(layer.database_url(first, Path())).close()
        _template = _cluster.make_template(first)
    return _cluster.new_database(template=_template)


def env_url(folder: Path) -> str:
    """FINDESK_DATABASE_URL for a FinDesk process whose data folder is `folder` (or is inside it)."""
    if not ON_POSTGRESQL:
        return ""
    folder = Path(folder).resolve()
    for owner in (folder, *folder.parents):
        if owner in _folders:
            return _folders[owner]
    _folders[folder] = new_postgres_database()
    return _folders[folder]


def drop(folder: Path) -> None:
    """Forget `folder`'s database and drop it (the test that owned it has ended)."""
    url = _folders.pop(Path(folder).resolve(), None)
    if url is not None and _cluster is not None:
        _cluster.drop_database(url)


def database_url(folder: Path) -> str:
    """The SQLAlchemy URL FinDesk opens for `folder` on the engine under test."""
    return layer.database_url(env_url(folder), Path(folder))


def process_env(folder: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a `findesk` subprocess on `folder`: `base` (default os.environ) plus its database."""
    return {**(os.environ if base is None else base), "FINDESK_DATABASE_URL": env_url(folder)}


def settings(folder: Path, **overrides: Any) -> Settings:
    """Settings for a FinDesk process on data folder `folder`, on the engine under test."""
    return load_settings(data_dir=folder, database_url=env_url(folder), **overrides)


def database(folder: Path) -> Database:
    """The current test's open Database for `folder` (one per database; tests/conftest.py closes it after)."""
    url = database_url(folder)
    if url not in _open:
        _open[url] = layer.open_database(url)
    return _open[url]


def close_test_databases() -> None:
    while _open:
        _open.popitem()[1].close()
