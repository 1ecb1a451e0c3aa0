"""Webhooks as the Bot API runs them: setWebhook, deleteWebhook, getWebhookInfo, delivery.

While a webhook is set, `getUpdates` answers 409 Conflict and every update is POSTed as
JSON to the webhook's URL (with `X-Telegram-Bot-Api-Secret-Token` when a secret was given),
oldest first, and delivered again until an answer is a 2xx; a failure shows in
getWebhookInfo's `last_error_date` / `last_error_message`. Telegram may keep up to
`max_connections` requests open at once; the emulator sends one at a time, which keeps
tests deterministic.

Like a self-hosted Bot API server started with `--local`, the emulator accepts http URLs and
any port (`local_webhooks=True`, the default); with `local_webhooks=False` it insists, as the
cloud API does, on https and one of the ports 443, 80, 88 or 8443.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from testkit.emulator.methods import ApiMethods
from testkit.emulator.params import Params
from testkit.emulator.state import ApiError, bad_request

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
CLOUD_PORTS = (443, 80, 88, 8443)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


@dataclass
class Webhook:
    """A webhook as set, and what its deliveries did."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    deliveries: list[tuple[int, int | None]] = field(default_factory=list)  # (update, status)


class WebhookMethods(ApiMethods):
    """The webhook methods and the delivery loop, on top of the other API methods."""

    local_webhooks = True
    webhook_retry_s = 0.2  # pause after a failed delivery (Telegram waits longer)
    webhook_timeout_s = 10.0

    webhook: Webhook | None = None
    _delivery: asyncio.Task[None] | None = None

    async def api_getUpdates(self, p: Params) -> Any:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        return await super().api_getUpdates(p)

    async def api_setWebhook(self, p: Params) -> Any:
        url = p.get_str("url", "") or ""
        if not url:
            return await self.api_deleteWebhook(p)
        self._check_url(url)
        secret = p.get_str("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        connections = p.get_int("max_connections", 40) or 40
        if not 1 <= connections <= 100:
            raise bad_request("invalid max_connections specified")
        allowed = p.get_json("allowed_updates")
        if allowed is not None:
            self.allowed_updates = list(allowed)
        if p.get_bool("drop_pending_updates"):
            self.updates.clear()
        self.webhook = Webhook(url, secret, connections, p.get_str("ip_address"))
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.create_task(self._deliver(), name="emulator-webhook")
        self.emit("webhook", self.webhook)
        return True

    async def api_deleteWebhook(self, p: Params) -> Any:
        self.webhook = None
        if p.get_bool("drop_pending_updates"):
            self.updates.clear()
        self.emit("webhook", None)
        return True

    async def api_getWebhookInfo(self, p: Params) -> Any:
        hook = self.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if self.allowed_updates is not None:
                info["allowed_updates"] = list(self.allowed_updates)
        return info

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: invalid URL specified")
        if self.local_webhooks:
            return
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in CLOUD_PORTS:
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 "
                              "or 8443")

    def redeliver(self, update: dict[str, Any]) -> None:
        """Queue an update already delivered once more, as Telegram does when the answer to
        a delivery was lost (the bot must recognise it)."""
        self.updates.insert(0, update)
        self.emit("update", update)

    # -- the delivery loop ---------------------------------------------------------------

    async def _deliver(self) -> None:
        async with aiohttp.ClientSession() as session:
            while not self.closing and self.webhook is not None:
                self.updates = [u for u in self.updates if self._allowed(u)]
                if not self.updates:
                    await self.signal.wait_for(
                        lambda: bool(self.updates) or self.closing or self.webhook is None, 1.0)
                    continue
                hook, update = self.webhook, self.updates[0]
                status, error = await self._post(session, hook, update)
                hook.deliveries.append((update["update_id"], status))
                if status is not None and 200 <= status < 300:
                    if self.updates and self.updates[0] is update:
                        self.updates.pop(0)
                    self.emit("delivered", update)
                    continue
                hook.last_error_date, hook.last_error_message = int(time.time()), error
                self.emit("webhook_error", error)
                await self.signal.wait_for(
                    lambda hook=hook: self.closing or self.webhook is not hook,  # type: ignore[misc]
                    self.webhook_retry_s)

    async def _post(self, session: aiohttp.ClientSession, hook: Webhook,
                    update: dict[str, Any]) -> tuple[int | None, str | None]:
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout_s)
        try:
            async with session.post(hook.url, json=update, headers=headers,
                                    timeout=timeout) as response:
                await response.read()
                return response.status, (
                    f"Wrong response from the webhook: {response.status} {response.reason}")
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientError as exc:
            return None, f"Connection failed: {type(exc).__name__}"

    async def stop_webhook_delivery(self) -> None:
        """Stop the delivery loop (the emulator is stopping)."""
        task, self._delivery = self._delivery, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
