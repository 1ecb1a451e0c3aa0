"""The admins' review of registrations: who waits (`/pending`), and resetting a person
(`/reset @ben`, `/reset 123456789`, or `/reset` as a reply to a message forwarded from them).

A reset forgets the person's registration (installer ID, status, installer role): they may
register afresh at once, e.g. a refused person before their wait is over, or someone who
typed another installer's ID.
"""

from __future__ import annotations

from bot.engine import notices
from bot.engine.interaction import Outcome, Reply
from bot.people.registration import People, Person
from bot.people.roles import Roles, Target

LIST_MAX = 20  # requests shown by one /pending


class Review:
    """`/pending` and `/reset` for admins."""

    def __init__(self, people: People) -> None:
        self.people = people
        self.store = people.store
        self.t = people.texts.under("review").get
        self.roles = Roles(people.store, people.texts, people.settings)

    async def pending(self, admin: Person) -> Outcome:
        """Every waiting request, each with its Approve / Refuse buttons."""
        if not admin.has("admin"):
            return Outcome([Reply(self.t("not_admin"))])
        waiting = await self.store.users_with_status("pending")
        if not waiting:
            return Outcome([Reply(self.t("nobody"))])
        replies = [Reply(self.t("count", count=len(waiting)))]
        replies += [self.people.request(user) for user in waiting[:LIST_MAX]]
        if len(waiting) > LIST_MAX:
            replies.append(Reply(self.t("more", count=len(waiting) - LIST_MAX)))
        return Outcome(replies)

    async def reset(self, admin: Person, args: list[str],
                    replied: Target | None = None) -> Outcome:
        """Forget a person's registration so that they may register again."""
        if not admin.has("admin"):
            return Outcome([Reply(self.t("not_admin"))])
        words = [w.strip() for w in args if w.strip()]
        if not words and replied is None:
            return Outcome([Reply(self.t("usage"))])
        user, problem = await self.roles.resolve(words, replied)
        if user is None:
            return Outcome([Reply(problem or self.t("usage"))])
        values = {"name": user.name, "user_id": user.id}
        async with self.store.transaction():  # the person's notice commits with the reset
            if not await self.store.reset_user(user.id):
                return Outcome([Reply(self.t("nothing", **values))])
            await self.store.audit(admin.user.id, None, "registration_reset",
                                   {"user": user.id, "installer_id": user.installer_id,
                                    "status": user.status})
            await notices.queue(self.store, user.id, Reply(self.t("told")),
                                f"registration:{user.id}:{self.store.now()}:reset")
        return Outcome([Reply(self.t("done", was=user.installer_id or "—", **values))])
