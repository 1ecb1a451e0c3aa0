"""Start the sandbox: the fake Bot API, the chat page and the real bot, in one process.

One aiohttp server on one port: the page and its API at `/`, the Bot API emulator mounted
at `/telegram` (the bot's `TELEGRAM_API_URL`), behind the guard (`sandbox.guard`). On other
loopback ports: an offline fake Nominatim answers address look-ups (unless `--geocoder-url`
names another), and a recorder receives what the bot delivers (pages, the record), which the
page shows. The bot's settings are a fixed safe base (`sandbox.settings`): no credential
of `.env` is ever used. The database lives in a fresh temporary directory, seeded with the
demo installer and removed at stop (`--database` puts it elsewhere: recreated at each start,
kept after). Nothing is written to the source tree.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.engine.catalog import Catalog
from sandbox import seed
from sandbox.guard import COOKIE, Guard, is_loopback
from sandbox.scanner import SCANNER_PATH
from sandbox.server import ChatPage
from sandbox.settings import sandbox_settings
from testkit.emulator import BotApiEmulator
from testkit.emulator.server import MAX_REQUEST_BYTES
from testkit.fakes.geocoder import FakeNominatim
from testkit.fakes.webhook import FakeWebhook

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
API_PREFIX = "/telegram"
READY_TIMEOUT_S = 10.0


class Sandbox:
    """Everything the sandbox runs; `await start()`, then `url`; `await stop()`."""

    def __init__(
        self,
        base: Settings,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        database: Path | None = None,
        geocoder_url: str | None = None,
        poll_timeout: int = 10,
    ) -> None:
        """`base`: the environment's settings, of which only harmless ones are taken
        (`sandbox.settings`). `database`: the SQLite file, recreated at each start; by default
        one in a fresh temporary directory that `stop()` removes. `geocoder_url`: a
        Nominatim-compatible geocoder to use instead of the offline one. A host other than
        loopback needs the token (`token`, in `url`)."""
        self.base = base
        self.host = host
        self.port = port
        self.database = database
        self.geocoder_url = geocoder_url
        self.poll_timeout = poll_timeout
        self.token = None if is_loopback(host) else Guard.make_token()
        self.guard = Guard(host, self.token, API_PREFIX)
        # Telegram's test environment takes plain http Mini Apps: the scanner is this server's
        self.emu = BotApiEmulator(seed.SANDBOX_TOKEN, seed.BOT_USERNAME, "Pinpoint",
                                  test_environment=True)
        self.page: ChatPage | None = None
        self.geocoder: FakeNominatim | None = None
        self.recorder: FakeWebhook | None = None
        self.settings: Settings | None = None
        self.app: Any = None  # the python-telegram-bot Application (handlers.app builds it)
        self._runner: web.AppRunner | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def temporary(self) -> bool:
        """The database is in a temporary directory that `stop()` removes."""
        return self._workdir is not None

    @property
    def origin(self) -> str:
        """`http://host:port`, as this computer reaches the server."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else DEFAULT_HOST
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def url(self) -> str:
        """The page's address (with its token when the sandbox is open to the network)."""
        return self.origin + "/" + (f"?token={self.token}" if self.token else "")

    @property
    def api_url(self) -> str:
        """The emulator's root, as the bot's `telegram_api_url`."""
        return self.origin + API_PREFIX

    @property
    def geocoder_label(self) -> str:
        if self.geocoder is not None:
            return "offline demo geocoder (Berlin, Heidelberg, Lyon)"
        return f"Nominatim at {self.geocoder_url}"

    async def start(self) -> None:
        """Start the geocoder, the recorder, the server, a fresh seeded database, then the
        bot."""
        from handlers.app import build_application, start_polling

        geocoder_url = self.geocoder_url
        if geocoder_url is None:
            self.geocoder = FakeNominatim()
            geocoder_url = await self.geocoder.start()
        self.recorder = await FakeWebhook().start()
        seed.seed_emulator(self.emu)
        self.page = ChatPage(self.emu, self.recorder, extras=self._demo_values())
        web_app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        self.guard.attach(web_app)
        self.page.attach(web_app)
        web_app.add_subapp(API_PREFIX, self.emu.make_app())
        self._runner = web.AppRunner(web_app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self.guard.port = self._runner.addresses[0][1]
        self.emu.port = self.port
        if self.database is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="pinpoint-sandbox-",
                                                        ignore_cleanup_errors=True)
            self.database = Path(self._workdir.name) / "sandbox.db"
        reset_database(self.database)
        await seed.seed_database(self.database)
        self.settings = sandbox_settings(self.base, api_url=self.api_url, database=self.database,
                                         geocoder_url=geocoder_url,
                                         recorder=self.recorder.url(""),
                                         mini_app_url=self.origin + SCANNER_PATH)
        self.app = build_application(self.settings)
        await start_polling(self.app, poll_timeout=self.poll_timeout)

    async def stop(self) -> None:
        """Stop the bot, the page's streams, the server and the geocoder (what was started);
        remove the temporary database."""
        from handlers.app import stop_polling

        app, self.app = self.app, None
        if app is not None:
            await stop_polling(app)
        if self.page is not None:
            await self.page.close()
        await self.emu.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.geocoder is not None:
            await self.geocoder.stop()
        if self.recorder is not None:
            await self.recorder.stop()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir, self.database = None, None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _demo_values(self) -> dict[str, Any]:
        models = []
        with contextlib.suppress(OSError, ValueError, KeyError):
            catalog = Catalog.load(self.base.catalog_path, self.base.checklists_path)
            models = [{"name": m.full_name, "min_firmware": m.min_firmware,
                       "serial_example": m.serial_example} for m in catalog.models]
        return {
            "sticker": {"href": "/api/sticker.png", "mac": seed.STICKER_MAC,
                        "password": seed.STICKER_PASSWORD},
            "demo": {"installer_id": seed.INSTALLER_ID, "newcomer_id": seed.NEWCOMER_ID,
                     "iccid": seed.DEMO_ICCID,
                     "models": models},
        }

    async def check(self) -> str | None:
        """Fetch the page and play Ana's `/start` through the API: None, or what failed."""
        await self.emu.wait_for_call("setMyCommands", READY_TIMEOUT_S)
        chat = self.emu.chats[seed.ANA.id]
        before = len(chat.bot_messages)
        cookies = {COOKIE: self.token} if self.token else None
        async with aiohttp.ClientSession(self.origin, cookies=cookies) as http:
            for path in ("/", "/static/app.js", "/static/style.css", "/api/people",
                         "/api/sticker.png", SCANNER_PATH, "/static/vendor/jsQR.js"):
                async with http.get(path) as response:
                    if response.status != 200:
                        return f"GET {path} answered {response.status}"
            body = {"user": seed.ANA.id, "text": "/start"}
            async with http.post(f"/api/chats/{seed.ANA.id}/messages", json=body) as response:
                if response.status != 200:
                    return f"sending /start answered {response.status}"
        if not await self.emu.signal.wait_for(lambda: len(chat.bot_messages) > before,
                                              READY_TIMEOUT_S):
            return "the bot did not answer /start"
        return None


