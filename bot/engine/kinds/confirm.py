"""Confirmations (one button, e.g. a safety step) and the submission."""

from __future__ import annotations

from typing import Any

from bot.engine import buttons
from bot.engine.buttons import Action, Say, Special
from bot.engine.interaction import Button, Outcome, Reply
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Step
from bot.engine.records import Records
from bot.texts import Safe


class ConfirmKind(Kind):
    """A single button: done, checked, confirmed."""

    name = "confirm"
    keeps = False

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The prompt with its button."""
        reply = await super().question(desk, view, slot)
        data = buttons.encode(Say(view.job.id, slot.key, Special.OK))
        reply.buttons = [[Button(desk.records.confirm_label(slot.step), data)]]
        return reply

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """The button: confirmed."""
        if action != Say(view.job.id, slot.key, Special.OK):
            return await super().press(desk, view, slot, action, user_id, message_id)
        return await desk.recorder.accept(view, slot, True, "button", user_id, message_id)

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """The button's label."""
        return records.confirm_label(step)


class SubmitKind(ConfirmKind):
    """The record for a last look, and the button that hands it to support."""

    name = "submit"

    def values(self, desk: Desk, view: JobView, slot: Slot) -> dict[str, Any]:
        """The record so far, too."""
        return {**super().values(desk, view, slot),
                "summary": Safe(desk.records.summary_html(view))}

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """Submit."""
        if action != Say(view.job.id, slot.key, Special.OK):
            return Outcome(alert=desk.records.t("job.stale_button"))
        return await desk.recorder.submit(view, slot, user_id, message_id)
