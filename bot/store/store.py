"""SQLite storage (aiosqlite, WAL): the repositories. All of the bot's SQL lives here.

Every write is committed before the call returns, so an answer is on disk before the bot
asks the next question. Writes that belong together run in one `transaction()`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.config import DATA_DIR

MIGRATIONS_DIR = DATA_DIR / "migrations"
ROLES = ("installer", "support", "manager", "admin")
OPEN, SUBMITTED, VERIFIED, REJECTED, CANCELLED, STOPPED = (
    "open", "submitted", "verified", "rejected", "cancelled", "stopped"
)


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class User:
    """A Telegram user known to the bot."""

    id: int
    first_name: str
    last_name: str | None
    username: str | None
    installer_id: str | None
    status: str

    @property
    def name(self) -> str:
        """First and last name."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or str(self.id)


@dataclass(frozen=True)
class Job:
    """One station's networking job."""

    id: int
    visit_id: int
    installer_id: int
    chat_id: int
    status: str
    cursor: str | None
    pending: dict[str, Any] | None
    prompt_message_id: int | None
    stop_reason: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    closed_at: datetime | None
    reopened_part: str | None = None
    reminded_at: datetime | None = None
    offers: dict[str, Any] | None = None


@dataclass(frozen=True)
class Answer:
    """A stored answer to one step."""

    step: str
    value: Any
    source: str
    answered_at: datetime


@dataclass(frozen=True)
class Photo:
    """A photo kept for a job: Telegram's ids, a checksum and what Pillow read."""

    id: int
    job_id: int
    step: str
    file_id: str
    file_unique_id: str
    sha256: str
    width: int
    height: int
    bytes: int
    format: str
    as_file: bool
    exif_lat: float | None
    exif_lon: float | None
    exif_taken_at: datetime | None


@dataclass(frozen=True)
class Handoff:
    """One submission of a job to support, and support's decision."""

    id: int
    job_id: int
    previous_id: int | None
    chat_id: int | None
    message_id: int | None
    created_at: datetime
    decision: str | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    redo_part: str | None
    repaged_at: datetime | None
    draft_by: int | None
    draft_part: str | None
    draft_message_id: int | None


