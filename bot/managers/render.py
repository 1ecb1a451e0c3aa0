"""The summary as the managers see it: one Telegram-HTML message for a phone, the chart
(drawn by `bot.managers.charts`) and its caption, and plain text for the command line."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from bot.engine.plan import shorten
from bot.managers.summary import Failure, InstallerLine, Summary
from bot.managers.where import Names
from bot.texts import Texts

TEXT_LIMIT = 4096  # Telegram's limit for one message, in UTF-16 code units
LIST_MAX = 8  # lines per list in the message; the rest is counted
INSTALLERS_MAX = 12
CHART_INSTALLERS_MAX = 20  # bars in the chart
# A job's state at the report's moment, in the chart's order.
STATES = ("verified", "waiting", "to_fix", "in_progress", "stuck", "cancelled", "stopped")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2



def render_text(summary: Summary, texts: Texts, limit: int = TEXT_LIMIT) -> str:
    """The summary as one Telegram-HTML message, at most `limit` long; an empty period is
    one line."""
    names = Names(texts)
    say, duration_text = names.report.get, texts.duration
    tz = summary.period.tz
    label = texts.period(summary.period.first, summary.period.last)
    if summary.empty:
        return say("empty", period=label)
    moment = (say("as_of", time=texts.when(summary.as_of.astimezone(tz), "time"), tz=tz.key)
              if summary.live else say("end_of_day", tz=tz.key))
    lines = [say("title", period=label), moment,
             say("totals", started=summary.started, submitted=summary.submitted,
                 verified=summary.verified, rejected=len(summary.rejections))]
    if summary.cancelled or summary.stopped:
        lines.append(say("closed", cancelled=summary.cancelled, stopped=len(summary.stopped)))

    def section(head: str, body: list[str], cap: int = LIST_MAX) -> None:
        lines.append("")
        lines.append(head)
        lines.extend(body[:cap])
        if len(body) > cap:
            lines.append(say("more", count=len(body) - cap))

    if summary.waiting:
        section(say("waiting", count=len(summary.waiting),
                    longest=duration_text(summary.waiting[0].waited)),
                [say("waiting_line", job=w.job, installer=w.installer,
                     wait=duration_text(w.waited), late=say("late") if w.late else "")
                 for w in summary.waiting])
    if summary.stuck:
        section(say("stuck", count=len(summary.stuck),
                    limit=duration_text(summary.stuck_after)),
                [say("stuck_line", job=s.job, installer=s.installer,
                     part=names.part(s.where.part if s.where else None),
                     step=names.step(s.where) if s.where else "—", idle=duration_text(s.idle))
                 for s in summary.stuck])
    if summary.rejections:
        section(say("rejected", count=len(summary.rejections)),
                [say("rejected_line", job=x.job, installer=x.installer,
                     reason=names.reason(x.reason),
                     redo=say("redo", part=names.part(x.redo_part)) if x.redo_part else "")
                 for x in summary.rejections])
    if summary.stopped:
        section(say("stopped", count=len(summary.stopped)),
                [say("stopped_line", job=s.job, installer=s.installer, reason=names.flag(s.reason))
                 for s in summary.stopped])
    section(say("installers"), [_installer_line(names, p) for p in summary.installers],
            INSTALLERS_MAX)
    if summary.per_job.count:
        spread = summary.per_job
        section(say("durations", count=spread.count, median=duration_text(spread.median),
                    longest=duration_text(spread.longest), job=spread.longest_job),
                [say("part_line", part=names.part(p), median=duration_text(s.median),
                     longest=duration_text(s.longest)) for p, s in summary.per_part.items()])
    if summary.stations:
        section(say("stations"),
                [say("station_line", manufacturer=maker, models=", ".join(
                    say("model_count", model=m, count=c)
                    for m, c in models)) for maker, models in summary.stations])
    if summary.failures or summary.other_flags:
        body = [_failure_line(names, f) for f in summary.failures]
        if summary.other_flags:
            body.append(say("other_flags", flags=", ".join(
                f"{names.flag(k)} {n}" for k, n in summary.other_flags.items())))
        section(say("failures"), body, LIST_MAX + 1)
    return _fit(lines, limit, say("truncated"))


def _installer_line(names: Names, p: InstallerLine) -> str:
    figures = [("started", p.started), ("submitted", p.submitted), ("verified", p.verified),
               ("rejected", p.rejected), ("waiting", p.states["waiting"]),
               ("stuck", p.states["stuck"]), ("to_fix", p.states["to_fix"]),
               ("in_progress", p.states["in_progress"]), ("cancelled", p.cancelled),
               ("stopped", p.stopped)]
    say = names.report.get
    counts = " · ".join(say(f"count.{k}", count=n) for k, n in figures if n)
    return say("installer_line", name=p.name, counts=counts or "—")


def _failure_line(names: Names, f: Failure) -> str:
    say = names.report.get
    if f.kind == "firmware_too_old" and f.version and f.minimum:
        return say("firmware_line", job=f.job, installer=f.installer, version=f.version,
                   minimum=f.minimum)
    if f.kind == "checklist_failed" and f.items:
        items = ", ".join(shorten(names.texts.get(f"checklist.{i}"), 48)
                          if names.texts.has(f"checklist.{i}") else i for i in f.items)
        return say("checklist_line", job=f.job, installer=f.installer, items=items)
    return say("flag_line", job=f.job, installer=f.installer, flag=names.flag(f.kind))


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
    period = texts.period(summary.period.first, summary.period.last)
    return texts.get("summary_report.chart_caption", period=period)


def chart_png(summary: Summary, texts: Texts) -> bytes | None:
    """The summary's chart as PNG bytes (None for an empty period). CPU-bound: call it off
    the event loop."""
    if summary.empty:
        return None
    from bot.managers.charts import ChartData, draw  # matplotlib is imported only when drawing

    names = Names(texts)
    say = names.report.get
    people = list(summary.installers)
    if len(people) > CHART_INSTALLERS_MAX:  # the busiest, and the others as one bar
        rest = people[CHART_INSTALLERS_MAX - 1:]
        others = InstallerLine(0, html.unescape(say("chart_others", count=len(rest))))
        for person in rest:
            others.states.update(person.states)
        people = [*people[:CHART_INSTALLERS_MAX - 1], others]
    states = [(names.state(s), s, [p.states[s] for p in people]) for s in STATES]
    parts = list(summary.per_part)
    return draw(ChartData(
        title=html.unescape(say("chart_title", period=texts.period(summary.period.first,
                                                                  summary.period.last))),
        jobs_title=html.unescape(say("chart_jobs")),
        installers=[p.name for p in people],
        states=[(html.unescape(name), key, counts) for name, key, counts in states
                if any(counts)],
        parts_title=html.unescape(say("chart_parts")),
        parts=[html.unescape(names.part(p)) for p in parts],
        median_min=[_minutes(summary.per_part[p].median) for p in parts],
        longest_min=[_minutes(summary.per_part[p].longest) for p in parts],
        median_label=html.unescape(say("chart_median")),
        longest_label=html.unescape(say("chart_longest")),
        minutes_label=html.unescape(say("chart_minutes")),
    ))


def _minutes(span: timedelta | None) -> float:
    return span.total_seconds() / 60 if span else 0.0

