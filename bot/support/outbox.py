"""Deliver pages and records over HTTP from the outbox table, surviving failures and restarts.

A delivery is written to the `outbox` table in the same transaction as the fact it reports
(a submission, a decision), so it cannot be lost. One worker task posts what is due with
httpx: a 2xx marks it delivered (it is never sent again); a timeout, 5xx or 429 schedules a
retry with exponential back-off (429 honours Retry-After, capped); other 4xx answers are
permanent and kept for the operator. Rows not delivered before a restart are delivered after
it. A delivery being sent is leased for longer than the HTTP timeout, so no other attempt
starts it again meanwhile (on PostgreSQL the lease is claimed with `FOR UPDATE SKIP LOCKED`,
so of several instances one delivers it); deliveries go out side by side, so one slow
endpoint holds up no other. Generic webhooks and the record carry an `Idempotency-Key`
header (generic ones also an `event_id` in the body), so a receiver can drop a page it
already has.
Credentials (the record endpoint's bearer token, the PagerDuty routing key) come from the
settings at send time and are never stored with the payload or logged; neither are URLs,
which for Slack hooks are secrets themselves. Once delivered, a row keeps neither its payload
nor its URL's path (see `bot.store.outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from bot.config import Settings
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
PARALLEL = 8  # deliveries in flight at once
LEASE_MARGIN_S = 30.0  # a lease outlives the HTTP timeout by this much


class Outbox:
    """The delivery worker: `start()` it once; `kick()` it after queueing something."""

    def __init__(
        self, store: Store, settings: Settings, client: httpx.AsyncClient | None = None,
        base_delay_s: float = 5.0, max_delay_s: float = 3600.0, idle_poll_s: float = 30.0,
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=settings.http_timeout_s)
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending = asyncio.Lock()
        self._parallel = asyncio.Semaphore(PARALLEL)

    def start(self) -> None:
        """Run the worker in the background (it delivers what is due right away)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pinpoint-outbox")

    async def stop(self) -> None:
        """Stop the worker and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.client.aclose()

    def kick(self) -> None:
        """Something was queued: deliver now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.deliver_due()
                wait = await self._seconds_to_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox round failed")
                wait = self.idle_poll_s
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _seconds_to_next(self) -> float:
        due = await self.store.next_delivery_time(self.settings.outbox_max_attempts)
        if due is None:
            return self.idle_poll_s
        seconds = (due - self.store.clock()).total_seconds()
        return min(max(seconds, 0.0), self.idle_poll_s)

    async def deliver_due(self) -> int:
        """Post every delivery that is due, side by side; return how many were acknowledged."""
        async with self._sending:
            now = self.store.now()
            due = await self.store.due_deliveries(now, self.settings.outbox_max_attempts)
            results = await asyncio.gather(*(self._deliver_leased(d) for d in due),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    log.error("a delivery failed unexpectedly",
                              exc_info=(type(result), result, result.__traceback__))
            return sum(r for r in results if isinstance(r, int))

    async def _deliver_leased(self, delivery: Delivery) -> int:
        """Deliver once this attempt holds the lease (another one may hold it already)."""
        async with self._parallel:
            lease_s = self.settings.http_timeout_s + LEASE_MARGIN_S
            until = (self.store.clock() + timedelta(seconds=lease_s)).isoformat()
            if not await self.store.lease(delivery.id, until):
                return 0
            return await self._deliver(delivery)

    def _request(self, delivery: Delivery) -> tuple[dict[str, str], dict[str, object]]:
        headers = {"User-Agent": "pinpoint-bot", "Content-Type": "application/json"}
        body = dict(delivery.payload)
        if delivery.kind == "pagerduty" and self.settings.pagerduty_routing_key:
            body["routing_key"] = self.settings.pagerduty_routing_key.get_secret_value()
        if delivery.kind == "generic":
            headers["Idempotency-Key"] = delivery.dedup_key
            body["event_id"] = delivery.dedup_key
        if delivery.kind == "record":
            headers["Idempotency-Key"] = str(body.get("job_id", delivery.dedup_key))
            if self.settings.record_token:
                headers["Authorization"] = (
                    "Bearer " + self.settings.record_token.get_secret_value()
                )
        return headers, body

    async def _deliver(self, delivery: Delivery) -> int:
        headers, body = self._request(delivery)
        where = f"{delivery.kind} #{delivery.id} ({urlsplit(delivery.target).hostname})"
        try:
            response = await self.client.post(delivery.target, json=body, headers=headers)
        except httpx.HTTPError as exc:
            await self._retry(delivery, f"{type(exc).__name__}", None)
            log.warning("delivery %s failed: %s; will retry", where, type(exc).__name__)
            return 0
        if response.is_success:
            await self.store.delivered(delivery.id)
            log.info("delivered %s", where)
            return 1
        error = f"HTTP {response.status_code}"
        if response.status_code in RETRYABLE:
            retry_after = response.headers.get("Retry-After", "")
            await self._retry(delivery, error,
                              float(retry_after) if retry_after.isdigit() else None)
            log.warning("delivery %s failed: %s; will retry", where, error)
        else:
            await self.store.delivery_failed(delivery.id, error + " (permanent)",
                                             "9999-12-31T00:00:00+00:00")
            log.error("delivery %s refused: %s; not retried", where, error)
        return 0

    async def _retry(self, delivery: Delivery, error: str, after_s: float | None) -> None:
        delay = min(after_s, self.max_delay_s) if after_s is not None else min(
            self.base_delay_s * 2 ** delivery.attempts, self.max_delay_s
        )
        when: datetime = self.store.clock() + timedelta(seconds=delay)
        await self.store.delivery_failed(delivery.id, error, when.isoformat())
