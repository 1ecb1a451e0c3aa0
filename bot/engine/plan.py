"""A job's plan: which questions apply, in which order, and where the installer is.

Pure functions of the procedure, the catalog and the stored answers (no I/O): the engine
derives the current question from them, which is why a restart needs no conversation state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.engine.catalog import Catalog, ChecklistItem, Model
from bot.engine.procedure import Procedure, Step, condition_holds
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
    def index(self) -> int:
        """1-based position of the current question in the plan."""
        if self.current is None:
            return len(self.slots)
        return next(i for i, s in enumerate(self.slots, 1) if s.key == self.current.key)


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


def progress_bar(index: int, total: int, cells: int = BAR_CELLS) -> str:
    """`▰▰▰▱▱▱▱▱` for how far along step `index` of `total` is."""
    filled = min(cells, max(0, round(cells * index / max(total, 1))))
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


def plan(procedure: Procedure, answers: dict[str, Answer], model: Model | None,
         slots_of: Callable[[Step, Model | None], list[Slot]]) -> list[Slot]:
    """The applicable questions for these answers and model, in order; `slots_of` gives a
    step's questions (its kind's: one, or e.g. one per item of the model's checklist)."""

    def answer_of(step: str) -> Any:
        return answers[step].value if step in answers else None

    def source_of(step: str) -> str | None:
        return answers[step].source if step in answers else None

    def model_attr(name: str) -> Any:
        return getattr(model, name, None) if model else None

    slots: list[Slot] = []
    for step in procedure.steps:
        if not condition_holds(step.when, answer_of, source_of, model_attr):
            continue
        slots.extend(slots_of(step, model))
    return slots
