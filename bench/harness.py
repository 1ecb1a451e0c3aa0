"""What the chaos and fault benchmarks share: the real bot as a child process against the
emulator, installers and support who behave like people, and read-only looks at the database.

The bot runs as `python -m bot run` in a temporary directory (no `.env` is read), pointed at
the emulator, the fake geocoder and the fake webhook, all served by the benchmark's own
process on 127.0.0.1. Installers answer each question the moment it arrives; when no question
comes within their patience while the bot is up, they send /start (counted as a nudge).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import signal
import sqlite3
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # photo_bytes and the valid answers of the e2e tests

from testkit.emulator import BotApiEmulator, BotMessage, Group, Player  # noqa: E402
from testkit.fakes.geocoder import FakeNominatim  # noqa: E402
from testkit.fakes.webhook import FakeWebhook  # noqa: E402

from conftest import photo_bytes  # noqa: E402
from flow import GPS, PIN, make_iccid  # noqa: E402

NETWORK = "ChargeNet"
SUPPORT_CHAT_ID = -1001000000001
SUPPORT_ID = 7001
FIRST_INSTALLER = 5001
QUESTION_MARK = "· step "
TEXTS = tomllib.loads((ROOT / "data" / "texts" / "en.toml").read_text(encoding="utf-8"))
APOLOGY = re.sub(r"<[^>]+>", "", TEXTS["errors"]["internal"])[:30]
SUBMITTED = "submitted. Support has been notified"
MODEL = "Hypercharger HYC300"
# One camera-like photo per size, made once: making one costs ~55 ms of CPU in this process,
# which also serves the emulator, and would be counted against the bot's latency.
PHOTO = functools.cache(photo_bytes)


def _plain(template: str) -> str:
    """A prompt's first line as shown, up to its first placeholder."""
    text = re.sub(r"<[^>]+>", "", template.replace("{network}", NETWORK))
    return text.split("\n", 1)[0].split("{", 1)[0].strip()


SIGNATURES = {key: _plain(step["prompt"]) for key, step in TEXTS["step"].items()}
SIGNATURES["model.models"] = _plain(TEXTS["step"]["model"]["models"])  # after a manufacturer
CHECK_ITEMS = {text: key for key, text in TEXTS["checklist"].items()}


def step_of(text: str) -> str | None:
    """The step a question message asks (a checklist item as `checklist.<item>`)."""
    found = [key for key, sig in SIGNATURES.items() if sig and sig in text]
    if not found:
        return None
    key = max(found, key=lambda k: len(SIGNATURES[k])).removesuffix(".models")
    if key == "checklist":
        item = next((k for t, k in CHECK_ITEMS.items() if t in text), "?")
        return f"checklist.{item}"
    return key


# -- the installers' answers -------------------------------------------------------------------

PRESS = {
    "documents": "I have them", "hardware": "Ready", "site_access": "✅ Yes, arranged",
    "plate_match": "Yes, it matches", "condition": "Good", "checklist": "✅ OK",
    "power_off": "Power is off", "lockout": "Locked and tagged", "no_voltage": "No voltage",
    "sticker_applied": "Sticker applied", "branding_label": "Label applied",
    "new_or_replacement": "New station", "model_confirm": "That's it",
    "serial_check": "Exactly right",
    "address": "Invalidenstraße 113, 10115 Berlin", "building": "Skip the rest",
    "floor": "Skip", "restrictions": "Skip", "access_notes": "Skip",
    "cabinet_closed": "Closed, power on", "display_errors": "No errors",
    "errors_resolved": "Resolved", "logo_visible": "Logo visible", "submit": "Submit",
}
TYPED_KINDS = ("text", "location", "photo")


