"""The scanner Mini App in the sandbox, over HTTP: the product's page with the stand-in for
Telegram's script, framed by the chat page only, and its sendData posted as web_app_data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest

from bot.config import SCANNER_DIR
from sandbox import Sandbox, seed
from sandbox.scanner import SCANNER_PATH
from sandbox.vendor import FILES, VENDOR_DIR

from flow import start_job, walk

ANA = seed.ANA.id
BUTTON = "📷 Scan the sticker"


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.url) as session:
        yield session


async def to_the_sticker_step(sandbox: Sandbox) -> None:
    """Ana's job up to the sticker, answered through the emulator (as the e2e tests do)."""
    player = sandbox.emu.player(seed.ANA.id, seed.ANA.id)
    await start_job(player)
    bot = SimpleNamespace(services=sandbox.app.bot_data["services"])  # what `walk` reads
    await walk(player, bot, until="mac")  # type: ignore[arg-type]


async def test_the_page_gets_the_stand_in_and_may_be_framed_by_the_sandbox_only(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    assert sandbox.settings is not None
    assert sandbox.settings.mini_app_url == sandbox.origin + SCANNER_PATH  # its own page
    async with http.get(SCANNER_PATH) as response:
        assert response.status == 200
        html = await response.text()
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "telegram.org" not in html and "Content-Security-Policy" not in html
    assert '<script src="/static/telegram-web-app.js">' in html
    assert '<script src="/static/vendor/jsQR.js">' in html
    assert "frame-ancestors 'self'" in policy and "script-src 'self';" in policy
    assert "unsafe" not in policy and "http" not in policy
    for path in (SCANNER_PATH + "scan.js", "/static/telegram-web-app.js",
                 "/static/vendor/jsQR.js"):
        async with http.get(path) as response:
            assert response.status == 200, path
    async with http.get(SCANNER_PATH + "scan.js") as response:
        assert await response.text() == (SCANNER_DIR / "scan.js").read_text(encoding="utf-8")
    async with http.get(SCANNER_PATH + "index.py") as response:
        assert response.status == 404
    async with http.get("/") as response:  # the chat page itself is still never framed
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_decoder_is_vendored_with_its_licence() -> None:
    for name in FILES.values():
        assert (VENDOR_DIR / name).stat().st_size > 1000, name
    assert "Apache License" in (VENDOR_DIR / "jsQR.LICENSE").read_text(encoding="utf-8")


async def test_web_app_data_reaches_the_bot_only_through_the_button(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    body = {"user": ANA, "data": seed.STICKER_URL, "button_text": BUTTON}
    async with http.post(f"/api/chats/{ANA}/web_app_data", json=body) as response:
        assert response.status == 400  # no job yet: no scan button on the keyboard
    await to_the_sticker_step(sandbox)
    assert sandbox.emu.chats[ANA].keyboard["keyboard"][0][0]["web_app"]["url"].startswith(
        sandbox.origin + SCANNER_PATH + "?host=o.example-network.com")
    for wrong in ({"data": ""}, {"data": "x" * 4097}, {"data": 7}):
        async with http.post(f"/api/chats/{ANA}/web_app_data", json=body | wrong) as response:
            assert response.status == 400, wrong
    async with http.post(f"/api/chats/{ANA}/web_app_data", json=body) as response:
        assert response.status == 200
    chat = sandbox.emu.chats[ANA]
    assert await sandbox.emu.signal.wait_for(
        lambda: any(f"MAC {seed.STICKER_MAC}" in (m.data.get("text") or "")
                    for m in chat.bot_messages), 10.0)
