"""What operations read from the database: job counts, the outbox's backlog (for `/metrics`;
the schema's version is `Database.schema_version`)."""

from __future__ import annotations

from datetime import datetime

from bot.store.connection import Database, parse_time


class Stats(Database):
    """Cheap read-only queries for health checks and metrics."""

    async def jobs_by_state(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = await self.fetch_all("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    async def outbox_backlog(self, max_attempts: int) -> tuple[int, datetime | None]:
        """Deliveries still to be made (not given up) and when the oldest was queued."""
        row = await self.fetch_one(
            """SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox
               WHERE delivered_at IS NULL AND attempts < ?""", (max_attempts,))
        return (row["n"], parse_time(row["oldest"])) if row else (0, None)
