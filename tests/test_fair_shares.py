"""Nobody starves the shared limits: geocoder look-ups by priority, one background look-up per
job, a per-person quota; photos in a bounded pool of their own (issues 11 and 14)."""

from __future__ import annotations

import asyncio
import io
import statistics
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.config import Settings
from bot.engine.buttons import Choose, encode
from bot.engine.engine import Engine
from bot.engine.interaction import Input, LocationInput, Outcome
from bot.engine.kinds import KINDS
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS
from bot.places import GeocoderError, spacing
from bot.places.spacing import BACKGROUND, INTERACTIVE, RequestSpacer, reset_rate_limits
from bot.services import Services
from testkit.fakes.geocoder import FakeNominatim

ANA, BEN = 1001, 1002
FIX = (52.53040, 13.38450)  # Invalidenstraße, Berlin (the fake's demo table)
INTERVAL = 0.2
SPACING = INTERVAL + 0.02  # the interval and the spacer's margin

PART = """
[[part]]
id = "pinpoint"
"""
PROCEDURE = PART + """
[[step]]
id = "gps"
role = "gps"
part = "pinpoint"
kind = "location"
source = "gps"

[[step]]
id = "new_or_replacement"
role = "replacement"
part = "pinpoint"
kind = "choice"
options = [{ id = "new" }, { id = "replacement" }]

[[step]]
id = "address"
role = "address"
part = "pinpoint"
kind = "address"

[[step]]
id = "station_name"
role = "station_name"
part = "pinpoint"
kind = "text"
validator = "short_text"

[[step]]
id = "submit"
role = "submit"
part = "pinpoint"
kind = "submit"
"""


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    reset_rate_limits()


@pytest.fixture
async def nominatim() -> AsyncIterator[FakeNominatim]:
    async with FakeNominatim() as fake:
        yield fake


async def build(tmp_path: Path, procedure: str = PROCEDURE,
                **overrides: object) -> tuple[Services, Engine]:
    values: dict[str, object] = {"geocoder_url": "http://127.0.0.1:9"}  # none: no internet
    values.update(overrides)
    settings = Settings(_env_file=None, database_path=tmp_path / "f.db",  # type: ignore[call-arg]
                        installer_ids=[ANA, BEN], **values)
    services = await Services.create(settings)
    for user in (ANA, BEN):
        await services.store.upsert_user(user, str(user))
    path = tmp_path / "procedure.toml"
    path.write_text(procedure)
    try:
        steps = Procedure.load(path, VALIDATORS, KINDS)
    except Exception:
        await services.close()
        raise
    engine = Engine(services.store, steps, services.catalog, services.texts, settings,
                    services.finder, services.reader)
    for user in (ANA, BEN):
        await engine.start_job(user, user)
    return services, engine


async def current(engine: Engine, user: int) -> str:
    view = await engine.open_view(user)
    assert view is not None and view.current is not None
    return view.current.step.id


async def back_to(engine: Engine, user: int, step: str) -> None:
    while await current(engine, user) != step:
        await engine.back(user)


def fix(lat: float, lon: float) -> Input:
    return Input(location=LocationInput(lat, lon, accuracy=5.0))


# --- the spacer: priority and quota ------------------------------------------------------------


async def test_a_lookup_cancelled_in_the_queue_does_not_hold_the_endpoint() -> None:
    """A queued lookup's task cancelled just as the turn before it ends (its future cancelled,
    its clean-up not yet run) is passed over: the endpoint is not left busy for everyone."""
    spacer, entered, leave = RequestSpacer(0.0), asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with spacer.turn(time.monotonic() + 5):
            entered.set()
            await leave.wait()

    async def queued() -> str:
        async with spacer.turn(time.monotonic() + 5):
            return "ran"

    first = asyncio.create_task(holder())
    await entered.wait()
    second = asyncio.create_task(queued())
    await asyncio.sleep(0.1)  # queued behind the first, its next start due
    leave.set()  # the first ends its turn before the second's task sees its cancellation
    second.cancel()
    await first  # ends cleanly (the turn is not handed to the cancelled waiter)
    with pytest.raises(asyncio.CancelledError):
        await second
    assert await asyncio.wait_for(queued(), 1.0) == "ran"


async def test_interactive_lookups_go_before_waiting_background_ones() -> None:
    spacer, order = RequestSpacer(0.05), []

    async def one(name: str, priority: int) -> None:
        async with spacer.turn(time.monotonic() + 5, priority=priority):
            order.append(name)

    first = asyncio.create_task(one("first", BACKGROUND))
    await asyncio.sleep(0)
    background = [asyncio.create_task(one(f"bg{i}", BACKGROUND)) for i in range(3)]
    await asyncio.sleep(0.01)
    interactive = asyncio.create_task(one("asked", INTERACTIVE))
    await asyncio.gather(first, *background, interactive)
    assert order == ["first", "asked", "bg0", "bg1", "bg2"]


async def test_a_person_over_quota_waits_or_is_refused_softly() -> None:
    spacer = RequestSpacer(0.01, quota=3)
    for _ in range(3):
        async with spacer.turn(time.monotonic() + 5, who=ANA):
            pass
    started = time.monotonic()
    with pytest.raises(GeocoderError) as refused:  # a background look-up: refused at once
        async with spacer.turn(time.monotonic() + 5, priority=BACKGROUND, who=ANA):
            pass
    with pytest.raises(GeocoderError) as late:  # interactive, but the quota frees too late
        async with spacer.turn(time.monotonic() + 5, who=ANA):
            pass
    assert refused.value.kind == late.value.kind == "rate_limited"
    assert time.monotonic() - started < 0.1
    async with spacer.turn(time.monotonic() + 5, who=BEN):  # the others are not held back
        pass
    for _ in range(5):  # turns that found the answer in the cache cost no quota
        async with spacer.turn(time.monotonic() + 5, who="carl") as turn:
            turn.unused()
    async with spacer.turn(time.monotonic() + 5, who="carl"):
        pass


