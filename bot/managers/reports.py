"""Read-only queries for the managers' reports: the jobs created in a period with everything
around them (the CSV export), a job's answers, people's names. (The summary's own reading
is `bot.managers.facts`.)

A store-like module beside `bot.store`, kept apart so that the reports' SQL does not
crowd the repositories the bot writes through. It only reads, through the store (SQLite or
PostgreSQL: the SQL is portable). Times are stored as UTC ISO 8601 strings, so ranges compare
as text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store import Answer, Store

# The jobs columns JobRow names (`pending` only by its step), and the joined user columns.
KNOWN_COLUMNS = {
    "id", "visit_id", "installer_id", "chat_id", "status", "cursor", "pending",
    "prompt_message_id", "stop_reason", "reopened_part", "created_at", "updated_at",
    "submitted_at", "closed_at", "reminded_at", "part_ends", "first_name", "last_name",
    "username", "account",
}
JOBS = """SELECT jobs.*, users.first_name, users.last_name, users.username,
                 users.installer_id AS account
            FROM jobs JOIN users ON users.id = jobs.installer_id"""
HANDOFFS = """SELECT id, job_id, created_at, decision, decided_by, decided_at, reason, redo_part
              FROM handoffs"""
# Jobs created in [start, end): the export (index `jobs_created`), a batch at a time.
CREATED = "SELECT id FROM jobs WHERE created_at >= :start AND created_at < :end"
BATCH = 500


def iso(moment: datetime) -> str:
    """A time as the database stores it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
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
    part_ends: str | None  # JSON: each part's last answer until the first submission
    extra: dict[str, Any] = field(default_factory=dict)  # columns added by later migrations


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class FlagRow:
    """A flag on a job."""

    job_id: int
    kind: str
    step: str | None
    detail: dict[str, Any]
    at: datetime