def typed_answers(installer: int, job: int) -> dict[str, str]:
    """Each installer's and job's own typed values, so a misplaced one is recognised."""
    mac = f"0024:B1{installer % 256:02X}:{job % 65536:04X}:1A2B"
    ours = f"{installer % 10**4:04d}{job % 10**4:04d}"  # the ICCID and serial of no other job
    return {
        "owner_account": f"ORD-{installer}-{job}", "station_name": f"Car park {installer}/{job}",
        "firmware": "2.10.1", "iccid": make_iccid(f"8944500102{ours}"), "mac": mac,
        "password": "ABCD7K", "serial": f"HYC300-{ours}",
        "lot_name": f"Lot {installer}-{job} Riverside", "screen_mac": mac,
        "errors_text": "E-42 Backend not reachable",
    }


@dataclass
class Sent:
    """One answer an installer gave: for which job and step, how, and when."""

    job: int | None
    step: str
    kind: str  # text, button, location, photo
    value: Any
    update_id: int
    at: float
    prompt_id: int


# -- the bot process ---------------------------------------------------------------------------


class BotProcess:
    """`python -m bot run` as a child, started, SIGKILLed and restarted on one database."""

    def __init__(self, emu: BotApiEmulator, env: dict[str, str], workdir: Path,
                 log_name: str = "bot.log", command: list[str] | None = None) -> None:
        self.emu = emu
        self.command = command or [sys.executable, "-m", "bot", "run"]
        self.env = env
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0
        self.up_since: float | None = None  # when the running bot first polled
        self.log = open(workdir / log_name, "ab")  # noqa: SIM115 (closed in close())

    async def start(self, ready_timeout: float = 60.0) -> float:
        """Start the bot and wait until it polls (or sets its webhook); returns the seconds
        that took."""
        since = len(self.emu.calls)
        began = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, cwd=self.workdir, env=self.env,
            stdout=self.log, stderr=self.log, stdin=asyncio.subprocess.DEVNULL)
        self.starts += 1
        self.up_since = None
        polling = await self.emu.signal.wait_for(lambda: any(
            c.method in ("getUpdates", "setWebhook") for c in self.emu.calls[since:]),
            ready_timeout)
        if not polling:
            raise RuntimeError(f"the bot did not poll within {ready_timeout} s: see bot.log")
        self.up_since = time.monotonic()
        return self.up_since - began

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.kills += 1
        self.up_since = None

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, as an operator stops it (SIGKILL after `timeout`)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                await self.kill()
        self.up_since = None

    def close(self) -> None:
        """Close the log file (the bot must be stopped)."""
        self.log.close()

    @property
    def up(self) -> bool:
        return self.up_since is not None


@dataclass
class World:
    """The emulator, fakes, people and the bot of one run."""

    emu: BotApiEmulator
    geocoder: FakeNominatim
    webhook: FakeWebhook
    bot: BotProcess
    db_path: Path
    support: Group
    installers: list[Installer] = field(default_factory=list)
    arrivals: dict[tuple[int, int], float] = field(default_factory=dict)  # bot messages
    fetched: dict[int, int] = field(default_factory=dict)  # update id -> times delivered


