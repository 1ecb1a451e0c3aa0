"""The outbox: outgoing HTTP deliveries, kept until delivered, retried with a backoff."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store.connection import Database, parse_time
from bot.store.records import Delivery


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(row["id"], row["kind"], row["target"], json.loads(row["payload"]),
                    row["dedup_key"], row["attempts"], parse_time(row["delivered_at"]),
                    row["last_error"])


class Outbox(Database):
    """Queued deliveries."""

    async def enqueue(self, kind: str, target: str, payload: dict[str, Any],
                      dedup_key: str) -> bool:
        """Queue a delivery; False when one with this key is already queued or done."""
        now = self.now()
        cur = await self._exec(
            """INSERT INTO outbox (kind, target, payload, dedup_key, created_at, next_attempt_at)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            (kind, target, json.dumps(payload), dedup_key, now, now),
        )
        return cur.rowcount > 0

    async def due_deliveries(self, now: str, max_attempts: int) -> list[Delivery]:
        """Undelivered items whose next attempt is due, oldest first."""
        rows = await self.fetch_all(
            """SELECT * FROM outbox WHERE delivered_at IS NULL AND attempts < ?
               AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until <= ?)
               ORDER BY id""",
            (max_attempts, now, now),
        )
        return [_delivery(r) for r in rows]

    async def next_delivery_time(self, max_attempts: int) -> datetime | None:
        """When the next undelivered item is due, or None."""
        row = await self.fetch_one(
            """SELECT MIN(next_attempt_at) AS due FROM outbox
               WHERE delivered_at IS NULL AND attempts < ?""",
            (max_attempts,),
        )
        return parse_time(row["due"]) if row else None

    async def deliveries(self) -> list[Delivery]:
        """Every outbox item, oldest first."""
        return [_delivery(r) for r in await self.fetch_all("SELECT * FROM outbox ORDER BY id")]

    async def lease(self, delivery_id: int, until: str) -> bool:
        """Claim a delivery for sending until `until`; False when it is leased or done."""
        now = self.now()
        cur = await self._exec(
            """UPDATE outbox SET leased_until = ? WHERE id = ? AND delivered_at IS NULL
               AND (leased_until IS NULL OR leased_until <= ?)""",
            (until, delivery_id, now),
        )
        return cur.rowcount > 0

    async def delivered(self, delivery_id: int) -> None:
        """Mark a delivery acknowledged: it is never sent again."""
        await self._write(
            """UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, leased_until = NULL
               WHERE id = ?""",
            (self.now(), delivery_id),
        )

    async def delivery_failed(self, delivery_id: int, error: str, retry_at: str) -> None:
        """Count a failed attempt and when to try again."""
        await self._write(
            """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
               leased_until = NULL WHERE id = ?""",
            (error[:500], retry_at, delivery_id),
        )
