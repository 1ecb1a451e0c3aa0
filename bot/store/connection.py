"""The connection every aggregate shares: opening (SQLite or PostgreSQL, migrations), turns,
transactions and the small statement helpers.

One query layer over both stores: SQLAlchemy Core (async; `aiosqlite`, `asyncpg`) running
portable SQL. Every write is committed before the call returns, so an answer is on disk
before the bot asks the next question. Writes that belong together run in one
`transaction()`.

SQLite: one shared connection (WAL, foreign keys, a busy timeout), one task at a time on it;
a transaction is `BEGIN IMMEDIATE`, a statement on its own commits by itself (autocommit).
The store's statements go to the driver (`sqlite3`) directly, on the event loop's thread
unless they would wait (`bot.store.shared_sqlite`): SQLAlchemy's per-statement work
(compiling, result objects, the greenlet bridge) and a hop to a connection's thread cost more
than the statement itself (issue 17); they still reach SQLAlchemy's `before_cursor_execute`
listeners, and a driver error still raises SQLAlchemy's exception (`IntegrityError`, ...). A
statement in flight on a thread is finished even when its task is cancelled, so the shared
connection never falls out of step.
`synchronous=NORMAL`: under WAL a commit is written to the
WAL file at once (a crash of the process loses nothing committed) and synced to disk at each
checkpoint, so only a power cut or a kernel crash can lose the last commits. PostgreSQL: a
pool; a transaction holds one pooled connection for its task, other statements take one each.

The database holds activation passwords and personal data. A SQLite file is created readable
by its owner only (mode 600), and SQLite gives its `-wal` and `-shm` files the database
file's mode; files made by an older version are narrowed to 600 when opened
(`private_file`). Deleted and overwritten content is zeroed (`secure_delete`), and
`checkpoint()` empties the WAL file, so a masked secret does not linger in free pages or old
WAL frames. (A PostgreSQL server's files are its own, kept by its operator.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Self

from sqlalchemy import event, text
from sqlalchemy.engine import URL, CursorResult, RowMapping, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store import migrations
from bot.store.records import utc_now
from bot.store.shared_sqlite import SharedConnection

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")
DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
           "postgres": "postgresql+asyncpg"}
_QMARK = re.compile(r"\?")
# PostgreSQL connections per instance: up to `coordination.PERSON_TURNS` held by updates in
# progress (a person's lock), the rest for jobs, the outbox and the geocoder cache
POOL_SIZE = 10
POOL_OVERFLOW = 30
# No JIT compilation: the bot's statements are short, and a managers' month over a million
# jobs looks costly enough to PostgreSQL to compile for longer (~0.8 s) than it runs.
PG_SESSION = {"server_settings": {"jit": "off"}}
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                  "busy_timeout=5000", "secure_delete=ON")


def parse_time(value: str | None) -> datetime | None:
    """A stored time (ISO 8601) read back, or None."""
    return datetime.fromisoformat(value) if value else None


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


def async_url(database: str | Path) -> URL:
    """The SQLAlchemy URL (async driver) of `sqlite:///...` or `postgresql://...`; a bare
    path is a SQLite file."""
    if isinstance(database, Path) or "://" not in database:
        database = f"sqlite:///{database}"
    url = make_url(database)
    backend = url.drivername.split("+")[0]
    if backend not in DRIVERS:
        raise ValueError(f"unsupported database {url.drivername!r}: use sqlite or postgresql")
    return url.set(drivername=DRIVERS[backend])


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    """Every SQLite connection of the engine (migrations, the geocoder's cache): WAL with
    `synchronous=NORMAL` (no sync per commit, durable across a process crash), foreign keys,
    a busy timeout, deleted content zeroed; transactions begun by us (`BEGIN`) rather than
    by the driver."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def create_engine(database: str | Path) -> AsyncEngine:
    """An async engine on the database (SQLite: its file created private, pragmas set)."""
    url = async_url(database)
    if url.get_backend_name() == "sqlite":
        if url.database:
            private_file(url.database)
        engine = create_async_engine(url)
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE,
                               max_overflow=POOL_OVERFLOW, connect_args=PG_SESSION)


