"""Managers' summaries: what the installers did over a period of local days.

`Summaries.compute` reads the database (through `bot.managers.reports`) for a `Period` in
the managers' time zone and returns a `Summary`; `bot.managers.render` turns it into one
short Telegram-HTML message and a chart, `Summaries.export_csv` exports the jobs themselves
(`bot.managers.export`). Nothing here knows Telegram or the engine.
"""

from __future__ import annotations

import gc
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO

from bot.config import Settings
from bot.engine.records import Records
from bot.managers.export import write_jobs_csv
from bot.managers.facts import JobFacts, SummaryData, summary_data
from bot.managers.periods import Period
from bot.managers.reports import Reports
from bot.managers.where import Where, asked_where, questions
from bot.store import Answer, Store
from bot.texts import Texts

FAILURE_KINDS = ("firmware_too_old", "checklist_failed")


@dataclass(frozen=True)
class Spread:
    """Median and longest of some durations, with the job that took longest."""

    count: int = 0
    median: timedelta | None = None
    longest: timedelta | None = None
    longest_job: int | None = None

    @classmethod
    def of(cls, samples: Iterable[tuple[timedelta, int]]) -> Spread:
        """From (duration, job id) pairs."""
        items = list(samples)
        if not items:
            return cls()
        took = sorted([s[0] for s in items])
        n, longest = len(took), took[-1]
        middle = took[n // 2].total_seconds()  # as `statistics.median` takes it
        median = middle if n % 2 else (took[n // 2 - 1].total_seconds() + middle) / 2
        return cls(n, timedelta(seconds=median), longest,
                   min(job for d, job in items if d == longest))  # the first of the longest



@dataclass(frozen=True)
class Waiting:
    """A submitted job support has not decided yet."""

    job: int
    installer: str
    since: datetime
    waited: timedelta
    late: bool


@dataclass(frozen=True)
class Stuck:
    """An open job without an answer for longer than the stuck limit."""

    job: int
    installer: str
    idle: timedelta
    where: Where | None


@dataclass(frozen=True)
class Rejection:
    """Support's rejection of a submission, with its reason."""

    job: int
    installer: str
    reason: str | None
    redo_part: str | None
    by: str | None
    at: datetime


@dataclass(frozen=True)
class Stopped:
    """A job stopped as not networkable."""

    job: int
    installer: str
    reason: str | None


@dataclass(frozen=True)
class Failure:
    """A firmware or checklist failure on a job (items: the failed checklist items)."""

    job: int
    installer: str
    kind: str
    items: tuple[str, ...] = ()
    version: str | None = None
    minimum: str | None = None


@dataclass
class InstallerLine:
    """One installer's figures; `states` counts their jobs by state at the report's moment."""

    user_id: int
    name: str
    started: int = 0
    submitted: int = 0
    verified: int = 0
    rejected: int = 0
    cancelled: int = 0
    stopped: int = 0
    states: Counter[str] = field(default_factory=Counter)


@dataclass
class Summary:
    """Everything a manager's summary shows, computed for one period."""

    period: Period
    as_of: datetime
    now: datetime
    stuck_after: timedelta
    parts: tuple[str, ...]
    started: int = 0
    submitted: int = 0
    verified: int = 0
    cancelled: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    stopped: list[Stopped] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    stuck: list[Stuck] = field(default_factory=list)
    installers: list[InstallerLine] = field(default_factory=list)
    per_job: Spread = field(default_factory=Spread)
    per_part: dict[str, Spread] = field(default_factory=dict)
    stations: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    other_flags: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing happened and nothing waits."""
        return not self.installers

    @property
    def live(self) -> bool:
        """The period includes the report's moment (else states are as at its end)."""
        return self.as_of >= self.now


class Summaries:
    """Summaries and exports over the reports' queries: the store, the job records (plans of
    answers) and the settings (time zone, limits), nothing more."""

    def __init__(self, store: Store, records: Records, settings: Settings) -> None:
        self.procedure = records.procedure
        self.reports = Reports(store, self.procedure.key("model"))
        self.records = records
        self.catalog = records.catalog
        self.settings = settings

    async def compute(self, period: Period, now: datetime) -> Summary:
        """The summary of `period`, as of `now` (or of the period's end, when that is earlier).

        Counts are of events inside the period (jobs started, submitted, verified, rejected,
        cancelled, stopped); waiting and stuck jobs are those at the report's moment; durations
        are of the jobs first submitted in the period (creation to first submission).

        Python's cyclic garbage collector waits meanwhile: a month is some 100,000 objects
        made at once and none of them in a cycle, which it would otherwise walk again and
        again (about a third of the month's time).
        """
        with _collector_paused():
            return await self._compute(period, now)

    async def _compute(self, period: Period, now: datetime) -> Summary:
        settings, procedure = self.settings, self.procedure
        as_of = min(now, period.end)
        data = await summary_data(self.reports, period.start, period.end, as_of)
        summary = Summary(period, as_of, now,
                          timedelta(minutes=settings.stuck_after_minutes), procedure.parts)
        late_after = timedelta(minutes=settings.support_wait_minutes)
        start, end = period.start, period.end

        def inside(moment: datetime | None) -> bool:
            return moment is not None and start <= moment < end

        people: dict[int, InstallerLine] = {}
        job_samples: list[tuple[timedelta, int]] = []
        part_samples: dict[str, list[tuple[timedelta, int]]] = defaultdict(list)
        stations: Counter[tuple[str, str]] = Counter()
        models: dict[str, tuple[str, str]] = {}
        failures: dict[tuple[int, str], Failure] = {}
        other_flags: dict[str, set[int]] = defaultdict(set)
        stuck: list[JobFacts] = []

        submit = procedure.with_role("submit")
        final = submit.part if submit else procedure.parts[-1]
        for job in data.jobs:
            if job.created_at > as_of:
                continue
            submitted_inside = job.submitted_inside
            active = (
                inside(job.created_at) or inside(job.closed_at) or job.touched
                or submitted_inside or job.decided_inside
            )
            last = job.last_activity
            activity = last if last is not None and last > job.created_at else job.created_at
            state, since = _state_at(job, activity, as_of)
            if state == "in_progress" and as_of - since >= summary.stuck_after:
                state = "stuck"
            if not active and state not in ("waiting", "stuck", "to_fix"):
                continue
            person = people.get(job.installer_id)
            if person is None:
                person = people[job.installer_id] = InstallerLine(job.installer_id,
                                                                  job.installer_name)
            person.states[state] += 1
            name = job.installer_name
            if state == "waiting":
                waited = as_of - since
                summary.waiting.append(Waiting(job.id, name, since, waited, waited >= late_after))
            elif state == "stuck":
                stuck.append(job)
                summary.stuck.append(Stuck(job.id, name, as_of - since, None))
            if inside(job.created_at):
                person.started += 1
                summary.started += 1
            if submitted_inside:
                person.submitted += 1
                summary.submitted += 1
            if (job.verified_inside if job.handoffs else job.status == "verified"
                    and inside(job.closed_at or job.updated_at)):
                person.verified += 1
                summary.verified += 1
            for r in data.rejections.get(job.id, ()):
                by = data.names.get(r.decided_by) if r.decided_by else None
                summary.rejections.append(
                    Rejection(job.id, name, r.reason, r.redo_part, by, r.decided_at))
                person.rejected += 1
            if job.status == "cancelled" and inside(job.closed_at):
                person.cancelled += 1
                summary.cancelled += 1
            if job.status == "stopped" and inside(job.closed_at):
                person.stopped += 1
                summary.stopped.append(Stopped(job.id, name, job.stop_reason))
            first = job.first_submission
            if first is not None and start <= first < end:
                job_samples.append((first - job.created_at, job.id))
                for part, took in _part_times(procedure.parts, final, job.created_at,
                                              job.part_ends, first):
                    part_samples[part].append((took, job.id))
            if not active:
                continue
            if job.model is not None:
                station = models.get(job.model)
                if station is None:
                    value = json.loads(job.model)
                    model = self.catalog.model(value)
                    station = models[job.model] = ((model.manufacturer, model.name) if model
                                                   else ("?", str(value)))
                stations[station] += 1
            if job.id in data.flags or job.id in data.flagged:
                _collect_flags(job, data, failures, other_flags)

        asked = {job.id: where for job in stuck if (where := self._asked(job, as_of))}
        answers = await self.reports.answers_of(j.id for j in stuck if j.id not in asked)
        summary.stuck = [Stuck(s.job, s.installer, s.idle, asked.get(job.id) or self._where(
            job, answers.get(job.id, {}), as_of)) for s, job in zip(summary.stuck, stuck,
                                                                    strict=True)]
        summary.installers = sorted(
            people.values(), key=lambda p: (-sum(p.states.values()), p.name.lower(), p.user_id))
        summary.waiting.sort(key=lambda w: (-w.waited, w.job))
        summary.stuck.sort(key=lambda s: (-s.idle, s.job))
        summary.rejections.sort(key=lambda r: (r.at, r.job))
        summary.per_job = Spread.of(job_samples)
        summary.per_part = {p: Spread.of(part_samples[p]) for p in procedure.parts
                            if part_samples.get(p)}
        by_maker: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for (maker, model_name), count in sorted(stations.items(), key=lambda i: (-i[1], i[0])):
            by_maker[maker].append((model_name, count))
        summary.stations = sorted(by_maker.items(),
                                  key=lambda i: (-sum(c for _, c in i[1]), i[0].lower()))
        summary.failures = sorted(failures.values(), key=lambda f: (f.job, f.kind))
        summary.other_flags = {k: len(v) for k, v in sorted(other_flags.items())}
        return summary

    async def export_csv(self, period: Period, out: TextIO, texts: Texts | None = None) -> int:
        """Write the CSV of the jobs created in the period to `out`, row by row (headers in
        the language of `texts`, else the columns' ids); how many jobs there are."""
        start, end = period.start, period.end
        present = await self.reports.answer_steps(start, end)
        return await write_jobs_csv(out, self.reports.created(start, end), present,
                                    self.procedure, self.catalog, self.settings.tz, texts)

    def _asked(self, job: JobFacts, as_of: datetime) -> Where | None:
        """Where an open job unchanged since `as_of` waits, as the engine last asked it
        (`jobs.asked`: the engine re-sends a question it owes at start-up, so this is the
        job's current one); None when that says nothing and the plan must tell."""
        if job.status != "open" or job.updated_at > as_of:
            return None
        return asked_where(self.procedure, job.asked)

    def _where(self, job: JobFacts, answers: dict[str, Answer], as_of: datetime) -> Where | None:
        """The question the job waited on at `as_of`: its current one when the job has not
        changed since, else the first unanswered one of the answers given by then."""
        if job.updated_at <= as_of:
            _, slot = questions(self.records, answers, job.cursor)
        else:
            known = {k: a for k, a in answers.items() if a.answered_at <= as_of}
            _, slot = questions(self.records, known)
        return Where.of(slot) if slot else None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside (reference counting still frees)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _state_at(job: JobFacts, activity: datetime, as_of: datetime) -> tuple[str, datetime]:
    """The job's state at `as_of` and since when (for open jobs: its last activity, the
    latest of its creation and the installer's audit entries up to `as_of`).

    Rebuilt from the hand-offs and the audit trail, so a past day's report shows what was
    waiting or stuck at that day's end, not what is waiting now.
    """
    if job.status in ("cancelled", "stopped") and job.closed_at and job.closed_at <= as_of:
        return job.status, job.closed_at
    if job.handed_at is not None:  # the latest hand-off up to `as_of`
        decided = job.decided_at
        if job.decision is None or decided is None or decided > as_of:
            return "waiting", job.handed_at
        if job.decision == "verified":
            return "verified", decided
        if activity <= decided:
            return "to_fix", decided
        return "in_progress", activity
    if job.submitted_by is not None:
        # Submitted, but no hand-off recorded: trust the job's status if it has not
        # changed since.
        if job.updated_at <= as_of:
            current = {"verified": "verified", "rejected": "to_fix",
                       "open": "in_progress"}.get(job.status, "waiting")
            if current == "in_progress":
                return current, activity
            if current != "waiting":
                return current, job.updated_at
            assert job.last_submission is not None
            return current, datetime.fromisoformat(job.last_submission)
        return "waiting", datetime.fromisoformat(job.submitted_by)
    return "in_progress", activity


def _part_times(parts: Iterable[str], final: str, created: datetime, part_ends: str | None,
                submitted: datetime) -> list[tuple[str, timedelta]]:
    """Time per part up to the first submission: from the previous part's last answer (or
    the job's start, `created`) to the part's own last answer (`part_ends`: JSON, each part's
    last answer up to the first submission; `final`: the part submitting ends)."""
    ends = json.loads(part_ends) if part_ends else {}
    times = []
    previous = created
    for part in parts:
        end = ends.get(part)
        if part == final:
            finished = submitted if end is None else max(datetime.fromisoformat(end), submitted)
        elif end is None:
            continue
        else:
            finished = datetime.fromisoformat(end)
        if finished < previous:
            finished = previous
        times.append((part, finished - previous))
        previous = finished
    return times


def _collect_flags(job: JobFacts, data: SummaryData, failures: dict[tuple[int, str], Failure],
                   other: dict[str, set[int]]) -> None:
    """Firmware and checklist failures raised in the period and still standing (a corrected
    answer clears its flag, and leaves no failure behind); other flags are counted by kind,
    from the audit trail too."""
    raised = list(data.flags.get(job.id, ()))
    raised += [(str(kind), step, {}) for kind, step in data.flagged.get(job.id, ())
               if kind not in FAILURE_KINDS]
    for kind, step, detail in raised:
        if kind not in FAILURE_KINDS:
            other[kind].add(job.id)
            continue
        found = failures.get((job.id, kind)) or Failure(job.id, job.installer_name, kind)
        item = detail.get("item") or (step.split(".", 1)[1] if step and "." in step else None)
        items = found.items + ((item,) if item and item not in found.items else ())
        failures[(job.id, kind)] = Failure(
            job.id, job.installer_name, kind, items,
            found.version or detail.get("version"), found.minimum or detail.get("minimum"))
