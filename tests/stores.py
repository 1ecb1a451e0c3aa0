"""The stores the tests run on: SQLite files, and a throwaway PostgreSQL cluster started by
the tests themselves from the installed binaries (Debian's `postgresql` package).

One cluster per test session (fsync off, on 127.0.0.1 and a socket in its own temporary
folder); each test gets a database of its own, created from a migrated template (or blank,
for the migration tests) with pytest-postgresql's janitor, and dropped after the test.
PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NO_POSTGRESQL = ("PostgreSQL tests skipped: no pg_ctl (install Debian's `postgresql` package, "
                 "or set PINPOINT_PG_BIN to its bin folder)")
TEMPLATE = "pinpoint_template"
_names = itertools.count(1)


def pg_bindir() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: `PINPOINT_PG_BIN`, else the newest
    /usr/lib/postgresql/N/bin, else the one on PATH; None when there is none."""
    if os.environ.get("PINPOINT_PG_BIN"):
        given = Path(os.environ["PINPOINT_PG_BIN"])
        return given if (given / "pg_ctl").exists() else None
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()]
    if found:
        return max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster in a temporary folder: `start()`, `database()`, `stop()`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pinpoint-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as the system user
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        """Create the cluster, start it, and migrate the template database."""
        data = self.root / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -F "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"),
                  "-w", "-o", options, "start")
        self._janitor(TEMPLATE).init()
        asyncio.run(_migrate(self.url(TEMPLATE)))

    def stop(self) -> None:
        """Stop the cluster at once and remove its folder."""
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m",
                      "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, name: str) -> str:
        """The DATABASE_URL of a database in the cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _janitor(self, name: str, template: str | None = None):  # type: ignore[no-untyped-def]
        from pytest_postgresql.janitor import DatabaseJanitor  # needs libpq: imported late

        return DatabaseJanitor(user="postgres", host="127.0.0.1", port=self.port, dbname=name,
                               template_dbname=template)

    @contextmanager
    def database(self, migrated: bool = True) -> Iterator[str]:
        """A new database (migrated: a copy of the template; else blank), dropped after."""
        janitor = self._janitor(f"test_{next(_names)}", TEMPLATE if migrated else None)
        janitor.init()
        try:
            yield self.url(janitor.dbname)
        finally:
            janitor.drop()


async def _migrate(url: str) -> None:
    from bot.store import Store

    store = await Store.open(url)
    await store.close()
