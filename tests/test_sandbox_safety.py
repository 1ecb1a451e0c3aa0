"""The sandbox is safe to run and to open (issue 14, points 1 and 2).

It never uses the environment's credentials (deliveries go to its own recorder), answers
only loopback `Host`s and its own origin, needs its token when open to the network, serves a
file only to members of its chat, never as something the browser would run, under random ids,
and decodes uploads off the event loop within the bot's pixel limit.
"""

from __future__ import annotations

import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.config import Settings
from bot.vision.images import MAX_PIXELS
from sandbox import Sandbox, seed
from sandbox.guard import COOKIE
from sandbox.launcher import banner
from testkit.emulator.files import PREFIX
from testkit.fakes.webhook import FakeWebhook

from conftest import photo_bytes
from flow import start_job, walk

ANA, SAM = seed.ANA.id, seed.SAM.id
GROUP = seed.SUPPORT_GROUP_ID


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.url) as session:
        yield session


async def upload(http: aiohttp.ClientSession, data: bytes, name: str, kind: str,
                 content_type: str = "image/jpeg", status: int = 200) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("user", str(ANA))
    form.add_field("as", kind)
    form.add_field("file", data, filename=name, content_type=content_type)
    async with http.post(f"/api/chats/{ANA}/upload", data=form) as response:
        answer = await response.json()
        assert response.status == status, answer
        return answer


# -- 1. never the production credentials ---------------------------------------------------


