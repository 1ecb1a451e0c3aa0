"""The Bot API methods: each `api_<methodName>(params)` returns the `result` or raises ApiError."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from testkit.emulator.core import EmulatorCore
from testkit.emulator.files import TYPE_NAME, FileRecord
from testkit.emulator.html import HtmlError, parse_html, strip_text, utf16_len
from testkit.emulator.media import image_size
from testkit.emulator.params import Params, Upload
from testkit.emulator.state import ApiError, ChatState, StoredMessage, bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_URL = re.compile(r"^https?://", re.IGNORECASE)


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    """Apply `parse_mode` (HTML only) or explicit entities, then trim like Telegram."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            text, found = parse_html(text)
        except HtmlError as exc:
            raise bad_request(f"can't parse entities: {exc}") from exc
    elif mode in ("markdown", "markdownv2"):
        found = []  # not parsed by the emulator: the text is kept as sent
    elif mode:
        raise bad_request("unsupported parse_mode")
    else:
        found = [dict(e) for e in entities or []]
    return strip_text(text, found)


def caption_content(
    caption: str | None, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """`caption` and `caption_entities` for a media message (empty when there is none)."""
    if not caption:
        return {}
    text, found = format_text(caption, parse_mode, entities)
    if utf16_len(text) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    content: dict[str, Any] = {"caption": text} if text else {}
    if found and text:
        content["caption_entities"] = found
    return content


def validate_markup(markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Check a reply_markup as the API does; return it (None when absent)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text is not specified")
            if not any(action in button for action in INLINE_ACTIONS):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT
            ):
                raise bad_request("BUTTON_DATA_INVALID")
        return markup
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for button in (b for row in rows for b in row):
            if not isinstance(button, str | dict) or (
                isinstance(button, dict) and not isinstance(button.get("text"), str)
            ):
                raise bad_request("can't parse keyboard button: Text is not specified")
        return markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and markup.get("inline_keyboard") else None


class ApiMethods(EmulatorCore):
    """Bot API methods on top of the emulator state; names are the API's (case-insensitive)."""

    # -- shared checks -------------------------------------------------------------------

    def _chat(self, p: Params, name: str = "chat_id", *, sending: bool = True) -> ChatState:
        chat = self.resolve_chat(p.chat_id(name))
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if sending and chat.members.get(self.bot_id) in ("left", "kicked"):
            raise ApiError(403, "Forbidden: bot is not a member of the chat")
        return chat

    def _target(self, p: Params, missing: str) -> tuple[ChatState, StoredMessage]:
        if p.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")
        chat = self._chat(p, sending=False)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.find(message_id)
        if message is None:
            raise bad_request(missing)
        return chat, message

    def _reply_to(self, chat: ChatState, p: Params) -> StoredMessage | None:
        params = p.get_json("reply_parameters") or {}
        message_id = params.get("message_id") or p.get_int("reply_to_message_id")
        if not message_id:
            return None
        message = chat.find(int(message_id))
        if message is None and not (
            params.get("allow_sending_without_reply") or p.get_bool("allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        return message

    def _send(
        self, chat: ChatState, p: Params, content: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        markup = validate_markup(p.get_json("reply_markup"))
        self._check_web_apps(chat, markup)
        reply_to = self._reply_to(chat, p)
        message = self.add_message(chat, content, markup=markup, reply_to=reply_to, **kwargs)
        return message.snapshot()

    def _check_web_apps(self, chat: ChatState, markup: dict[str, Any] | None) -> None:
        """Mini App buttons as the API checks them: in private chats only, an https URL (plain
        http too in the test environment)."""
        inline = bool(markup and "inline_keyboard" in markup)
        rows = (markup or {}).get("inline_keyboard" if inline else "keyboard") or []
        for button in (b for row in rows for b in row if isinstance(b, dict) and "web_app" in b):
            url = str((button.get("web_app") or {}).get("url") or "")
            if chat.chat["type"] != "private":
                raise bad_request("BUTTON_TYPE_INVALID")
            schemes = ("https://", "http://") if self.test_environment else ("https://",)
            if not url.lower().startswith(schemes) or len(url) <= len("https://"):
                where = "inline keyboard button" if inline else "keyboard button"
                raise bad_request(f"{where} Web App URL '{url}' is invalid: "
                                  "Only HTTPS links are allowed")

    def _file_ref(self, value: str | None, kind: str) -> FileRecord:
        if not value:
            raise bad_request(f"there is no {kind} in the request")
        if _URL.match(value):
            raise bad_request("failed to get HTTP URL content")
        record = self.files.get(value)
        if record is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        own = "photo" if record.kind == "thumbnail" else record.kind
        if own != kind:
            raise bad_request(f"can't use file of type {TYPE_NAME[own]} as {TYPE_NAME[kind]}")
        return record

    def _photo(self, value: Upload | str | None) -> list[dict[str, Any]]:
        if not isinstance(value, Upload):
            record = self._file_ref(value, "photo")
            return record.photo or [record.photo_size_json()]
        if not value.data:
            raise bad_request("file must be non-empty")
        size = image_size(value.data)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        try:
            return self.files.add_photo(value.data)
        except ValueError as exc:
            raise bad_request("IMAGE_PROCESS_FAILED") from exc

    def _document(self, value: Upload | str | None) -> dict[str, Any]:
        if not isinstance(value, Upload):
            return self.files.document_json(self._file_ref(value, "document"))
        if not value.data:
            raise bad_request("file must be non-empty")
        return self.files.add_document(value.data, value.filename, value.content_type)

    def _location(self, p: Params) -> dict[str, Any]:
        latitude = p.get_float("latitude", required=True)
        longitude = p.get_float("longitude", required=True)
        assert latitude is not None and longitude is not None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong location specified")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        for name in ("horizontal_accuracy", "heading", "proximity_alert_radius"):
            value = p.get_float(name)
            if value is not None:
                location[name] = int(value) if name != "horizontal_accuracy" else value
        return location

    # -- getting updates, bot settings ---------------------------------------------------

    async def api_getMe(self, p: Params) -> Any:
        return dict(self.bot_user)

    async def api_getUpdates(self, p: Params) -> Any:
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = max(p.get_float("timeout", 0.0) or 0.0, 0.0)
        return await self.fetch_updates(
            p.get_int("offset"), limit, timeout, p.get_json("allowed_updates")
        )

    @staticmethod
    def _commands_key(p: Params) -> tuple[str, str]:
        scope = p.get_json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.get_str("language_code") or ""

    async def api_setMyCommands(self, p: Params) -> Any:
        commands = p.get_json("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[self._commands_key(p)] = [dict(c) for c in commands]
        return True

    # -- text messages -------------------------------------------------------------------

    async def api_sendMessage(self, p: Params) -> Any:
        chat = self._chat(p)
        raw = p.get_str("text") or ""
        parse_mode = p.get_str("parse_mode")
        text, entities = format_text(raw, parse_mode, p.get_json("entities"))
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if p.has("link_preview_options"):
            content["link_preview_options"] = p.get_json("link_preview_options")
        return self._send(chat, p, content, raw_text=raw, parse_mode=parse_mode)

    async def api_editMessageText(self, p: Params) -> Any:
        _, message = self._target(p, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if "text" not in message.data:
            raise bad_request("there is no text in the message to edit")
        raw = p.get_str("text") or ""
        parse_mode = p.get_str("parse_mode")
        text, entities = format_text(raw, parse_mode, p.get_json("entities"))
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        markup = _inline(validate_markup(p.get_json("reply_markup"), inline_only=True))
        data = message.data
        if (
            text == data["text"]
            and entities == data.get("entities", [])
            and markup == data.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        changes: dict[str, Any] = {"text": text, "edit_date": self._now()}
        if entities:
            changes["entities"] = entities
        if markup:
            changes["reply_markup"] = markup
        message.update(changes, drop=("entities", "reply_markup"))
        message.raw_text, message.parse_mode = raw, parse_mode
        self.emit("edit", message)
        return message.snapshot()

    async def api_editMessageReplyMarkup(self, p: Params) -> Any:
        _, message = self._target(p, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        markup = _inline(validate_markup(p.get_json("reply_markup"), inline_only=True))
        if markup == message.data.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        changes: dict[str, Any] = {"edit_date": self._now()}
        if markup:
            changes["reply_markup"] = markup
        message.update(changes, drop=("reply_markup",))
        self.emit("edit", message)
        return message.snapshot()

    async def api_answerCallbackQuery(self, p: Params) -> Any:
        state = self.callbacks.get(p.get_str("callback_query_id") or "")
        if state is None or state.answer is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        state.answer = {
            "text": text,
            "show_alert": p.get_bool("show_alert"),
            "url": p.get_str("url"),
            "cache_time": p.get_int("cache_time", 0),
        }
        self.emit("callback_answer", state)
        return True

    # -- media ---------------------------------------------------------------------------

    async def api_sendPhoto(self, p: Params) -> Any:
        return self._send_captioned(p, {"photo": self._photo(p.file("photo"))})

    async def api_sendDocument(self, p: Params) -> Any:
        return self._send_captioned(p, {"document": self._document(p.file("document"))})

    def _send_captioned(self, p: Params, content: dict[str, Any]) -> Any:
        """Send a media message with its optional caption (parsed like a text)."""
        chat = self._chat(p)
        caption = caption_content(
            p.get_str("caption"), p.get_str("parse_mode"), p.get_json("caption_entities")
        )
        return self._send(
            chat, p, {**content, **caption}, raw_text=p.get_str("caption"),
            parse_mode=p.get_str("parse_mode"),
        )

    async def api_sendMediaGroup(self, p: Params) -> Any:
        chat = self._chat(p)
        media = p.get_json("media")
        if not isinstance(media, list):
            raise bad_request("expected an Array of InputMedia")
        if len(media) < 2:
            raise bad_request("too few messages to send as an album")
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        kinds = {item.get("type") if isinstance(item, dict) else None for item in media}
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise bad_request("can't parse InputMedia: unsupported media type")
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise bad_request("Can't use the media of the specified type in the album")
        contents = []
        for item in media:
            value = p.attached(item.get("media"))
            kind = item["type"]
            caption = caption_content(
                item.get("caption"), item.get("parse_mode"), item.get("caption_entities")
            )
            if kind == "photo":
                body: Any = self._photo(value)
            elif kind == "document":
                body = self._document(value)
            elif isinstance(value, Upload):
                body = self.files.add_media(
                    kind,
                    value.data,
                    {
                        "duration": int(item.get("duration") or 0),
                        **(
                            {
                                "width": int(item.get("width") or 0),
                                "height": int(item.get("height") or 0),
                            }
                            if kind == "video"
                            else {}
                        ),
                    },
                    mime_type=value.content_type,
                    file_name=value.filename,
                )
            else:
                body = self._file_ref(value, kind).extra.get("json", {})
            contents.append(({kind: body, **caption}, item.get("caption")))
        self.media_group_seq += 1
        group_id = str(13_000_000_000_000_000 + self.media_group_seq)
        reply_to = self._reply_to(chat, p)
        sent = []
        for content, raw in contents:
            content["media_group_id"] = group_id
            message = self.add_message(chat, content, raw_text=raw, reply_to=reply_to)
            sent.append(message.snapshot())
        return sent

    async def api_sendVenue(self, p: Params) -> Any:
        chat = self._chat(p)
        location = self._location(p)
        venue: dict[str, Any] = {
            "location": location,
            "title": p.get_str("title", required=True),
            "address": p.get_str("address", required=True),
        }
        for name in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if p.has(name):
                venue[name] = p.get_str(name)
        return self._send(chat, p, {"venue": venue, "location": dict(location)})

    async def api_getFile(self, p: Params) -> Any:
        record = self.files.get(p.get_str("file_id") or "")
        if record is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if self.download_limit is not None and record.file_size > self.download_limit:
            raise bad_request("file is too big")
        return record.file_json()

    @staticmethod
    def _now() -> int:
        return int(time.time())
