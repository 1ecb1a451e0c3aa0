"""Scheduled work on PTB's JobQueue: the managers' daily summary, the reminder sweep and the
purge of secrets no longer needed.

All are registered at every start (`schedule_jobs`, from `post_init`); what they must
remember across restarts lives in the database (`jobs.reminded_at`, the audit trail, the
`leases` table), not in the queue. The daily time is local to the managers: `run_daily` gets
an aware `time`.

Several instances may run these jobs on one database: each run first claims the job's lease
(`once`), so one instance runs it and another takes over once the holder stops renewing it.
The daily summary records the last day it was sent; at start and every minute
(`SUMMARY_CHECK`) a summary missed while every instance was down is sent — the latest missed
day's only, once (at least once: an instance dying mid-send leaves it to the next).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta

from telegram.error import TelegramError
from telegram.ext import Application

from bot.config import Settings
from bot.managers.periods import Period, today_in
from bot.managers.render import chart_png, render_text
from bot.support.retention import purge_secrets
from handlers.context import PinpointContext
from handlers.managers import send_summary
from handlers.render import send

log = logging.getLogger(__name__)
DAILY_SUMMARY = "daily-summary"
REMINDERS = "idle-reminders"
REMINDER_SWEEP_S = 60.0
PURGE = "secrets-purge"
PURGE_SWEEP_S = 300.0
SUMMARY_CHECK = "summary-check"
SUMMARY_CHECK_S = 60.0
SUMMARY_CHECK_FIRST_S = 1.0  # soon after start (PTB reads `first=0` as "no first")
SUMMARY_LEASE_S = 300.0  # longer than one summary's sending
Job = Callable[[PinpointContext], Awaitable[None]]


def once(name: str, lease_s: float) -> Callable[[Job], Job]:
    """A job run by one instance at a time: each run claims (or renews) the lease `name` for
    `lease_s` and is skipped while another instance holds it."""

    def wrap(job: Job) -> Job:
        @functools.wraps(job)
        async def run(context: PinpointContext) -> None:
            if await context.services.store.claim_lease(name, lease_s):
                await job(context)
            else:
                log.debug("%s: another instance runs it", name)
        return run
    return wrap


def summary_time(settings: Settings) -> time:
    """SUMMARY_TIME in TIMEZONE, as an aware time for `run_daily`."""
    return settings.summary_time.replace(tzinfo=settings.tz)


def schedule_jobs(app: Application, settings: Settings | None = None,
                  reminder_sweep_s: float = REMINDER_SWEEP_S) -> None:
    """(Re-)register the daily summary and the reminder sweep; call it in `post_init`,
    after the services exist. Calling it again replaces the jobs, never doubles them."""
    queue = app.job_queue
    if queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): no daily "
                    "summary, no reminders")
        return
    settings = settings or app.bot_data["services"].settings
    for name in (DAILY_SUMMARY, SUMMARY_CHECK, REMINDERS, PURGE):
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
    queue.run_daily(daily_summary, time=summary_time(settings), name=DAILY_SUMMARY)
    queue.run_repeating(missed_summary, interval=SUMMARY_CHECK_S, first=SUMMARY_CHECK_FIRST_S,
                        name=SUMMARY_CHECK)
    if settings.reminder_after_minutes > 0:
        queue.run_repeating(once(REMINDERS, 2.5 * reminder_sweep_s)(remind_idle_jobs),
                            interval=reminder_sweep_s, first=reminder_sweep_s, name=REMINDERS)
    queue.run_repeating(once(PURGE, 2.5 * PURGE_SWEEP_S)(purge), interval=PURGE_SWEEP_S,
                        first=PURGE_SWEEP_S, name=PURGE)


def due_day(settings: Settings, now: datetime) -> date:
    """The latest day whose summary time has passed."""
    local = now.astimezone(settings.tz)
    today = local.date()
    at = datetime.combine(today, settings.summary_time, settings.tz)
    return today if local >= at else today - timedelta(days=1)


async def daily_summary(context: PinpointContext) -> None:
    """The scheduled run (at SUMMARY_TIME): today's summary, unless sent already."""
    today = today_in(context.services.settings.tz, context.services.store.clock())
    await send_summary_once(context, today)


async def missed_summary(context: PinpointContext) -> None:
    """At start and every minute: the summary of the latest day whose summary time passed,
    if it was not sent (every instance was down); nothing before the first summary ever."""
    services = context.services
    if await services.store.mark(DAILY_SUMMARY) is None:
        return
    await send_summary_once(context, due_day(services.settings, services.store.clock()))


async def send_summary_once(context: PinpointContext, day: date) -> bool:
    """Send `day`'s summary unless it (or a later day's) was sent; one instance at a time.
    Whether it was sent now."""
    store = context.services.store
    if not await store.claim_lease(DAILY_SUMMARY, SUMMARY_LEASE_S):
        return False
    last = await store.mark(DAILY_SUMMARY)
    if last is not None and last >= day.isoformat():
        return False
    await send_daily_summary(context, day)
    await store.set_mark(DAILY_SUMMARY, day.isoformat())
    return True


async def purge(context: PinpointContext) -> None:
    """Mask and drop the secrets no longer needed (see `bot.support.retention`)."""
    services = context.services
    await purge_secrets(services.store, services.settings, services.procedure)


async def send_daily_summary(context: PinpointContext, day: date) -> None:
    """`day`'s summary (today's: so far) to every manager chat: one text and one chart each,
    in the chat's language (each language drawn once)."""
    services = context.services
    settings = services.settings
    if not settings.manager_chat_ids:
        log.info("daily summary: MANAGER_CHAT_IDS is empty, nothing sent")
        return
    now = services.store.clock()
    period = Period.day(day, settings.tz)
    summary = await services.summaries.compute(period, now)
    drawn: dict[str, tuple[str, bytes | None]] = {}
    sent = []
    for chat_id in settings.manager_chat_ids:
        language = await services.languages.of_chat(chat_id)
        with services.texts.speaking(language):
            if language not in drawn:
                png = None if summary.empty else await asyncio.to_thread(
                    chart_png, summary, services.texts)
                drawn[language] = (render_text(summary, services.texts), png)
            text, png = drawn[language]
            try:
                await send_summary(context, chat_id, summary, text, png)
                sent.append(chat_id)
            except TelegramError as exc:
                log.warning("could not send the daily summary to chat %s: %s", chat_id, exc)
    await services.store.audit(None, None, "summary_sent",
                               {"date": period.first.isoformat(), "chats": sent})


async def remind_idle_jobs(context: PinpointContext) -> None:
    """Remind installers of jobs idle for REMINDER_AFTER_MINUTES, once per idle period."""
    services = context.services
    for reminder in await services.reminders.due(services.store.clock()):
        try:
            await send(context, reminder.chat_id, reminder.reply)
        except TelegramError as exc:
            log.warning("could not remind job %s's installer: %s", reminder.job_id, exc)
