"""Webhook mode: Telegram POSTs each update to WEBHOOK_URL; an aiohttp server takes it in.

The same guarantees as long polling (handlers/intake.py), by the same means: the update is
written to the inbox and only then answered 200. Telegram redelivers an update until it
gets a 2xx, exactly as `getUpdates` returns an update until a later offset confirms it; so
"200 after the inbox commit" plays the part of "confirm after the inbox commit". From the
inbox the update goes to the same `Dispatcher` (in order per person, fairly across people);
one received but not processed when the process died is processed at the next start, and
an update seen before (a redelivery) is answered 200 and skipped.

Several instances behind a load balancer (PostgreSQL): a person's consecutive updates may
reach different instances; the dispatcher's person turn (handlers/intake.py) processes them
one at a time in `update_id` order, and an update the receiving instance never finished (it
died) is processed by another (`handlers.catchup.adopt_orphans`, or the next start).

Requests must carry WEBHOOK_SECRET in `X-Telegram-Bot-Api-Secret-Token` (compared in
constant time): anything else gets 403. Bodies over `MAX_BODY_BYTES` get 413, bodies that
are not an update 400. The same server answers `/healthz` and `/metrics`, and serves the
sticker scanner Mini App's page at `/scanner/` (MINI_APP_URL may point there).
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Bot, Update

from bot import metrics
from bot.config import SCANNER_DIR
from handlers.intake import Dispatcher, Inbox, resume, sender_of
from handlers.monitoring import Monitoring, serve_http

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kilobytes (file contents never come inline)
SCANNER_PATH = "/scanner/"
SCANNER_FILES = frozenset(p.name for p in SCANNER_DIR.iterdir() if p.suffix in (".html", ".js",
                                                                                 ".css"))
SCANNER_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                   "Cache-Control": "public, max-age=300"}


class WebhookReceiver:
    """Takes POSTed updates: checks the secret, keeps the update, queues it, answers."""

    def __init__(self, bot: Bot, inbox: Inbox, dispatcher: Dispatcher, secret: str) -> None:
        self.bot = bot
        self.inbox = inbox
        self.dispatcher = dispatcher
        self._secret = secret.encode()

    async def resume(self) -> int:
        """Queue the updates received before a restart but never processed."""
        return await resume(self.bot, self.inbox, self.dispatcher)

    async def handle(self, request: web.Request) -> web.Response:
        """One POSTed update: 200 once the inbox holds it (or held it before)."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("webhook request without the right secret from %s", request.remote)
            return web.Response(status=403, text="Forbidden")
        update: Update | None = None
        try:
            data = json.loads(await request.read())
            if isinstance(data, dict) and isinstance(data.get("update_id"), int):
                update = Update.de_json(data, self.bot)
        except web.HTTPException:  # 413: the body is over the limit
            raise
        except Exception as exc:  # not JSON, or JSON that is not an update
            log.warning("webhook request is not an update: %r", exc)
        if update is None:
            return web.Response(status=400, text="Bad Request: not a Telegram update (JSON)")
        # kept as Telegram sent it (PTB's `to_json` of the update would cost more than this)
        if await self.inbox.receive(update.update_id, sender_of(update), json.dumps(data)):
            metrics.UPDATES_RECEIVED.labels("new").inc()
            self.dispatcher.submit(update)
        else:
            metrics.UPDATES_RECEIVED.labels("redelivered").inc()
            log.info("update %s was delivered again: skipped", update.update_id)
        return web.Response(status=200)


class WebhookServer:
    """The aiohttp server: the webhook's path, `/healthz` and `/metrics`."""

    def __init__(self, receiver: WebhookReceiver, monitoring: Monitoring, path: str) -> None:
        self.receiver = receiver
        self.web_app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.web_app.router.add_post(path, receiver.handle)
        monitoring.add_routes(self.web_app)
        self.web_app.router.add_get(SCANNER_PATH + "{name:[^/]*}", scanner_file)
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on `host:port`."""
        self._runner = await serve_http(self.web_app, host, port)
        log.info("webhook server listening on %s:%d", host, port)

    async def stop(self) -> None:
        """Stop taking updates (requests in progress finish first); Telegram keeps what was
        not answered and delivers it again, here or to another instance."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def scanner_file(request: web.Request) -> web.FileResponse:
    """A file of the scanner page (`/scanner/` is its index.html); nothing else."""
    name = request.match_info["name"] or "index.html"
    if name not in SCANNER_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(SCANNER_DIR / name, headers=SCANNER_HEADERS)
