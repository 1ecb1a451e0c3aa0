"""People: the Telegram users the bot knows, their registration and their roles."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import RowMapping

from bot.store.connection import Database
from bot.store.records import ROLES, User

ROLES_CACHE_S = 30.0
ROLES_CACHED_AT_MOST = 10_000


def _user(row: RowMapping) -> User:
    return User(row["id"], row["first_name"], row["last_name"], row["username"],
                row["installer_id"], row["status"])


class People(Database):
    """Users and roles; a person's roles are cached for `ROLES_CACHE_S` (every update needs
    them), forgotten at once when this process grants or revokes one (`forget_roles`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._roles: dict[int, tuple[float, frozenset[str]]] = {}

    async def user(self, user_id: int) -> User | None:
        """The user with this Telegram id, or None."""
        row = await self.fetch_one("SELECT * FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def upsert_user(
        self, user_id: int, first_name: str, last_name: str | None = None,
        username: str | None = None, language: str | None = None,
    ) -> User:
        """Create the user or refresh their name; return them."""
        now = self.now()
        await self._write(
            """INSERT INTO users (id, first_name, last_name, username, language, created_at,
                                  updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name,
                   last_name = excluded.last_name, username = excluded.username,
                   language = excluded.language, updated_at = excluded.updated_at""",
            (user_id, first_name or "", last_name, username, language, now, now),
        )
        user = await self.user(user_id)
        assert user is not None
        return user

    async def set_user_status(
        self, user_id: int, status: str, installer_id: str | None = None,
        only_from: str | None = None,
    ) -> bool:
        """Move a user through registration; keep the installer id when none is given.

        With `only_from`, the change happens only from that status (so that two admins
        pressing at once decide once); returns whether it happened.
        """
        cur = await self._exec(
            """UPDATE users SET status = ?, installer_id = COALESCE(CAST(? AS TEXT), installer_id),
               updated_at = ? WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR status = ?)""",
            (status, installer_id, self.now(), user_id, only_from, only_from),
        )
        return cur.rowcount > 0

    async def user_by_installer_id(self, installer_id: str) -> User | None:
        """The user linked to this installer account, or None."""
        row = await self.fetch_one(
            "SELECT * FROM users WHERE installer_id = ?", (installer_id,)
        )
        return _user(row) if row else None

    async def users_by_username(self, username: str) -> User | None:
        """The user with this @username (case-insensitive), or None."""
        row = await self.fetch_one(
            "SELECT * FROM users WHERE lower(username) = lower(?)", (username.lstrip("@"),)
        )
        return _user(row) if row else None

    async def roles(self, user_id: int) -> frozenset[str]:
        """The roles this user holds (cached; another instance's change shows within
        `ROLES_CACHE_S`)."""
        cached = self._roles.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        rows = await self.fetch_all("SELECT role FROM roles WHERE user_id = ?", (user_id,))
        roles = frozenset(r["role"] for r in rows)
        if len(self._roles) > ROLES_CACHED_AT_MOST:
            self._roles.clear()
        self._roles[user_id] = (time.monotonic() + ROLES_CACHE_S, roles)
        return roles

    def forget_roles(self, user_id: int | None = None) -> None:
        """Drop the cached roles of a user (None: everyone's): call it after changing the
        roles table other than through `grant` and `revoke`."""
        if user_id is None:
            self._roles.clear()
        else:
            self._roles.pop(user_id, None)

    async def grant(self, user_id: int, role: str, by: int | None) -> bool:
        """Give a role; True when it is new."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        cur = await self._exec(
            "INSERT INTO roles (user_id, role, granted_by, granted_at) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (user_id, role, by, self.now()),
        )
        self.forget_roles(user_id)
        return cur.rowcount > 0

    async def revoke(self, user_id: int, role: str) -> bool:
        """Take a role away; True when the user had it."""
        cur = await self._exec(
            "DELETE FROM roles WHERE user_id = ? AND role = ?", (user_id, role)
        )
        self.forget_roles(user_id)
        return cur.rowcount > 0

    async def users_with_role(self, role: str) -> list[User]:
        """Everyone holding the role, by id."""
        rows = await self.fetch_all(
            """SELECT users.* FROM users JOIN roles ON roles.user_id = users.id
               WHERE roles.role = ? ORDER BY users.id""",
            (role,),
        )
        return [_user(r) for r in rows]
