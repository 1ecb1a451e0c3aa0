"""Whose language a text is in: a person's own (Telegram's language_code at first contact,
or the one chosen with /language), the support chat's (`SUPPORT_LANGUAGE`), a managers'
chat's (set there with /language, else `MANAGER_LANGUAGE`); `LANGUAGE` for anything else
and for a language that is not shipped."""

from __future__ import annotations

from bot.config import Settings
from bot.engine import buttons
from bot.engine.buttons import Language
from bot.engine.interaction import Button, Outcome, Reply
from bot.people.registration import Person
from bot.store import Store, User
from bot.texts import Texts

STAFF = ("manager", "admin")  # who may set a group chat's language


class Languages:
    """The language of each reader, and /language."""

    def __init__(self, store: Store, texts: Texts, settings: Settings) -> None:
        self.store = store
        self.texts = texts
        self.settings = settings

    def _shipped(self, *codes: str | None) -> str:
        return next((found for code in codes if (found := self.texts.resolve(code))),
                    self.texts.default)

    def of_person(self, user: User | None) -> str:
        """A person's language (for their private chat)."""
        return self._shipped(user.language if user else None)

    @property
    def support(self) -> str:
        """The support chat's default language (`SUPPORT_LANGUAGE`)."""
        return self._shipped(self.settings.support_language)

    @property
    def manager(self) -> str:
        """A managers' chat's default language (`MANAGER_LANGUAGE`)."""
        return self._shipped(self.settings.manager_language)

    async def of_chat(self, chat_id: int, user: User | None = None) -> str:
        """The language a chat reads: a private chat its person's (`user`, when known); a
        group the one set there, else the support chat's or the managers' default."""
        if chat_id > 0:  # a private chat's id is its person's
            return self.of_person(user if user is not None and user.id == chat_id
                                  else await self.store.user(chat_id))
        if (stored := await self.store.chat_language(chat_id)) is not None:
            return self._shipped(stored)
        return self.support if chat_id == self.settings.support_chat_id else self.manager

    # /language ------------------------------------------------------------------------

    def menu(self, current: str, group: bool) -> Outcome:
        """The language buttons, each language in its own name."""
        rows = [[Button(("✓ " if code == current else "") + self.texts.name(code),
                        buttons.encode(Language(code)))] for code in self.texts.languages]
        prompt = "language.prompt_chat" if group else "language.prompt"
        return Outcome([Reply(self.texts.get(prompt, language=self.texts.name(current)),
                              rows)])

    async def choose(self, person: Person, chat_id: int, data: str) -> tuple[Outcome, str]:
        """A language button pressed: set the person's (private chat) or the chat's (a
        group, managers and admins only); the outcome is in the new language."""
        action = buttons.decode(data)
        code = self.texts.resolve(action.code) if isinstance(action, Language) else None
        if code is None:
            return Outcome(alert=self.texts.get("job.stale_button")), self.texts.language
        if chat_id == person.user.id:
            await self.store.set_language(person.user.id, code)
        elif person.has(*STAFF):
            await self.store.set_chat_language(chat_id, code, person.user.id)
        else:
            return Outcome(alert=self.texts.get("language.not_allowed")), self.texts.language
        done = self.texts.of(code).get("language.set")
        return Outcome(edit=Reply(done)), code
