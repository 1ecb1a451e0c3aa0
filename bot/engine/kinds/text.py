"""Typed answers, checked by a named validator; a step with a `reader` takes a photo first
(and the sticker's also a code read live by the scanner Mini App, MINI_APP_URL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.engine import buttons
from bot.engine.buttons import Action, Say, Special
from bot.engine.caution import Caution
from bot.engine.codes import CONFIRM
from bot.engine.interaction import Button, Input, Outcome, Reply
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Step
from bot.engine.validators import VALIDATORS, Context, Invalid

READERS = ("sticker", "iccid", "serial")


class TextKind(Kind):
    """A typed answer (a MAC, a serial, a name, ...). With a `reader`, the question asks for a
    photo of the code first, with "Type it instead" (`step.<id>.typed`) as the fallback."""

    name = "text"

    def problems(self, step: Step, validators: Mapping[str, Callable[..., Any]]) -> list[str]:
        """A known validator; a reader, if any, of a known kind."""
        problems = []
        if step.validator not in validators:
            problems.append(f"unknown validator {step.validator!r}")
        if step.reader is not None and step.reader not in READERS:
            problems.append(f"reader {step.reader!r} needs a text step and one of {READERS}")
        return problems

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The prompt; for a step read from a photo, the photo first and a button to type
        (for the sticker with the scanner Mini App, its keyboard button too)."""
        if slot.step.reader is None:
            return await super().question(desk, view, slot)
        if not desk.codes.reads(slot):
            return Reply(self.typed(desk, view, slot))
        reply = await super().question(desk, view, slot)
        data = buttons.encode(Say(view.job.id, slot.key, Special.TYPE))
        reply.buttons = [[Button(desk.records.t("option.type_instead"), data)]]
        if desk.codes.scans(slot):
            reply.keyboard = "web_app"
            reply.keyboard_label = desk.records.t("scanner.button")
            reply.keyboard_url = desk.codes.scanner_url()
        return reply

    def typed(self, desk: Desk, view: JobView, slot: Slot) -> str:
        """The prompt for typing a code that a photo could give."""
        return desk.records.t(f"step.{slot.step.id}.typed", **self.values(desk, view, slot))

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """"Type it instead": the question becomes the typing prompt (its other buttons stay)."""
        if action != Say(view.job.id, slot.key, Special.TYPE) or slot.step.reader is None:
            return await super().press(desk, view, slot, action, user_id, message_id)
        asked = await desk.recorder.prompt(view)
        return Outcome(edit=self.typing(desk, view, slot, asked), job_id=view.job.id)

    def declined(self, desk: Desk, view: JobView, slot: Slot, caution: Caution,
                 outcome: Outcome) -> Outcome:
        """"Type it instead" on what a photo read: the question comes back as the typing
        prompt, not as a request for another photo."""
        asked = outcome.replies[-1] if outcome.replies else None
        if slot.step.reader is None or caution.no != CONFIRM["no"] or not (asked and asked.prompt):
            return outcome
        outcome.replies[-1] = self.typing(desk, view, slot, asked)
        return outcome

    def typing(self, desk: Desk, view: JobView, slot: Slot, asked: Reply) -> Reply:
        """The photo question `asked` turned into the typing prompt (its other buttons stay)."""
        text = f"{desk.records.header(view)}\n{self.typed(desk, view, slot)}"
        return Reply(text, asked.buttons[1:], prompt=True)

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        """Check and keep a typed answer (held when another job has the same MAC, ICCID or
        serial); read a photo's code when the step has a reader, and take the scanner's."""
        if inp.photo is not None and desk.codes.reads(slot):
            return await desk.codes.read(view, slot, inp.photo, user_id)
        if inp.scanned is not None and desk.codes.scans(slot):
            return await desk.codes.scanned(view, slot, inp.scanned, user_id)
        if inp.text is None:
            return None
        validator = VALIDATORS[slot.step.validator or "short_text"]
        roles = {s.role: view.value(s.id) for s in desk.records.procedure.steps if s.role}
        context = Context(view.model, roles)
        try:
            value = validator(inp.text, context)
        except Invalid as problem:
            return await desk.recorder.refuse(view, slot, problem, user_id)
        caution = await desk.checks.reused(view, slot, value)
        if caution:
            return await desk.recorder.hold(view, slot, value, "typed", caution, user_id)
        return await desk.recorder.accept(view, slot, value, "typed", user_id)
