"""The intake: updates kept before they are confirmed, processed once, fairly across people."""

from __future__ import annotations

import asyncio
import time

from telegram import Bot, Chat, Message, Update, User

from bot.store import Received
from handlers.intake import Dispatcher, Poller
from testkit.emulator import BotApiEmulator


class MemoryInbox:
    """The inbox contract in memory (the database's own is tested with the store)."""

    def __init__(self) -> None:
        self.kept: dict[int, Received] = {}
        self.finished: set[int] = set()

    async def receive(self, update_id: int, sender: int, payload: str) -> bool:
        if update_id in self.kept:
            return False
        self.kept[update_id] = Received(update_id, sender, payload)
        return True

    async def done(self, update_id: int) -> None:
        self.finished.add(update_id)

    async def unfinished(self) -> list[Received]:
        return [r for i, r in sorted(self.kept.items()) if i not in self.finished]


def text_update(update_id: int, user_id: int, text: str = "hi") -> Update:
    user = User(user_id, "P", False)
    message = Message(update_id, None, Chat(user_id, "private"), from_user=user, text=text)  # type: ignore[arg-type]
    return Update(update_id, message=message)


async def test_updates_of_one_person_run_in_order_and_people_run_side_by_side() -> None:
    seen: list[tuple[int, int]] = []

    async def process(update: Update) -> None:
        await asyncio.sleep(0.01 if update.effective_user.id == 1 else 0.001)
        seen.append((update.effective_user.id, update.update_id))

    inbox = MemoryInbox()
    dispatcher = Dispatcher(process, inbox)
    for i in range(10):
        dispatcher.submit(text_update(100 + i, 1))
        dispatcher.submit(text_update(200 + i, 2))
    await dispatcher.idle()
    assert [u for p, u in seen if p == 1] == list(range(100, 110))
    assert [u for p, u in seen if p == 2] == list(range(200, 210))
    assert seen.index((2, 209)) < seen.index((1, 109))  # 2 did not wait for 1's backlog
    assert inbox.finished == set(range(100, 110)) | set(range(200, 210))


async def test_a_backlog_of_200_does_not_slow_another_person_down() -> None:
    """Person 1 floods; person 2's single update keeps its idle latency (within 2x)."""
    async def process(update: Update) -> None:
        await asyncio.sleep(0.005)

    async def latency(dispatcher: Dispatcher, update: Update) -> float:
        started = time.monotonic()
        dispatcher.submit(update)
        while update.update_id not in inbox.finished:
            await asyncio.sleep(0.001)
        return time.monotonic() - started

    inbox = MemoryInbox()
    dispatcher = Dispatcher(process, inbox, slots=4, per_person=1000)
    idle = await latency(dispatcher, text_update(1, 2))
    for i in range(200):
        dispatcher.submit(text_update(1000 + i, 1))
    busy = await latency(dispatcher, text_update(2, 2))
    assert dispatcher.waiting > 150  # the flood is still queued
    assert busy <= 2 * idle + 0.005, (idle, busy)
    await dispatcher.close(grace_s=0)


async def test_beyond_the_cap_one_slow_down_notice_and_the_excess_dropped() -> None:
    release = asyncio.Event()
    warned: list[int] = []

    async def process(update: Update) -> None:
        await release.wait()

    async def on_overflow(update: Update) -> None:
        warned.append(update.update_id)

    inbox = MemoryInbox()
    dispatcher = Dispatcher(process, inbox, per_person=20, on_overflow=on_overflow)
    accepted = [dispatcher.submit(text_update(i, 1)) for i in range(1, 31)]
    assert accepted == [True] * 20 + [False] * 10
    await asyncio.sleep(0)
    assert warned == [21]  # once per burst
    release.set()
    await dispatcher.idle()
    assert inbox.finished == set(range(1, 31))  # dropped ones are not processed again later


async def test_a_failing_update_is_logged_and_does_not_stop_the_person(caplog) -> None:
    done: list[int] = []

    async def process(update: Update) -> None:
        if update.update_id == 1:
            raise RuntimeError("boom")
        done.append(update.update_id)

    inbox = MemoryInbox()
    dispatcher = Dispatcher(process, inbox)
    dispatcher.submit(text_update(1, 1))
    dispatcher.submit(text_update(2, 1))
    await dispatcher.idle()
    assert done == [2]
    assert "update 1 failed" in caplog.text


async def test_the_offset_moves_only_past_updates_the_inbox_holds() -> None:
    emu = BotApiEmulator()
    await emu.start()
    try:
        ana = emu.user(id=1001, first_name="Ana")
        processed: list[str] = []
        gate = asyncio.Event()

        async def process(update: Update) -> None:
            await gate.wait()
            processed.append(update.message.text)

        inbox = MemoryInbox()
        async with Bot(emu.token, base_url=emu.base_url) as bot:
            dispatcher = Dispatcher(process, inbox)
            poller = Poller(bot, inbox, dispatcher, timeout_s=0)
            await ana.send("one")
            await ana.send("two")
            assert await poller.poll_once() == 2
            assert len(emu.updates) == 2  # fetched, kept, not yet confirmed to Telegram
            assert await poller.poll_once() == 0  # this call confirms them
            assert emu.updates == []
            # The process "dies" before processing: a new poller resumes from the inbox.
            await dispatcher.close(grace_s=0)
            gate.set()
            again = Dispatcher(process, inbox)
            restarted = Poller(bot, inbox, again, timeout_s=0)
            assert await restarted.resume() == 2
            await again.idle()
            assert processed == ["one", "two"]
            assert await restarted.resume() == 0
    finally:
        await emu.stop()


async def test_a_redelivered_update_is_recognised_and_skipped() -> None:
    emu = BotApiEmulator()
    await emu.start()
    try:
        ana = emu.user(id=1001, first_name="Ana")
        processed: list[int] = []

        async def process(update: Update) -> None:
            processed.append(update.update_id)

        inbox = MemoryInbox()
        async with Bot(emu.token, base_url=emu.base_url) as bot:
            dispatcher = Dispatcher(process, inbox)
            await ana.send("one")
            await Poller(bot, inbox, dispatcher, timeout_s=0).poll_once()
            await dispatcher.idle()
            # A new process polls without an offset: Telegram delivers the update again.
            assert await Poller(bot, inbox, dispatcher, timeout_s=0).poll_once() == 1
            await dispatcher.idle()
            assert len(processed) == 1
    finally:
        await emu.stop()
