"""Read-only queries for the managers' reports: jobs of a period with everything around them.

A store-like module beside `bot.store`, kept apart so that the reports' SQL does not
crowd the repositories the bot writes through. It only reads, through the store (SQLite or
PostgreSQL: the SQL is portable). Times are stored as UTC ISO 8601 strings, so ranges compare
as text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store import Answer, Store

# Jobs a report over [start, end) may mention: every job created before the end that is
# still open, waiting or to be fixed, or that changed after the start (its state at the end
# of the period may differ from today's). Jobs unchanged since before the start are as
# they were then.
RELEVANT = """SELECT id FROM jobs WHERE created_at < :end
              AND (status IN ('open', 'submitted', 'rejected') OR updated_at >= :start)"""
# The jobs columns JobRow names (`pending` only by its step), and the joined user columns.
KNOWN_COLUMNS = {
    "id", "visit_id", "installer_id", "chat_id", "status", "cursor", "pending",
    "prompt_message_id", "stop_reason", "reopened_part", "created_at", "updated_at",
    "submitted_at", "closed_at", "reminded_at", "first_name", "last_name", "username",
    "account",
}
# Jobs created in [start, end): the export.
CREATED = "SELECT id FROM jobs WHERE created_at >= :start AND created_at < :end"


def iso(moment: datetime) -> str:
    """A time as the database stores it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class JobRow:
    """A job with every column and its installer's names."""

    id: int
    visit_id: int
    installer_id: int
    chat_id: int
    status: str
    cursor: str | None
    pending_step: str | None
    prompt_message_id: int | None
    stop_reason: str | None
    reopened_part: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    closed_at: datetime | None
    reminded_at: datetime | None
    installer_name: str
    installer_username: str | None
    installer_account: str | None
    extra: dict[str, Any] = field(default_factory=dict)  # columns added by later migrations


@dataclass(frozen=True)
class HandoffRow:
    """One submission to support and what support decided."""

    id: int
    job_id: int
    created_at: datetime
    decision: str | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    redo_part: str | None


@dataclass(frozen=True)
class Event:
    """An audit entry of a job."""

    job_id: int
    at: datetime
    actor_id: int | None
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class FlagRow:
    """A flag on a job."""

    job_id: int
    kind: str
    step: str | None
    detail: dict[str, Any]
    at: datetime


@dataclass
class ReportData:
    """Jobs by id and, per job, their hand-offs, audit events, answers and flags (oldest
    first), plus the names of everyone involved."""

    jobs: dict[int, JobRow] = field(default_factory=dict)
    handoffs: dict[int, list[HandoffRow]] = field(default_factory=lambda: defaultdict(list))
    events: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[int, dict[str, Answer]] = field(default_factory=lambda: defaultdict(dict))
    flags: dict[int, list[FlagRow]] = field(default_factory=lambda: defaultdict(list))
    names: dict[int, str] = field(default_factory=dict)


def person_name(first: str | None, last: str | None, username: str | None, user_id: int) -> str:
    """First and last name, else @username, else the id."""
    name = " ".join(p for p in (first, last) if p)
    return name or (f"@{username}" if username else str(user_id))


class Reports:
    """The reports' queries over a `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def _all(self, sql: str, params: dict[str, Any]) -> list[RowMapping]:
        return await self.store.fetch_all(sql, params)

    async def load(self, start: datetime, end: datetime, created_only: bool = False) -> ReportData:
        """Everything about the jobs of [start, end): the relevant jobs, or (`created_only`)
        the jobs created in the range. Audit events after `end` are left out."""
        selection = CREATED if created_only else RELEVANT
        params = {"start": iso(start), "end": iso(end)}
        data = ReportData()
        for r in await self._all(
            f"""SELECT jobs.*, users.first_name, users.last_name, users.username,
                       users.installer_id AS account
                FROM jobs JOIN users ON users.id = jobs.installer_id
                WHERE jobs.id IN ({selection}) ORDER BY jobs.id""",
            params,
        ):
            pending = json.loads(r["pending"]) if r["pending"] else None
            data.jobs[r["id"]] = JobRow(
                id=r["id"], visit_id=r["visit_id"], installer_id=r["installer_id"],
                chat_id=r["chat_id"], status=r["status"], cursor=r["cursor"],
                pending_step=pending.get("step") if isinstance(pending, dict) else None,
                prompt_message_id=r["prompt_message_id"], stop_reason=r["stop_reason"],
                reopened_part=r["reopened_part"], created_at=_time(r["created_at"]),
                updated_at=_time(r["updated_at"]), submitted_at=_time(r["submitted_at"]),
                closed_at=_time(r["closed_at"]), reminded_at=_time(r["reminded_at"]),
                installer_name=person_name(r["first_name"], r["last_name"], r["username"],
                                           r["installer_id"]),
                installer_username=r["username"], installer_account=r["account"],
                extra={k: r[k] for k in r.keys() if k not in KNOWN_COLUMNS},  # noqa: SIM118
            )  # type: ignore[arg-type]
            data.names[r["installer_id"]] = data.jobs[r["id"]].installer_name
        for r in await self._all(
            f"""SELECT * FROM handoffs WHERE job_id IN ({selection}) ORDER BY id""", params
        ):
            data.handoffs[r["job_id"]].append(HandoffRow(
                r["id"], r["job_id"], _time(r["created_at"]), r["decision"], r["decided_by"],
                _time(r["decided_at"]), r["reason"], r["redo_part"],
            ))  # type: ignore[arg-type]
        for r in await self._all(
            f"""SELECT * FROM audit WHERE job_id IN ({selection}) AND at < :end
                ORDER BY at, id""",
            params,
        ):
            data.events[r["job_id"]].append(Event(
                r["job_id"], _time(r["at"]), r["actor_id"], r["action"],
                json.loads(r["detail"] or "{}"),
            ))  # type: ignore[arg-type]
        for r in await self._all(
            f"SELECT * FROM answers WHERE job_id IN ({selection})", params
        ):
            data.answers[r["job_id"]][r["step"]] = Answer(
                r["step"], json.loads(r["value"]), r["source"], _time(r["answered_at"])
            )  # type: ignore[arg-type]
        for r in await self._all(
            f"SELECT * FROM flags WHERE job_id IN ({selection}) ORDER BY id", params
        ):
            data.flags[r["job_id"]].append(FlagRow(
                r["job_id"], r["kind"], r["step"], json.loads(r["detail"] or "{}"),
                _time(r["at"]),
            ))  # type: ignore[arg-type]
        deciders = {h.decided_by for hs in data.handoffs.values() for h in hs if h.decided_by}
        data.names.update(await self.names(deciders - set(data.names)))
        return data

    async def names(self, user_ids: set[int]) -> dict[int, str]:
        """Display names of these users (unknown ids are left out)."""
        if not user_ids:
            return {}
        marks = ",".join(str(int(i)) for i in sorted(user_ids))
        rows = await self._all(
            f"SELECT id, first_name, last_name, username FROM users WHERE id IN ({marks})", {}
        )
        return {r["id"]: person_name(r["first_name"], r["last_name"], r["username"], r["id"])
                for r in rows}
