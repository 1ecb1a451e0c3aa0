"""Scheduled work on PTB's JobQueue: the managers' daily summary, the reminder sweep and the
purge of secrets no longer needed.

All are registered at every start (`schedule_jobs`, from `post_init`); what they must
remember across restarts lives in SQLite (`jobs.reminded_at`, the audit trail), not in the
queue. The daily time is local to the managers: `run_daily` gets an aware `time`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import time

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
    for name in (DAILY_SUMMARY, REMINDERS, PURGE):
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
    queue.run_daily(daily_summary, time=summary_time(settings), name=DAILY_SUMMARY)
    if settings.reminder_after_minutes > 0:
        queue.run_repeating(remind_idle_jobs, interval=reminder_sweep_s,
                            first=reminder_sweep_s, name=REMINDERS)
    queue.run_repeating(purge, interval=PURGE_SWEEP_S, first=PURGE_SWEEP_S, name=PURGE)


async def purge(context: PinpointContext) -> None:
    """Mask and drop the secrets no longer needed (see `bot.support.retention`)."""
    services = context.services
    await purge_secrets(services.store, services.settings, services.procedure)


async def daily_summary(context: PinpointContext) -> None:
    """Today's summary (so far) to every manager chat: one text and one chart each."""
    services = context.services
    settings = services.settings
    if not settings.manager_chat_ids:
        log.info("daily summary: MANAGER_CHAT_IDS is empty, nothing sent")
        return
    now = services.store.clock()
    period = Period.day(today_in(settings.tz, now), settings.tz)
    summary = await services.summaries.compute(period, now)
    text = render_text(summary, services.texts)
    png = None if summary.empty else await asyncio.to_thread(chart_png, summary, services.texts)
    sent = []
    for chat_id in settings.manager_chat_ids:
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
