"""Posting a hand-off to the support chat, recoverably.

A hand-off's message has parts: its text (one or more messages, the buttons on the last),
the photos as one album, the pin as a venue. Each part's message id is stored as soon as it
is sent, and the hand-off counts as posted once every part is, so a post interrupted by a
crash or a Telegram outage is completed later (the catch-up) without posting any part
twice. One post of a hand-off runs at a time (`lock`).
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.engine.interaction import Reply

if TYPE_CHECKING:
    from bot.store import Handoff
    from bot.support.handoff import Support

MESSAGE_LIMIT = 4096
TAG = re.compile(r"<[^>]+>")
PHOTO = "photo"  # the kind of the steps whose photos support sees
GIVEN_UP = 0  # the stored message id of a part Telegram refused for good


def address_text(address: Any) -> str:
    """An address answer as one line (what the geocoder labelled, or what was typed)."""
    if isinstance(address, dict):
        return str(address.get("label") or address.get("text") or "—")
    return str(address) if address else "—"


def visible_length(html_text: str) -> int:
    """Length as Telegram counts it: UTF-16 units of the text after entity parsing."""
    plain = html.unescape(TAG.sub("", html_text))
    return len(plain.encode("utf-16-le")) // 2


def split_lines(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split Telegram-HTML into messages of at most `limit` visible characters, at line
    ends (each line is closed HTML on its own). A single line longer than a message is cut
    as plain text, so no tag or entity is ever broken."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        length = visible_length(line)
        if length > limit:
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            plain = html.unescape(TAG.sub("", line))
            step = limit // 2  # UTF-16 safe: a code point is at most two units
            chunks.extend(html.escape(plain[i:i + step], quote=False)
                          for i in range(0, len(plain), step))
            continue
        if current and size + 1 + length > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += length + (1 if size else 0)
    if current:
        chunks.append("\n".join(current))
    return chunks


@dataclass
class HandoffPost:
    """The messages of one hand-off for the support chat, and which are posted already."""

    handoff_id: int
    chat_id: int
    chunks: list[Reply]
    photo_file_ids: list[str] = field(default_factory=list)
    photo_caption: str = ""
    pin: tuple[float, float] | None = None
    pin_title: str = ""
    pin_address: str = ""
    reply_to: int | None = None
    text_message_ids: list[int] = field(default_factory=list)
    album_posted: bool = False
    pin_posted: bool = False

    @property
    def missing_chunks(self) -> list[tuple[int, Reply]]:
        """The text's parts not posted yet, with their index."""
        return list(enumerate(self.chunks))[len(self.text_message_ids):]

    @property
    def anchor(self) -> int | None:
        """The message with the buttons, which the album and the pin quote."""
        if len(self.text_message_ids) < len(self.chunks):
            return None
        return self.text_message_ids[-1]


class HandoffPoster:
    """What to post for a hand-off, and what of it has been posted."""

    def __init__(self, support: Support) -> None:
        self.support = support
        self.store = support.store
        self._locks: dict[int, asyncio.Lock] = {}

    def lock(self, handoff_id: int) -> asyncio.Lock:
        """Held while a hand-off is being posted: a second post waits, then finds it done."""
        return self._locks.setdefault(handoff_id, asyncio.Lock())

    async def unposted(self, created_before: datetime) -> list[int]:
        """Hand-offs for the support chat not (completely) posted yet, created before this
        time, oldest first."""
        when = created_before.astimezone(UTC).isoformat()
        return [h.id for h in await self.store.unposted_handoffs(when)]

    async def post_of(self, handoff_id: int) -> HandoffPost | None:
        """The hand-off's messages and what is posted already; None when all of it is (or
        there is no support chat)."""
        handoff = await self.store.handoff(handoff_id)
        if handoff is None or handoff.chat_id is None or handoff.posted_at is not None:
            return None
        support = self.support
        with support.texts.speaking(await support.languages.of_chat(handoff.chat_id)):
            return await self._post_of(handoff)

    async def _post_of(self, handoff: Handoff) -> HandoffPost:
        support, t = self.support, self.support.t
        view = await support.records.job_view(handoff.job_id)
        chunks = [Reply(c) for c in split_lines(await support.text(view, handoff))]
        chunks[-1].buttons = support.main_buttons(handoff.id)
        previous = (await self.store.handoff(handoff.previous_id)
                    if handoff.previous_id else None)
        photos = await self.store.photos(handoff.job_id)
        current = {view.value(s.key)["photo"] for s in view.slots
                   if s.step.kind == PHOTO and isinstance(view.value(s.key), dict)}
        pin = view.of_role("pin")
        return HandoffPost(
            handoff_id=handoff.id, chat_id=handoff.chat_id, chunks=chunks,
            photo_file_ids=[p.file_id for p in photos if p.id in current],
            photo_caption=t("support.photos", job=handoff.job_id),
            pin=(pin["lat"], pin["lon"]) if isinstance(pin, dict) else None,
            pin_title=t("support.pin_title", job=handoff.job_id),
            pin_address=address_text(view.of_role("address"))[:200],
            reply_to=(previous.message_id if previous and previous.chat_id == handoff.chat_id
                      else None),
            text_message_ids=list(handoff.text_message_ids),
            album_posted=handoff.album_message_id is not None,
            pin_posted=handoff.pin_message_id is not None,
        )

    async def text_posted(self, post: HandoffPost, message_id: int) -> None:
        """One more part of the text is posted; the last one carries the buttons."""
        post.text_message_ids.append(message_id)
        fields: dict[str, object] = {"text_message_ids": post.text_message_ids}
        if post.anchor is not None:
            fields["message_id"] = message_id
        await self.store.update_handoff(post.handoff_id, **fields)

    async def album_posted(self, post: HandoffPost, message_id: int) -> None:
        """The photos are posted (`GIVEN_UP`: Telegram refused them for good)."""
        post.album_posted = True
        await self.store.update_handoff(post.handoff_id, album_message_id=message_id)

    async def pin_posted(self, post: HandoffPost, message_id: int) -> None:
        """The pin is posted (`GIVEN_UP`: Telegram refused it for good)."""
        post.pin_posted = True
        await self.store.update_handoff(post.handoff_id, pin_message_id=message_id)

    async def finished(self, post: HandoffPost) -> None:
        """Every part is posted: the hand-off is done with."""
        await self.store.update_handoff(post.handoff_id, posted_at=self.store.now())

