"""The schema's migrations: Alembic revisions in `revisions/versions/`, one set for SQLite
and PostgreSQL, applied at start by `Store.open`.

A SQLite database migrated by the earlier runner (numbered SQL scripts, `PRAGMA
user_version` = N) is adopted: stamped at revision N (`"005"`), then upgraded.

Several instances may start at once on one PostgreSQL database: the upgrade runs under a
transaction-level advisory lock (`UPGRADE_LOCK`), so one applies the revisions and the
others, waiting, then find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

REVISIONS_DIR = Path(__file__).parent / "revisions"
UPGRADE_LOCK = 0x50494E504F494E54  # "PINPOINT": an advisory lock key no person id can be


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration: the revisions shipped in the package, on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(REVISIONS_DIR))
    config.attributes["connection"] = connection
    return config


def latest() -> str:
    """The newest revision: the one a current database is at."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


def _alembic_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _legacy_revision(connection: Connection) -> str | None:
    """A SQLite database of the numbered-scripts runner: its `user_version` as a revision."""
    if connection.dialect.name != "sqlite":
        return None
    legacy = connection.exec_driver_sql("PRAGMA user_version").scalar()
    return f"{legacy:03d}" if legacy else None


def _current(connection: Connection) -> str | None:
    return _alembic_revision(connection) or _legacy_revision(connection)


def _upgrade(connection: Connection, target: str) -> str | None:
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
