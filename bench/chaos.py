"""Chaos benchmark: SIGKILL the real bot at random moments while installers walk whole jobs.

The bot runs as a child process (`python -m bot run`) against the emulator, the fake geocoder
and the fake webhook (all in this process, on 127.0.0.1); installers answer each question as
soon as it arrives, support verifies every hand-off. The bot is killed `--kills` times (most
often 0-300 ms after it fetched updates, sometimes at any moment) and restarted on the same
database each time; then the installers finish their jobs and the run settles. From the
emulator's record, the fake webhook and the database (read-only) it counts what was lost or
done twice; the targets are all zero, and the exit code is 1 when one is missed.

    python bench/chaos.py [--kills 100] [--seed 1] [--installers 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SUPPORT_CHAT_ID, Support, World, dump, query, world
from tally import count, report

TIME_LIMIT_S = 900


async def kill_moment(w: World, rng: random.Random) -> None:
    """Wait for a random moment: mostly just after the bot fetched updates."""
    if rng.random() < 0.75:
        fetched = asyncio.Event()

        def on(event: str, payload: object) -> None:
            if event == "fetch" and payload:
                fetched.set()

        w.emu.add_listener(on)
        try:
            await asyncio.wait_for(fetched.wait(), 2.0)
        except TimeoutError:
            pass
        finally:
            w.emu.remove_listener(on)
        await asyncio.sleep(rng.uniform(0.0, 0.3))
    else:
        await asyncio.sleep(rng.uniform(0.05, 1.5))


async def settle(w: World, support: Support, limit_s: float) -> None:
    """Until every submitted job is decided and its pages are delivered (bounded)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        open_handoffs = query(w.db_path, "SELECT COUNT(*) FROM jobs WHERE status = 'submitted'")
        undelivered = query(w.db_path, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
        if open_handoffs[0][0] == 0 and undelivered[0][0] == 0 and not support.pending():
            return
        await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pinpoint-chaos-") as tmp:
        async with world(Path(tmp), args.installers) as w:
            keep_going = asyncio.Event()
            keep_going.set()
            kills: list[float] = []
            deadline = time.monotonic() + args.time_limit
            support = Support(w)
            stop_support = asyncio.Event()
            walkers = [asyncio.create_task(p.walk(keep_going, deadline, kills))
                       for p in w.installers]
            staff = asyncio.create_task(support.run(stop_support))
            restarts = []
            for _ in range(args.kills):
                if time.monotonic() > deadline or all(t.done() for t in walkers):
                    break
                await kill_moment(w, rng)
                await w.bot.kill()
                kills.append(time.monotonic())
                restarts.append(await w.bot.start())
            keep_going.clear()
            await asyncio.wait(walkers, timeout=max(1.0, deadline - time.monotonic()))
            await settle(w, support, limit_s=60)
            stop_support.set()
            await staff
            for task in walkers:
                if not task.done():
                    task.cancel()
            for task in walkers:
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
            await w.bot.stop()
            result = count(w, support, kills)
            result["bot starts"] = w.bot.starts
            if args.keep:
                dump(Path(args.keep), {"result": result, "transcripts": {
                    p.uid: w.emu.transcript(p.uid) for p in w.installers},
                    "support": w.emu.transcript(SUPPORT_CHAT_ID)})
                (Path(args.keep).with_suffix(".log")).write_bytes(
                    (Path(tmp) / "bot.log").read_bytes())
    wall = time.monotonic() - began
    median = sorted(restarts)[len(restarts) // 2] if restarts else 0.0
    return report(f"chaos: seed {args.seed}, {result.get('kills', 0)} kills, "
                  f"{args.installers} installers, {wall:.0f} s, restart median {median:.1f} s",
                  result)


def main() -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--installers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="10 kills")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S,
                        help="seconds before the installers give up (default %(default)s)")
    parser.add_argument("--keep", metavar="FILE.json",
                        help="write the counts and transcripts there (and the bot's log)")
    args = parser.parse_args()
    if args.quick:
        args.kills = min(args.kills, 10)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
