"""Jobs: one station's job in a site visit, its answers, flags and photos, and the idle
jobs the managers' reminders look for."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store.audit import AuditTrail
from bot.store.connection import parse_time
from bot.store.records import Answer, Flag, Job, LiveKeyboards, Photo


def _job(row: RowMapping) -> Job:
    return Job(
        id=row["id"], visit_id=row["visit_id"], installer_id=row["installer_id"],
        chat_id=row["chat_id"], status=row["status"], cursor=row["cursor"],
        pending=json.loads(row["pending"]) if row["pending"] else None,
        prompt_message_id=row["prompt_message_id"], stop_reason=row["stop_reason"],
        created_at=parse_time(row["created_at"]), updated_at=parse_time(row["updated_at"]),
        submitted_at=parse_time(row["submitted_at"]), closed_at=parse_time(row["closed_at"]),
        reopened_part=row["reopened_part"], reminded_at=parse_time(row["reminded_at"]),
        offers=json.loads(row["offers"]) if row["offers"] else None, asked=row["asked"],
        keyboards=tuple(json.loads(row["keyboards"])) if row["keyboards"] else (),
    )  # type: ignore[arg-type]


def _live(row: RowMapping) -> LiveKeyboards:
    stored = row["keyboards"]
    return LiveKeyboards(row["status"], row["prompt_message_id"],
                         tuple(json.loads(stored)) if stored else (), stored)


class Jobs(AuditTrail):
    """Jobs and what hangs off them (creating a job writes to the audit trail)."""

    async def create_job(self, installer_id: int, chat_id: int, visit_id: int | None) -> Job:
        """Start a job, in a new site visit unless one is given."""
        now = self.now()
        async with self.transaction():
            if visit_id is None:
                visit_id = await self._write(
                    "INSERT INTO visits (installer_id, started_at) VALUES (?, ?) RETURNING id",
                    (installer_id, now),
                )
            job_id = await self._write(
                """INSERT INTO jobs (visit_id, installer_id, chat_id, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?) RETURNING id""",
                (visit_id, installer_id, chat_id, now, now),
            )
            await self.audit(installer_id, job_id, "job_created", {"visit": visit_id})
        job = await self.job(job_id)
        assert job is not None
        return job

    async def job(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        row = await self.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def open_job(self, installer_id: int) -> Job | None:
        """The installer's job in progress, if any."""
        row = await self.fetch_one(
            "SELECT * FROM jobs WHERE installer_id = ? AND status = 'open' ORDER BY id DESC",
            (installer_id,),
        )
        return _job(row) if row else None

    async def job_and_answers(self, job_id: int | None = None, *, open_of: int | None = None
                              ) -> tuple[Job, dict[str, Answer]] | None:
        """A job (by id, or the installer `open_of`'s job in progress) and its answers, read
        in one statement; None when there is none."""
        if open_of is not None:
            which = ("(SELECT id FROM jobs WHERE installer_id = ? AND status = 'open' "
                     "ORDER BY id DESC LIMIT 1)")
            param = open_of
        else:
            which, param = "?", job_id
        rows = await self.fetch_all(
            "SELECT jobs.*, answers.step AS a_step, answers.value AS a_value, "
            "answers.source AS a_source, answers.answered_at AS a_at FROM jobs "
            f"LEFT JOIN answers ON answers.job_id = jobs.id WHERE jobs.id = {which}", (param,))
        if not rows:
            return None
        return _job(rows[0]), {
            r["a_step"]: Answer(r["a_step"], json.loads(r["a_value"]), r["a_source"],
                                parse_time(r["a_at"]))  # type: ignore[arg-type]
            for r in rows if r["a_step"] is not None
        }

    async def jobs_of(self, installer_id: int, limit: int = 10) -> list[Job]:
        """The installer's latest jobs, newest first."""
        rows = await self.fetch_all(
            "SELECT * FROM jobs WHERE installer_id = ? ORDER BY id DESC LIMIT ?",
            (installer_id, limit),
        )
        return [_job(r) for r in rows]

    async def visit_jobs(self, visit_id: int) -> list[Job]:
        """The jobs of one site visit, oldest first."""
        rows = await self.fetch_all(
            "SELECT * FROM jobs WHERE visit_id = ? ORDER BY id", (visit_id,)
        )
        return [_job(r) for r in rows]

    async def update_job(self, job_id: int, **fields: Any) -> None:
        """Set columns of a job (cursor, pending, prompt_message_id, status, ...)."""
        allowed = {"cursor", "pending", "prompt_message_id", "status", "stop_reason",
                   "submitted_at", "closed_at", "reopened_part", "reminded_at", "offers", "asked",
                   "keyboards"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not job columns: {unknown}")
        values = {k: json.dumps(v) if k in ("pending", "offers", "keyboards") and v is not None
                  else v
                  for k, v in fields.items()}
        values["updated_at"] = self.now()
        assignments = ", ".join(f"{k} = ?" for k in values)
        await self._write(
            f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id)
        )

    async def record_part_ends(self, job_id: int, parts: Mapping[str, str]) -> None:
        """At the job's first submission, each part's last answer until then (`parts`: each
        step id's part), from its audit trail: the managers' summary reads this one column."""
        rows = await self.fetch_all(
            "SELECT detail, at FROM audit WHERE job_id = ? "
            "AND action IN ('answer', 'safety_confirmed')", (job_id,))
        ends: dict[str, str] = {}
        for r in rows:
            part = parts.get((json.loads(r["detail"]).get("step") or "").split(".", 1)[0])
            if part is not None and r["at"] > ends.get(part, ""):
                ends[part] = r["at"]
        await self._write("UPDATE jobs SET part_ends = ? WHERE id = ? AND part_ends IS NULL",
                          (json.dumps(ends), job_id))

    async def remember_prompt(self, job_id: int, message_id: int | None, asked: str | None,
                              gone: Sequence[int] = ()) -> LiveKeyboards | None:
        """The job's question message (its buttons') id, and which question it asked (kept
        only while the job is open); a message id is also noted among the job's live
        keyboards, and the `gone` ones (their buttons taken away) struck off them. One
        statement; the job's live keyboards as now stored (None: no job)."""
        keyboards, args = "keyboards", []
        if message_id is not None:
            keyboards = self._json_append(keyboards)
            args.append(message_id)
        if gone:
            keyboards = self._json_without(keyboards, len(gone))
            args.extend(gone)
        rows = await self.fetch_all(
            f"UPDATE jobs SET prompt_message_id = ?, updated_at = ?, keyboards = {keyboards}, "
            "asked = CASE WHEN status = 'open' THEN ? ELSE asked END WHERE id = ? "
            "RETURNING status, prompt_message_id, keyboards",
            (message_id, self.now(), *args, asked, job_id))
        return _live(rows[0]) if rows else None

    def _json_append(self, column: str) -> str:
        """SQL for the JSON array in `column` (none: empty) with one number (`?`) added."""
        if self.dialect == "postgresql":
            return (f"CAST(CAST(COALESCE({column}, '[]') AS jsonb) || "
                    "to_jsonb(CAST(? AS bigint)) AS TEXT)")
        return f"json_insert(COALESCE({column}, '[]'), '$[#]', ?)"

    def _json_without(self, array: str, count: int) -> str:
        """SQL for the JSON array `array` (SQL; NULL: empty) without `count` numbers (`?`),
        in its order."""
        if self.dialect == "postgresql":
            numbers = ", ".join(["to_jsonb(CAST(? AS bigint))"] * count)
            return ("(SELECT CAST(COALESCE(jsonb_agg(e.value ORDER BY e.n), '[]') AS TEXT) "
                    f"FROM jsonb_array_elements(CAST(COALESCE({array}, '[]') AS jsonb)) "
                    f"WITH ORDINALITY AS e(value, n) WHERE e.value NOT IN ({numbers}))")
        numbers = ", ".join(["?"] * count)
        return (f"(SELECT json_group_array(value) FROM json_each(COALESCE({array}, '[]')) "
                f"WHERE value NOT IN ({numbers}))")

    async def set_keyboards(self, job_id: int, message_ids: list[int],
                            was: LiveKeyboards | None = None) -> bool:
        """Set the job's live keyboards; with `was` (as read), only if they are still that
        (False: changed meanwhile, nothing written)."""
        value = json.dumps(message_ids) if message_ids else None
        if was is None:
            await self.update_job(job_id, keyboards=message_ids or None)
            return True
        cur = await self._exec(
            "UPDATE jobs SET keyboards = ?, updated_at = ? WHERE id = ? "
            "AND keyboards IS NOT DISTINCT FROM ?", (value, self.now(), job_id, was.stored))
        return cur.rowcount > 0

    async def open_jobs(self) -> list[Job]:
        """Every open job, oldest first (the start-up catch-up checks what they are owed)."""
        rows = await self.fetch_all("SELECT * FROM jobs WHERE status = 'open' ORDER BY id")
        return [_job(r) for r in rows]

    async def jobs_with_keyboards(self) -> list[Job]:
        """Jobs with messages whose buttons may still be live (the start-up takes the stale
        ones away)."""
        rows = await self.fetch_all(
            "SELECT * FROM jobs WHERE keyboards IS NOT NULL AND keyboards != '[]' ORDER BY id")
        return [_job(r) for r in rows]

    async def touch_job(self, job_id: int) -> None:
        """Mark the job as active now."""
        await self._write("UPDATE jobs SET updated_at = ? WHERE id = ?", (self.now(), job_id))

    # Answers --------------------------------------------------------------------------

    async def answers(self, job_id: int) -> dict[str, Answer]:
        """Every stored answer of the job, by step."""
        rows = await self.fetch_all("SELECT * FROM answers WHERE job_id = ?", (job_id,))
        return {
            r["step"]: Answer(r["step"], json.loads(r["value"]), r["source"],
                              parse_time(r["answered_at"]))  # type: ignore[arg-type]
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

    async def jobs_with_answer(self, step: str, value: Any, exclude: int) -> list[int]:
        """Other live jobs (not cancelled or stopped) with this answer to a step."""
        rows = await self.fetch_all(
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
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id""",
            (job_id, step, meta["file_id"], meta["file_unique_id"], meta["sha256"],
             meta["width"], meta["height"], meta["bytes"], meta["format"],
             int(meta.get("as_file", False)), meta.get("exif_lat"), meta.get("exif_lon"),
             taken.isoformat() if taken else None, self.now()),
        )

    async def photos(self, job_id: int) -> list[Photo]:
        """The job's photos, oldest first."""
        rows = await self.fetch_all(
            "SELECT * FROM photos WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [
            Photo(r["id"], r["job_id"], r["step"], r["file_id"], r["file_unique_id"],
                  r["sha256"], r["width"], r["height"], r["bytes"], r["format"],
                  bool(r["as_file"]), r["exif_lat"], r["exif_lon"],
                  parse_time(r["exif_taken_at"]))
            for r in rows
        ]

    # Flags ----------------------------------------------------------------------------

    async def add_flag(
        self, job_id: int, kind: str, step: str | None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record a flag on the job (one per kind and step)."""
        await self._write(
            "DELETE FROM flags WHERE job_id = ? AND kind = ? AND step IS NOT DISTINCT FROM ?",
            (job_id, kind, step),
        )
        await self._write(
            "INSERT INTO flags (job_id, kind, step, detail, at) VALUES (?, ?, ?, ?, ?)",
            (job_id, kind, step, json.dumps(detail or {}), self.now()),
        )

    async def flags(self, job_id: int) -> list[Flag]:
        """The job's flags, oldest first."""
        rows = await self.fetch_all(
            "SELECT * FROM flags WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [
            Flag(r["kind"], r["step"], json.loads(r["detail"] or "{}"), parse_time(r["at"]))
            for r in rows
        ]  # type: ignore[arg-type]

    async def clear_flags(self, job_id: int, step: str) -> None:
        """Forget the flags one step raised (its answer is being replaced)."""
        await self._write("DELETE FROM flags WHERE job_id = ? AND step = ?", (job_id, step))

    # Idle jobs (the managers' reminders) ----------------------------------------------

    async def idle_jobs(self, idle_since: str) -> list[Job]:
        """Open jobs untouched since `idle_since` and not yet reminded in this idle period
        (a reminder older than the job's last activity belongs to an earlier period)."""
        rows = await self.fetch_all(
            """SELECT * FROM jobs WHERE status = 'open' AND updated_at < ?
               AND (reminded_at IS NULL OR reminded_at < updated_at) ORDER BY id""",
            (idle_since,),
        )
        return [_job(r) for r in rows]

    async def mark_reminded(self, job_id: int) -> bool:
        """Claim the reminder of the job's current idle period: False when it is taken
        (or the job is no longer open). Leaves `updated_at` alone."""
        cur = await self._exec(
            """UPDATE jobs SET reminded_at = ? WHERE id = ? AND status = 'open'
               AND (reminded_at IS NULL OR reminded_at < updated_at)""",
            (self.now(), job_id),
        )
        return cur.rowcount > 0
