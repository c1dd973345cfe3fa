"""Session-wide test set-up: no network but loopback, offline model hubs, and the shared real data."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.generators.local_llm import LlamaServer
from retrieval.database import Database, open_database
from tests import engines
from tests.postgres import Cluster, find_bindir

# Model hubs are unreachable here; make libraries fail fast instead of retrying for minutes.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The calibrated decision refits in a background thread a few seconds after the FAQ loads; a refit landing in
# the middle of a long-lived fixture would change routes under the tests of other stages. Those read settings
# from the environment and keep the similarity thresholds; tests/retrieval/test_calibration.py builds its own
# RetrievalConfig and covers the calibrated decision.
os.environ.setdefault("FINDESK_RETRIEVAL__CALIBRATE", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # AF_UNIX and friends


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise RuntimeError(f"tests must not touch the network: connect({address!r}) refused")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def request_blocker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any outbound connection that is not to loopback (haystack's request_blocker habit)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that need it skip with a reason where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (it sits beside the checkout in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A real PostgreSQL server for the whole session (Debian's package: scripts/setup.sh --test installs it)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed: run scripts/setup.sh --test (it installs Debian's postgresql).")
    cluster = Cluster(bindir)
    engines.use_cluster(cluster)
    yield cluster
    engines.use_cluster(None)
    cluster.destroy()


@pytest.fixture(scope="session", autouse=True)
def session_engine(request: pytest.FixtureRequest) -> Iterator[None]:
    """FINDESK_TEST_ENGINE=postgresql runs the whole suite on PostgreSQL (tests/engines.py has the rule).

    Until a test starts, FINDESK_DATABASE_URL names a database that does not exist, so a module- or
    session-scoped fixture that builds its settings from the environment fails loudly instead of landing in
    SQLite or in another fixture's database: such fixtures use `engines.settings(folder)`.
    """
    if not engines.ON_POSTGRESQL:
        yield
        return
    cluster = request.getfixturevalue("postgres")
    os.environ["FINDESK_DATABASE_URL"] = cluster.url("fixture_should_use_tests_engines_settings")
    yield
    del os.environ["FINDESK_DATABASE_URL"]


@pytest.fixture(autouse=True)
def engine_under_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In PostgreSQL mode a test with a `tmp_path` gets a fresh database for it (and every data folder inside
    it), and FINDESK_DATABASE_URL names it, so whatever the test builds from the environment (the app, the
    CLI, Services) uses it. A test without one has no data folder of its own; its FINDESK_DATABASE_URL names
    a database that does not exist, so one that opens a database from the environment anyway fails loudly.
    Databases the test opened through `engines.database` are closed after it."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    if engines.ON_POSTGRESQL:
        if folder is not None:
            url = engines.env_url(folder)
        else:
            url = request.getfixturevalue("postgres").url("test_without_tmp_path_has_no_database")
        monkeypatch.setenv("FINDESK_DATABASE_URL", url)
    yield
    engines.close_test_databases()
    if engines.ON_POSTGRESQL and folder is not None:
        engines.drop(folder)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the session's live app use its database: they are `storage` tests (pyproject.toml), which
    `make test` runs a second time on PostgreSQL. Modules that reach a database otherwise say so themselves."""
    for item in items:
        if "live_app" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.storage)


# The storage tests run on both engines in the default (SQLite) run; on PostgreSQL, everything is.
@pytest.fixture(params=["postgresql"] if engines.ON_POSTGRESQL else ["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same storage test on both engines: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'findesk.sqlite3'}"
    if engines.ON_POSTGRESQL:
        return engines.database_url(tmp_path)  # the test's own database, as the sqlite file is its folder's
    request.getfixturevalue("postgres")
    return engines.new_postgres_database()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """An open, migrated Database on each engine in turn."""
    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """A real llama.cpp server (llama-cpp-python) on a free loopback port, serving the offline pack's small GGUF
    models (agent.generators.local_llm.MODELS), started once per test session. scripts/setup.sh --test installs
    it; a missing install fails here with the command to fix it rather than skipping the tests."""
    with LlamaServer() as server:
        yield server
