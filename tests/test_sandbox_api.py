"""The sandbox's page API over real HTTP: people, chats, live events, sending, pressing, files."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import zxingcpp
from PIL import Image

from bot.config import Settings
from sandbox import Sandbox, seed
from sandbox.launcher import banner
from sandbox.server import STATIC_DIR, STICKER_PATH
from sandbox.settings import sandbox_settings
from sandbox.views import entities_html

from conftest import photo_bytes
from flow import start_job, walk

ANA, SAM = seed.ANA.id, seed.SAM.id
GROUP = seed.SUPPORT_GROUP_ID




@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.url) as session:
        yield session


async def post(http: aiohttp.ClientSession, path: str, body: dict[str, Any],
               status: int = 200) -> dict[str, Any]:
    async with http.post(path, json=body) as response:
        answer = await response.json()
        assert response.status == status, answer
        return answer


async def bot_reply(sandbox: Sandbox, chat_id: int, after: int, *parts: str) -> dict[str, Any]:
    """The first bot message in the chat after message id `after` containing every part."""
    chat = sandbox.emu.chats[chat_id]

    def found() -> Any:
        return next((m for m in chat.bot_messages if m.message_id > after
                     and all(p in (m.data.get("text") or "") for p in parts)), None)

    assert await sandbox.emu.signal.wait_for(lambda: found() is not None, 5.0), \
        sandbox.emu.transcript(chat_id)
    return found().data


async def test_people_lists_personas_chats_places_and_demo_values(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get("/api/people") as response:
        info = await response.json()
    people = {p["id"]: p for p in info["people"]}
    assert set(people) == {p.id for p in seed.PEOPLE}
    assert people[ANA]["role"] == "installer"
    assert [c["id"] for c in people[ANA]["chats"]] == [ANA]
    assert [c["id"] for c in people[SAM]["chats"]] == [GROUP, SAM], "support opens the group"
    assert info["places"] and all({"latitude", "longitude", "label"} <= set(p)
                                  for p in info["places"])
    assert {c["command"] for c in info["commands"]} >= {"start", "new", "back", "cancel"}
    assert info["sticker"]["mac"] == seed.STICKER_MAC
    assert any(m["serial_example"] == "HYC300-23041187" for m in info["demo"]["models"])


async def test_sandbox_settings_use_the_emulator_the_demo_people_and_the_fake_geocoder(
        sandbox: Sandbox) -> None:
    settings = sandbox.settings
    assert settings is not None
    assert settings.telegram_api_url == sandbox.api_url
    assert settings.support_chat_id == GROUP and settings.support_ids == [SAM]
    assert settings.installer_ids == [ANA] and settings.admin_ids == [seed.ALEX.id]
    assert sandbox.geocoder is not None and settings.geocoder_url == sandbox.geocoder.url
    configured = Settings(_env_file=None, geocoder_url="https://geo.example.org",  # type: ignore[call-arg]
                          geocoder_api_key="secret", network_name="VoltNet")
    built = sandbox_settings(configured, api_url="http://x/telegram", database=Path("s.db"),
                             geocoder_url="http://fake", recorder="http://127.0.0.1:9")
    assert built.geocoder_url == "http://fake" and built.geocoder_api_key is None
    assert built.network_name == "VoltNet", "harmless settings are taken from the environment"


async def test_the_database_lives_in_a_temporary_directory_removed_at_stop(
        tmp_path: Path) -> None:
    running = Sandbox(Settings(_env_file=None), port=0, poll_timeout=1)  # type: ignore[call-arg]
    await running.start()
    try:
        database = running.database
        assert database is not None and running.temporary and database.is_file()
        assert running.settings is not None and running.settings.database_path == database
        assert not database.is_relative_to(Path(__file__).resolve().parents[1])  # the source tree
        assert "temporary, removed at stop" in banner(running)
    finally:
        await running.stop()
    assert not database.parent.exists() and running.database is None
    kept = Sandbox(Settings(_env_file=None), port=0, poll_timeout=1,  # type: ignore[call-arg]
                   database=tmp_path / "kept.db")
    await kept.start()
    await kept.stop()
    assert (tmp_path / "kept.db").is_file() and not kept.temporary


def test_check_runs_from_any_directory_and_writes_nothing_there(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "sandbox", "--check", "--no-browser", "--port", "0"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sandbox check: ok" in result.stdout and "temporary, removed at stop" in result.stdout
    assert list(tmp_path.iterdir()) == []


async def test_page_and_assets_are_served_and_load_nothing_from_elsewhere(
        http: aiohttp.ClientSession) -> None:
    for path, kind in (("/", "text/html"), ("/static/app.js", "javascript"),
                       ("/static/style.css", "text/css")):
        async with http.get(path) as response:
            assert response.status == 200 and kind in response.content_type
    page = (STATIC_DIR / "index.html").read_text()
    assert re.findall(r'(?:src|href)="(/[^"]*)"', page)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page), "no CDN"
    css = (STATIC_DIR / "style.css").read_text()
    assert "@import" not in css and "url(" not in css and "@font-face" not in css


async def test_text_and_events_stream_show_the_bot_answer_live(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get(f"/api/chats/{ANA}/events", params={"user": ANA}) as stream:
        assert stream.content_type == "text/event-stream"

        async def next_event() -> dict[str, Any]:
            async for line in stream.content:
                if line.startswith(b"data: "):
                    return json.loads(line[6:])
            raise AssertionError("stream ended")

        first = await next_event()
        assert first["type"] == "chat" and first["chat"]["messages"] == []
        await post(http, f"/api/chats/{ANA}/messages", {"user": ANA, "text": "/new"})
        mine = await next_event()
        assert mine["message"]["from"]["id"] == ANA
        assert mine["message"]["html"] == '<span class="command">/new</span>'
        while True:
            event = await next_event()
            if event["type"] == "message" and event["message"]["buttons"]:
                break
    prompt = event["message"]
    assert "<b>Before you begin</b> · step 1/" in prompt["html"]
    labels = [b["text"] for row in prompt["buttons"] for b in row]
    assert "Alpitronic" in labels


async def test_press_answers_with_the_callback_answer_and_checks_the_button(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    await post(http, f"/api/chats/{ANA}/messages", {"user": ANA, "text": "/new"})
    prompt = await bot_reply(sandbox, ANA, 0, "· step 1/")
    button = next(b for row in prompt["reply_markup"]["inline_keyboard"] for b in row
                  if b["text"] == "Alpitronic")
    body = {"user": ANA, "message_id": prompt["message_id"], "data": button["callback_data"]}
    answer = await post(http, f"/api/chats/{ANA}/press", body)
    assert answer["answered"] is True
    async with http.get(f"/api/chats/{ANA}", params={"user": ANA}) as response:
        chat = await response.json()
    edited = next(m for m in chat["messages"] if m["id"] == prompt["message_id"])
    assert edited["edited"] and any("HYC300" in b["text"] for row in edited["buttons"]
                                    for b in row)
    gone = {**body, "data": "m:999:nothing"}
    assert "no longer there" in (await post(http, f"/api/chats/{ANA}/press", gone, 400))["error"]


async def test_only_seeded_members_act_in_a_chat(sandbox: Sandbox,
                                                 http: aiohttp.ClientSession) -> None:
    await post(http, f"/api/chats/{GROUP}/messages", {"user": ANA, "text": "hi"}, 403)
    await post(http, f"/api/chats/{SAM}/messages", {"user": ANA, "text": "hi"}, 403)
    await post(http, f"/api/chats/{ANA}/messages", {"user": 424242, "text": "hi"}, 403)
    await post(http, "/api/chats/777/messages", {"user": ANA, "text": "hi"}, 404)
    await post(http, f"/api/chats/{ANA}/messages", {"user": ANA, "text": "  "}, 400)
    sent = await post(http, f"/api/chats/{GROUP}/messages", {"user": SAM, "text": "on it"})
    assert sandbox.emu.chats[GROUP].by_id[sent["message_id"]].data["from"]["id"] == SAM


async def test_location_is_sent_with_its_accuracy_and_checked(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    place = seed.PLACES[0]
    body = {"user": ANA, "latitude": place.latitude, "longitude": place.longitude,
            "accuracy": 8}
    sent = await post(http, f"/api/chats/{ANA}/location", body)
    location = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["location"]
    assert location == {"latitude": place.latitude, "longitude": place.longitude,
                        "horizontal_accuracy": 8.0}
    pin = await post(http, f"/api/chats/{ANA}/location",
                     {"user": ANA, "latitude": "52.53", "longitude": "13.38", "accuracy": ""})
    assert "horizontal_accuracy" not in sandbox.emu.chats[ANA].by_id[pin["message_id"]].data[
        "location"]
    await post(http, f"/api/chats/{ANA}/location",
               {"user": ANA, "latitude": 91, "longitude": 0}, 400)
    await post(http, f"/api/chats/{ANA}/location", {"user": ANA, "latitude": "north"}, 400)


async def upload(http: aiohttp.ClientSession, data: bytes, name: str, kind: str,
                 status: int = 200) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("user", str(ANA))
    form.add_field("as", kind)
    form.add_field("file", data, filename=name, content_type="image/jpeg")
    async with http.post(f"/api/chats/{ANA}/upload", data=form) as response:
        answer = await response.json()
        assert response.status == status, answer
        return answer


async def test_uploads_as_photo_or_as_file_and_files_download(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    original = photo_bytes(1600, 1200)
    sent = await upload(http, original, "station.jpg", "photo")
    photo = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["photo"]
    assert max(p["width"] for p in photo) == 1280, "compressed as Telegram does"
    async with http.get(f"/api/chats/{ANA}/files/{photo[-1]['file_id']}",
                        params={"user": ANA}) as response:
        assert response.content_type == "image/jpeg"
        assert Image.open(io.BytesIO(await response.read())).width == 1280

    sent = await upload(http, original, "station.jpg", "document")
    document = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["document"]
    assert document["file_name"] == "station.jpg"
    async with http.get(f"/api/chats/{ANA}/files/{document['file_id']}",
                        params={"user": ANA, "download": "1"}) as response:
        assert await response.read() == original, "a file is kept byte for byte"
        assert 'filename="station.jpg"' in response.headers["Content-Disposition"]

    refused = await upload(http, b"not a picture", "notes.txt", "photo", 400)
    assert "send it as a file" in refused["error"]
    async with http.get(f"/api/chats/{ANA}/files/nope", params={"user": ANA}) as response:
        assert response.status == 404


async def test_demo_sticker_downloads_and_encodes_the_activation_url(
        http: aiohttp.ClientSession) -> None:
    async with http.get("/api/sticker.png") as response:
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        data = await response.read()
    assert data == STICKER_PATH.read_bytes()
    codes = zxingcpp.read_barcodes(Image.open(STICKER_PATH))
    assert [c.text for c in codes] == [seed.STICKER_URL]
    url = urlsplit(seed.STICKER_URL)
    assert (url.scheme, url.netloc, url.path) == ("https", "o.example-network.com", "/activate")
    query = parse_qs(url.query)
    assert query["mac"] == [seed.STICKER_MAC.replace(":", "")]
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6,12}", query["pw"][0])


def test_entities_become_escaped_nested_html() -> None:
    text = "🔌 Bold <and> italic, see docs"  # the plug is 2 UTF-16 units
    entities = [
        {"type": "bold", "offset": 3, "length": 17},
        {"type": "italic", "offset": 14, "length": 6},
        {"type": "text_link", "offset": 26, "length": 4, "url": 'https://e.x/?a=1&b="2"'},
    ]
    assert entities_html(text, entities) == (
        '🔌 <b>Bold &lt;and&gt; <i>italic</i></b>, see <a href="https://e.x/?a=1&amp;b=&quot;2'
        '&quot;" target="_blank" rel="noopener noreferrer">docs</a>'
    )
    sneaky = entities_html("click", [{"type": "text_link", "offset": 0, "length": 5,
                                      "url": "javascript:alert(1)"}])
    assert 'href="https://javascript:alert(1)"' in sneaky
    assert entities_html("a<b", None) == "a&lt;b"
    mention = entities_html("Sam, type", [{"type": "text_link", "offset": 0, "length": 3,
                                           "url": "tg://user?id=9100"}])
    assert mention == '<span class="mention">Sam</span>, type'
    assert entities_html("x", [{"type": "text_link", "offset": 0, "length": 1,
                                "url": "tg://resolve?domain=x"}]).startswith("<span")


async def test_another_site_cannot_act_in_the_sandbox(http: aiohttp.ClientSession) -> None:
    body = {"user": ANA, "text": "/new"}
    async with http.post(f"/api/chats/{ANA}/messages", json=body,
                         headers={"Origin": "http://evil.example"}) as response:
        assert response.status == 403
    async with http.post(f"/api/chats/{ANA}/messages", data=json.dumps(body),
                         headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 400, "a form-like request must not pass as JSON"


async def test_command_menu_follows_the_bot_api_scopes(sandbox: Sandbox,
                                                       http: aiohttp.ClientSession) -> None:
    maya = seed.MAYA.id
    chat_scope = json.dumps({"type": "chat", "chat_id": str(maya)}, sort_keys=True)
    sandbox.emu.commands[(chat_scope, "")] = [{"command": "summary", "description": "Today"}]

    async def menu(chat_id: int, user_id: int) -> list[str]:
        async with http.get(f"/api/chats/{chat_id}/commands", params={"user": user_id}) as r:
            return [c["command"] for c in await r.json()]

    assert await menu(maya, maya) == ["summary"]
    assert "new" in await menu(ANA, ANA), "everyone else: the default menu"
    assert "new" in await menu(GROUP, SAM)


async def test_newcomer_registers_and_the_admin_approves_him(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    ben, alex = seed.BEN.id, seed.ALEX.id
    await post(http, f"/api/chats/{ben}/messages", {"user": ben, "text": "/start"})
    await bot_reply(sandbox, ben, 0, "installer ID")
    await post(http, f"/api/chats/{ben}/messages", {"user": ben, "text": seed.NEWCOMER_ID})
    request = await bot_reply(sandbox, alex, 0, seed.NEWCOMER_ID)
    approve = request["reply_markup"]["inline_keyboard"][0][0]
    assert "Approve" in approve["text"]
    body = {"user": alex, "message_id": request["message_id"], "data": approve["callback_data"]}
    assert (await post(http, f"/api/chats/{alex}/press", body))["answered"]
    await bot_reply(sandbox, ben, 0, "approved")


async def test_support_rejects_with_a_typed_reason_as_a_reply(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    ana = sandbox.emu.player(ANA, ANA)
    await start_job(ana)
    await walk(ana, SimpleNamespace(services=sandbox.app.bot_data["services"]))  # type: ignore[arg-type]
    handoff = await bot_reply(sandbox, GROUP, 0, "Job #1")
    while "reply_markup" not in handoff:  # a long hand-off: the buttons are on its last part
        handoff = await bot_reply(sandbox, GROUP, handoff["message_id"], "")

    async def press(label: str) -> None:
        message = sandbox.emu.chats[GROUP].by_id[handoff["message_id"]]
        button = next(b for row in message.inline_keyboard or [] for b in row
                      if label in b["text"])
        body = {"user": SAM, "message_id": message.message_id, "data": button["callback_data"]}
        assert (await post(http, f"/api/chats/{GROUP}/press", body))["answered"]

    await press("Reject")
    await press("Other reason")
    await press("Pin")
    await press("Send")
    question = await bot_reply(sandbox, GROUP, handoff["message_id"], "type the reason")
    async with http.get(f"/api/chats/{GROUP}", params={"user": SAM}) as response:
        shown = next(m for m in (await response.json())["messages"]
                     if m["id"] == question["message_id"])
    assert shown["force_reply"] == {"selective": True, "users": [SAM]}
    body = {"user": SAM, "text": "The pin is on the wrong space",
            "reply_to": question["message_id"]}
    await post(http, f"/api/chats/{GROUP}/messages", body)
    told = await bot_reply(sandbox, ANA, 0, "needs a fix")
    assert "The pin is on the wrong space" in told["text"]
    await post(http, f"/api/chats/{GROUP}/messages", {**body, "reply_to": 9999}, 400)


async def test_a_person_switches_language_with_the_language_select(
    sandbox: Sandbox, http: aiohttp.ClientSession,
) -> None:
    async with http.get("/api/people") as response:
        info = await response.json()
    assert {"code": "de", "name": "Deutsch"} in info["languages"]
    assert {p["id"]: p["language"] for p in info["people"]}[ANA] in (None, "en")
    after = max((m.message_id for m in sandbox.emu.chats[ANA].bot_messages), default=0)
    answer = await post(http, f"/api/people/{ANA}/language", {"language": "de"})
    assert answer == {"ok": True, "language": "de"}
    assert sandbox.emu.users[ANA]["language_code"] == "de"
    await bot_reply(sandbox, ANA, after, "Deutsch")  # the menu, edited to the confirmation
    await post(http, f"/api/chats/{ANA}/messages", {"user": ANA, "text": "/status"})
    await bot_reply(sandbox, ANA, after, "Auftrag")
    await post(http, f"/api/people/{ANA}/language", {"language": "xx"}, status=400)
    await post(http, "/api/people/1/language", {"language": "de"}, status=403)