async def test_production_deliveries_in_the_environment_are_never_used(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    production = await FakeWebhook().start()
    env = {
        "PAGING_WEBHOOKS": f"slack:{production.url('/slack')},"
                           f"pagerduty:{production.url('/pagerduty')},{production.url('/hook')}",
        "PAGERDUTY_ROUTING_KEY": "prod-routing-key",
        "RECORD_ENDPOINT": production.url("/record"),
        "RECORD_TOKEN": "prod-record-token",
        "GEOCODER_URL": production.url("/geocoder"),
        "GEOCODER_API_KEY": "prod-geo-key",
        "DATABASE_PATH": str(tmp_path / "production.db"),
        "SUPPORT_CHAT_ID": "-100987654321",
        "NETWORK_NAME": "VoltNet",
        "MINI_APP_URL": production.url("/scanner/"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    running = Sandbox(Settings(_env_file=None), port=0, poll_timeout=1)  # type: ignore[call-arg]
    await running.start()
    try:
        settings = running.settings
        assert settings is not None and settings.network_name == "VoltNet"
        used = settings.model_dump_json() + "".join(
            s.get_secret_value() for s in (settings.record_token, settings.pagerduty_routing_key,
                                           settings.geocoder_api_key) if s is not None)
        for value in env.values():
            if value != "VoltNet":
                assert value not in used
        assert str(production.port) not in used

        ana = running.emu.player(ANA, ANA)
        await start_job(ana)
        await walk(ana, SimpleNamespace(services=running.app.bot_data["services"]))  # type: ignore[arg-type]
        recorder = running.recorder
        assert recorder is not None
        await recorder.wait_for(1, "/slack", timeout=10)
        chat = running.emu.chats[GROUP]
        assert await running.emu.signal.wait_for(
            lambda: any("Verify" in b.get("text", "") for m in chat.bot_messages
                        for row in m.inline_keyboard or [] for b in row), 10)
        handoff = next(m for m in reversed(chat.bot_messages)
                       if any("Verify" in b.get("text", "")
                              for row in m.inline_keyboard or [] for b in row))
        verify = next(b for row in handoff.inline_keyboard or [] for b in row
                      if "Verify" in b["text"])
        async with aiohttp.ClientSession(running.url) as http:
            body = {"user": SAM, "message_id": handoff.message_id,
                    "data": verify["callback_data"]}
            async with http.post(f"/api/chats/{GROUP}/press", json=body) as response:
                assert response.status == 200
            await recorder.wait_for(1, "/record", timeout=10)
            await recorder.wait_for(2, "/pagerduty", timeout=10)
            async with http.get("/api/deliveries") as response:
                shown = await response.json()
        record = recorder.delivered("/record")[0]
        assert record.headers["Authorization"] == "Bearer sandbox-record-token"
        assert recorder.delivered("/pagerduty")[0].body["routing_key"] == "sandbox-routing-key"
        assert {d["to"] for d in shown} >= {"Slack (support's channel)", "PagerDuty",
                                            "the network's record endpoint"}
        assert any("VoltNet job #1 submitted" in d["summary"] for d in shown)
    finally:
        await running.stop()
        await production.stop()
    assert production.received == [], "nothing reached the production endpoints"
    assert not (tmp_path / "production.db").exists()


# -- 2. the page is safe to open ---------------------------------------------------------


async def test_only_loopback_hosts_are_answered(sandbox: Sandbox,
                                                http: aiohttp.ClientSession) -> None:
    for host in ("evil.example", f"evil.example:{sandbox.port}", "192.168.1.20"):
        for path in ("/", "/api/people", f"/api/chats/{ANA}?user={ANA}"):
            async with http.get(path, headers={"Host": host}) as response:
                assert response.status == 403, (host, path)
    for host in (f"localhost:{sandbox.port}", f"127.0.0.1:{sandbox.port}",
                 f"[::1]:{sandbox.port}"):
        async with http.get("/api/people", headers={"Host": host}) as response:
            assert response.status == 200, host


async def test_the_api_answers_its_own_origin_only(sandbox: Sandbox,
                                                   http: aiohttp.ClientSession) -> None:
    body = {"user": ANA, "text": "/new"}
    foreign = ({"Origin": "null"}, {"Origin": "http://evil.example"},
               {"Origin": f"http://localhost:{sandbox.port}"}, {"Sec-Fetch-Site": "cross-site"},
               {"Sec-Fetch-Site": "same-site"})
    for headers in foreign:
        async with http.post(f"/api/chats/{ANA}/messages", json=body,
                             headers=headers) as response:
            assert response.status == 403, headers
        async with http.get(f"/api/chats/{ANA}", params={"user": ANA},
                            headers=headers) as response:
            assert response.status == 403, headers
    assert sandbox.emu.chats[ANA].messages == []
    own = {"Origin": sandbox.origin, "Sec-Fetch-Site": "same-origin"}
    async with http.post(f"/api/chats/{ANA}/messages", json=body, headers=own) as response:
        assert response.status == 200


async def test_the_page_forbids_inline_script_framing_and_sniffing(
        http: aiohttp.ClientSession) -> None:
    for path in ("/", "/static/app.js", "/api/people"):
        async with http.get(path) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


async def test_an_uploaded_html_file_is_served_as_an_attachment(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    page = b"<html><script>fetch('/api/people')</script></html>"
    for name, content_type in (("page.html", "text/html"), ("logo.svg", "image/svg+xml")):
        sent = await upload(http, page, name, "document", content_type)
        document = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["document"]
        async with http.get(f"/api/chats/{ANA}/files/{document['file_id']}",
                            params={"user": ANA}) as response:
            assert response.status == 200 and await response.read() == page
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert f'filename="{name}"' in response.headers["Content-Disposition"]
            assert response.content_type == "application/octet-stream"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            policy = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "sandbox" in policy
    sent = await upload(http, photo_bytes(800, 600), "station.jpg", "photo")
    photo = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["photo"][-1]
    async with http.get(f"/api/chats/{ANA}/files/{photo['file_id']}",
                        params={"user": ANA}) as response:
        assert response.content_type == "image/jpeg"
        assert "Content-Disposition" not in response.headers, "a picture is shown"


async def test_a_file_is_served_only_to_members_of_its_chat(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sent = await upload(http, photo_bytes(800, 600), "station.jpg", "photo")
    file_id = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["photo"][-1]["file_id"]

    async def status(chat: int, user: int) -> int:
        async with http.get(f"/api/chats/{chat}/files/{file_id}",
                            params={"user": user}) as response:
            return response.status

    assert await status(ANA, ANA) == 200
    assert await status(GROUP, SAM) == 404, "Sam's chats never showed this file"
    assert await status(SAM, SAM) == 404
    assert await status(ANA, SAM) == 403, "Sam is not in Ana's chat"
    async with http.get(f"/api/chats/{ANA}/files/{file_id}") as response:
        assert response.status == 400, "who asks is required"


async def test_file_ids_are_random(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    ids, paths = [], []
    for _ in range(3):
        sent = await upload(http, b"%PDF-1.4 notes", "notes.pdf", "document",
                            "application/pdf")
        document = sandbox.emu.chats[ANA].by_id[sent["message_id"]].data["document"]
        ids.append(document["file_id"].removeprefix(PREFIX["document"]))
        paths.append(sandbox.emu.files.get(document["file_id"]).file_path)
    assert all(len(i) >= 32 for i in ids)
    for a, b in ((ids[0], ids[1]), (ids[1], ids[2]), (paths[0], paths[1])):
        common = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
        assert common < len("documents/file_") + 4, (a, b)


async def test_uploads_are_decoded_off_the_loop_within_the_bots_pixel_limit(
        sandbox: Sandbox, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sandbox.emu.files
    threads: list[bool] = []
    add_photo = files.add_photo

    def recorded(data: bytes) -> list[dict[str, Any]]:
        threads.append(threading.current_thread() is threading.main_thread())
        return add_photo(data)

    monkeypatch.setattr(files, "add_photo", recorded)
    await upload(http, photo_bytes(800, 600), "station.jpg", "photo")
    assert threads == [False], "decoded in a worker thread"

    side = int(MAX_PIXELS ** 0.5) + 100  # just over the bot's limit, under Pillow's own
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    for kind in ("photo", "document"):
        refused = await upload(http, out.getvalue(), "huge.png", kind, "image/png", 400)
        assert "megapixels" in refused["error"]
    assert threads == [False], "never decoded"


async def test_open_to_the_network_every_request_needs_the_token() -> None:
    running = Sandbox(Settings(_env_file=None), host="0.0.0.0", port=0,  # type: ignore[call-arg]
                      poll_timeout=1)
    await running.start()
    try:
        token = running.token
        assert token and len(token) >= 24 and running.url.endswith(f"/?token={token}")
        text = banner(running)
        assert f"?token={token}" in text and "act as any demo person" in text
        jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies of an address like 127.0.0.1
        async with aiohttp.ClientSession(running.origin, cookie_jar=jar) as http:
            for path in ("/", "/api/people", "/static/app.js", f"/api/chats/{ANA}?user={ANA}",
                         "/?token=wrong"):
                async with http.get(path) as response:
                    assert response.status == 403, path
            async with http.post(f"/api/chats/{ANA}/messages",
                                 json={"user": ANA, "text": "/new"}) as response:
                assert response.status == 403
            async with http.get(f"/?token={token}", allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == "/"
                cookie = response.cookies[COOKIE]
                assert cookie.value == token and cookie["httponly"]
                assert cookie["samesite"] == "Strict"
            for path in ("/", "/api/people"):  # the cookie is kept by the session now
                async with http.get(path, headers={"Host": "192.168.1.20:8765"}) as response:
                    assert response.status == 200, path
        assert await running.check() is None, "the bot still reaches its Bot API"
    finally:
        await running.stop()
