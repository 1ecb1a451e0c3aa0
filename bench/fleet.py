"""Several instances of the real bot in webhook mode on one database, behind a round-robin
proxy: what the service benchmark and the multi-instance test share.

Each instance is `python -m bot run` (a `harness.BotProcess`) with its own WEBHOOK_PORT and
the same DATABASE_URL, WEBHOOK_URL (the proxy's) and secret; the emulator POSTs every update
to the proxy. The proxy is nginx from the system's packages with deploy/loopback.py's
configuration, or, where nginx is not installed, `RoundRobin` here (the same behaviour: the
next instance when one refuses the connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from harness import (
    FIRST_INSTALLER,
    ROOT,
    SUPPORT_CHAT_ID,
    SUPPORT_ID,
    BotApiEmulator,
    BotProcess,
    FakeNominatim,
    FakeWebhook,
    World,
    bot_env,
    register,
)

sys.path.insert(0, str(ROOT / "deploy"))
from loopback import HOOK_PATH, free_port, instance_env, nginx_command, nginx_config

SECRET = "fleet-secret_0123456789"
NO_NGINX = "nginx is not installed: a round-robin proxy written in Python stands in for it"
FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class RoundRobin:
    """A small HTTP proxy on 127.0.0.1: each request to the next instance in turn, to the
    one after when an instance refuses the connection (as nginx's `proxy_next_upstream`)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._turn = itertools.cycle(range(len(ports)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED}
        for _ in self.ports:
            port = self.ports[next(self._turn)]
            try:
                async with self._session.request(
                        request.method, f"http://127.0.0.1:{port}{request.path_qs}", data=body,
                        headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as answer:
                    return web.Response(status=answer.status, body=await answer.read(),
                                        content_type=answer.content_type)
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502, text="no instance answered")


class Fleet:
    """The instances and their proxy; `up` and `up_since` as one bot's for the people."""

    def __init__(self, emu: BotApiEmulator, env: dict[str, str], workdir: Path,
                 instances: int, database_url: str, use_nginx: bool = True) -> None:
        self.emu = emu
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{HOOK_PATH}"
        self.ports = [free_port() for _ in range(instances)]
        self.instances = [
            BotProcess(emu, instance_env(env, port, database_url, self.url, SECRET), workdir,
                       log_name=f"instance-{i + 1}.log") for i, port in enumerate(self.ports)]
        self.nginx_command = nginx_command(nginx_config(workdir, self.port, self.ports)) \
            if use_nginx else None
        self.nginx: asyncio.subprocess.Process | None = None
        self.proxy: RoundRobin | None = None
        self.kills: list[float] = []

    async def start(self) -> None:
        """The proxy, then every instance (one at a time: each sets the webhook)."""
        if self.nginx_command:
            self.nginx = await asyncio.create_subprocess_exec(*self.nginx_command)
            await _listening(self.port)
        else:
            self.proxy = RoundRobin(self.ports)
            await self.proxy.start(self.port)
        for bot in self.instances:
            await bot.start()

    async def stop(self) -> None:
        """SIGTERM to every instance, then the proxy."""
        await asyncio.gather(*(bot.stop() for bot in self.instances))
        for bot in self.instances:
            bot.close()
        if self.nginx is not None and self.nginx.returncode is None:
            self.nginx.terminate()
            await self.nginx.wait()
        if self.proxy is not None:
            await self.proxy.stop()

    @property
    def up(self) -> bool:
        return any(bot.up for bot in self.instances)

    @property
    def up_since(self) -> float | None:
        """When the newest running instance came up, or one was killed since (the people's
        patience starts there: what the killed one held waits for its restart)."""
        return max([bot.up_since for bot in self.instances if bot.up_since] + self.kills,
                   default=None)

    async def kill(self, index: int) -> None:
        """SIGKILL one instance."""
        await self.instances[index].kill()
        self.kills.append(time.monotonic())

    @property
    def starts(self) -> int:
        return sum(bot.starts for bot in self.instances)


async def _listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def have_nginx() -> bool:
    return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()


@contextlib.asynccontextmanager
async def fleet_world(workdir: Path, installers: int, instances: int, database_url: str,
                      extra_env: dict[str, str] | None = None,
                      use_nginx: bool = True) -> AsyncIterator[World]:
    """Like `harness.world`, with `instances` bots in webhook mode behind a proxy; `w.bot` is
    the `Fleet`, `w.db_path` the PostgreSQL URL or the SQLite file."""
    emu = BotApiEmulator()
    arrivals: dict[tuple[int, int], float] = {}

    def arrived(event: str, payload: Any) -> None:
        if event == "message" and payload.from_bot:
            arrivals[(payload.chat_id, payload.message_id)] = time.monotonic()

    emu.add_listener(arrived)
    await emu.start()
    geocoder = FakeNominatim()
    await geocoder.start()
    webhook = FakeWebhook()
    await webhook.start()
    ids = [FIRST_INSTALLER + i for i in range(installers)]
    env = bot_env(emu, workdir / "unused.db", geocoder.url, webhook, ids) | (extra_env or {})
    fleet = Fleet(emu, env, workdir, instances, database_url, use_nginx)
    sam = emu.user(SUPPORT_ID, "Sam")
    support = emu.group(SUPPORT_CHAT_ID, "ChargeNet support", members=[sam])
    db = database_url if database_url.startswith("postgresql") else Path(
        database_url.removeprefix("sqlite:///"))
    w = World(emu, geocoder, webhook, fleet, db, support,  # type: ignore[arg-type]
              arrivals=arrivals)
    try:
        await fleet.start()
        await register(w, ids)
        yield w
    finally:
        await fleet.stop()
        await webhook.stop()
        await geocoder.stop()
        await emu.stop()
