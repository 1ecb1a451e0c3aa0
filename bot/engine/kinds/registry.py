"""The registry of step kinds: name → kind, as the procedure and the engine look them up."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bot.engine.kinds.base import Kind


class Registry(Mapping[str, Kind]):
    """The known step kinds by name; `register` adds one."""

    def __init__(self, *kinds: Kind) -> None:
        self._kinds: dict[str, Kind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: Kind) -> Kind:
        """Add a kind (its `name` must be new)."""
        if not kind.name or kind.name in self._kinds:
            raise ValueError(f"a step kind needs a new name, not {kind.name!r}")
        self._kinds[kind.name] = kind
        return kind

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)
