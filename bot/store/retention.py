"""Secrets kept no longer than needed: masking a secret answer (the activation password) in
the answers and in a held answer's extras (`jobs.pending`), and saying so in the audit trail;
dropping the content of processed updates (what installers typed) from the inbox.

Which step is secret, and how a value is masked, come from the caller (the store knows no
procedure); a masked value starts with `•` and is never masked again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.store.audit import AuditTrail
from bot.store.records import CANCELLED, STOPPED, VERIFIED

MASK_CHAR = "•"
CLOSED = (VERIFIED, CANCELLED, STOPPED)


def _masked(value: Any) -> bool:
    return not isinstance(value, str) or value.startswith(MASK_CHAR)


class Retention(AuditTrail):
    """Masking secret answers once they are no longer needed."""

    async def mask_answers(self, step: str, mask: Callable[[str], str],
                           answered_before: str) -> list[int]:
        """Mask the answer to `step` of every verified job whose record was delivered, and of
        every job where it was given before `answered_before`; return those jobs' ids."""
        rows = await self.fetch_all(
            f"""SELECT a.job_id, a.value, a.answered_at < :before AS expired FROM answers a
                JOIN jobs j ON j.id = a.job_id
                WHERE a.step = :step
                AND substr({self.json_text('a.value')}, 1, 1) != '{MASK_CHAR}'
                AND (a.answered_at < :before OR (j.status = '{VERIFIED}' AND EXISTS (
                     SELECT 1 FROM outbox o WHERE o.kind = 'record'
                     AND o.dedup_key = 'record:' || a.job_id AND o.delivered_at IS NOT NULL)))
                ORDER BY a.job_id""",
            {"step": step, "before": answered_before},
        )
        masked = []
        for row in rows:
            value = json.loads(row["value"])
            if _masked(value):
                continue
            async with self.transaction():
                await self._write("UPDATE answers SET value = ? WHERE job_id = ? AND step = ?",
                                  (json.dumps(mask(value)), row["job_id"], step))
                await self.audit(None, row["job_id"], "secret_masked", {
                    "step": step, "why": "retention" if row["expired"] else "delivered"})
            masked.append(row["job_id"])
        return masked

    async def mask_pending(self, step: str, mask: Callable[[str], str],
                           updated_before: str) -> list[int]:
        """Mask `step`'s value held with another answer (a password read with the MAC) in
        closed jobs and in jobs unchanged since `updated_before`; return those jobs' ids."""
        rows = await self.fetch_all(
            f"""SELECT id, pending FROM jobs WHERE pending IS NOT NULL
                AND (status IN ({', '.join('?' * len(CLOSED))}) OR updated_at < ?)""",
            (*CLOSED, updated_before),
        )
        masked = []
        for row in rows:
            pending = json.loads(row["pending"])
            holder = pending.get("caution") if isinstance(pending.get("caution"), dict) \
                else pending
            extra = holder.get("extra") or {}
            if _masked(extra.get(step, MASK_CHAR)):
                continue
            extra[step] = mask(extra[step])
            await self._write("UPDATE jobs SET pending = ? WHERE id = ?",
                              (json.dumps(pending), row["id"]))
            masked.append(row["id"])
        return masked

    async def clear_done_updates(self) -> int:
        """Drop the content of processed updates from the inbox (their ids stay, so that a
        redelivered update is still recognised); return how many were cleared."""
        cur = await self._exec(
            "UPDATE inbox SET payload = '{}' WHERE done_at IS NOT NULL AND payload != '{}'")
        return cur.rowcount
