"""Helpers to run a real python-telegram-bot Application against the Bot API emulator.

Import them from a test module (`tests/` has no conftest fixtures for this on purpose):

    from emulator_fixtures import build_application, running
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from bot.emulator import BotApiEmulator


def build_application(emu: BotApiEmulator, **kwargs: Any) -> Application:
    """An Application talking to `emu`; keyword arguments call the builder's methods."""
    builder = (
        ApplicationBuilder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
    )
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return builder.build()


@asynccontextmanager
async def running(app: Application, *, poll_timeout: int = 1) -> AsyncIterator[Application]:
    """Initialise, start and long-poll; stop and shut down cleanly on exit."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
    try:
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


@asynccontextmanager
async def emulator(**kwargs: Any) -> AsyncIterator[BotApiEmulator]:
    """A started emulator on a free loopback port, stopped on exit."""
    emu = BotApiEmulator(**kwargs)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
