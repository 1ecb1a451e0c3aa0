"""The periodic purge of secrets the bot no longer needs (run by the app's scheduler).

The activation password is needed until the network has it: it is masked (`••••••7K`) once
the job is verified and its record delivered to `RECORD_ENDPOINT`, and in any case
`PASSWORD_RETENTION_DAYS` after it was given (a job never verified, no endpoint, a record
that was refused). A password read from the sticker and still waiting for the installer's
confirmation is masked once the job is closed or as old. Deliveries are cleared of their
payload when delivered (see `bot.store.outbox`); one still undelivered at that age is given
up and cleared too. Updates kept in the inbox (what installers typed, the password too) lose
their content once processed. Afterwards the WAL file is emptied, so no old copy lingers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from bot.config import Settings
from bot.engine.procedure import Procedure
from bot.engine.validators import mask_secret
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    """What one purge changed."""

    answers: list[int]  # jobs whose password answer was masked
    pending: list[int]  # jobs whose held password was masked
    deliveries: int  # outbox rows cleared
    updates: int  # processed updates cleared in the inbox


async def purge_secrets(store: Store, settings: Settings, procedure: Procedure) -> Purged:
    """Mask and drop what is no longer needed (see the module's docstring)."""
    since = store.clock() - timedelta(days=settings.password_retention_days)
    cutoff = since.astimezone(UTC).isoformat()
    step = procedure.key("password")
    answers = await store.mask_answers(step, mask_secret, cutoff) if step else []
    pending = await store.mask_pending(step, mask_secret, cutoff) if step else []
    deliveries = await store.scrub_deliveries(cutoff)
    updates = await store.clear_done_updates()
    await store.checkpoint()  # no old copy left in the WAL file
    if answers or pending or deliveries:
        log.info("secrets purged: %d password(s) masked, %d held, %d deliveries cleared",
                 len(answers), len(pending), deliveries)
    return Purged(answers, pending, deliveries, updates)
