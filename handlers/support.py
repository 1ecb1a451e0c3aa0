"""Support-facing handlers: post hand-offs to the support chat and take decisions there."""

from __future__ import annotations

import logging

from telegram import InputMediaPhoto, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.support.handoff import HandoffPost
from handlers.context import PinpointContext
from handlers.render import apply, send

log = logging.getLogger(__name__)


async def on_events(context: PinpointContext, events: list[tuple[str, int]]) -> None:
    """Facts from the engine that concern support (a submission)."""
    for name, job_id in events:
        if name == "submitted":
            post = await context.services.support.submitted(job_id)
            if post is None:
                log.warning("job %s submitted but SUPPORT_CHAT_ID is not set", job_id)
                continue
            try:
                await post_handoff(context, post)
            except (Forbidden, BadRequest) as exc:
                log.error("could not post the hand-off of job %s: %s", job_id, exc)


async def post_handoff(context: PinpointContext, post: HandoffPost) -> None:
    """The hand-off text (buttons on its last part), the photos as an album, the pin."""
    bot = context.bot
    chunks = list(post.chunks)
    if post.reply_to:
        chunks[0].reply_to = post.reply_to
    last = None
    for chunk in chunks:
        last = await send(context, post.chat_id, chunk)
    assert last is not None
    await context.services.support.posted(post.handoff_id, last.message_id)
    quote = ReplyParameters(last.message_id, allow_sending_without_reply=True)
    photos = post.photo_file_ids[:10]
    if len(photos) >= 2:
        media = [InputMediaPhoto(file_id, caption=post.photo_caption if i == 0 else None,
                                 parse_mode=ParseMode.HTML)
                 for i, file_id in enumerate(photos)]
        await bot.send_media_group(post.chat_id, media, reply_parameters=quote)
    elif photos:
        await bot.send_photo(post.chat_id, photos[0], caption=post.photo_caption,
                             parse_mode=ParseMode.HTML, reply_parameters=quote)
    if post.pin is not None:
        await bot.send_venue(post.chat_id, post.pin[0], post.pin[1], title=post.pin_title,
                             address=post.pin_address or "—", reply_parameters=quote)


async def button(update: Update, context: PinpointContext) -> None:
    """Verify / Reject and the rejection's reason and part buttons."""
    if context.person is None:
        await update.callback_query.answer()
        return
    outcome = await context.services.support.press(context.person,
                                                   update.callback_query.data or "")
    await apply(update, context, outcome)


async def reason_reply(update: Update, context: PinpointContext) -> None:
    """A supporter's typed rejection reason, as a reply to the bot's question."""
    message = update.effective_message
    if context.person is None or message is None or message.reply_to_message is None:
        return
    outcome = await context.services.support.reason_typed(
        context.person, message.chat_id, message.reply_to_message.message_id,
        message.text or "",
    )
    if outcome is not None:
        await apply(update, context, outcome)


async def sweep_waiting(context: PinpointContext) -> None:
    """A repeating job: re-page support for hand-offs that wait too long."""
    outcome = await context.services.support.sweep_waiting()
    for notice in outcome.notices:
        try:
            await send(context, notice.chat_id, notice.reply)
        except TelegramError as exc:
            log.warning("could not send a waiting notice to %s: %s", notice.chat_id, exc)
