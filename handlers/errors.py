"""The one error handler: log for the operators, a calm sentence for the user."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from handlers.context import PinpointContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: PinpointContext) -> None:
    """Log the failure (no traceback to users), answer a pending button, say sorry."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    text = context.services.texts.get("errors.internal")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_chat is not None and update.effective_chat.type == "private":
            await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell the user about the error")
