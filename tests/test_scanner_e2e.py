"""End to end: the sticker read live by the scanner Mini App (MINI_APP_URL), through the
emulator's `web_app` keyboard button and `web_app_data` message."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.config import Settings
from testkit.emulator import BotApiEmulator, Player
from testkit.fakes.geocoder import FakeNominatim

from conftest import RunningBot, make_settings
from flow import current_step, next_prompt, start_job, walk

MINI_APP = "https://pinpoint.example.org/scanner/"
STICKER_URL = "https://o.example-network.com/activate?mac=0024b1000d3e7a51&pw=K7XRM4PT"
BUTTON = "📷 Scan the sticker"


@pytest.fixture
def mini_app_url() -> str | None:
    return MINI_APP


@pytest.fixture
def settings(tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim, database_url: str,
             mini_app_url: str | None) -> Settings:
    return make_settings(tmp_path, emu, nominatim.url, database_url=database_url,
                         mini_app_url=mini_app_url)


async def test_a_scanned_sticker_is_confirmed_like_a_photo(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    assert await walk(ana, bot, until="mac") is not None
    # The question carries the scan keyboard; its inline "Type it instead" comes just after
    # (a message has one kind of keyboard).
    prompt = next(m for m in reversed(ana.messages) if m.reply_keyboard)
    assert "sticker" in prompt.text.lower()
    assert [[b["text"] for b in row] for row in prompt.reply_keyboard] == [[BUTTON]]
    url = urlsplit(ana.web_app_url(BUTTON))
    assert f"{url.scheme}://{url.netloc}{url.path}" == MINI_APP
    query = parse_qs(url.query)
    assert query["host"] == ["o.example-network.com"] and query["path"] == ["/activate"]
    assert query["text"] and "QR code" in query["text"][0]

    await ana.send_web_app_data(STICKER_URL)
    question = await next_prompt(ana)
    assert "MAC 0024:B100:0D3E:7A51" in question.text
    assert "Password ••••••PT" in question.text and "K7XRM4PT" not in question.text
    assert question.buttons == [["✅ Correct", "✏️ Type it instead"]]
    await ana.press("Correct")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "gps"  # the password came with the sticker
    job = await bot.services.store.open_job(ana.user_id)
    answers = await bot.services.store.answers(job.id)
    assert answers["mac"].value == "0024:B100:0D3E:7A51" and answers["mac"].source == "qr"
    assert answers["password"].value == "K7XRM4PT"
    assert BUTTON not in str(ana.keyboard)  # the scan keyboard made way for the location's


@pytest.mark.parametrize("scanned", [
    "https://o.example-network.com.evil.example/activate?mac=0024b1000d3e7a51&pw=K7XRM4PT",
    "https://o-example-network.com/activate?mac=0024b1000d3e7a51&pw=K7XRM4PT",
    "https://o.example-network.com/other?mac=0024b1000d3e7a51&pw=K7XRM4PT",
    "hello, is this thing on?",
    "\x00\x01garbage\u202e",
])
async def test_a_look_alike_or_garbage_is_refused(bot: RunningBot, ana: Player,
                                                  scanned: str) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    await ana.send_web_app_data(scanned)
    refusal = await ana.wait_for_text("not this network's activation sticker")
    assert "type the MAC" in refusal.text
    assert await current_step(bot, ana) == "mac"
    job = await bot.services.store.open_job(ana.user_id)
    assert "mac" not in await bot.services.store.answers(job.id)
    await ana.send_web_app_data(STICKER_URL)  # the button still works
    assert "MAC 0024:B100:0D3E:7A51" in (await next_prompt(ana)).text


@pytest.mark.parametrize("mini_app_url", [None])
async def test_without_mini_app_url_there_is_no_scan_button(bot: RunningBot,
                                                            ana: Player) -> None:
    await start_job(ana)
    prompt = await walk(ana, bot, until="mac")
    assert prompt is not None and prompt.reply_keyboard == []
    with pytest.raises(AssertionError, match="no single web_app keyboard button"):
        await ana.send_web_app_data(STICKER_URL)


async def _send(emu: BotApiEmulator, chat_id: int, url: str) -> dict:
    markup = {"keyboard": [[{"text": BUTTON, "web_app": {"url": url}}]]}
    async with aiohttp.ClientSession() as http, http.post(
            f"{emu.api_root}/bot{emu.token}/sendMessage",
            json={"chat_id": chat_id, "text": "scan", "reply_markup": markup}) as response:
        return await response.json()


async def test_the_emulator_checks_mini_app_buttons_as_telegram_does(
        emu: BotApiEmulator) -> None:
    ana = emu.user(4242, "Ana")
    group = emu.group(-100777, "Site team", members=[ana])
    assert (await _send(emu, ana.chat_id, MINI_APP))["ok"]
    plain = await _send(emu, ana.chat_id, "http://127.0.0.1:8080/scanner/")
    assert not plain["ok"] and "Only HTTPS links are allowed" in plain["description"]
    in_group = await _send(emu, group.id, MINI_APP)
    assert not in_group["ok"] and in_group["description"] == "Bad Request: BUTTON_TYPE_INVALID"
    emu.test_environment = True  # Telegram's test environment takes plain http Mini Apps
    assert (await _send(emu, ana.chat_id, "http://127.0.0.1:8080/scanner/"))["ok"]
    sent = await ana.send_web_app_data("data", BUTTON)
    assert sent["web_app_data"] == {"data": "data", "button_text": BUTTON}
    assert "text" not in sent
    with pytest.raises(AssertionError, match="1-4096 bytes"):
        await ana.send_web_app_data("x" * 4097)
