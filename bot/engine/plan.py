"""A job's plan: which questions apply, in which order, and where the installer is.

Pure functions of the procedure, the catalog and the stored answers (no I/O): the engine
derives the current question from them, which is why a restart needs no conversation state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.engine.catalog import Catalog, ChecklistItem, Model
from bot.engine.procedure import CONDITION, Procedure, Step, condition_holds
from bot.store import Answer, Job

BAR_CELLS = 8
LABEL_MAX = 40


@dataclass(frozen=True)
class Slot:
    """One question in a job's plan: a declared step, or one checklist item of it."""

    key: str
    step: Step
    item: ChecklistItem | None = None


@dataclass
class JobView:
    """A job with its answers, model and plan, loaded once per input."""

    job: Job
    answers: dict[str, Answer]
    model: Model | None
    slots: list[Slot]
    current: Slot | None

    procedure: Procedure | None = None

    def value(self, key: str) -> Any:
        """The stored value of a step, or None."""
        answer = self.answers.get(key)
        return answer.value if answer else None

    def of_role(self, role: str) -> Any:
        """The stored value of the step that plays `role` (`mac`, `gps`, ...), or None."""
        assert self.procedure is not None, "a JobView needs its procedure to look up roles"
        key = self.procedure.key(role)
        return self.value(key) if key else None

    @property
    def progress(self) -> Progress:
        """Where the current question stands in its part (see `progress`)."""
        assert self.procedure is not None, "a JobView needs its procedure for its progress"
        return progress(self.procedure, self.slots, self.current)


def revisiting(cursor: str | None) -> list[str]:
    """The keys a job revisits: the one `/back` went to, or those a fix reopened."""
    return cursor.split(",") if cursor else []


def cursor_without(cursor: str | None, *keys: str) -> str | None:
    """The revisit list once these keys are answered (or kept)."""
    rest = [k for k in revisiting(cursor) if k not in keys]
    return ",".join(rest) or None


def cursor_with(cursor: str | None, *keys: str) -> str:
    """The revisit list with these keys added."""
    have = revisiting(cursor)
    return ",".join([*have, *(k for k in keys if k not in have)])


def current_slot(slots: list[Slot], answers: dict[str, Answer],
                 cursor: str | None) -> Slot | None:
    """The question a job waits on: the first one in the plan that is revisited or not
    answered yet."""
    revisit = set(revisiting(cursor))
    return next((s for s in slots if s.key in revisit or s.key not in answers), None)



@dataclass(frozen=True)
class Progress:
    """Question `index` of `total` in part `part_no` of `parts` (`part` is the part's id)."""

    part: str
    part_no: int
    parts: int
    index: int
    total: int

    @property
    def bar(self) -> str:
        """The whole procedure's progress: the parts done, and this part's share."""
        done = (self.part_no - 1 + self.index / max(self.total, 1)) / max(self.parts, 1)
        return progress_bar(done)


def follows(procedure: Procedure, before: Slot, slot: Slot) -> bool:
    """True when `slot` is numbered with the question `before` it: a later question of the same
    optional group (skipped together), or a step asked only on an answer of its own part (the
    password after a typed MAC, the errors after "some errors")."""
    step = slot.step
    if step.group and step.group == before.step.group:
        return True
    match = CONDITION.match(step.when or "")
    subject = match.group(1) if match else None
    if subject is None or subject == "model" or not procedure.has(subject):
        return False
    return procedure.parts.index(procedure.step(subject).part) >= procedure.parts.index(step.part)


def progress(procedure: Procedure, slots: list[Slot], current: Slot | None) -> Progress:
    """The current question's number within its part, and the part's count of numbers.

    Neither depends on answers given in the part: a step that appears or goes with such an
    answer shares the number of the question before it, and an optional group is one number,
    so the count is fixed when the part begins (the model, which sets the checklist, is the
    first answer of all) and "Skip the rest" moves on by one."""
    part = current.step.part if current else slots[-1].step.part if slots else procedure.parts[0]
    number, before = 0, None
    numbers: dict[str, int] = {}
    for slot in (s for s in slots if s.step.part == part):
        if before is None or not follows(procedure, before, slot):
            number += 1
        numbers[slot.key] = number
        before = slot
    index = numbers.get(current.key, number) if current else number
    return Progress(part, procedure.parts.index(part) + 1, len(procedure.parts), index, number)


def progress_bar(done: float, cells: int = BAR_CELLS) -> str:
    """`▰▰▰▱▱▱▱▱` for a share `done` (0 to 1) of the way."""
    filled = min(cells, max(0, round(cells * done)))
    return "▰" * filled + "▱" * (cells - filled)


def shorten(text: str, limit: int = LABEL_MAX) -> str:
    """Cut a text to `limit` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chosen_model(procedure: Procedure, catalog: Catalog,
                 answers: dict[str, Answer]) -> Model | None:
    """The station model the answers chose (the step with the role "model"), or None."""
    key = procedure.key("model")
    answer = answers.get(key) if key else None
    return catalog.model(answer.value) if answer else None


def applicable(procedure: Procedure, answers: dict[str, Answer], model: Model | None
               ) -> tuple[bool, ...]:
    """Whether each of the procedure's steps applies (its `when` holds) for these answers and
    model: with the model, all a plan depends on."""

    def answer_of(step: str) -> Any:
        return answers[step].value if step in answers else None

    def source_of(step: str) -> str | None:
        return answers[step].source if step in answers else None

    def model_attr(name: str) -> Any:
        return getattr(model, name, None) if model else None

    return tuple(condition_holds(step.when, answer_of, source_of, model_attr)
                 for step in procedure.steps)


def plan(procedure: Procedure, answers: dict[str, Answer], model: Model | None,
         slots_of: Callable[[Step, Model | None], list[Slot]]) -> list[Slot]:
    """The applicable questions for these answers and model, in order; `slots_of` gives a
    step's questions (its kind's: one, or e.g. one per item of the model's checklist)."""
    holds = applicable(procedure, answers, model)
    return [slot for step, applies in zip(procedure.steps, holds, strict=True) if applies
            for slot in slots_of(step, model)]
