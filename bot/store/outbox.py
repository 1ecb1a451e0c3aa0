"""The outbox: outgoing HTTP deliveries, kept until delivered, retried with a backoff.

A delivered row keeps what an operator audits (kind, when, attempts, errors, the target's
scheme and host) and loses the rest: its payload (the record carries the activation
password) becomes `{}` and its target URL (a Slack hook's path is its secret) the origin.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import RowMapping

from bot.store.connection import Database, parse_time
from bot.store.records import Delivery

SCRUBBED = "{}"
NEVER = "9999-12-31T00:00:00+00:00"


def target_origin(url: str) -> str:
    """A URL's scheme, host and port only: no credentials, path or query."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


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
        """Claim a delivery for sending until `until`; False when it is leased or done (on
        PostgreSQL also while another instance is claiming it: `FOR UPDATE SKIP LOCKED`)."""
        now = self.now()
        claimable = """id = ? AND delivered_at IS NULL
               AND (leased_until IS NULL OR leased_until <= ?)"""
        if self.dialect == "postgresql":  # another instance claiming it now: skip, not wait
            claimable = f"id = (SELECT id FROM outbox WHERE {claimable} FOR UPDATE SKIP LOCKED)"
        cur = await self._exec(f"UPDATE outbox SET leased_until = ? WHERE {claimable}",
                               (until, delivery_id, now))
        return cur.rowcount > 0

    async def delivered(self, delivery_id: int) -> None:
        """Mark a delivery acknowledged: it is never sent again, and its payload and the
        target's path are dropped."""
        async with self.transaction():
            row = await self.fetch_one("SELECT target FROM outbox WHERE id = ?", (delivery_id,))
            if row is None:
                return
            await self._write(
                """UPDATE outbox SET delivered_at = ?, attempts = attempts + 1,
                   leased_until = NULL, payload = ?, target = ? WHERE id = ?""",
                (self.now(), SCRUBBED, target_origin(row["target"]), delivery_id),
            )

    async def scrub_deliveries(self, created_before: str) -> int:
        """Drop the payload and target path of every delivered row still holding them (rows
        from before scrubbing existed), and of undelivered rows created before
        `created_before`, which are given up; return how many rows changed."""
        async with self.transaction():
            rows = await self.fetch_all(
                """SELECT id, target, delivered_at FROM outbox WHERE payload != ?
                   AND (delivered_at IS NOT NULL OR created_at < ?)""",
                (SCRUBBED, created_before),
            )
            for row in rows:
                expired = row["delivered_at"] is None
                await self._write(
                    """UPDATE outbox SET payload = ?, target = ?, leased_until = NULL,
                       next_attempt_at = CASE WHEN ? THEN ? ELSE next_attempt_at END,
                       last_error = CASE WHEN ? THEN trim(coalesce(last_error, '')
                                    || ' (expired: not delivered within the retention)')
                                    ELSE last_error END
                       WHERE id = ?""",
                    (SCRUBBED, target_origin(row["target"]), expired, NEVER, expired,
                     row["id"]),
                )
            return len(rows)

    async def delivery_failed(self, delivery_id: int, error: str, retry_at: str) -> None:
        """Count a failed attempt and when to try again."""
        await self._write(
            """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
               leased_until = NULL WHERE id = ?""",
            (error[:500], retry_at, delivery_id),
        )
