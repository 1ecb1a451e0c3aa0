"""The emulator's records: API errors, the call log, chats, messages, callback queries."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """An error answer of the Bot API: `{"ok": false, "error_code": ..., "description": ...}`."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class InjectedFault(ApiError):
    """A failure injected by a test: an API error, a proxy's HTML error page (`html`), or a
    connection closed without an answer (`drop`)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None, *,
                 html: bool = False, drop: bool = False) -> None:
        super().__init__(code, description, retry_after)
        self.html = html
        self.drop = drop

    def html_page(self) -> str:
        """The error page a reverse proxy in front of the Bot API would show."""
        title = f"{self.code} {self.description}"
        return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
                f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n")


def bad_request(message: str) -> ApiError:
    """A 400 error with the API's `Bad Request: ` prefix."""
    return ApiError(400, f"Bad Request: {message}")


class Signal:
    """Wakes waiters whenever the emulator's state changes (no fixed sleeps anywhere)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.version = 0

    def notify(self) -> None:
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` is true or `timeout` seconds pass; return its last value."""
        if predicate():
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return predicate()
            event = self._event
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return predicate()
            if predicate():
                return True


@dataclass
class ApiCall:
    """One bot → API request: `ok` is None while it runs, then True or False."""

    method: str
    params: dict[str, Any]
    time: float
    ok: bool | None = None
    result: Any = None
    error: str | None = None
    abandoned: bool = False  # the client hung up before the answer (a cancelled long poll)

    def __repr__(self) -> str:
        state = {None: "running", True: "ok"}.get(self.ok, f"error {self.error!r}")
        return f"<ApiCall {self.method} {state}{' abandoned' if self.abandoned else ''}>"


@dataclass
class StoredMessage:
    """A message in a chat: `data` is the current API JSON, `history` its earlier versions."""

    data: dict[str, Any]
    from_bot: bool
    markup: dict[str, Any] | None = None  # reply_markup as sent, of any kind
    raw_text: str | None = None  # text or caption as sent, before entity parsing
    parse_mode: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message_id(self) -> int:
        return self.data["message_id"]

    @property
    def chat_id(self) -> int:
        return self.data["chat"]["id"]

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]] | None:
        markup = self.data.get("reply_markup") or {}
        return markup.get("inline_keyboard")

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the current API JSON (JSON values only: pickling copies them several
        times faster than `copy.deepcopy`)."""
        return pickle.loads(pickle.dumps(self.data, pickle.HIGHEST_PROTOCOL))

    def update(self, changes: dict[str, Any], drop: tuple[str, ...] = ()) -> None:
        """Apply an edit, keeping the previous version in `history`."""
        self.history.append(self.snapshot())
        for key in drop:
            self.data.pop(key, None)
        self.data.update(changes)


@dataclass
class ChatState:
    """A chat the emulator knows: its JSON, members and messages."""

    chat: dict[str, Any]
    members: dict[int, str] = field(default_factory=dict)  # user id → status
    messages: list[StoredMessage] = field(default_factory=list)
    by_id: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False
    keyboard: dict[str, Any] | None = None  # the reply keyboard shown now, if any

    @property
    def id(self) -> int:
        return self.chat["id"]

    @property
    def bot_messages(self) -> list[StoredMessage]:
        return [m for m in self.messages if m.from_bot]

    def find(self, message_id: int) -> StoredMessage | None:
        """The message with that id, if any."""
        return self.by_id.get(message_id)


@dataclass
class CallbackState:
    """A callback query a player sent and, once the bot answered it, the answer."""

    query: dict[str, Any]
    answer: dict[str, Any] | None = None