@dataclass(frozen=True)
class Delivery:
    """An outgoing HTTP delivery waiting in (or done from) the outbox."""

    id: int
    kind: str
    target: str
    payload: dict[str, Any]
    dedup_key: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Flag:
    """Something support and managers should see about a job."""

    kind: str
    step: str | None
    detail: dict[str, Any]
    at: datetime


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _migrations(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob("*.sql"):
        match = re.match(r"(\d+)_", path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    return found


class Store:
    """The bot's database: open with `await Store.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @classmethod
    async def open(
        cls,
        path: Path | str,
        clock: Callable[[], datetime] = utc_now,
        migrations_dir: Path = MIGRATIONS_DIR,
    ) -> Store:
        """Connect (WAL, foreign keys on), run pending migrations, return the store."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db, clock)
        await store.migrate(migrations_dir)
        return store

    async def close(self) -> None:
        """Close the connection."""
        await self.db.close()

    async def migrate(self, migrations_dir: Path = MIGRATIONS_DIR) -> int:
        """Apply every migration newer than `PRAGMA user_version`; return the new version."""
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, path in _migrations(migrations_dir):
            if number <= version:
                continue
            script = path.read_text(encoding="utf-8")
            await self.db.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )
            version = number
        return version

    def now(self) -> str:
        """The clock's time as stored: ISO 8601 UTC."""
        return self.clock().astimezone(UTC).isoformat()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the writes inside as one transaction (others wait for it)."""
        if self._owner is asyncio.current_task():
            yield  # already inside this task's transaction
            return
        async with self._lock:
            self._owner = asyncio.current_task()
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            else:
                await self.db.execute("COMMIT")
            finally:
                self._owner = None

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This task's turn on the shared connection (at once inside its own transaction).

        Every statement takes a turn, reads included: a read's cursor stays open across
        awaits, and another task's write slipping in meanwhile would meet SQLite's "database
        is locked" (its snapshot is older than another connection's commit), or slip into
        another task's open transaction.
        """
        if self._owner is asyncio.current_task():
            yield
        else:
            async with self._lock:
                yield

    async def _exec(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Cursor:
        """Run one write: inside this task's transaction, or on its own, committed at once."""
        async with self._turn():
            return await self.db.execute(sql, tuple(params))

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement; the new row id."""
        cur = await self._exec(sql, params)
        return cur.lastrowid or 0

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._turn(), self.db.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
                   ) -> list[aiosqlite.Row]:
        """Every row of a query (positional or named parameters)."""
        args = params if isinstance(params, dict) else tuple(params)
        async with self._turn(), self.db.execute(sql, args) as cur:
            return list(await cur.fetchall())

    # People ---------------------------------------------------------------------------

    @staticmethod
    def _user(row: aiosqlite.Row) -> User:
        return User(row["id"], row["first_name"], row["last_name"], row["username"],
                    row["installer_id"], row["status"])

    async def user(self, user_id: int) -> User | None:
        """The user with this Telegram id, or None."""
        row = await self._one("SELECT * FROM users WHERE id = ?", (user_id,))
        return self._user(row) if row else None

    async def upsert_user(
        self, user_id: int, first_name: str, last_name: str | None = None,
        username: str | None = None, language: str | None = None,
    ) -> User:
        """Create the user or refresh their name; return them."""
        now = self.now()
        await self._write(
            """INSERT INTO users (id, first_name, last_name, username, language, created_at,
                                  updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name,
                   last_name = excluded.last_name, username = excluded.username,
                   language = excluded.language, updated_at = excluded.updated_at""",
            (user_id, first_name or "", last_name, username, language, now, now),
        )
        user = await self.user(user_id)
        assert user is not None
        return user

    async def set_user_status(
        self, user_id: int, status: str, installer_id: str | None = None,
        only_from: str | None = None,
    ) -> bool:
        """Move a user through registration; keep the installer id when none is given.

        With `only_from`, the change happens only from that status (so that two admins
        pressing at once decide once); returns whether it happened.
        """
        cur = await self._exec(
            """UPDATE users SET status = ?, installer_id = COALESCE(?, installer_id),
               updated_at = ? WHERE id = ? AND (? IS NULL OR status = ?)""",
            (status, installer_id, self.now(), user_id, only_from, only_from),
        )
        return cur.rowcount > 0

    async def user_by_installer_id(self, installer_id: str) -> User | None:
        """The user linked to this installer account, or None."""
        row = await self._one("SELECT * FROM users WHERE installer_id = ?", (installer_id,))
        return self._user(row) if row else None

    async def users_by_username(self, username: str) -> User | None:
        """The user with this @username (case-insensitive), or None."""
        row = await self._one(
            "SELECT * FROM users WHERE lower(username) = lower(?)", (username.lstrip("@"),)
        )
        return self._user(row) if row else None

    async def roles(self, user_id: int) -> set[str]:
        """The roles this user holds."""
        rows = await self._all("SELECT role FROM roles WHERE user_id = ?", (user_id,))
        return {r["role"] for r in rows}

    async def grant(self, user_id: int, role: str, by: int | None) -> bool:
        """Give a role; True when it is new."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        cur = await self._exec(
            "INSERT OR IGNORE INTO roles (user_id, role, granted_by, granted_at) VALUES (?,?,?,?)",
            (user_id, role, by, self.now()),
        )
        return cur.rowcount > 0

    async def revoke(self, user_id: int, role: str) -> bool:
        """Take a role away; True when the user had it."""
        cur = await self._exec(
            "DELETE FROM roles WHERE user_id = ? AND role = ?", (user_id, role)
        )
        return cur.rowcount > 0

    async def users_with_role(self, role: str) -> list[User]:
        """Everyone holding the role, by id."""
        rows = await self._all(
            """SELECT users.* FROM users JOIN roles ON roles.user_id = users.id
               WHERE roles.role = ? ORDER BY users.id""",
            (role,),
        )
        return [self._user(r) for r in rows]

    # Jobs -----------------------------------------------------------------------------

    @staticmethod
    def _job(row: aiosqlite.Row) -> Job:
        return Job(
            id=row["id"], visit_id=row["visit_id"], installer_id=row["installer_id"],
            chat_id=row["chat_id"], status=row["status"], cursor=row["cursor"],
            pending=json.loads(row["pending"]) if row["pending"] else None,
            prompt_message_id=row["prompt_message_id"], stop_reason=row["stop_reason"],
            created_at=_time(row["created_at"]), updated_at=_time(row["updated_at"]),
            submitted_at=_time(row["submitted_at"]), closed_at=_time(row["closed_at"]),
            reopened_part=row["reopened_part"], reminded_at=_time(row["reminded_at"]),
            offers=json.loads(row["offers"]) if row["offers"] else None,
        )  # type: ignore[arg-type]

    async def create_job(self, installer_id: int, chat_id: int, visit_id: int | None) -> Job:
        """Start a job, in a new site visit unless one is given."""
        now = self.now()
        async with self.transaction():
            if visit_id is None:
                visit_id = await self._write(
                    "INSERT INTO visits (installer_id, started_at) VALUES (?, ?)",
                    (installer_id, now),
                )
            job_id = await self._write(
                """INSERT INTO jobs (visit_id, installer_id, chat_id, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (visit_id, installer_id, chat_id, now, now),
            )
            await self._audit(installer_id, job_id, "job_created", {"visit": visit_id})
        job = await self.job(job_id)
        assert job is not None
        return job

    async def job(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        row = await self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return self._job(row) if row else None

    async def open_job(self, installer_id: int) -> Job | None:
        """The installer's job in progress, if any."""
        row = await self._one(
            "SELECT * FROM jobs WHERE installer_id = ? AND status = 'open' ORDER BY id DESC",
            (installer_id,),
        )
        return self._job(row) if row else None

    async def jobs_of(self, installer_id: int, limit: int = 10) -> list[Job]:
        """The installer's latest jobs, newest first."""
        rows = await self._all(
            "SELECT * FROM jobs WHERE installer_id = ? ORDER BY id DESC LIMIT ?",
            (installer_id, limit),
        )
        return [self._job(r) for r in rows]

    async def visit_jobs(self, visit_id: int) -> list[Job]:
        """The jobs of one site visit, oldest first."""
        rows = await self._all("SELECT * FROM jobs WHERE visit_id = ? ORDER BY id", (visit_id,))
        return [self._job(r) for r in rows]

    async def update_job(self, job_id: int, **fields: Any) -> None:
        """Set columns of a job (cursor, pending, prompt_message_id, status, ...)."""
        allowed = {"cursor", "pending", "prompt_message_id", "status", "stop_reason",
                   "submitted_at", "closed_at", "reopened_part", "reminded_at", "offers"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not job columns: {unknown}")
        values = {k: json.dumps(v) if k in ("pending", "offers") and v is not None else v
                  for k, v in fields.items()}
        values["updated_at"] = self.now()
        assignments = ", ".join(f"{k} = ?" for k in values)
        await self._write(
            f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id)
        )

    async def touch_job(self, job_id: int) -> None:
        """Mark the job as active now."""
        await self._write("UPDATE jobs SET updated_at = ? WHERE id = ?", (self.now(), job_id))

    # Answers --------------------------------------------------------------------------

    async def answers(self, job_id: int) -> dict[str, Answer]:
        """Every stored answer of the job, by step."""
        rows = await self._all("SELECT * FROM answers WHERE job_id = ?", (job_id,))
        return {
            r["step"]: Answer(r["step"], json.loads(r["value"]), r["source"],
                              _time(r["answered_at"]))  # type: ignore[arg-type]
            for r in rows
        }

    async def save_answer(self, job_id: int, step: str, value: Any, source: str) -> None:
        """Store (or replace) the answer to a step."""
        await self._write(
            """INSERT INTO answers (job_id, step, value, source, answered_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (job_id, step) DO UPDATE SET value = excluded.value,
                   source = excluded.source, answered_at = excluded.answered_at""",
            (job_id, step, json.dumps(value), source, self.now()),
        )

    async def clear_answers(self, job_id: int, steps: Iterable[str]) -> None:
        """Forget the answers to these steps (and the flags they raised)."""
        steps = list(steps)
        if not steps:
            return
        marks = ",".join("?" * len(steps))
        await self._write(
            f"DELETE FROM answers WHERE job_id = ? AND step IN ({marks})", (job_id, *steps)
        )
        await self._write(
            f"DELETE FROM flags WHERE job_id = ? AND step IN ({marks})", (job_id, *steps)
        )

    async def clear_flags(self, job_id: int, step: str) -> None:
        """Forget the flags one step raised (its answer is being replaced)."""
        await self._write("DELETE FROM flags WHERE job_id = ? AND step = ?", (job_id, step))

    async def jobs_with_answer(self, step: str, value: Any, exclude: int) -> list[int]:
        """Other live jobs (not cancelled or stopped) with this answer to a step."""
        rows = await self._all(
            """SELECT jobs.id FROM answers JOIN jobs ON jobs.id = answers.job_id
               WHERE answers.step = ? AND answers.value = ? AND jobs.id != ?
                 AND jobs.status NOT IN ('cancelled', 'stopped') ORDER BY jobs.id DESC""",
            (step, json.dumps(value), exclude),
        )
        return [r["id"] for r in rows]

    # Photos ---------------------------------------------------------------------------

    async def add_photo(self, job_id: int, step: str, **meta: Any) -> int:
        """Keep a photo's ids, checksum and image facts; return its row id."""
        taken = meta.get("exif_taken_at")
        return await self._write(
            """INSERT INTO photos (job_id, step, file_id, file_unique_id, sha256, width,
                   height, bytes, format, as_file, exif_lat, exif_lon, exif_taken_at,
                   created_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (job_id, step, meta["file_id"], meta["file_unique_id"], meta["sha256"],
             meta["width"], meta["height"], meta["bytes"], meta["format"],
             int(meta.get("as_file", False)), meta.get("exif_lat"), meta.get("exif_lon"),
             taken.isoformat() if taken else None, self.now()),
        )

    async def photos(self, job_id: int) -> list[Photo]:
        """The job's photos, oldest first."""
        rows = await self._all("SELECT * FROM photos WHERE job_id = ? ORDER BY id", (job_id,))
        return [
            Photo(r["id"], r["job_id"], r["step"], r["file_id"], r["file_unique_id"],
                  r["sha256"], r["width"], r["height"], r["bytes"], r["format"],
                  bool(r["as_file"]), r["exif_lat"], r["exif_lon"], _time(r["exif_taken_at"]))
            for r in rows
        ]

    # Hand-offs ---------------------------------------------------------------------------

    @staticmethod
    def _handoff(row: aiosqlite.Row) -> Handoff:
        return Handoff(
            id=row["id"], job_id=row["job_id"], previous_id=row["previous_id"],
            chat_id=row["chat_id"], message_id=row["message_id"],
            created_at=_time(row["created_at"]), decision=row["decision"],
            decided_by=row["decided_by"], decided_at=_time(row["decided_at"]),
            reason=row["reason"], redo_part=row["redo_part"],
            repaged_at=_time(row["repaged_at"]), draft_by=row["draft_by"],
            draft_part=row["draft_part"], draft_message_id=row["draft_message_id"],
        )  # type: ignore[arg-type]

    async def add_handoff(self, job_id: int, chat_id: int | None) -> Handoff:
        """Record a new hand-off of the job, linked to its previous one."""
        previous = await self.latest_handoff(job_id)
        handoff_id = await self._write(
            "INSERT INTO handoffs (job_id, previous_id, chat_id, created_at) VALUES (?,?,?,?)",
            (job_id, previous.id if previous else None, chat_id, self.now()),
        )
        handoff = await self.handoff(handoff_id)
        assert handoff is not None
        return handoff

    async def handoff(self, handoff_id: int) -> Handoff | None:
        """The hand-off with this id, or None."""
        row = await self._one("SELECT * FROM handoffs WHERE id = ?", (handoff_id,))
        return self._handoff(row) if row else None

    async def latest_handoff(self, job_id: int) -> Handoff | None:
        """The job's newest hand-off, or None."""
        row = await self._one(
            "SELECT * FROM handoffs WHERE job_id = ? ORDER BY id DESC LIMIT 1", (job_id,)
        )
        return self._handoff(row) if row else None

    async def handoff_by_draft(self, chat_id: int, message_id: int) -> Handoff | None:
        """The undecided hand-off whose reason prompt is this message, or None."""
        row = await self._one(
            """SELECT * FROM handoffs WHERE chat_id = ? AND draft_message_id = ?
               AND decision IS NULL""",
            (chat_id, message_id),
        )
        return self._handoff(row) if row else None

    async def update_handoff(self, handoff_id: int, **fields: Any) -> None:
        """Set columns of a hand-off (message_id, repaged_at, draft_*)."""
        allowed = {"message_id", "repaged_at", "draft_by", "draft_part", "draft_message_id"}
        if set(fields) - allowed:
            raise ValueError(f"not settable: {set(fields) - allowed}")
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
        rows = await self._all(
            """SELECT handoffs.* FROM handoffs JOIN jobs ON jobs.id = handoffs.job_id
               WHERE handoffs.decision IS NULL AND handoffs.repaged_at IS NULL
                 AND handoffs.created_at < ? AND jobs.status = 'submitted'
               ORDER BY handoffs.id""",
            (older_than,),
        )
        return [self._handoff(r) for r in rows]

    # Outbox ------------------------------------------------------------------------------

    async def enqueue(self, kind: str, target: str, payload: dict[str, Any],
                      dedup_key: str) -> bool:
        """Queue a delivery; False when one with this key is already queued or done."""
        now = self.now()
        cur = await self._exec(
            """INSERT OR IGNORE INTO outbox (kind, target, payload, dedup_key, created_at,
                   next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)""",
            (kind, target, json.dumps(payload), dedup_key, now, now),
        )
        return cur.rowcount > 0

    async def due_deliveries(self, now: str, max_attempts: int) -> list[Delivery]:
        """Undelivered items whose next attempt is due, oldest first."""
        rows = await self._all(
            """SELECT * FROM outbox WHERE delivered_at IS NULL AND attempts < ?
               AND next_attempt_at <= ? ORDER BY id""",
            (max_attempts, now),
        )
        return [self._delivery(r) for r in rows]

    async def next_delivery_time(self, max_attempts: int) -> datetime | None:
        """When the next undelivered item is due, or None."""
        row = await self._one(
            """SELECT MIN(next_attempt_at) AS due FROM outbox
               WHERE delivered_at IS NULL AND attempts < ?""",
            (max_attempts,),
        )
        return _time(row["due"]) if row else None

    async def deliveries(self) -> list[Delivery]:
        """Every outbox item, oldest first."""
        return [self._delivery(r) for r in await self._all("SELECT * FROM outbox ORDER BY id")]

    @staticmethod
    def _delivery(row: aiosqlite.Row) -> Delivery:
        return Delivery(row["id"], row["kind"], row["target"], json.loads(row["payload"]),
                        row["dedup_key"], row["attempts"], _time(row["delivered_at"]),
                        row["last_error"])

    async def delivered(self, delivery_id: int) -> None:
        """Mark a delivery acknowledged: it is never sent again."""
        await self._write(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
            (self.now(), delivery_id),
        )

    async def delivery_failed(self, delivery_id: int, error: str, retry_at: str) -> None:
        """Count a failed attempt and when to try again."""
        await self._write(
            """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
               WHERE id = ?""",
            (error[:500], retry_at, delivery_id),
        )

    # Flags and audit --------------------------------------------------------------------

    async def add_flag(
        self, job_id: int, kind: str, step: str | None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record a flag on the job (one per kind and step)."""
        await self._write(
            "DELETE FROM flags WHERE job_id = ? AND kind = ? AND step IS ?", (job_id, kind, step)
        )
        await self._write(
            "INSERT INTO flags (job_id, kind, step, detail, at) VALUES (?, ?, ?, ?, ?)",
            (job_id, kind, step, json.dumps(detail or {}), self.now()),
        )

    async def flags(self, job_id: int) -> list[Flag]:
        """The job's flags, oldest first."""
        rows = await self._all("SELECT * FROM flags WHERE job_id = ? ORDER BY id", (job_id,))
        return [Flag(r["kind"], r["step"], json.loads(r["detail"] or "{}"), _time(r["at"]))
                for r in rows]  # type: ignore[arg-type]

    async def _audit(
        self, actor_id: int | None, job_id: int | None, action: str,
        detail: dict[str, Any] | None,
    ) -> None:
        await self._write(
            "INSERT INTO audit (at, actor_id, job_id, action, detail) VALUES (?, ?, ?, ?, ?)",
            (self.now(), actor_id, job_id, action, json.dumps(detail or {}, default=str)),
        )

    async def audit(
        self, actor_id: int | None, job_id: int | None, action: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append to the audit trail: who did what, when. Callers mask secrets first."""
        await self._audit(actor_id, job_id, action, detail)

    async def audit_trail(self, job_id: int | None = None) -> list[dict[str, Any]]:
        """Audit entries (of one job, or all), oldest first."""
        if job_id is None:
            rows = await self._all("SELECT * FROM audit ORDER BY id")
        else:
            rows = await self._all("SELECT * FROM audit WHERE job_id = ? ORDER BY id", (job_id,))
        return [dict(r) | {"detail": json.loads(r["detail"] or "{}")} for r in rows]

    # Reminders (managers' issue) ------------------------------------------------------------

    async def idle_jobs(self, idle_since: str) -> list[Job]:
        """Open jobs untouched since `idle_since` and not yet reminded in this idle period
        (a reminder older than the job's last activity belongs to an earlier period)."""
        rows = await self._all(
            """SELECT * FROM jobs WHERE status = 'open' AND updated_at < ?
               AND (reminded_at IS NULL OR reminded_at < updated_at) ORDER BY id""",
            (idle_since,),
        )
        return [self._job(r) for r in rows]

    async def mark_reminded(self, job_id: int) -> bool:
        """Claim the reminder of the job's current idle period: False when it is taken
        (or the job is no longer open). Leaves `updated_at` alone."""
        cur = await self._exec(
            """UPDATE jobs SET reminded_at = ? WHERE id = ? AND status = 'open'
               AND (reminded_at IS NULL OR reminded_at < updated_at)""",
            (self.now(), job_id),
        )
        return cur.rowcount > 0