def reset_database(path: Path) -> None:
    """Delete the sandbox database and its WAL files: each start begins afresh."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def open_browser(url: str) -> None:
    """Best effort: a graphical browser only (never a text browser in this terminal)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("BROWSER")
    ):
        return
    with contextlib.suppress(Exception):
        webbrowser.open(url, new=2)


def banner(sandbox: Sandbox) -> str:
    """What the terminal shows once the sandbox runs."""
    where = "temporary, removed at stop" if sandbox.temporary else "recreated at each start"
    lines = [
        f"Pinpoint sandbox: open {sandbox.url} (Ctrl+C stops it)",
        "  Be Ana (approved installer: send /new), Sam (support group), Ben (newcomer),",
        "  Maya (manager) or Alex (admin); each browser tab can be another person.",
        f"  Database {sandbox.database} ({where}); addresses: {sandbox.geocoder_label}.",
    ]
    lines.append("  Pages and the record go to a recorder on this computer (📨 in the page); "
                 "no credential of .env is used.")
    if sandbox.token:
        lines.append(f"  Listening on {sandbox.host}: whoever has this address with its token "
                     "can read every demo chat and act as any demo person.")
        if sandbox.host in ("0.0.0.0", "::", ""):
            address = lan_address()
            where = (f"http://{address}:{sandbox.port}/?token={sandbox.token}" if address
                     else f"this computer's address, with ?token={sandbox.token}")
            lines.append(f"  On a phone in the same network: {where} (the phone's GPS needs "
                         "https, so pick a demo site or type coordinates there).")
    return "\n".join(lines)


def lan_address() -> str | None:
    """This computer's address in its local network, if it has one (nothing is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot sandbox",
        description="Run the bot against its own fake Telegram, with a chat page in the browser.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the page's port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 lets a phone on "
                             "your network in, with the secret token printed at start)")
    parser.add_argument("--no-browser", action="store_true", help="don't open a browser")
    parser.add_argument("--database", type=Path, default=None,
                        help="the SQLite file, recreated at each start and kept after (default: "
                             "one in a temporary directory, removed at stop)")
    parser.add_argument("--geocoder-url", default=None,
                        help="a Nominatim-compatible geocoder to use instead of the offline "
                             "demo one (no API key is sent)")
    parser.add_argument("--check", action="store_true",
                        help="start, check that the page and the bot answer, stop (exit 0 or 1)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, base: Settings) -> int:
    """Run the sandbox until Ctrl+C (or, with --check, just long enough to check it)."""
    sandbox = Sandbox(base, host=args.host, port=args.port, database=args.database,
                      geocoder_url=args.geocoder_url)
    try:
        try:
            await sandbox.start()
        except OSError as exc:
            print(f"Pinpoint sandbox: cannot listen on {args.host}:{args.port} "
                  f"({exc.strerror or exc}); choose another with --port.", file=sys.stderr)
            return 1
        print(banner(sandbox), flush=True)
        if args.check:
            problem = await sandbox.check()
            print(f"sandbox check: {problem or 'ok'}", flush=True)
            return 1 if problem else 0
        if not args.no_browser:
            asyncio.get_running_loop().run_in_executor(None, open_browser, sandbox.url)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()
        print("Pinpoint sandbox: stopping.", flush=True)
        return 0
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """`python -m bot sandbox [--port N] [--host H] [--no-browser] [--check] ...`; `settings`:
    the environment's, of which the sandbox takes only harmless ones."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if settings is None:
        from pydantic import ValidationError

        from bot.config import load_settings

        try:
            settings = load_settings()
        except ValidationError as exc:
            print(f"Pinpoint: a setting is wrong:\n{exc}", file=sys.stderr)
            return 2
    from bot.logs import configure_logging

    configure_logging(settings.log_level, [seed.SANDBOX_TOKEN, *settings.secrets()])
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(args, settings))
    return 0
