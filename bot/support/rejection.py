"""Support's rejection, on the hand-off's own buttons: a reason, then what to redo.

❌ Reject → the reasons (declared in `data/procedure.toml`) and *Other* → toggles for every
redo target (the concrete fixes, then whole parts), the reason's own ticked → 📨 Send. The
pick travels in the buttons as a bit mask (`bot.engine.fixes`), so the hand-off message is
the only state until Send.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.engine import buttons
from bot.engine.buttons import Reject, RejectPick, RejectReason, RejectSend, Undo
from bot.engine.fixes import Fixes
from bot.engine.interaction import Button, Outcome

PER_ROW = 2


class RejectionButtons:
    """The buttons of a rejection in progress."""

    def __init__(self, fixes: Fixes, t: Callable[..., str],
                 reason_text: Callable[[str | None], str]) -> None:
        self.fixes = fixes
        self.t = t
        self.reason_text = reason_text

    def known(self, reason: str | None) -> bool:
        """A declared reason, or None (typed)."""
        return reason is None or self.fixes.reason(reason) is not None

    def reasons(self, hid: int) -> list[list[Button]]:
        """One button per reason, *Other*, and back to Verify / Reject."""
        rows = [[Button(self.reason_text(r), buttons.encode(RejectReason(hid, r)))]
                for r in self.fixes.reasons]
        rows.append([Button(self.t("support.other_reason"),
                            buttons.encode(RejectReason(hid, None)))])
        rows.append([Button(self.t("support.back"), buttons.encode(Undo(hid)))])
        return rows

    def first_pick(self, reason: str | None) -> int:
        """What a reason ticks at first: the answers it concerns."""
        declared = self.fixes.reason(reason)
        return self.fixes.mask(declared.fixes) if declared else 0

    def picks(self, hid: int, picked: int, reason: str | None) -> list[list[Button]]:
        """A toggle per redo target (fixes, then whole parts), then Send and Back."""
        fixes, t = self.fixes, self.t
        cells = []
        for index, target in enumerate(fixes.targets):
            on = bool(picked >> index & 1)
            name = t(f"part.{target}") if fixes.is_part(target) else t(f"fix.{target}")
            label = t("fix.ticked" if on else "fix.unticked",
                      name=t("fix.whole_part", part=name) if fixes.is_part(target) else name)
            cells.append(Button(label, buttons.encode(RejectPick(hid, picked ^ (1 << index),
                                                                 reason))))
        rows = [cells[i:i + PER_ROW] for i in range(0, len(cells), PER_ROW)]
        rows.append([Button(t("fix.send"), buttons.encode(RejectSend(hid, picked, reason))),
                     Button(t("support.back"), buttons.encode(Reject(hid)))])
        return rows

    def press(self, hid: int, action: RejectReason | RejectPick) -> Outcome:
        """A reason chosen (its answers ticked) or a toggle pressed: the new buttons."""
        if not self.known(action.reason):
            return Outcome(alert=self.t("job.stale_button"))
        if isinstance(action, RejectReason):
            return Outcome(rekey=self.picks(hid, self.first_pick(action.reason), action.reason),
                           alert=self.t("fix.which"))
        return Outcome(rekey=self.picks(hid, action.picked, action.reason))

    def redo(self, action: RejectSend) -> str | None:
        """What a Send asks to redo (stored form), or None when nothing is ticked."""
        if not self.known(action.reason):
            return None
        return self.fixes.join(self.fixes.picked(action.picked)) or None
