"""The audit trail: who did what to which job, and when."""

from __future__ import annotations

import json
from typing import Any

from bot.store.connection import Database


class AuditTrail(Database):
    """Appending to and reading the audit trail (other aggregates that audit extend it)."""

    async def audit(
        self, actor_id: int | None, job_id: int | None, action: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append to the audit trail: who did what, when. Callers mask secrets first."""
        await self._write(
            "INSERT INTO audit (at, actor_id, job_id, action, detail) VALUES (?, ?, ?, ?, ?)",
            (self.now(), actor_id, job_id, action, json.dumps(detail or {}, default=str)),
        )

    async def audit_trail(self, job_id: int | None = None) -> list[dict[str, Any]]:
        """Audit entries (of one job, or all), oldest first."""
        if job_id is None:
            rows = await self.fetch_all("SELECT * FROM audit ORDER BY id")
        else:
            rows = await self.fetch_all(
                "SELECT * FROM audit WHERE job_id = ? ORDER BY id", (job_id,)
            )
        return [dict(r) | {"detail": json.loads(r["detail"] or "{}")} for r in rows]
