"""The procedure's declarations, loaded from `data/procedure.toml`, and their conditions."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROLES = frozenset({"model", "owner_account", "station_name", "firmware", "iccid", "mac",
                   "password", "gps", "pin", "address", "serial", "replacement",
                   "display_errors", "submit", "photo_before", "photo_site"})
SELECTORS = ("role", "group", "kind")  # how a fix names its steps
CONDITION = re.compile(r"^\s*([a-z_]+)(?:\.([a-z_]+))?\s*(?:(==|!=)\s*([A-Za-z0-9_\-]+))?\s*$")


class KindRules(Protocol):
    """What the procedure needs of a step kind: the problems of a step declared with it."""

    def problems(self, step: Step, validators: Mapping[str, Callable[..., Any]]) -> list[str]:
        """What is wrong with this step's declaration (empty when nothing)."""
        ...


@dataclass(frozen=True)
class Option:
    """One answer of a choice step, with what choosing it does."""

    id: str
    goto: str | None = None
    flag: str | None = None
    block: bool = False


@dataclass(frozen=True)
class Step:
    """One question of the procedure, as declared in the procedure file."""

    id: str
    part: str
    kind: str
    options: tuple[Option, ...] = ()
    validator: str | None = None
    reader: str | None = None
    source: str | None = None
    landscape: bool = False
    when: str | None = None
    depends: tuple[str, ...] = ()
    optional: bool = False
    group: str | None = None
    reuse: bool = False
    safety: bool = False
    secret: bool = False
    role: str | None = None

    def option(self, option_id: str) -> Option | None:
        """The option with this id, or None."""
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Fix:
    """One thing support may ask to redo: the steps it concerns, as `role:`, `group:` or
    `kind:` selectors."""

    id: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Reason:
    """A rejection reason and the fixes (or whole parts) it concerns."""

    id: str
    fixes: tuple[str, ...]


