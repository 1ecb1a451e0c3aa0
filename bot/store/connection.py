"""The connection every aggregate shares: opening (WAL, pragmas, migrations), turns,
transactions and the small statement helpers.

Every write is committed before the call returns, so an answer is on disk before the bot
asks the next question. Writes that belong together run in one `transaction()`.

The database holds activation passwords and personal data: its file is created readable by
its owner only (mode 600), and SQLite gives its `-wal` and `-shm` files the database file's
mode; files made by an older version are narrowed to 600 when opened (`private_file`).
Deleted and overwritten content is zeroed (`secure_delete`), and `checkpoint()` empties the
WAL file, so a masked secret does not linger in free pages or old WAL frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.store.migrations import MIGRATIONS_DIR, migrate
from bot.store.records import utc_now


def parse_time(value: str | None) -> datetime | None:
    """A stored time (ISO 8601) read back, or None."""
    return datetime.fromisoformat(value) if value else None


log = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def private_file(path: Path | str) -> None:
    """Create the database file (and its folder) readable by the owner only, and narrow an
    existing one and its side files to mode 600; `:memory:` is left alone."""
    if str(path) == ":memory:":
        return
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        try:
            if stat.S_IMODE(file.stat().st_mode) != PRIVATE_MODE:
                file.chmod(PRIVATE_MODE)
        except FileNotFoundError:
            continue
        except PermissionError:  # another user's file: say so, SQLite decides the rest
            log.warning("cannot make %s readable by its owner only (not ours)", file)


async def connect(path: Path | str) -> aiosqlite.Connection:
    """A connection to the database file (created private, see `private_file`), with
    autocommit (transactions are explicit) and a busy timeout."""
    private_file(path)
    db = await aiosqlite.connect(str(path), isolation_level=None)
    await db.execute("PRAGMA busy_timeout=5000")
    return db


class Database:
    """One SQLite connection (aiosqlite, WAL): open with `await Database.open(path)`.

    The aggregates (people, jobs, hand-offs, outbox, audit) extend it with their queries.
    """

    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @classmethod
    async def open(
        cls,
        path: Path | str,
        clock: Callable[[], datetime] = utc_now,
        migrations_dir: Traversable = MIGRATIONS_DIR,
    ) -> Self:
        """Connect (WAL, foreign keys on), run pending migrations, return the database."""
        db = await connect(path)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA secure_delete=ON")
        database = cls(db, clock)
        await database.migrate(migrations_dir)
        return database

    async def close(self) -> None:
        """Close the connection."""
        await self.db.close()

    async def migrate(self, migrations_dir: Traversable = MIGRATIONS_DIR) -> int:
        """Apply every migration newer than `PRAGMA user_version`; return the new version."""
        return await migrate(self.db, migrations_dir)

    async def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it (old page versions go)."""
        async with self._turn():
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def now(self) -> str:
        """The clock's time as stored: ISO 8601 UTC."""
        return self.clock().astimezone(UTC).isoformat()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the writes inside as one transaction (others wait for it)."""
        if self._owner is asyncio.current_task():
            yield  # already inside this task's transaction
            return
        async with self._lock:
            self._owner = asyncio.current_task()
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            else:
                await self._before_commit()
                await self.db.execute("COMMIT")
            finally:
                self._owner = None

    async def _before_commit(self) -> None:
        """Writes that belong to every transaction (an aggregate may add some)."""

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This task's turn on the shared connection (at once inside its own transaction).

        Every statement takes a turn, reads included: a read's cursor stays open across
        awaits, and another task's write slipping in meanwhile would meet SQLite's "database
        is locked" (its snapshot is older than another connection's commit), or slip into
        another task's open transaction.
        """
        if self._owner is asyncio.current_task():
            yield
        else:
            async with self._lock:
                yield

    async def _exec(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Cursor:
        """Run one write: inside this task's transaction, or on its own, committed at once."""
        async with self._turn():
            return await self.db.execute(sql, tuple(params))

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement; the new row id."""
        cur = await self._exec(sql, params)
        return cur.lastrowid or 0

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """The first row of a query, or None."""
        async with self._turn(), self.db.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
                        ) -> list[aiosqlite.Row]:
        """Every row of a query (positional or named parameters).

        Reads are public (the managers' reports run their own); writes go through the
        aggregates' methods.
        """
        args = params if isinstance(params, dict) else tuple(params)
        async with self._turn(), self.db.execute(sql, args) as cur:
            return list(await cur.fetchall())
