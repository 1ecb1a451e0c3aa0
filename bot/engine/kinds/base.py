"""What a step kind is: its question, the input it takes, its buttons, its words.

A kind is one class (a subclass of `Kind`) registered in `bot.engine.kinds.KINDS`; the
procedure's `kind = "<name>"` picks it. The engine asks the kind, never tests `step.kind`.
Kinds act through a `Desk`: the engine's collaborators (records, recorder, checks, the
address steps, code reading).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.engine.addresses import AddressSteps
from bot.engine.buttons import Action
from bot.engine.catalog import Catalog, Model
from bot.engine.caution import Caution
from bot.engine.checks import Checks
from bot.engine.codes import CodeReading
from bot.engine.interaction import Input, Outcome, Reply
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Step
from bot.engine.recording import Recorder
from bot.engine.records import Records
from bot.engine.validators import mask_secret


@dataclass(frozen=True)
class Desk:
    """The engine's collaborators, as step kinds use them."""

    records: Records
    recorder: Recorder
    checks: Checks
    addresses: AddressSteps
    codes: CodeReading


class Kind:
    """A step kind. Subclasses set `name` and override what differs from a plain question."""

    name: ClassVar[str] = ""
    keeps: ClassVar[bool] = True  # offer "keep" for a stored answer after /back

    def problems(self, step: Step, validators: Mapping[str, Callable[..., Any]]) -> list[str]:
        """What is wrong with a step declared with this kind (empty when nothing)."""
        if step.reader is not None:
            return [f"reader {step.reader!r} needs a text step"]
        return []

    def slots(self, step: Step, catalog: Catalog, model: Model | None) -> list[Slot]:
        """The questions this step makes in a job's plan (one, unless overridden)."""
        return [Slot(step.id, step)]

    def values(self, desk: Desk, view: JobView, slot: Slot) -> dict[str, Any]:
        """What the step's prompt and help texts may name."""
        return desk.records.values(view, slot)

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The question's text (below the progress header) and the kind's own buttons."""
        values = self.values(desk, view, slot)
        return Reply(desk.records.t(f"step.{slot.step.id}.prompt", **values))

    def help(self, desk: Desk, view: JobView, slot: Slot) -> str:
        """What `/help` says about the step."""
        return desk.records.t(f"step.{slot.step.id}.help", **self.values(desk, view, slot))

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        """Answer the step with a message; None when this kind does not take that input."""
        return None

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """A button of the step's question (specials common to all kinds are handled before)."""
        return Outcome(alert=desk.records.t("job.stale_button"))

    def declined(self, desk: Desk, view: JobView, slot: Slot, caution: Caution,
                 outcome: Outcome) -> Outcome:
        """What follows a held answer the installer declined: by default the question again."""
        return outcome

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """A short, safe-to-show rendering of a stored value."""
        if isinstance(value, str) and step.option(value) is not None:
            return records.option_label(step, value)
        if step.secret:
            return mask_secret(str(value))
        return str(value)

    def expects(self, step: Step, received: str) -> str:
        """The `wrong_kind.<...>` text to send when `received` arrived instead."""
        return self.name
