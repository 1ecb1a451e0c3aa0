"""Unit tests: webhook payloads, the outbox's retries, and splitting long hand-offs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.store import Store
from bot.support.outbox import Outbox
from bot.support.paging import PageFacts, page_payload, parse_webhooks, resolve_payload
from bot.support.posting import split_lines, visible_length
from testkit.fakes.webhook import FakeWebhook

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL

FACTS = PageFacts(event="submitted", job_id=12, network="ChargeNet", installer="Ana",
                  installer_id="INS-1", station="ABB Terra 184", serial="T184-IT12345-00042",
                  mac="0024:B100:0002:1A2B", address="Hauptstraße 5, 10115 Berlin",
                  address_verified=True, submitted_at="2026-11-24T10:00:00+00:00")


def test_webhook_entries() -> None:
    hooks = parse_webhooks(["slack:https://hooks.example/T/B/X", "https://example/generic",
                            "pagerduty:https://events.example/v2/enqueue"])
    assert [h.kind for h in hooks] == ["slack", "generic", "pagerduty"]
    assert hooks[0].url == "https://hooks.example/T/B/X"
    with pytest.raises(ValueError, match="teams"):
        parse_webhooks(["teams:https://x"])


def test_payload_shapes() -> None:
    generic = page_payload("generic", FACTS)
    assert generic["event"] == "job_submitted" and generic["job_id"] == 12
    slack = page_payload("slack", FACTS)
    assert slack["text"].startswith("ChargeNet job #12 submitted") and len(slack["blocks"]) == 2
    pd = page_payload("pagerduty", FACTS)
    assert pd["event_action"] == "trigger" and pd["dedup_key"] == "12"
    assert pd["payload"]["summary"] and pd["payload"]["severity"] == "info"
    assert "routing_key" not in pd  # added only when sent
    assert resolve_payload(12) == {"event_action": "resolve", "dedup_key": "12"}


def test_split_respects_the_visible_limit_and_never_breaks_html() -> None:
    lines = ["<b>Title</b>", "&lt;b&gt; " * 500, "x" * 5000, "<code>end</code>"]
    chunks = split_lines("\n".join(lines), limit=4096)
    assert all(visible_length(c) <= 4096 for c in chunks)
    assert chunks[0].startswith("<b>Title</b>")
    assert "".join(chunks).count("x") == 5000
    assert chunks[-1].endswith("<code>end</code>")
    assert visible_length("&amp;🅿️") == 4  # an entity is one character; the emoji is three units


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeWebhook]:
    server = FakeWebhook()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def settings(**values: object) -> Settings:
    values = {"http_timeout_s": 0.3, **values}
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def test_retries_until_acknowledged_then_never_again(store: Store,
                                                           fake: FakeWebhook) -> None:
    outbox = Outbox(store, settings(), base_delay_s=0.0)
    fake.fail_next(2, 502)
    assert await store.enqueue("generic", fake.url("/g"), {"a": 1}, "k1")
    assert not await store.enqueue("generic", fake.url("/g"), {"a": 1}, "k1")  # same fact
    for _ in range(3):
        await outbox.deliver_due()
    assert len(fake.delivered("/g")) == 1
    assert [r.status for r in fake.received] == [502, 502, 200]
    await outbox.deliver_due()
    assert len(fake.received) == 3
    await outbox.stop()


async def test_permanent_errors_are_not_retried(store: Store, fake: FakeWebhook) -> None:
    outbox = Outbox(store, settings(), base_delay_s=0.0)
    await store.enqueue("pagerduty", fake.url("/pagerduty"), {"event_action": "trigger"}, "k")
    await outbox.deliver_due()  # no routing key configured: PagerDuty answers 400
    await outbox.deliver_due()
    assert [r.status for r in fake.received] == [400]
    delivery = (await store.deliveries())[0]
    assert "permanent" in (delivery.last_error or "") and delivery.delivered_at is None
    await outbox.stop()


async def test_timeouts_back_off(store: Store, fake: FakeWebhook) -> None:
    outbox = Outbox(store, settings(), base_delay_s=60.0)
    fake.stall_next(1, seconds=1.0)
    await store.enqueue("generic", fake.url("/g"), {}, "k")
    await outbox.deliver_due()
    delivery = (await store.deliveries())[0]
    assert delivery.attempts == 1 and delivery.last_error == "ReadTimeout"
    await outbox.deliver_due()  # not due for a minute
    assert len(fake.received) <= 1 and (await store.deliveries())[0].attempts == 1
    await outbox.stop()


async def test_record_carries_bearer_token_and_idempotency_key(store: Store,
                                                               fake: FakeWebhook) -> None:
    outbox = Outbox(store, settings(record_token="tok-123"), base_delay_s=0.0)
    await store.enqueue("record", fake.url("/record"), {"job_id": 7}, "record:7")
    await outbox.deliver_due()
    request = fake.delivered("/record")[0]
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Idempotency-Key"] == "7"
    await outbox.stop()


async def test_a_delivery_in_flight_is_not_started_again(store: Store, fake: FakeWebhook) -> None:
    """Two workers (another task, or another instance) find the same due delivery: the lease
    lets one send it; the other leaves it alone while it is in flight."""
    first = Outbox(store, settings(http_timeout_s=3.0), base_delay_s=0.0)
    second = Outbox(store, settings(http_timeout_s=3.0), base_delay_s=0.0)
    fake.stall_next(1, seconds=0.5)
    await store.enqueue("slack", fake.url("/slack"), {"text": "job 1"}, "page:1")
    done = await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert sorted(done) == [0, 1]
    await first.deliver_due()
    await second.deliver_due()
    assert len(fake.received) == 1 and (await store.deliveries())[0].delivered_at
    await first.stop()
    await second.stop()


async def test_generic_pages_carry_an_idempotency_key_and_event_id(store: Store,
                                                                   fake: FakeWebhook) -> None:
    outbox = Outbox(store, settings(), base_delay_s=0.0)
    await store.enqueue("generic", fake.url("/g"), page_payload("generic", FACTS),
                        "page:3:submitted:0")
    await outbox.deliver_due()
    [request] = fake.delivered("/g")
    assert request.headers["Idempotency-Key"] == "page:3:submitted:0"
    assert request.body["event_id"] == "page:3:submitted:0"
    assert request.body["job_id"] == 12
    await outbox.stop()


async def test_retry_after_is_capped_and_a_slow_delivery_holds_up_no_other(
    store: Store, fake: FakeWebhook
) -> None:
    outbox = Outbox(store, settings(http_timeout_s=3.0), base_delay_s=0.0, max_delay_s=120.0)
    await store.enqueue("generic", fake.url("/slow"), {}, "slow")
    await store.enqueue("generic", fake.url("/quick"), {}, "quick")
    fake.stall_next(1, seconds=1.0)
    started = time.monotonic()
    assert await outbox.deliver_due() == 2
    assert time.monotonic() - started < 1.9  # side by side, not one after the other
    quick = fake.delivered("/quick")[0]
    slow = fake.delivered("/slow")[0]
    assert quick.at < slow.at
    await store.enqueue("generic", fake.url("/g"), {}, "limited")
    # A Retry-After of a day is held to the cap.
    await outbox._retry((await store.deliveries())[-1], "HTTP 429", 86400.0)
    next_try = await store.next_delivery_time(max_attempts=12)
    assert next_try is not None
    assert (next_try - store.clock()).total_seconds() <= 121
    await outbox.stop()