@dataclass
class ReportData:
    """Jobs by id and, per job, their hand-offs, answers and flags (oldest first), plus the
    names of everyone involved."""

    jobs: dict[int, JobRow] = field(default_factory=dict)
    handoffs: dict[int, list[HandoffRow]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[int, dict[str, Answer]] = field(default_factory=lambda: defaultdict(dict))
    flags: dict[int, list[FlagRow]] = field(default_factory=lambda: defaultdict(list))
    names: dict[int, str] = field(default_factory=dict)


def person_name(first: str | None, last: str | None, username: str | None, user_id: int) -> str:
    """First and last name, else @username, else the id."""
    name = " ".join(p for p in (first, last) if p)
    return name or (f"@{username}" if username else str(user_id))


def _job_row(r: RowMapping, extra: Iterable[str] = ()) -> JobRow:
    """The job of a row (`extra`: its columns JobRow does not name). Positional, times
    parsed inline: a month's export makes ~33,000 of them."""
    pending = json.loads(r["pending"]) if r["pending"] else None
    parse = datetime.fromisoformat
    submitted, closed, reminded = r["submitted_at"], r["closed_at"], r["reminded_at"]
    return JobRow(
        r["id"], r["visit_id"], r["installer_id"], r["chat_id"], r["status"], r["cursor"],
        pending.get("step") if isinstance(pending, dict) else None,
        r["prompt_message_id"], r["stop_reason"], r["reopened_part"],
        parse(r["created_at"]), parse(r["updated_at"]),
        parse(submitted) if submitted else None, parse(closed) if closed else None,
        parse(reminded) if reminded else None,
        person_name(r["first_name"], r["last_name"], r["username"], r["installer_id"]),
        r["username"], r["account"], r["part_ends"], {k: r[k] for k in extra},
    )


def _extra(rows: list[RowMapping]) -> list[str]:
    """The jobs' columns JobRow does not name (added by later migrations)."""
    return [k for k in rows[0] if k not in KNOWN_COLUMNS] if rows else []


def _ids(job_ids: Iterable[int]) -> str:
    """Job ids as a literal SQL list (integers only)."""
    return ",".join(str(int(i)) for i in job_ids)


class Reports:
    """The reports' queries over a `Store`."""

    def __init__(self, store: Store, model: str | None) -> None:
        """`model`: the step whose answer is the station's model (read for every job)."""
        self.store = store
        self.model = model

    async def _all(self, sql: str, params: dict[str, Any]) -> list[RowMapping]:
        return await self.store.fetch_all(sql, params)

    async def answers_of(self, job_ids: Iterable[int]) -> dict[int, dict[str, Answer]]:
        """Every answer of these jobs."""
        data = ReportData()
        if ids := _ids(job_ids):
            await self._answers(data, f"SELECT * FROM answers WHERE job_id IN ({ids})", {})
        return data.answers

    async def answer_steps(self, start: datetime, end: datetime) -> set[str]:
        """The steps answered in the jobs created in [start, end)."""
        rows = await self._all(f"SELECT DISTINCT step FROM answers WHERE job_id IN ({CREATED})",
                               {"start": iso(start), "end": iso(end)})
        return {r["step"] for r in rows}

    async def created(self, start: datetime, end: datetime) -> AsyncIterator[ReportData]:
        """The jobs created in [start, end) with everything around them, in order of
        creation, `BATCH` jobs at a time (each batch read in its own statements, from where
        the last one ended: memory stays constant, and the bot's statements take their turns
        between batches)."""
        after: tuple[str, int] = ("", 0)
        params = {"start": iso(start), "end": iso(end)}
        while True:
            data = ReportData()
            await self._jobs(data, f"""{JOBS} WHERE jobs.created_at >= :start
                AND jobs.created_at < :end AND (jobs.created_at, jobs.id) > (:at, :id)
                ORDER BY jobs.created_at, jobs.id LIMIT {BATCH}""",
                params | {"at": after[0], "id": after[1]})
            if not data.jobs:
                return
            last = list(data.jobs.values())[-1]
            batch = params | {"at": after[0], "id": after[1], "last_at": iso(last.created_at),
                              "last_id": last.id}
            ids = """SELECT id FROM jobs WHERE created_at >= :start AND created_at < :end
                      AND (created_at, id) > (:at, :id)
                      AND (created_at, id) <= (:last_at, :last_id)"""  # the same text each time
            await self._handoffs(data, f"{HANDOFFS} WHERE job_id IN ({ids})", batch)
            await self._answers(data, f"SELECT * FROM answers WHERE job_id IN ({ids})", batch)
            await self._flags(data, f"SELECT * FROM flags WHERE job_id IN ({ids}) ORDER BY id",
                              batch)
            await self._deciders(data)
            yield data
            after = (iso(last.created_at), last.id)

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

    async def _jobs(self, data: ReportData, sql: str, params: dict[str, Any]) -> None:
        rows = await self._all(sql, params)
        extra = _extra(rows)
        for r in rows:
            data.jobs[r["id"]] = job = _job_row(r, extra)
            data.names[r["installer_id"]] = job.installer_name

    async def _handoffs(self, data: ReportData, sql: str, params: dict[str, Any]) -> None:
        for r in await self._all(f"{sql} ORDER BY id", params):
            data.handoffs[r["job_id"]].append(HandoffRow(
                r["id"], r["job_id"], _time(r["created_at"]), r["decision"], r["decided_by"],
                _time(r["decided_at"]), r["reason"], r["redo_part"],
            ))  # type: ignore[arg-type]

    async def _answers(self, data: ReportData, sql: str, params: dict[str, Any]) -> None:
        for r in await self._all(sql, params):
            data.answers[r["job_id"]][r["step"]] = Answer(
                r["step"], json.loads(r["value"]), r["source"], _time(r["answered_at"])
            )  # type: ignore[arg-type]

    async def _flags(self, data: ReportData, sql: str, params: dict[str, Any]) -> None:
        for r in await self._all(sql, params):
            data.flags[r["job_id"]].append(FlagRow(
                r["job_id"], r["kind"], r["step"], json.loads(r["detail"] or "{}"),
                _time(r["at"]),
            ))  # type: ignore[arg-type]

    async def _deciders(self, data: ReportData) -> None:
        deciders = {h.decided_by for hs in data.handoffs.values() for h in hs if h.decided_by}
        data.names.update(await self.names(deciders - set(data.names)))