def bot_env(emu: BotApiEmulator, db: Path, geocoder_url: str, webhook: FakeWebhook,
            installer_ids: list[int]) -> dict[str, str]:
    """The child's environment: only 127.0.0.1, no flood limiter, short retries."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update({
        "PYTHONPATH": str(ROOT), "TELEGRAM_TOKEN": emu.token, "TELEGRAM_API_URL": emu.api_root,
        "DATABASE_PATH": str(db), "SUPPORT_CHAT_ID": str(SUPPORT_CHAT_ID),
        "SUPPORT_IDS": str(SUPPORT_ID), "INSTALLER_IDS": ",".join(map(str, installer_ids)),
        "ADMIN_IDS": "7999", "TELEGRAM_RATE_LIMIT": "false", "GEOCODER_URL": geocoder_url,
        "GEOCODER_MIN_INTERVAL_S": "0", "GEOCODER_TIMEOUT_S": "2", "GEOCODER_PROBES": "0",
        "PAGING_WEBHOOKS": f"generic:{webhook.url('/generic')}", "OUTBOX_RETRY_BASE_S": "1",
        "HTTP_TIMEOUT_S": "5", "QR_WORKERS": "1", "LOG_LEVEL": "INFO", "TIMEZONE": "UTC",
        "NETWORK_NAME": NETWORK,
    })
    return env


@contextlib.asynccontextmanager
async def world(workdir: Path, installers: int, extra_env: dict[str, str] | None = None,
                command: list[str] | None = None):
    """Start the emulator, fakes and bot (`command`, by default `python -m bot run`); register
    the installers; stop it all at the end."""
    emu = BotApiEmulator()
    arrivals: dict[tuple[int, int], float] = {}
    fetched: dict[int, int] = {}

    def arrived(event: str, payload: Any) -> None:
        if event == "message" and payload.from_bot:
            arrivals[(payload.chat_id, payload.message_id)] = time.monotonic()
        elif event == "fetch":
            for update in payload:
                fetched[update["update_id"]] = fetched.get(update["update_id"], 0) + 1

    emu.add_listener(arrived)
    await emu.start()
    geocoder = FakeNominatim()
    await geocoder.start()
    webhook = FakeWebhook()
    await webhook.start()
    ids = [FIRST_INSTALLER + i for i in range(installers)]
    db = workdir / "pinpoint.db"
    env = bot_env(emu, db, geocoder.url, webhook, ids) | (extra_env or {})
    bot = BotProcess(emu, env, workdir, command=command)
    sam = emu.user(SUPPORT_ID, "Sam")
    support = emu.group(SUPPORT_CHAT_ID, "ChargeNet support", members=[sam])
    w = World(emu, geocoder, webhook, bot, db, support, arrivals=arrivals, fetched=fetched)
    try:
        await bot.start()
        await register(w, ids)
        yield w
    finally:
        await bot.stop()
        bot.close()
        await webhook.stop()
        await geocoder.stop()
        await emu.stop()


# -- the database, read-only ---------------------------------------------------------------


def query(db: Path | str, sql: str, *args: Any) -> list[tuple]:
    """Rows of one SELECT on a read-only connection (retried while the file is busy); `db`
    is a SQLite file or a PostgreSQL URL."""
    if str(db).startswith("postgresql"):
        import psycopg  # the test extra's driver

        with psycopg.connect(str(db), autocommit=True) as conn:
            return conn.execute(sql.replace("?", "%s"), args).fetchall()  # type: ignore[arg-type]
    for _ in range(50):
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                    timeout=2)) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(f"database stayed busy: {sql}")


def open_job(db: Path | str, installer: int) -> tuple[int, str] | None:
    """The installer's newest job and its status."""
    rows = query(db, "SELECT id, status FROM jobs WHERE installer_id = ? ORDER BY id DESC "
                     "LIMIT 1", installer)
    return rows[0] if rows else None


async def ping_all(players: list[Any], seconds: float, timeout_s: float = 60.0
                   ) -> tuple[list[float], float]:
    """Each player sends `ping N` and waits for its echo, again and again for `seconds`:
    every round trip's seconds, and the wall time (the floor's and the echo bot's load)."""
    lat: list[float] = []
    began = time.monotonic()

    async def ping(player: Any) -> None:
        n = 0
        while time.monotonic() - began < seconds:
            n += 1
            start = time.monotonic()
            await player.send(f"ping {n}")
            await player.wait_for_text(f"ping {n}", timeout=timeout_s)
            lat.append(time.monotonic() - start)

    await asyncio.gather(*(ping(p) for p in players))
    return lat, time.monotonic() - began


async def register(w: World, ids: list[int]) -> None:
    """Each of `ids` registers as an installer (pre-approved) and joins the world's walkers."""
    for i, uid in enumerate(ids):
        player = w.emu.user(uid, f"Installer{i}")
        await player.send("/start")
        await player.wait_for_text("installer ID", timeout=30)
        await player.send(f"INS-{uid:05d}")
        await player.wait_for_text("approved", timeout=30)
        w.installers.append(Installer(w, player, i))


