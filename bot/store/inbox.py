"""The inbox: updates received from Telegram, kept until processed (see handlers/intake.py)."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from bot.store.connection import Database

KEEP_DONE = timedelta(days=2)  # Telegram keeps an unconfirmed update for 24 hours
MARKED_AT_MOST = 10_000

# The update being processed in this task: a transaction that commits its effects also marks
# it done, so after a crash it is not processed again (and its answer not applied twice).
processing: ContextVar[int | None] = ContextVar("processing", default=None)


@dataclass(frozen=True)
class Received:
    """An update as the inbox keeps it: its id, whose it is, and its JSON."""

    update_id: int
    sender: int
    payload: str


class Inbox(Database):
    """Updates received and processed."""

    holder: str | None = None  # this instance's name (set by `bot.store.coordination`)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Updates a committed transaction marked done whose processing has not ended yet:
        # marking them again would be a statement for nothing.
        self._marked: set[int] = set()

    async def receive(self, update_id: int, sender: int, payload: str) -> bool:
        """Keep an update; False when it was received before (a redelivery)."""
        cur = await self._exec(
            "INSERT INTO inbox (update_id, sender, payload, received_at, received_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (update_id, sender, payload, self.now(), self.holder))
        return cur.rowcount > 0

    async def done(self, update_id: int) -> None:
        """Mark an update processed (no statement when a transaction of its processing did)."""
        if update_id in self._marked:
            self._marked.discard(update_id)
            return
        await self._exec("UPDATE inbox SET done_at = ? WHERE update_id = ? AND done_at IS NULL",
                         (self.now(), update_id))

    async def _before_commit(self) -> None:
        """The update whose effects this transaction commits is done, atomically with them."""
        await super()._before_commit()
        update_id = processing.get()
        if update_id is not None and update_id not in self._marked:
            await self._exec(
                "UPDATE inbox SET done_at = ? WHERE update_id = ? AND done_at IS NULL",
                (self.now(), update_id))

    def _after_commit(self) -> None:
        super()._after_commit()
        update_id = processing.get()
        if update_id is not None:
            if len(self._marked) > MARKED_AT_MOST:  # left by tasks spawned while processing
                self._marked.clear()
            self._marked.add(update_id)

    async def unfinished(self, received_before: str | None = None) -> list[Received]:
        """Updates received (before `received_before`, if given) but not processed, oldest
        first."""
        since = "" if received_before is None else "AND received_at < ? "
        rows = await self.fetch_all(
            f"SELECT update_id, sender, payload FROM inbox WHERE done_at IS NULL {since}"
            "ORDER BY update_id", () if received_before is None else (received_before,))
        return [Received(r["update_id"], r["sender"], r["payload"]) for r in rows]

    async def unfinished_receivers(self) -> set[str | None]:
        """The instances holding updates received but not processed (None: unrecorded)."""
        rows = await self.fetch_all(
            "SELECT DISTINCT received_by FROM inbox WHERE done_at IS NULL")
        return {r["received_by"] for r in rows}

    async def orphans(self, receivers: Iterable[str | None], received_before: str
                      ) -> list[Received]:
        """Updates not processed that one of `receivers` received (their instances died), or
        any received before `received_before`; oldest first."""
        named = [r for r in receivers if r is not None]
        among = f"received_by IN ({', '.join('?' * len(named))}) OR " if named else ""
        rows = await self.fetch_all(
            "SELECT update_id, sender, payload FROM inbox WHERE done_at IS NULL "
            f"AND ({among}received_at < ?) ORDER BY update_id", (*named, received_before))
        return [Received(r["update_id"], r["sender"], r["payload"]) for r in rows]

    async def unfinished_of(self, sender: int, upto: int) -> list[Received]:
        """A person's updates received but not processed, up to `upto`, oldest first (under
        the person's turn: those another instance received and has not finished)."""
        rows = await self.fetch_all(
            "SELECT update_id, sender, payload FROM inbox WHERE done_at IS NULL "
            "AND sender = ? AND update_id <= ? ORDER BY update_id", (sender, upto))
        return [Received(r["update_id"], r["sender"], r["payload"]) for r in rows]

    async def forget_done(self) -> int:
        """Drop processed updates older than Telegram could redeliver them."""
        cutoff = (self.clock() - KEEP_DONE).astimezone(UTC).isoformat()
        cur = await self._exec("DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?",
                               (cutoff,))
        return cur.rowcount
