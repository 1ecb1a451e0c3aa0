"""What a summary reads: each job it may mention as one row, with its submissions, hand-offs
and audit trail aggregated in the database (SQLite or PostgreSQL: the SQL is portable), and
the few rows it lists one by one (rejections, flags).

Times are UTC ISO 8601 strings of one format, so the aggregates compare and order them as
text, as Python would compare the times.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from bot.managers.reports import Reports, iso

# Jobs a summary of [start, end) may mention: every job created before the end that is
# still open, waiting or to be fixed, or that changed after the start (its state at the end
# of the period may differ from today's). Jobs unchanged since before the start are as
# they were then. One indexed read each (`jobs_unfinished`, `jobs_updated_created`):
# `created_at || ''` keeps the planner off `jobs_created`, which would read every older job.
RELEVANT = """SELECT id FROM jobs WHERE status IN ('open', 'submitted', 'rejected')
                AND created_at || '' < :end
              UNION SELECT id FROM jobs WHERE updated_at >= :start AND created_at || '' < :end"""
# Named once per statement.
WITH = f"WITH relevant AS ({RELEVANT})"
# A job's hand-offs and the audit's `submitted` entries before the period's end, aggregated:
# how many hand-offs, the first and last submission time, the last one up to the report's
# moment and whether one falls inside the period; the latest hand-off up to that moment and
# whether support decided one (verified one) inside the period.
TRAIL = """SELECT job_id, COUNT(handoff) AS handoffs, MIN(t) AS first_at, MAX(t) AS last_at,
        MAX(CASE WHEN t <= :as_of THEN t END) AS last_by,
        MAX(CASE WHEN t >= :start AND t < :end THEN 1 ELSE 0 END) AS inside,
        MAX(CASE WHEN t <= :as_of THEN handoff END) AS latest_id,
        MAX(CASE WHEN decided_at >= :start AND decided_at < :end THEN 1 ELSE 0 END)
        AS decided_inside,
        MAX(CASE WHEN decision = 'verified' AND decided_at >= :start AND decided_at < :end
            THEN 1 ELSE 0 END) AS verified_inside
    FROM (SELECT job_id, created_at AS t, id AS handoff, decision, decided_at FROM handoffs
           WHERE job_id IN (SELECT id FROM relevant)
          UNION ALL
          SELECT job_id, at, NULL, NULL, NULL FROM audit
           WHERE job_id IN (SELECT id FROM relevant) AND action = 'submitted' AND at < :end
          ) AS trail
    GROUP BY job_id"""
# Per job (in no particular order): its row, its trail; from the
# audit trail (index `audit_job_actor_at`) the installer's latest entry up to the report's
# moment (asked only when the job's state there may depend on it: not of jobs closed, or
# verified or waiting at their latest hand-off) and whether anything happened inside the
# period (asked only of jobs created before it: the others are in it anyway); the answer of
# the step that chooses the model.
FACTS = f"""{WITH}
    SELECT jobs.id, jobs.installer_id, jobs.status, jobs.stop_reason, jobs.cursor, jobs.asked,
        jobs.created_at, jobs.updated_at, jobs.closed_at, jobs.submitted_at, jobs.part_ends,
        CASE WHEN (jobs.status IN ('cancelled', 'stopped') AND jobs.closed_at <= :as_of)
               OR (latest.id IS NOT NULL AND latest.decision IS NULL)
               OR latest.decided_at > :as_of OR latest.decision = 'verified' THEN NULL ELSE
          (SELECT MAX(a.at) FROM audit a WHERE a.job_id = jobs.id
             AND a.actor_id = jobs.installer_id AND a.at <= :as_of AND a.at < :end) END
        AS last_activity,
        CASE WHEN jobs.created_at >= :start THEN 1 ELSE
          (SELECT 1 FROM audit a WHERE a.job_id = jobs.id AND a.at >= :start AND a.at < :end
            LIMIT 1) END AS touched,
        (SELECT value FROM answers WHERE answers.job_id = jobs.id AND answers.step = :model
        ) AS model,
        trail.handoffs, trail.first_at, trail.last_at, trail.last_by, trail.inside,
        trail.decided_inside, trail.verified_inside,
        latest.created_at AS handed_at, latest.decision, latest.decided_at
    FROM jobs
    LEFT JOIN ({TRAIL}) trail ON trail.job_id = jobs.id
    LEFT JOIN handoffs latest ON latest.id = trail.latest_id
    WHERE jobs.id IN (SELECT id FROM relevant)"""
# Rows read one by one, by time (partial indexes `handoffs_rejected`, `audit_flags`, and
# `flags_at`; revision 015): rejections decided inside the period, and flags raised in it
# (the flags table's, and the audit's `flag` entries). Those of jobs the summary does not
# mention are not looked at.
REJECTIONS = """SELECT job_id, reason, redo_part, decided_by, decided_at FROM handoffs
    WHERE decision = 'rejected' AND decided_at >= :start AND decided_at < :end
    ORDER BY job_id, id"""
FLAGS = "SELECT job_id, kind, step, detail FROM flags WHERE at >= :start AND at < :end ORDER BY id"
FLAG_ENTRIES = """SELECT job_id, detail FROM audit
    WHERE action = 'flag' AND at >= :start AND at < :end ORDER BY at, id"""


@dataclass(frozen=True, slots=True)
class JobFacts:
    """A job as a summary sees it: its row, its installer's name, and its trail aggregated.

    Submissions are every known submission time (hand-offs, the audit, the job's own);
    `handed_at`, `decision` and `decided_at` are of its latest hand-off up to the report's
    moment.
    """

    id: int
    installer_id: int
    installer_name: str
    status: str
    stop_reason: str | None
    cursor: str | None
    asked: str | None  # the question the engine last sent (`jobs.asked`)
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    part_ends: str | None  # JSON: each part's last answer until the first submission
    last_activity: datetime | None  # the installer's latest audit entry up to the moment
    # (None too when the job's state does not depend on it)
    touched: bool  # created or an audit entry inside the period
    model: str | None  # the answer (JSON) of the step that chooses the model
    first_submission: datetime | None
    last_submission: str | None  # ISO times, parsed when needed (seldom)
    submitted_by: str | None  # the latest submission up to the report's moment
    submitted_inside: bool
    handoffs: int
    decided_inside: bool
    verified_inside: bool
    handed_at: datetime | None
    decision: str | None
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Support's rejection of a submission, decided inside the period."""

    reason: str | None
    redo_part: str | None
    decided_by: int | None
    decided_at: datetime


@dataclass
class SummaryData:
    """What a summary of a period reads: its jobs in id order, and by job the rejections
    and the flags inside the period (`flags`: the flags table's kind, step and detail;
    `flagged`: the audit's `flag` entries' kind and step), plus the names of the
    rejections' deciders."""

    jobs: list[JobFacts] = field(default_factory=list)
    rejections: dict[int, list[Rejected]] = field(default_factory=lambda: defaultdict(list))
    flags: dict[int, list[tuple[str, str | None, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list))
    flagged: dict[int, list[tuple[Any, Any]]] = field(default_factory=lambda: defaultdict(list))
    names: dict[int, str] = field(default_factory=dict)


async def summary_data(reports: Reports, start: datetime, end: datetime, as_of: datetime
                       ) -> SummaryData:
    """The jobs a summary of [start, end) as of `as_of` reads, with everything around them."""
    params = {"start": iso(start), "end": iso(end), "as_of": iso(as_of), "model": reports.model}
    store, data = reports.store, SummaryData()
    parse = datetime.fromisoformat
    rows = await store.fetch_all(FACTS, params)
    names = await reports.names({r["installer_id"] for r in rows})
    jobs = data.jobs
    for r in rows:
        who = r["installer_id"]
        name = names.get(who) or str(who)
        first, last, by, inside = r["first_at"], r["last_at"], r["last_by"], r["inside"]
        if (own := r["submitted_at"]) is not None:  # the job's own submission time
            first = own if first is None or own < first else first
            last = own if last is None or own > last else last
            if own <= params["as_of"] and (by is None or own > by):
                by = own
            inside = inside or params["start"] <= own < params["end"]
        closed, active, handed, decided = (r["closed_at"], r["last_activity"], r["handed_at"],
                                           r["decided_at"])
        jobs.append(JobFacts(
            r["id"], who, name, r["status"], r["stop_reason"], r["cursor"], r["asked"],
            parse(r["created_at"]), parse(r["updated_at"]), parse(closed) if closed else None,
            r["part_ends"], parse(active) if active else None, bool(r["touched"]), r["model"],
            parse(first) if first else None, last, by, bool(inside),
            r["handoffs"] or 0, bool(r["decided_inside"]), bool(r["verified_inside"]),
            parse(handed) if handed else None, r["decision"], parse(decided) if decided else None,
        ))
    jobs.sort(key=attrgetter("id"))  # the summary's lists keep this order
    for r in await store.fetch_all(REJECTIONS, params):
        data.rejections[r["job_id"]].append(Rejected(
            r["reason"], r["redo_part"], r["decided_by"], parse(r["decided_at"])))
    for r in await store.fetch_all(FLAGS, params):
        data.flags[r["job_id"]].append((r["kind"], r["step"], json.loads(r["detail"] or "{}")))
    for r in await store.fetch_all(FLAG_ENTRIES, params):
        detail = json.loads(r["detail"]) if r["detail"] else {}
        data.flagged[r["job_id"]].append((detail.get("kind"), detail.get("step")))
    data.names = await reports.names(
        {r.decided_by for rs in data.rejections.values() for r in rs if r.decided_by})
    return data