def answer_latencies(w: World, kinds: Callable[[str], bool] = lambda _kind: True
                     ) -> list[float]:
    """Seconds from each answer of the chosen kinds to the bot's next message in that chat,
    sorted."""
    by_chat: dict[int, list[float]] = {}
    for (chat, _), at in w.arrivals.items():
        by_chat.setdefault(chat, []).append(at)
    found = []
    for person in w.installers:
        arrivals = sorted(by_chat.get(person.uid, []))
        for sent in person.sent:
            later = next((a for a in arrivals if a >= sent.at), None)
            if later is not None and kinds(sent.kind):
                found.append(later - sent.at)
    return sorted(found)

# -- people ------------------------------------------------------------------------------------


class Installer:
    """One installer walking jobs; answers at once, nudges with /start when left waiting."""

    def __init__(self, w: World, player: Player, index: int, patience_s: float = 4.0) -> None:
        self.w = w
        self.p = player
        self.index = index
        self.patience_s = patience_s
        self.sent: list[Sent] = []
        self.nudges: list[tuple[float, str | None, bool]] = []  # when, step, a kill before?
        self.answered: set[int] = set()  # question message ids answered
        self.jobs: list[int] = []
        self.seen = 0  # bot messages looked at
        self.last_action = time.monotonic()
        self.last_step: str | None = None
        self.job_seq = 0
        self.job_id: int | None = None  # the open job, once looked up

    @property
    def uid(self) -> int:
        return self.p.user_id

    def _newest(self) -> BotMessage | None:
        """The newest question or submission confirmation in the chat (looked for from the
        end: wrapping every message of a long chat at each wake-up was most of this
        process's CPU)."""
        for stored in reversed(self.p.chat.messages):
            if stored.from_bot:
                message = BotMessage(stored)
                if QUESTION_MARK in message.text or SUBMITTED in message.text:
                    return message
        return None

    async def _act(self, coro: Any, step: str, kind: str, value: Any, prompt: int,
                   value_of: Any = None) -> None:
        """Send one answer and note it (`value_of(what was sent)` gives its value if set)."""
        before = len(self.w.emu.all_updates)
        sent = await coro
        update_id = self.w.emu.all_updates[before]["update_id"]
        job = self.job_id if self.job_id is not None else self._look_up_job()
        value = value_of(sent) if value_of is not None else value
        self.sent.append(Sent(job, step, kind, value, update_id,
                              time.monotonic(), prompt))
        self.last_action = time.monotonic()
        self.last_step = step

    def _look_up_job(self) -> int | None:
        """The installer's newest job (remembered once open: a blocking read in the
        emulator's process at every answer would slow the bot's measured answers)."""
        job = open_job(self.w.db_path, self.uid)
        if job is not None and job[1] == "open":
            self.job_id = job[0]
        return job[0] if job else None

    async def answer(self, question: BotMessage, step: str) -> None:
        """Answer one question the way the e2e tests do (typed values of this job)."""
        self.answered.add(question.message_id)
        base = step.split(".")[0]
        typed = typed_answers(self.uid, self.job_seq)
        p, mid = self.p, question.message_id
        if base == "model":
            if not _has_button(question, MODEL):
                await self._act(p.press("Alpitronic", question, wait=False), step, "button",
                                "Alpitronic", mid)
                await self.w.emu.signal.wait_for(lambda: _has_button(question, MODEL),
                                                 self.patience_s)
            if _has_button(question, MODEL):
                await self._act(p.press(MODEL, question, wait=False), step, "button", MODEL,
                                mid)
        elif base in PRESS:
            label = PRESS[base]
            try:
                p.find_button(label, question)
            except AssertionError:
                label = {"address": "Try again"}.get(base, label)
            await self._act(p.press(label, question, wait=False), step, "button", label, mid)
        elif base == "gps":
            await self._act(p.send_location(*GPS, horizontal_accuracy=8), step, "location",
                            GPS, mid)
        elif base == "pin":
            await self._act(p.send_location(*PIN), step, "location", PIN, mid)
        elif base in ("photo_before", "photo_site"):
            size = (1280, 960) if base == "photo_before" else (1600, 900)
            await self._act(p.send_photo(PHOTO(*size)), step, "photo", None, mid,
                            value_of=lambda m: {s["file_id"] for s in m["photo"]})
        elif base in typed:
            await self._act(p.send(typed[base]), step, "text", typed[base], mid)
        else:
            raise RuntimeError(f"no answer for step {step!r}")

    async def walk(self, keep_going: asyncio.Event, deadline: float,
                   kills: list[float]) -> None:
        """Walk jobs until `keep_going` is cleared and the current job is submitted."""
        await self.new_job()
        while time.monotonic() < deadline:
            newest = self._newest()
            if newest is not None and newest.message_id not in self.answered:
                if SUBMITTED in newest.text:
                    self.answered.add(newest.message_id)
                    if not keep_going.is_set():
                        return
                    await self.new_job()
                    continue
                step = step_of(newest.text)
                if step is not None:
                    await self.answer(newest, step)
                    continue
            if self.w.bot.up and (time.monotonic() - max(self.last_action, self.w.bot.up_since
                                                          or 0) > self.patience_s):
                job = open_job(self.w.db_path, self.uid)
                if job is not None and job[1] != "open" and not keep_going.is_set():
                    return  # submitted: the confirmation was lost, the job is done
                killed = any(k > self.last_action for k in kills)
                self.nudges.append((time.monotonic(), self.last_step, killed))
                if job is not None and job[1] != "open":
                    await self.new_job()
                else:
                    await self.p.send("/start")
                    self.last_action = time.monotonic()
                continue
            await self.w.emu.signal.wait_for(lambda: self._fresh(), 0.5)

    def _fresh(self) -> bool:
        newest = self._newest()
        return newest is not None and newest.message_id not in self.answered

    async def new_job(self) -> None:
        self.job_seq += 1
        self.job_id = None
        await self.p.send("/new")
        self.last_action = time.monotonic()


