"""Cautions: an answer held aside until the installer confirms it (e.g. a reused MAC)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

USE_ANYWAY = "option.use_anyway"
SEND_AGAIN = "option.send_again"


@dataclass(frozen=True)
class Caution:
    """What to ask before keeping an answer.

    `text` and `values` make the question; `yes`/`no` are the buttons' text keys; `flag` is
    recorded when the installer goes on anyway; `extra` are further answers kept with it
    (the password read with the MAC); `redo` names a step whose answer is cleared when the
    installer declines (a photo taken far from the GPS fix), while the new answer is kept.
    """

    text: str
    values: dict[str, Any] = field(default_factory=dict)
    flag: str | None = None
    yes: str = USE_ANYWAY
    no: str = SEND_AGAIN
    extra: dict[str, Any] = field(default_factory=dict)
    redo: str | None = None

    def with_values(self, **values: Any) -> Caution:
        """The same caution with more template values."""
        return replace(self, values={**self.values, **values})


@dataclass(frozen=True)
class Pending:
    """An answer held for the step `step` until its caution is confirmed (`job.pending`)."""

    step: str
    value: Any
    source: str
    caution: Caution

    def to_json(self) -> dict[str, Any]:
        """The form stored with the job."""
        return {"step": self.step, "value": self.value, "source": self.source,
                "caution": asdict(self.caution)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Pending:
        """Read a stored pending answer, also in the older flat shape (caution keys inline)."""
        caution = raw.get("caution")
        if not isinstance(caution, dict):
            caution = {k: raw[k] for k in ("text", "values", "flag", "yes", "no", "extra",
                                           "redo") if raw.get(k) is not None}
        return cls(raw["step"], raw.get("value"), raw.get("source", "typed"),
                   Caution(**caution))
