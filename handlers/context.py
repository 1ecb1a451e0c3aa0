"""The typed callback context: every handler reaches the services and the person through it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import Application, CallbackContext, ExtBot

if TYPE_CHECKING:
    from bot.people.registration import Person
    from bot.services import Services


class PinpointContext(CallbackContext[ExtBot, dict, dict, dict]):
    """A `CallbackContext` with the bot's services and the sender as a `Person`."""

    def __init__(self, application: Application, chat_id: int | None = None,
                 user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.person: Person | None = None

    @property
    def services(self) -> Services:
        """The services built in `post_init`."""
        return self.application.bot_data["services"]
