"""Unit tests: settings, `.env.example`, the run command without a token, log redaction."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.logs import RedactingFilter

ROOT = Path(__file__).resolve().parent.parent  # the source checkout


def example_keys() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def test_env_example_lists_every_setting_with_a_comment() -> None:
    keys = example_keys()
    assert sorted(keys) == sorted(name.upper() for name in Settings.model_fields)
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"


def test_env_example_values_are_valid_settings(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.telegram_token is None
    assert settings.admin_ids == [] and settings.support_chat_id is None


def test_lists_and_time_zone_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 2;3")
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.admin_ids == [1, 2, 3]
    assert str(settings.tz) == "Europe/Berlin"
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_summary_time_and_the_zone_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARY_TIME", "7:30")
    monkeypatch.setenv("TIMEZONE", "Europe/Lisbon")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.summary_time == time(7, 30)
    assert settings.timezone == ZoneInfo("Europe/Lisbon") and settings.tz is settings.timezone
    assert Settings(_env_file=None, summary_time=time(18)).summary_time == time(18)  # type: ignore[call-arg]
    for wrong in ("24:00", "18h", "18:00:00"):
        monkeypatch.setenv("SUMMARY_TIME", wrong)
        with pytest.raises(ValueError, match="expected HH:MM"):
            Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.delenv("SUMMARY_TIME")
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_finder_settings_default_to_the_bots() -> None:
    from bot.places import GeoSettings

    assert GeoSettings() == GeoSettings.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def test_run_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    """No token: the first line says the sandbox starts, the token steps follow (--check stops
    the sandbox once it answers instead of serving until Ctrl+C)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot", "run", "--check", "--no-browser", "--port", "0",
               "--database", str(tmp_path / "sandbox.db")]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith("No TELEGRAM_TOKEN set: starting the local sandbox")
    assert "TELEGRAM_TOKEN=" in result.stdout and "@BotFather" in result.stdout
    assert "Pinpoint sandbox: open http://127.0.0.1:" in result.stdout
    assert "sandbox check: ok" in rest
    assert "Traceback" not in result.stderr + result.stdout


def test_logs_never_carry_the_token_or_a_password() -> None:
    token = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCrxyzAB"
    redactor = RedactingFilter([token, "ABCD7K"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1,
                               "POST https://api.telegram.org/bot%s/getMe pw=%s",
                               (token, "ABCD7K"), None)
    redactor.filter(record)
    assert token not in record.getMessage() and "ABCD7K" not in record.getMessage()
    unknown = logging.LogRecord("x", logging.INFO, __file__, 1,
                                "other 987654321:ZZEhBOweik6ad9r_QXMENQjcrGbqCrxyz99", None, None)
    redactor.filter(unknown)
    assert "[redacted]" in unknown.getMessage()


def test_the_bot_keeps_within_telegrams_flood_limits_by_default() -> None:
    from telegram.ext import AIORateLimiter

    from handlers.app import build_application

    settings = Settings(_env_file=None, telegram_token="123456:" + "A" * 35)  # type: ignore[call-arg]
    assert isinstance(build_application(settings).bot.rate_limiter, AIORateLimiter)
    quiet = settings.model_copy(update={"telegram_rate_limit": False})
    assert build_application(quiet).bot.rate_limiter is None
