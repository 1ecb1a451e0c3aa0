"""Helpers to run a real python-telegram-bot Application against the Bot API emulator.

Import them from a test module (`tests/` has no conftest fixtures for this on purpose):

    from emulator_fixtures import build_application, running
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from testkit.emulator import BotApiEmulator


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
    """Run `app` as `run_polling` does (initialize, post_init, poll, start), without blocking;
    on exit stop polling, stop, post_stop, shut down, post_shutdown."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
    await app.start()
    try:
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if app.post_stop:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


@asynccontextmanager
async def emulator(**kwargs: Any) -> AsyncIterator[BotApiEmulator]:
    """A started emulator on a free loopback port, stopped on exit."""
    emu = BotApiEmulator(**kwargs)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
