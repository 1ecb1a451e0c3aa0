"""What the engine takes in (inputs) and gives back (replies), free of Telegram types.

Handlers translate a Telegram update into an `Input` or a button's data, and an `Outcome`
back into messages, edits and callback answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    """An inline button: callback data, or a link."""

    label: str
    data: str | None = None
    url: str | None = None


@dataclass
class Reply:
    """One message to send (or the new content of an edited one).

    `keyboard` is "location" for a reply keyboard with a share-location button labelled
    `keyboard_label`, "web_app" for one with a button opening the Mini App at `keyboard_url`,
    "remove" to take a reply keyboard away, or None. `prompt` marks the question of the
    current step (`asks`: which, see `Engine.asking`): the handler reports its message id
    back to the engine.
    `force_reply` asks the reader to answer by replying; `reply_to` quotes a message;
    `remember` is called with the sent message's id.
    """

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    keyboard: str | None = None
    keyboard_label: str = ""
    keyboard_url: str = ""
    prompt: bool = False
    asks: str | None = None
    force_reply: bool = False
    reply_to: int | None = None
    remember: Callable[[int], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Edit:
    """New content for a message the bot sent earlier (its buttons go unless given)."""

    chat_id: int
    message_id: int
    reply: Reply


@dataclass(frozen=True)
class Notice:
    """A message for another chat (an admin, a support group, a manager)."""

    chat_id: int
    reply: Reply


@dataclass
class Outcome:
    """Everything the engine wants done in answer to one input or button.

    - `replies`: new messages to the user's chat, in order;
    - `edit`: new content for the message whose button was pressed;
    - `retire`: (message id, mark) — drop that message's buttons and append the mark;
    - `rekey`: new buttons for the message whose button was pressed (its text stays);
    - `edits`: new content for other messages the bot sent;
    - `alert`: the text of the callback answer (a toast), e.g. for a stale button;
    - `notices`: messages to other chats;
    - `events`: facts for other parts of the bot, e.g. ("submitted", job_id).
    """

    replies: list[Reply] = field(default_factory=list)
    edit: Reply | None = None
    rekey: list[list[Button]] | None = None
    edits: list[Edit] = field(default_factory=list)
    retire: tuple[int, str] | None = None
    alert: str | None = None
    notices: list[Notice] = field(default_factory=list)
    events: list[tuple[str, int]] = field(default_factory=list)
    job_id: int | None = None


@dataclass(frozen=True)
class PhotoInput:
    """A photo (compressed, or an image sent as a file), downloaded only when needed."""

    file_id: str
    file_unique_id: str
    file_size: int | None
    as_file: bool
    load: Callable[[], Awaitable[bytes]]
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class LocationInput:
    """A shared location; `live` when it is a live location's latest point."""

    lat: float
    lon: float
    accuracy: float | None = None
    live: bool = False


@dataclass(frozen=True)
class Input:
    """A message from a user: exactly one of text, photo, location, scanned, or `other`.

    `scanned` is the text of a code read live by the scanner Mini App (its `web_app_data`).
    `other` names what arrived when it is none of those ("sticker", "voice", "video",
    "document" for a file that is not an image, ...).
    """

    text: str | None = None
    photo: PhotoInput | None = None
    location: LocationInput | None = None
    scanned: str | None = None
    other: str | None = None

    @property
    def kind(self) -> str:
        """text, photo, location, scanned, or the `other` kind."""
        if self.text is not None:
            return "text"
        if self.photo is not None:
            return "photo"
        if self.location is not None:
            return "location"
        if self.scanned is not None:
            return "scanned"
        return self.other or "unknown"
