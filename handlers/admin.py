"""Admin-facing handlers: `/grant <role> <who>`, `/revoke <role> <who>`, `/pending` and
`/reset <who>`.

`<who>` is an @username, a numeric id, or the person of the message the command replies to
(a message forwarded from them, or theirs in a group). `bot.people.roles` and
`bot.people.review` decide and audit.
"""

from __future__ import annotations

from telegram import Message, MessageOriginHiddenUser, MessageOriginUser, Update

from bot.people.review import Review
from bot.people.roles import Roles, Target
from handlers.context import PinpointContext
from handlers.render import apply


def replied_target(message: Message | None) -> Target | None:
    """Whom the replied-to message stands for: its forward's author, else its sender."""
    replied = message.reply_to_message if message else None
    if replied is None:
        return None
    origin = replied.forward_origin
    if isinstance(origin, MessageOriginUser):
        user = origin.sender_user
    elif isinstance(origin, MessageOriginHiddenUser):
        return Target(hidden_name=origin.sender_user_name)
    elif origin is not None:
        return Target(not_a_person=True)
    else:
        user = replied.from_user
    if user is None or user.is_bot:
        return None
    return Target(user.id, user.first_name, user.last_name, user.username)


async def _change(update: Update, context: PinpointContext, verb: str) -> None:
    if context.person is None:
        return
    services = context.services
    roles = Roles(services.store, services.texts, services.settings)
    outcome = await roles.change(context.person, verb, list(context.args or []),
                                 replied_target(update.effective_message))
    await apply(update, context, outcome)


async def grant_command(update: Update, context: PinpointContext) -> None:
    """`/grant manager @mia`: give a role (admins only)."""
    await _change(update, context, "grant")


async def revoke_command(update: Update, context: PinpointContext) -> None:
    """`/revoke manager @mia`: take a role away (admins only)."""
    await _change(update, context, "revoke")


async def pending_command(update: Update, context: PinpointContext) -> None:
    """`/pending`: who waits for approval, each with Approve / Refuse (admins only)."""
    if context.person is None:
        return
    await apply(update, context, await Review(context.services.people).pending(context.person))


async def reset_command(update: Update, context: PinpointContext) -> None:
    """`/reset @ben`: forget a person's registration so that they may register again."""
    if context.person is None:
        return
    review = Review(context.services.people)
    outcome = await review.reset(context.person, list(context.args or []),
                                 replied_target(update.effective_message))
    await apply(update, context, outcome)
