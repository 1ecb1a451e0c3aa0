"""Reminders of idle jobs: one per idle period, with a button to continue where it stopped.

A job is idle when it is open and untouched for REMINDER_AFTER_MINUTES. The reminder is
claimed in SQLite (`jobs.reminded_at`) before it is sent, so each idle period gets exactly
one, across restarts and whatever the sweep's interval; the installer's next step starts a
new period. (Not PTB's `conversation_timeout`: it lives in memory and dies with a restart.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.engine import buttons
from bot.engine.buttons import JobAction, Verb
from bot.engine.interaction import Button, Reply
from bot.engine.records import Records
from bot.managers.reports import iso
from bot.managers.where import Names, Where, questions
from bot.store import Store
from bot.texts import Texts


@dataclass(frozen=True)
class Reminder:
    """A reminder to send to the installer's chat."""

    job_id: int
    chat_id: int
    reply: Reply


class Reminders:
    """Reminders of idle jobs, from the store, the job records and the texts."""

    def __init__(self, store: Store, records: Records, texts: Texts, settings: Settings) -> None:
        self.store = store
        self.records = records
        self.texts = texts
        self.settings = settings

    async def due(self, now: datetime) -> list[Reminder]:
        """Claim and compose the reminders due at `now` (none when the setting is 0)."""
        settings, store, t = self.settings, self.store, self.texts.get
        if settings.reminder_after_minutes <= 0:
            return []
        idle_since = now - timedelta(minutes=settings.reminder_after_minutes)
        names = Names(self.texts)
        due = []
        for job in await store.idle_jobs(iso(idle_since)):
            if "installer" not in await store.roles(job.installer_id):
                continue
            slots, slot = questions(self.records, await store.answers(job.id), job.cursor)
            if slot is None:
                continue
            async with store.transaction():
                if not await store.mark_reminded(job.id):
                    continue
                await store.audit(None, job.id, "reminded", {"step": slot.key})
            where = Where.of(slot)
            index = next(i for i, s in enumerate(slots, 1) if s.key == slot.key)
            local = job.updated_at.astimezone(settings.tz)
            installer = await store.user(job.installer_id)
            with self.texts.speaking(installer.language if installer else None):
                since = self.texts.when(local, "time" if local.date() == now.astimezone(
                    settings.tz).date() else "weekday_time")
                text = t("reminder.text", job=job.id, part=names.part(where.part),
                         index=index, total=len(slots), step=names.step(where), since=since)
                button = Button(t("job.continue", job=job.id),
                                buttons.encode(JobAction(job.id, Verb.CONTINUE)))
            due.append(Reminder(job.id, job.chat_id, Reply(text, [[button]])))
        return due
