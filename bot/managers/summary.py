"""Managers' summaries: what the installers did over a period of local days.

`compute` reads the database (through `bot.managers.reports`) for a `Period` in the managers' time
zone and returns a `Summary`; `render_text` turns it into one short Telegram-HTML message
for a phone, `chart_png` into a picture, and `jobs_csv` exports the jobs themselves.
Nothing here knows Telegram: `handlers/managers.py` sends what this module makes.

Also a command-line tool for operators (settings from the environment and `.env`):

    python -m bot.managers.summary                        today's summary, as plain text
    python -m bot.managers.summary --date 2026-03-14      that day's (waiting/stuck at its end)
    python -m bot.managers.summary --week                 the last seven days, today included
    python -m bot.managers.summary --csv [--date D | --from D --to D]    the jobs, as CSV
    python -m bot.managers.summary --chart summary.png    also write the chart
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import io
import json
import re
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.engine.engine import Engine
from bot.engine.plan import shorten
from bot.engine.procedure import Procedure
from bot.managers.reports import Event, HandoffRow, JobRow, ReportData, Reports
from bot.store import Answer
from bot.texts import Texts

TEXT_LIMIT = 4096  # Telegram's limit for one message, in UTF-16 code units
CAPTION_LIMIT = 1024
LIST_MAX = 8  # lines per list in the message; the rest is counted
INSTALLERS_MAX = 12
CHART_INSTALLERS_MAX = 20  # bars in the chart
FAILURE_KINDS = ("firmware_too_old", "checklist_failed")
ANSWER_ACTIONS = ("answer", "safety_confirmed")
# A job's state at the report's moment, in the chart's order.
STATES = ("verified", "waiting", "to_fix", "in_progress", "stuck", "cancelled", "stopped")
MAX_EXPORT_DAYS = 366
Inside = Callable[[datetime | None], bool]


# Periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The local days `first` to `last` (inclusive) in the managers' time zone."""

    first: date
    last: date
    tz: ZoneInfo

    @classmethod
    def day(cls, day: date, tz: ZoneInfo) -> Period:
        """One local day."""
        return cls(day, day, tz)

    @classmethod
    def week(cls, last: date, tz: ZoneInfo) -> Period:
        """Seven local days ending with `last`."""
        return cls(last - timedelta(days=6), last, tz)

    @property
    def start(self) -> datetime:
        """Local midnight starting the first day, in UTC."""
        return datetime.combine(self.first, time(), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day, in UTC (exclusive). A day with a daylight
        saving change is 23 or 25 hours long."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz).astimezone(UTC)

    @property
    def label(self) -> str:
        """`Tue 14 Mar 2026`, or `8–14 Mar 2026` for several days."""
        a, b = self.first, self.last
        if a == b:
            return f"{a:%a} {a.day} {a:%b %Y}"
        if (a.year, a.month) == (b.year, b.month):
            return f"{a.day}–{b.day} {b:%b %Y}"
        if a.year == b.year:
            return f"{a.day} {a:%b} – {b.day} {b:%b %Y}"
        return f"{a.day} {a:%b %Y} – {b.day} {b:%b %Y}"


def today_in(tz: ZoneInfo, now: datetime) -> date:
    """The local date at `now`."""
    return now.astimezone(tz).date()


def parse_period(args: Sequence[str], today: date, tz: ZoneInfo) -> Period | None:
    """`[]`/`today`, `yesterday`, `week` or `YYYY-MM-DD` (not in the future); else None."""
    if len(args) > 1:
        return None
    word = args[0].lower() if args else "today"
    if word == "today":
        return Period.day(today, tz)
    if word == "yesterday":
        return Period.day(today - timedelta(days=1), tz)
    if word == "week":
        return Period.week(today, tz)
    day = parse_date(word)
    return Period.day(day, tz) if day is not None and day <= today else None


def parse_range(args: Sequence[str], today: date, tz: ZoneInfo) -> Period | None:
    """`FROM TO` (or one date, or `week`) for an export: at most a year; else None."""
    if len(args) == 1 and args[0].lower() == "week":
        return Period.week(today, tz)
    if not 1 <= len(args) <= 2:
        return None
    days = [parse_date(a) for a in args]
    if any(d is None for d in days):
        return None
    first, last = days[0], days[-1]
    assert first is not None and last is not None
    if first > last:
        first, last = last, first
    if (last - first).days >= MAX_EXPORT_DAYS:
        return None
    return Period(first, last, tz)


def parse_date(text: str) -> date | None:
    """A `YYYY-MM-DD` date, or None."""
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


# The summary --------------------------------------------------------------------------


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
        items = sorted(samples, key=lambda s: (s[0], -s[1]))
        if not items:
            return cls()
        median = statistics.median(d.total_seconds() for d, _ in items)
        return cls(len(items), timedelta(seconds=median), items[-1][0], items[-1][1])


@dataclass(frozen=True)
class Where:
    """Where a job waits: its part, the step (or checklist item) and the step's id."""

    part: str
    key: str
    step: str
    item: str | None = None


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

    network: str
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


async def compute(engine: Engine, period: Period, now: datetime) -> Summary:
    """The summary of `period`, as of `now` (or of the period's end, when that is earlier).

    Counts are of events inside the period (jobs started, submitted, verified, rejected,
    cancelled, stopped); waiting and stuck jobs are those at the report's moment; durations
    are of the jobs first submitted in the period (creation to first submission).
    """
    settings = engine.settings
    procedure = engine.procedure
    data = await Reports(engine.store).load(period.start, period.end)
    as_of = min(now, period.end)
    summary = Summary(settings.network_name, period, as_of, now,
                      timedelta(minutes=settings.stuck_after_minutes), procedure.parts)
    late_after = timedelta(minutes=settings.support_wait_minutes)
    start, end = period.start, period.end

    def inside(moment: datetime | None) -> bool:
        return moment is not None and start <= moment < end

    people: dict[int, InstallerLine] = {}
    job_samples: list[tuple[timedelta, int]] = []
    part_samples: dict[str, list[tuple[timedelta, int]]] = defaultdict(list)
    stations: Counter[tuple[str, str]] = Counter()
    failures: dict[tuple[int, str], Failure] = {}
    other_flags: dict[str, set[int]] = defaultdict(set)

    for job in data.jobs.values():
        if job.created_at > as_of:
            continue
        handoffs = data.handoffs.get(job.id, [])
        events = data.events.get(job.id, [])
        submissions = _submissions(job, handoffs, events)
        active = (
            inside(job.created_at) or inside(job.closed_at)
            or any(inside(e.at) for e in events) or any(inside(t) for t in submissions)
            or any(inside(h.decided_at) for h in handoffs)
        )
        state, since = _state_at(job, handoffs, events, submissions, as_of)
        if state == "in_progress" and as_of - since >= summary.stuck_after:
            state = "stuck"
        if not active and state not in ("waiting", "stuck", "to_fix"):
            continue
        person = people.setdefault(job.installer_id,
                                   InstallerLine(job.installer_id, job.installer_name))
        person.states[state] += 1
        name = job.installer_name
        if state == "waiting":
            waited = as_of - since
            summary.waiting.append(Waiting(job.id, name, since, waited, waited >= late_after))
        elif state == "stuck":
            where = await _where(engine, job, data.answers.get(job.id, {}), as_of)
            summary.stuck.append(Stuck(job.id, name, as_of - since, where))
        if inside(job.created_at):
            person.started += 1
            summary.started += 1
        if any(inside(t) for t in submissions):
            person.submitted += 1
            summary.submitted += 1
        if _verified_inside(job, handoffs, inside):
            person.verified += 1
            summary.verified += 1
        for h in handoffs:
            if h.decision == "rejected" and inside(h.decided_at):
                assert h.decided_at is not None
                by = data.names.get(h.decided_by) if h.decided_by else None
                summary.rejections.append(
                    Rejection(job.id, name, h.reason, h.redo_part, by, h.decided_at))
                person.rejected += 1
        if job.status == "cancelled" and inside(job.closed_at):
            person.cancelled += 1
            summary.cancelled += 1
        if job.status == "stopped" and inside(job.closed_at):
            person.stopped += 1
            summary.stopped.append(Stopped(job.id, name, job.stop_reason))
        if submissions and inside(submissions[0]):
            job_samples.append((submissions[0] - job.created_at, job.id))
            for part, took in _part_times(procedure, job, events, submissions[0]).items():
                part_samples[part].append((took, job.id))
        if not active:
            continue
        model_answer = data.answers.get(job.id, {}).get("model")
        if model_answer is not None:
            model = engine.catalog.model(model_answer.value)
            key = (model.manufacturer, model.name) if model else ("?", str(model_answer.value))
            stations[key] += 1
        _collect_flags(job, data, events, inside, failures, other_flags)

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


def _submissions(job: JobRow, handoffs: list[HandoffRow], events: list[Event]) -> list[datetime]:
    """Every known submission time of the job, oldest first (audit, hand-offs, the job)."""
    times = {e.at for e in events if e.action == "submitted"}
    times.update(h.created_at for h in handoffs)
    if job.submitted_at is not None:
        times.add(job.submitted_at)
    return sorted(times)


def _state_at(
    job: JobRow, handoffs: list[HandoffRow], events: list[Event], submissions: list[datetime],
    as_of: datetime,
) -> tuple[str, datetime]:
    """The job's state at `as_of` and since when (for open jobs: its last activity).

    Rebuilt from the hand-offs and the audit trail, so a past day's report shows what was
    waiting or stuck at that day's end, not what is waiting now.
    """
    if job.status in ("cancelled", "stopped") and job.closed_at and job.closed_at <= as_of:
        return job.status, job.closed_at
    activity = [job.created_at, *(e.at for e in events
                                  if e.at <= as_of and e.actor_id == job.installer_id)]
    so_far = [h for h in handoffs if h.created_at <= as_of]
    if so_far:
        last = so_far[-1]
        if last.decision is None or last.decided_at is None or last.decided_at > as_of:
            return "waiting", last.created_at
        if last.decision == "verified":
            return "verified", last.decided_at
        acted = [t for t in activity if t > last.decided_at]
        if not acted:
            return "to_fix", last.decided_at
        return "in_progress", max(acted)
    if [t for t in submissions if t <= as_of]:
        # Submitted, but no hand-off recorded: trust the job's status if it has not
        # changed since.
        if job.updated_at <= as_of:
            current = {"verified": "verified", "rejected": "to_fix",
                       "open": "in_progress"}.get(job.status, "waiting")
            if current == "in_progress":
                return current, max(activity)
            return current, job.updated_at if current != "waiting" else submissions[-1]
        return "waiting", max(t for t in submissions if t <= as_of)
    return "in_progress", max(activity)


def _verified_inside(job: JobRow, handoffs: list[HandoffRow], inside: Inside) -> bool:
    if handoffs:
        return any(h.decision == "verified" and inside(h.decided_at) for h in handoffs)
    return job.status == "verified" and inside(job.closed_at or job.updated_at)


async def _where(engine: Engine, job: JobRow, answers: dict[str, Answer],
                 as_of: datetime) -> Where | None:
    """The question the job waited on at `as_of`: the engine's view when the job has not
    changed since, else the plan of the answers given by then."""
    if job.updated_at <= as_of:
        stored = await engine.store.job(job.id)
        if stored is None:
            return None
        slot = (await engine.view(stored)).current
    else:
        known = {k: a for k, a in answers.items() if a.answered_at <= as_of}
        model = engine.catalog.model(known["model"].value) if "model" in known else None
        slot = next((s for s in engine.plan(known, model) if s.key not in known), None)
    if slot is None:
        return None
    return Where(slot.step.part, slot.key, slot.step.id, slot.item.id if slot.item else None)


def _part_times(procedure: Procedure, job: JobRow, events: list[Event],
                submitted: datetime) -> dict[str, timedelta]:
    """Time per part up to the first submission: from the previous part's last answer (or
    the job's start) to the part's own last answer."""
    last: dict[str, datetime] = {}
    for e in events:
        if e.at > submitted or e.action not in ANSWER_ACTIONS:
            continue
        step = str(e.detail.get("step", "")).split(".")[0]
        if procedure.has(step):
            part = procedure.step(step).part
            last[part] = max(last.get(part, e.at), e.at)
    final = procedure.step("submit").part if procedure.has("submit") else procedure.parts[-1]
    last[final] = max(last.get(final, submitted), submitted)
    times: dict[str, timedelta] = {}
    previous = job.created_at
    for part in procedure.parts:
        if part in last:
            finished = max(last[part], previous)
            times[part] = finished - previous
            previous = finished
    return times


def _collect_flags(
    job: JobRow, data: ReportData, events: list[Event], inside: Inside,
    failures: dict[tuple[int, str], Failure], other: dict[str, set[int]],
) -> None:
    """Firmware and checklist failures raised in the period (from the flags, and from the
    audit trail for the ones cleared since, e.g. firmware updated on site); other flags
    are counted by kind."""
    raised: list[tuple[str, str | None, dict[str, Any]]] = [
        (f.kind, f.step, f.detail) for f in data.flags.get(job.id, []) if inside(f.at)]
    raised += [(str(e.detail.get("kind")), e.detail.get("step"), {}) for e in events
               if e.action == "flag" and inside(e.at)]
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


# Rendering ----------------------------------------------------------------------------


def duration_text(span: timedelta | None) -> str:
    """`<1 min`, `25 min`, `2 h`, `1 h 05 min`, `3 d 4 h`."""
    if span is None:
        return "—"
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class Renderer:
    """Texts of the `summary_report` section, with the names of parts, steps and flags."""

    def __init__(self, texts: Texts, network: str) -> None:
        self.texts = texts
        self.network = network

    def t(self, key: str, **values: Any) -> str:
        """A `summary_report.<key>` text."""
        return self.texts.get(f"summary_report.{key}", network=self.network, **values)

    def part(self, part: str | None) -> str:
        """A part's name."""
        if not part:
            return "—"
        return self.texts.get(f"part.{part}") if self.texts.has(f"part.{part}") else part

    def step(self, where: Where) -> str:
        """A step's (or checklist item's) short name."""
        if where.item and self.texts.has(f"checklist.{where.item}"):
            return self.t("checklist_item", item=shorten(self.texts.get(
                f"checklist.{where.item}"), 32))
        for key in (f"summary_report.step.{where.step}", f"label.{where.step}"):
            if self.texts.has(key):
                return self.texts.get(key)
        return where.step.replace("_", " ")

    def flag(self, kind: str | None) -> str:
        """A flag's (or stop reason's) description."""
        if not kind:
            return "—"
        return self.texts.get(f"flag.{kind}") if self.texts.has(f"flag.{kind}") else kind

    def reason(self, reason: str | None) -> str:
        """A rejection reason: a reason id's text, or the free text support typed."""
        if not reason:
            return self.t("no_reason")
        key = f"support.reason.{reason}"
        return html.unescape(self.texts.get(key)) if self.texts.has(key) else shorten(reason, 80)

    def state(self, state: str) -> str:
        """A state's name in the chart's legend."""
        return self.t(f"state.{state}")


def render_text(summary: Summary, texts: Texts, limit: int = TEXT_LIMIT) -> str:
    """The summary as one Telegram-HTML message, at most `limit` long; an empty period is
    one line."""
    r = Renderer(texts, summary.network)
    tz = summary.period.tz
    label = summary.period.label
    if summary.empty:
        return r.t("empty", period=label)
    moment = (r.t("as_of", time=summary.as_of.astimezone(tz).strftime("%H:%M"), tz=tz.key)
              if summary.live else r.t("end_of_day", tz=tz.key))
    lines = [r.t("title", period=label), moment,
             r.t("totals", started=summary.started, submitted=summary.submitted,
                 verified=summary.verified, rejected=len(summary.rejections))]
    if summary.cancelled or summary.stopped:
        lines.append(r.t("closed", cancelled=summary.cancelled, stopped=len(summary.stopped)))

    def section(head: str, body: list[str], cap: int = LIST_MAX) -> None:
        lines.append("")
        lines.append(head)
        lines.extend(body[:cap])
        if len(body) > cap:
            lines.append(r.t("more", count=len(body) - cap))

    if summary.waiting:
        section(r.t("waiting", count=len(summary.waiting),
                    longest=duration_text(summary.waiting[0].waited)),
                [r.t("waiting_line", job=w.job, installer=w.installer,
                     wait=duration_text(w.waited), late=r.t("late") if w.late else "")
                 for w in summary.waiting])
    if summary.stuck:
        section(r.t("stuck", count=len(summary.stuck),
                    limit=duration_text(summary.stuck_after)),
                [r.t("stuck_line", job=s.job, installer=s.installer,
                     part=r.part(s.where.part if s.where else None),
                     step=r.step(s.where) if s.where else "—", idle=duration_text(s.idle))
                 for s in summary.stuck])
    if summary.rejections:
        section(r.t("rejected", count=len(summary.rejections)),
                [r.t("rejected_line", job=x.job, installer=x.installer,
                     reason=r.reason(x.reason),
                     redo=r.t("redo", part=r.part(x.redo_part)) if x.redo_part else "")
                 for x in summary.rejections])
    if summary.stopped:
        section(r.t("stopped", count=len(summary.stopped)),
                [r.t("stopped_line", job=s.job, installer=s.installer, reason=r.flag(s.reason))
                 for s in summary.stopped])
    section(r.t("installers"), [_installer_line(r, p) for p in summary.installers],
            INSTALLERS_MAX)
    if summary.per_job.count:
        spread = summary.per_job
        section(r.t("durations", count=spread.count, median=duration_text(spread.median),
                    longest=duration_text(spread.longest), job=spread.longest_job),
                [r.t("part_line", part=r.part(p), median=duration_text(s.median),
                     longest=duration_text(s.longest)) for p, s in summary.per_part.items()])
    if summary.stations:
        section(r.t("stations"),
                [r.t("station_line", manufacturer=maker, models=", ".join(
                    r.texts.get("summary_report.model_count", model=m, count=c)
                    for m, c in models)) for maker, models in summary.stations])
    if summary.failures or summary.other_flags:
        body = [_failure_line(r, f) for f in summary.failures]
        if summary.other_flags:
            body.append(r.t("other_flags", flags=", ".join(
                f"{r.flag(k)} {n}" for k, n in summary.other_flags.items())))
        section(r.t("failures"), body, LIST_MAX + 1)
    return _fit(lines, limit, r.t("truncated"))


def _installer_line(r: Renderer, p: InstallerLine) -> str:
    figures = [("started", p.started), ("submitted", p.submitted), ("verified", p.verified),
               ("rejected", p.rejected), ("waiting", p.states["waiting"]),
               ("stuck", p.states["stuck"]), ("to_fix", p.states["to_fix"]),
               ("in_progress", p.states["in_progress"]), ("cancelled", p.cancelled),
               ("stopped", p.stopped)]
    counts = " · ".join(r.texts.get(f"summary_report.count.{k}", n=n) for k, n in figures if n)
    return r.t("installer_line", name=p.name, counts=counts or "—")


def _failure_line(r: Renderer, f: Failure) -> str:
    if f.kind == "firmware_too_old" and f.version and f.minimum:
        return r.t("firmware_line", job=f.job, installer=f.installer, version=f.version,
                   minimum=f.minimum)
    if f.kind == "checklist_failed" and f.items:
        items = ", ".join(shorten(r.texts.get(f"checklist.{i}"), 48)
                          if r.texts.has(f"checklist.{i}") else i for i in f.items)
        return r.t("checklist_line", job=f.job, installer=f.installer, items=items)
    return r.t("flag_line", job=f.job, installer=f.installer, flag=r.flag(f.kind))


def _fit(lines: list[str], limit: int, note: str) -> str:
    """Join the lines; drop whole lines from the end (each is complete HTML) to fit."""
    text = "\n".join(lines)
    if utf16_len(text) <= limit:
        return text
    kept = list(lines)
    while kept and utf16_len("\n".join([*kept, note])) > limit:
        kept.pop()
    return "\n".join([*kept, note])


def to_plain(html_text: str) -> str:
    """Telegram-HTML as plain text (what a reader sees, for the command line)."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def caption(summary: Summary, texts: Texts) -> str:
    """The chart's caption (well under Telegram's 1024)."""
    return Renderer(texts, summary.network).t("chart_caption", period=summary.period.label)


def chart_png(summary: Summary, texts: Texts) -> bytes | None:
    """The summary's chart as PNG bytes (None for an empty period). CPU-bound: call it off
    the event loop."""
    if summary.empty:
        return None
    from bot.managers.charts import ChartData, draw  # matplotlib is imported only when drawing

    r = Renderer(texts, summary.network)
    people = list(summary.installers)
    if len(people) > CHART_INSTALLERS_MAX:  # the busiest, and the others as one bar
        rest = people[CHART_INSTALLERS_MAX - 1:]
        others = InstallerLine(0, html.unescape(r.t("chart_others", count=len(rest))))
        for person in rest:
            others.states.update(person.states)
        people = [*people[:CHART_INSTALLERS_MAX - 1], others]
    states = [(r.state(s), s, [p.states[s] for p in people]) for s in STATES]
    parts = list(summary.per_part)
    return draw(ChartData(
        title=html.unescape(r.t("chart_title", period=summary.period.label)),
        jobs_title=html.unescape(r.t("chart_jobs")),
        installers=[p.name for p in people],
        states=[(html.unescape(name), key, counts) for name, key, counts in states
                if any(counts)],
        parts_title=html.unescape(r.t("chart_parts")),
        parts=[html.unescape(r.part(p)) for p in parts],
        median_min=[_minutes(summary.per_part[p].median) for p in parts],
        longest_min=[_minutes(summary.per_part[p].longest) for p in parts],
        median_label=html.unescape(r.t("chart_median")),
        longest_label=html.unescape(r.t("chart_longest")),
        minutes_label=html.unescape(r.t("chart_minutes")),
    ))


def _minutes(span: timedelta | None) -> float:
    return span.total_seconds() / 60 if span else 0.0


# The export ---------------------------------------------------------------------------

BASE_COLUMNS = (
    "job", "visit", "installer_user_id", "installer", "installer_username",
    "installer_account", "chat_id", "status", "stop_reason", "reopened_part", "cursor",
    "pending_step", "prompt_message_id", "created_at", "updated_at", "submitted_at",
    "closed_at", "reminded_at", "created_local", "submitted_local", "closed_local",
    "manufacturer", "model_name",
)
HANDOFF_COLUMNS = (
    "flags", "handoffs", "first_handed_off_at", "decision", "decided_at", "decided_by",
    "reason", "redo_part",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def answer_columns(procedure: Procedure, catalog: Catalog,
                   answers: Iterable[dict[str, Answer]]) -> list[str]:
    """The answer columns: every step in procedure order (checklist items in catalog order,
    answers to steps no longer declared at the end); secret steps are left out."""
    present = {key for job in answers for key in job}
    secret = {s.id for s in procedure.steps if s.secret}
    columns: list[str] = []
    for step in procedure.steps:
        if step.secret:
            continue
        if step.kind == "checklist":
            items = [f"{step.id}.{i}" for i in catalog.checklist_items]
            columns += [c for c in items if c in present]
            columns += sorted(k for k in present if k.startswith(f"{step.id}.")
                              and k not in items)
        else:
            columns.append(step.id)
    known = set(columns)
    columns += sorted(k for k in present if k not in known and k.split(".")[0] not in secret
                      and not any(k.startswith(f"{s.id}.") for s in procedure.steps
                                  if s.kind == "checklist"))
    return columns


def cell(value: Any) -> str:
    """A value as a CSV cell: text as is, numbers and booleans plainly, the rest as JSON.
    Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def jobs_csv(data: ReportData, procedure: Procedure, catalog: Catalog, tz: ZoneInfo) -> str:
    """One row per job: its columns (times in UTC, and the main ones also local to `tz`),
    installer, model, answers (not the activation password, nor the `pending` answer
    awaiting a confirmation — only its step), flags and the latest hand-off."""
    columns = answer_columns(procedure, catalog, data.answers.values())
    extra = sorted({k for job in data.jobs.values() for k in job.extra})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*BASE_COLUMNS, *extra, *columns, *HANDOFF_COLUMNS])

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else None

    for job in data.jobs.values():
        answers = data.answers.get(job.id, {})
        model_answer = answers.get("model")
        model = catalog.model(model_answer.value) if model_answer else None
        handoffs = data.handoffs.get(job.id, [])
        last = handoffs[-1] if handoffs else None
        flags = "; ".join(f"{f.kind}@{f.step}" if f.step else f.kind
                          for f in data.flags.get(job.id, []))
        row = [
            job.id, job.visit_id, job.installer_id, job.installer_name, job.installer_username,
            job.installer_account, job.chat_id, job.status, job.stop_reason, job.reopened_part,
            job.cursor, job.pending_step, job.prompt_message_id, job.created_at,
            job.updated_at, job.submitted_at, job.closed_at, job.reminded_at,
            local(job.created_at), local(job.submitted_at), local(job.closed_at),
            model.manufacturer if model else None, model.name if model else None,
            *(job.extra.get(k) for k in extra),
            *(answers[c].value if c in answers else None for c in columns),
            flags, len(handoffs), handoffs[0].created_at if handoffs else None,
            last.decision if last else None, last.decided_at if last else None,
            data.names.get(last.decided_by, last.decided_by) if last and last.decided_by
            else None,
            last.reason if last else None, last.redo_part if last else None,
        ]
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


