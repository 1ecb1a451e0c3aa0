"""Installer-facing handlers: commands, answers and buttons of the guided job flow.

Each handler translates the update into an engine call and hands the outcome to `render`.
People who are not approved installers are routed to registration instead. Typed text loses
its invisible format characters on the way in (`visible`), so that what support and managers
read is what was typed; an edited message is answered with how to change an answer.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from telegram import Message, Update

from bot.engine.interaction import Input, LocationInput, Outcome, PhotoInput, Reply
from bot.engine.records import visible
from handlers.context import PinpointContext
from handlers.render import apply
from handlers.support import on_events

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff")
OTHER_KINDS = ("sticker", "voice", "video", "video_note", "audio", "animation", "contact",
               "poll", "dice", "game", "story")

Handler = Callable[[Update, PinpointContext], Awaitable[Outcome]]


def installers_only(handler: Handler) -> Callable[[Update, PinpointContext], Awaitable[None]]:
    """Run the handler for approved installers; send everyone else to registration."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: PinpointContext) -> None:
        person = context.person
        if person is None:
            return
        if person.installer:
            outcome = await handler(update, context)
        else:
            people = context.services.people
            message = update.effective_message
            is_start = bool(message and message.text and message.text.startswith("/start"))
            if is_start or update.callback_query is not None:
                outcome = await people.start(person)
            else:
                text = message.text if message else None
                outcome = await people.message(person, visible(text) if text else text)
        await apply(update, context, outcome)
        if outcome.events:
            await on_events(context, outcome.events)

    return wrapper


@installers_only
async def start(update: Update, context: PinpointContext) -> Outcome:
    """`/start`: resume the open job, or say how to start one."""
    return await context.services.engine.resume(update.effective_user.id)


@installers_only
async def new_job(update: Update, context: PinpointContext) -> Outcome:
    """`/new`: start a job (a new site visit)."""
    return await context.services.engine.start_job(update.effective_user.id,
                                                   update.effective_chat.id)


@installers_only
async def back(update: Update, context: PinpointContext) -> Outcome:
    """`/back`: one question back."""
    return await context.services.engine.back(update.effective_user.id)


@installers_only
async def status(update: Update, context: PinpointContext) -> Outcome:
    """`/status`: where the job stands."""
    return await context.services.engine.status(update.effective_user.id)


@installers_only
async def jobs(update: Update, context: PinpointContext) -> Outcome:
    """`/jobs`: the installer's recent jobs and their states."""
    return await context.services.engine.jobs(update.effective_user.id)


@installers_only
async def cancel(update: Update, context: PinpointContext) -> Outcome:
    """`/cancel`: ask to confirm cancelling the open job."""
    return await context.services.engine.cancel(update.effective_user.id)


@installers_only
async def help_step(update: Update, context: PinpointContext) -> Outcome:
    """`/help`: explain the current step."""
    return await context.services.engine.help(update.effective_user.id)


@installers_only
async def button(update: Update, context: PinpointContext) -> Outcome:
    """A pressed button of the job flow."""
    query = update.callback_query
    message_id = query.message.message_id if query.message else None
    return await context.services.engine.press(update.effective_user.id, query.data or "",
                                               message_id)


@installers_only
async def message(update: Update, context: PinpointContext) -> Outcome:
    """Any other message: an answer (text, photo, file, location) or a wrong kind."""
    inp = to_input(update.effective_message, context)
    return await context.services.engine.handle(update.effective_user.id, inp)


@installers_only
async def live_location(update: Update, context: PinpointContext) -> Outcome:
    """A live location's new point (an edited message)."""
    loc = update.effective_message.location
    return await context.services.engine.live_update(
        update.effective_user.id,
        LocationInput(loc.latitude, loc.longitude, loc.horizontal_accuracy, True),
    )


async def edited(update: Update, context: PinpointContext) -> None:
    """An edited message (not a live location): an edit never changes a kept answer, so say
    how to change one; someone registering has their corrected installer ID read."""
    person, message = context.person, update.effective_message
    if person is None or message is None:
        return
    if person.installer:
        outcome = Outcome([Reply(context.services.texts.get("odd_input.edited"))])
    elif person.user.status in ("awaiting_id", "pending") and message.text:
        outcome = await context.services.people.message(person, visible(message.text))
    else:
        return
    await apply(update, context, outcome)


def to_input(msg: Message, context: PinpointContext) -> Input:
    """Translate a Telegram message into the engine's `Input`."""
    if msg.text is not None:
        return Input(text=visible(msg.text))
    if msg.photo:
        size = msg.photo[-1]
        return Input(photo=PhotoInput(size.file_id, size.file_unique_id, size.file_size, False,
                                      _downloader(context, size.file_id)))
    if msg.document is not None:
        doc = msg.document
        name = (doc.file_name or "").lower()
        if (doc.mime_type or "").startswith("image/") or name.endswith(IMAGE_EXTENSIONS):
            return Input(photo=PhotoInput(doc.file_id, doc.file_unique_id, doc.file_size, True,
                                          _downloader(context, doc.file_id), doc.mime_type,
                                          doc.file_name))
        return Input(other="document")
    if msg.web_app_data is not None:  # a code the scanner Mini App read (data/scanner/)
        return Input(scanned=msg.web_app_data.data)
    location = msg.venue.location if msg.venue else msg.location
    if location is not None:
        return Input(location=LocationInput(location.latitude, location.longitude,
                                            location.horizontal_accuracy,
                                            bool(location.live_period)))
    for kind in OTHER_KINDS:
        if getattr(msg, kind, None):
            return Input(other=kind)
    return Input(other="unknown")


def _downloader(context: PinpointContext, file_id: str) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        file = await context.bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())

    return load
