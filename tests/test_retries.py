"""The retrying transport against a small faulty Bot API on 127.0.0.1 (the real PTB client)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, NetworkError

from handlers.retries import RetryingRequest

TOKEN = "123456:RETRY-TEST"
MESSAGE = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "hi"}
ME = {"id": 123456, "is_bot": True, "first_name": "Pinpoint", "username": "pinpoint_bot"}
Fault = Callable[[web.Request], web.StreamResponse | None]


class FaultyApi:
    """Answers each Bot API method from a script of faults, then successfully."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.script: dict[str, list[str]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.calls.append(method)
        faults = self.script.get(method, [])
        fault = faults.pop(0) if faults else "ok"
        if fault == "429":
            body = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry "
                    "after 1", "parameters": {"retry_after": 1}}
            return web.json_response(body, status=429)
        if fault == "502":
            return web.Response(status=502, text="<html><body>Bad Gateway</body></html>",
                                content_type="text/html")
        if fault == "400":
            body = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return web.json_response(body, status=400)
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=200)
        result = {"getUpdates": [], "getMe": ME}.get(method, MESSAGE)
        return web.json_response({"ok": True, "result": result})


@pytest.fixture
async def api() -> AsyncIterator[tuple[FaultyApi, str]]:
    fake = FaultyApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/bot"
    await runner.cleanup()


def make_bot(base_url: str, limit_s: float = 10.0) -> Bot:
    request = RetryingRequest(retry_limit_s=limit_s, first_delay_s=0.05, max_delay_s=0.2)
    return Bot(TOKEN, base_url=base_url, request=request)


@pytest.mark.parametrize("faults", [["429"], ["502", "502"], ["drop"], ["502", "drop", "429"]])
async def test_a_transient_failure_is_retried_until_the_message_is_sent(
    api: tuple[FaultyApi, str], faults: list[str]
) -> None:
    fake, url = api
    fake.script["sendMessage"] = list(faults)
    async with make_bot(url) as bot:
        message = await bot.send_message(42, "hi")
    assert message.message_id == MESSAGE["message_id"]
    assert fake.calls.count("sendMessage") == len(faults) + 1


async def test_retry_after_is_honoured(api: tuple[FaultyApi, str]) -> None:
    import time

    fake, url = api
    fake.script["sendMessage"] = ["429"]
    async with make_bot(url) as bot:
        started = time.monotonic()
        await bot.send_message(42, "hi")
        assert time.monotonic() - started >= 0.95


async def test_a_permanent_error_is_not_retried(api: tuple[FaultyApi, str]) -> None:
    fake, url = api
    fake.script["sendMessage"] = ["400"]
    async with make_bot(url) as bot:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(42, "hi")
    assert fake.calls.count("sendMessage") == 1


async def test_retries_stop_at_the_time_limit(api: tuple[FaultyApi, str]) -> None:
    fake, url = api
    fake.script["sendMessage"] = ["502"] * 100
    async with make_bot(url, limit_s=0.6) as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(42, "hi")
    assert 2 <= fake.calls.count("sendMessage") < 20


async def test_long_polling_is_not_retried_by_the_transport(api: tuple[FaultyApi, str]) -> None:
    fake, url = api
    async with make_bot(url) as bot:
        fake.script["getUpdates"] = ["502"]
        with pytest.raises(NetworkError):
            await bot.get_updates(timeout=0)
    assert fake.calls.count("getUpdates") == 1
    assert json.dumps(fake.calls)  # the log of calls is plain data
