"""Several instances on one PostgreSQL database: a person's turn, and leases on jobs.

- `person_turn(key)`: one person's updates are processed one at a time across instances. On
  PostgreSQL a session-level advisory lock (`pg_advisory_lock`) on a pooled connection that
  the task keeps for the update's processing (its statements and transactions run on it, so
  an update needs one connection); the lock goes with the connection if the process dies. On
  SQLite (one instance) nothing to do: the dispatcher's per-person queue orders them.
- `claim_lease(name, seconds)`: a scheduled job runs on one instance at a time (a row in
  `leases`: holder and until; the holder renews it each run, another takes it once it
  expired). A store releases its leases when closed.
- `mark(name)` / `set_mark(name, value)`: what a job last did (the daily summary's last day).
- `announce()` / `gone(holders)` / `departed()`: each instance registers itself and holds an
  advisory lock of its own for its lifetime on a connection of its own; PostgreSQL drops it
  the moment the process dies, so another instance can tell at once that an instance is gone
  (and take over its unfinished updates and what it owed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.connection import Database

log = logging.getLogger(__name__)
PERSON_TURNS = 24  # updates in progress at once on PostgreSQL (each holds a connection)
ALIVE = 0x50504E54  # advisory-lock namespace (two-key form) of the instances' liveness locks
INSTANCE = "instance:"  # a running instance's row in `leases` (name: this prefix, its holder)


def instance_name() -> str:
    """This store's name as a lease holder: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def alive_key(holder: str) -> int:
    """The second key of `holder`'s liveness lock (a 31-bit hash of its name)."""
    return int.from_bytes(hashlib.blake2b(holder.encode(), digest_size=4).digest()) >> 1


class Coordination(Database):
    """Person turns and job leases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holder = instance_name()
        self._turns = asyncio.Semaphore(PERSON_TURNS)
        self._alive: AsyncConnection | None = None

    @property
    def shared(self) -> bool:
        """Whether several instances may share this database (PostgreSQL)."""
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def person_turn(self, key: int) -> AsyncIterator[None]:
        """Hold `key`'s (a person's) lock across instances while the block runs; the task's
        statements run on the lock's connection meanwhile. A no-op on SQLite."""
        task = asyncio.current_task()
        if not self.shared or task is None or task in self._pinned:
            yield
            return
        async with self._turns, self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            await conn.commit()
            self._pinned[task] = conn
            try:
                yield
            finally:
                del self._pinned[task]
                if conn.in_transaction():
                    await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()

    async def announce(self) -> None:
        """Take this instance's liveness lock, held until `close` or the process's death
        (PostgreSQL; a no-op on SQLite)."""
        if not self.shared or self._alive is not None:
            return
        conn = await self.engine.connect()
        await conn.execute(text("SELECT pg_advisory_lock(:ns, :k)"),
                           {"ns": ALIVE, "k": alive_key(self.holder)})
        await conn.commit()
        self._alive = conn
        await self._exec("INSERT INTO leases (name, holder) VALUES (?, ?) "
                         "ON CONFLICT DO NOTHING", (INSTANCE + self.holder, self.holder))

    async def departed(self) -> set[str]:
        """Registered instances that died since the last look; each is unregistered and
        returned to the one instance that unregistered it (it takes over what they owed)."""
        if not self.shared:
            return set()
        rows = await self.fetch_all("SELECT holder FROM leases WHERE name LIKE ?",
                                    (INSTANCE + "%",))
        mine = set()
        for holder in await self.gone(r["holder"] for r in rows if r["holder"]):
            cur = await self._exec("DELETE FROM leases WHERE name = ?", (INSTANCE + holder,))
            if cur.rowcount:
                mine.add(holder)
        await self.release_leases_of(sorted(mine))  # its jobs run elsewhere at once
        return mine

    async def others_alive(self) -> bool:
        """True when another registered instance still runs (PostgreSQL; never on SQLite)."""
        if not self.shared:
            return False
        rows = await self.fetch_all("SELECT holder FROM leases WHERE name LIKE ?",
                                    (INSTANCE + "%",))
        others = {r["holder"] for r in rows if r["holder"] and r["holder"] != self.holder}
        return bool(others - await self.gone(others))

    async def gone(self, holders: Iterable[str]) -> set[str]:
        """Those of `holders` (other instances) whose liveness lock is free: they died."""
        others = [h for h in holders if h != self.holder]
        if not self.shared or not others:
            return set()
        dead: set[str] = set()
        async with self.engine.connect() as conn:
            for holder in others:
                key = {"ns": ALIVE, "k": alive_key(holder)}
                free = await conn.scalar(text("SELECT pg_try_advisory_lock(:ns, :k)"), key)
                if free:
                    dead.add(holder)
                    await conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), key)
            await conn.commit()
        return dead

    async def claim_lease(self, name: str, seconds: float) -> bool:
        """Hold the job `name` for `seconds` (renewed when this store holds it already);
        False while another instance holds it."""
        now = self.clock()
        until = (now + timedelta(seconds=seconds)).astimezone(UTC).isoformat()
        cur = await self._exec(
            """INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                   until = excluded.until
               WHERE leases.until IS NULL OR leases.until <= ?
                   OR leases.holder = excluded.holder""",
            (name, self.holder, until, now.astimezone(UTC).isoformat()))
        return cur.rowcount > 0

    async def release_leases_of(self, holders: list[str]) -> int:
        """Free the leases `holders` still hold (they died without releasing them)."""
        if not holders:
            return 0
        cur = await self._exec(
            f"UPDATE leases SET holder = NULL, until = NULL WHERE holder IN "
            f"({', '.join('?' * len(holders))})", tuple(holders))
        return cur.rowcount

    async def release_earlier_leases(self) -> int:
        """One instance (SQLite): at start, free the leases an earlier run of the bot held
        when it was killed, so the start-up catch-up and the jobs run at once."""
        if self.shared:
            return 0
        cur = await self._exec("UPDATE leases SET holder = NULL, until = NULL "
                               "WHERE holder IS NOT NULL AND holder <> ?", (self.holder,))
        return cur.rowcount

    async def release_leases(self) -> int:
        """Give up every lease this store holds (at close); how many it held."""
        cur = await self._exec(
            "UPDATE leases SET holder = NULL, until = NULL WHERE holder = ?", (self.holder,))
        return cur.rowcount

    async def mark(self, name: str) -> str | None:
        """What the job `name` recorded last (None: nothing yet)."""
        row = await self.fetch_one("SELECT last_done FROM leases WHERE name = ?", (name,))
        return row["last_done"] if row else None

    async def set_mark(self, name: str, value: str) -> None:
        """Record what the job `name` did last."""
        await self._exec(
            """INSERT INTO leases (name, last_done) VALUES (?, ?)
               ON CONFLICT (name) DO UPDATE SET last_done = excluded.last_done""",
            (name, value))

    async def close(self) -> None:
        """Release this store's leases, then close the connections."""
        try:
            if self._alive is not None:
                await self._exec("DELETE FROM leases WHERE name = ?", (INSTANCE + self.holder,))
            await self.release_leases()
        except Exception as exc:  # the database is gone: the leases expire on their own
            log.warning("leases not released: %s", exc)
        if self._alive is not None:
            conn, self._alive = self._alive, None
            await conn.invalidate()  # its session ends, and the liveness lock with it
        await super().close()
