"""Who may use the bot: installer registration, admin approval, and roles.

Roles live in the database; configuration grants them at start (`sync_configured_roles`),
admins grant and revoke them later. Installers register once with their installer ID (of the
shape INSTALLER_ID_PATTERN; retyped freely while pending) and are approved by an admin's
button, or at once when configuration pre-approves them. Only an approved holder reserves an
ID. A refused person may apply again after REAPPLY_AFTER_DAYS (or when an admin resets them);
an installer whose role was revoked stays so until an admin grants it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.engine import buttons, notices
from bot.engine.buttons import Registration, Verdict
from bot.engine.interaction import Button, Outcome, Reply
from bot.engine.records import visible
from bot.store import Store, User
from bot.texts import Texts

STAFF = ("admin", "support", "manager")


@dataclass(frozen=True)
class Person:
    """A user as the bot sees them on an update: their record and roles."""

    user: User
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        """True when the person holds any of these roles."""
        return bool(self.roles.intersection(roles))

    @property
    def installer(self) -> bool:
        """An approved installer, allowed to run jobs."""
        return "installer" in self.roles and self.user.status == "approved"

    @property
    def revoked(self) -> bool:
        """An approved installer whose installer role an admin took away."""
        return self.user.status == "approved" and "installer" not in self.roles


class People:
    """Registration and roles over the store."""

    def __init__(self, store: Store, texts: Texts, settings: Settings) -> None:
        self.store = store
        self.texts = texts
        self.settings = settings
        self.t = texts.get

    async def sync_configured_roles(self) -> None:
        """Grant the roles that configuration names (never revokes database grants)."""
        configured = {
            "admin": self.settings.admin_ids,
            "support": self.settings.support_ids,
            "manager": self.settings.manager_ids,
        }
        for role, ids in configured.items():
            for user_id in ids:
                if await self.store.user(user_id) is None:
                    await self.store.upsert_user(user_id, "")
                if await self.store.grant(user_id, role, None):
                    await self.store.audit(None, None, "role_granted",
                                           {"user": user_id, "role": role, "by": "config"})

    async def identify(
        self, user_id: int, first_name: str, last_name: str | None, username: str | None,
        language: str | None,
    ) -> Person:
        """Record (or refresh) the user behind an update and load their roles (names as
        others will read them: without invisible format characters)."""
        first_name = visible(first_name)
        last_name = visible(last_name) if last_name else last_name
        known = await self.store.user(user_id)
        if known is None or (known.first_name, known.last_name, known.username) != (
            first_name, last_name, username
        ):
            known = await self.store.upsert_user(user_id, first_name, last_name, username,
                                                 language)
        return Person(known, frozenset(await self.store.roles(user_id)))

    # The person's side -----------------------------------------------------------------

    async def start(self, person: Person) -> Outcome:
        """`/start` from someone who is not (yet) an installer."""
        user = person.user
        if user.status == "refused" and not self.may_reapply(user):
            return self._say(self.refusal(user))
        if user.status == "pending":
            return self._say(self._pending(user.installer_id))
        if person.has(*STAFF) and user.status != "awaiting_id":
            roles = ", ".join(sorted(person.roles))
            return self._say(self.t("registration.staff_hello", name=user.name, roles=roles))
        if person.revoked:
            return self._say(self.t("registration.revoked"))
        await self.store.set_user_status(user.id, "awaiting_id")
        return self._say(self.t("registration.ask_id", example=self.settings.installer_id_example))

    async def message(self, person: Person, text: str | None) -> Outcome:
        """Any message from someone who is not an approved installer."""
        user = person.user
        typed = text is not None and not text.startswith("/")
        if user.status == "awaiting_id" and typed:
            assert text is not None
            return await self._register(person, text)
        if user.status in ("new", "awaiting_id") and not person.has(*STAFF):
            return await self.start(person)
        if user.status == "pending":
            if typed:
                assert text is not None
                return await self._retype(person, text)
            return self._say(self._pending(user.installer_id))
        if person.has(*STAFF):
            return self._say(self.t("errors.help_none"))
        return await self.start(person)

    def installer_id(self, typed: str) -> str | None:
        """The installer ID as stored (capitals, no spaces), or None when it has not the
        configured shape."""
        candidate = "".join(typed.split()).upper()
        return candidate if self.settings.installer_id_pattern.fullmatch(candidate) else None

    def may_reapply(self, user: User) -> bool:
        """A refused person whose wait is over (a refusal before the wait was kept: yes)."""
        return user.status_at is None or self.store.clock() >= self._reapply_at(user.status_at)

    def refusal(self, user: User) -> str:
        """Why the person was refused, and from when they may apply again."""
        when = self._reapply_at(user.status_at or self.store.clock())
        return self.t("registration.refused", installer_id=user.installer_id or "—",
                      date=self._time(when))

    async def _register(self, person: Person, typed: str) -> Outcome:
        user = person.user
        installer_id = self.installer_id(typed)
        if installer_id is None:
            return self._say(self.t("registration.invalid_id",
                                    example=self.settings.installer_id_example))
        if await self._held_by_another(user.id, installer_id):
            return self._say(self.t("registration.id_taken"))
        if user.id in self.settings.installer_ids:
            async with self.store.transaction():
                await self.store.set_user_status(user.id, "approved", installer_id)
                await self.store.grant(user.id, "installer", None)
                await self.store.audit(None, None, "installer_approved",
                                       {"user": user.id, "installer_id": installer_id,
                                        "by": "config"})
            return self._say(self.t("registration.approved", name=user.name))
        async with self.store.transaction():  # the admins' requests commit with it
            await self.store.set_user_status(user.id, "pending", installer_id)
            await self.store.audit(user.id, None, "registration_requested",
                                   {"installer_id": installer_id})
            admins = await self._ask_admins(user, installer_id)
        reply = Reply(self._pending(installer_id))
        if not admins:
            return Outcome([reply, Reply(self.t("registration.no_admins"))])
        return Outcome([reply])

    async def _retype(self, person: Person, typed: str) -> Outcome:
        """A pending person's new message: a corrected installer ID, or a reminder."""
        user = person.user
        installer_id = self.installer_id(typed)
        if installer_id is None or installer_id == user.installer_id:
            return self._say(self._pending(user.installer_id))
        if await self._held_by_another(user.id, installer_id):
            return self._say(self.t("registration.id_taken"))
        async with self.store.transaction():
            if not await self.store.set_user_status(user.id, "pending", installer_id,
                                                    only_from="pending"):
                return self._say(self.t("registration.already_decided"))
            await self.store.audit(user.id, None, "registration_changed",
                                   {"installer_id": installer_id, "was": user.installer_id})
            await self._ask_admins(user, installer_id, was=user.installer_id)
        return self._say(self.t("registration.changed", installer_id=installer_id))

    def _pending(self, installer_id: str | None) -> str:
        return self.t("registration.pending", installer_id=installer_id or "—",
                      example=self.settings.installer_id_example)

    async def _held_by_another(self, user_id: int, installer_id: str) -> User | None:
        holder = await self.store.user_by_installer_id(installer_id)
        return holder if holder is not None and holder.id != user_id else None

    # The admins' side ------------------------------------------------------------------

    def request(self, user: User, installer_id: str | None = None,
                was: str | None = None) -> Reply:
        """A registration request as admins see it, with Approve / Refuse buttons."""
        text = self.request_text(user, installer_id)
        if was:
            text += "\n" + self.t("registration.admin_changed", was=was)
        return Reply(text, [[
            Button(self.t("registration.approve"),
                   buttons.encode(Registration(user.id, Verdict.APPROVE))),
            Button(self.t("registration.refuse"),
                   buttons.encode(Registration(user.id, Verdict.REFUSE))),
        ]])

    def request_text(self, user: User, installer_id: str | None = None) -> str:
        """Who asks, with which installer ID."""
        return self.t("registration.admin_request", name=user.name,
                      username=user.username or "—", user_id=user.id,
                      installer_id=installer_id or user.installer_id or "—")

    async def _ask_admins(self, user: User, installer_id: str,
                          was: str | None = None) -> list[User]:
        """Queue the request to every admin (inside the caller's transaction)."""
        admins = await self.store.users_with_role("admin")
        when = self.store.now()
        for admin in admins:
            with self.texts.speaking(admin.language):  # the admin's language
                request = self.request(user, installer_id, was)
            await notices.queue(self.store, admin.id, request,
                                f"registration:{user.id}:{when}:admin:{admin.id}")
        return admins

    async def decide(self, admin: Person, data: str) -> Outcome:
        """An admin's Approve / Refuse button on a registration request."""
        if not admin.has("admin"):
            return Outcome(alert=self.t("job.not_yours"))
        action = buttons.decode(data)
        applicant = (await self.store.user(action.user)
                     if isinstance(action, Registration) else None)
        if applicant is None or not isinstance(action, Registration):
            return Outcome(alert=self.t("job.stale_button"))
        approve = action.verdict is Verdict.APPROVE
        if approve and applicant.status == "pending" and applicant.installer_id and (
            holder := await self._held_by_another(applicant.id, applicant.installer_id)
        ):
            return Outcome(alert=self.t("registration.id_held", installer_id=holder.installer_id,
                                        name=holder.name, user_id=holder.id))
        status = "approved" if approve else "refused"
        time = self._time(self.store.clock())
        base = self.request_text(applicant)
        async with self.store.transaction():  # the applicant's notice commits with it
            if not await self.store.set_user_status(applicant.id, status, only_from="pending"):
                return Outcome(alert=self.t("registration.already_decided"))
            detail = {"user": applicant.id, "installer_id": applicant.installer_id}
            if approve:
                await self.store.grant(applicant.id, "installer", admin.user.id)
                await self.store.audit(admin.user.id, None, "installer_approved", detail)
                note = self.t("registration.admin_approved", admin=admin.user.name, time=time)
                with self.texts.speaking(applicant.language):
                    tell = self.t("registration.approved", name=applicant.name)
            else:
                await self.store.audit(admin.user.id, None, "installer_refused", detail)
                decided = await self.store.user(applicant.id)
                assert decided is not None
                note = self.t("registration.admin_refused", admin=admin.user.name, time=time,
                              date=self._time(self._reapply_at(self.store.clock())),
                              user_id=applicant.id)
                with self.texts.speaking(applicant.language):
                    tell = self.refusal(decided)
            await notices.queue(self.store, applicant.id, Reply(tell),
                                f"registration:{applicant.id}:{self.store.now()}:{status}")
        return Outcome(edit=Reply(f"{base}\n{note}"))

    # Helpers -----------------------------------------------------------------------------

    def _reapply_at(self, refused_at: datetime) -> datetime:
        return refused_at + timedelta(days=self.settings.reapply_after_days)

    def _time(self, when: datetime) -> str:
        return self.texts.when(when.astimezone(self.settings.tz))

    @staticmethod
    def _say(text: str) -> Outcome:
        return Outcome([Reply(text)])
