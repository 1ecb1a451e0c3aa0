"""`BotApiEmulator`: the fake Bot API as an aiohttp server on 127.0.0.1, plus the test driver.

Point python-telegram-bot at it with `base_url=emu.api_root + "/bot"` and
`base_file_url=emu.api_root + "/file/bot"` (the bot's `telegram_api_url` is `emu.api_root`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from testkit.emulator.driver import Group, Player
from testkit.emulator.media import PHOTO_SIDES
from testkit.emulator.params import read_params
from testkit.emulator.state import ApiCall, ApiError, InjectedFault
from testkit.emulator.webhook import WebhookMethods

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 52 * 1024 * 1024  # the cloud API accepts uploads up to 50 MB
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


class BotApiEmulator(WebhookMethods):
    """A fake Telegram Bot API server with an inspectable state and players for tests."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "pinpoint_test_bot",
        bot_name: str = "Pinpoint",
        *,
        self_hosted: bool = False,
        test_environment: bool = False,
        photo_sides: tuple[int, ...] = PHOTO_SIDES,
    ) -> None:
        """`self_hosted=True` lifts the 20 MB getFile limit, as a self-hosted Bot API does;
        `test_environment=True` allows plain http Mini App links, as Telegram's test
        environment does."""
        super().__init__(
            token, bot_username, bot_name, self_hosted=self_hosted,
            test_environment=test_environment, photo_sides=photo_sides,
        )
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._players: dict[tuple[int, int], Player] = {}
        self._methods: dict[str, tuple[str, Callable[..., Any]]] = {
            name[4:].lower(): (name[4:], getattr(self, name))
            for name in dir(self)
            if name.startswith("api_")
        }

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def api_root(self) -> str:
        """`http://127.0.0.1:PORT`: the bot's `telegram_api_url`."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.api_root + "/bot"

    @property
    def base_file_url(self) -> str:
        return self.api_root + "/file/bot"

    def make_app(self) -> web.Application:
        """The aiohttp application (to mount elsewhere, e.g. in a sandbox server)."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> BotApiEmulator:
        """Listen on `host:port` (port 0: a free one, see `.port`)."""
        self.closing = False
        self._runner = web.AppRunner(
            self.make_app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop serving; long polls still waiting return `[]` at once."""
        self.closing = True
        self.emit("closing")
        await self.stop_webhook_delivery()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(UNAUTHORIZED, status=401)
        found = self._methods.get(request.match_info["method"].lower())
        if found is None:
            return web.json_response(NOT_FOUND, status=404)
        name, handler = found
        call = ApiCall(method=name, params={}, time=time.time())
        try:
            params = await read_params(request)
            call.params = params.loggable()
            self.calls.append(call)
            self.emit("call", call)
            failure = self.take_failure(name)
            if failure is not None:
                raise failure
            result = await handler(params)
        except ApiError as error:
            if call not in self.calls:
                self.calls.append(call)
            call.abandoned = _client_gone(request)
            if call.abandoned and error.code == 409 and name == "getUpdates":
                # A long poll the client cancelled, superseded by its next one: not a conflict.
                call.ok, call.result = True, []
            else:
                call.ok, call.error = False, error.description
            if isinstance(error, InjectedFault) and error.drop:
                call.error = "connection dropped"
                self.emit("call", call)
                if request.transport is not None:
                    request.transport.close()  # the client sees the server hang up
                return web.Response(status=error.code)
            self.emit("call", call)
            if isinstance(error, InjectedFault) and error.html:
                return web.Response(text=error.html_page(), status=error.code,
                                    content_type="text/html")
            return web.json_response(error.payload(), status=error.code)
        except ConnectionResetError:  # the client died while sending its request
            if call not in self.calls:
                self.calls.append(call)
            call.ok, call.error, call.abandoned = False, "connection lost", True
            self.emit("call", call)
            return web.Response(status=400)
        except Exception as exc:
            log.exception("emulator failed on %s", name)
            call.ok, call.error = False, f"Internal Server Error: {exc!r}"
            self.emit("call", call)
            body = {"ok": False, "error_code": 500, "description": call.error}
            return web.json_response(body, status=500)
        call.ok, call.result = True, result
        call.abandoned = _client_gone(request)
        self.emit("call", call)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(UNAUTHORIZED, status=401)
        record = self.files.by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response(NOT_FOUND, status=404)
        content_type = record.mime_type or "application/octet-stream"
        return web.Response(body=record.data, content_type=content_type)

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response(NOT_FOUND, status=404)

    # -- players -------------------------------------------------------------------------

    def user(
        self,
        id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> Player:
        """A user (registered if new) in their private chat with the bot."""
        self.add_user(id, first_name, last_name, username, language_code)
        return self.player(id, id)

    def group(
        self,
        id: int,
        title: str,
        members: list[Player | int] | None = None,
        *,
        admins: list[Player | int] | None = None,
        creator: Player | int | None = None,
        kind: str | None = None,
        username: str | None = None,
    ) -> Group:
        """A group the bot is an administrator of (supergroup when the id starts with -100)."""
        group = Group(self, self.add_group(id, title, kind=kind, username=username))
        for member in members or []:
            group.add(member)
        for admin in admins or []:
            group.add(admin, "administrator")
        if creator is not None:
            group.add(creator, "creator")
        return group

    def player(self, user_id: int, chat_id: int) -> Player:
        """The (cached) player of a known user in a known chat."""
        key = (user_id, chat_id)
        if key not in self._players:
            if user_id not in self.users or chat_id not in self.chats:
                raise KeyError(f"unknown user {user_id} or chat {chat_id}")
            self._players[key] = Player(self, user_id, self.chats[chat_id])
        return self._players[key]

    # -- waiting -------------------------------------------------------------------------

    async def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,
        *,
        since: int = 0,
        where: Callable[[ApiCall], bool] | None = None,
    ) -> ApiCall:
        """The first finished call of `method` at index >= `since` in `calls` (matching
        `where`), waiting for it. Pass `since=len(emu.calls)` to wait for a new one."""

        def find() -> ApiCall | None:
            for call in self.calls[since:]:
                if (
                    call.method.lower() == method.lower()
                    and call.ok is not None
                    and (where is None or where(call))
                ):
                    return call
            return None

        if not await self.signal.wait_for(lambda: find() is not None, timeout):
            seen = [c.method for c in self.calls[since:]]
            raise AssertionError(f"no {method} call within {timeout}s; calls: {seen}")
        call = find()
        assert call is not None
        return call

    async def idle(self, timeout: float = 5.0) -> None:
        """Wait until the bot has fetched every queued update and confirmed it (its next
        getUpdates passed a higher offset).

        Limits: this says nothing about handlers having finished. python-telegram-bot
        confirms a batch as soon as it starts the next long poll, while the handlers run in
        other tasks; wait for the bot's reaction (`Player.expect`, `wait_for_call`) instead.
        """
        if not await self.signal.wait_for(lambda: not self.updates, timeout):
            raise AssertionError(
                f"{len(self.updates)} update(s) not fetched within {timeout}s "
                f"(is the bot polling?): {[u['update_id'] for u in self.updates]}"
            )


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
