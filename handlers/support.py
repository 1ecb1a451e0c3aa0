"""Support-facing handlers: post hand-offs to the support chat (and complete interrupted
posts), take decisions there, tell installers decisions they missed."""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import InputMediaPhoto, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.support.posting import GIVEN_UP, HandoffPost
from handlers.context import PinpointContext
from handlers.notices import deliver
from handlers.render import answer, apply, apply_edits, send

log = logging.getLogger(__name__)


async def on_events(context: PinpointContext, events: list[tuple[str, int]]) -> None:
    """Facts from the engine that concern support: a submission's hand-off (recorded with
    it) is posted now; what Telegram does not take now, the catch-up posts later."""
    for name, job_id in events:
        if name != "submitted":
            continue
        handoff = await context.services.store.latest_handoff(job_id)
        if handoff is None or handoff.chat_id is None:
            log.warning("job %s submitted but SUPPORT_CHAT_ID is not set", job_id)
            continue
        try:
            await post_handoff(context, handoff.id)
        except TelegramError as exc:
            log.warning("hand-off %s not posted yet (the catch-up retries): %s",
                        handoff.id, exc)


async def post_handoff(context: PinpointContext, handoff_id: int) -> None:
    """Post what is missing of a hand-off: the text (buttons on its last part), the photos
    as an album, the pin; each part's message is stored as soon as it is sent."""
    posts = context.services.support.posts
    async with posts.lock(handoff_id):
        post = await posts.post_of(handoff_id)
        if post is None:
            return
        for index, chunk in post.missing_chunks:
            if index == 0 and post.reply_to:
                chunk.reply_to = post.reply_to
            message_id = await send(context, post.chat_id, chunk)
            await posts.text_posted(post, message_id)
        assert post.anchor is not None
        quote = ReplyParameters(post.anchor, allow_sending_without_reply=True)
        if not post.album_posted and post.photo_file_ids:
            await posts.album_posted(post, await post_album(context, post, quote))
        if not post.pin_posted and post.pin is not None:
            await posts.pin_posted(post, await post_pin(context, post, quote))
        await posts.finished(post)


async def post_album(context: PinpointContext, post: HandoffPost,
                     quote: ReplyParameters) -> int:
    """The photos as one album (or one photo); its first message, or `GIVEN_UP`."""
    photos = post.photo_file_ids[:10]
    try:
        if len(photos) >= 2:
            media = [InputMediaPhoto(file_id, caption=post.photo_caption if i == 0 else None,
                                     parse_mode=ParseMode.HTML)
                     for i, file_id in enumerate(photos)]
            sent = await context.bot.send_media_group(post.chat_id, media,
                                                      reply_parameters=quote)
            return sent[0].message_id
        message = await context.bot.send_photo(post.chat_id, photos[0],
                                               caption=post.photo_caption,
                                               parse_mode=ParseMode.HTML,
                                               reply_parameters=quote)
        return message.message_id
    except BadRequest as exc:  # refused for good (a photo Telegram no longer has)
        log.error("the photos of hand-off %s were refused: %s", post.handoff_id, exc)
        return GIVEN_UP


async def post_pin(context: PinpointContext, post: HandoffPost,
                   quote: ReplyParameters) -> int:
    """The pin as a venue; its message, or `GIVEN_UP`."""
    assert post.pin is not None
    try:
        message = await context.bot.send_venue(post.chat_id, post.pin[0], post.pin[1],
                                               title=post.pin_title,
                                               address=post.pin_address or "—",
                                               reply_parameters=quote)
        return message.message_id
    except BadRequest as exc:
        log.error("the pin of hand-off %s was refused: %s", post.handoff_id, exc)
        return GIVEN_UP


async def post_unposted(context: PinpointContext, created_before: datetime) -> None:
    """Post every hand-off created before that time and not (completely) posted yet; a
    failure is retried next time."""
    for handoff_id in await context.services.support.posts.unposted(created_before):
        try:
            await post_handoff(context, handoff_id)
        except TelegramError as exc:
            log.warning("hand-off %s still not posted: %s", handoff_id, exc)


async def send_owed_notices(context: PinpointContext, decided_before: datetime) -> None:
    """Tell installers the decisions they never heard of (the bot stopped in between)."""
    support = context.services.support
    for handoff_id, outcome in await support.owed_notices(decided_before):
        await apply_edits(context, outcome)
        for notice in outcome.notices:
            try:
                await send(context, notice.chat_id, notice.reply)  # marks it notified
            except (Forbidden, BadRequest) as exc:  # blocked the bot: nobody to tell
                log.warning("could not tell chat %s of a decision: %s", notice.chat_id, exc)
                await support.notified(handoff_id)
            except TelegramError as exc:
                log.warning("decision of hand-off %s not told yet: %s", handoff_id, exc)


async def button(update: Update, context: PinpointContext) -> None:
    """Verify / Reject and the rejection's reason and part buttons."""
    if context.person is None:
        await answer(update.callback_query)
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
    """A repeating job: re-page support for hand-offs that wait too long (the notices it
    queues are sent now)."""
    if await context.services.support.sweep_waiting():
        await deliver(context)
