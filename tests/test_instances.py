"""Several instances on one PostgreSQL database: a delivery or notice claimed by one, a job
run by one, the daily summary sent once (a missed one too), the geocoder's shared spacing,
concurrent migrations, one person's updates in order across two dispatchers (and an update
a dead instance left, adopted once), and two webhook instances behind a round-robin
balancer."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import Chat, Message, Update, User
from test_webhook_e2e import SECRET, WebhookBot, free_port

from bot.places.spacing import RequestSpacer, SharedLimiter
from bot.store import SUBMITTED, Received, Store
from bot.store.migrations import latest
from handlers.intake import Dispatcher
from handlers.schedule import DAILY_SUMMARY
from handlers.webhook import SECRET_HEADER
from testkit.emulator import BotApiEmulator
from testkit.fakes.geocoder import FakeNominatim

from conftest import ANA_ID, MANAGER_ID, RunningBot, make_settings
from flow import start_job, walk
from stores import Cluster


def text_update(update_id: int, user_id: int) -> Update:
    """A private text message of `user_id`, as Telegram sends it."""
    user = User(user_id, "P", False)
    message = Message(update_id, datetime.now(UTC), Chat(user_id, "private"), from_user=user,
                      text=f"answer {update_id}")
    return Update(update_id, message=message)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database."""
    with pg_cluster.database() as url:
        yield url


