"""Turn the engine's `Outcome` into Telegram messages, edits and callback answers.

The calls of every answer (the next question, the pressed or answered message's edit) go
through `call`, which keeps Telegram's answer as JSON: python-telegram-bot would build a
`Message` of it (~0.3–0.4 ms of CPU each) where only its id is used.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
    WebAppInfo,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.engine.interaction import Outcome, Reply
from bot.support.posting import MESSAGE_LIMIT, split_lines, visible_length
from handlers.context import PinpointContext
from handlers.notices import deliver

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# The callback query this task answered last: an update's handlers and its error handler
# run in the same task, so the error handler can tell whether the button was answered.
_answered: ContextVar[str | None] = ContextVar("answered_query", default=None)


async def call(bot: Bot, method: str, **params: Any) -> Any:
    """One Bot API call as `Bot.send_message` and the like make it (defaults, rate limiter,
    errors raised alike), its answer left as Telegram's JSON (a message's `dict`, or True)."""
    return await bot._post(method, params)


async def answer(query: CallbackQuery, text: str | None = None,
                 show_alert: bool = False) -> None:
    """Answer a pressed button (stops the phone's spinner), once."""
    await query.answer(text, show_alert=show_alert)
    _answered.set(query.id)


def answered(query: CallbackQuery) -> bool:
    """Whether this button was answered already (a second answer would fail)."""
    return _answered.get() == query.id


def inline_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's inline keyboard, or None."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data, url=b.url) for b in row]
         for row in reply.buttons]
    )


