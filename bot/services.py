"""The bot's dependencies, built once at start from the settings, shared by all handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.config import DATA_DIR, Settings
from bot.engine.catalog import Catalog
from bot.engine.engine import Engine
from bot.engine.kinds import KINDS
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS
from bot.people.registration import People
from bot.places.geo import AddressFinder, GeocodeCache
from bot.store import Store, utc_now
from bot.support.handoff import Support
from bot.support.outbox import Outbox
from bot.texts import Texts
from bot.vision.sticker import StickerConfig, StickerReader

PROCEDURE_PATH = DATA_DIR / "procedure.toml"
TEXTS_DIR = DATA_DIR / "texts"


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
    cache_db: aiosqlite.Connection

    @classmethod
    async def create(
        cls, settings: Settings, clock: Callable[[], datetime] = utc_now
    ) -> Services:
        """Load the data files, open (and migrate) the database, wire the services."""
        procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)
        catalog = Catalog.load(settings.catalog_path, settings.checklists_path)
        texts = Texts(TEXTS_DIR, settings.language)
        store = await Store.open(settings.database_path, clock=clock)
        cache_db = await aiosqlite.connect(str(settings.database_path), isolation_level=None)
        await cache_db.execute("PRAGMA busy_timeout=5000")
        finder = AddressFinder.from_settings(settings, GeocodeCache.from_settings(cache_db,
                                                                                 settings))
        reader = StickerReader(
            StickerConfig(settings.sticker_url_host, settings.sticker_url_path),
            workers=settings.qr_workers, budget_s=settings.qr_time_budget_s,
        )
        engine = Engine(store, procedure, catalog, texts, settings, finder, reader)
        people = People(store, texts, settings)
        await people.sync_configured_roles()
        outbox = Outbox(store, settings, base_delay_s=settings.outbox_retry_base_s)
        support = Support(store, engine.records, texts, settings, outbox)
        return cls(settings, store, catalog, texts, procedure, engine, people, outbox, support,
                   finder, reader, cache_db)

    def start(self) -> None:
        """Start the background work (the outbox's deliveries)."""
        self.outbox.start()

    async def close(self) -> None:
        """Stop the background work and release what `create` opened."""
        await self.outbox.stop()
        await self.engine.close()
        self.reader.close()
        await self.finder.aclose()
        await self.cache_db.close()
        await self.store.close()
