"""Request spacing shared by the whole process, so that the geocoder's usage policy holds.

Every request of the process to one geocoder endpoint goes through one shared
`RequestSpacer` (a registry keyed by endpoint, so two `AddressFinder`s still share it): one
request at a time, starts at least `GEOCODER_MIN_INTERVAL_S` + 20 ms apart (the 20 ms absorb
delivery jitter, so the server too sees the interval), FIFO so concurrent installers take
turns. geopy's `AsyncRateLimiter` is not used: its state lives in the instance wrapping one
function (the `reverse` and `geocode` wrappers, or two finders, would each allow 1/s), it
lets requests overlap, and it has no deadline for the time spent waiting (it even sleeps and
retries on errors). A 429 pushes the next start back (`back_off`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.places.candidates import GeocoderError

MIN_REQUEST_S = 0.5  # don't start a request with less budget than this left
SPACING_MARGIN_S = 0.02  # added to the interval: delivery jitter must not bring two closer


class RequestSpacer:
    """One request at a time to an endpoint, starts at least `min_interval_s` apart, FIFO.

    Shared by every `AddressFinder` of the process that talks to the same endpoint (see
    `spacer_for`). Waiting is bounded by the caller's deadline (`time.monotonic()` based).
    """

    def __init__(self, min_interval_s: float):
        self.min_interval_s = min_interval_s
        self._next_start = 0.0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a new event loop: new lock
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[RequestSpacer]:
        """Hold the endpoint (FIFO) until the block ends; `rate_limited` if not by deadline."""
        lock = self._get_lock()
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                await lock.acquire()
        except TimeoutError:
            raise GeocoderError("rate_limited", "too many lookups queued; try again shortly",
                                retry_after=self.min_interval_s) from None
        try:
            yield self
        finally:
            lock.release()

    async def wait_start(self, deadline: float) -> None:
        """Inside a turn: sleep until the next start is allowed, then claim it."""
        now = time.monotonic()
        wait = self._next_start - now
        if wait > 0:
            if now + wait > deadline - MIN_REQUEST_S:
                raise GeocoderError("rate_limited", "the geocoder's rate limit leaves no time "
                                    "for this lookup; try again shortly", retry_after=wait)
            await asyncio.sleep(wait)
        self._next_start = time.monotonic() + self.min_interval_s + SPACING_MARGIN_S

    def back_off(self, seconds: float) -> None:
        """After a 429: no request before `seconds` from now."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)


_SPACERS: dict[str, RequestSpacer] = {}
_SPACERS_LOCK = threading.Lock()


def spacer_for(endpoint: str, min_interval_s: float) -> RequestSpacer:
    """The process-wide spacer of an endpoint (the strictest interval asked for wins)."""
    with _SPACERS_LOCK:
        spacer = _SPACERS.get(endpoint)
        if spacer is None:
            spacer = _SPACERS[endpoint] = RequestSpacer(min_interval_s)
        else:
            spacer.min_interval_s = max(spacer.min_interval_s, min_interval_s)
        return spacer


def reset_rate_limits() -> None:
    """Forget every endpoint's spacing and back-off (tests whose fakes reuse a port)."""
    with _SPACERS_LOCK:
        _SPACERS.clear()
