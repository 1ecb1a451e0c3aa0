"""People: the Telegram users the bot knows, their registration and their roles.

Every change of a person's roles or registration status goes through `grant`, `revoke`,
`set_user_status` or `reset_user` (the one place to hook a cache of people's roles).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store.connection import Database, parse_time
from bot.store.records import ROLES, User

CACHED_AT_MOST = 10_000  # people whose row and roles are cached (SQLite)


def _user(row: RowMapping) -> User:
    return User(row["id"], row["first_name"], row["last_name"], row["username"],
                row["installer_id"], row["status"], parse_time(row["status_at"]),
                row["language"])


class People(Database):
    """Users and roles. Every update needs its sender's row and roles: on SQLite (one
    instance owns the database) both are cached, and forgotten whenever this store changes
    them (`forget_person`); on PostgreSQL (instances share it) they are read each time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._users: dict[int, User] = {}
        self._roles: dict[int, frozenset[str]] = {}
        self._changed: set[int | None] = set()  # forgotten in a transaction: again at commit

    def _caching(self) -> bool:
        """Cache what is read now? Not on PostgreSQL, nor inside a transaction (it may be
        rolled back)."""
        return self.dialect == "sqlite" and not self.in_transaction()

    def _after_commit(self) -> None:
        super()._after_commit()
        changed, self._changed = self._changed, set()
        for user_id in changed:  # a reader may have cached the row before the commit
            self._forget(user_id)

    def forget_person(self, user_id: int | None = None) -> None:
        """Drop a user's cached row and roles (None: everyone's). The store's own writes do;
        call it after changing the users or roles tables any other way."""
        if self.in_transaction():
            self._changed.add(user_id)
        self._forget(user_id)

    def _forget(self, user_id: int | None) -> None:
        if user_id is None:
            self._users.clear()
            self._roles.clear()
        else:
            self._users.pop(user_id, None)
            self._roles.pop(user_id, None)

    async def user(self, user_id: int) -> User | None:
        """The user with this Telegram id, or None."""
        if user_id in self._users:
            return self._users[user_id]
        row = await self.fetch_one("SELECT * FROM users WHERE id = ?", (user_id,))
        user = _user(row) if row else None
        if user is not None and self._caching():
            if len(self._users) > CACHED_AT_MOST:
                self._users.clear()
            self._users[user_id] = user
        return user

    async def upsert_user(
        self, user_id: int, first_name: str, last_name: str | None = None,
        username: str | None = None, language: str | None = None,
    ) -> User:
        """Create the user or refresh their name; return them. Their language is the one
        Telegram reported at first contact (later ones are ignored: /language changes it)."""
        now = self.now()
        await self._write(
            """INSERT INTO users (id, first_name, last_name, username, language, created_at,
                                  updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name,
                   last_name = excluded.last_name, username = excluded.username,
                   language = COALESCE(users.language, excluded.language),
                   updated_at = excluded.updated_at""",
            (user_id, first_name or "", last_name, username, language, now, now),
        )
        self.forget_person(user_id)
        user = await self.user(user_id)
        assert user is not None
        return user

    async def set_language(self, user_id: int, language: str) -> None:
        """The language the person chose with /language."""
        await self._exec("UPDATE users SET language = ?, updated_at = ? WHERE id = ?",
                         (language, self.now(), user_id))
        self.forget_person(user_id)

    async def chat_language(self, chat_id: int) -> str | None:
        """The language set for a group chat (a managers' chat), or None."""
        row = await self.fetch_one("SELECT language FROM chat_languages WHERE chat_id = ?",
                                   (chat_id,))
        return row["language"] if row else None

    async def set_chat_language(self, chat_id: int, language: str, by: int | None) -> None:
        """Set a group chat's language (/language in that chat)."""
        await self._write(
            """INSERT INTO chat_languages (chat_id, language, set_by, set_at) VALUES (?,?,?,?)
               ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language,
                   set_by = excluded.set_by, set_at = excluded.set_at""",
            (chat_id, language, by, self.now()),
        )

    async def set_user_status(
        self, user_id: int, status: str, installer_id: str | None = None,
        only_from: str | None = None,
    ) -> bool:
        """Move a user through registration; keep the installer id when none is given.

        With `only_from`, the change happens only from that status (so that two admins
        pressing at once decide once); returns whether it happened.
        """
        now = self.now()
        cur = await self._exec(
            """UPDATE users SET status = ?, installer_id = COALESCE(CAST(? AS TEXT), installer_id),
               updated_at = ?, status_at = ? WHERE id = ?
               AND (CAST(? AS TEXT) IS NULL OR status = ?)""",
            (status, installer_id, now, now, user_id, only_from, only_from),
        )
        self.forget_person(user_id)
        return cur.rowcount > 0

    async def reset_user(self, user_id: int) -> bool:
        """Forget a person's registration (status `new`, no installer ID, no installer role):
        they may register afresh. True when there was something to forget."""
        now = self.now()
        async with self.transaction():
            cur = await self._exec(
                """UPDATE users SET status = 'new', installer_id = NULL, updated_at = ?,
                   status_at = ? WHERE id = ? AND (status <> 'new' OR installer_id IS NOT NULL)""",
                (now, now, user_id),
            )
            revoked = await self.revoke(user_id, "installer")
            self.forget_person(user_id)
        return cur.rowcount > 0 or revoked

    async def user_by_installer_id(self, installer_id: str) -> User | None:
        """The approved holder of this installer ID (only approval reserves one), or None."""
        row = await self.fetch_one(
            "SELECT * FROM users WHERE installer_id = ? AND status = 'approved'", (installer_id,)
        )
        return _user(row) if row else None

    async def users_with_status(self, status: str) -> list[User]:
        """Everyone in this registration status, longest waiting first."""
        rows = await self.fetch_all(
            "SELECT * FROM users WHERE status = ? ORDER BY status_at, id", (status,)
        )
        return [_user(r) for r in rows]

    async def users_by_username(self, username: str) -> User | None:
        """The user with this @username (case-insensitive), or None."""
        row = await self.fetch_one(
            "SELECT * FROM users WHERE lower(username) = lower(?)", (username.lstrip("@"),)
        )
        return _user(row) if row else None

    async def roles(self, user_id: int) -> frozenset[str]:
        """The roles this user holds."""
        if user_id in self._roles:
            return self._roles[user_id]
        rows = await self.fetch_all("SELECT role FROM roles WHERE user_id = ?", (user_id,))
        roles = frozenset(r["role"] for r in rows)
        if self._caching():
            if len(self._roles) > CACHED_AT_MOST:
                self._roles.clear()
            self._roles[user_id] = roles
        return roles

    async def grant(self, user_id: int, role: str, by: int | None) -> bool:
        """Give a role; True when it is new."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        cur = await self._exec(
            "INSERT INTO roles (user_id, role, granted_by, granted_at) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (user_id, role, by, self.now()),
        )
        self.forget_person(user_id)
        return cur.rowcount > 0

    async def revoke(self, user_id: int, role: str) -> bool:
        """Take a role away; True when the user had it."""
        cur = await self._exec(
            "DELETE FROM roles WHERE user_id = ? AND role = ?", (user_id, role)
        )
        self.forget_person(user_id)
        return cur.rowcount > 0

    async def users_with_role(self, role: str) -> list[User]:
        """Everyone holding the role, by id."""
        rows = await self.fetch_all(
            """SELECT users.* FROM users JOIN roles ON roles.user_id = users.id
               WHERE roles.role = ? ORDER BY users.id""",
            (role,),
        )
        return [_user(r) for r in rows]
