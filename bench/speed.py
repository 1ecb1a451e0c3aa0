"""Speed benchmark: the real bot against a floor (a bare bot), in one run (issue 17).

For each number of concurrent installers (default 1, 10, 50, 100), in one run:

    floor   a bare python-telegram-bot echo bot (polling, updates concurrently, rate limiter
            off) that commits one SQLite row (WAL) per message, then echoes it
    bot     the real bot (`python -m bot run`, polling, SQLite)

each its own child process against the project's Bot API emulator (served by this process).
The floor's players send a message and wait for its echo; the bot's installers walk whole
jobs (photos included: one photo per size, made before the run), answering each question the
moment it arrives. Printed per process: answers/s, latency from an answer to the next message
in that chat (p50/p95/p99; the bot's also for text and button answers alone), CPU seconds per
answer (the child's user + system time), the benchmark's own CPU per answer (this process:
the emulator and the people, sharing the machine's cores with the child), Bot API calls per
answer (`getUpdates` left out), SQL statements per answer (counted in the child by a
SQLAlchemy `before_cursor_execute` hook), memory before the first answer (VmRSS), at the end
with no photo in flight (VmRSS) and at its peak (VmHWM), and the bot's ratios to the floor.

    python bench/speed.py [--installers 1,10,50,100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BotApiEmulator, BotProcess, answer_latencies, bot_env, ping_all, world

CHILD = str(Path(__file__).resolve().with_name("speed_child.py"))
COUNT_FILE = "sql-count"  # where a child writes its SQL statement count (speed_child.py)
NOT_COUNTED = {"getUpdates", "deleteWebhook", "getMe", "setMyCommands", "setWebhook",
               "getWebhookInfo", "setChatMenuButton", "setMyDescription",
               "setMyShortDescription", "close", "logOut"}


# -- measuring a child -----------------------------------------------------------------------


class Meter:
    """A child's CPU time, Bot API calls and SQL statements between `start` and `stop`."""

    def __init__(self, emu: BotApiEmulator, proc: BotProcess, workdir: Path) -> None:
        self.emu, self.proc, self.workdir = emu, proc, workdir
        self.figures: dict[str, float] = {}

    def _pid(self) -> int:
        assert self.proc.proc is not None
        return self.proc.proc.pid

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self._pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self, field: str = "VmHWM") -> float:
        """The child's peak (`VmHWM`) or present (`VmRSS`) resident memory."""
        for line in Path(f"/proc/{self._pid()}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def statements(self) -> int:
        path = self.workdir / COUNT_FILE
        path.unlink(missing_ok=True)
        os.kill(self._pid(), signal.SIGUSR1)
        for _ in range(200):
            if path.exists() and path.read_text():
                return int(path.read_text())
            await asyncio.sleep(0.01)
        raise RuntimeError("the child did not report its SQL statements")

    def calls(self) -> int:
        return sum(1 for c in self.emu.calls if c.method not in NOT_COUNTED)

    async def start(self) -> None:
        self._at = (self.cpu_s(), self.calls(), await self.statements(), time.process_time())
        self._start_mb = self.memory_mb("VmRSS")  # started, people registered, no answer yet

    async def stop(self, answers: int) -> None:
        cpu, calls, sql = self.cpu_s(), self.calls(), await self.statements()
        harness = time.process_time()
        per = max(answers, 1)
        self.figures = {"cpu_ms": 1000 * (cpu - self._at[0]) / per,
                        "harness_ms": 1000 * (harness - self._at[3]) / per,
                        "calls": (calls - self._at[1]) / per,
                        "sql": (sql - self._at[2]) / per, "peak_mb": self.memory_mb(),
                        "start_mb": self._start_mb,
                        # every job in progress finished: no photo in flight
                        "end_mb": self.memory_mb("VmRSS")}


def summary(answers: int, wall: float, latencies: list[float]) -> dict[str, float]:
    ms = sorted(1000 * x for x in latencies) or [0.0]

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    return {"answers": answers, "per_s": answers / wall, "p50": statistics.median(ms),
            "p95": pct(0.95), "p99": pct(0.99)}


# -- the floor's run -------------------------------------------------------------------------


async def floor_run(workdir: Path, installers: int, seconds: float) -> dict[str, float]:
    emu = BotApiEmulator()
    await emu.start()
    env = bot_env(emu, workdir / "floor.db", "http://127.0.0.1:9", _Nowhere(), [])
    proc = BotProcess(emu, env, workdir, "floor.log", [sys.executable, CHILD, "floor"])
    try:
        await proc.start()
        players = [emu.user(9000 + i, f"P{i}") for i in range(installers)]
        for p in players:  # warm up: the table exists, the first connection is made
            await p.send("warm")
            await p.wait_for_text("warm", timeout=30)
        meter = Meter(emu, proc, workdir)
        await meter.start()
        lat, wall = await ping_all(players, seconds, timeout_s=60)
        await meter.stop(len(lat))
    finally:
        await proc.stop()
        proc.close()
        await emu.stop()
    return summary(len(lat), wall, lat) | meter.figures


class _Nowhere:
    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:9{path}"


# -- the bot's run ---------------------------------------------------------------------------


async def bot_run(workdir: Path, installers: int, seconds: float, top: bool = False,
                  profile: str | None = None) -> dict[str, float]:
    command = [sys.executable, CHILD, "bot"]
    extra = {"SPEED_PROFILE": str(Path(profile).resolve())} if profile else None
    async with world(workdir, installers, extra, command=command) as w:
        for person in w.installers:  # nobody nudges with /start: a slow bot is measured
            person.patience_s = 120.0
        meter = Meter(w.emu, w.bot, workdir)
        await meter.start()
        keep_going = asyncio.Event()
        keep_going.set()
        began = time.monotonic()
        walkers = [asyncio.create_task(p.walk(keep_going, began + seconds + 120, []))
                   for p in w.installers]
        await asyncio.sleep(seconds)
        keep_going.clear()
        await asyncio.gather(*walkers)
        wall = time.monotonic() - began
        answers = sum(len(p.sent) for p in w.installers)
        await meter.stop(answers)
        if top:
            print((workdir / COUNT_FILE).with_suffix(".top").read_text(), file=sys.stderr)
        result = summary(answers, wall, answer_latencies(w, lambda _k: True))
        text = summary(0, 1, answer_latencies(w, lambda k: k in ("text", "button")))
        photo = summary(0, 1, answer_latencies(w, lambda k: k == "photo"))
        nudges = sum(len(p.nudges) for p in w.installers)
    return result | meter.figures | {"text_p95": text["p95"], "photo_p50": photo["p50"],
                                     "photo_p95": photo["p95"], "nudges": nudges}


# -- the run ---------------------------------------------------------------------------------

COLUMNS = (("answers/s", "per_s", ".1f"), ("p50 ms", "p50", ".0f"), ("p95 ms", "p95", ".0f"),
           ("p99 ms", "p99", ".0f"), ("CPU ms/ans", "cpu_ms", ".1f"),
           ("harness ms", "harness_ms", ".1f"), ("calls/ans", "calls", ".2f"),
           ("SQL/ans", "sql", ".1f"),
           ("start MB", "start_mb", ".0f"), ("end MB", "end_mb", ".0f"),
           ("peak MB", "peak_mb", ".0f"))


def report(results: dict[int, dict[str, dict[str, float]]], seconds: float) -> None:
    load = os.getloadavg()
    print(f"\n{seconds:.0f} s a measurement, {os.cpu_count()} cores, load average "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    head = " ".join(f"{title:>10}" for title, _, _ in COLUMNS)
    print(f"{'installers':>10} {'process':>7} {head}")
    for n, pair in results.items():
        for name, r in pair.items():
            cells = " ".join(f"{r[key]:>10{fmt}}" for _, key, fmt in COLUMNS)
            print(f"{n:>10} {name:>7} {cells}")
    print(f"\n{'installers':>10} {'p95 x':>7} {'thru x':>7} {'CPU x':>7} {'text p95':>9} "
          f"{'photo p50/p95':>14} {'nudges':>7}")
    for n, pair in results.items():
        f, b = pair["floor"], pair["bot"]
        print(f"{n:>10} {b['p95'] / f['p95']:>7.1f} {f['per_s'] / b['per_s']:>7.1f} "
              f"{b['cpu_ms'] / f['cpu_ms']:>7.1f} {b['text_p95']:>9.0f} "
              f"{b['photo_p50']:>6.0f}/{b['photo_p95']:<7.0f} {b['nudges']:>7.0f}")


async def run(args: argparse.Namespace) -> None:
    results: dict[int, dict[str, dict[str, float]]] = {}
    for n in args.installers:
        results[n] = {}
        with tempfile.TemporaryDirectory(prefix="pinpoint-speed-") as tmp:
            results[n]["floor"] = await floor_run(Path(tmp), n, args.seconds)
        print(f"  {n} floor {results[n]['floor']}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="pinpoint-speed-") as tmp:
            results[n]["bot"] = await bot_run(Path(tmp), n, args.seconds, args.top,
                                             args.profile)
        print(f"  {n} bot {results[n]['bot']}", file=sys.stderr, flush=True)
    report(results, args.seconds)


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installers", default="1,10,50,100",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--top", action="store_true",
                        help="print the bot's most frequent SQL statements (whole life)")
    parser.add_argument("--profile", metavar="FILE",
                        help="profile the bot (cProfile) into FILE (the last run's)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
