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
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import text

from bot.store.connection import Database

log = logging.getLogger(__name__)
PERSON_TURNS = 24  # updates in progress at once on PostgreSQL (each holds a connection)


def instance_name() -> str:
    """This store's name as a lease holder: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Coordination(Database):
    """Person turns and job leases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holder = instance_name()
        self._turns = asyncio.Semaphore(PERSON_TURNS)

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
            await self.release_leases()
        except Exception as exc:  # the database is gone: the leases expire on their own
            log.warning("leases not released: %s", exc)
        await super().close()
