"""Benchmark: many installers walking whole jobs at once through the real bot.

Starts the Bot API emulator, the fake geocoder and the real `telegram.ext.Application`
(polling, SQLite in WAL mode, photos downloaded and checked), then lets N installers walk a
complete job concurrently with the same answers the end-to-end tests use. Prints how long the
bot took from each answer to the next question (median, p95, max), the whole run's wall time,
and the process's peak memory.

    python bench/flow_bench.py [--installers 10] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the scripted answers of the end-to-end tests

from handlers.app import build_application, start_polling, stop_polling  # noqa: E402
from testkit.emulator import BotApiEmulator, Player  # noqa: E402
from testkit.fakes.geocoder import FakeNominatim  # noqa: E402

from conftest import make_settings  # noqa: E402
from flow import ANSWERS, station  # noqa: E402


def unique_answers(index: int) -> dict:
    """Each installer's own MAC, ICCID and serial (shared ones would be questioned as reused)."""
    return {**ANSWERS, **station(index)}


async def walk(player: Player, engine, answers: dict, latencies: list[float]) -> None:
    """One installer: /new, then every question until the job is submitted."""
    await player.send("/new")
    await player.wait_for_text("· step ", timeout=30)
    for _ in range(80):
        view = await engine.open_view(player.user_id)
        if view is None or view.current is None:
            return
        step = view.current.key
        started = time.perf_counter()
        await answers[step.split(".")[0]](player)
        if step == "submit":
            await player.wait_for_text("another station", timeout=30)
            latencies.append(time.perf_counter() - started)
            return
        await player.wait_for_text("· step ", timeout=30)
        latencies.append(time.perf_counter() - started)


async def run(installers: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        emu = BotApiEmulator()
        await emu.start()
        geocoder = FakeNominatim()
        await geocoder.start()
        ids = [5000 + i for i in range(installers)]
        settings = make_settings(Path(tmp), emu, geocoder.url, installer_ids=ids,
                                 support_chat_id=None)
        app = build_application(settings)
        await start_polling(app, poll_timeout=1)
        engine = app.bot_data["services"].engine
        players = []
        for i, user_id in enumerate(ids):
            player = emu.user(user_id, f"Installer{i}")
            await player.send("/start")
            await player.wait_for_text("installer ID")
            await player.send(f"INS-{user_id:05d}")
            await player.wait_for_text("approved")
            players.append(player)
        latencies: list[float] = []
        began = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(walk(p, engine, unique_answers(i), latencies)
                                   for i, p in enumerate(players)))
        wall = time.perf_counter() - began
        await stop_polling(app)
        await geocoder.stop()
        await emu.stop()
    ms = sorted(1000 * x for x in latencies)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jobs = installers * rounds
    print(f"{jobs} jobs by {installers} installers at once, {len(ms)} answers")
    print(f"answer -> next question: median {statistics.median(ms):.0f} ms, "
          f"p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms, max {ms[-1]:.0f} ms")
    print(f"wall {wall:.1f} s ({jobs / wall:.2f} jobs/s); peak RSS {peak_mb:.0f} MB")


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.installers, args.rounds))


if __name__ == "__main__":
    main()
