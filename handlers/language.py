"""Languages on Telegram: each update answered in its chat's language, /language and its
buttons, and the command menus in every shipped language."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.services import Services
from handlers.context import PinpointContext
from handlers.render import apply

log = logging.getLogger(__name__)
COMMANDS = ("start", "new", "back", "status", "jobs", "cancel", "help", "language")
MANAGER_COMMANDS = ("summary", "export")
ADMIN_COMMANDS = ("pending", "reset", "summary", "export", "grant", "revoke")


async def speak_for(update: Update, context: PinpointContext) -> None:
    """Group -1, after `identify`: this update is answered in its chat's language."""
    services = context.services
    chat, person = update.effective_chat, context.person
    user = person.user if person is not None else None
    if chat is not None:
        services.texts.speak(await services.languages.of_chat(chat.id, user))
    else:
        services.texts.speak(services.languages.of_person(user))


async def language_command(update: Update, context: PinpointContext) -> None:
    """`/language`: the shipped languages as buttons (a group's for managers and admins)."""
    chat = update.effective_chat
    if context.person is None or chat is None:
        return
    languages = context.services.languages
    current = await languages.of_chat(chat.id, context.person.user)
    await apply(update, context, languages.menu(current, group=chat.id < 0))


async def language_button(update: Update, context: PinpointContext) -> None:
    """A language picked: stored, said in that language, and a private chat's command menu
    follows it."""
    chat, person = update.effective_chat, context.person
    if person is None or chat is None:
        return
    services = context.services
    outcome, code = await services.languages.choose(person, chat.id,
                                                    update.callback_query.data or "")
    services.texts.speak(code)
    if chat.id == person.user.id and outcome.edit is not None:  # the menu first: the button's
        try:  # answer says all is done
            await context.bot.set_my_commands(menu(services, code, commands_of(person.roles)),
                                              scope=BotCommandScopeChat(chat.id))
        except TelegramError as exc:
            log.info("no command menu for %s: %s", chat.id, exc)
    await apply(update, context, outcome)


def commands_of(roles: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The commands a person with these roles sees in their menu."""
    names = COMMANDS
    for role, extra in (("manager", MANAGER_COMMANDS), ("admin", ADMIN_COMMANDS)):
        if role in roles:
            names = tuple(dict.fromkeys(names + extra))
    return names


def menu(services: Services, language: str, names: tuple[str, ...]) -> list[BotCommand]:
    """A command menu in `language`."""
    texts = services.texts.of(language)
    return [BotCommand(name, texts.get(f"commands.{name}")) for name in names]


async def set_command_menus(app: Application, services: Services) -> None:
    """The command menus: the installers' for everyone in each shipped language (Telegram
    picks by the client's language; the default's menu for any other); managers and admins
    get theirs, and people who chose a language with /language, in their chat's language."""
    default = services.texts.default
    await app.bot.set_my_commands(menu(services, default, COMMANDS))
    for code in services.texts.languages:
        await app.bot.set_my_commands(menu(services, code, COMMANDS), language_code=code)
    staff: dict[int, set[str]] = {}
    for role in ("manager", "admin"):
        for user in await services.store.users_with_role(role):
            staff.setdefault(user.id, set()).add(role)
    for user_id, roles in staff.items():
        language = services.languages.of_person(await services.store.user(user_id))
        try:
            await app.bot.set_my_commands(menu(services, language, commands_of(roles)),
                                          scope=BotCommandScopeChat(user_id))
        except TelegramError as exc:  # the person has not started a chat with the bot yet
            log.info("no command menu for %s: %s", user_id, exc)
