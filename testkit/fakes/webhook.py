"""A fake webhook receiver on 127.0.0.1: Slack-, PagerDuty-, generic- and record-style.

It answers like the real services (Slack `ok`, PagerDuty `202 {"status": "success"}`,
a record endpoint `201` with the idempotency key honoured), records every delivery with its
headers, and can be told to fail (5xx, 429), to stall (timeouts) or to refuse connections.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    """One request as the fake saw it."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int


@dataclass
class FakeWebhook:
    """Start with `await fake.start()`; URLs: `fake.url("/slack")`, `/pagerduty`, ..."""

    received: list[Received] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _stall_s: float = 0.0
    _stalls: int = 0
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _records: dict[str, Any] = field(default_factory=dict)
    _arrived: asyncio.Condition | None = None
    port: int = 0

    async def start(self, port: int = 0) -> FakeWebhook:
        """Listen on 127.0.0.1 (a free port unless one is given)."""
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", port)
        await self._site.start()
        self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._arrived = asyncio.Condition()
        return self

    async def stop(self) -> None:
        """Stop listening (later requests are refused)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str = "/hook") -> str:
        """The URL of a path on this fake."""
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next `count` requests with `status`."""
        self._failures.extend([status] * count)

    def stall_next(self, count: int = 1, seconds: float = 30.0) -> None:
        """Hold the next `count` requests this long before answering (client timeouts)."""
        self._stalls, self._stall_s = count, seconds

    def delivered(self, path: str | None = None) -> list[Received]:
        """Requests that were answered with success (optionally on one path)."""
        return [r for r in self.received
                if r.status < 300 and (path is None or r.path == path)]

    async def wait_for(self, count: int, path: str | None = None,
                       timeout: float = 5.0) -> list[Received]:
        """Wait until `count` successful deliveries arrived (on `path`)."""
        assert self._arrived is not None
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.delivered(path)) >= count), timeout
            )
        return self.delivered(path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode(errors="replace")
        path = "/" + request.match_info["path"]
        if self._stalls:
            self._stalls -= 1
            await asyncio.sleep(self._stall_s)
        status = self._failures.pop(0) if self._failures else 0
        response = self._answer(path, request, body, status)
        self.received.append(Received(path, dict(request.headers), body, time.monotonic(),
                                      response.status))
        if self._arrived is not None:
            async with self._arrived:
                self._arrived.notify_all()
        return response

    def _answer(self, path: str, request: web.Request, body: Any, status: int) -> web.Response:
        if status == 429:
            return web.json_response({"error": "rate limited"}, status=429,
                                     headers={"Retry-After": "1"})
        if status:
            return web.json_response({"error": "failure"}, status=status)
        if "pagerduty" in path:
            if not isinstance(body, dict) or "routing_key" not in body:
                return web.json_response({"status": "invalid event",
                                          "errors": ["'routing_key' is missing"]}, status=400)
            return web.json_response({"status": "success", "message": "Event processed",
                                      "dedup_key": body.get("dedup_key")}, status=202)
        if "slack" in path:
            return web.Response(text="ok")
        if "record" in path:
            key = request.headers.get("Idempotency-Key", "")
            duplicate = key in self._records
            self._records.setdefault(key, body)
            return web.json_response({"id": key, "duplicate": duplicate},
                                     status=200 if duplicate else 201)
        return web.json_response({"ok": True})
