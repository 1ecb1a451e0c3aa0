"""Telegram fault benchmark: the real bot while the Bot API fails a fraction of its sends.

The bot runs as a child process (`python -m bot run`) against the emulator; installers walk
jobs and support verifies, as in `bench/chaos.py`, but nothing is killed. Instead, for
`--duration` seconds 30 % of the bot's sends are answered 429 with a `retry_after` of 1-3 s,
then for as long 15 % fail with a 5xx (a proxy's HTML page) or a dropped connection (half
each, before the emulator did anything). Then the faults stop and the installers finish.
Counted: every question delivered exactly once (none missing: the installer had to send
/start; none twice), no apology, nothing lost; exit code 1 when a target is missed.

    python bench/faults.py [--duration 60] [--seed 1] [--installers 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Support, answer_latencies, dump, query, world
from tally import TARGETS, count, report

SENDS = ("sendMessage", "sendPhoto", "sendMediaGroup", "sendVenue", "sendLocation",
         "editMessageText", "editMessageReplyMarkup", "editMessageCaption",
         "answerCallbackQuery", "deleteMessage")
PATIENCE_S = 30.0  # a person waits this long for the next question before sending /start
FAULT_TARGETS = tuple(t for t in TARGETS if "(after a kill)" not in t and
                      "updates never fetched" not in t)


async def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pinpoint-faults-") as tmp:
        extra = {"TELEGRAM_RATE_LIMIT": "true"} if args.rate_limit else {}
        async with world(Path(tmp), args.installers, extra) as w:
            for person in w.installers:
                person.patience_s = PATIENCE_S
            keep_going = asyncio.Event()
            keep_going.set()
            deadline = time.monotonic() + 2 * args.duration + 300
            support = Support(w, patience_s=PATIENCE_S)
            stop_support = asyncio.Event()
            walkers = [asyncio.create_task(p.walk(keep_going, deadline, []))
                       for p in w.installers]
            staff = asyncio.create_task(support.run(stop_support))
            rules = [w.emu.fail_randomly(SENDS, 0.30, status=429, retry_after=(1, 3),
                                         seed=args.seed)]
            await asyncio.sleep(args.duration)
            w.emu.stop_failing()
            rules += [w.emu.fail_randomly(SENDS, 0.075, status=502, html=True,
                                          seed=args.seed + 1),
                      w.emu.fail_randomly(SENDS, 0.075, status=502, drop=True,
                                          seed=args.seed + 2)]
            await asyncio.sleep(args.duration)
            w.emu.stop_failing()
            keep_going.clear()
            await asyncio.wait(walkers, timeout=max(1.0, deadline - time.monotonic()))
            for _ in range(120):
                if not query(w.db_path, "SELECT 1 FROM jobs WHERE status = 'submitted' "
                                        "UNION ALL SELECT 1 FROM outbox "
                                        "WHERE delivered_at IS NULL") and not support.pending():
                    break
                await asyncio.sleep(0.5)
            stop_support.set()
            await staff
            for task in walkers:
                if not task.done():
                    task.cancel()
                elif not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await w.bot.stop()
            result = count(w, support, [])
            waits = answer_latencies(w)
            result["429 injected"] = rules[0].injected
            result["5xx (HTML) injected"] = rules[1].injected
            result["dropped connections"] = rules[2].injected
            result["sends tried"] = rules[0].seen + rules[1].seen
            if args.keep:
                dump(Path(args.keep), {"result": result, "transcripts": {
                    p.uid: w.emu.transcript(p.uid) for p in w.installers}})
                Path(args.keep).with_suffix(".log").write_bytes(
                    (Path(tmp) / "bot.log").read_bytes())
    wall = time.monotonic() - began
    p95 = waits[int(0.95 * (len(waits) - 1))] if waits else 0.0
    title = (f"faults: seed {args.seed}, {args.duration:.0f} s of 30 % 429 then "
             f"{args.duration:.0f} s of 15 % 5xx/dropped, {args.installers} installers, "
             f"rate limiter {'on' if args.rate_limit else 'off'}, {wall:.0f} s; answer -> "
             f"next message p95 {p95:.1f} s, max {waits[-1] if waits else 0:.1f} s")
    return report(title, result, FAULT_TARGETS,
                  ("jobs submitted", "answers sent", "sends tried", "429 injected",
                   "5xx (HTML) injected", "dropped connections", "support presses",
                   "pages delivered"))


def main() -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of each fault phase (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--installers", type=int, default=3)
    parser.add_argument("--rate-limit", action="store_true",
                        help="run the bot with TELEGRAM_RATE_LIMIT=true")
    parser.add_argument("--quick", action="store_true", help="15 s per phase")
    parser.add_argument("--keep", metavar="FILE.json",
                        help="write the counts and transcripts there (and the bot's log)")
    args = parser.parse_args()
    if args.quick:
        args.duration = min(args.duration, 15.0)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
