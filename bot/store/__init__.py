"""Storage: the SQLite connection, migrations, and the records the bot keeps."""

from bot.store.store import (
    CANCELLED,
    MIGRATIONS_DIR,
    OPEN,
    REJECTED,
    ROLES,
    STOPPED,
    SUBMITTED,
    VERIFIED,
    Answer,
    Delivery,
    Flag,
    Handoff,
    Job,
    Photo,
    Store,
    User,
    utc_now,
)

__all__ = [
    "CANCELLED", "MIGRATIONS_DIR", "OPEN", "REJECTED", "ROLES", "STOPPED", "SUBMITTED",
    "VERIFIED", "Answer", "Delivery", "Flag", "Handoff", "Job", "Photo", "Store", "User",
    "utc_now",
]
