"""The emulator's state and the operations both sides share: chats, messages, the update queue."""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from testkit.emulator.files import FileStore
from testkit.emulator.media import PHOTO_SIDES
from testkit.emulator.state import (
    ApiCall,
    ApiError,
    CallbackState,
    ChatState,
    InjectedFault,
    Signal,
    StoredMessage,
)

log = logging.getLogger(__name__)

CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
Listener = Callable[[str, Any], None]


class EmulatorCore:
    """Everything the fake Bot API knows, without the HTTP layer."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "pinpoint_test_bot",
        bot_name: str = "Pinpoint",
        *,
        self_hosted: bool = False,
        test_environment: bool = False,
        photo_sides: tuple[int, ...] = PHOTO_SIDES,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.self_hosted = self_hosted
        self.test_environment = test_environment  # as Telegram's: Mini Apps may be plain http
        self.download_limit: int | None = None if self_hosted else CLOUD_DOWNLOAD_LIMIT
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, ChatState] = {}
        self.files = FileStore(photo_sides)
        self.calls: list[ApiCall] = []
        self.updates: list[dict[str, Any]] = []  # created, not yet confirmed by an offset
        self.all_updates: list[dict[str, Any]] = []
        self.allowed_updates: list[str] | None = None
        self.callbacks: dict[str, CallbackState] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.failures: dict[str, deque[ApiError]] = {}
        self.random_faults: list[RandomFaults] = []
        self.signal = Signal()
        self.closing = False
        self._next_update_id = 1
        self._poll_generation = 0
        self.media_group_seq = 0
        self.query_seq = 0
        self._listeners: list[Listener] = []

    # -- notifications -------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event, payload)` on every change: "update", "message", "edit",
        "callback_answer", "call", "fetch"."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def emit(self, event: str, payload: Any = None) -> None:
        self.signal.notify()
        for listener in list(self._listeners):
            try:
                listener(event, payload)
            except Exception:
                log.exception("emulator listener failed on %s", event)

    # -- failures ------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        html: bool = False,
        drop: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail with `status` (429, 500, 400, ...);
        `html=True` answers with a proxy's HTML error page instead of the API's JSON,
        `drop=True` closes the connection without any answer (nothing is done)."""
        error = _fault(status, retry_after, description, html, drop)
        self.failures.setdefault(method.lower(), deque()).extend([error] * times)

    def fail_randomly(
        self,
        methods: Iterable[str] | None = None,
        rate: float = 0.3,
        *,
        status: int = 429,
        retry_after: int | tuple[int, int] = 1,
        html: bool = False,
        drop: bool = False,
        seed: int | None = None,
    ) -> RandomFaults:
        """From now on fail a fraction `rate` of the calls of `methods` (every method but
        getUpdates when None), drawn from a generator seeded with `seed`; `retry_after` may be
        a range `(low, high)` drawn per failure. Rules add up (each draws for itself, in the
        order given); `stop_failing()` removes them. Returns the rule, which counts."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {rate}")
        rule = RandomFaults(
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
            rate=rate, status=status, retry_after=retry_after, html=html, drop=drop,
            rng=random.Random(seed),
        )
        self.random_faults.append(rule)
        return rule

    def stop_failing(self) -> None:
        """Forget every injected failure, queued (`fail_next`) or random (`fail_randomly`)."""
        self.failures.clear()
        self.random_faults.clear()

    def take_failure(self, method: str) -> ApiError | None:
        queue = self.failures.get(method.lower())
        if queue:
            return queue.popleft()
        for rule in self.random_faults:
            fault = rule.draw(method)
            if fault is not None:
                return fault
        return None

    # -- users and chats -----------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        chat = {k: v for k, v in user.items() if k in ("first_name", "last_name", "username")}
        state = self.chats.get(user_id)
        if state is None:
            state = self.chats[user_id] = ChatState({"id": user_id, "type": "private"})
        state.chat.update(chat)
        state.members = {user_id: "member", self.bot_id: "member"}
        return user

    def add_group(
        self, chat_id: int, title: str, *, kind: str | None = None, username: str | None = None
    ) -> ChatState:
        kind = kind or ("supergroup" if str(chat_id).startswith("-100") else "group")
        chat: dict[str, Any] = {"id": chat_id, "type": kind, "title": title}
        if username:
            chat["username"] = username
        state = self.chats.get(chat_id)
        if state is None:
            state = self.chats[chat_id] = ChatState(chat)
        state.chat.update(chat)
        state.members.setdefault(self.bot_id, "administrator")
        return state

    def resolve_chat(self, chat_id: int | str) -> ChatState | None:
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            return next(
                (c for c in self.chats.values() if (c.chat.get("username") or "").lower() == name),
                None,
            )
        return self.chats.get(chat_id)

    # -- messages ------------------------------------------------------------------------

    def add_message(
        self,
        chat: ChatState,
        content: dict[str, Any],
        *,
        sender: dict[str, Any] | None = None,
        markup: dict[str, Any] | None = None,
        raw_text: str | None = None,
        parse_mode: str | None = None,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """Append a message to `chat` (from the bot unless `sender` is a user)."""
        from_bot = sender is None
        data: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": dict(sender or self.bot_user),
            "chat": dict(chat.chat),
            "date": int(time.time()),
        }
        chat.next_message_id += 1
        if reply_to is not None:
            replied = reply_to.snapshot()
            replied.pop("reply_to_message", None)
            data["reply_to_message"] = replied
        data.update(content)
        if markup and "inline_keyboard" in markup:
            data["reply_markup"] = markup
        message = StoredMessage(data, from_bot, markup, raw_text, parse_mode)
        chat.messages.append(message)
        chat.by_id[message.message_id] = message
        if from_bot and markup and ("keyboard" in markup or "remove_keyboard" in markup):
            chat.keyboard = markup if "keyboard" in markup else None
        self.emit("message", message)
        return message

    # -- updates -------------------------------------------------------------------------

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates."""
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self.updates.append(update)
        self.all_updates.append(update)
        self.emit("update", update)
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below `offset` (negative: keep only the last -offset ones)."""
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        self.emit("confirm", offset)

    def _allowed(self, update: dict[str, Any]) -> bool:
        if not self.allowed_updates:
            return True
        return any(kind in update for kind in self.allowed_updates)

    async def fetch_updates(
        self, offset: int | None, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """The long poll: wait up to `timeout` seconds for updates at or past `offset`."""
        if allowed is not None:
            self.allowed_updates = list(allowed)
        if offset is not None:
            self.confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self.updates = [u for u in self.updates if self._allowed(u)]
        if not self.updates and timeout > 0 and not self.closing:
            await self.signal.wait_for(
                lambda: bool(self.updates) or self.closing or generation != self._poll_generation,
                timeout,
            )
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            self.updates = [u for u in self.updates if self._allowed(u)]
        result = [] if self.closing else self.updates[:limit]
        self.emit("fetch", result)
        return result

    @property
    def pending_updates(self) -> int:
        return len(self.updates)

    # -- inspection ----------------------------------------------------------------------

    def calls_of(self, method: str) -> list[ApiCall]:
        """The completed and running calls of one method, oldest first."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def transcript(self, chat_id: int) -> str:
        """A readable log of one chat, for assertion messages."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return f"(unknown chat {chat_id})"
        return "\n".join(describe(m) for m in chat.messages) or "(no messages)"


DESCRIPTIONS = {
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    403: "Forbidden: bot was blocked by the user",
}


def _fault(status: int, retry_after: int, description: str | None, html: bool,
           drop: bool) -> ApiError:
    """The error a failing call gets; a plain `ApiError` unless html or drop is asked for."""
    if description is None:
        template = DESCRIPTIONS.get(status, "Bad Request: injected failure")
        description = template.format(retry_after=retry_after)
    wait = retry_after if status == 429 else None
    if html or drop:
        return InjectedFault(status, description, wait, html=html, drop=drop)
    return ApiError(status, description, wait)


@dataclass
class RandomFaults:
    """One rule of `fail_randomly`: which calls fail, how often, and how; it counts too."""

    methods: frozenset[str] | None
    rate: float
    status: int
    retry_after: int | tuple[int, int]
    html: bool
    drop: bool
    rng: random.Random
    seen: int = 0  # calls the rule drew for
    injected: int = 0  # of them, failed
    by_method: dict[str, int] = field(default_factory=dict)  # failures per method

    def applies(self, method: str) -> bool:
        name = method.lower()
        return name in self.methods if self.methods is not None else name != "getupdates"

    def draw(self, method: str) -> ApiError | None:
        """A failure for this call, or None (the call goes through)."""
        if not self.applies(method):
            return None
        self.seen += 1
        if self.rng.random() >= self.rate:
            return None
        self.injected += 1
        self.by_method[method] = self.by_method.get(method, 0) + 1
        wait = self.retry_after
        if isinstance(wait, tuple):
            wait = self.rng.randint(*wait)
        return _fault(self.status, wait, None, self.html, self.drop)


def describe(message: StoredMessage) -> str:
    """One line about a message: id, sender, content, buttons, flags."""
    data = message.data
    who = "bot" if message.from_bot else data["from"].get("first_name", "user")
    text = (data.get("text") or data.get("caption")
            or (data.get("web_app_data") or {}).get("data") or "")
    kinds = [
        k
        for k in ("photo", "document", "location", "venue", "sticker", "voice", "video", "contact",
                  "web_app_data")
        if k in data
    ]
    parts = [f"#{data['message_id']} {who}:"]
    if kinds:
        parts.append(f"[{'/'.join(kinds)}]")
    parts.append(repr(text[:120]))
    if message.inline_keyboard:
        labels = [b.get("text") for row in message.inline_keyboard for b in row]
        parts.append(f"buttons={labels}")
    if message.history:
        parts.append(f"(edited {len(message.history)}x)")
    return " ".join(parts)
