"""Granting and revoking roles by command: who may, whom a command means, the audit trail.

`/grant manager @mia`, `/grant support 123456789`, `/revoke installer @ben`, or the command
as a reply to a message forwarded from the person. Only admins may; the admin role itself
comes from configuration (ADMIN_IDS). Every change is written to the audit table.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.engine import notices
from bot.engine.interaction import Outcome, Reply
from bot.people.registration import Person
from bot.store import Store, User
from bot.texts import Texts

GRANTABLE = ("installer", "support", "manager")
ALIASES = {"installers": "installer", "supporter": "support", "supporters": "support",
           "managers": "manager", "admins": "admin"}
CONFIGURED = {"support": ("support_ids", "SUPPORT_IDS"), "manager": ("manager_ids", "MANAGER_IDS")}
LIST_MAX = 20


@dataclass(frozen=True)
class Target:
    """Whom a command means, as Telegram showed them (a reply, a forward) or as typed."""

    user_id: int | None = None
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    hidden_name: str | None = None  # a forward from someone who hides their account
    not_a_person: bool = False  # a forward from a chat or channel


class Roles:
    """Role changes by admins."""

    def __init__(self, store: Store, texts: Texts, settings: Settings) -> None:
        self.store = store
        self.texts = texts
        self.settings = settings
        self.t = texts.under("grant").get  # a `grant.<key>` text

    async def change(self, admin: Person, verb: str, args: list[str],
                     replied: Target | None = None) -> Outcome:
        """`verb` is "grant" or "revoke"; `args` the command's words; `replied` the person
        of the message the command replies to, if any."""
        if not admin.has("admin"):
            return self._say(self.t("not_admin"))
        words = [w.strip() for w in args if w.strip()]
        if not words:
            return self._say(self.t("usage") + "\n\n" + await self.listing())
        role_words = [w for w in words if _role(w) is not None]
        if not role_words:
            return self._say(self.t("unknown_role", role=words[0]) + "\n\n" + self.t("usage"))
        role = _role(role_words[0])
        if role == "admin":
            return self._say(self.t("admin_role"))
        assert role is not None
        rest = list(words)
        rest.remove(role_words[0])
        user, problem = await self.resolve(rest, replied)
        if user is None:
            return self._say(problem or self.t("no_target"))
        if verb == "grant":
            return await self._grant(admin, user, role)
        return await self._revoke(admin, user, role)

    async def resolve(self, words: list[str], replied: Target | None) -> tuple[User | None,
                                                                              str | None]:
        """The user a command means: a typed @username or id first, else the replied one."""
        for word in words:
            if word.startswith("@") and len(word) > 1:
                user = await self.store.users_by_username(word)
                return user, None if user else self.t("unknown_user", who=word)
            if word.lstrip("-").isdigit():
                user_id = int(word)
                if user_id <= 0:
                    return None, self.t("not_a_person")
                user = await self.store.user(user_id)
                return user or await self.store.upsert_user(user_id, ""), None
        if words:
            return None, self.t("no_target")
        if replied is None:
            return None, None
        if replied.not_a_person:
            return None, self.t("not_a_person")
        if replied.user_id is None:
            return None, self.t("hidden", name=replied.hidden_name or "?")
        user = await self.store.user(replied.user_id)
        if user is None or not user.first_name:
            user = await self.store.upsert_user(replied.user_id, replied.first_name,
                                                replied.last_name, replied.username)
        return user, None

    async def _grant(self, admin: Person, user: User, role: str) -> Outcome:
        values = {"name": user.name, "user_id": user.id, "role": self.t(f"role.{role}")}
        async with self.store.transaction():  # the person's notice commits with the grant
            changed = await self.store.grant(user.id, role, admin.user.id)
            lines = [self.t("granted" if changed else "already", **values)]
            approved = False
            if role == "installer":
                holder = await self._holder(user)
                if holder is not None:
                    return self._say(self.texts.get(
                        "registration.id_held", installer_id=holder.installer_id,
                        name=holder.name, user_id=holder.id))
                approved = await self._approve(admin, user)
                if approved:
                    lines.append(self.t("approved_too", installer_id=user.installer_id))
                elif not user.installer_id:
                    lines.append(self.t("register_first"))
            if not changed and not approved:
                return self._say("\n".join(lines))
            if changed:
                await self.store.audit(admin.user.id, None, "role_granted",
                                       {"user": user.id, "role": role, "by": admin.user.id})
            with self.texts.speaking(user.language):  # the person's language
                if role == "installer" and approved:
                    told = self.texts.get("registration.approved", name=user.name)
                else:
                    told = self.t("told_granted", role=self.t(f"role.{role}"),
                                  hint=self.texts.get(f"grant.hint_{role}", default=""))
            await notices.queue(self.store, user.id, Reply(told),
                                f"role:{user.id}:{role}:granted:{self.store.now()}")
        return self._say("\n".join(lines))

    async def _holder(self, user: User) -> User | None:
        """Another person approved with this person's installer ID (approving would clash)."""
        if not user.installer_id or user.status == "approved":
            return None
        holder = await self.store.user_by_installer_id(user.installer_id)
        return holder if holder is not None and holder.id != user.id else None

    async def _approve(self, admin: Person, user: User) -> bool:
        """Approve a registered installer ID that waits (or was refused)."""
        if not user.installer_id or user.status == "approved":
            return False
        if not await self.store.set_user_status(user.id, "approved", only_from=user.status):
            return False
        await self.store.audit(admin.user.id, None, "installer_approved",
                               {"user": user.id, "installer_id": user.installer_id,
                                "by": admin.user.id})
        return True

    async def _revoke(self, admin: Person, user: User, role: str) -> Outcome:
        values = {"name": user.name, "user_id": user.id, "role": self.t(f"role.{role}")}
        async with self.store.transaction():  # the person's notice commits with the change
            if not await self.store.revoke(user.id, role):
                return self._say(self.t("not_held", **values))
            await self.store.audit(admin.user.id, None, "role_revoked",
                                   {"user": user.id, "role": role, "by": admin.user.id})
            with self.texts.speaking(user.language):
                told = self.t("told_revoked", role=self.t(f"role.{role}"))
            await notices.queue(self.store, user.id, Reply(told),
                                f"role:{user.id}:{role}:revoked:{self.store.now()}")
        lines = [self.t("revoked", **values)]
        if role == "installer":
            lines.append(self.t("stays_revoked"))
        if role in CONFIGURED and user.id in getattr(self.settings, CONFIGURED[role][0]):
            lines.append(self.t("from_config", setting=CONFIGURED[role][1]))
        return self._say("\n".join(lines))

    async def listing(self) -> str:
        """Who holds which role now (installers are counted)."""
        lines = [self.t("roles_now")]
        for role in ("admin", "manager", "support"):
            people = await self.store.users_with_role(role)
            names = [p.name if p.name == str(p.id) else f"{p.name} ({p.id})"
                     for p in people[:LIST_MAX]]
            if len(people) > LIST_MAX:
                names.append(f"+{len(people) - LIST_MAX}")
            lines.append(self.t("role_line", role=role, people=", ".join(names)
                                or self.t("nobody")))
        installers = await self.store.users_with_role("installer")
        lines.append(self.t("installers_count", count=len(installers)))
        return "\n".join(lines)

    @staticmethod
    def _say(text: str) -> Outcome:
        return Outcome([Reply(text)])


def _role(word: str) -> str | None:
    word = word.lower()
    word = ALIASES.get(word, word)
    return word if word in (*GRANTABLE, "admin") else None
