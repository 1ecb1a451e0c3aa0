"""The page's HTTP side: the static chat client, a JSON API, and live updates over SSE.

    GET  /                                   the chat page (static/index.html)
    GET  /api/people                         personas (and their language), their chats,
                                             preset places, demo values, the languages
    POST /api/people/{user}/language         {"language"}: switch the person's language, as
                                             their Telegram would say it and with /language
    GET  /api/chats/{chat}/commands?user=ID  the bot's command menu for this person and chat
    GET  /api/chats/{chat}?user=ID           the chat now: messages and reply keyboard
    GET  /api/chats/{chat}/events?user=ID    Server-Sent Events: the chat, then each change
    POST /api/chats/{chat}/messages          {"user", "text", "reply_to"?}: send a text
    POST /api/chats/{chat}/location          {"user", "latitude", "longitude", "accuracy"?}
    POST /api/chats/{chat}/upload            multipart: user, file, as=photo|document, caption?
    POST /api/chats/{chat}/press             {"user", "message_id", "data"}: press a button;
                                             answers with the bot's callback answer
    POST /api/chats/{chat}/web_app_data      {"user", "data", "button_text"}: what the Mini
                                             App of that keyboard button sends (sendData)
    GET  /api/chats/{chat}/files/{file_id}?user=ID   a file of a message in that chat
                                             (pictures inline, anything else to save)
    GET  /api/deliveries                     what the bot delivered (pages, the record) to
                                             the local recorder, newest last
    GET  /api/sticker.png                    the demo activation sticker, to download
    GET  /scanner/                           the scanner Mini App (`sandbox.scanner`)

Users act through the emulator's players, so the bot sees exactly what a Telegram client
would send. Only the seeded people can act and read, only in chats they belong to, and a file
only in a chat where it was sent. Actions are POSTs of JSON (or a multipart upload); the
guard (`sandbox.guard`) answers the API for the page's own origin only. Uploads are decoded
off the event loop, within the bot's pixel limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import TEXTS_DIR
from bot.engine import buttons
from bot.engine.buttons import Language
from bot.texts import Texts
from bot.vision.images import MAX_PIXELS
from sandbox import scanner, seed
from sandbox.guard import FILE_CSP, attachment
from sandbox.views import chat_json, delivery_json, file_ids, keyboard_json, message_json
from testkit.emulator import BotApiEmulator, Player
from testkit.emulator.media import image_size
from testkit.emulator.state import CallbackState, ChatState, StoredMessage
from testkit.fakes.webhook import FakeWebhook

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STICKER_PATH = STATIC_DIR / "demo-sticker.png"
PRESS_TIMEOUT_S = 15.0
HEARTBEAT_S = 15.0
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
NO_CACHE = {"Cache-Control": "no-store"}
INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")  # shown, never run


ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
    504: web.HTTPGatewayTimeout,
}


def _error(status: int, message: str) -> web.HTTPException:
    """A JSON error answer to raise: `{"ok": false, "error": message}`."""
    body = json.dumps({"ok": False, "error": message})
    return ERRORS[status](text=body, content_type="application/json")


class ChatPage:
    """The page's routes over one emulator; `attach(app)` adds them, `close()` ends streams."""

    def __init__(self, emu: BotApiEmulator, recorder: FakeWebhook,
                 extras: dict[str, Any] | None = None) -> None:
        self.emu = emu
        self.recorder = recorder
        self.extras = extras or {}
        self._streams: dict[int, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self._files: dict[int, set[str]] = {}  # chat id -> ids of the files sent there
        texts = Texts(TEXTS_DIR)
        self.languages = {code: texts.name(code) for code in texts.languages}
        emu.add_listener(self._on_event)

    def attach(self, app: web.Application) -> None:
        """Add the page's routes to `app` (before any catch-all route)."""
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC_DIR, append_version=False)
        app.router.add_get("/api/people", self.people)
        app.router.add_post("/api/people/{user}/language", self.set_language)
        app.router.add_get("/api/sticker.png", self.sticker)
        app.router.add_get("/api/deliveries", self.deliveries)
        app.router.add_get("/api/chats/{chat}/files/{file_id}", self.file)
        app.router.add_get("/api/chats/{chat}", self.chat)
        app.router.add_get("/api/chats/{chat}/events", self.events)
        app.router.add_get("/api/chats/{chat}/commands", self.commands)
        app.router.add_post("/api/chats/{chat}/messages", self.send_text)
        app.router.add_post("/api/chats/{chat}/location", self.send_location)
        app.router.add_post("/api/chats/{chat}/upload", self.upload)
        app.router.add_post("/api/chats/{chat}/press", self.press)
        app.router.add_post("/api/chats/{chat}/web_app_data", self.web_app_data)
        scanner.attach(app)

    async def close(self) -> None:
        """End every open event stream (so the server can shut down at once)."""
        self.emu.remove_listener(self._on_event)
        for queues in self._streams.values():
            for queue in queues:
                queue.put_nowait(None)

    # -- who and where -------------------------------------------------------------------

    def _player(self, chat_id: int, user_id: Any) -> Player:
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            raise _error(400, "user is required") from None
        if uid not in {p.id for p in seed.PEOPLE}:
            raise _error(403, "not a sandbox person")
        chat = self.emu.chats.get(chat_id)
        if chat is None:
            raise _error(404, "no such chat")
        if (chat_id > 0 and chat_id != uid) or chat.members.get(uid) in (None, "left", "kicked"):
            raise _error(403, "not a member of this chat")
        return self.emu.player(uid, chat_id)

    @staticmethod
    def _chat_id(request: web.Request) -> int:
        try:
            return int(request.match_info["chat"])
        except ValueError:
            raise _error(404, "no such chat") from None

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise _error(400, "expected a JSON body (Content-Type: application/json)")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _error(400, "expected a JSON body") from None
        if not isinstance(body, dict):
            raise _error(400, "expected a JSON object")
        return body

    # -- pages and files -----------------------------------------------------------------

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=NO_CACHE)

    async def people(self, request: web.Request) -> web.Response:
        body = {
            "bot": {"name": self.emu.bot_user["first_name"],
                    "username": self.emu.bot_user["username"]},
            "people": [{**person, "language": self.emu.users[person["id"]].get("language_code")}
                       for person in seed.directory(self.emu)],
            "languages": [{"code": code, "name": name} for code, name in self.languages.items()],
            "places": [vars(place) for place in seed.PLACES],
            "commands": commands_for(self.emu.commands, None, None),
            **self.extras,
        }
        return web.json_response(body, headers=NO_CACHE)

    async def set_language(self, request: web.Request) -> web.Response:
        """Switch a person to a language: their Telegram's language_code, and /language in
        their chat with the bot (what a person would do), its button pressed."""
        body = await self._json(request)
        code = str(body.get("language") or "")
        if code not in self.languages:
            raise _error(400, f"not a shipped language: {code!r}")
        user = request.match_info["user"]
        player = self._player(int(user) if user.isdigit() else 0, user)
        self.emu.users[player.user_id]["language_code"] = code
        data = buttons.encode(Language(code))
        sent = await player.send("/language")

        def menu() -> StoredMessage | None:
            return next((m for m in reversed(player.chat.bot_messages)
                         if m.message_id > sent["message_id"]
                         and any(b.get("callback_data") == data
                                 for row in m.inline_keyboard or [] for b in row)), None)

        if not await self.emu.signal.wait_for(lambda: menu() is not None, PRESS_TIMEOUT_S):
            raise _error(504, "the bot did not offer the languages")
        found = menu()
        assert found is not None
        await player.press_data(found.message_id, data)
        return web.json_response({"ok": True, "language": code})

    async def sticker(self, request: web.Request) -> web.FileResponse:
        headers = {"Content-Disposition": 'attachment; filename="demo-sticker.png"'}
        return web.FileResponse(STICKER_PATH, headers=headers)

    async def file(self, request: web.Request) -> web.Response:
        """A file, to a member of a chat it was sent in: pictures inline, anything else (or
        with `?download=1`) as an attachment; never a type the browser would run."""
        chat_id = self._chat_id(request)
        self._player(chat_id, request.query.get("user"))
        file_id = request.match_info["file_id"]
        record = self.emu.files.get(file_id)
        if record is None or file_id not in self._files.get(chat_id, ()):
            raise _error(404, "no such file in this chat")
        headers = {"Cache-Control": "private, max-age=86400", "Content-Security-Policy": FILE_CSP}
        content_type = record.mime_type if record.mime_type in INLINE_TYPES else None
        if content_type is None or request.query.get("download"):
            headers["Content-Disposition"] = attachment(
                record.file_name or record.file_path.rsplit("/", 1)[-1])
        return web.Response(body=record.data, headers=headers,
                            content_type=content_type or "application/octet-stream")

    async def deliveries(self, request: web.Request) -> web.Response:
        """What support's Slack, PagerDuty and the network's record endpoint would have
        received: the local recorder's deliveries."""
        body = [delivery_json(r) for r in self.recorder.received]
        return web.json_response(body, headers=NO_CACHE)

    # -- reading -------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        chat_id = self._chat_id(request)
        player = self._player(chat_id, request.query.get("user"))
        return web.json_response(chat_json(player.chat), headers=NO_CACHE)

    async def events(self, request: web.Request) -> web.StreamResponse:
        chat_id = self._chat_id(request)
        player = self._player(chat_id, request.query.get("user"))
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._streams.setdefault(chat_id, set()).add(queue)
        try:
            await _send_event(response, {"type": "chat", "chat": chat_json(player.chat)})
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    continue
                if event is None:
                    break
                await _send_event(response, event)
        except ConnectionResetError:
            pass
        finally:
            self._streams[chat_id].discard(queue)
        return response

    async def commands(self, request: web.Request) -> web.Response:
        chat_id = self._chat_id(request)
        player = self._player(chat_id, request.query.get("user"))
        found = commands_for(self.emu.commands, player.chat, player.user_id)
        return web.json_response(found, headers=NO_CACHE)

    def _on_event(self, event: str, payload: Any) -> None:
        if event in ("message", "edit") and isinstance(payload, StoredMessage):
            self._files.setdefault(payload.chat_id, set()).update(file_ids(payload.data))
            chat = self.emu.chats.get(payload.chat_id)
            if chat is None:
                return
            self._publish(chat.id, {"type": "message", "message": message_json(payload),
                                    "keyboard": keyboard_json(chat)})

    def _publish(self, chat_id: int, event: dict[str, Any]) -> None:
        for queue in self._streams.get(chat_id, ()):
            queue.put_nowait(event)

    # -- acting --------------------------------------------------------------------------

    async def send_text(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        player = self._player(self._chat_id(request), body.get("user"))
        text = str(body.get("text") or "").strip()
        if not text:
            raise _error(400, "the text is empty")
        if len(text) > 4096:
            raise _error(400, "the text is longer than 4096 characters")
        reply_to = body.get("reply_to")
        if reply_to is not None:
            try:
                reply_to = int(reply_to)
            except (TypeError, ValueError):
                raise _error(400, "reply_to must be a message id") from None
            if player.chat.find(reply_to) is None:
                raise _error(400, "the message to reply to is gone")
        sent = await player.send(text, reply_to=reply_to)
        return web.json_response({"ok": True, "message_id": sent["message_id"]})

    async def send_location(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        player = self._player(self._chat_id(request), body.get("user"))
        try:
            latitude, longitude = float(body["latitude"]), float(body["longitude"])
            accuracy = body.get("accuracy")
            accuracy = float(accuracy) if accuracy not in (None, "") else None
        except (KeyError, TypeError, ValueError):
            raise _error(400, "latitude and longitude must be numbers") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise _error(400, "latitude must be within ±90 and longitude within ±180")
        if accuracy is not None and not 0 <= accuracy <= 1500:
            raise _error(400, "accuracy must be between 0 and 1500 metres")
        sent = await player.send_location(latitude, longitude, horizontal_accuracy=accuracy)
        return web.json_response({"ok": True, "message_id": sent["message_id"]})

    async def upload(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise _error(400, "expected a multipart form")
        form = await request.post()
        player = self._player(self._chat_id(request), form.get("user"))
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise _error(400, "no file in the form")
        data = upload.file.read(MAX_UPLOAD_BYTES + 1)
        if not data:
            raise _error(400, "the file is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise _error(400, "the file is larger than 50 MB")
        caption = str(form.get("caption") or "") or None
        if form.get("as") == "document":
            content = {"document": await asyncio.to_thread(
                self._store_document, data, upload.filename or "file", upload.content_type)}
        else:
            content = {"photo": await asyncio.to_thread(self._store_photo, data)}
        if caption:
            content["caption"] = caption
        sent = self.emu.add_message(player.chat, content, sender=player.user)
        self.emu.push_update("message", sent.snapshot())
        return web.json_response({"ok": True, "message_id": sent.message_id})

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """(In a worker thread.) Telegram's sizes of a photo, within the bot's pixel limit."""
        _check_pixels(data, required=True)
        try:
            return self.emu.files.add_photo(data)
        except ValueError:
            raise _error(400, "this is not a picture: send it as a file instead") from None

    def _store_document(self, data: bytes, name: str, mime_type: str | None) -> dict[str, Any]:
        """(In a worker thread.) A file as sent, with a thumbnail when it is a picture."""
        _check_pixels(data, required=False)
        return self.emu.files.add_document(data, name, mime_type)

    async def press(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        player = self._player(self._chat_id(request), body.get("user"))
        try:
            message_id, data = int(body["message_id"]), str(body["data"])
        except (KeyError, TypeError, ValueError):
            raise _error(400, "message_id and data are required") from None
        message = player.chat.find(message_id)
        if message is None:
            raise _error(404, "that message is gone")
        buttons = [b for row in message.inline_keyboard or [] for b in row]
        if not any(b.get("callback_data") == data for b in buttons):
            raise _error(400, "that button is no longer there")
        before = set(self.emu.callbacks)
        await player.press_data(message_id, data, wait=False)
        state = [s for k, s in self.emu.callbacks.items() if k not in before
                 and s.query["from"]["id"] == player.user_id and s.query["data"] == data][-1]
        answered = await self.emu.signal.wait_for(lambda: state.answer is not None,
                                                  PRESS_TIMEOUT_S)
        return web.json_response({"ok": True, "answered": answered, **_answer(state)})


    async def web_app_data(self, request: web.Request) -> web.Response:
        """What the Mini App opened by a keyboard button sent (`sendData`), as Telegram
        delivers it: a `web_app_data` message."""
        body = await self._json(request)
        player = self._player(self._chat_id(request), body.get("user"))
        data, button = body.get("data"), body.get("button_text")
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 4096:
            raise _error(400, "data must be text of 1 to 4096 bytes")
        try:
            sent = await player.send_web_app_data(data, str(button) if button else None)
        except AssertionError:
            raise _error(400, "that keyboard button is no longer there") from None
        return web.json_response({"ok": True, "message_id": sent["message_id"]})


def _check_pixels(data: bytes, required: bool) -> None:
    """Refuse a picture larger than the bot accepts (a decompression bomb) before decoding
    it; `required`: refuse what is no picture at all."""
    size = image_size(data)
    if size is None and required:
        raise _error(400, "this is not a picture: send it as a file instead")
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise _error(400, f"the picture has more than {MAX_PIXELS // 1_000_000} megapixels")


def commands_for(
    menus: dict[tuple[str, str], list[dict[str, Any]]], chat: ChatState | None,
    user_id: int | None, language: str = "en",
) -> list[dict[str, Any]]:
    """The command menu a user sees in a chat, by the Bot API's scope order (most specific
    first, then `all_private_chats` / `all_group_chats`, then `default`); a menu in the
    user's language wins over the one for all languages."""
    wanted: list[dict[str, Any]] = []
    if chat is not None:
        if chat.id > 0:
            wanted += [{"type": "chat", "chat_id": chat.id}, {"type": "all_private_chats"}]
        else:
            admin = chat.members.get(user_id or 0) in ("administrator", "creator")
            wanted.append({"type": "chat_member", "chat_id": chat.id, "user_id": user_id})
            if admin:
                wanted.append({"type": "chat_administrators", "chat_id": chat.id})
            wanted.append({"type": "chat", "chat_id": chat.id})
            if admin:
                wanted.append({"type": "all_chat_administrators"})
            wanted.append({"type": "all_group_chats"})
    wanted.append({"type": "default"})
    by_scope: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for (scope, lang), commands in menus.items():
        by_scope.setdefault(_scope_key(json.loads(scope)), {})[lang] = commands
    for scope in wanted:
        menu = by_scope.get(_scope_key(scope), {})
        found = menu.get(language) or menu.get("")
        if found:
            return [dict(c) for c in found]
    return []


def _scope_key(scope: dict[str, Any]) -> str:
    """A scope with its ids as text (the API accepts `chat_id` as a number or a string)."""
    return json.dumps({k: str(v) for k, v in scope.items()}, sort_keys=True)


def _answer(state: CallbackState) -> dict[str, Any]:
    answer = state.answer or {}
    return {"text": answer.get("text"), "show_alert": bool(answer.get("show_alert")),
            "url": answer.get("url")}


async def _send_event(response: web.StreamResponse, event: dict[str, Any]) -> None:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    await response.write(f"data: {data}\n\n".encode())

