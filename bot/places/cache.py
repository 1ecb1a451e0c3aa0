"""Geocoder answers cached in the store's database (table `geocode_cache`, Alembic revision
002), on its engine: SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings


class GeocodeCache:
    """Geocoder answers (`geocode_cache`), keyed by service, endpoint and request.

    Values are JSON; entries expire after `ttl_s` (default 90 days). Errors of the cache are
    logged and treated as a miss: geocoding never fails because of the cache. Each call runs
    on a connection of its own from the engine's pool, so its commits never end the store's
    transactions; `put` commits. Calls take turns, in order: a `get` queued behind a `put`
    sees what it wrote.
    """

    def __init__(self, engine: AsyncEngine, ttl_s: float | None = 90 * 86400.0,
                 *, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.ttl_s = ttl_s
        self._clock = clock
        self._turn = asyncio.Lock()

    @classmethod
    def from_settings(cls, engine: AsyncEngine, settings: Settings) -> GeocodeCache:
        """A cache whose lifetime comes from `GEOCODER_CACHE_TTL_DAYS` (0 = never expires)."""
        days = settings.geocoder_cache_ttl_days
        return cls(engine, days * 86400.0 if days > 0 else None)

    async def get(self, key: str) -> Any | None:
        """The cached value, or None when missing or expired."""
        async with self._turn, self.engine.connect() as conn:
            value = (await conn.execute(
                text("SELECT value FROM geocode_cache WHERE key = :key "
                     "AND (expires_at IS NULL OR expires_at > :now)"),
                {"key": key, "now": self._clock()},
            )).scalar()
        return None if value is None else json.loads(value)

    async def put(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        """Store `value` (JSON-serialisable) for `ttl_s` seconds (default: the cache's TTL)."""
        now = self._clock()
        ttl = self.ttl_s if ttl_s is None else ttl_s
        async with self._turn, self.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO geocode_cache (key, value, created_at, expires_at) "
                     "VALUES (:key, :value, :now, :expires) ON CONFLICT (key) DO UPDATE SET "
                     "value = excluded.value, created_at = excluded.created_at, "
                     "expires_at = excluded.expires_at"),
                {"key": key, "value": json.dumps(value, ensure_ascii=False), "now": now,
                 "expires": None if ttl is None else now + ttl},
            )

    async def purge(self) -> int:
        """Delete expired entries; return how many."""
        async with self._turn, self.engine.begin() as conn:
            result = await conn.execute(
                text("DELETE FROM geocode_cache WHERE expires_at IS NOT NULL "
                     "AND expires_at <= :now"), {"now": self._clock()},
            )
        return result.rowcount
