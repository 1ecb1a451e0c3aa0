"""The station's address: candidates near the GPS fix, or a typed search (see
`bot.engine.addresses`)."""

from __future__ import annotations

from typing import Any

from bot.engine.buttons import Action, PickAddress, Say
from bot.engine.interaction import Input, Outcome, Reply
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Step
from bot.engine.records import Records


class AddressKind(Kind):
    """An address: a geocoder's candidate, or the typed text kept as unverified."""

    name = "address"

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The candidates on offer."""
        return await desk.addresses.offer(view, slot)

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        """A typed address: search it."""
        if inp.text is None:
            return None
        return await desk.addresses.search(view, inp.text)

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """A candidate, retry, or the typed text."""
        if not isinstance(action, Say | PickAddress):
            return Outcome(alert=desk.records.t("job.stale_button"))
        return await desk.addresses.press(view, slot, action, user_id, message_id)

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """The label, marked when unverified."""
        label = str(value.get("label", "")) if isinstance(value, dict) else str(value)
        verified = not isinstance(value, dict) or value.get("verified", True)
        return label if verified else f"{label} ({records.t(f'step.{step.id}.unverified')})"
