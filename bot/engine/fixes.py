"""What a rejection asks to redo, and how a fix walks it.

Targets are the fixes declared in `data/procedure.toml` (`[[fix]]`: the steps they concern,
by role, group or kind) followed by the procedure's parts (a whole part). Support picks them
with toggle buttons; the pick travels in button data as a bit mask over that list and is
stored as the targets' ids joined by commas (`address,pin`, or a part's id: `labels`).

A fix does not clear the answers it reopens: their keys become the job's revisit list (its
`cursor`), which the plan treats like unanswered questions, each asked with its earlier
answer offered as one tap ("Keep: …"); answering or keeping one takes it off the list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.engine.plan import Slot
from bot.engine.procedure import Procedure, Reason, Step

SEP = ","


class Fixes:
    """The redo targets of a procedure: their order, masks, labels and questions."""

    def __init__(self, procedure: Procedure) -> None:
        self.procedure = procedure
        self.targets: list[str] = [f.id for f in procedure.fixes] + list(procedure.parts)
        self._selectors = {f.id: f.steps for f in procedure.fixes}

    # Reasons ----------------------------------------------------------------------------

    @property
    def reasons(self) -> list[str]:
        """The rejection reasons offered as buttons, in order."""
        return [r.id for r in self.procedure.reasons]

    def reason(self, reason_id: str | None) -> Reason | None:
        """The declared reason with this id, or None (a typed reason)."""
        return next((r for r in self.procedure.reasons if r.id == reason_id), None)

    # Picks ------------------------------------------------------------------------------

    def mask(self, targets: Iterable[str]) -> int:
        """The bit mask of these targets."""
        picked = set(targets)
        return sum(1 << i for i, t in enumerate(self.targets) if t in picked)

    def picked(self, mask: int) -> list[str]:
        """The targets of a bit mask, in order."""
        return [t for i, t in enumerate(self.targets) if mask >> i & 1]

    def is_part(self, target: str) -> bool:
        """Whether the target is a whole part."""
        return target in self.procedure.parts

    @staticmethod
    def join(targets: Iterable[str]) -> str:
        """The stored form of a pick."""
        return SEP.join(targets)

    def split(self, redo: str | None) -> list[str]:
        """The known targets of a stored pick (a part's id, as stored before fixes, too)."""
        return [t for t in (redo or "").split(SEP) if t in self.targets]

    def label(self, redo: str | None, t: Callable[[str], str]) -> str:
        """A pick as people read it: `Address, Pin`."""
        names = [t(f"part.{x}" if self.is_part(x) else f"fix.{x}") for x in self.split(redo)]
        return ", ".join(names) or "—"

    # Questions ----------------------------------------------------------------------------

    def selects(self, target: str, step: Step) -> bool:
        """Whether a target concerns this step (never the submission itself)."""
        if step.role == "submit":
            return False
        if self.is_part(target):
            return step.part == target
        for selector in self._selectors.get(target, ()):
            how, _, what = selector.partition(":")
            if getattr(step, how) == what:
                return True
        return False

    def keys(self, slots: list[Slot], redo: str | None) -> list[str]:
        """The questions of the plan a stored pick reopens, in plan order."""
        targets = self.split(redo)
        return [s.key for s in slots if any(self.selects(t, s.step) for t in targets)]