async def export_csv(engine: Engine, period: Period) -> tuple[str, int]:
    """The CSV of the jobs created in the period, and how many there are."""
    data = await Reports(engine.store).load(period.start, period.end, created_only=True)
    return (jobs_csv(data, engine.procedure, engine.catalog, engine.settings.tz),
            len(data.jobs))


def export_name(period: Period) -> str:
    """The export's file name."""
    return f"pinpoint-jobs-{period.first.isoformat()}-{period.last.isoformat()}.csv"


# Command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.managers.summary",
        description="Print the managers' summary (or the jobs as CSV) from the database.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--date", type=date.fromisoformat, help="a local day, YYYY-MM-DD")
    when.add_argument("--week", action="store_true", help="the last seven days")
    when.add_argument("--from", dest="first", type=date.fromisoformat,
                      help="CSV: the first local day (with --to)")
    parser.add_argument("--to", dest="last", type=date.fromisoformat,
                        help="CSV: the last local day")
    parser.add_argument("--csv", action="store_true", help="the jobs as CSV instead")
    parser.add_argument("--chart", metavar="PNG", help="also write the chart to this file")
    return parser


async def open_engine(settings: Settings) -> Engine:
    """An engine over the configured database and data files (no Telegram, no roles)."""
    from bot.engine.validators import VALIDATORS
    from bot.services import PROCEDURE_PATH, TEXTS_DIR
    from bot.store import Store

    procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS)
    catalog = Catalog.load(settings.catalog_path, settings.checklists_path)
    texts = Texts(TEXTS_DIR, settings.language)
    store = await Store.open(settings.database_path)
    return Engine(store, procedure, catalog, texts, settings)


