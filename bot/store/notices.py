"""Notices: Telegram messages owed to a chat because the state changed, kept until sent.

A notice is queued in the same transaction as the change that owes it, so a committed change
never loses its message; the sender (handlers/notices.py) leases a due notice, sends it, and
marks it sent with its message id (never sent again) or failed for good (a chat that blocked
the bot), or counts a transient failure and when to try again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store.connection import Database, parse_time

BATCH = 50  # notices one pass of the sender takes at most


@dataclass(frozen=True)
class QueuedNotice:
    """A queued message: its chat, HTML text, inline buttons (rows of label/data/url) and
    the message it quotes; whether and as which message it was sent."""

    id: int
    chat_id: int
    text: str
    buttons: list[list[dict[str, Any]]]
    reply_to: int | None
    dedup_key: str
    attempts: int
    sent_at: datetime | None
    message_id: int | None
    failed_at: datetime | None
    last_error: str | None


def _notice(row: RowMapping) -> QueuedNotice:
    return QueuedNotice(row["id"], row["chat_id"], row["text"], json.loads(row["buttons"]),
                        row["reply_to"], row["dedup_key"], row["attempts"],
                        parse_time(row["sent_at"]), row["message_id"],
                        parse_time(row["failed_at"]), row["last_error"])


class Notices(Database):
    """Queued Telegram notices. `notices_queued` tells whether this process committed one
    since `due_notices` last read them all (an update's own sender need not look otherwise)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notices_queued = True  # until first read: some may be left from before
        self._queued_uncommitted = False

    async def queue_notice(self, chat_id: int, text: str, buttons: list[list[dict[str, Any]]],
                           dedup_key: str, reply_to: int | None = None) -> bool:
        """Queue a notice (inside the caller's transaction, if any); False when one with
        this key was queued before."""
        now = self.now()
        cur = await self._exec(
            """INSERT INTO notices (chat_id, text, buttons, reply_to, dedup_key, created_at,
                   next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (dedup_key) DO NOTHING""",
            (chat_id, text, json.dumps(buttons), reply_to, dedup_key, now, now),
        )
        if self.in_transaction():  # seen by readers once committed
            self._queued_uncommitted = True
        else:
            self.notices_queued = True
        return cur.rowcount > 0

    def _after_commit(self) -> None:
        super()._after_commit()
        if self._queued_uncommitted:
            self._queued_uncommitted, self.notices_queued = False, True

    async def due_notices(self, limit: int = BATCH) -> list[QueuedNotice]:
        """Unsent notices due now, oldest first (those being sent too: `lease_notice` tells,
        and a chat's later notices wait for them)."""
        self.notices_queued = False
        rows = await self.fetch_all(
            """SELECT * FROM notices WHERE sent_at IS NULL AND failed_at IS NULL
               AND next_attempt_at <= ? ORDER BY id LIMIT ?""",
            (self.now(), limit),
        )
        if len(rows) >= limit:
            self.notices_queued = True  # more than a batch: look again next time
        return [_notice(r) for r in rows]

    async def lease_notice(self, notice_id: int, until: str) -> bool:
        """Claim a notice for sending until `until`; False when it is leased, sent or failed
        (on PostgreSQL also while another instance is claiming it: `FOR UPDATE SKIP LOCKED`)."""
        now = self.now()
        claimable = """id = ? AND sent_at IS NULL AND failed_at IS NULL
               AND (leased_until IS NULL OR leased_until <= ?)"""
        if self.dialect == "postgresql":  # another instance claiming it now: skip, not wait
            claimable = f"id = (SELECT id FROM notices WHERE {claimable} FOR UPDATE SKIP LOCKED)"
        cur = await self._exec(f"UPDATE notices SET leased_until = ? WHERE {claimable}",
                               (until, notice_id, now))
        return cur.rowcount > 0

    async def release_notices(self) -> int:
        """Drop every lease (at start: no send is in flight); how many were held. Not on
        PostgreSQL, where another instance may be sending: its leases expire instead."""
        if self.dialect == "postgresql":
            return 0
        cur = await self._exec(
            "UPDATE notices SET leased_until = NULL WHERE leased_until IS NOT NULL "
            "AND sent_at IS NULL")
        return cur.rowcount

    async def notice_sent(self, notice_id: int, message_id: int) -> None:
        """Telegram accepted the notice as this message: it is never sent again."""
        await self._exec(
            """UPDATE notices SET sent_at = ?, message_id = ?, attempts = attempts + 1,
               leased_until = NULL WHERE id = ?""",
            (self.now(), message_id, notice_id),
        )

    async def notice_failed(self, notice_id: int, error: str, retry_at: str | None) -> None:
        """Count a failed attempt: try again at `retry_at`, or (None) give it up."""
        await self._exec(
            """UPDATE notices SET attempts = attempts + 1, last_error = ?, leased_until = NULL,
               next_attempt_at = COALESCE(?, next_attempt_at), failed_at = ? WHERE id = ?""",
            (error[:500], retry_at, self.now() if retry_at is None else None, notice_id),
        )

    async def notices(self) -> list[QueuedNotice]:
        """Every notice, oldest first."""
        return [_notice(r) for r in await self.fetch_all("SELECT * FROM notices ORDER BY id")]