def _has_button(message: BotMessage, label: str) -> bool:
    """Does the message show a button with `label` in its text (now, edits included)?"""
    return any(label in b["text"] for row in message.inline_keyboard for b in row)


class Support:
    """Sam in the support chat: presses Verify on every hand-off, again when not heard."""

    def __init__(self, w: World, patience_s: float = 6.0) -> None:
        self.w = w
        self.sam = w.emu.player(SUPPORT_ID, SUPPORT_CHAT_ID)
        self.patience_s = patience_s
        self.pressed: dict[int, list[float]] = {}  # hand-off message id -> press times

    def pending(self) -> list[BotMessage]:
        """Hand-off messages with a Verify button nobody has decided yet."""
        return [m for m in self.sam.messages if any(
            "Verify" in b["text"] for row in m.inline_keyboard for b in row)]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.monotonic()
            for message in self.pending():
                presses = self.pressed.setdefault(message.message_id, [])
                since = max(presses[-1] if presses else 0, self.w.bot.up_since or now)
                if len(presses) < 20 and self.w.bot.up and (
                        not presses or now - since > self.patience_s):
                    presses.append(now)
                    await self.sam.press("Verify", message, wait=False)
            await self.w.emu.signal.wait_for(stop.is_set, 0.5)


def pages_twice(webhook: FakeWebhook) -> tuple[int, int]:
    """(pages delivered, deliveries of a page already delivered), by event and job."""
    seen: dict[tuple[Any, ...], int] = {}
    for r in webhook.delivered("/generic"):
        body = r.body if isinstance(r.body, dict) else {}
        key = (r.headers.get("Idempotency-Key"), body.get("event"), body.get("job_id"))
        seen[key] = seen.get(key, 0) + 1
    return len(seen), sum(n - 1 for n in seen.values())


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
