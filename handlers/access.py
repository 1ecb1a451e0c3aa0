"""Who is writing: the person behind every update, and the admins' registration buttons."""

from __future__ import annotations

from telegram import Update

from handlers.context import PinpointContext
from handlers.language import speak_for
from handlers.render import apply


async def identify(update: Update, context: PinpointContext) -> None:
    """Group -1, for every update: record the sender, load their roles into the context,
    and answer in the chat's language."""
    user = update.effective_user
    if user is not None and not user.is_bot:
        context.person = await context.services.people.identify(
            user.id, user.first_name, user.last_name, user.username, user.language_code
        )
    await speak_for(update, context)


async def registration_decision(update: Update, context: PinpointContext) -> None:
    """An admin's Approve / Refuse button under a registration request."""
    if context.person is None:
        return
    outcome = await context.services.people.decide(context.person,
                                                   update.callback_query.data or "")
    await apply(update, context, outcome)


async def stale_button(update: Update, context: PinpointContext) -> None:
    """Any button no handler claims: answer it so the phone stops spinning."""
    texts = context.services.texts
    await update.callback_query.answer(texts.get("job.stale_button"))
