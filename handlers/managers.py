"""Manager-facing handlers: `/summary` and `/export`, and sending a summary to a chat.

Only managers and admins may ask. A summary is one text message and one chart; the chart is
drawn in a worker thread so that installers are not kept waiting.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import tempfile
from collections.abc import Awaitable, Callable

from telegram import InputFile, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, BaseHandler, CommandHandler

from bot.managers.export import export_name
from bot.managers.periods import parse_period, parse_range, today_in
from bot.managers.render import caption, chart_png, render_text
from bot.managers.summary import Summary
from handlers import admin
from handlers.context import PinpointContext

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

Handler = Callable[[Update, PinpointContext], Awaitable[None]]


def managers_only(handler: Handler) -> Handler:
    """Run the handler for managers and admins; tell anyone else, in one line."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: PinpointContext) -> None:
        person = context.person
        message = update.effective_message
        if person is None or message is None:
            return
        if not person.has("manager", "admin"):
            await message.reply_text(context.services.texts.get("summary_report.not_allowed"))
            return
        await handler(update, context)

    return wrapper


async def send_summary(context: PinpointContext, chat_id: int, summary: Summary,
                       text: str | None = None, png: bytes | None = None) -> None:
    """The summary's text, then its chart (when the period is not empty)."""
    texts = context.services.texts
    text = text if text is not None else render_text(summary, texts)
    await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                   link_preview_options=NO_PREVIEW)
    if png is None and not summary.empty:
        png = await asyncio.to_thread(chart_png, summary, texts)
    if png is not None:
        await context.bot.send_photo(chat_id, png, caption=caption(summary, texts),
                                     parse_mode=ParseMode.HTML)


@managers_only
async def summary_command(update: Update, context: PinpointContext) -> None:
    """`/summary`, `/summary YYYY-MM-DD`, `/summary week`."""
    services = context.services
    tz = services.settings.tz
    now = services.store.clock()
    period = parse_period(context.args or [], today_in(tz, now), tz)
    chat_id = update.effective_chat.id
    if period is None:
        await context.bot.send_message(chat_id, services.texts.get("summary_report.usage"))
        return
    summary = await services.summaries.compute(period, now)
    await send_summary(context, chat_id, summary)


@managers_only
async def export_command(update: Update, context: PinpointContext) -> None:
    """`/export FROM TO`: the jobs started in those local days, as a CSV document."""
    services = context.services
    texts, tz = services.texts, services.settings.tz
    now = services.store.clock()
    period = parse_range(context.args or [], today_in(tz, now), tz)
    chat_id = update.effective_chat.id
    if period is None:
        await context.bot.send_message(chat_id, texts.get("summary_report.export_usage"),
                                       parse_mode=ParseMode.HTML)
        return
    values = {"first": period.first.isoformat(), "last": period.last.isoformat()}
    with tempfile.TemporaryFile() as file:  # written row by row, uploaded as it is read
        text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
        count = await services.summaries.export_csv(period, text, texts)
        text.detach()
        if not count:
            await context.bot.send_message(chat_id, texts.get("summary_report.export_none",
                                                              **values))
            return
        file.seek(0)
        await context.bot.send_document(
            chat_id, InputFile(file, filename=export_name(period), read_file_handle=False),
            caption=texts.get("summary_report.export_caption", count=count, tz=tz.key,
                              **values),
        )
    await services.store.audit(update.effective_user.id, None, "exported",
                               {**values, "jobs": count})


HANDLERS: dict[str, Handler] = {
    "summary": summary_command,
    "export": export_command,
    "grant": admin.grant_command,
    "revoke": admin.revoke_command,
    "pending": admin.pending_command,
    "reset": admin.reset_command,
}


def _ours(handler: BaseHandler) -> bool:
    return isinstance(handler, CommandHandler) and handler.callback in HANDLERS.values()


def register_manager_handlers(app: Application, group: int = 0) -> None:
    """Add `/summary`, `/export`, `/grant`, `/revoke`, `/pending` and `/reset` (in any chat).
    Call it before the catch-all handler of private messages of the same group. Registering
    twice is a no-op."""
    if any(_ours(h) for h in app.handlers.get(group, [])):
        return
    for name, callback in HANDLERS.items():
        app.add_handler(CommandHandler(name, callback), group=group)
