"""A throwaway PostgreSQL cluster for the tests and benchmarks: Debian's server binaries, a temporary folder,
a free loopback port, torn down at the end.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user (created by
Debian's package) and its commands run through `runuser`. scripts/setup.sh --test installs the server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl (newest Debian version first), or None if not installed."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running PostgreSQL server; `new_database()` gives each test its own database."""

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        """`durable`: fsync on, as in production (benchmarks); the tests run with it off."""
        self.bindir = bindir
        self.port = free_port()
        # Tests keep the cluster in memory where there is a tmpfs: each test's database is a few MB of files
        # that a shared disk would write and delete again for nothing.
        memory = Path("/dev/shm")
        parent = memory if memory.is_dir() and not durable else None
        self.folder = Path(tempfile.mkdtemp(prefix="findesk-pg-", dir=parent))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "findesk", "-E", "UTF8", "--no-sync")
        # fsync off for tests: a test cluster need not survive a power cut, and the disk is shared.
        self.options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not durable:
            self.options += " -c fsync=off"
        self.start()

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr or result.stdout}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://findesk@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str = "template1") -> str:
        """A new database, a copy of `template` (default: empty); its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # FILE_COPY: a file copy plus a checkpoint, which is cheap with fsync off; about 2.5 times faster
            # here than the default WAL_LOG, which writes every page of the template to the WAL.
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database at `url`, closing whatever connections a test left open to it."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def make_template(self, url: str) -> str:
        """Turn the database at `url` (no one connected) into a template for `new_database`; its name."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH is_template true ALLOW_CONNECTIONS false')
        return name

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.options, "-w", "-t", "60", "start")

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
