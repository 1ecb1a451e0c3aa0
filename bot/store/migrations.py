"""The schema's migrations: Alembic revisions in `revisions/versions/`, one set for SQLite
and PostgreSQL, applied at start by `Store.open`.

A SQLite database migrated by the earlier runner (numbered SQL scripts, `PRAGMA
user_version` = N) is adopted: stamped at revision N (`"005"`), then upgraded.

Several instances may start at once on one PostgreSQL database: the upgrade runs under a
transaction-level advisory lock (`UPGRADE_LOCK`), so one applies the revisions and the
others, waiting, then find nothing left to do.

Alembic (~10 MB of modules) is imported only to upgrade: the newest revision is read from
the revision files' `revision`/`down_revision` lines (`latest`) and a database's from its
`alembic_version` table (`current`), so a process whose database is current never loads it
(`bot run` migrates in a process of its own first: `bot.__main__`).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

REVISIONS_DIR = Path(__file__).parent / "revisions"
UPGRADE_LOCK = 0x50494E504F494E54  # "PINPOINT": an advisory lock key no person id can be


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration: the revisions shipped in the package, on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(REVISIONS_DIR))
    config.attributes["connection"] = connection
    return config


@functools.cache
def latest() -> str:
    """The newest revision, the one a current database is at: the one no other revision
    names as its `down_revision` (one head: Alembic's `get_current_head`, without Alembic)."""
    revisions: dict[str, str | None] = {}
    for path in (REVISIONS_DIR / "versions").glob("*.py"):
        values = {target.id: node.value.value
                  for node in ast.parse(path.read_text(encoding="utf-8")).body
                  if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                  for target in node.targets if isinstance(target, ast.Name)}
        if "revision" in values:
            revisions[values["revision"]] = values.get("down_revision")
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"the revisions have {len(heads)} heads"
    return heads.pop()


def _alembic_revision(connection: Connection) -> str | None:
    """The revision in `alembic_version` (one head), or None."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _legacy_revision(connection: Connection) -> str | None:
    """A SQLite database of the numbered-scripts runner: its `user_version` as a revision."""
    if connection.dialect.name != "sqlite":
        return None
    legacy = connection.exec_driver_sql("PRAGMA user_version").scalar()
    return f"{legacy:03d}" if legacy else None


def _current(connection: Connection) -> str | None:
    return _alembic_revision(connection) or _legacy_revision(connection)


def _upgrade(connection: Connection, target: str) -> str | None:
    from alembic import command

    if connection.dialect.name == "postgresql":  # released at the transaction's end
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK})")
    config = alembic_config(connection)
    if _alembic_revision(connection) is None and (legacy := _legacy_revision(connection)):
        command.stamp(config, legacy)  # migrated by the numbered-scripts runner: adopt it
    command.upgrade(config, target)
    return _current(connection)


async def upgrade(engine: AsyncEngine, target: str = "head") -> str | None:
    """Apply the pending migrations (up to `target`) in one transaction; the revision now
    current."""
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, target)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: not migrated; a database of the numbered
    scripts: its number, e.g. `"005"`)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
