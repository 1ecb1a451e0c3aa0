"""Geocoder answers cached in SQLite (table from `data/migrations/002_geocode_cache.sql`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiosqlite

from bot.config import Settings


class GeocodeCache:
    """Geocoder answers in SQLite (`geocode_cache`), keyed by service, endpoint and request.

    Values are JSON; entries expire after `ttl_s` (default 90 days). Errors of the cache are
    logged and treated as a miss: geocoding never fails because of the cache. `put` commits.
    """

    def __init__(self, conn: aiosqlite.Connection, ttl_s: float | None = 90 * 86400.0,
                 *, clock: Callable[[], float] = time.time):
        self.conn = conn
        self.ttl_s = ttl_s
        self._clock = clock
        self._turn = asyncio.Lock()  # one statement at a time on the connection (see Store)

    @classmethod
    def from_settings(cls, conn: aiosqlite.Connection, settings: Settings) -> GeocodeCache:
        """A cache whose lifetime comes from `GEOCODER_CACHE_TTL_DAYS` (0 = never expires)."""
        days = settings.geocoder_cache_ttl_days
        return cls(conn, days * 86400.0 if days > 0 else None)

    async def get(self, key: str) -> Any | None:
        """The cached value, or None when missing or expired."""
        async with self._turn, self.conn.execute(
            "SELECT value FROM geocode_cache WHERE key = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (key, self._clock()),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    async def put(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        """Store `value` (JSON-serialisable) for `ttl_s` seconds (default: the cache's TTL)."""
        now = self._clock()
        ttl = self.ttl_s if ttl_s is None else ttl_s
        async with self._turn:
            await self.conn.execute(
                "INSERT OR REPLACE INTO geocode_cache (key, value, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (key, json.dumps(value, ensure_ascii=False), now,
                 None if ttl is None else now + ttl),
            )
            await self.conn.commit()

    async def purge(self) -> int:
        """Delete expired entries; return how many."""
        async with self._turn:
            cursor = await self.conn.execute(
                "DELETE FROM geocode_cache WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (self._clock(),),
            )
            await self.conn.commit()
        return cursor.rowcount
