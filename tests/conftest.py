"""Fixtures: the Bot API emulator, settings on a temporary database (SQLite, or PostgreSQL
in modules marked `both_stores`), and the running bot."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from bot.config import DATA_DIR, PROCEDURE_PATH, TEXTS_DIR, Settings
from bot.engine.catalog import Catalog
from bot.engine.kinds import KINDS
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS
from bot.places.spacing import reset_rate_limits
from bot.services import Services
from bot.texts import Texts
from handlers.app import build_application, start_polling, stop_polling
from sandbox.launcher import Sandbox
from testkit.emulator import BotApiEmulator, Player
from testkit.fakes.geocoder import FakeNominatim
from testkit.fakes.webhook import FakeWebhook

from stores import NO_POSTGRESQL, Cluster, pg_bindir

ADMIN_ID = 9001
SUPPORT_ID = 9100
MANAGER_ID = 9200
ANA_ID = 1001  # pre-approved installer
BEN_ID = 1002  # installer who registers and waits for approval
SUPPORT_CHAT_ID = -1009999


def make_settings(tmp_path: Path, emu: BotApiEmulator, geocoder_url: str | None = None,
                  **overrides: object) -> Settings:
    """Settings for a test bot: the emulator's API, a fresh database, known people, and
    the fake geocoder (an address nobody listens on when none is given: no internet)."""
    values: dict[str, object] = {
        "geocoder_url": geocoder_url or "http://127.0.0.1:9",
        "telegram_rate_limit": False,  # the emulator sets no flood limits; saves minutes
        "geocoder_min_interval_s": 0.0,
        "geocoder_timeout_s": 2.0,
        "telegram_token": emu.token,
        "telegram_api_url": emu.api_root,
        "database_path": tmp_path / "pinpoint.db",
        "admin_ids": [ADMIN_ID],
        "installer_ids": [ANA_ID],
        "support_ids": [SUPPORT_ID],
        "manager_ids": [MANAGER_ID],
        "support_chat_id": SUPPORT_CHAT_ID,
        "manager_chat_ids": [MANAGER_ID],
        "network_name": "ChargeNet",
        "timezone": "Europe/Berlin",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


STORES = ("sqlite", "postgresql")
DATABASE_FIXTURES = ("database_url", "blank_database_url")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_stores` (a module's `pytestmark`) run on SQLite and PostgreSQL."""
    if metafunc.definition.get_closest_marker("both_stores") is None:
        return
    for name in DATABASE_FIXTURES:
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, STORES, indirect=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the session (skips when not installed)."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip(NO_POSTGRESQL)
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _database(request: pytest.FixtureRequest, tmp_path: Path, migrated: bool) -> Iterator[str]:
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'pinpoint.db'}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    with cluster.database(migrated) as url:
        yield url


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database's DATABASE_URL: SQLite (`tmp_path/pinpoint.db`) unless the
    test is parametrized over both stores."""
    yield from _database(request, tmp_path, migrated=True)


@pytest.fixture
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like `database_url`, but nothing migrated yet."""
    yield from _database(request, tmp_path, migrated=False)


class RunningBot:
    """The real `Application`, polling the emulator; can be stopped and started again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = None

    @property
    def services(self) -> Services:
        """The running bot's services (database, engine, ...)."""
        assert self.app is not None
        return self.app.bot_data["services"]

    async def start(self) -> None:
        """Build and start a new Application on the same settings and database."""
        self.app = build_application(self.settings)
        await start_polling(self.app, poll_timeout=1)

    async def stop(self) -> None:
        """Stop polling and shut the Application down (the database is closed)."""
        app, self.app = self.app, None
        if app is not None:
            await stop_polling(app)

    async def run_job(self, name: str) -> None:
        """Run a scheduled job now, as the JobQueue would, and wait for it to finish."""
        assert self.app is not None and self.app.job_queue is not None
        [job] = self.app.job_queue.get_jobs_by_name(name)
        await job.run(self.app)

    async def restart(self) -> None:
        """Stop the process's Application and start a fresh one, as after a crash."""
        await self.stop()
        await self.start()


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    """A started Bot API emulator on a free loopback port."""
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def hooks() -> AsyncIterator[FakeWebhook]:
    """A fake webhook receiver (generic, Slack, PagerDuty, the record) on a free port."""
    fake = FakeWebhook()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def nominatim() -> AsyncIterator[FakeNominatim]:
    """A fake Nominatim on a free loopback port, with the demo addresses."""
    reset_rate_limits()
    fake = FakeNominatim()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def settings(tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim,
             database_url: str) -> Settings:
    """Settings pointing at the emulator, the fake geocoder and a temporary database."""
    return make_settings(tmp_path, emu, nominatim.url, database_url=database_url)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[RunningBot]:
    """The real bot, running against the emulator."""
    running = RunningBot(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The whole sandbox (emulator, bot, chat page) on a free port, its database in a
    temporary directory (the default)."""
    running = Sandbox(Settings(_env_file=None), port=0,  # type: ignore[call-arg]
                      poll_timeout=1)
    await running.start()
    try:
        await running.emu.wait_for_call("setMyCommands")
        yield running
    finally:
        await running.stop()


@pytest.fixture
def admin(emu: BotApiEmulator) -> Player:
    """The configured admin, in a private chat."""
    return emu.user(ADMIN_ID, "Alex", "Admin", username="alexadmin")


@pytest.fixture
async def ana(emu: BotApiEmulator, bot: RunningBot) -> Player:
    """Ana, a pre-approved installer who has registered her installer ID."""
    player = emu.user(ANA_ID, "Ana", "Installer", username="ana")
    await player.send("/start")
    await player.expect_text("installer ID")
    await player.send("INS-10234")
    await player.expect_text("approved")
    return player


def photo_bytes(width: int = 1280, height: int = 960, fmt: str = "JPEG",
                exif: Image.Exif | None = None) -> bytes:
    """A camera-like test photo (noise and shapes, so JPEG does not make it tiny)."""
    image = Image.effect_noise((width, height), 40).convert("RGB")
    image.paste((200, 60, 40), (width // 4, height // 4, width // 2, height // 2))
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, fmt, quality=85, **kwargs)
    return out.getvalue()


# -- the shipped procedure, catalog and texts ----------------------------------------------


@pytest.fixture(scope="module")
def procedure() -> Procedure:
    return Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(DATA_DIR / "catalog.toml", DATA_DIR / "checklists.toml")


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts(TEXTS_DIR)
