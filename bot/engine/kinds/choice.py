"""Choices: a step's options as buttons; a checklist item: Yes / No."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.engine import buttons
from bot.engine.buttons import Action, Choose
from bot.engine.catalog import Catalog, Model
from bot.engine.interaction import Button, Outcome, Reply
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Option, Step
from bot.engine.records import Records

CHECKLIST_OPTIONS = (Option("yes"), Option("no"))


def option_rows(desk: Desk, view: JobView, slot: Slot,
                options: tuple[Option, ...]) -> list[list[Button]]:
    """One button per option: side by side when two, else one per row."""
    data = lambda option: buttons.encode(Choose(view.job.id, slot.key, option))  # noqa: E731
    row = [Button(desk.records.option_label(slot.step, o.id), data(o.id)) for o in options]
    return [row] if len(row) <= 2 else [[b] for b in row]


class ChoiceKind(Kind):
    """One of the step's declared options; an option may flag, block, or go back."""

    name = "choice"

    def problems(self, step: Step, validators: Mapping[str, Callable[..., Any]]) -> list[str]:
        """A choice needs options."""
        return [*super().problems(step, validators),
                *([] if step.options else ["a choice needs options"])]

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The prompt with the options."""
        reply = await super().question(desk, view, slot)
        reply.buttons = option_rows(desk, view, slot, slot.step.options)
        return reply

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """Record the chosen option (its flag), or stop at a block, or go back to its goto."""
        step, job, recorder = slot.step, view.job, desk.recorder
        option = step.option(action.option) if isinstance(action, Choose) else None
        if option is None:
            return Outcome(alert=desk.records.t("job.stale_button"))
        async with desk.records.store.transaction():  # one update, one commit
            if option.flag:
                await recorder.flag(job.id, option.flag, slot.key, {}, user_id)
            if option.block:
                return recorder.blocked(job, f"step.{step.id}.blocked", option.flag or step.id,
                                        {})
            if option.goto:
                await desk.records.store.audit(user_id, job.id, "answer",
                                               {"step": slot.key, "value": option.id})
                await recorder.clear(job, [option.goto])
            else:
                shown = await recorder.save(view, slot, option.id, "button", user_id,
                                            keep_flags=bool(option.flag))
        if option.goto:  # the next question is asked once the change is committed
            outcome = await recorder.next(job.id, [])
            outcome.retire = recorder.mark(message_id, desk.records.option_label(step, option.id))
            return outcome
        return await recorder.answered(view, slot, shown, message_id)

    def expects(self, step: Step, received: str) -> str:
        """Buttons."""
        return "choice"


class ChecklistKind(Kind):
    """One question per item of the model's checklist: Yes, or No (flagged; critical: blocks)."""

    name = "checklist"

    def slots(self, step: Step, catalog: Catalog, model: Model | None) -> list[Slot]:
        """One question per item of the model's checklist (none before the model is known)."""
        if model is None:
            return []
        return [Slot(f"{step.id}.{item.id}", step, item) for item in catalog.checklist_for(model)]

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The item with Yes / No."""
        reply = await super().question(desk, view, slot)
        reply.buttons = option_rows(desk, view, slot, slot.step.options or CHECKLIST_OPTIONS)
        return reply

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """Yes is kept; No is flagged, and stops the job at a critical item."""
        job, recorder, t = view.job, desk.recorder, desk.records.t
        answer = action.option if isinstance(action, Choose) else None
        if slot.item is None or answer not in ("yes", "no"):
            return Outcome(alert=t("job.stale_button"))
        if answer == "yes":
            return await recorder.accept(view, slot, answer, "button", user_id, message_id)
        item = t(f"checklist.{slot.item.id}")
        async with desk.records.store.transaction():  # one update, one commit
            await recorder.flag(job.id, "checklist_failed", slot.key, {"item": slot.item.id},
                                user_id)
            if slot.item.critical:
                return recorder.blocked(job, f"step.{slot.step.id}.blocked", "checklist_failed",
                                        {"item": item})
            shown = await recorder.save(view, slot, answer, "button", user_id, keep_flags=True)
        outcome = await recorder.answered(view, slot, shown, message_id)
        outcome.replies.insert(0, Reply(t(f"step.{slot.step.id}.flagged", item=item)))
        return outcome

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """Yes / No."""
        return records.option_label(step, value)

    def expects(self, step: Step, received: str) -> str:
        """Buttons."""
        return "choice"
