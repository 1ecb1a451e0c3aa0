"""The one error handler: log for the operators, a calm sentence for the user."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from handlers.context import PinpointContext
from handlers.render import answer, answered

log = logging.getLogger(__name__)


async def on_error(update: object, context: PinpointContext) -> None:
    """Log the failure (no traceback to users); say sorry, on the pressed button unless it
    was answered already. Only failures of an update's handlers come with an update;
    `getUpdates` errors are the intake's polling errors and never reach this handler."""
    if not isinstance(update, Update):
        log.error("error in background work", exc_info=context.error)
        return
    log.error("error while handling update %s", update.update_id, exc_info=context.error)
    text = context.services.texts.get("errors.internal")
    query = update.callback_query
    try:
        if query is not None and not answered(query):
            await answer(query, text, show_alert=True)
        elif update.effective_chat is not None and update.effective_chat.type == "private":
            await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell the user about the error")
