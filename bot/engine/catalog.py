"""The station catalog: manufacturers, models and their verification checklists."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Model:
    """A supported station model as the catalog describes it."""

    id: str
    name: str
    manufacturer_id: str
    manufacturer: str
    kind: str
    min_firmware: str
    serial_pattern: str
    serial_example: str
    has_screen: bool
    instructions: str
    checklist_extra: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        """Manufacturer and model, as on the type plate: `ABB Terra 184`."""
        return f"{self.manufacturer} {self.name}"


@dataclass(frozen=True)
class Manufacturer:
    """A manufacturer and its models, in catalog order."""

    id: str
    name: str
    models: tuple[Model, ...]


@dataclass(frozen=True)
class ChecklistItem:
    """One item of the verification checklist; a critical "No" blocks the job."""

    id: str
    critical: bool


@dataclass
class Catalog:
    """The whole catalog with look-ups by id and by name."""

    manufacturers: list[Manufacturer]
    checklist_items: dict[str, ChecklistItem]
    default_checklist: list[str]
    min_firmware_list: str = ""
    verification_checklist: str = ""
    _models: dict[str, Model] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._models = {m.id: m for mf in self.manufacturers for m in mf.models}

    @classmethod
    def load(cls, catalog_path: Path, checklists_path: Path) -> Catalog:
        """Read the catalog and checklist TOML files; raise ValueError on an inconsistency."""
        raw = tomllib.loads(catalog_path.read_text(encoding="utf-8"))
        lists = tomllib.loads(checklists_path.read_text(encoding="utf-8"))
        items = {
            item_id: ChecklistItem(item_id, bool(spec.get("critical", False)))
            for item_id, spec in lists.get("item", {}).items()
        }
        manufacturers = []
        for mf in raw.get("manufacturer", []):
            models = []
            for m in mf.get("model", []):
                re.compile(m["serial_pattern"])
                extra = tuple(m.get("checklist", ()))
                unknown = [i for i in extra if i not in items]
                if unknown:
                    raise ValueError(f"model {m['id']}: unknown checklist items {unknown}")
                models.append(
                    Model(
                        id=m["id"],
                        name=m["name"],
                        manufacturer_id=mf["id"],
                        manufacturer=mf["name"],
                        kind=m.get("kind", "AC"),
                        min_firmware=str(m.get("min_firmware", "0")),
                        serial_pattern=m["serial_pattern"],
                        serial_example=m.get("serial_example", ""),
                        has_screen=bool(m.get("has_screen", False)),
                        instructions=m.get("instructions", ""),
                        checklist_extra=extra,
                    )
                )
            manufacturers.append(Manufacturer(mf["id"], mf["name"], tuple(models)))
        catalog = cls(
            manufacturers=manufacturers,
            checklist_items=items,
            default_checklist=list(lists.get("default", [])),
            min_firmware_list=raw.get("min_firmware_list", ""),
            verification_checklist=raw.get("verification_checklist", ""),
        )
        if len(catalog._models) != sum(len(mf.models) for mf in manufacturers):
            raise ValueError("duplicate model ids in the catalog")
        return catalog

    def model(self, model_id: str) -> Model | None:
        """The model with this id, or None."""
        return self._models.get(model_id)

    def manufacturer(self, manufacturer_id: str) -> Manufacturer | None:
        """The manufacturer with this id, or None."""
        return next((mf for mf in self.manufacturers if mf.id == manufacturer_id), None)

    @property
    def models(self) -> list[Model]:
        """Every model, in catalog order."""
        return list(self._models.values())

    def search(self, text: str, limit: int = 8) -> list[Model]:
        """Models whose manufacturer or name matches the typed text, best first.

        Every word must appear (as a prefix of a word of the full name) or be a close
        spelling of one, so `terra 184`, `alpi hyc`, `keba p30` and `wallbox pulsr` all work.
        """
        words = [w for w in re.split(r"[\s\-_/]+", text.lower()) if w]
        if not words:
            return []
        scored: list[tuple[float, int, Model]] = []
        for index, model in enumerate(self._models.values()):
            name_words = re.split(r"[\s\-_/+]+", model.full_name.lower())
            score = 0.0
            for word in words:
                if any(nw.startswith(word) for nw in name_words):
                    score += 1.0
                elif word in model.full_name.lower():
                    score += 0.8
                else:
                    close = difflib.get_close_matches(word, name_words, n=1, cutoff=0.75)
                    if not close:
                        break
                    score += 0.6
            else:
                scored.append((score, index, model))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [m for _, _, m in scored[:limit]]

    def checklist_for(self, model: Model) -> list[ChecklistItem]:
        """The model's checklist: the default items, then its own extras."""
        ids = list(self.default_checklist) + [
            i for i in model.checklist_extra if i not in self.default_checklist
        ]
        return [self.checklist_items[i] for i in ids]