async def test_an_interactive_lookup_over_quota_waits_for_its_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spacing, "QUOTA_WINDOW_S", 0.4)
    spacer = RequestSpacer(0.01, quota=2)
    started = time.monotonic()
    for _ in range(2):
        async with spacer.turn(time.monotonic() + 5, who=ANA):
            pass
    async with spacer.turn(time.monotonic() + 5, who=ANA):  # waits for the window to move
        assert 0.35 <= time.monotonic() - started < 0.8


async def test_a_new_fix_cancels_the_jobs_previous_background_lookup(
    tmp_path: Path, nominatim: FakeNominatim
) -> None:
    nominatim.delay(0.3)
    services, engine = await build(tmp_path, geocoder_url=nominatim.url,
                                   geocoder_min_interval_s=0.0)
    try:
        started = []
        for i in range(10):
            await engine.handle(ANA, fix(45.760 + i * 0.001, 4.830))
            started.extend(engine.addresses._prefetches.values())
            await engine.back(ANA)
        running = list(engine.addresses._prefetches.values())
        assert running == started[-1:]  # one per job, the latest
        await running[0]
        assert all(task.cancelled() for task in started[:-1])
        # Each earlier fix got at most its first request (cut off), only the last its probes.
        assert len(nominatim.requests) <= 9 + 5
    finally:
        await engine.close()
        await services.close()


# --- a flood of GPS fixes ------------------------------------------------------------------


async def ben_address_list(services: Services, engine: Engine, where: tuple[float, float],
                           ) -> float:
    """Seconds from Ben's GPS fix to his list of addresses (a cold cache)."""
    await services.store._exec("DELETE FROM geocode_cache")  # the cache is in the store
    await back_to(engine, BEN, "gps")
    job = await services.store.open_job(BEN)
    started = time.monotonic()
    shown: Outcome = await engine.handle(BEN, fix(*where))
    if await current(engine, BEN) == "new_or_replacement":  # asked once, then kept
        shown = await engine.press(BEN, encode(Choose(job.id, "new_or_replacement", "new")))
    assert await current(engine, BEN) == "address"
    elapsed = time.monotonic() - started
    assert shown.replies, shown
    assert len(shown.replies[-1].buttons) >= 3, shown.replies[-1].text  # addresses, not an error
    return elapsed


async def test_a_flood_of_fixes_does_not_delay_anothers_address_list(
    tmp_path: Path, nominatim: FakeNominatim
) -> None:
    nominatim.delay(0.03)  # a real server's latency, a little
    services, engine = await build(
        tmp_path, geocoder_url=nominatim.url, geocoder_min_interval_s=INTERVAL,
        geocoder_probes=4, geocoder_budget_s=6.0, geocoder_quota_per_person=0)  # no quota
    try:
        idle = await ben_address_list(services, engine, FIX)
        await asyncio.sleep(SPACING)
        fixes = 0

        async def flood() -> None:  # Ana: a fix, /back, another fix, ... as fast as can be
            nonlocal fixes
            while True:
                await engine.handle(ANA, fix(45.760 + fixes * 0.001, 4.830))
                await engine.back(ANA)
                fixes += 1
                await asyncio.sleep(0.01)

        flooding = asyncio.create_task(flood())
        try:
            await asyncio.sleep(1.0)
            busy = await ben_address_list(services, engine, (FIX[0] + 0.00001, FIX[1]))
        finally:
            flooding.cancel()
            await asyncio.gather(flooding, return_exceptions=True)
    finally:
        await engine.close()
        await services.close()
    assert fixes > 30
    # Ben waits at most for the request in flight and the geocoder's spacing.
    assert busy <= idle + SPACING + 0.03 + 0.15, (idle, busy)


# --- a flood of photos ---------------------------------------------------------------------


def big_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


async def test_a_flood_of_photos_does_not_delay_anothers_text_answer(tmp_path: Path) -> None:
    typed_only = PART + PROCEDURE[PROCEDURE.index('[[step]]\nid = "station'):]
    services, engine = await build(tmp_path, typed_only, photo_workers=2)
    data = big_jpeg()
    photos = engine.desk.checks.photos
    try:

        async def text_answer() -> float:
            """Ben answers a typed question (his station's name), then goes back to it."""
            started = time.monotonic()
            await engine.handle(BEN, Input(text="Parking lot P3"))
            elapsed = time.monotonic() - started
            await back_to(engine, BEN, "station_name")
            return elapsed

        idle = statistics.median([await text_answer() for _ in range(5)])
        busiest = 0

        async def load() -> bytes:  # a download: a little I/O, then the bytes
            await asyncio.sleep(0.05)
            return data

        def decoding() -> int:
            return sum(t.name.startswith("photo") for t in threading.enumerate())

        flood = asyncio.gather(*(photos.inspect(load) for _ in range(20)))
        await asyncio.sleep(0.2)
        during = []
        while not flood.done():
            during.append(await text_answer())
            busiest = max(busiest, decoding())
            started = time.monotonic()
            await asyncio.to_thread(lambda: None)  # the default executor stays free
            assert time.monotonic() - started < 0.2
            await asyncio.sleep(0.05)
        facts = await flood
    finally:
        await engine.close()
        await services.close()
    assert len(facts) == 20 and facts[0].width == 4000
    assert len(during) >= 3 and busiest <= 2
    assert statistics.median(during) <= 2 * idle + 0.05, (idle, during)
