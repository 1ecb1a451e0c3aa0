"""Operations from the command line: `pinpoint migrate` and `pinpoint check`.

    migrate   apply the database's pending migrations and print its version
    check     settings, store, Bot API, Telegram webhook, geocoder, paging webhooks: one
              line each, ok / FAIL / skipped; exit code 1 when anything failed

Neither prints a secret: settings errors are reported without their values, and the token
never appears in an error.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import httpx
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, load_settings
from bot.places.candidates import GeocoderError
from bot.services import build_finder
from bot.store import Store
from bot.store.connection import create_engine
from bot.store.migrations import current, latest
from bot.support.paging import parse_webhooks

PROBE_POINT = (52.5303, 13.3846)  # any point will do: the answer only shows it is reachable


class Failed(Exception):
    """A check that did not pass; its message says why."""


class Skipped(Exception):
    """A check that does not apply to these settings."""


def settings_error(exc: ValidationError) -> str:
    """A settings error without the values (they may be secrets)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg']}"
                     for e in exc.errors(include_input=False, include_url=False))


def _where(settings: Settings) -> str:
    """The database as the operator names it: the SQLite file, or the URL without password."""
    path = settings.database_file
    if path is not None:
        return str(path)
    return make_url(settings.store_url).render_as_string(hide_password=True)


async def migrate(settings: Settings, out: TextIO) -> int:
    """Apply pending migrations; print the version before and after."""
    path = settings.database_file
    before = await _version(settings) if path is None or path.exists() else None
    store = await Store.open(settings.store_url)
    try:
        after = await store.schema_version()
    finally:
        await store.close()
    change = f"migrated from {before or 0}" if after != before else "already current"
    print(f"{_where(settings)}: version {after} ({change})", file=out)
    return 0


async def _version(settings: Settings) -> str | None:
    """The schema version (revision) of an existing database, without migrating it."""
    engine = create_engine(settings.store_url)
    try:
        return await current(engine)
    finally:
        await engine.dispose()


async def check_store(settings: Settings) -> str:
    where, path = _where(settings), settings.database_file
    if path is not None and not path.exists():
        raise Failed(f"no database at {path} (pinpoint migrate creates it)")
    try:
        version = await _version(settings)
    except (SQLAlchemyError, OSError) as exc:
        raise Failed(f"{where}: {exc}") from exc
    newest = latest()
    if version != newest:
        raise Failed(f"{where} is at version {version}, the code needs {newest} "
                     "(run pinpoint migrate)")
    return f"{where}, version {version} (current)"


class BotApi:
    """The two Bot API calls `check` makes, over plain HTTP."""

    def __init__(self, settings: Settings) -> None:
        assert settings.telegram_token is not None
        self.token = settings.telegram_token.get_secret_value()
        self.root = settings.telegram_api_url.rstrip("/")
        self.timeout = settings.http_timeout_s

    async def call(self, method: str) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(f"{self.root}/bot{self.token}/{method}")
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            reason = str(exc).replace(self.token, "***") or type(exc).__name__
            raise Failed(f"{self.root} is not reachable: {reason}") from exc
        if not isinstance(body, dict) or not body.get("ok"):
            code = body.get("error_code", response.status_code) if isinstance(body, dict) \
                else response.status_code
            what = body.get("description", "") if isinstance(body, dict) else ""
            raise Failed(f"{method} answered {code} {what}".strip())
        return body["result"]


async def check_bot_api(api: BotApi) -> str:
    me = await api.call("getMe")
    return f"@{me.get('username')} at {api.root}"


async def check_telegram_webhook(api: BotApi, settings: Settings) -> str:
    info = await api.call("getWebhookInfo")
    current, pending = info.get("url", ""), info.get("pending_update_count", 0)
    error = info.get("last_error_message")
    if not settings.webhook_url:
        if current:
            raise Failed(f"a webhook is set ({current}) but WEBHOOK_URL is empty: long polling "
                         "gets 409 Conflict; set WEBHOOK_URL or call deleteWebhook")
        return "long polling (no webhook set)"
    if current != settings.webhook_url:
        return f"webhook mode; the bot sets {settings.webhook_url} at start"
    return (f"{current}, {pending} pending" + (f", last error: {error}" if error else ""))


async def check_geocoder(settings: Settings) -> str:
    if not settings.geocoder_url:
        raise Skipped("GEOCODER_URL not set: the public server is not probed")
    one = settings.model_copy(update={"geocoder_probes": 0, "geocoder_min_interval_s": 0.0})
    try:
        finder = build_finder(one, None)
    except ValueError as exc:
        raise Failed(str(exc)) from exc
    async with finder:
        try:
            await finder.reverse(*PROBE_POINT, limit=1)
        except GeocoderError as exc:
            if exc.kind != "no_result":
                raise Failed(f"{finder.endpoint}: {exc.kind}: {exc.message}") from exc
    return f"{settings.geocoder} at {finder.endpoint} answered a reverse look-up"


async def check_paging(settings: Settings) -> str:
    try:
        hooks = parse_webhooks(settings.paging_webhooks)
    except ValueError as exc:  # its message may quote an entry, which may hold a secret
        raise Failed("PAGING_WEBHOOKS: an entry is not KIND:URL with KIND generic, slack or "
                     "pagerduty") from exc
    if not hooks:
        return "none configured"
    kinds = [hook.kind for hook in hooks]
    if "pagerduty" in kinds and settings.pagerduty_routing_key is None:
        raise Failed("a pagerduty webhook needs PAGERDUTY_ROUTING_KEY")
    return f"{len(hooks)} configured ({', '.join(kinds)}; nothing sent)"


async def check(settings: Settings, out: TextIO) -> int:
    """Run every check, print one line each; 0 when none failed."""
    failed = False

    def line(name: str, word: str, detail: str) -> None:
        print(f"{name}: {word} ({detail})" if detail else f"{name}: {word}", file=out,
              flush=True)

    async def run(name: str, probe: Callable[[], Awaitable[str]]) -> bool:
        nonlocal failed
        try:
            line(name, "ok", await probe())
            return True
        except Skipped as exc:
            line(name, "skipped", str(exc))
        except Failed as exc:
            failed = True
            line(name, "FAIL", str(exc))
        return False

    line("settings", "ok", "")
    await run("store", lambda: check_store(settings))
    if settings.telegram_token is None:
        failed = True
        line("Bot API", "FAIL", "TELEGRAM_TOKEN is not set")
    else:
        api = BotApi(settings)
        if await run("Bot API", lambda: check_bot_api(api)):
            await run("Telegram webhook", lambda: check_telegram_webhook(api, settings))
    await run("geocoder", lambda: check_geocoder(settings))
    await run("paging webhooks", lambda: check_paging(settings))
    return 1 if failed else 0


def main(command: str, args: list[str], out: TextIO = sys.stdout) -> int:
    """`pinpoint migrate` or `pinpoint check`."""
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ValidationError as exc:
        print(f"settings: FAIL ({settings_error(exc)})", file=out)
        return 1 if command == "check" else 2
    if command == "migrate":
        return asyncio.run(migrate(settings, out))
    return asyncio.run(check(settings, out))
