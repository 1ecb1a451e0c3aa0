"""Request spacing shared by the whole process, so that the geocoder's usage policy holds and
no one starves the others.

Every request of the process to one geocoder endpoint goes through one shared
`RequestSpacer` (a registry keyed by endpoint, so two `AddressFinder`s still share it): one
request at a time, starts at least `GEOCODER_MIN_INTERVAL_S` + 20 ms apart (the 20 ms absorb
delivery jitter, so the server too sees the interval). Who starts next is decided when the
start is due, not earlier:

- **Priority**: an `INTERACTIVE` look-up (an installer looking at the address question, a
  typed search) goes before every waiting `BACKGROUND` one (the prefetch after a GPS fix);
  within a priority, first come first served, so concurrent installers take turns.
- **Per-person quota**: at most `quota` starts per person (`who`) in any 60 s. A person over
  it waits (an interactive look-up, within its deadline) or is refused at once (a background
  one): one person's flood cannot take the shared rate from the others.

Waiting is bounded by the caller's deadline; a look-up that cannot start in time fails as
`rate_limited`, at once when that is already known. A 429 pushes the next start back
(`back_off`).

Several instances on one PostgreSQL database share the geocoder's rate too: a spacer given a
`SharedLimiter` (an `AddressFinder` caching in PostgreSQL wires one) also reserves each
request's start in the database (a row per endpoint holding the next start allowed, moved on
atomically by one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, on the database's clock)
and waits for it just before the request goes out (`Turn.cleared`); a 429 pushes the shared
start back too.
On SQLite (one instance) the spacing is the process's alone. geopy's `AsyncRateLimiter` is
not used: its state lives in the instance
wrapping one function (the `reverse` and `geocode` wrappers, or two finders, would each allow
1/s), it lets requests overlap, and it has no deadline for the time spent waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.places.candidates import GeocoderError

MIN_REQUEST_S = 0.5  # don't start a request with less budget than this left
SPACING_MARGIN_S = 0.02  # added to the interval: delivery jitter must not bring two closer
QUOTA_WINDOW_S = 60.0
INTERACTIVE, BACKGROUND = 0, 1


@dataclass
class _Waiter:
    priority: int
    seq: int
    who: Hashable | None
    granted: asyncio.Future[Turn]


@dataclass
class Turn:
    """A granted start. `unused()` gives it back when no request was made (a cache hit)."""

    spacer: RequestSpacer
    who: Hashable | None
    started: float
    previous_next: float
    used: bool = field(default=True)

    async def cleared(self, deadline: float) -> None:
        """Across instances (a shared limiter): wait for this request's start reserved in the
        database; `rate_limited` when it comes too late for `deadline`."""
        shared = self.spacer.shared
        if shared is None:
            return
        wait = await shared.reserve(self.spacer.min_interval_s + SPACING_MARGIN_S)
        if time.monotonic() + wait > deadline - MIN_REQUEST_S:
            raise GeocoderError("rate_limited", "the geocoder's rate limit (shared by every "
                                "instance) leaves no time for this lookup; try again shortly",
                                retry_after=max(wait, self.spacer.min_interval_s))
        if wait > 0:
            await asyncio.sleep(wait)

    def unused(self) -> None:
        """No request was sent: the next start need not wait for this one, nor the quota."""
        if self.used:
            self.used = False
            self.spacer._give_back(self)


class RequestSpacer:
    """One request at a time to an endpoint, starts `min_interval_s` apart, by priority, FIFO
    within a priority, at most `quota` starts per person per minute (0: no quota).

    Shared by every `AddressFinder` of the process that talks to the same endpoint (see
    `spacer_for`). Deadlines are `time.monotonic()` based.
    """

    def __init__(self, min_interval_s: float, quota: int = 0,
                 shared: SharedLimiter | None = None):
        self.min_interval_s = min_interval_s
        self.quota = quota
        self.shared = shared  # several instances: starts reserved in the database too
        self._next_start = 0.0
        self._starts: dict[Hashable, deque[float]] = {}
        self._waiting: list[_Waiter] = []
        self._busy = False
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop: the old one's waiters are gone
            self._loop, self._waiting, self._busy, self._timer = loop, [], False, None
        return loop

    def _quota_free_at(self, who: Hashable | None, now: float) -> float:
        """When `who` may start next as far as the quota goes (now, or later)."""
        if who is None or self.quota <= 0:
            return now
        starts = self._starts.get(who)
        if starts is None:
            return now
        while starts and starts[0] <= now - QUOTA_WINDOW_S:
            starts.popleft()
        if not starts:
            del self._starts[who]
            return now
        return now if len(starts) < self.quota else starts[0] + QUOTA_WINDOW_S

    @asynccontextmanager
    async def turn(self, deadline: float, *, priority: int = INTERACTIVE,
                   who: Hashable | None = None) -> AsyncIterator[Turn]:
        """Hold the endpoint from a granted start until the block ends (`rate_limited` when
        no start can be had before `deadline` less `MIN_REQUEST_S`)."""
        loop = self._bind()
        now = time.monotonic()
        limit = deadline - MIN_REQUEST_S
        if self._next_start > limit:
            raise GeocoderError("rate_limited", "the geocoder's rate limit leaves no time "
                                "for this lookup; try again shortly",
                                retry_after=max(self._next_start - now, self.min_interval_s))
        quota_at = self._quota_free_at(who, now)
        if quota_at > now and (priority == BACKGROUND or quota_at > limit):
            raise GeocoderError("rate_limited", "this person's geocoder quota is used up; "
                                "try again shortly", retry_after=quota_at - now)
        waiter = _Waiter(priority, next(self._seq), who, loop.create_future())
        self._waiting.append(waiter)
        self._grant()
        try:
            async with asyncio.timeout(max(limit - now, 0.0)):
                await waiter.granted
        except (TimeoutError, asyncio.CancelledError) as exc:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            if waiter.granted.done() and not waiter.granted.cancelled():
                waiter.granted.result().unused()  # granted just as we gave up: pass it on
                self._release()
            waiter.granted.cancel()
            if isinstance(exc, TimeoutError):
                raise GeocoderError("rate_limited", "too many lookups queued; try again "
                                    "shortly", retry_after=self.min_interval_s) from None
            raise
        try:
            yield waiter.granted.result()
        finally:
            self._release()

    def _grant(self) -> None:
        """Start the best eligible waiter when the endpoint is free and a start is due."""
        # a waiter whose task was cancelled (its future with it) before it could leave
        self._waiting = [w for w in self._waiting if not w.granted.done()]
        if self._busy or not self._waiting:
            return
        now = time.monotonic()
        wake = self._next_start
        if now >= self._next_start:
            eligible = []
            for w in self._waiting:
                free_at = self._quota_free_at(w.who, now)
                if free_at <= now:
                    eligible.append(w)
                else:
                    wake = free_at if wake <= now else min(wake, free_at)
            if eligible:
                best = min(eligible, key=lambda w: (w.priority, w.seq))
                self._waiting.remove(best)
                self._busy = True
                turn = Turn(self, best.who, now, self._next_start)
                self._next_start = now + self.min_interval_s + SPACING_MARGIN_S
                if best.who is not None and self.quota > 0:
                    self._starts.setdefault(best.who, deque()).append(now)
                best.granted.set_result(turn)
                return
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._timer = self._loop.call_at(self._loop.time() + max(wake - now, 0.0), self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._grant()

    def _release(self) -> None:
        self._busy = False
        self._grant()

    def _give_back(self, turn: Turn) -> None:
        if self._next_start == turn.started + self.min_interval_s + SPACING_MARGIN_S:
            self._next_start = turn.previous_next  # no later start claimed it meanwhile
        starts = self._starts.get(turn.who) if turn.who is not None else None
        if starts and turn.started in starts:
            starts.remove(turn.started)

    def back_off(self, seconds: float) -> None:
        """After a 429: no request before `seconds` from now."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)


