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
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    APOLOGY,
    BotMessage,
    QUESTION_MARK,
    SUPPORT_CHAT_ID,
    Installer,
    Support,
    World,
    dump,
    pages_twice,
    query,
    step_of,
    world,
)

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
            await asyncio.wait_for(fetched.wait(), 5.0)
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


def count(w: World, support: Support, kills: list[float]) -> dict[str, int]:
    """Everything lost or doubled, from the emulator's record and the database."""
    db = w.db_path
    audit: Counter[tuple[int, str]] = Counter()
    for job, detail in query(db, "SELECT job_id, detail FROM audit WHERE action IN "
                                 "('answer', 'safety_confirmed')"):
        audit[(job, json.loads(detail)["step"])] += 1
    stored = {(job, step): (json.loads(value), source) for job, step, value, source in
              query(db, "SELECT job_id, step, value, source FROM answers")}
    result: Counter[str] = Counter()
    for person in w.installers:
        sends: Counter[tuple[int, str]] = Counter()
        for sent in person.sent:
            if sent.job is None or (sent.step == "model" and sent.value == "Alpitronic"):
                continue
            sends[(sent.job, sent.step)] += 1
            result["answers sent"] += 1
        submitted = {job for (job,) in query(db, "SELECT id FROM jobs WHERE installer_id = ? "
                                              "AND submitted_at IS NOT NULL", person.uid)}
        for (job, step), n in sends.items():
            if step == "submit":
                result["answers lost"] += job not in submitted
                continue
            applied = audit.get((job, step), 0)
            result["answers lost"] += max(0, n - applied)  # given, never stored
            result["answers applied twice"] += max(0, applied - n)
        result["answers applied to another step"] += misapplied(person, stored)
        result["questions never re-asked (after a kill)"] += sum(k for _, _, k in person.nudges)
        result["questions never re-asked (no kill)"] += sum(not k for _, _, k in person.nudges)
        result["duplicate questions"] += duplicate_questions(person)
        result["jobs submitted"] += sum(1 for m in person.p.messages
                                        if "submitted. Support" in m.text)
    handoffs = {job: mid for job, mid in query(
        db, "SELECT job_id, message_id FROM handoffs WHERE message_id IS NOT NULL")}
    chat = w.emu.chats[SUPPORT_CHAT_ID]
    replies = Counter((m.data.get("reply_to_message") or {}).get("message_id")
                      for m in chat.bot_messages if "venue" in m.data or "photo" in m.data)
    for (job,) in query(db, "SELECT id FROM jobs WHERE submitted_at IS NOT NULL"):
        mid = handoffs.get(job)
        if mid is None or chat.find(mid) is None:
            result["submissions without a hand-off"] += 1
        elif replies[mid] < 3:  # two photos as an album, and the pin
            result["hand-offs without album or pin"] += 1
    decided = dict(query(db, "SELECT message_id, decided_at FROM handoffs "
                             "WHERE message_id IS NOT NULL"))
    for mid, presses in support.pressed.items():
        result["support presses"] += len(presses)
        if decided.get(mid) is None:
            result["support decisions lost"] += 1
        result["support decisions lost"] += len(presses) - 1  # had to press again
    delivered, twice = pages_twice(w.webhook)
    result["pages delivered"] = delivered
    result["pages delivered twice"] = twice
    events = {(r.body.get("event"), r.body.get("job_id")) for r in w.webhook.delivered()
              if isinstance(r.body, dict)}
    for job, status in query(db, "SELECT id, status FROM jobs WHERE submitted_at IS NOT NULL"):
        result["pages missing"] += ("job_submitted", job) not in events
        result["pages missing"] += status == "verified" and ("job_verified", job) not in events
    result["apologies sent"] = sum(APOLOGY in BotMessage(m).text for c in w.emu.chats.values()
                                   for m in c.bot_messages)
    result["updates never fetched"] = w.emu.pending_updates
    result["kills"] = len(kills)
    return dict(result)


def misapplied(person: Installer, stored: dict) -> int:
    """Stored typed answers that differ from what the installer typed for that step."""
    typed: dict[tuple[int, str], list] = {}
    for sent in person.sent:
        if sent.job is not None and sent.kind in ("text", "location", "photo"):
            typed.setdefault((sent.job, sent.step), []).append(sent.value)
    wrong = 0
    for key, values in typed.items():
        if key not in stored:
            continue
        value, source = stored[key]
        if not any(same(key[1], value, v) for v in values):
            wrong += 1
    return wrong


def same(step: str, stored: object, sent: object) -> bool:
    """Does a stored value come from this sent answer?"""
    text = json.dumps(stored, ensure_ascii=False)
    if isinstance(sent, str):
        hexed = "".join(c for c in sent.upper() if c in "0123456789ABCDEF")
        return sent in text or (step.endswith("mac") and hexed in
                                "".join(c for c in text.upper() if c in "0123456789ABCDEF"))
    if isinstance(sent, tuple):
        return f"{sent[0]}" in text or f"{sent[0]:.4f}" in text
    if isinstance(sent, set):
        return any(u in text for u in sent) or "sha256" in text
    return True


def duplicate_questions(person: Installer) -> int:
    """The same question sent again with nothing from the installer in between."""
    dupes, previous = 0, None
    for message in person.p.chat.messages:
        if not message.from_bot:
            previous = None
            continue
        text = message.data.get("text") or ""
        if QUESTION_MARK in text:
            step = step_of(text)
            dupes += step is not None and step == previous
            previous = step
    return dupes


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
    return report(result, wall, restarts, args)


TARGETS = ("answers lost", "answers applied twice", "answers applied to another step",
           "questions never re-asked (after a kill)", "questions never re-asked (no kill)",
           "duplicate questions", "submissions without a hand-off",
           "hand-offs without album or pin", "support decisions lost", "pages delivered twice",
           "pages missing", "apologies sent", "updates never fetched")


def report(result: dict[str, int], wall: float, restarts: list[float],
           args: argparse.Namespace) -> int:
    """Print the table; 1 when a target (zero) is missed."""
    print(f"chaos: seed {args.seed}, {result.get('kills', 0)} kills, {args.installers} "
          f"installers, {wall:.0f} s"
          + (f", restart median {sorted(restarts)[len(restarts) // 2]:.1f} s" if restarts
             else ""))
    for name in ("jobs submitted", "answers sent", "support presses", "pages delivered",
                 "bot starts"):
        print(f"  {name:<42} {result.get(name, 0):>6}")
    missed = 0
    print(f"  {'counted (target 0)':<42} {'count':>6}")
    for name in TARGETS:
        value = result.get(name, 0)
        missed += value > 0
        print(f"  {name:<42} {value:>6}  {'ok' if value == 0 else 'MISSED'}")
    return 1 if missed else 0


def main() -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--installers", type=int, default=3)
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
