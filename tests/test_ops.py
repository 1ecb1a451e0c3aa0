"""`pinpoint migrate` and `pinpoint check`, as the operator runs them (`python -m bot ...`)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.ops import check
from bot.store.migrations import latest
from testkit.emulator import BotApiEmulator
from testkit.emulator.params import Params
from testkit.fakes.geocoder import FakeNominatim

from conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN_SECRET = "TEST-TOKEN"  # the emulator's token is 123456:TEST-TOKEN


async def pinpoint(cwd: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run `python -m bot ARGS` in `cwd` (no .env there) with `env` on top of a clean one."""
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env={**base, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


async def test_migrate_prints_the_version(tmp_path: Path) -> None:
    code, out = await pinpoint(tmp_path, "migrate", DATABASE_PATH="db/pinpoint.db")
    assert code == 0, out
    assert out.strip() == f"db/pinpoint.db: version {latest()} (migrated from 0)"
    code, out = await pinpoint(tmp_path, "migrate", DATABASE_PATH="db/pinpoint.db")
    assert out.strip() == f"db/pinpoint.db: version {latest()} (already current)"


async def test_check_against_the_emulator(
        tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim) -> None:
    env = {"TELEGRAM_TOKEN": emu.token, "TELEGRAM_API_URL": emu.api_root,
           "DATABASE_PATH": "pinpoint.db", "GEOCODER_URL": nominatim.url,
           "PAGING_WEBHOOKS": "slack:http://127.0.0.1:9/services/T0/B0/XYZ"}
    await pinpoint(tmp_path, "migrate", **env)
    code, out = await pinpoint(tmp_path, "check", **env)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "settings", "store", "Bot API", "Telegram webhook", "geocoder", "paging webhooks"]
    assert all(": ok" in line for line in lines), out
    assert "@pinpoint_test_bot" in out and TOKEN_SECRET not in out and "XYZ" not in out
    assert len(nominatim.requests) == 1  # one reverse look-up, no probes around it

    code, out = await pinpoint(tmp_path, "check", **{**env, "TELEGRAM_API_URL":
                                                     "http://127.0.0.1:9"})
    assert code == 1, out
    assert "Bot API: FAIL" in out and TOKEN_SECRET not in out
    assert "store: ok" in out


async def test_check_reports_each_failure_without_secrets(
        tmp_path: Path, emu: BotApiEmulator) -> None:
    out = io.StringIO()
    settings = make_settings(tmp_path, emu, paging_webhooks=["pagerduty:http://127.0.0.1:9/x"])
    settings = settings.model_copy(update={"geocoder_url": None})  # the public server: skipped
    assert await check(settings, out) == 1
    text = out.getvalue()
    assert "store: FAIL (no database at" in text and "pinpoint migrate" in text
    assert "geocoder: skipped" in text
    assert "paging webhooks: FAIL (a pagerduty webhook needs PAGERDUTY_ROUTING_KEY)" in text
    await emu.api_setWebhook(Params({"url": "https://bot.example.org/hook"}))
    out = io.StringIO()
    await check(settings, out)
    assert "Telegram webhook: FAIL (a webhook is set" in out.getvalue()


async def test_check_refuses_a_webhook_without_its_secret(tmp_path: Path) -> None:
    code, out = await pinpoint(tmp_path, "check", TELEGRAM_TOKEN="1:SECRET-TOKEN-VALUE",
                               WEBHOOK_URL="https://bot.example.org/hook",
                               WEBHOOK_SECRET="bad secret!")
    assert code == 1
    assert out.startswith("settings: FAIL (WEBHOOK_SECRET:"), out
    assert "bad secret!" not in out and "SECRET-TOKEN-VALUE" not in out


def test_webhook_settings() -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    hook = settings(webhook_url="https://bot.example.org/telegram/hook", webhook_secret="abc")
    assert hook.webhook_path == "/telegram/hook" and hook.webhook_port == 8443
    assert hook.webhook_listen == "127.0.0.1" and hook.metrics_port is None
    assert settings(webhook_url="http://127.0.0.1:8080", webhook_secret="a").webhook_path == "/"
    for wrong in ({"webhook_url": "https://bot.example.org/hook"},  # no secret
                  {"webhook_url": "http://bot.example.org/hook", "webhook_secret": "a"},
                  {"webhook_url": "https://bot.example.org/", "webhook_secret": "a b"}):
        with pytest.raises(ValidationError):
            settings(**wrong)
