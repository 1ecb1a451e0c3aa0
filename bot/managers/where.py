"""Where a job waits, and the names the managers' texts give parts, steps, flags and states.

The current question is worked out by the engine's `Records` (the plan of a job's answers,
no I/O), so the summary and the reminders need no engine.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.engine.plan import Slot, chosen_model, current_slot, shorten
from bot.engine.procedure import Procedure
from bot.engine.records import Records
from bot.store import Answer
from bot.texts import Texts


@dataclass(frozen=True)
class Where:
    """Where a job waits: its part, the step (or checklist item) and the step's id."""

    part: str
    key: str
    step: str
    item: str | None = None

    @classmethod
    def of(cls, slot: Slot) -> Where:
        """Where the question `slot` is."""
        return cls(slot.step.part, slot.key, slot.step.id, slot.item.id if slot.item else None)


def questions(records: Records, answers: dict[str, Answer],
              cursor: str | None = None) -> tuple[list[Slot], Slot | None]:
    """A job's plan and its current question (`bot.engine.plan.current_slot`: the first one
    revisited or without an answer; None when all are answered)."""
    model = chosen_model(records.procedure, records.catalog, answers)
    slots = records.plan(answers, model)
    return slots, current_slot(slots, answers, cursor)


def asked_where(procedure: Procedure, asked: str | None) -> Where | None:
    """Where the question the engine last sent is (`jobs.asked`: a slot's key, `step` or
    `step.item`, or "caution:<key>"); None when it names no declared step (never asked, a
    job from before questions were tracked, a step since removed)."""
    key = (asked or "").removeprefix("caution:")
    step_id, _, item = key.partition(".")
    if not procedure.has(step_id):
        return None
    step = procedure.step(step_id)
    if item and step.kind != "checklist":
        return None
    return Where(step.part, key, step.id, item or None)


class Names:
    """How the managers' texts name parts, steps, flags, rejection reasons and states."""

    def __init__(self, texts: Texts) -> None:
        self.texts = texts
        self.report = texts.under("summary_report")

    def part(self, part: str | None) -> str:
        """A part's name (or what a rejection asked to redo: parts and fixes, `a,b`)."""
        if not part:
            return "—"
        return ", ".join(next((self.texts.get(k) for k in (f"part.{p}", f"fix.{p}")
                               if self.texts.has(k)), p) for p in part.split(","))

    def step(self, where: Where) -> str:
        """A step's (or checklist item's) short name."""
        if where.item and self.texts.has(f"checklist.{where.item}"):
            return self.report.get("checklist_item", item=shorten(self.texts.get(
                f"checklist.{where.item}"), 32))
        for key in (f"summary_report.step.{where.step}", f"label.{where.step}"):
            if self.texts.has(key):
                return self.texts.get(key)
        return where.step.replace("_", " ")

    def flag(self, kind: str | None) -> str:
        """A flag's (or stop reason's) description."""
        if not kind:
            return "—"
        return self.texts.get(f"flag.{kind}") if self.texts.has(f"flag.{kind}") else kind

    def reason(self, reason: str | None) -> str:
        """A rejection reason: a reason id's text, or the free text support typed."""
        if not reason:
            return self.report.get("no_reason")
        key = f"support.reason.{reason}"
        return html.unescape(self.texts.get(key)) if self.texts.has(key) else shorten(reason, 80)

    def state(self, state: str) -> str:
        """A state's name in the chart's legend."""
        return self.report.get(f"state.{state}")
