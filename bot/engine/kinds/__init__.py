"""Step kinds: one class per `kind` of data/procedure.toml, and the registry of them.

Adding a kind: a subclass of `Kind` in a module here, and one line in `KINDS` below.
"""

from bot.engine.kinds.address import AddressKind
from bot.engine.kinds.base import Desk, Kind
from bot.engine.kinds.choice import ChecklistKind, ChoiceKind
from bot.engine.kinds.confirm import ConfirmKind, SubmitKind
from bot.engine.kinds.location import LocationKind
from bot.engine.kinds.model import ModelKind
from bot.engine.kinds.photo import PhotoKind
from bot.engine.kinds.registry import Registry
from bot.engine.kinds.text import TextKind


def standard_kinds() -> Registry:
    """A registry of the kinds the procedure file may use."""
    return Registry(ChoiceKind(), ConfirmKind(), TextKind(), PhotoKind(), LocationKind(),
                    ModelKind(), ChecklistKind(), AddressKind(), SubmitKind())


KINDS = standard_kinds()

__all__ = ["KINDS", "Desk", "Kind", "Registry", "standard_kinds"]