@pytest.fixture
async def two_stores(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two instances' stores on one database."""
    first, second = await Store.open(pg_url), await Store.open(pg_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_two_concurrent_migrations_of_an_empty_database_both_succeed(
        pg_cluster: Cluster) -> None:
    with pg_cluster.database(migrated=False) as url:
        stores = await asyncio.gather(Store.open(url), Store.open(url), Store.open(url))
        try:
            assert [await s.schema_version() for s in stores] == [latest()] * 3
        finally:
            for store in stores:
                await store.close()


async def test_each_due_delivery_and_notice_is_claimed_by_one_instance(
        two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    for i in range(20):
        await first.enqueue("generic", "https://example.org/hook", {"n": i}, f"d{i}")
        await first.queue_notice(42 + i % 3, f"notice {i}", [], f"n{i}")
    until = "9999-01-01T00:00:00+00:00"
    deliveries = await first.deliveries()
    notices = await first.notices()

    async def claim(store: Store) -> tuple[list[int], list[int]]:
        got_d = [d.id for d in deliveries if await store.lease(d.id, until)]
        got_n = [n.id for n in notices if await store.lease_notice(n.id, until)]
        return got_d, got_n

    (d1, n1), (d2, n2) = await asyncio.gather(claim(first), claim(second))
    assert sorted(d1 + d2) == sorted(d.id for d in deliveries) and not set(d1) & set(d2)
    assert sorted(n1 + n2) == sorted(n.id for n in notices) and not set(n1) & set(n2)


async def test_a_job_lease_is_held_by_one_instance_until_released(
        pg_url: str, two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    claims = await asyncio.gather(first.claim_lease("job", 60), second.claim_lease("job", 60))
    assert sorted(claims) == [False, True]
    holder, other = (first, second) if claims[0] else (second, first)
    assert await holder.claim_lease("job", 60)  # renewed
    assert not await other.claim_lease("job", 60)
    await holder.release_leases()
    assert await other.claim_lease("job", 60)


async def test_the_shared_limiter_spaces_requests_of_two_instances(
        two_stores: tuple[Store, Store]) -> None:
    interval = 0.3
    spacers = [RequestSpacer(interval, shared=SharedLimiter(s.engine, "test|endpoint"))
               for s in two_stores]
    starts: list[float] = []

    async def request(spacer: RequestSpacer) -> None:
        deadline = time.monotonic() + 10
        async with spacer.turn(deadline) as turn:
            await turn.cleared(deadline)
            starts.append(time.monotonic())

    await asyncio.gather(*(request(spacers[i % 2]) for i in range(6)))
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 6 and min(gaps) >= interval, gaps


async def test_the_shared_limiter_refuses_a_start_past_the_deadline(
        two_stores: tuple[Store, Store]) -> None:
    from bot.places.candidates import GeocoderError

    limiter = SharedLimiter(two_stores[0].engine, "test|slow")
    await limiter.back_off(5.0)  # a 429 seen by another instance
    spacer = RequestSpacer(0.1, shared=limiter)
    deadline = time.monotonic() + 2
    with pytest.raises(GeocoderError) as raised:
        async with spacer.turn(deadline) as turn:
            await turn.cleared(deadline)
    assert raised.value.kind == "rate_limited"


async def test_one_persons_updates_stay_in_order_across_two_dispatchers(
        two_stores: tuple[Store, Store]) -> None:
    seen: list[int] = []

    async def process(update: Update) -> None:
        await asyncio.sleep(random.uniform(0, 0.02))
        seen.append(update.update_id)

    def decode(kept: Received) -> Update | None:
        return Update.de_json(json.loads(kept.payload), None)  # type: ignore[arg-type]

    dispatchers = [Dispatcher(process, store, turns=store, decode=decode)
                   for store in two_stores]
    # update 1 was received by an instance that died before processing it
    await two_stores[0].receive(1, 7, text_update(1, 7).to_json())
    for update_id in range(2, 31):  # round-robin, as a load balancer would
        i = update_id % 2
        update = text_update(update_id, 7)
        assert await two_stores[i].receive(update_id, 7, update.to_json())
        dispatchers[i].submit(update)
        await asyncio.sleep(random.uniform(0, 0.005))
    await asyncio.gather(*(d.idle() for d in dispatchers))
    assert seen == list(range(1, 31))  # in order, each once (1 taken over)
    assert await two_stores[0].unfinished() == []


async def two_bots(tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim,
                   url: str) -> list[RunningBot]:
    emu.user(MANAGER_ID, "Mia", "Manager")
    bots = [RunningBot(make_settings(tmp_path, emu, nominatim.url, database_url=url))
            for _ in range(2)]
    for bot in bots:
        await bot.start()
    return bots


def summaries_sent(emu: BotApiEmulator) -> int:
    return sum(1 for c in emu.calls_of("sendMessage")
               if c.params.get("chat_id") in (MANAGER_ID, str(MANAGER_ID))
               and "📊" in str(c.params.get("text")) and c.ok)


async def test_two_instances_send_one_daily_summary(
        tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim, pg_url: str) -> None:
    bots = await two_bots(tmp_path, emu, nominatim, pg_url)
    try:
        await asyncio.gather(*(bot.run_job(DAILY_SUMMARY) for bot in bots))
        await asyncio.gather(*(bot.run_job(DAILY_SUMMARY) for bot in bots))
        await asyncio.sleep(0.3)
        assert summaries_sent(emu) == 1
    finally:
        for bot in bots:
            await bot.stop()


async def test_a_summary_missed_while_every_instance_was_down_is_sent_once_at_start(
        tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim, pg_url: str) -> None:
    store = await Store.open(pg_url)
    await store.set_mark(DAILY_SUMMARY, "2020-01-01")  # sent long ago, then all were down
    await store.close()
    bots = await two_bots(tmp_path, emu, nominatim, pg_url)
    try:
        for _ in range(50):
            if summaries_sent(emu):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert summaries_sent(emu) == 1  # the latest missed day's, once (not one a day)
        mark = await bots[0].services.store.mark(DAILY_SUMMARY)
        assert mark is not None and mark > "2020-01-01"
    finally:
        for bot in bots:
            await bot.stop()


async def test_an_update_a_dead_instance_left_is_adopted_once(
        two_stores: tuple[Store, Store]) -> None:
    seen: list[int] = []

    async def process(update: Update) -> None:
        seen.append(update.update_id)

    def decode(kept: Received) -> Update | None:
        return Update.de_json(json.loads(kept.payload), None)  # type: ignore[arg-type]

    dead, alive = two_stores
    await dead.receive(5, 8, text_update(5, 8).to_json())  # received, then the instance died
    dispatcher = Dispatcher(process, alive, turns=alive, decode=decode)
    assert dispatcher.adopt(await alive.unfinished(received_before="2000-01-01")) == 0
    orphans = await alive.unfinished(received_before="9999-01-01")
    assert dispatcher.adopt(orphans) == 1
    assert dispatcher.adopt(orphans) == 0  # queued here already
    await dispatcher.idle()
    assert dispatcher.adopt(await alive.unfinished()) == 0
    assert seen == [5]


async def test_a_dead_instance_is_known_at_once_and_its_updates_taken_over(
        two_stores: tuple[Store, Store]) -> None:
    dead, alive = two_stores
    await dead.announce()
    await alive.announce()
    await dead.receive(7, 9, text_update(7, 9).to_json())
    await alive.receive(8, 9, text_update(8, 9).to_json())
    receivers = await alive.unfinished_receivers()
    assert receivers == {dead.holder, alive.holder}
    assert await alive.gone(receivers - {None}) == set()  # both alive
    assert await alive.departed() == set()
    assert await alive.orphans(set(), "2000-01-01") == []
    assert dead._alive is not None
    await dead._alive.invalidate()  # the process dies: PostgreSQL ends its session, lock too
    dead._alive = None
    gone = await alive.gone(receivers - {None})
    assert gone == {dead.holder}
    assert [r.update_id for r in await alive.orphans(gone, "2000-01-01")] == [7]
    assert await alive.departed() == {dead.holder}  # told once, to one instance
    assert await alive.departed() == set()


class RoundRobin:
    """A load balancer on loopback: each POST goes to the next instance in turn."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.turn = itertools.count()
        self.runner: web.AppRunner | None = None
        self.port = free_port()

    async def forward(self, request: web.Request) -> web.Response:
        backend = self.backends[next(self.turn) % len(self.backends)]
        async with aiohttp.ClientSession() as session, session.post(
                backend + request.path, data=await request.read(),
                headers={SECRET_HEADER: request.headers.get(SECRET_HEADER, ""),
                         "Content-Type": "application/json"}) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_two_webhook_instances_behind_a_balancer_keep_a_persons_order(
        tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim, pg_url: str) -> None:
    ports = [free_port(), free_port()]
    balancer = RoundRobin([f"http://127.0.0.1:{p}" for p in ports])
    await balancer.start()
    bots = [WebhookBot(make_settings(
        tmp_path, emu, nominatim.url, database_url=pg_url, webhook_secret=SECRET,
        webhook_url=f"http://127.0.0.1:{balancer.port}/telegram/hook", webhook_port=port))
        for port in ports]
    try:
        for bot in bots:
            await bot.start()
        ana = emu.user(ANA_ID, "Ana", "Installer", username="ana")
        await ana.send("/start")
        await ana.expect_text("installer ID")
        await ana.send("INS-10234")
        await ana.expect_text("approved")
        await start_job(ana)
        for _ in range(8):  # a burst: consecutive updates reach both instances
            await ana.send("/status")
        for _ in range(8):
            await ana.expect()
        await walk(ana, bots[0])  # to the end: submitted
        store = bots[0].services.store
        [job] = await store.jobs_of(ANA_ID)
        assert job.status == SUBMITTED
        rows = await store.fetch_all(
            "SELECT update_id FROM inbox WHERE sender = ? ORDER BY done_at", (ANA_ID,))
        processed = [r["update_id"] for r in rows]
        assert processed == sorted(processed)  # one at a time, in Telegram's order
        assert await store.unfinished() == []
        hook = emu.webhook
        assert hook is not None and len(hook.deliveries) == len(processed)
    finally:
        for bot in bots:
            await bot.stop()
        await balancer.stop()
