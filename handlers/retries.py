"""Transient Telegram failures are retried, not apologised for.

`RetryingRequest` is the project's transport (`handlers.transport`) with one addition: a
call answered with 429 (after its `retry_after`), a 5xx (whatever its body: a proxy's HTML
page too), a timeout or a dropped connection is tried again with back-off, within a per-call
time limit, before the error reaches the handler. Long polling (`getUpdates`) is left to
the intake, which has its own back-off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

from telegram.error import NetworkError, TimedOut

from handlers.transport import AiohttpRequest

log = logging.getLogger(__name__)

NOT_RETRIED = frozenset({"getUpdates"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryingRequest(AiohttpRequest):
    """A transport that retries transient failures with capped, jittered back-off."""

    def __init__(self, *args: Any, retry_limit_s: float = 60.0, first_delay_s: float = 0.5,
                 max_delay_s: float = 10.0, max_retry_after_s: float = 30.0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_limit_s = retry_limit_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.max_retry_after_s = max_retry_after_s

    async def do_request(self, url: str, method: str, request_data: Any = None,
                         **timeouts: Any) -> tuple[int, bytes]:
        """One Bot API call, tried again while it fails transiently and time remains."""
        name = url.rsplit("/", 1)[-1]
        if name in NOT_RETRIED:
            return await super().do_request(url, method, request_data, **timeouts)
        deadline = time.monotonic() + self.retry_limit_s
        attempt = 0
        while True:
            attempt += 1
            try:
                code, payload = await super().do_request(url, method, request_data, **timeouts)
            except (TimedOut, NetworkError) as exc:
                if not await self._pause(name, attempt, deadline, None, f"{exc}"):
                    raise
                continue
            if code not in RETRY_STATUSES:
                return code, payload
            wait = _retry_after(payload) if code == 429 else None
            if not await self._pause(name, attempt, deadline, wait, f"HTTP {code}"):
                return code, payload

    async def _pause(self, name: str, attempt: int, deadline: float, retry_after: float | None,
                     why: str) -> bool:
        """Sleep before the next attempt; False when the time limit does not allow one."""
        if retry_after is not None:
            delay = min(retry_after, self.max_retry_after_s)
        else:
            delay = min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1))
            delay *= 0.75 + random.random() / 2  # jitter
        if time.monotonic() + delay > deadline:
            log.warning("%s failed (%s); giving up after %d attempts", name, why, attempt)
            return False
        log.info("%s failed (%s); trying again in %.1f s", name, why, delay)
        await asyncio.sleep(delay)
        return True


def _retry_after(payload: bytes) -> float | None:
    """Telegram's `parameters.retry_after` of a 429 answer, when it is readable."""
    try:
        value = json.loads(payload)["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None
