"""Every inline button's data: one small typed value per action, encoded compactly.

`encode(action)` gives `"1:<tag>:<field>:..."` — the leading `1` is the format's version, so
a button sent before a deploy that changed the format (or any data this bot did not make)
decodes as `Stale` and is answered politely instead of being misread. Telegram allows 64
bytes (UTF-8) of data per button; `encode` refuses more. Fields are ints, ids (letters,
digits, `_ . -`), enum values, or empty for None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

VERSION = "1"
LIMIT = 64
SEP = ":"
ID = re.compile(r"[A-Za-z0-9_.\-]+")
NUMBER = re.compile(r"[0-9]{1,18}")


class Special(Enum):
    """The answers a step button gives besides its options."""

    KEEP = "k"  # keep the stored answer (after /back)
    REUSE = "u"  # reuse the answer of the site visit's previous station
    SKIP = "s"
    SKIP_REST = "r"  # skip this and the rest of the step's group
    OK = "o"  # a confirmation, or the submission
    CAUTION_YES = "y"  # use an answer despite its caution
    CAUTION_NO = "n"  # drop it and answer again
    RETRY = "t"  # ask the geocoder again
    TYPED = "p"  # keep the typed address, unverified
    TYPE = "i"  # type the answer instead of photographing its code


class Verb(Enum):
    """What a job-level button does."""

    CONTINUE = "c"
    NEXT_STATION = "n"
    DONE = "d"
    KEEP = "k"  # do not cancel
    CANCEL = "x"
    STOP = "s"  # ask to confirm stopping, for a reason
    STOP_YES = "y"
    FIX = "f"  # reopen a rejected job at the part support named


class Verdict(Enum):
    """An admin's answer to a registration request."""

    APPROVE = "a"
    REFUSE = "r"


@dataclass(frozen=True)
class Choose:
    """An option of the step `key` (a choice, a checklist item, a model id)."""

    job: int
    key: str
    option: str


@dataclass(frozen=True)
class Say:
    """A special answer to the step `key`."""

    job: int
    key: str
    special: Special


@dataclass(frozen=True)
class PickAddress:
    """The `index`-th address candidate offered for the step `key`."""

    job: int
    key: str
    index: int


@dataclass(frozen=True)
class Browse:
    """A page of manufacturers (manufacturer None), or one manufacturer's models."""

    job: int
    manufacturer: str | None
    page: int = 0


@dataclass(frozen=True)
class JobAction:
    """A job-level button: continue, cancel, stop (for a reason), fix, ..."""

    job: int
    verb: Verb
    reason: str | None = None


@dataclass(frozen=True)
class Verify:
    """Support verifies a hand-off."""

    handoff: int


@dataclass(frozen=True)
class Reject:
    """Support starts rejecting a hand-off: show the reasons."""

    handoff: int


@dataclass(frozen=True)
class Undo:
    """Support goes back to Verify / Reject."""

    handoff: int


@dataclass(frozen=True)
class RejectReason:
    """A rejection's reason (None: support types it): show the parts."""

    handoff: int
    reason: str | None


@dataclass(frozen=True)
class RejectPick:
    """Tick or untick what a rejection asks to redo: `picked` is the new bit mask over the
    redo targets (`bot.engine.fixes`)."""

    handoff: int
    picked: int
    reason: str | None


@dataclass(frozen=True)
class RejectSend:
    """Send the rejection with what is ticked (reason None: ask support to type it)."""

    handoff: int
    picked: int
    reason: str | None


@dataclass(frozen=True)
class Registration:
    """An admin's verdict on a registration request."""

    user: int
    verdict: Verdict


@dataclass(frozen=True)
class Language:
    """A language picked with /language (for the person, or for the group chat)."""

    code: str


@dataclass(frozen=True)
class Stale:
    """Data that is not (or no longer) a button of this bot."""

    data: str


Action = (Choose | Say | PickAddress | Browse | JobAction | Verify | Reject | Undo
          | RejectReason | RejectPick | RejectSend | Registration | Language)
JOB_ACTIONS = (Choose, Say, PickAddress, Browse, JobAction)
SUPPORT_ACTIONS = (Verify, Reject, Undo, RejectReason, RejectPick, RejectSend)
REGISTRATION_ACTIONS = (Registration,)
LANGUAGE_ACTIONS = (Language,)
TAGS: dict[str, type] = {
    "a": Choose, "s": Say, "p": PickAddress, "m": Browse, "j": JobAction, "v": Verify,
    "r": Reject, "b": Undo, "q": RejectReason, "x": RejectPick, "w": RejectSend,
    "u": Registration, "l": Language,
}
_TAG_OF = {cls: tag for tag, cls in TAGS.items()}


def _field_types(cls: type) -> list[tuple[str, type, bool]]:
    """(name, base type, may be None) per field of an action class."""
    hints = get_type_hints(cls)
    found = []
    for f in fields(cls):
        hint = hints[f.name]
        optional = get_origin(hint) in (Union, UnionType) and type(None) in get_args(hint)
        base = next(a for a in get_args(hint) if a is not type(None)) if optional else hint
        found.append((f.name, base, optional))
    return found


_FIELDS = {cls: _field_types(cls) for cls in TAGS.values()}


def _dump(value: Any, base: type, optional: bool) -> str:
    if value is None:
        if not optional:
            raise ValueError("a required button field is None")
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    text = str(value)
    if not (NUMBER if base is int else ID).fullmatch(text):
        raise ValueError(f"cannot put {text!r} in button data")
    return text


def _load(text: str, base: type, optional: bool) -> Any:
    if text == "" and optional:
        return None
    if issubclass(base, Enum):
        return base(text)  # ValueError when unknown
    if base is int:
        if not NUMBER.fullmatch(text):
            raise ValueError(text)
        return int(text)
    if not ID.fullmatch(text):
        raise ValueError(text)
    return text


def encode(action: Action) -> str:
    """The button data for an action (ValueError when it does not fit in 64 bytes)."""
    cls = type(action)
    parts = [VERSION, _TAG_OF[cls]]
    parts.extend(_dump(getattr(action, name), base, optional)
                 for name, base, optional in _FIELDS[cls])
    data = SEP.join(parts)
    if len(data.encode("utf-8")) > LIMIT:
        raise ValueError(f"button data over {LIMIT} bytes: {data!r}")
    return data


def decode(data: object) -> Action | Stale:
    """The action behind button data, or `Stale` for anything else (old formats included)."""
    if not isinstance(data, str):
        return Stale(repr(data))
    parts = data.split(SEP)
    if len(parts) < 2 or parts[0] != VERSION or parts[1] not in TAGS:
        return Stale(data)
    cls = TAGS[parts[1]]
    spec = _FIELDS[cls]
    if len(parts) - 2 != len(spec):
        return Stale(data)
    try:
        values = [_load(text, base, optional)
                  for text, (_, base, optional) in zip(parts[2:], spec, strict=True)]
    except ValueError:
        return Stale(data)
    return cls(*values)  # type: ignore[no-any-return]


def matches(*classes: type) -> Callable[[object], bool]:
    """A `pattern` for a callback-query handler: data that decodes to one of `classes`."""

    def check(data: object) -> bool:
        return isinstance(decode(data), classes)

    return check