def _reply_keyboard(
    reply: Reply,
) -> ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply | None:
    if reply.force_reply:
        return ForceReply(selective=True)
    if reply.keyboard == "location":
        return ReplyKeyboardMarkup(
            [[KeyboardButton(reply.keyboard_label, request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True,
        )
    if reply.keyboard == "web_app":  # sendData works only from a keyboard button's Mini App
        return ReplyKeyboardMarkup(
            [[KeyboardButton(reply.keyboard_label, web_app=WebAppInfo(reply.keyboard_url))]],
            resize_keyboard=True,
        )
    if reply.keyboard == "remove":
        return ReplyKeyboardRemove()
    return None


async def send(context: PinpointContext, chat_id: int, reply: Reply) -> int:
    """Send one reply; its message's id. A message carries one kind of keyboard, so a reply
    with both a reply keyboard and inline buttons goes out as two messages (the second's id
    is returned). A text longer than Telegram takes goes out in parts, cut at line ends
    (keyboards last)."""
    if visible_length(reply.text) > MESSAGE_LIMIT:
        *first, last = split_lines(reply.text)
        for part in first:
            await context.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML,
                                           link_preview_options=NO_PREVIEW)
        reply = replace(reply, text=last)
    keyboard = _reply_keyboard(reply)
    inline = inline_markup(reply)
    bot = context.bot
    quote = (ReplyParameters(reply.reply_to, allow_sending_without_reply=True)
             if reply.reply_to else None)
    if keyboard is not None and inline is not None:
        await bot.send_message(chat_id, reply.text, parse_mode=ParseMode.HTML,
                               reply_markup=keyboard, link_preview_options=NO_PREVIEW,
                               reply_parameters=quote)
        message = await call(bot, "sendMessage", chat_id=chat_id, text="⬇️",
                             reply_markup=inline)
    else:
        message = await call(bot, "sendMessage", chat_id=chat_id, text=reply.text,
                             parse_mode=ParseMode.HTML, reply_markup=keyboard or inline,
                             link_preview_options=NO_PREVIEW, reply_parameters=quote)
    message_id: int = message["message_id"]
    if reply.remember is not None:
        await reply.remember(message_id)
    return message_id


async def _retire(context: PinpointContext, update: Update, message_id: int, mark: str) -> None:
    """Take a question's buttons away; on the pressed message, also show what was chosen."""
    query = update.callback_query
    chat_id = update.effective_chat.id if update.effective_chat else None
    try:
        if query and isinstance(query.message, Message) and query.message.message_id == message_id:
            chat_id = query.message.chat_id
            if not mark:  # a stale button: only its buttons go
                await call(context.bot, "editMessageReplyMarkup", chat_id=chat_id,
                           message_id=message_id)
                return
            text = query.message.text_html or ""
            await call(context.bot, "editMessageText", chat_id=chat_id, message_id=message_id,
                       text=f"{text}\n\n{mark}", parse_mode=ParseMode.HTML,
                       link_preview_options=NO_PREVIEW)
        elif chat_id is not None:
            await call(context.bot, "editMessageReplyMarkup", chat_id=chat_id,
                       message_id=message_id)
    except BadRequest as exc:  # already edited, too old, or deleted: nothing to retire
        log.debug("could not retire message %s: %s", message_id, exc)


async def apply(update: Update, context: PinpointContext, outcome: Outcome) -> None:
    """Carry out an outcome in answer to this update.

    Edits of earlier messages (the pressed one's mark, new buttons) go out alongside the
    replies: the next question does not wait for them. A pressed button is answered last,
    once its effects are visible: the phone's spinner stops when the new question is there.
    Notices the change queued (to this chat or others) go out after the replies
    (`handlers.notices`).
    """
    query = update.callback_query
    if query is None and outcome.alert:
        outcome.replies.insert(0, Reply(outcome.alert))
    edits = asyncio.create_task(_edit(update, context, outcome))
    try:
        chat_id = update.effective_chat.id if update.effective_chat else None
        if chat_id is not None:
            await send_replies(context, chat_id, outcome)
        for notice in outcome.notices:
            try:
                await send(context, notice.chat_id, notice.reply)
            except (Forbidden, BadRequest) as exc:
                log.warning("could not notify chat %s: %s", notice.chat_id, exc)
            except TelegramError:
                log.exception("could not notify chat %s", notice.chat_id)
        if context.services.store.notices_queued:
            await deliver(context)
    finally:
        await edits
    if query is not None:
        await answer(query, outcome.alert or None)


async def _edit(update: Update, context: PinpointContext, outcome: Outcome) -> None:
    """The outcome's edits of messages sent earlier, in order."""
    query = update.callback_query
    if outcome.retire is not None:
        await _retire(context, update, *outcome.retire)
    if outcome.edit is not None and query is not None:
        try:
            await query.edit_message_text(outcome.edit.text, parse_mode=ParseMode.HTML,
                                          reply_markup=inline_markup(outcome.edit),
                                          link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            log.debug("edit not applied: %s", exc)
    if outcome.rekey is not None and query is not None:
        try:
            await query.edit_message_reply_markup(
                reply_markup=inline_markup(Reply("", outcome.rekey)))
        except BadRequest as exc:
            log.debug("buttons not changed: %s", exc)
    await apply_edits(context, outcome)


async def send_replies(context: PinpointContext, chat_id: int, outcome: Outcome) -> None:
    """The outcome's replies, in order; a question's message is reported to the engine, and
    so is every message with buttons. Then the job's older buttons are taken away
    (`bot.engine.keyboards`): only the current question's stay live."""
    engine = context.services.engine
    fresh: list[int] = []
    asked = False
    live = None  # the job's live keyboards as the question's remembering left them
    done = outcome.retire[0] if outcome.retire else None  # its buttons are going already
    for reply in outcome.replies:
        message_id = await send(context, chat_id, reply)
        if outcome.job_id is None:
            continue
        if reply.prompt:  # only buttons need retiring; the retired one is struck off at once
            asked = True
            live = await engine.remember_prompt(outcome.job_id,
                                                message_id if reply.buttons else None,
                                                reply.asks, [done] if done else [])
        elif reply.buttons:
            live = None
            await engine.keyboards.shown(outcome.job_id, message_id)
        if reply.buttons:
            fresh.append(message_id)
    if outcome.job_id is not None:
        stale = await engine.keyboards.stale(outcome.job_id, fresh, asked, live)
        await retire_keyboards(context, chat_id, [m for m in stale if m != done])
        await engine.keyboards.retired(outcome.job_id, stale, live)


async def retire_keyboards(context: PinpointContext, chat_id: int,
                           message_ids: list[int]) -> None:
    """Take these messages' buttons away (one already gone, or too old, is skipped)."""
    for message_id in message_ids:
        try:
            await call(context.bot, "editMessageReplyMarkup", chat_id=chat_id,
                       message_id=message_id)
        except BadRequest as exc:
            log.debug("buttons of message %s not taken away: %s", message_id, exc)


async def apply_edits(context: PinpointContext, outcome: Outcome) -> None:
    """The outcome's edits of messages the bot sent earlier (one that fails is skipped)."""
    for edit in outcome.edits:
        try:
            await context.bot.edit_message_text(
                edit.reply.text, chat_id=edit.chat_id, message_id=edit.message_id,
                parse_mode=ParseMode.HTML, reply_markup=inline_markup(edit.reply),
                link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            log.debug("edit of message %s not applied: %s", edit.message_id, exc)
