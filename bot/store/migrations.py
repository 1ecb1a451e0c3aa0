"""The migration runner: numbered SQL scripts (`001_name.sql`, ...) applied in order.

`PRAGMA user_version` holds the number of the last script applied; each script runs in
its own transaction together with the version bump.
"""

from __future__ import annotations

import re
from importlib.resources.abc import Traversable

import aiosqlite

from bot.config import DATA_DIR

MIGRATIONS_DIR = DATA_DIR / "migrations"


def scripts(directory: Traversable) -> list[tuple[int, Traversable]]:
    """The numbered `.sql` scripts of a directory, by number."""
    found = []
    for path in directory.iterdir():
        match = re.match(r"(\d+)_.*\.sql$", path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort(key=lambda item: item[0])
    return found


def latest(directory: Traversable = MIGRATIONS_DIR) -> int:
    """The number of the newest script: the version a current database has."""
    found = scripts(directory)
    return found[-1][0] if found else 0


async def migrate(db: aiosqlite.Connection, directory: Traversable = MIGRATIONS_DIR) -> int:
    """Apply every script newer than `PRAGMA user_version`; return the new version."""
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    for number, path in scripts(directory):
        if number <= version:
            continue
        script = path.read_text(encoding="utf-8")
        await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        version = number
    return version
