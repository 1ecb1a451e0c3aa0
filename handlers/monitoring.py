"""Health and metrics over HTTP (`/healthz`, `/metrics`) and the timing of every update.

Both routes are served by the webhook server (handlers/webhook.py) and, in polling mode, by
a small server of their own on METRICS_PORT (`start_monitoring`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot import metrics
from bot.services import Services
from bot.store.migrations import latest

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 2.0  # the store busy longer than this counts as unavailable


def update_kind(update: Update) -> str:
    """The metrics' label for an update: message, edited, callback (or other)."""
    if update.callback_query is not None:
        return "callback"
    if update.edited_message is not None:
        return "edited"
    return "message" if update.message is not None else "other"


def timed(process: Callable[[Update], Awaitable[Any]]) -> Callable[[Update], Awaitable[Any]]:
    """`process`, counted and timed in `pinpoint_update_seconds` by kind."""

    async def run(update: Update) -> Any:
        start = time.perf_counter()
        try:
            return await process(update)
        finally:
            metrics.UPDATE_SECONDS.labels(update_kind(update)).observe(
                time.perf_counter() - start)

    return run


async def health(services: Services | None) -> tuple[bool, dict[str, Any]]:
    """Whether the bot can serve: the store answers a query and its schema is the newest."""
    newest = latest()
    if services is None:
        return False, {"status": "starting", "migrations": newest}
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            version = await services.store.schema_version()
    except Exception as exc:  # closed, locked, broken: all mean "not now"
        log.warning("health check: the store did not answer: %r", exc)
        return False, {"status": "store unavailable", "migrations": newest}
    current = version == newest
    return current, {"status": "ok" if current else "migrations not current",
                     "schema": version, "migrations": newest}


class Monitoring:
    """The `/healthz` and `/metrics` handlers of one running Application."""

    def __init__(self, app: Application) -> None:
        self.app = app

    @property
    def services(self) -> Services | None:
        return self.app.bot_data.get("services")

    async def healthz(self, request: web.Request) -> web.Response:
        """200 with a small JSON when healthy, else 503 with the reason."""
        ok, body = await health(self.services)
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """Every metric in Prometheus' text format; the database's gauges read now."""
        services = self.services
        if services is not None:
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT_S):
                    jobs = await services.store.jobs_by_state()
                    backlog, oldest = await services.store.outbox_backlog(
                        services.settings.outbox_max_attempts)
                metrics.set_store_gauges(jobs, backlog, oldest, services.store.clock())
            except Exception as exc:  # serve the other metrics anyway
                log.warning("metrics: the store's gauges could not be read: %r", exc)
        return web.Response(body=metrics.exposition(),
                            headers={"Content-Type": metrics.CONTENT_TYPE_LATEST})

    def add_routes(self, web_app: web.Application) -> None:
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/metrics", self.metrics)


async def serve_http(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    """Listen with `web_app` on `host:port`; `await runner.cleanup()` stops it (requests in
    progress get a few seconds to finish)."""
    runner = web.AppRunner(web_app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def start_monitoring(app: Application, host: str, port: int) -> web.AppRunner:
    """Polling mode: `/healthz` and `/metrics` on a server of their own."""
    web_app = web.Application()
    Monitoring(app).add_routes(web_app)
    runner = await serve_http(web_app, host, port)
    log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
    return runner
