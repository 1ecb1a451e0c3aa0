"""Hand-offs: each submission of a job to support, its page in the support chat, and
support's decision."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store.connection import Database, parse_time
from bot.store.records import Handoff


def _handoff(row: RowMapping) -> Handoff:
    return Handoff(
        id=row["id"], job_id=row["job_id"], previous_id=row["previous_id"],
        chat_id=row["chat_id"], message_id=row["message_id"],
        created_at=parse_time(row["created_at"]), decision=row["decision"],
        decided_by=row["decided_by"], decided_at=parse_time(row["decided_at"]),
        reason=row["reason"], redo_part=row["redo_part"],
        repaged_at=parse_time(row["repaged_at"]), draft_by=row["draft_by"],
        draft_part=row["draft_part"], draft_message_id=row["draft_message_id"],
        text_message_ids=tuple(json.loads(row["text_message_ids"] or "[]")),
        album_message_id=row["album_message_id"], pin_message_id=row["pin_message_id"],
        posted_at=parse_time(row["posted_at"]), notified_at=parse_time(row["notified_at"]),
    )  # type: ignore[arg-type]


class Handoffs(Database):
    """Hand-offs to support."""

    async def add_handoff(self, job_id: int, chat_id: int | None) -> Handoff:
        """Record a new hand-off of the job, linked to its previous one (without a support
        chat there is nothing to post: it counts as posted)."""
        previous = await self.latest_handoff(job_id)
        now = self.now()
        handoff_id = await self._write(
            """INSERT INTO handoffs (job_id, previous_id, chat_id, created_at, posted_at)
               VALUES (?,?,?,?,?) RETURNING id""",
            (job_id, previous.id if previous else None, chat_id, now,
             None if chat_id is not None else now),
        )
        handoff = await self.handoff(handoff_id)
        assert handoff is not None
        return handoff

    async def handoff(self, handoff_id: int) -> Handoff | None:
        """The hand-off with this id, or None."""
        row = await self.fetch_one("SELECT * FROM handoffs WHERE id = ?", (handoff_id,))
        return _handoff(row) if row else None

    async def latest_handoff(self, job_id: int) -> Handoff | None:
        """The job's newest hand-off, or None."""
        row = await self.fetch_one(
            "SELECT * FROM handoffs WHERE job_id = ? ORDER BY id DESC LIMIT 1", (job_id,)
        )
        return _handoff(row) if row else None

    async def handoff_by_draft(self, chat_id: int, message_id: int) -> Handoff | None:
        """The undecided hand-off whose reason prompt is this message, or None."""
        row = await self.fetch_one(
            """SELECT * FROM handoffs WHERE chat_id = ? AND draft_message_id = ?
               AND decision IS NULL""",
            (chat_id, message_id),
        )
        return _handoff(row) if row else None

    async def update_handoff(self, handoff_id: int, **fields: Any) -> None:
        """Set columns of a hand-off (message_id, repaged_at, draft_*, what was posted and
        when, notified_at)."""
        allowed = {"message_id", "repaged_at", "draft_by", "draft_part", "draft_message_id",
                   "text_message_ids", "album_message_id", "pin_message_id", "posted_at",
                   "notified_at"}
        if set(fields) - allowed:
            raise ValueError(f"not settable: {set(fields) - allowed}")
        if "text_message_ids" in fields:
            fields["text_message_ids"] = json.dumps(list(fields["text_message_ids"]))
        assignments = ", ".join(f"{k} = ?" for k in fields)
        await self._write(f"UPDATE handoffs SET {assignments} WHERE id = ?",
                          (*fields.values(), handoff_id))

    async def decide_handoff(
        self, handoff_id: int, decision: str, by: int, reason: str | None = None,
        redo_part: str | None = None,
    ) -> bool:
        """Record support's decision, once: False when it was already decided."""
        cur = await self._exec(
            """UPDATE handoffs SET decision = ?, decided_by = ?, decided_at = ?, reason = ?,
                   redo_part = ?, draft_by = NULL, draft_message_id = NULL
               WHERE id = ? AND decision IS NULL""",
            (decision, by, self.now(), reason, redo_part, handoff_id),
        )
        return cur.rowcount > 0

    async def waiting_handoffs(self, older_than: str) -> list[Handoff]:
        """Undecided hand-offs created before this time and not re-paged yet."""
        rows = await self.fetch_all(
            """SELECT handoffs.* FROM handoffs JOIN jobs ON jobs.id = handoffs.job_id
               WHERE handoffs.decision IS NULL AND handoffs.repaged_at IS NULL
                 AND handoffs.created_at < ? AND jobs.status = 'submitted'
               ORDER BY handoffs.id""",
            (older_than,),
        )
        return [_handoff(r) for r in rows]

    async def unposted_handoffs(self, created_before: str) -> list[Handoff]:
        """Hand-offs for a support chat not (completely) posted yet and created before this
        time (younger ones are being posted by the update that made them), oldest first."""
        rows = await self.fetch_all(
            """SELECT * FROM handoffs WHERE posted_at IS NULL AND chat_id IS NOT NULL
               AND created_at < ? ORDER BY id""", (created_before,))
        return [_handoff(r) for r in rows]

    async def unnotified_decisions(self, decided_before: str) -> list[Handoff]:
        """Decided hand-offs whose installer has not been told, decided before this time."""
        rows = await self.fetch_all(
            """SELECT * FROM handoffs WHERE notified_at IS NULL AND decided_at IS NOT NULL
                 AND decided_at <= ? ORDER BY id""", (decided_before,))
        return [_handoff(r) for r in rows]
