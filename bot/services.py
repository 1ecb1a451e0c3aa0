"""The wiring: every service of the bot built from the settings, for the app and for the
command lines (which simply never start the background work)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import PROCEDURE_PATH, TEXTS_DIR, Settings
from bot.engine.catalog import Catalog
from bot.engine.engine import Engine
from bot.engine.kinds import KINDS
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS
from bot.managers.reminders import Reminders
from bot.managers.summary import Summaries
from bot.people.languages import Languages
from bot.people.registration import People
from bot.places.cache import GeocodeCache
from bot.places.finder import AddressFinder
from bot.store import Store, utc_now
from bot.support.handoff import Support
from bot.support.outbox import Outbox
from bot.texts import Texts
from bot.vision.sticker import StickerConfig, StickerReader

log = logging.getLogger(__name__)


def load_texts(settings: Settings) -> Texts:
    """The texts of every shipped language, `LANGUAGE` by default (each update answers in
    its chat's: `Texts.speak`); every template may use `{network}`."""
    return Texts(TEXTS_DIR, settings.language, shared={"network": settings.network_name})


def build_finder(settings: Settings, database: AsyncEngine | None) -> AddressFinder:
    """The address finder, caching in `database` (the store's engine) when there is one."""
    cache = GeocodeCache.from_settings(database, settings) if database is not None else None
    return AddressFinder.from_settings(settings, cache)


@dataclass
class Services:
    """Settings, storage, catalog, texts and the domain services built on them."""

    settings: Settings
    store: Store
    catalog: Catalog
    texts: Texts
    procedure: Procedure
    engine: Engine
    people: People
    outbox: Outbox
    support: Support
    finder: AddressFinder
    reader: StickerReader
    summaries: Summaries
    reminders: Reminders
    languages: Languages

    @classmethod
    async def create(
        cls, settings: Settings, clock: Callable[[], datetime] = utc_now, *,
        sync_roles: bool = True,
    ) -> Services:
        """Load the data files, open (and migrate) the database, wire the services. The bot
        also syncs the roles the settings name (`sync_roles`); command lines need not."""
        procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)
        catalog = Catalog.load(settings.catalog_path, settings.checklists_path)
        texts = load_texts(settings)
        store = await Store.open(settings.store_url, clock=clock)
        finder = build_finder(settings, store.engine)
        reader = StickerReader(
            StickerConfig(settings.sticker_url_host, settings.sticker_url_path),
            workers=settings.qr_workers, budget_s=settings.qr_time_budget_s,
        )

        async def hand_off(job_id: int) -> None:  # inside the submission's transaction
            await support.hand_off(job_id)

        engine = Engine(store, procedure, catalog, texts, settings, finder, reader,
                        on_submit=hand_off)
        people = People(store, texts, settings)
        if sync_roles:
            await people.sync_configured_roles()
        outbox = Outbox(store, settings, base_delay_s=settings.outbox_retry_base_s)
        support = Support(store, engine.records, texts, settings, outbox)
        summaries = Summaries(store, engine.records, settings)
        reminders = Reminders(store, engine.records, texts, settings)
        return cls(settings, store, catalog, texts, procedure, engine, people, outbox, support,
                   finder, reader, summaries, reminders, support.languages)

    def start(self) -> None:
        """Start the background work (the outbox's deliveries); the app calls it, command
        lines don't."""
        if self.finder.policy_warning:
            log.warning(self.finder.policy_warning)
        self.outbox.start()

    async def close(self) -> None:
        """Stop the background work and release what `create` opened."""
        await self.outbox.stop()
        await self.engine.close()
        self.reader.close()
        await self.finder.aclose()
        await self.store.close()
