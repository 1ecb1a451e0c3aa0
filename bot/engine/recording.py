"""Recording answers: store one (clearing what depended on an older one), hold one behind a
caution, settle the caution, refuse one, flag, submit; then ask the next question."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.engine import buttons, notices
from bot.engine.buttons import JobAction, Verb
from bot.engine.caution import SEND_AGAIN, Caution, Pending
from bot.engine.interaction import Button, Outcome, Reply
from bot.engine.plan import JobView, Slot, cursor_without, shorten
from bot.engine.records import Records
from bot.engine.validators import Invalid
from bot.store import SUBMITTED, Answer, Job
from bot.store.connection import parse_time

Prompter = Callable[[JobView], Awaitable[Reply]]
OnSubmit = Callable[[int], Awaitable[None]]


class Recorder:
    """Writes answers, flags and the audit trail; `prompt` asks the next question;
    `on_submit` records what a submission sets off (the hand-off), inside its transaction,
    which also queues the installer's confirmation (`bot.engine.notices`)."""

    def __init__(self, records: Records, prompt: Prompter,
                 on_submit: OnSubmit | None = None) -> None:
        self.records = records
        self.store = records.store
        self.procedure = records.procedure
        self.prompt = prompt
        self.on_submit = on_submit
        self._fresh: dict[int, JobView] = {}  # job id: its view as `save` left it, for `next`

    # Marks on answered questions ------------------------------------------------------

    def mark(self, message_id: int | None, label: str) -> tuple[int, str] | None:
        """Retire the pressed message, showing what was chosen."""
        if message_id is None:
            return None
        return (message_id, self.records.t("answered.mark", value=shorten(label, 60)))

    @staticmethod
    def retire(job: Job, mark: str) -> tuple[int, str] | None:
        """Retire the job's last question message with `mark`."""
        return (job.prompt_message_id, mark) if job.prompt_message_id else None

    # Flags and refusals ---------------------------------------------------------------

    async def flag(self, job_id: int, kind: str, step: str | None, detail: dict[str, Any],
                   user_id: int) -> None:
        """Record a flag, and in the audit trail (which keeps it even if the answer changes)."""
        await self.store.add_flag(job_id, kind, step, detail)
        await self.store.audit(user_id, job_id, "flag", {"kind": kind, "step": step, **detail})

    def blocked(self, job: Job, text_key: str, reason: str, values: dict[str, Any]) -> Outcome:
        """The step cannot be passed: say why and offer to stop the job."""
        t, texts = self.records.t, self.records.texts
        rows = [[Button(t("option.stop_job"), buttons.encode(JobAction(job.id, Verb.STOP,
                                                                         reason)))]]
        return Outcome([Reply(t(text_key, **values), rows)], job_id=job.id,
                       alert=t("flag." + reason) if texts.has("flag." + reason) else None)

    async def refuse(self, view: JobView, slot: Slot, problem: Invalid, user_id: int) -> Outcome:
        """An answer that failed its check: say why (flag it, offer to stop when blocking)."""
        job = view.job
        rows = []
        if problem.flag:
            await self.flag(job.id, problem.flag, slot.key, problem.values, user_id)
        if problem.block:
            stop = JobAction(job.id, Verb.STOP, problem.flag or slot.key)
            rows.append([Button(self.records.t("option.stop_job"), buttons.encode(stop))])
        return Outcome([Reply(self.records.t(problem.key, **problem.values), rows)],
                       job_id=job.id)

    # Storing ----------------------------------------------------------------------------

    def dependant_keys(self, keys: list[str], answers: dict[str, Any]) -> list[str]:
        """The stored keys that depend on these (their checklist items included)."""
        steps: list[str] = []
        for key in keys:
            base = key.split(".")[0]
            steps.extend([base, *self.procedure.dependants(base)])
        return [k for k in answers if k in steps or k.split(".")[0] in steps]

    async def clear(self, job: Job, keys: list[str]) -> None:
        """Clear these answers and what depends on them."""
        self._fresh.pop(job.id, None)
        answers = await self.store.answers(job.id)
        doomed = set(self.dependant_keys(keys, answers)) | set(keys)
        async with self.store.transaction():
            await self.store.clear_answers(job.id, sorted(doomed))
            await self.store.update_job(job.id, cursor=cursor_without(job.cursor, *doomed),
                                        pending=None)

    async def hold(self, view: JobView, slot: Slot, value: Any, source: str, caution: Caution,
                   user_id: int) -> Outcome:
        """Keep an answer aside until the installer confirms a caution about it."""
        pending = Pending(slot.key, value, source, caution)
        await self.store.update_job(view.job.id, pending=pending.to_json())
        await self.store.audit(user_id, view.job.id, "warning",
                               {"step": slot.key, "text": caution.text})
        view = await self.records.job_view(view.job.id)
        texts = self.records.texts
        mark = self.records.t(f"answered.{source}") if texts.has(f"answered.{source}") else "✓"
        return Outcome([await self.prompt(view)], job_id=view.job.id,
                       retire=self.retire(view.job, mark))

    async def settle(self, view: JobView, slot: Slot, accepted: bool, user_id: int,
                     message_id: int | None) -> Outcome:
        """The installer's answer to a caution: keep the held answer, or drop it."""
        pending = Pending.from_json(view.job.pending or {})
        caution, t = pending.caution, self.records.t
        if not accepted:
            acks: list[Reply] = []
            async with self.store.transaction():  # one update, one commit
                await self.store.update_job(view.job.id, pending=None)
                await self.store.audit(user_id, view.job.id, "warning_declined",
                                       {"step": slot.key})
                if caution.redo:
                    shown = await self.save(view, slot, pending.value, pending.source, user_id,
                                            keep_flags=False)
                    acks = self.acks(slot, shown)
                    await self.clear(view.job, [caution.redo])
            outcome = await self.next(view.job.id, acks)
            outcome.retire = self.mark(message_id, t(SEND_AGAIN))
            return outcome
        async with self.store.transaction():  # the flag, the answer and its extras at once
            if caution.flag:
                await self.store.add_flag(view.job.id, caution.flag, caution.redo or slot.key,
                                          caution.values)
                await self.store.audit(user_id, view.job.id, "warning_accepted",
                                       {"step": slot.key, "flag": caution.flag})
            extra = {step: (value, pending.source) for step, value in caution.extra.items()}
            shown = await self.save(view, slot, pending.value, pending.source, user_id,
                                    keep_flags=True, extra=extra)
        outcome = await self.next(view.job.id, self.acks(slot, shown))
        outcome.retire = self.mark(message_id, t(caution.yes))
        return outcome

    async def accept(self, view: JobView, slot: Slot, value: Any, source: str, user_id: int,
                     message_id: int | None = None, keep_flags: bool = False,
                     extra: Mapping[str, tuple[Any, str]] | None = None) -> Outcome:
        """Store an answer (clearing what depended on an older one) and ask the next;
        `extra` answers (key: value and source) are stored in the same transaction."""
        shown = await self.save(view, slot, value, source, user_id, keep_flags, extra)
        return await self.answered(view, slot, shown, message_id)

    async def answered(self, view: JobView, slot: Slot, shown: str,
                       message_id: int | None) -> Outcome:
        """After an answer is saved (`save`, committed): mark its question, ask the next.
        Never inside a transaction: the next question may look addresses up."""
        outcome = await self.next(view.job.id, self.acks(slot, shown))
        outcome.retire = (
            self.mark(message_id, shown) if message_id is not None
            else self.retire(view.job, self.records.t("answered.mark", value=shorten(shown)))
        )
        return outcome

    async def save(self, view: JobView, slot: Slot, value: Any, source: str, user_id: int,
                   keep_flags: bool, extra: Mapping[str, tuple[Any, str]] | None = None) -> str:
        """Write the answer (and `extra` answers), its audit entry, and clear what depended on
        an older answer: one transaction."""
        job = view.job
        previous = view.answers.get(slot.key)
        shown = self.records.describe(slot, Answer(slot.key, value, source, job.updated_at))
        own = not self.store.in_transaction()
        dependants: list[str] = []
        async with self.store.transaction():
            if previous is not None and previous.value != value:
                dependants = [k for k in self.dependant_keys([slot.key], view.answers)
                              if k != slot.key]
                await self.store.clear_answers(job.id, dependants)
            if not keep_flags:
                await self.store.clear_flags(job.id, slot.key)
            await self.store.save_answer(job.id, slot.key, value, source)
            for key, (other, how) in (extra or {}).items():
                await self.store.save_answer(job.id, key, other, how)
            action = "safety_confirmed" if slot.step.safety else "answer"
            await self.store.audit(user_id, job.id, action,
                                   {"step": slot.key, "value": shown, "source": source})
            answered = cursor_without(job.cursor, slot.key, *(extra or {}))
            await self.store.update_job(job.id, cursor=answered, pending=None)
        if own:  # committed by itself: the job as now stored, for the next question
            written = {slot.key: (value, source), **(extra or {})}
            self._fresh[job.id] = self._written(view, dependants, written, answered)
        return shown

    def _written(self, view: JobView, cleared: list[str],
                 written: Mapping[str, tuple[Any, str]], cursor: str | None) -> JobView:
        """The view after `save`, without reading back what it wrote."""
        at = parse_time(self.store.now())
        assert at is not None
        answers = {k: a for k, a in view.answers.items() if k not in cleared}
        for key, (value, source) in written.items():  # values as they read back
            answers[key] = Answer(key, json.loads(json.dumps(value)), source, at)
        job = dataclasses.replace(view.job, cursor=cursor, pending=None, updated_at=at)
        return self.records.build(job, answers)

    def acks(self, slot: Slot, shown: str) -> list[Reply]:
        """A note that takes the share-location (or scan) keyboard away once it is answered."""
        if slot.step.source == "gps" or (
                slot.step.reader == "sticker" and self.records.settings.mini_app_url):
            return [Reply(self.records.t("answered.mark", value=shown), keyboard="remove")]
        return []

    async def next(self, job_id: int, replies: list[Reply]) -> Outcome:
        """These replies, then the job's current question (the job as `save` just wrote it,
        else read)."""
        view = self._fresh.pop(job_id, None) or await self.records.job_view(job_id)
        return Outcome([*replies, await self.prompt(view)], job_id=job_id)

    async def submit(self, view: JobView, slot: Slot, user_id: int,
                     message_id: int | None) -> Outcome:
        """Hand the job in once every other question is answered."""
        job, t = view.job, self.records.t
        missing = [s.key for s in view.slots if s.key != slot.key and s.key not in view.answers]
        if missing:
            await self.store.update_job(job.id, cursor=None)
            return await self.next(job.id, [])
        rows = [[Button(t("job.next_same_site"),
                        buttons.encode(JobAction(job.id, Verb.NEXT_STATION)))],
                [Button(t("job.done_for_now"), buttons.encode(JobAction(job.id, Verb.DONE)))]]
        settings = self.records.settings
        notified = settings.support_chat_id is not None or settings.paging_webhooks
        told = [Reply(t("job.submitted" if notified else "job.submitted_unseen", job=job.id)),
                Reply(t("job.next_station"), rows)]
        now = self.store.now()
        async with self.store.transaction():
            await self.store.save_answer(job.id, slot.key, True, "button")
            await self.store.update_job(job.id, status=SUBMITTED, submitted_at=now, cursor=None,
                                        reopened_part=None)
            await self.store.audit(user_id, job.id, "submitted", {})
            await self.store.record_part_ends(  # once: the first submission's
                job.id, {s.id: s.part for s in self.records.procedure.steps})
            if self.on_submit is not None:  # the hand-off commits with the submission
                await self.on_submit(job.id)
            for index, reply in enumerate(told):  # and so does the installer's confirmation
                await notices.queue(self.store, job.chat_id, reply,
                                    f"submitted:{job.id}:{now}:{index}")
        return Outcome(job_id=job.id, events=[("submitted", job.id)],
                       retire=self.mark(message_id, t(f"step.{slot.step.id}.button")))
