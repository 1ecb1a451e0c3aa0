"""Job-level actions: start, resume, status, the list of jobs, back, cancel, stop, fix."""

from __future__ import annotations

from bot.engine import buttons
from bot.engine.buttons import JobAction, Verb
from bot.engine.interaction import Button, LocationInput, Outcome, Reply
from bot.engine.kinds.model import UNSUPPORTED
from bot.engine.plan import cursor_with
from bot.engine.recording import Recorder
from bot.engine.records import Records
from bot.store import CANCELLED, OPEN, REJECTED, STOPPED, Job
from bot.texts import Safe

LIVE_ROLES = ("gps", "pin")  # the roles whose answers a live location keeps moving


def _data(job_id: int, verb: Verb, reason: str | None = None) -> str:
    return buttons.encode(JobAction(job_id, verb, reason))


class JobActions:
    """What an installer does with a job as a whole."""

    def __init__(self, records: Records, recorder: Recorder) -> None:
        self.records = records
        self.recorder = recorder
        self.store = records.store
        self.t = records.t

    async def start_job(self, user_id: int, chat_id: int, visit_id: int | None = None) -> Outcome:
        """Open a new job (in the given site visit) and ask its first question."""
        existing = await self.store.open_job(user_id)
        if existing is not None:
            view = await self.records.view(existing)
            button = Button(self.t("job.continue", job=existing.id),
                            _data(existing.id, Verb.CONTINUE))
            p = view.progress
            text = self.t("job.open_exists", job=existing.id, part=self.t(f"part.{p.part}"),
                          index=p.index, total=p.total)
            return Outcome([Reply(text, [[button]])], job_id=existing.id)
        job = await self.store.create_job(user_id, chat_id, visit_id)
        return await self.recorder.next(job.id, [Reply(self.t("job.created", job=job.id))])

    async def resume(self, user_id: int) -> Outcome:
        """Ask the open job's current question again (after /start or a restart)."""
        job = await self.store.open_job(user_id)
        if job is None:
            return Outcome([Reply(self.t("job.none"))])
        return await self.recorder.next(job.id, [Reply(self.t("job.resumed", job=job.id))])

    async def status(self, user_id: int) -> Outcome:
        """Where the open job stands, and the installer's recent jobs."""
        tz = self.records.settings.tz
        replies = []
        view = await self.records.open_view(user_id)
        if view is not None and view.current is not None:
            replies.append(Reply(self.t(
                "job.status", job=view.job.id, state=self.t("state.open"),
                progress=Safe(self.records.header(view)),
                started=self.records.texts.when(view.job.created_at.astimezone(tz)),
            )))
        recent = [j for j in await self.store.jobs_of(user_id, 10) if j.status != OPEN]
        if recent:
            lines = [self.t("job.status_recent")]
            for job in recent:
                when = self.records.texts.when((job.submitted_at or job.updated_at).astimezone(tz))
                lines.append(self.t("job.status_line", job=job.id,
                                    state=self.t(f"state.{job.status}"), when=when))
            replies.append(Reply("\n".join(lines)))
        if not replies:
            replies.append(Reply(self.t("job.none")))
        return Outcome(replies, job_id=view.job.id if view else None)

    async def jobs(self, user_id: int) -> Outcome:
        """The installer's recent jobs with their states; rejected ones offer a fix."""
        tz = self.records.settings.tz
        jobs = await self.store.jobs_of(user_id, 10)
        if not jobs:
            return Outcome([Reply(self.t("job.none"))])
        lines, rows = [self.t("job.status_recent")], []
        for job in jobs:
            when = self.records.texts.when((job.submitted_at or job.updated_at).astimezone(tz))
            lines.append(self.t("job.status_line", job=job.id,
                                state=self.t(f"state.{job.status}"), when=when))
            if job.status == REJECTED:
                rows.append([Button(self.t("support.fix_now", job=job.id),
                                    _data(job.id, Verb.FIX))])
        return Outcome([Reply("\n".join(lines), rows)])

    async def back(self, user_id: int) -> Outcome:
        """Go one question back (a pending confirmation is dropped first)."""
        view = await self.records.open_view(user_id)
        if view is None or view.current is None:
            return Outcome([Reply(self.t("job.none"))])
        job = view.job
        if job.pending:
            await self.store.update_job(job.id, pending=None)
        else:
            position = view.slots.index(view.current)
            if position == 0:
                return Outcome([Reply(self.t("job.no_back"))], job_id=job.id)
            target = view.slots[position - 1]
            await self.store.update_job(job.id, cursor=cursor_with(job.cursor, target.key))
            await self.store.audit(user_id, job.id, "back", {"to": target.key})
        outcome = await self.recorder.next(job.id, [])
        outcome.retire = self.recorder.retire(job, "↩")
        return outcome

    async def cancel(self, user_id: int) -> Outcome:
        """Ask to confirm cancelling the open job."""
        job = await self.store.open_job(user_id)
        if job is None:
            return Outcome([Reply(self.t("job.none"))])
        rows = [[Button(self.t("job.cancel_yes", job=job.id), _data(job.id, Verb.CANCEL))],
                [Button(self.t("job.cancel_no"), _data(job.id, Verb.KEEP))]]
        return Outcome([Reply(self.t("job.cancel_confirm", job=job.id), rows)], job_id=job.id)

    async def live_update(self, user_id: int, loc: LocationInput) -> Outcome:
        """A live location moved: its latest point replaces the answer it gave (silently)."""
        view = await self.records.open_view(user_id)
        if view is None:
            return Outcome()
        for role in LIVE_ROLES:
            key = self.records.procedure.key(role)
            answer = view.answers.get(key) if key else None
            if answer is not None and isinstance(answer.value, dict) and answer.value.get("live"):
                value = {**answer.value, "lat": loc.lat, "lon": loc.lon,
                         "accuracy": loc.accuracy if loc.accuracy is not None
                         else answer.value.get("accuracy")}
                await self.store.save_answer(view.job.id, answer.step, value, answer.source)
        return Outcome()

    async def press(self, job: Job, action: JobAction, user_id: int,
                    message_id: int | None) -> Outcome:
        """A job-level button."""
        mark = lambda label: self.recorder.mark(message_id, label)  # noqa: E731
        stale = Outcome(alert=self.t("job.stale_button"))
        verb, reason = action.verb, action.reason
        if verb is Verb.FIX:
            return await self._fix(job, user_id, message_id)
        if verb is Verb.CONTINUE:
            if job.status != OPEN:
                return stale
            outcome = await self.recorder.next(job.id, [])
            outcome.retire = mark(self.t("job.continue", job=job.id))
            return outcome
        if verb in (Verb.NEXT_STATION, Verb.DONE):
            if job.status == OPEN:
                return stale
            if verb is Verb.DONE:
                return Outcome([Reply(self.t("job.done_ack"))],
                               retire=mark(self.t("job.done_for_now")))
            outcome = await self.start_job(user_id, job.chat_id, job.visit_id)
            outcome.retire = mark(self.t("job.next_same_site"))
            return outcome
        if job.status != OPEN:
            return stale
        if verb is Verb.KEEP:
            return Outcome([Reply(self.t("job.cancel_kept", job=job.id))],
                           retire=mark(self.t("job.cancel_no")))
        if verb in (Verb.STOP, Verb.STOP_YES) and not await self._stop_holds(job, reason):
            return stale
        if verb is Verb.CANCEL:
            await self._close(job, CANCELLED, None, user_id)
            return Outcome([Reply(self.t("job.cancelled", job=job.id), keyboard="remove")],
                           retire=mark(self.t("job.cancel_yes", job=job.id)), job_id=job.id)
        if verb is Verb.STOP and reason:
            rows = [[Button(self.t("job.stop_yes", job=job.id),
                            _data(job.id, Verb.STOP_YES, reason))],
                    [Button(self.t("job.cancel_no"), _data(job.id, Verb.KEEP))]]
            texts = self.records.texts
            label = self.t(f"flag.{reason}") if texts.has(f"flag.{reason}") else reason
            return Outcome([Reply(self.t("job.stop_confirm", job=job.id, reason=label), rows)],
                           job_id=job.id)
        if verb is Verb.STOP_YES and reason:
            await self._close(job, STOPPED, reason, user_id)
            await self.recorder.flag(job.id, reason, None, {}, user_id)
            return Outcome([Reply(self.t("job.stopped", job=job.id), keyboard="remove")],
                           retire=mark(self.t("job.stop_yes", job=job.id)), job_id=job.id,
                           events=[("stopped", job.id)])
        return stale

    async def _fix(self, job: Job, user_id: int, message_id: int | None) -> Outcome:
        """Reopen a rejected job at exactly the part support named."""
        if job.status != REJECTED or not job.reopened_part:
            return Outcome(alert=self.t("job.stale_button"))
        other = await self.store.open_job(user_id)
        if other is not None:
            return Outcome([Reply(self.t("support.fix_other_open", job=other.id))])
        view = await self.records.view(job)
        fixes = self.records.fixes
        redo = fixes.keys(view.slots, job.reopened_part)  # kept: each is offered as "Keep"
        submit = self.records.procedure.key("submit")
        async with self.store.transaction():  # one update, one commit
            if submit:
                await self.store.clear_answers(job.id, [submit])
            await self.store.update_job(job.id, status=OPEN, pending=None,
                                        cursor=",".join(redo) or None)
            await self.store.audit(user_id, job.id, "reopened",
                                   {"part": job.reopened_part, "questions": redo})
        part = fixes.label(job.reopened_part, self.t)
        outcome = await self.recorder.next(job.id, [Reply(self.t("support.fix_started",
                                                                 job=job.id, part=part))])
        outcome.retire = self.recorder.mark(message_id, self.t("support.fix_now", job=job.id))
        return outcome

    async def _stop_holds(self, job: Job, reason: str | None) -> bool:
        """Whether a stop button still stands for the job's state: its question is the
        current one and the problem it was offered for is still there (a corrected answer
        clears the flag), so an old button never stops a job that has moved on."""
        view = await self.records.view(job)
        slot = view.current
        if not reason or slot is None or view.job.pending:
            return False
        if reason == UNSUPPORTED:
            return slot.step.role == "model"
        if reason == slot.key:  # a block without a flag
            return True
        return any(f.kind == reason and f.step == slot.key
                   for f in await self.store.flags(job.id))

    async def _close(self, job: Job, status: str, reason: str | None, user_id: int) -> None:
        async with self.store.transaction():
            await self.store.update_job(job.id, status=status, stop_reason=reason,
                                        closed_at=self.store.now(), pending=None, cursor=None)
            await self.store.audit(user_id, job.id, status, {"reason": reason})