class SharedLimiter:
    """An endpoint's next start allowed, in the database (`rate_limits`), shared by every
    instance; times on the database's clock."""

    _NOW = "CAST(extract(epoch FROM clock_timestamp()) AS double precision)"

    def __init__(self, engine: AsyncEngine, endpoint: str) -> None:
        self.engine = engine
        self.endpoint = endpoint

    async def reserve(self, interval_s: float) -> float:
        """Reserve the next start, `interval_s` after the one before; seconds to wait for it."""
        async with self.engine.begin() as conn:
            wait = await conn.scalar(text(
                f"""INSERT INTO rate_limits (endpoint, next_start) VALUES (:e, {self._NOW} + :i)
                    ON CONFLICT (endpoint) DO UPDATE SET next_start =
                        GREATEST(rate_limits.next_start, {self._NOW}) + :i
                    RETURNING next_start - :i - {self._NOW}"""),
                {"e": self.endpoint, "i": interval_s})
        return float(wait or 0.0)

    async def back_off(self, seconds: float) -> None:
        """After a 429: no start, on any instance, before `seconds` from now."""
        async with self.engine.begin() as conn:
            await conn.execute(text(
                f"""INSERT INTO rate_limits (endpoint, next_start) VALUES (:e, {self._NOW} + :s)
                    ON CONFLICT (endpoint) DO UPDATE SET next_start =
                        GREATEST(rate_limits.next_start, {self._NOW} + :s)"""),
                {"e": self.endpoint, "s": seconds})


_SPACERS: dict[str, RequestSpacer] = {}
_SPACERS_LOCK = threading.Lock()


def spacer_for(endpoint: str, min_interval_s: float, quota: int = 0) -> RequestSpacer:
    """The process-wide spacer of an endpoint (the strictest interval and quota asked for
    win)."""
    with _SPACERS_LOCK:
        spacer = _SPACERS.get(endpoint)
        if spacer is None:
            spacer = _SPACERS[endpoint] = RequestSpacer(min_interval_s, quota)
        else:
            spacer.min_interval_s = max(spacer.min_interval_s, min_interval_s)
            if quota > 0:
                spacer.quota = min(spacer.quota, quota) if spacer.quota > 0 else quota
        return spacer


def reset_rate_limits() -> None:
    """Forget every endpoint's spacing and back-off (tests whose fakes reuse a port)."""
    with _SPACERS_LOCK:
        _SPACERS.clear()
