"""Telegram-flavoured HTML: parse `parse_mode="HTML"` text into plain text and entities.

Follows TDLib's parser (which the Bot API uses): only the tags Telegram supports, only the
named entities `&lt; &gt; &amp; &quot;` plus numeric ones (an unknown `&...` stays literal),
any other `<` is an error. Entity offsets and lengths are in UTF-16 code units, as in the API.
"""

from __future__ import annotations

import re
from typing import Any

TAGS = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([a-zA-Z]+));")
_MENTION_URL = re.compile(r"^tg://user\?id=(\d+)$")
STRIP_CHARS = " \t\r\n"
_MARKUP = re.compile(r"[&<]")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; the message matches TDLib's wording."""


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units (what Telegram counts)."""
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the HTML entity at `pos` (a `&`): (character, characters consumed) or None."""
    match = _ENTITY.match(text, pos)
    if not match:
        return None
    dec, hexa, name = match.groups()
    if name is not None:
        char = NAMED_ENTITIES.get(name)
        return (char, match.end() - pos) if char else None
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - pos


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8"))


class _Parser:
    """One pass over the input, building text, entities and a stack of open tags."""

    def __init__(self, text: str) -> None:
        self.src = text
        self.out: list[str] = []
        self.pos16 = 0
        self.entities: list[dict[str, Any]] = []
        self.stack: list[tuple[str, str, int]] = []  # (tag, argument, utf16 offset)

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.pos16 += utf16_len(chars)

    def error(self, message: str) -> HtmlError:
        return HtmlError(message)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        src, i, n = self.src, 0, len(self.src)
        while i < n:
            char = src[i]
            if char == "&":
                decoded = _decode_entity(src, i)
                if decoded is None:
                    self.emit("&")
                    i += 1
                else:
                    self.emit(decoded[0])
                    i += decoded[1]
            elif char != "<":
                stop = _MARKUP.search(src, i)
                end = stop.start() if stop else n
                self.emit(src[i:end])  # plain text up to the next tag or entity, at once
                i = end
            elif i + 1 < n and src[i + 1] == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise self.error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def start_tag(self, begin: int) -> int:
        src, n = self.src, len(self.src)
        offset = _byte_offset(src, begin)
        i = begin + 1
        while i < n and not src[i].isspace() and src[i] != ">":
            i += 1
        if i >= n:
            raise self.error(f"Unclosed start tag at byte offset {offset}")
        tag = src[begin + 1 : i].lower()
        if tag not in TAGS:
            raise self.error(f'Unsupported start tag "{tag}" at byte offset {offset}')
        argument = ""
        while True:
            while i < n and src[i].isspace():
                i += 1
            if i >= n:
                raise self.error(f'Unclosed start tag "{tag}" at byte offset {offset}')
            if src[i] == ">":
                break
            name_begin = i
            while i < n and not src[i].isspace() and src[i] not in "=>":
                i += 1
            name = src[name_begin:i].lower()
            if not name:
                raise self.error(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
            while i < n and src[i].isspace():
                i += 1
            if i < n and src[i] != "=":
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                    continue
                raise self.error(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {offset}'
                )
            i += 1
            while i < n and src[i].isspace():
                i += 1
            if i >= n:
                raise self.error(f'Unclosed start tag "{tag}" at byte offset {offset}')
            value, i = self.attribute_value(i)
            argument = self.argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            raise self.error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        self.stack.append((tag, argument, self.pos16))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        src, n = self.src, len(self.src)
        if src[i] not in "'\"":
            begin = i
            while i < n and (src[i].isalnum() or src[i] in ".-"):
                i += 1
            if i < n and not src[i].isspace() and src[i] != ">":
                raise self.error(
                    f"Unexpected end of name token at byte offset {_byte_offset(src, begin)}"
                )
            return src[begin:i].lower(), i
        quote = src[i]
        i += 1
        value: list[str] = []
        while i < n and src[i] != quote:
            decoded = _decode_entity(src, i) if src[i] == "&" else None
            if decoded:
                value.append(decoded[0])
                i += decoded[1]
            else:
                value.append(src[i])
                i += 1
        if i < n:
            i += 1
        return "".join(value), i

    @staticmethod
    def argument(tag: str, name: str, value: str, current: str) -> str:
        if tag == "a" and name == "href":
            return value
        if tag == "code" and name == "class" and value.startswith("language-"):
            return value[len("language-") :]
        if tag == "span" and name == "class" and value.startswith("tg-"):
            return value[len("tg-") :]
        if tag == "tg-emoji" and name == "emoji-id":
            return value
        if tag == "blockquote" and name == "expandable":
            return "expandable"
        return current

    def end_tag(self, begin: int) -> int:
        src, n = self.src, len(self.src)
        offset = _byte_offset(src, begin)
        if not self.stack:
            raise self.error(f"Unexpected end tag at byte offset {offset}")
        i = begin + 2
        while i < n and not src[i].isspace() and src[i] != ">":
            i += 1
        name = src[begin + 2 : i].lower()
        while i < n and src[i].isspace():
            i += 1
        if i >= n or src[i] != ">":
            raise self.error(f"Unclosed end tag at byte offset {offset}")
        tag, argument, start = self.stack.pop()
        if name and name != tag:
            raise self.error(
                f'Unmatched end tag at byte offset {offset}, expected "</{tag}>", found "</{name}>"'
            )
        self.close(tag, argument, start, self.pos16 - start)
        return i + 1

    def close(self, tag: str, argument: str, offset: int, length: int) -> None:
        if length <= 0:
            return
        entity: dict[str, Any] = {"type": TAGS[tag], "offset": offset, "length": length}
        if tag == "a":
            url = argument or slice16("".join(self.out), offset, length)
            mention = _MENTION_URL.match(url)
            if mention:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
            else:
                entity["url"] = url
        elif tag == "pre":
            last = self.entities[-1] if self.entities else None
            if (
                last
                and last["type"] == "code"
                and (last["offset"], last["length"])
                == (
                    offset,
                    length,
                )
            ):
                self.entities.pop()
                if last.get("language"):
                    entity["language"] = last["language"]
        elif tag == "code" and argument:
            entity["language"] = argument
        elif tag == "blockquote" and argument == "expandable":
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            if not argument:
                return
            entity["custom_emoji_id"] = argument
        self.entities.append(entity)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities); raises HtmlError when malformed."""
    text, entities = _Parser(text).run()
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return text, entities


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim leading/trailing whitespace as Telegram does, clipping entities to match."""
    stripped = text.strip(STRIP_CHARS)
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip(STRIP_CHARS))])
    end = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        stop = min(entity["offset"] + entity["length"] - lead, end)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


def slice16(text: str, offset: int, length: int) -> str:
    """The part of `text` an entity covers (offsets in UTF-16 units)."""
    data = text.encode("utf-16-le")
    return data[offset * 2 : (offset + length) * 2].decode("utf-16-le")
