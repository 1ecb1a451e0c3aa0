"""Storage: SQLite or PostgreSQL (`DATABASE_URL`), migrations, and the records the bot keeps.

`Store` is the bot's database: the engine and its turns (`connection.Database`, SQLAlchemy
Core over `aiosqlite` or `asyncpg`) with the queries of every aggregate, in SQL both run.
One module per aggregate holds its SQL:

- `people`: users, registration and roles
- `jobs`: jobs, their answers, flags and photos, and the idle jobs reminders look for
- `handoffs`: submissions to support and support's decisions
- `outbox`: outgoing HTTP deliveries
- `audit`: the audit trail
- `inbox`: updates from Telegram, kept until processed
- `notices`: Telegram messages owed to a chat, kept until sent
- `retention`: secret answers masked once no longer needed
- `coordination`: several instances on one database: a person's turn, leases on jobs
- `stats`: job counts and the outbox's backlog, for operations

`records` holds the dataclasses they return; `migrations` runs the schema's Alembic revisions
(`revisions/versions/`).
"""

from bot.store.coordination import Coordination
from bot.store.handoffs import Handoffs
from bot.store.inbox import Inbox, Received
from bot.store.jobs import Jobs
from bot.store.notices import Notices
from bot.store.outbox import Outbox
from bot.store.people import People
from bot.store.records import (
    CANCELLED,
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
    LiveKeyboards,
    Photo,
    User,
    utc_now,
)
from bot.store.retention import Retention
from bot.store.stats import Stats


class Store(People, Jobs, Handoffs, Outbox, Inbox, Notices, Retention, Stats, Coordination):
    """The bot's database, every aggregate on one engine: `await Store.open(url_or_path)`."""


__all__ = [
    "CANCELLED", "OPEN", "REJECTED", "ROLES", "STOPPED", "SUBMITTED",
    "VERIFIED", "Answer", "Delivery", "Flag", "Handoff", "Inbox", "Job", "LiveKeyboards",
    "Photo", "Received",
    "Store", "User", "utc_now",
]
