"""SQLite's one shared connection: its statements run on the event loop's own thread.

A hop to a connection's thread (aiosqlite: a queue, a thread switch, a wake-up of the loop)
costs ~80 µs of CPU; the store's statements take a few µs each (issue 17). So a statement
runs where it is awaited, and only one that would wait goes to a thread of its own, run
again from the start there:

- **busy**: the connection's busy timeout is 0 on the loop's thread, so a statement that
  needs a lock another connection holds (the geocoder's cache, `bot migrate`) fails at once
  without effect (SQLite) and is run on a thread with the busy timeout;
- **long**: a read outside a transaction (a report's) still running after `INLINE_S` is
  stopped (SQLite's progress handler) and run on a thread. A write is never stopped (an
  interrupted write can have taken effect: measured, an `INSERT` kept); the store's writes
  are short.

Callers take turns (the store's lock): one statement at a time on the connection. A
statement on a thread is finished even if its task is cancelled meanwhile, so the
connection never falls out of step.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

INLINE_S = 0.005  # how long a read may run on the loop's thread before it moves to a thread
CHECK_STEPS = 1000  # SQLite machine steps between looks at the clock (a few µs)
BUSY_TIMEOUT_MS = 5000  # how long a statement on a thread waits for another connection's lock
_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


async def finished(work: Awaitable[T]) -> T:
    """Await `work` to its end even if this task is cancelled meanwhile (a statement a thread
    already runs), then let the cancellation go on."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


@functools.lru_cache(maxsize=1024)
def is_read(sql: str) -> bool:
    """Whether a statement only reads: `SELECT ...`, or `WITH ...` writing nothing."""
    return bool(_READ.match(sql)) and not _WRITES.search(sql)


class _Rows:
    """SQLite's row factory: a row as a mapping of its columns (as SQLAlchemy's `RowMapping`
    reads), the names taken once per statement."""

    def __init__(self) -> None:
        self._seen: tuple[Any, list[str]] = ((), [])

    def __call__(self, cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
        description = cursor.description
        seen = self._seen
        if seen[0] is not description:  # held here, so never another statement's at its id
            seen = self._seen = (description, [column[0] for column in description])
        return dict(zip(seen[1], values, strict=True))


class SharedConnection:
    """The store's SQLite connection (autocommit: a transaction is an explicit `BEGIN
    IMMEDIATE`); `statement` runs one, on the loop's thread unless it would wait."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._stop_at = 0.0  # when the read running inline is stopped (0: never)
        conn.set_progress_handler(self._progress, CHECK_STEPS)

    @classmethod
    def open(cls, path: str, pragmas: tuple[str, ...]) -> SharedConnection:
        """Open the database file with these pragmas, rows as mappings."""
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            for pragma in (*pragmas, "busy_timeout=0"):
                conn.execute(f"PRAGMA {pragma}").fetchall()
        except BaseException:
            conn.close()
            raise
        conn.row_factory = _Rows()
        return cls(conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _progress(self) -> int:
        return 1 if self._stop_at and time.perf_counter() > self._stop_at else 0

    def _run(self, sql: str, values: Any) -> tuple[list[Any], int]:
        """Run one statement: its rows (a write's `RETURNING` rows included) and its count
        of changed rows (a write returning rows: one a row)."""
        cursor = self.conn.execute(sql, values)
        if cursor.description is None:
            return [], cursor.rowcount
        found = cursor.fetchall()
        return found, len(found)

    def _waiting(self, sql: str, values: Any) -> tuple[list[Any], int]:
        """`_run` on a thread, waiting up to the busy timeout for another connection's lock."""
        self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return self._run(sql, values)
        finally:
            self.conn.execute("PRAGMA busy_timeout=0")

    async def statement(self, sql: str, values: Any = ()) -> tuple[list[Any], int]:
        """Run one statement (the caller's turn held): its rows and its count of changed
        rows. On the loop's thread; on a thread of its own if it would wait (see above)."""
        was_open = self.conn.in_transaction
        stoppable = not was_open and is_read(sql)
        if stoppable:
            self._stop_at = time.perf_counter() + INLINE_S
        try:
            return self._run(sql, values)
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code != sqlite3.SQLITE_BUSY and not (stoppable and code == sqlite3.SQLITE_INTERRUPT):
                raise
        finally:
            self._stop_at = 0.0
        if self.conn.in_transaction and not was_open:  # a statement on its own left open:
            self.conn.execute("ROLLBACK")  # its commit waited; undone, run again whole
        return await finished(asyncio.to_thread(self._waiting, sql, values))

    async def on_thread(self, sql: str) -> list[Any]:
        """A statement that may take long run on a thread (a checkpoint): its rows."""
        return (await finished(asyncio.to_thread(self._waiting, sql, ())))[0]