@dataclass(frozen=True)
class Procedure:
    """The ordered steps and parts of the procedure, and what a rejection may ask to redo."""

    parts: tuple[str, ...]
    steps: tuple[Step, ...]
    fixes: tuple[Fix, ...] = ()
    reasons: tuple[Reason, ...] = ()
    _by_id: dict[str, Step] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({s.id: s for s in self.steps})

    def step(self, step_id: str) -> Step:
        """The declared step with this id (KeyError when unknown)."""
        return self._by_id[step_id]

    def has(self, step_id: str) -> bool:
        """True when a step with this id is declared."""
        return step_id in self._by_id

    def with_role(self, role: str) -> Step | None:
        """The step that plays this role (`mac`, `gps`, `pin`, ...), or None."""
        return next((s for s in self.steps if s.role == role), None)

    def key(self, role: str) -> str | None:
        """The id of the step that plays this role, or None."""
        step = self.with_role(role)
        return step.id if step else None

    def in_group(self, group: str) -> list[Step]:
        """The steps of a group (e.g. the optional details for drivers), in order."""
        return [s for s in self.steps if s.group == group]

    @property
    def safety_steps(self) -> list[Step]:
        """The safety confirmations, in order."""
        return [s for s in self.steps if s.safety]

    def dependants(self, step_id: str) -> list[str]:
        """Steps whose answers are cleared when this step's answer changes (transitively)."""
        found: list[str] = []
        frontier = [step_id]
        while frontier:
            current = frontier.pop()
            for step in self.steps:
                if current in step.depends and step.id not in found and step.id != step_id:
                    found.append(step.id)
                    frontier.append(step.id)
        return found

    @classmethod
    def load(cls, path: Path, validators: Mapping[str, Callable[..., Any]],
             kinds: Mapping[str, KindRules]) -> Procedure:
        """Read and check the procedure file: parts, roles, targets, conditions, and each step
        against its kind in the registry of step kinds (`bot.engine.kinds.KINDS`)."""
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        parts = tuple(p["id"] for p in raw.get("part", []))
        steps = []
        for s in raw.get("step", []):
            options = tuple(
                Option(o["id"], o.get("goto"), o.get("flag"), bool(o.get("block", False)))
                for o in s.get("options", [])
            )
            steps.append(
                Step(
                    id=s["id"],
                    part=s["part"],
                    kind=s["kind"],
                    options=options,
                    validator=s.get("validator"),
                    reader=s.get("reader"),
                    source=s.get("source"),
                    landscape=bool(s.get("landscape", False)),
                    when=s.get("when"),
                    depends=tuple(s.get("depends", ())),
                    optional=bool(s.get("optional", False)),
                    group=s.get("group"),
                    reuse=bool(s.get("reuse", False)),
                    safety=bool(s.get("safety", False)),
                    secret=bool(s.get("secret", False)),
                    role=s.get("role"),
                )
            )
        fixes = tuple(Fix(f["id"], tuple(f.get("steps", ()))) for f in raw.get("fix", []))
        reasons = tuple(Reason(r["id"], tuple(r.get("fixes", ()))) for r in raw.get("reason", []))
        procedure = cls(parts, tuple(steps), fixes, reasons)
        procedure._check(validators, kinds)
        return procedure

    def _check(self, validators: Mapping[str, Callable[..., Any]],
               kinds: Mapping[str, KindRules]) -> None:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate step ids in the procedure")
        roles = [s.role for s in self.steps if s.role]
        if len(set(roles)) != len(roles):
            raise ValueError("a role is played by two steps in the procedure")
        for s in self.steps:
            problems = []
            if s.role is not None and s.role not in ROLES:
                problems.append(f"unknown role {s.role!r}")
            kind = kinds.get(s.kind)
            problems.extend(kind.problems(s, validators) if kind is not None
                            else [f"unknown kind {s.kind!r}"])
            if s.part not in self.parts:
                problems.append(f"unknown part {s.part!r}")
            for o in s.options:
                if o.goto and o.goto not in self._by_id:
                    problems.append(f"option {o.id} goes to unknown step {o.goto!r}")
            for d in s.depends:
                if d not in self._by_id:
                    problems.append(f"depends on unknown step {d!r}")
            if s.when:
                match = CONDITION.match(s.when)
                if not match or (match.group(1) != "model" and match.group(1) not in self._by_id):
                    problems.append(f"bad condition {s.when!r}")
            if problems:
                raise ValueError(f"step {s.id}: " + "; ".join(problems))
        self._check_fixes()

    def _check_fixes(self) -> None:
        targets = [f.id for f in self.fixes] + list(self.parts)
        if len(set(targets)) != len(targets):
            raise ValueError("a fix shares its id with another fix or a part")
        for f in self.fixes:
            for selector in f.steps:
                how, _, what = selector.partition(":")
                if how not in SELECTORS or not any(getattr(s, how) == what
                                                   for s in self.steps):
                    raise ValueError(f"fix {f.id}: {selector!r} selects no step")
        for r in self.reasons:
            if not r.fixes or any(t not in targets for t in r.fixes):
                raise ValueError(f"reason {r.id}: unknown fix in {r.fixes!r}")


def condition_holds(
    condition: str | None,
    answer_of: Callable[[str], Any],
    source_of: Callable[[str], str | None],
    model_attr: Callable[[str], Any],
) -> bool:
    """Evaluate a step's `when` against the job's answers and model.

    `answer_of(step)` is the stored value (None when unanswered), `source_of(step)` how it was
    given (`typed`, `button`, `qr`, ...), `model_attr(name)` a field of the chosen model.
    """
    if not condition:
        return True
    match = CONDITION.match(condition)
    if not match:
        return False
    subject, attribute, op, expected = match.groups()
    if subject == "model":
        actual: Any = model_attr(attribute or "id")
    elif attribute == "source":
        actual = source_of(subject)
    else:
        actual = answer_of(subject)
        if isinstance(actual, dict) and attribute:
            actual = actual.get(attribute)
    if op is None:
        return bool(actual)
    equal = actual is not None and str(actual) == expected
    return equal if op == "==" else not equal
