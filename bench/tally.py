"""Counting what a run lost or did twice, from the emulator's record, the fake webhook and
the database (read-only); the table the benchmarks print."""

from __future__ import annotations

import json
from collections import Counter

from harness import (
    APOLOGY,
    QUESTION_MARK,
    SUPPORT_CHAT_ID,
    BotMessage,
    Installer,
    Support,
    World,
    pages_twice,
    query,
    step_of,
)


def count(w: World, support: Support, kills: list[float],
          details: list[str] | None = None) -> dict[str, int]:
    """Everything lost or doubled, from the emulator's record and the database (with a line
    per lost or doubled answer in `details`, if given)."""
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
            if details is not None and n != applied:
                updates = [(s.update_id, round(s.at, 2)) for s in person.sent
                           if (s.job, s.step) == (job, step)]
                details.append(f"installer {person.uid} job {job} step {step}: sent {n} "
                               f"(update, time: {updates}), stored {applied}")
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
    result["updates delivered again"] = sum(n > 1 for n in w.fetched.values())
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
        value, _source = stored[key]
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
        return all(f"{x}" in text for x in sent)  # json writes floats as repr does
    if isinstance(sent, set):
        return any(u in text for u in sent)
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


TARGETS = ("answers lost", "answers applied twice", "answers applied to another step",
           "questions never re-asked (after a kill)", "questions never re-asked (no kill)",
           "duplicate questions", "submissions without a hand-off",
           "hand-offs without album or pin", "support decisions lost", "pages delivered twice",
           "pages missing", "apologies sent", "updates never fetched")


def report(title: str, result: dict[str, int], targets: tuple[str, ...] = TARGETS,
           shown: tuple[str, ...] = ("jobs submitted", "answers sent", "support presses",
                                      "pages delivered", "bot starts",
                                      "updates delivered again")) -> int:
    """Print the table; 1 when a target (zero) is missed."""
    print(title)
    for name in shown:
        print(f"  {name:<42} {result.get(name, 0):>6}")
    missed = 0
    print(f"  {'counted (target 0)':<42} {'count':>6}")
    for name in targets:
        value = result.get(name, 0)
        missed += value > 0
        print(f"  {name:<42} {value:>6}  {'ok' if value == 0 else 'MISSED'}")
    return 1 if missed else 0


