"""What the page is sent: messages and keyboards as plain JSON, formatted text as safe HTML,
and the deliveries the local recorder received.

The page never sees raw Bot API markup it would have to interpret: text entities are turned
into a few escaped tags here (`<b>`, `<a>`, `<code>`, ...), links only for http(s) and mail.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from typing import Any

from testkit.emulator.state import ChatState, StoredMessage
from testkit.fakes.webhook import Received

SIMPLE_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
    "mention": ('<span class="mention">', "</span>"),
    "text_mention": ('<span class="mention">', "</span>"),
    "bot_command": ('<span class="command">', "</span>"),
}
SAFE_SCHEMES = ("http://", "https://", "mailto:")
TG_USER = re.compile(r"^tg://user\?id=(\d+)$")
OTHER_KINDS = ("sticker", "voice", "video", "video_note", "audio", "animation", "contact",
               "poll", "dice")


def _link(url: str) -> tuple[str, str]:
    if url.lower().startswith("tg://"):  # a mention or a Telegram-only link: nothing to open
        return '<span class="mention">', "</span>"
    if not url.lower().startswith(SAFE_SCHEMES):
        url = "https://" + url
    href = html.escape(url, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">', "</a>"


def _tags(entity: dict[str, Any], covered: str) -> tuple[str, str]:
    kind = entity.get("type", "")
    if kind == "text_link":
        return _link(entity.get("url", ""))
    if kind == "url":
        return _link(covered)
    if kind == "email":
        return _link("mailto:" + covered)
    return SIMPLE_TAGS.get(kind, ("", ""))


def entities_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """`text` escaped, with its entities (UTF-16 offsets) as nested HTML tags."""
    units = text.encode("utf-16-le")

    def piece(start: int, end: int) -> str:
        return units[start * 2 : end * 2].decode("utf-16-le", errors="replace")

    spans = []
    for entity in entities or []:
        start, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        if length > 0:
            opening, closing = _tags(entity, piece(start, start + length))
            if opening:
                spans.append((start, start + length, opening, closing))
    spans.sort(key=lambda s: (s[0], -s[1]))
    cuts = sorted({0, len(units) // 2, *(s[0] for s in spans), *(s[1] for s in spans)})
    out: list[str] = []
    stack: list[tuple[int, int, str, str]] = []
    pending = list(spans)
    for i, at in enumerate(cuts):
        while stack and stack[-1][1] <= at:
            out.append(stack.pop()[3])
        if any(s[1] <= at for s in stack):  # overlapping entities: close, then reopen
            reopen = [s for s in stack if s[1] > at]
            out.extend(s[3] for s in reversed(stack))
            stack = []
            for s in reopen:
                out.append(s[2])
                stack.append(s)
        while pending and pending[0][0] == at:
            span = pending.pop(0)
            out.append(span[2])
            stack.append(span)
        if i + 1 < len(cuts):
            out.append(html.escape(piece(at, cuts[i + 1]), quote=False))
    out.extend(s[3] for s in reversed(stack))
    return "".join(out)


def _name(user: dict[str, Any]) -> str:
    return " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)


def _sender(message: StoredMessage) -> dict[str, Any]:
    user = message.data.get("from") or {}
    return {"id": user.get("id"), "name": _name(user), "is_bot": message.from_bot}


def _photo(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    largest = max(sizes, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0))
    fitting = [s for s in sizes if max(s.get("width") or 0, s.get("height") or 0) <= 800]
    preview = max(fitting, key=lambda s: s.get("width") or 0) if fitting else largest
    return {"file_id": largest["file_id"], "preview_id": preview["file_id"],
            "width": largest.get("width"), "height": largest.get("height")}


def _inline_keyboard(data: dict[str, Any]) -> list[list[dict[str, Any]]]:
    rows = (data.get("reply_markup") or {}).get("inline_keyboard") or []
    return [
        [{k: b[k] for k in ("text", "callback_data", "url", "copy_text") if k in b} for b in row]
        for row in rows
    ]


def message_json(message: StoredMessage) -> dict[str, Any]:
    """One message as the page shows it."""
    data = message.data
    text = data.get("text") if "text" in data else data.get("caption")
    entities = data.get("entities") if "text" in data else data.get("caption_entities")
    view: dict[str, Any] = {
        "id": message.message_id,
        "chat_id": message.chat_id,
        "from": _sender(message),
        "date": data.get("date"),
        "html": entities_html(text, entities) if text else "",
        "edited": bool(message.history),
        "buttons": _inline_keyboard(data),
    }
    if data.get("media_group_id"):
        view["album"] = data["media_group_id"]
    if data.get("photo"):
        view["photo"] = _photo(data["photo"])
    if data.get("document"):
        doc = data["document"]
        view["document"] = {
            "file_id": doc["file_id"], "name": doc.get("file_name") or "file",
            "mime_type": doc.get("mime_type"), "size": doc.get("file_size"),
            "thumb_id": (doc.get("thumbnail") or {}).get("file_id"),
        }
    if data.get("location"):
        loc = data["location"]
        view["location"] = {k: loc[k] for k in ("latitude", "longitude", "horizontal_accuracy",
                                                "live_period") if k in loc}
    if data.get("venue"):
        view["venue"] = {"title": data["venue"].get("title"),
                         "address": data["venue"].get("address")}
    if data.get("web_app_data"):
        view["web_app_data"] = {"button_text": data["web_app_data"].get("button_text")}
    other = next((kind for kind in OTHER_KINDS if kind in data), None)
    if other:
        view["other"] = other
    replied = data.get("reply_to_message")
    if replied:
        view["reply_to"] = {"id": replied["message_id"],
                            "name": _name(replied.get("from") or {}),
                            "text": (replied.get("text") or replied.get("caption") or "")[:80]}
    markup = message.markup or {}
    if markup.get("force_reply"):
        view["force_reply"] = {"selective": bool(markup.get("selective")),
                               "users": addressed_users(data, entities)}
    return view


def addressed_users(data: dict[str, Any], entities: list[dict[str, Any]] | None) -> list[int]:
    """Whom a selective force-reply is for: users mentioned by id, and the replied-to sender."""
    users = []
    for entity in entities or []:
        if entity.get("type") == "text_mention" and entity.get("user"):
            users.append(int(entity["user"]["id"]))
        link = entity.get("url") if entity.get("type") == "text_link" else None
        match = TG_USER.match(link or "")
        if match:
            users.append(int(match.group(1)))
    replied = data.get("reply_to_message") or {}
    if replied.get("from", {}).get("id"):
        users.append(int(replied["from"]["id"]))
    return users


def keyboard_json(chat: ChatState) -> dict[str, Any] | None:
    """The reply keyboard the chat shows now: rows of buttons, and whether it hides on use."""
    markup = chat.keyboard
    if not markup:
        return None
    rows = [
        [{"text": b} if isinstance(b, str) else
         {k: b[k] for k in ("text", "request_location", "request_contact", "web_app") if k in b}
         for b in row]
        for row in markup.get("keyboard", [])
    ]
    return {"rows": rows, "one_time": bool(markup.get("one_time_keyboard")),
            "placeholder": markup.get("input_field_placeholder")}


def chat_json(chat: ChatState) -> dict[str, Any]:
    """A chat with its messages and its reply keyboard."""
    return {
        "id": chat.id,
        "title": chat.chat.get("title") or chat.chat.get("first_name") or str(chat.id),
        "type": chat.chat["type"],
        "messages": [message_json(m) for m in chat.messages],
        "keyboard": keyboard_json(chat),
    }


def file_ids(value: Any) -> Iterator[str]:
    """Every file id in a message's data (photo sizes, documents, thumbnails, replies)."""
    if isinstance(value, dict):
        if isinstance(value.get("file_id"), str):
            yield value["file_id"]
        for item in value.values():
            yield from file_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_ids(item)


RECORDER_KINDS = {
    "/slack": "Slack (support's channel)",
    "/pagerduty": "PagerDuty",
    "/record": "the network's record endpoint",
}


def delivery_json(received: Received) -> dict[str, Any]:
    """One delivery as the page lists it: where it would have gone, when, a one-line
    summary, and the JSON body as sent."""
    body = received.body if isinstance(received.body, dict) else {}
    if received.path == "/slack":
        summary = body.get("text")
    elif received.path == "/pagerduty":
        summary = f"{body.get('event_action', '?')}: " + str(
            (body.get("payload") or {}).get("summary") or f"job #{body.get('dedup_key')}")
    else:
        summary = f"job #{body.get('job_id', '?')}"
    return {
        "to": RECORDER_KINDS.get(received.path, received.path),
        "at": int(time.time() - (time.monotonic() - received.at)),
        "status": received.status,
        "summary": str(summary or ""),
        "body": received.body,
    }
