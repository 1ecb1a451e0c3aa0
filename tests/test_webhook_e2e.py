"""End-to-end: the real bot in webhook mode, its updates POSTed by the emulator; /healthz,
/metrics, and the polling mode's metrics server."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.store.migrations import latest
from handlers.app import build_application, start_webhook, stop_webhook
from handlers.monitoring import start_monitoring
from handlers.webhook import MAX_BODY_BYTES, SECRET_HEADER
from testkit.emulator import BotApiEmulator, Player
from testkit.fakes.geocoder import FakeNominatim

from conftest import ANA_ID, RunningBot, make_settings
from flow import current_step, start_job, walk

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret_42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebhookBot(RunningBot):
    """The real bot in webhook mode: the emulator POSTs its updates."""

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.settings.webhook_port}"

    async def start(self) -> None:
        self.app = build_application(self.settings)
        await start_webhook(self.app)

    async def stop(self) -> None:
        app, self.app = self.app, None
        if app is not None:
            await stop_webhook(app)


@pytest.fixture
def webhook_settings(tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim) -> Settings:
    port = free_port()
    return make_settings(tmp_path, emu, nominatim.url,
                         webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
                         webhook_secret=SECRET, webhook_port=port)


@pytest.fixture
async def hooked(webhook_settings: Settings) -> AsyncIterator[WebhookBot]:
    running = WebhookBot(webhook_settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def ana(emu: BotApiEmulator, hooked: WebhookBot) -> Player:
    player = emu.user(ANA_ID, "Ana", "Installer", username="ana")
    await player.send("/start")
    await player.expect_text("installer ID")
    await player.send("INS-10234")
    await player.expect_text("approved")
    return player


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus' text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if wanted \
        else rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_an_installer_walks_a_job_through_the_webhook(
        emu: BotApiEmulator, hooked: WebhookBot, ana: Player) -> None:
    hook = emu.webhook
    assert hook is not None and hook.url == hooked.settings.webhook_url
    assert hook.secret_token == SECRET
    assert emu.allowed_updates == ["message", "edited_message", "callback_query"]
    await start_job(ana)
    await walk(ana, hooked, until="power_off")
    assert not emu.calls_of("getUpdates")  # no polling at all
    assert hook.deliveries and all(status == 200 for _, status in hook.deliveries)
    answers = await hooked.services.store.answers((await hooked.services.store.open_job(
        ANA_ID)).id)
    assert answers["firmware"].value == "2.10.1"


async def test_requests_without_the_secret_are_refused(hooked: WebhookBot) -> None:
    url = hooked.settings.webhook_url
    update = {"update_id": 999, "message": {"message_id": 1, "date": 0,
                                            "chat": {"id": 5, "type": "private"},
                                            "from": {"id": 5, "is_bot": False,
                                                     "first_name": "Eve"}, "text": "/start"}}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=update) as response:
            assert response.status == 403
        async with session.post(url, json=update, headers={SECRET_HEADER: "wrong"}) as response:
            assert response.status == 403
        right = {SECRET_HEADER: SECRET}
        async with session.post(url, data=b"{not json", headers=right) as response:
            assert response.status == 400
        async with session.post(url, json={"hello": 1}, headers=right) as response:
            assert response.status == 400
        big = b'{"update_id": 1, "x": "' + b"a" * MAX_BODY_BYTES + b'"}'
        async with session.post(url, data=big, headers=right) as response:
            assert response.status == 413
    assert not await hooked.services.store.unfinished()
    assert await hooked.services.store.fetch_one("SELECT * FROM inbox WHERE update_id = 999") \
        is None


async def test_a_redelivered_update_is_applied_once(
        emu: BotApiEmulator, hooked: WebhookBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, hooked, until="owner_account")
    await ana.send("ORD-2024-1187")
    update = emu.all_updates[-1]
    await ana.wait_for_text("· step ")
    sent = len(ana.messages)
    _, before = await get(hooked.root + "/metrics")
    emu.redeliver(update)
    await emu.idle()
    assert [status for uid, status in emu.webhook.deliveries
            if uid == update["update_id"]] == [200, 200]
    await ana.expect_nothing(0.3)
    assert len(ana.messages) == sent
    _, after = await get(hooked.root + "/metrics")
    name = "pinpoint_updates_received_total"
    assert sample(after, name, outcome="redelivered") == sample(
        before, name, outcome="redelivered") + 1
    # processed again, the text would have answered the next question, the station's name
    assert await current_step(hooked, ana) == "station_name"
    job = await hooked.services.store.open_job(ANA_ID)
    assert "station_name" not in await hooked.services.store.answers(job.id)


async def test_updates_sent_while_the_bot_is_down_arrive_after_its_restart(
        emu: BotApiEmulator, hooked: WebhookBot, ana: Player) -> None:
    await hooked.stop()
    assert emu.webhook is not None  # left set: another instance may take over
    await ana.send("/status")
    assert await emu.signal.wait_for(lambda: emu.webhook.last_error_date is not None, 5.0)
    assert emu.webhook.last_error_message
    await hooked.start()
    await ana.expect_text("")  # the /status answer, delivered again
    await emu.idle()


async def test_healthz_is_ok_and_503_when_migrations_are_not_current(
        hooked: WebhookBot) -> None:
    status, body = await get(hooked.root + "/healthz")
    assert status == 200, body
    assert '"status": "ok"' in body and f'"schema": "{latest()}"' in body
    store = hooked.services.store
    await store._exec("UPDATE alembic_version SET version_num = '005'")
    status, body = await get(hooked.root + "/healthz")
    assert status == 503 and "migrations not current" in body
    await store._exec("UPDATE alembic_version SET version_num = ?", (latest(),))
    assert (await get(hooked.root + "/healthz"))[0] == 200


async def test_metrics_after_a_few_updates(
        emu: BotApiEmulator, hooked: WebhookBot, ana: Player) -> None:
    # The registry is the process's: what earlier tests handled is in it too.
    earlier = sample((await get(hooked.root + "/metrics"))[1], "pinpoint_update_seconds_sum",
                     kind="message")
    await start_job(ana)
    await walk(ana, hooked, until="new_or_replacement")  # past the GPS fix: addresses looked up
    await hooked.services.store.enqueue("generic", "http://127.0.0.1:9/page", {}, "test-1")
    status, text = await get(hooked.root + "/metrics")
    assert status == 200
    assert sample(text, "pinpoint_update_seconds_count", kind="message") >= 10
    assert sample(text, "pinpoint_update_seconds_count", kind="callback") >= 5
    assert 0 < sample(text, "pinpoint_update_seconds_sum", kind="message") - earlier < 60
    assert sample(text, "pinpoint_jobs", state="open") == 1
    assert sample(text, "pinpoint_outbox_backlog") >= 1
    assert sample(text, "pinpoint_outbox_oldest_age_seconds") >= 0
    assert sample(text, "pinpoint_geocoder_calls_total", outcome="ok") >= 1
    assert "# TYPE pinpoint_qr_decode_seconds histogram" in text
    assert sample(text, "pinpoint_updates_received_total", outcome="new") >= 15


async def test_polling_mode_serves_health_and_metrics_on_their_own_port(bot: RunningBot) -> None:
    port = free_port()
    runner = await start_monitoring(bot.app, "127.0.0.1", port)
    try:
        status, body = await get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200, body
        status, text = await get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "pinpoint_jobs" in text
    finally:
        await runner.cleanup()


async def test_the_emulator_runs_webhooks_as_the_bot_api_does(emu: BotApiEmulator) -> None:
    api = f"{emu.base_url}{emu.token}"
    async with aiohttp.ClientSession() as session:
        async def call(method: str, **params: object) -> tuple[int, dict]:
            async with session.post(f"{api}/{method}", json=params) as response:
                return response.status, await response.json()

        emu.local_webhooks = False  # the cloud API's rules
        status, body = await call("setWebhook", url="http://bot.example.org/hook")
        assert status == 400 and "HTTPS URL" in body["description"]
        status, body = await call("setWebhook", url="https://bot.example.org:8080/hook")
        assert status == 400 and "ports" in body["description"]
        status, _ = await call("setWebhook", url="https://bot.example.org/hook",
                               secret_token="s", allowed_updates=["message"])
        assert status == 200
        status, body = await call("getUpdates")
        assert status == 409 and "webhook is active" in body["description"]
        _, body = await call("getWebhookInfo")
        assert body["result"]["url"] == "https://bot.example.org/hook"
        assert body["result"]["allowed_updates"] == ["message"]
        await call("deleteWebhook")
        _, body = await call("getWebhookInfo")
        assert body["result"]["url"] == ""
        status, _ = await call("getUpdates")
        assert status == 200


async def test_the_run_command_serves_the_webhook_until_sigterm(
        tmp_path: Path, emu: BotApiEmulator) -> None:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
           "TELEGRAM_TOKEN": emu.token, "TELEGRAM_API_URL": emu.api_root,
           "TELEGRAM_RATE_LIMIT": "false", "DATABASE_PATH": "pinpoint.db",
           "INSTALLER_IDS": str(ANA_ID), "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
           "WEBHOOK_SECRET": SECRET, "WEBHOOK_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await emu.wait_for_call("setWebhook", timeout=30)
        ana = emu.user(ANA_ID, "Ana", "Installer", username="ana")
        await ana.send("/start")
        await ana.expect_text("installer ID")
        assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, out.decode()
    assert "Pinpoint is running (webhook)" in out.decode()
    assert emu.webhook is not None  # left set at stop