def _bind(sql: str, params: Iterable[Any] | Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A statement and its parameters: `?` marks become named binds (`:p0`, `:p1`, ...)."""
    if isinstance(params, Mapping):
        return text(sql), dict(params)
    values = tuple(params)
    marks = iter(range(len(values)))
    named = _QMARK.sub(lambda _m: f":p{next(marks)}", sql)
    return text(named), {f"p{i}": v for i, v in enumerate(values)}


class Written(NamedTuple):
    """What a write changed: its row count, and the id it returned (0: none)."""

    rowcount: int
    id: int


def _taken(result: CursorResult[Any], rows: bool) -> Any:
    """A result read before its connection moves on: its rows, or what a write changed."""
    if rows:
        return result.mappings().all()
    returned = result.scalar() if result.returns_rows else None
    return Written(result.rowcount, int(returned or 0))


class Database:
    """The store's engine and its turns: open with `await Database.open(url_or_path)`.

    The aggregates (people, jobs, hand-offs, outbox, audit, inbox) extend it with their
    queries.
    """

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime],
                 shared: SharedConnection | None) -> None:
        self.engine = engine
        self.clock = clock
        self.dialect = engine.dialect.name  # "sqlite" or "postgresql"
        self._shared = shared  # SQLite: the one connection every statement takes turns on
        self._lock = asyncio.Lock()
        self._heard = engine.sync_engine.dispatch  # SQLAlchemy's listeners (SQLite's path)
        self._transactions: dict[asyncio.Task[Any], Any] = {}  # its connection, or True
        # PostgreSQL: a task holding a person's lock runs its statements on that connection
        self._pinned: dict[asyncio.Task[Any], AsyncConnection] = {}

    @classmethod
    async def open(cls, database: str | Path, clock: Callable[[], datetime] = utc_now) -> Self:
        """Connect to `sqlite:///path`, `postgresql://...` or a SQLite file's path, apply
        pending migrations, return the database (Alembic is loaded only if one is pending)."""
        engine = create_engine(database)
        try:
            if await migrations.current(engine) != migrations.latest():
                await migrations.upgrade(engine)
            shared = (SharedConnection.open(engine.url.database or ":memory:", SQLITE_PRAGMAS)
                      if engine.dialect.name == "sqlite" else None)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, clock, shared)

    async def close(self) -> None:
        """Close the connections."""
        if self._shared is not None:
            async with self._lock:
                self._shared.close()
        await self.engine.dispose()

    async def schema_version(self) -> str | None:
        """The migration the database is at (None: none applied); a query, so it also proves
        the store answers."""
        return await migrations.current(self.engine)

    async def schema_current(self) -> bool:
        """Whether every migration is applied (for health checks)."""
        return await self.schema_version() == migrations.latest()

    async def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and truncate it (old page versions
        go). Nothing to do on PostgreSQL."""
        if self._shared is None:
            return
        async with self._lock:
            await self._shared.on_thread("PRAGMA wal_checkpoint(TRUNCATE)")

    def json_text(self, column: str) -> str:
        """SQL for the value of a JSON text column as text (a JSON string without quotes)."""
        if self.dialect == "postgresql":
            return f"(CAST({column} AS jsonb) #>> '{{}}')"
        return f"json_extract({column}, '$')"

    def now(self) -> str:
        """The clock's time as stored: ISO 8601 UTC."""
        return self.clock().astimezone(UTC).isoformat()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL: the connection for this task's statements (its person's lock's, or
        one from the pool)."""
        pinned = self._pinned.get(asyncio.current_task())  # type: ignore[arg-type]
        if pinned is not None:
            yield pinned
            return
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the writes inside as one transaction (on SQLite others wait for it)."""
        task = asyncio.current_task()
        assert task is not None
        if task in self._transactions:
            yield  # already inside this task's transaction
            return
        if self._shared is not None:
            async with self._lock:
                committed = False
                try:  # a BEGIN cancelled in flight has begun: rolled back below too
                    await self._sqlite("BEGIN IMMEDIATE", ())
                    self._transactions[task] = True
                    yield
                    await self._before_commit()
                    await self._sqlite_end("COMMIT")
                    committed = True
                finally:
                    self._transactions.pop(task, None)
                    if not committed:
                        with contextlib.suppress(DBAPIError):  # none left to roll back
                            await self._sqlite_end("ROLLBACK")
        else:
            async with self._connection() as conn, conn.begin():
                self._transactions[task] = conn
                try:
                    yield
                    await self._before_commit()
                finally:
                    del self._transactions[task]
        self._after_commit()

    def in_transaction(self) -> bool:
        """Whether this task's statements run inside its open transaction."""
        return asyncio.current_task() in self._transactions

    async def _before_commit(self) -> None:
        """Writes that belong to every transaction (an aggregate may add some)."""

    def _after_commit(self) -> None:
        """What an aggregate notes once a transaction committed."""

    async def _run(self, sql: str, params: Iterable[Any] | Mapping[str, Any],
                   rows: bool) -> Any:
        """One statement: inside this task's transaction, or on its own, committed at once.
        Its rows, or (a write) what it changed.

        On SQLite every statement takes a turn, reads included: another task's write
        slipping in meanwhile would slip into another task's open transaction. It runs on the
        loop's thread without waiting, so other tasks get the loop first (as they did while
        a statement went to a thread): a task's statements one after the other never hold
        the loop for long.
        """
        if self._shared is not None:
            await asyncio.sleep(0)
            values = dict(params) if isinstance(params, Mapping) else tuple(params)
            if asyncio.current_task() in self._transactions:
                return await self._sqlite(sql, values, rows)
            async with self._lock:
                return await self._sqlite(sql, values, rows)
        statement, binds = _bind(sql, params)
        conn = self._transactions.get(asyncio.current_task())  # type: ignore[arg-type]
        if conn is not None:
            return _taken(await conn.execute(statement, binds), rows)
        async with self._connection() as conn, conn.begin():
            return _taken(await conn.execute(statement, binds), rows)

    async def _sqlite_end(self, sql: str) -> None:
        """`COMMIT` or `ROLLBACK` on SQLite's shared connection (not a statement to count)."""
        assert self._shared is not None
        try:
            await self._shared.statement(sql)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, (), exc, sqlite3.Error) from exc

    async def _sqlite(self, sql: str, values: tuple[Any, ...] | dict[str, Any],
                      rows: bool = False) -> Any:
        """One statement on SQLite's shared connection (its turn held): its rows, or what it
        changed; SQLAlchemy's listeners hear it, a driver error is SQLAlchemy's."""
        assert self._shared is not None
        if self._heard.before_cursor_execute:
            self._heard.before_cursor_execute(None, None, sql, values, None, False)
        try:
            found, changed = await self._shared.statement(sql, values)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc
        if rows:
            return found
        return Written(changed, int(next(iter(found[0].values())) or 0) if found else 0)

    async def _exec(self, sql: str, params: Iterable[Any] = ()) -> Written:
        """Run one write (`?` marks its parameters); how many rows it changed."""
        return await self._run(sql, params, rows=False)

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement; the id it returns (`... RETURNING id`), else 0."""
        return (await self._exec(sql, params)).id

    async def fetch_one(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()
                        ) -> RowMapping | None:
        """The first row of a query, or None."""
        found = await self._run(sql, params, rows=True)
        return found[0] if found else None

    async def fetch_all(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()
                        ) -> list[RowMapping]:
        """Every row of a query (`?` marks, or named `:parameters` from a dict).

        Reads are public (the managers' reports run their own); writes go through the
        aggregates' methods.
        """
        return list(await self._run(sql, params, rows=True))
