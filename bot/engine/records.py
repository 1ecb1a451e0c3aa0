"""A job's record as people read it: loading a job's view, labels, answers described.

`Records` is what other parts (support, reminders) need of the engine: it loads a `JobView`
and renders answers safely (secrets masked), without walking the procedure.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Protocol

from bot.config import Settings
from bot.engine.catalog import Catalog, Model
from bot.engine.fixes import Fixes
from bot.engine.plan import JobView, Slot, applicable, chosen_model, current_slot, plan, shorten
from bot.engine.procedure import Procedure, Step
from bot.store import Answer, Job, Store
from bot.texts import Texts

PLANS_KEPT = 256  # plans kept (models x sets of applicable steps): a few dozen in practice


def visible(text: str) -> str:
    """The text without format characters (bidirectional overrides and isolates, zero-width
    spaces and joiners, byte-order marks: Unicode's category Cf), which could reorder or
    hide what support and managers read. Typed answers and people's names are kept so."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


class KindView(Protocol):
    """A step kind as `Records` needs it: its questions in a plan, and its words."""

    def slots(self, step: Step, catalog: Catalog, model: Model | None) -> list[Slot]:
        """The questions this step makes in a job's plan."""
        ...

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """A short, safe-to-show rendering of a stored value."""
        ...


class Records:
    """Job views and the words for their answers."""

    def __init__(self, store: Store, procedure: Procedure, catalog: Catalog, texts: Texts,
                 settings: Settings, kinds: Mapping[str, KindView]) -> None:
        self.store = store
        self.procedure = procedure
        self.catalog = catalog
        self.texts = texts
        self.settings = settings
        self.kinds = kinds
        self.fixes = Fixes(procedure)
        self._plans: dict[tuple[str | None, tuple[bool, ...]], tuple[Slot, ...]] = {}

    # Loading --------------------------------------------------------------------------

    def plan(self, answers: dict[str, Answer], model: Model | None) -> list[Slot]:
        """The applicable questions for these answers, in order.

        Worked out once per model and set of applicable steps (all a plan depends on, the
        procedure and catalog being fixed): an answer that changes neither reuses the plan.
        """
        holds = applicable(self.procedure, answers, model)
        key = (model.id if model else None, holds)
        slots = self._plans.get(key)
        if slots is None:
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
            slots = self._plans[key] = tuple(plan(
                self.procedure, answers, model,
                lambda step, model: self.kinds[step.kind].slots(step, self.catalog, model)))
        return list(slots)

    async def view(self, job: Job) -> JobView:
        """Load a job's answers and work out its plan and current question."""
        return self.build(job, await self.store.answers(job.id))

    def build(self, job: Job, answers: dict[str, Answer]) -> JobView:
        """A job's view from its answers (as stored): its plan and current question."""
        model = chosen_model(self.procedure, self.catalog, answers)
        slots = self.plan(answers, model)
        current = current_slot(slots, answers, job.cursor)
        return JobView(job, answers, model, slots, current, self.procedure)

    async def job(self, job_id: int) -> Job:
        """A job that exists."""
        job = await self.store.job(job_id)
        assert job is not None
        return job

    async def job_view(self, job_id: int) -> JobView:
        """Load the view of a job that exists."""
        view = await self.find_view(job_id)
        assert view is not None
        return view

    async def find_view(self, job_id: int) -> JobView | None:
        """The view of the job with this id (its row and answers read at once), or None."""
        found = await self.store.job_and_answers(job_id)
        return self.build(*found) if found else None

    async def open_view(self, user_id: int) -> JobView | None:
        """The installer's open job, loaded, or None."""
        found = await self.store.job_and_answers(open_of=user_id)
        return self.build(*found) if found else None

    async def previous_answer(self, job: Job, key: str) -> Answer | None:
        """The answer to `key` on the site visit's latest earlier station, or None."""
        for other in reversed(await self.store.visit_jobs(job.visit_id)):
            if other.id >= job.id:
                continue
            answer = (await self.store.answers(other.id)).get(key)
            if answer is not None and answer.value is not None:
                return answer
        return None

    @staticmethod
    def rest_of_group(view: JobView, slot: Slot) -> list[Slot]:
        """The unanswered questions after `slot` in its step's group."""
        after = view.slots[view.slots.index(slot) + 1:]
        return [s for s in after if s.step.group == slot.step.group and s.key not in view.answers]

    # Words ----------------------------------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        """A text with the network's name available to every template."""
        return self.texts.get(key, network=self.settings.network_name, **values)

    def option_label(self, step: Step, option: str) -> str:
        """A button's label: the step's own text, or the common one."""
        key = f"step.{step.id}.option.{option}"
        return self.t(key if self.texts.has(key) else f"option.{option}")

    def confirm_label(self, step: Step) -> str:
        """The label of a confirmation's button."""
        key = f"step.{step.id}.button"
        return self.t(key if self.texts.has(key) else "option.confirm")

    def describe(self, slot: Slot, answer: Answer | None) -> str:
        """A short, safe-to-show rendering of an answer (secrets masked)."""
        if answer is None:
            return self.t("summary.none")
        if answer.source == "skip" or answer.value is None:
            return self.t("answered.skipped")
        return self.kinds[slot.step.kind].describe(self, slot.step, answer.value)

    def summary_html(self, view: JobView, flags: list[str] | None = None) -> str:
        """The record as `label: value` lines (HTML-escaped, long values shortened)."""
        lines = []
        for slot in view.slots:
            key = f"label.{slot.key}"
            if not self.texts.has(key) or slot.key not in view.answers:
                continue
            value = shorten(self.describe(slot, view.answers[slot.key]), 120)
            lines.append(self.t("summary.line", label=self.t(key), value=value))
        if flags:
            lines.append(self.t("summary.line", label=self.t("label.flags"),
                                value=", ".join(flags)))
        return "\n".join(lines)

    def header(self, view: JobView) -> str:
        """`Part · step 3/9 · part 4/5 ▰▰▰▰▰▱▱▱` for the current question (see
        `bot.engine.plan.progress`: the count of a part does not change while in it)."""
        p = view.progress
        return self.t("header.progress", part=self.t(f"part.{p.part}"), index=p.index,
                      total=p.total, part_no=p.part_no, parts=p.parts, bar=p.bar)

    def values(self, view: JobView, slot: Slot) -> dict[str, Any]:
        """What a step's prompt and help texts may name: the model, the checklist item, ..."""
        model = view.model
        values: dict[str, Any] = {
            "firmware_list": self.catalog.min_firmware_list,
            "checklist": self.catalog.verification_checklist,
            "serial": view.of_role("serial") or "",
        }
        if model:
            values.update(
                model=model.full_name, kind=model.kind, min_firmware=model.min_firmware,
                instructions=model.instructions, example=model.serial_example,
            )
        if slot.item is not None:
            items = [s for s in view.slots if s.step.id == slot.step.id]
            values.update(
                item=self.t(f"checklist.{slot.item.id}"),
                number=items.index(slot) + 1, count=len(items),
            )
        return values
