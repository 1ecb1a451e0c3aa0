"""Who may use the bot: installer registration, admin approval, and roles.

Roles live in the database; configuration grants them at start (`sync_configured_roles`),
admins grant and revoke them later. Installers register once with their installer ID and
are approved by an admin's button, or at once when configuration pre-approves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import Settings
from bot.engine import buttons, notices
from bot.engine.buttons import Registration, Verdict
from bot.engine.interaction import Button, Outcome, Reply
from bot.store import Store, User
from bot.texts import Texts

INSTALLER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{2,23}")


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
        """Record (or refresh) the user behind an update and load their roles."""
        known = await self.store.user(user_id)
        if known is None or (known.first_name, known.last_name, known.username) != (
            first_name, last_name, username
        ):
            known = await self.store.upsert_user(user_id, first_name, last_name, username,
                                                 language)
        return Person(known, frozenset(await self.store.roles(user_id)))

    async def start(self, person: Person) -> Outcome:
        """`/start` from someone who is not (yet) an installer."""
        user = person.user
        if user.status == "refused":
            return Outcome([Reply(self.t("registration.refused"))])
        if user.status == "pending":
            return Outcome([Reply(self.t("registration.pending", installer_id=user.installer_id))])
        if person.has("admin", "support", "manager") and user.status != "awaiting_id":
            roles = ", ".join(sorted(person.roles))
            hello = Reply(self.t("registration.staff_hello", name=user.name, roles=roles))
            return Outcome([hello])
        await self.store.set_user_status(user.id, "awaiting_id")
        return Outcome([Reply(self.t("registration.ask_id"))])

    async def message(self, person: Person, text: str | None) -> Outcome:
        """Any message from someone who is not an approved installer."""
        user = person.user
        if user.status == "awaiting_id" and text is not None and not text.startswith("/"):
            return await self._register(person, text.strip())
        if user.status in ("new", "awaiting_id") and not person.has("admin", "support",
                                                                    "manager"):
            return await self.start(person)
        if user.status == "pending":
            return Outcome([Reply(self.t("registration.pending", installer_id=user.installer_id))])
        if person.has("admin", "support", "manager"):
            return Outcome([Reply(self.t("errors.help_none"))])
        return Outcome([Reply(self.t("registration.refused"))])

    async def _register(self, person: Person, installer_id: str) -> Outcome:
        user = person.user
        if not INSTALLER_ID.fullmatch(installer_id):
            return Outcome([Reply(self.t("registration.invalid_id"))])
        installer_id = installer_id.upper()
        holder = await self.store.user_by_installer_id(installer_id)
        if holder is not None and holder.id != user.id:
            return Outcome([Reply(self.t("registration.id_taken"))])
        if user.id in self.settings.installer_ids:
            await self.store.set_user_status(user.id, "approved", installer_id)
            await self.store.grant(user.id, "installer", None)
            await self.store.audit(None, None, "installer_approved",
                                   {"user": user.id, "installer_id": installer_id,
                                    "by": "config"})
            return Outcome([Reply(self.t("registration.approved", name=user.name))])
        reply = Reply(self.t("registration.pending", installer_id=installer_id))

        def request(admin: User) -> Reply:
            with self.texts.speaking(admin.language):  # the admin's language
                return Reply(
                    self.t("registration.admin_request", name=user.name,
                           username=user.username or "—", user_id=user.id,
                           installer_id=installer_id),
                    [[Button(self.t("registration.approve"),
                             buttons.encode(Registration(user.id, Verdict.APPROVE))),
                      Button(self.t("registration.refuse"),
                             buttons.encode(Registration(user.id, Verdict.REFUSE)))]],
                )
        async with self.store.transaction():  # the admins' requests commit with it
            await self.store.set_user_status(user.id, "pending", installer_id)
            await self.store.audit(user.id, None, "registration_requested",
                                   {"installer_id": installer_id})
            admins = await self.store.users_with_role("admin")
            when = self.store.now()
            for admin in admins:
                await notices.queue(self.store, admin.id, request(admin),
                                    f"registration:{user.id}:{when}:admin:{admin.id}")
        if not admins:
            return Outcome([reply, Reply(self.t("registration.no_admins"))])
        return Outcome([reply])

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
        status = "approved" if approve else "refused"
        time = self.texts.when(self.store.clock().astimezone(self.settings.tz))
        base = self.t("registration.admin_request", name=applicant.name,
                      username=applicant.username or "—", user_id=applicant.id,
                      installer_id=applicant.installer_id)
        async with self.store.transaction():  # the applicant's notice commits with it
            if not await self.store.set_user_status(applicant.id, status, only_from="pending"):
                return Outcome(alert=self.t("registration.already_decided"))
            if approve:
                await self.store.grant(applicant.id, "installer", admin.user.id)
                await self.store.audit(admin.user.id, None, "installer_approved",
                                       {"user": applicant.id,
                                        "installer_id": applicant.installer_id})
                note = self.t("registration.admin_approved", admin=admin.user.name, time=time)
                with self.texts.speaking(applicant.language):
                    tell = self.t("registration.approved", name=applicant.name)
            else:
                await self.store.audit(admin.user.id, None, "installer_refused",
                                       {"user": applicant.id,
                                        "installer_id": applicant.installer_id})
                note = self.t("registration.admin_refused", admin=admin.user.name, time=time)
                with self.texts.speaking(applicant.language):
                    tell = self.t("registration.refused")
            await notices.queue(self.store, applicant.id, Reply(tell),
                                f"registration:{applicant.id}:{self.store.now()}:{status}")
        return Outcome(edit=Reply(f"{base}\n{note}"))
