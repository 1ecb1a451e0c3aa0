"""Players: users who write to the bot, press its buttons and read its answers, for tests.

Every wait is on the emulator's change signal with a timeout; nothing sleeps a fixed time
except `expect_nothing`, whose whole point is to watch a quiet period.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from testkit.emulator.core import describe
from testkit.emulator.html import slice16, utf16_len
from testkit.emulator.media import sample_image
from testkit.emulator.state import CallbackState, ChatState, StoredMessage

if TYPE_CHECKING:
    from testkit.emulator.server import BotApiEmulator

WEB_APP_DATA_LIMIT = 4096  # bytes `Telegram.WebApp.sendData` takes
_COMMAND = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot passed to answerCallbackQuery."""

    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


class BotMessage:
    """A live view of a message in a chat: attributes always show its current (edited) state."""

    def __init__(self, stored: StoredMessage) -> None:
        self.stored = stored
        self.seen_edits = len(stored.history)

    # identity and content
    @property
    def data(self) -> dict[str, Any]:
        """The message as the API returns it now."""
        return self.stored.data

    @property
    def message_id(self) -> int:
        return self.stored.message_id

    @property
    def chat_id(self) -> int:
        return self.stored.chat_id

    @property
    def date(self) -> int:
        return self.data["date"]

    @property
    def text(self) -> str:
        """The text, or the caption of a media message, or ""."""
        return self.data.get("text") or self.data.get("caption") or ""

    @property
    def caption(self) -> str | None:
        return self.data.get("caption")

    @property
    def html(self) -> str | None:
        """The text or caption exactly as the bot sent it (before HTML parsing)."""
        return self.stored.raw_text

    @property
    def parse_mode(self) -> str | None:
        return self.stored.parse_mode

    @property
    def entities(self) -> list[dict[str, Any]]:
        return self.data.get("entities") or self.data.get("caption_entities") or []

    def entity_texts(self, kind: str) -> list[str]:
        """The parts of the text covered by entities of one type, e.g. "bold" or "code"."""
        return [
            slice16(self.text, e["offset"], e["length"]) for e in self.entities if e["type"] == kind
        ]

    # keyboards
    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        return self.stored.inline_keyboard or []

    @property
    def buttons(self) -> list[list[str]]:
        """Labels of the inline keyboard, row by row."""
        return [[button["text"] for button in row] for row in self.inline_keyboard]

    def button(self, label: str) -> dict[str, Any]:
        """The inline button with this label (exact, else a unique substring match)."""
        flat = [b for row in self.inline_keyboard for b in row]
        exact = [b for b in flat if b["text"] == label]
        if exact:
            return exact[0]
        partial = [b for b in flat if label in b["text"]]
        if len(partial) == 1:
            return partial[0]
        found = "ambiguous" if partial else "no"
        raise AssertionError(f"{found} button {label!r} on {self!r}; buttons: {self.buttons}")

    def button_data(self, label: str) -> str | None:
        return self.button(label).get("callback_data")

    def button_url(self, label: str) -> str | None:
        return self.button(label).get("url")

    @property
    def reply_keyboard(self) -> list[list[dict[str, Any]]]:
        """The reply keyboard sent with this message, buttons as dicts (`text`,
        `request_location`, ...); [] when it carried none."""
        markup = self.stored.markup or {}
        return [
            [{"text": b} if isinstance(b, str) else dict(b) for b in row]
            for row in markup.get("keyboard", [])
        ]

    @property
    def reply_labels(self) -> list[list[str]]:
        return [[b["text"] for b in row] for row in self.reply_keyboard]

    @property
    def removes_keyboard(self) -> bool:
        return bool((self.stored.markup or {}).get("remove_keyboard"))

    @property
    def force_reply(self) -> bool:
        return bool((self.stored.markup or {}).get("force_reply"))

    # media and other content
    @property
    def photo(self) -> list[dict[str, Any]] | None:
        return self.data.get("photo")

    @property
    def document(self) -> dict[str, Any] | None:
        return self.data.get("document")

    @property
    def location(self) -> dict[str, Any] | None:
        return self.data.get("location")

    @property
    def venue(self) -> dict[str, Any] | None:
        return self.data.get("venue")

    @property
    def media_group_id(self) -> str | None:
        return self.data.get("media_group_id")

    @property
    def reply_to_message_id(self) -> int | None:
        replied = self.data.get("reply_to_message")
        return replied["message_id"] if replied else None

    # history
    @property
    def edited(self) -> bool:
        return bool(self.stored.history)

    @property
    def edits(self) -> int:
        return len(self.stored.history)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Earlier versions of the message, oldest first."""
        return self.stored.history

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BotMessage) and other.stored is self.stored

    def __hash__(self) -> int:
        return hash((self.chat_id, self.message_id))

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<BotMessage {describe(self.stored)}>"


class Player:
    """One user in one chat (their private chat with the bot, or a group)."""

    def __init__(self, emu: BotApiEmulator, user_id: int, chat: ChatState) -> None:
        self.emu = emu
        self.user_id = user_id
        self.chat = chat
        self.read = 0  # bot messages of this chat already returned by expect()
        self._live: StoredMessage | None = None

    @property
    def user(self) -> dict[str, Any]:
        return self.emu.users[self.user_id]

    @property
    def name(self) -> str:
        return self.user["first_name"]

    @property
    def chat_id(self) -> int:
        return self.chat.id

    def in_chat(self, chat: Group | ChatState | int) -> Player:
        """The same user in another chat (joined as a member if not yet one)."""
        chat_id = chat if isinstance(chat, int) else chat.id
        state = self.emu.chats[chat_id]
        state.members.setdefault(self.user_id, "member")
        return self.emu.player(self.user_id, chat_id)

    def block(self) -> None:
        """The user blocks the bot: sends to this chat now fail with 403."""
        self.chat.blocked = True

    def unblock(self) -> None:
        self.chat.blocked = False

    # -- sending -------------------------------------------------------------------------

    def _stored(self, message: BotMessage | dict[str, Any] | int) -> StoredMessage:
        if isinstance(message, BotMessage):
            return message.stored
        message_id = message if isinstance(message, int) else message["message_id"]
        stored = self.chat.by_id.get(message_id)
        if stored is None:
            raise AssertionError(f"no message #{message_id} in chat {self.chat_id}")
        return stored

    async def _post(
        self, content: dict[str, Any], reply_to: BotMessage | dict[str, Any] | int | None = None
    ) -> dict[str, Any]:
        self.chat.blocked = False
        replied = self._stored(reply_to) if reply_to is not None else None
        message = self.emu.add_message(self.chat, content, sender=self.user, reply_to=replied)
        snapshot = message.snapshot()
        self.emu.push_update("message", message.snapshot())
        await asyncio.sleep(0)
        return snapshot

    async def send(
        self,
        text: str,
        *,
        reply_to: BotMessage | dict[str, Any] | int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send a text message; `/commands` get bot_command entities like in Telegram."""
        found = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group()),
            }
            for m in _COMMAND.finditer(text)
        ]
        all_entities = sorted([*found, *(entities or [])], key=lambda e: e["offset"])
        content: dict[str, Any] = {"text": text}
        if all_entities:
            content["entities"] = all_entities
        return await self._post(content, reply_to)

    async def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        *,
        reply_to: BotMessage | dict[str, Any] | int | None = None,
    ) -> dict[str, Any]:
        """Send a compressed photo: Telegram's JPEG sizes, EXIF dropped."""
        content: dict[str, Any] = {"photo": self.emu.files.add_photo(data)}
        if caption:
            content["caption"] = caption
        return await self._post(content, reply_to)

    async def send_document(
        self,
        data: bytes,
        file_name: str = "file.bin",
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Send a file as a document (bytes kept exactly, EXIF and all)."""
        content: dict[str, Any] = {
            "document": self.emu.files.add_document(data, file_name, mime_type)
        }
        if caption:
            content["caption"] = caption
        return await self._post(content)

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        horizontal_accuracy: float | None = None,
        live_period: int | None = None,
        heading: int | None = None,
    ) -> dict[str, Any]:
        """Share a location (also how a `request_location` reply button is pressed)."""
        location = _location(latitude, longitude, horizontal_accuracy, heading)
        if live_period is not None:
            location["live_period"] = live_period
        sent = await self._post({"location": location})
        if live_period is not None:
            self._live = self.chat.by_id[sent["message_id"]]
        return sent

    def web_app_url(self, button: str | None = None) -> str:
        """The Mini App address of the reply keyboard's `web_app` button (labelled `button`,
        or the only one): what the client opens when it is pressed."""
        return self._web_app_button(button)["web_app"]["url"]

    async def send_web_app_data(self, data: str, button: str | None = None) -> dict[str, Any]:
        """What a Mini App opened by the reply keyboard's `web_app` button (labelled `button`,
        or the only one) sends with `Telegram.WebApp.sendData(data)`: a service message with
        `web_app_data` (`data`, `button_text`). Only such a button's Mini App can; 1-4096
        bytes of data, as the client allows."""
        pressed = self._web_app_button(button)
        if not 1 <= len(data.encode()) <= WEB_APP_DATA_LIMIT:
            raise AssertionError(f"sendData takes 1-{WEB_APP_DATA_LIMIT} bytes, not "
                                 f"{len(data.encode())}")
        return await self._post({"web_app_data": {"data": data,
                                                  "button_text": pressed["text"]}})

    def _web_app_button(self, label: str | None) -> dict[str, Any]:
        rows = (self.chat.keyboard or {}).get("keyboard") or []
        found = [b for row in rows for b in row if isinstance(b, dict) and "web_app" in b
                 and (label is None or b["text"] == label)]
        if len(found) != 1:
            raise AssertionError(f"no single web_app keyboard button {label or ''!r} in chat "
                                 f"{self.chat_id}; the keyboard shows {self.keyboard}")
        return found[0]

    async def edit_live_location(
        self,
        latitude: float,
        longitude: float,
        *,
        message: dict[str, Any] | int | None = None,
        horizontal_accuracy: float | None = None,
        heading: int | None = None,
    ) -> dict[str, Any]:
        """Move a live location (the last one shared unless `message` is given)."""
        stored = self._stored(message) if message is not None else self._live
        if stored is None or "live_period" not in stored.data.get("location", {}):
            raise AssertionError(f"{self.name} has no live location to edit")
        location = _location(latitude, longitude, horizontal_accuracy, heading)
        location["live_period"] = stored.data["location"]["live_period"]
        return await self._edit(stored, {"location": location})

    async def stop_live_location(self, message: dict[str, Any] | int | None = None) -> dict:
        """Stop sharing a live location (an edit without `live_period`)."""
        stored = self._stored(message) if message is not None else self._live
        if stored is None:
            raise AssertionError(f"{self.name} has no live location to stop")
        location = {k: v for k, v in stored.data["location"].items() if k != "live_period"}
        return await self._edit(stored, {"location": location})

    async def edit(self, message: dict[str, Any] | int, text: str) -> dict[str, Any]:
        """Edit one of this user's text messages (an `edited_message` update)."""
        return await self._edit(self._stored(message), {"text": text}, drop=("entities",))

    async def _edit(
        self, stored: StoredMessage, changes: dict[str, Any], drop: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if stored.from_bot or stored.data["from"]["id"] != self.user_id:
            raise AssertionError(f"{self.name} can only edit their own messages")
        stored.update({**changes, "edit_date": _now()}, drop=drop)
        self.emu.emit("edit", stored)
        self.emu.push_update("edited_message", stored.snapshot())
        await asyncio.sleep(0)
        return stored.snapshot()

    async def send_venue(
        self, latitude: float, longitude: float, title: str, address: str
    ) -> dict[str, Any]:
        location = _location(latitude, longitude, None, None)
        venue = {"location": location, "title": title, "address": address}
        return await self._post({"venue": venue, "location": dict(location)})

    async def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        fields = {
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": emoji,
        }
        sticker = self.emu.files.add_media("sticker", _sticker_bytes(), fields, "image/webp")
        return await self._post({"sticker": sticker})

    async def send_voice(self, duration: int = 3, data: bytes | None = None) -> dict[str, Any]:
        voice = self.emu.files.add_media(
            "voice", data or b"OggS" + bytes(256), {"duration": duration}, "audio/ogg"
        )
        return await self._post({"voice": voice})

    async def send_video(
        self, duration: int = 5, width: int = 640, height: int = 360, data: bytes | None = None
    ) -> dict[str, Any]:
        fields = {"duration": duration, "width": width, "height": height}
        video = self.emu.files.add_media(
            "video", data or bytes(1024), fields, "video/mp4", "video.mp4"
        )
        return await self._post({"video": video})

    async def send_contact(
        self,
        phone_number: str = "+15550100",
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Share a contact; by default the user's own (as a `request_contact` button does)."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.name,
            "user_id": user_id if user_id is not None or first_name else self.user_id,
        }
        if last_name:
            contact["last_name"] = last_name
        if contact["user_id"] is None:
            del contact["user_id"]
        return await self._post({"contact": contact})

    async def forward(
        self, text: str, *, origin: Player | None = None, sender_name: str = "Someone"
    ) -> dict[str, Any]:
        """Forward a text written by `origin` (or by a hidden user named `sender_name`)."""
        forward_origin: dict[str, Any] = (
            {"type": "user", "sender_user": dict(origin.user), "date": _now()}
            if origin
            else {"type": "hidden_user", "sender_user_name": sender_name, "date": _now()}
        )
        return await self._post({"text": text, "forward_origin": forward_origin})

    # -- reading -------------------------------------------------------------------------

    def _bot_messages(self) -> list[StoredMessage]:
        return self.chat.bot_messages

    @property
    def messages(self) -> list[BotMessage]:
        """The bot's messages in this chat, oldest first."""
        return [BotMessage(m) for m in self._bot_messages()]

    @property
    def last(self) -> BotMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def unread(self) -> list[BotMessage]:
        return [BotMessage(m) for m in self._bot_messages()[self.read :]]

    @property
    def keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard the chat shows now (None when there is none)."""
        markup = self.chat.keyboard
        if not markup:
            return None
        return [[b if isinstance(b, str) else b["text"] for b in row] for row in markup["keyboard"]]

    def mark_read(self) -> None:
        """Treat every bot message so far as read."""
        self.read = len(self._bot_messages())

    def _failure(self, what: str, timeout: float) -> AssertionError:
        errors = [f"  {c.method}: {c.error}" for c in self.emu.calls if c.ok is False][-5:]
        report = [
            f"{self.name} (chat {self.chat_id}) {what} within {timeout}s.",
            "Chat so far:",
            *("  " + line for line in self.emu.transcript(self.chat_id).splitlines()),
        ]
        if errors:
            report += ["Recent API errors:", *errors]
        return AssertionError("\n".join(report))

    async def expect(self, timeout: float = 5.0) -> BotMessage:
        """The next bot message in this chat this player has not read yet (waits for it)."""
        arrived = await self.emu.signal.wait_for(
            lambda: len(self._bot_messages()) > self.read, timeout
        )
        if not arrived:
            raise self._failure(f"got no new bot message after {self.read} read", timeout)
        message = BotMessage(self._bot_messages()[self.read])
        self.read += 1
        return message

    async def expect_text(self, *parts: str, timeout: float = 5.0) -> BotMessage:
        """`expect()`, then assert each part is in its text."""
        message = await self.expect(timeout)
        missing = [part for part in parts if part not in message.text]
        if missing:
            raise AssertionError(f"{missing} not in the bot's message {message!r}:\n{message.text}")
        return message

    async def wait_for_text(self, *parts: str, timeout: float = 5.0) -> BotMessage:
        """Read bot messages until one contains every part (the others count as read)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.expect(max(deadline - loop.time(), 0.0))
            if all(part in message.text for part in parts):
                return message

    async def expect_nothing(self, duration: float = 0.3) -> None:
        """Assert the bot sends nothing new to this chat for `duration` seconds."""
        arrived = await self.emu.signal.wait_for(
            lambda: len(self._bot_messages()) > self.read, duration
        )
        if arrived:
            raise AssertionError(f"{self.name} expected silence but got: {self.unread}")

    async def expect_edit(self, message: BotMessage, timeout: float = 5.0) -> BotMessage:
        """Wait until `message` is edited again (since it was read or last awaited)."""
        edited = await self.emu.signal.wait_for(
            lambda: len(message.stored.history) > message.seen_edits, timeout
        )
        if not edited:
            raise self._failure(f"saw no edit of message #{message.message_id}", timeout)
        message.seen_edits = len(message.stored.history)
        return message

    # -- pressing ------------------------------------------------------------------------

    def find_button(
        self, label: str, message: BotMessage | None = None
    ) -> tuple[BotMessage, dict[str, Any]]:
        """The button to press: on `message`, else on the newest message that has it."""
        if message is not None:
            return message, message.button(label)
        candidates = [m for m in reversed(self.messages) if m.inline_keyboard]
        for candidate in candidates:
            for row in candidate.inline_keyboard:
                for button in row:
                    if button["text"] == label:
                        return candidate, button
        for candidate in candidates:
            partial = [b for row in candidate.inline_keyboard for b in row if label in b["text"]]
            if len(partial) == 1:
                return candidate, partial[0]
            if partial:
                labels = [b["text"] for b in partial]
                raise AssertionError(f"button {label!r} is ambiguous on {candidate!r}: {labels}")
        shown = {m.message_id: m.buttons for m in candidates}
        raise AssertionError(f"{self.name} sees no button {label!r}; buttons by message: {shown}")

    async def press(
        self,
        label: str,
        message: BotMessage | None = None,
        timeout: float = 5.0,
        *,
        wait: bool = True,
    ) -> CallbackAnswer | None:
        """Press an inline button and wait for the bot's answerCallbackQuery."""
        target, button = self.find_button(label, message)
        if "callback_data" not in button:
            raise AssertionError(f"button {button['text']!r} has no callback data: {button}")
        return await self.press_data(target, button["callback_data"], timeout, wait=wait)

    async def press_data(
        self,
        message: BotMessage | dict[str, Any] | int,
        data: str,
        timeout: float = 5.0,
        *,
        wait: bool = True,
    ) -> CallbackAnswer | None:
        """Send a callback query with exactly `data` from `message`; wait for the answer."""
        stored = self._stored(message)
        self.emu.query_seq += 1
        query = {
            "id": f"{self.user_id}{self.emu.query_seq:08d}",
            "from": dict(self.user),
            "message": stored.snapshot(),
            "chat_instance": str(abs(hash((self.emu.bot_id, self.chat_id))) % 10**18),
            "data": data,
        }
        state = CallbackState(query)
        self.emu.callbacks[query["id"]] = state
        self.emu.push_update("callback_query", query)
        if not wait:
            await asyncio.sleep(0)
            return None
        answered = await self.emu.signal.wait_for(lambda: state.answer is not None, timeout)
        if not answered or state.answer is None:
            raise self._failure(f"got no answer to the callback query {data!r}", timeout)
        return CallbackAnswer(**state.answer)

    def __repr__(self) -> str:
        return f"<Player {self.name} ({self.user_id}) in chat {self.chat_id}>"


class Group:
    """A group or supergroup the bot is in."""

    def __init__(self, emu: BotApiEmulator, state: ChatState) -> None:
        self.emu = emu
        self.chat = state

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def title(self) -> str:
        return self.chat.chat["title"]

    def add(self, member: Player | int, status: str = "member") -> None:
        """Add a user (or set their status: creator, administrator, member, left, kicked)."""
        user_id = member.user_id if isinstance(member, Player) else member
        if user_id not in self.emu.users and user_id != self.emu.bot_id:
            self.emu.add_user(user_id, f"User {user_id}")
        self.chat.members[user_id] = status

    def set_bot_status(self, status: str) -> None:
        self.chat.members[self.emu.bot_id] = status

    @property
    def messages(self) -> list[BotMessage]:
        return [BotMessage(m) for m in self.chat.bot_messages]

    def __repr__(self) -> str:
        return f"<Group {self.title!r} ({self.id})>"


def _location(
    latitude: float, longitude: float, accuracy: float | None, heading: int | None
) -> dict[str, Any]:
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if accuracy is not None:
        location["horizontal_accuracy"] = accuracy
    if heading is not None:
        location["heading"] = heading
    return location


def _now() -> int:
    return int(time.time())


def _sticker_bytes() -> bytes:
    try:
        return sample_image(64, 64, "WEBP")
    except (OSError, KeyError):
        return b"RIFF\x00\x00\x00\x00WEBP"
