"""The sender of queued notices: messages owed to a chat because the state changed.

The core queues a notice in the same transaction as the change that owes it
(`bot.engine.notices`); `deliver` sends what is due right after an update's own replies
(`render.apply`), after the support sweep, and from the catch-up (at start and every minute),
so a notice the process did not get to send goes out later, once. Each notice is leased
while it is sent (no other task or instance starts it; on PostgreSQL claimed with `FOR
UPDATE SKIP LOCKED`) and marked sent with its message id as soon as Telegram accepts it.
The one window left: a crash after Telegram accepted a notice and before the mark is written
sends it again at the next start (on PostgreSQL, where another instance may be sending,
once its lease expired).

A chat that refuses it for good (403: the person blocked the bot; 400: no such chat) marks
the notice failed, logged, never retried; a transient failure (the transport already
retried 429, 5xx and dropped connections within the call) is tried again by the catch-up,
with a growing pause, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.store.notices import QueuedNotice
from handlers.context import PinpointContext

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # longer than one send with the transport's retries (60 s)
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 14 hours of transient failures, then given up (and logged)


async def deliver(context: PinpointContext, *, starting: bool = False) -> int:
    """Send every due notice, oldest first, each chat's in order; return how many were sent.
    At start no send can be in flight, so the leases a stopped process left are dropped."""
    store = context.services.store
    if starting:
        await store.release_notices()
    sent, held = 0, set()  # chats whose earlier notice is elsewhere or failed: keep order
    for notice in await store.due_notices():
        if notice.chat_id in held:
            continue
        if not await store.lease_notice(notice.id, _iso(store.clock() + LEASE)):
            held.add(notice.chat_id)  # another task is sending it
            continue
        if await _send(context, notice):
            sent += 1
        else:
            held.add(notice.chat_id)
    return sent


def _markup(notice: QueuedNotice) -> InlineKeyboardMarkup | None:
    if not notice.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["label"], callback_data=b.get("data"), url=b.get("url"))
          for b in row] for row in notice.buttons])


async def _send(context: PinpointContext, notice: QueuedNotice) -> bool:
    """Send one leased notice and record what became of it."""
    store = context.services.store
    quote = (ReplyParameters(notice.reply_to, allow_sending_without_reply=True)
             if notice.reply_to else None)
    try:
        message = await context.bot.send_message(
            notice.chat_id, notice.text, parse_mode=ParseMode.HTML,
            reply_markup=_markup(notice), reply_parameters=quote,
            link_preview_options=LinkPreviewOptions(is_disabled=True))
    except (Forbidden, BadRequest) as exc:  # blocked, no such chat: it never will be sent
        log.warning("notice %s to chat %s given up: %s", notice.id, notice.chat_id, exc)
        await store.notice_failed(notice.id, str(exc), None)
        return False
    except Exception as exc:  # transient (or a bug): the catch-up tries again
        if not isinstance(exc, TelegramError):
            log.exception("notice %s to chat %s failed", notice.id, notice.chat_id)
        attempts = notice.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            log.error("notice %s to chat %s given up after %d attempts: %s", notice.id,
                      notice.chat_id, attempts, exc)
            await store.notice_failed(notice.id, str(exc), None)
        else:
            pause = min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_MAX)
            log.warning("notice %s to chat %s not sent yet (retried in %s): %s", notice.id,
                        notice.chat_id, pause, exc)
            await store.notice_failed(notice.id, str(exc), _iso(store.clock() + pause))
        return False
    await store.notice_sent(notice.id, message.message_id)
    return True


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()