async def amain(
    argv: Sequence[str] | None = None, *, settings: Settings | None = None,
    out: IO[str] | None = None, err: IO[str] | None = None, now: datetime | None = None,
) -> int:
    """The command line, awaitable (tests pass settings, streams and the time)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(list(argv or []))
    except SystemExit as exc:
        return int(exc.code or 0)
    if (args.first is None) != (args.last is None) or (args.first and not args.csv):
        print("--from and --to go together, with --csv", file=err)
        return 2
    if settings is None:
        from bot.config import load_settings

        settings = load_settings()
    if not settings.database_path.exists():
        print(f"no database at {settings.database_path} (set DATABASE_PATH)", file=err)
        return 2
    tz = settings.tz
    now = now or datetime.now(UTC)
    today = today_in(tz, now)
    if args.first is not None:
        period = parse_range([args.first.isoformat(), args.last.isoformat()], today, tz)
        if period is None:
            print(f"at most {MAX_EXPORT_DAYS} days", file=err)
            return 2
    elif args.week:
        period = Period.week(today, tz)
    else:
        period = Period.day(args.date or today, tz)
    engine = await open_engine(settings)
    try:
        if args.csv:
            text, _ = await export_csv(engine, period)
            out.write(text)
            return 0
        summary = await compute(engine, period, now)
        print(to_plain(render_text(summary, engine.texts)), file=out)
        if args.chart:
            png = await asyncio.to_thread(chart_png, summary, engine.texts)
            if png is None:
                print("nothing to draw: the period is empty", file=err)
            else:
                with open(args.chart, "wb") as file:
                    file.write(png)
        return 0
    finally:
        await engine.store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.managers.summary [--date YYYY-MM-DD | --week] [--csv] [--chart PNG]`."""
    return asyncio.run(amain(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
