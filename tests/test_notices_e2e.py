"""End to end: messages owed to a chat after a committed change (registration requests,
approvals, the submission's confirmation, "still waiting") are queued with it and sent once —
after the update, or at the next start when the process died in between; a chat that blocked
the bot is given up, not retried; a transient failure is retried later."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram.error import NetworkError

import handlers.render
from bot.store import Store
from handlers.notices import MAX_ATTEMPTS, deliver
from testkit.emulator import BotApiEmulator, Player

from conftest import ADMIN_ID, BEN_ID, SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot
from flow import start_job, walk

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL


@pytest.fixture
def ben(emu: BotApiEmulator) -> Player:
    return emu.user(BEN_ID, "Ben", "Builder", username="ben")


class Crash:
    """`now()`: from here the process dies right after each update's commit (nothing queued
    is sent in-band); `over()`: a fresh process behaves again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def now(self) -> None:
        async def died(*_: object, **__: object) -> int:
            return 0

        self.monkeypatch.setattr(handlers.render, "deliver", died)

    def over(self) -> None:
        self.monkeypatch.undo()


@pytest.fixture
def crash(monkeypatch: pytest.MonkeyPatch) -> Crash:
    return Crash(monkeypatch)


def sends_to(emu: BotApiEmulator, chat_id: int) -> int:
    """How many sendMessage calls went to this chat (refused ones included)."""
    return sum(1 for c in emu.calls_of("sendMessage")
               if str(c.params.get("chat_id")) == str(chat_id))


async def register(ben: Player) -> None:
    await ben.send("/start")
    await ben.expect_text("installer ID")
    await ben.send("INS-20001")
    await ben.expect_text("waiting for approval", "INS-20001")


async def test_a_registration_request_lost_with_the_process_reaches_the_admins_once(
    emu: BotApiEmulator, bot: RunningBot, admin: Player, ben: Player,
    crash: Crash
) -> None:
    crash.now()
    await register(ben)
    await admin.expect_nothing(0.3)
    [queued] = await bot.services.store.notices()
    assert queued.chat_id == ADMIN_ID and queued.sent_at is None
    assert (await bot.services.store.user(BEN_ID)).status == "pending"

    crash.over()
    await bot.restart()
    request = await admin.expect_text("Installer registration", "Ben Builder", "INS-20001")
    assert request.buttons == [["✅ Approve", "❌ Refuse"]]
    [sent] = await bot.services.store.notices()
    assert sent.sent_at is not None and sent.message_id == request.message_id

    await bot.restart()
    await bot.run_job("catch-up")
    await admin.expect_nothing(0.3)
    await admin.press("Approve", message=request)  # the re-sent request's buttons work
    await ben.expect_text("You're approved")


async def test_an_approval_notice_lost_with_the_process_is_sent_at_start_once(
    bot: RunningBot, admin: Player, ben: Player, crash: Crash
) -> None:
    await register(ben)
    request = await admin.expect_text("INS-20001")
    crash.now()
    await admin.press("Approve", message=request)
    assert "Approved by Alex Admin" in admin.messages[-1].text
    await ben.expect_nothing(0.3)

    crash.over()
    await bot.restart()
    await ben.expect_text("You're approved", "/new")
    await bot.restart()
    await bot.run_job("catch-up")
    await ben.expect_nothing(0.3)
    await ben.send("/new")
    await ben.expect_text("Job #1 started")


async def test_a_submission_confirmation_lost_with_the_process_is_sent_at_start_once(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, crash: Crash
) -> None:
    bob = emu.user(SUPPORT_ID, "Bob", "Support").in_chat(emu.group(SUPPORT_CHAT_ID, "Support"))
    await start_job(ana)
    await walk(ana, bot, until="submit")
    ana.mark_read()
    crash.now()
    await ana.press("Submit")
    await bob.wait_for_text("Job #1", "submitted")  # the hand-off is not a notice
    await ana.expect_nothing(0.3)
    assert (await bot.services.store.job(1)).status == "submitted"

    crash.over()
    await bot.restart()
    await ana.expect_text("Job #1 submitted", "Support has been notified")
    choice = await ana.expect_text("another station")
    assert choice.buttons == [["➕ Next station, same site"], ["Done for now"]]
    await bot.restart()
    await bot.run_job("catch-up")
    await ana.expect_nothing(0.3)
    await ana.press("➕ Next station, same site", message=choice)
    await ana.wait_for_text("started")


async def test_still_waiting_notices_lost_with_the_process_are_sent_at_start_once(
    emu: BotApiEmulator, bot: RunningBot, ana: Player
) -> None:
    bob = emu.user(SUPPORT_ID, "Bob", "Support").in_chat(emu.group(SUPPORT_CHAT_ID, "Support"))
    await start_job(ana)
    await walk(ana, bot)
    handoff = await bob.wait_for_text("Job #1", "submitted")
    await emu.wait_for_call("sendVenue")  # the hand-off is posted (its message id stored)
    support = bot.services.support
    support.settings = support.settings.model_copy(update={"support_wait_minutes": 0})
    assert await support.sweep_waiting() == 1  # committed; the process dies before sending
    await ana.expect_nothing(0.3)

    await bot.restart()
    await ana.expect_text("Support has not decided on job #1 yet")
    note = await bob.wait_for_text("has waited")
    assert note.reply_to_message_id == handoff.message_id
    await bot.restart()
    await bot.run_job("catch-up")
    await ana.expect_nothing(0.3)


async def test_a_notice_to_a_chat_that_blocked_the_bot_is_given_up(
    emu: BotApiEmulator, bot: RunningBot, admin: Player, ben: Player
) -> None:
    await register(ben)
    request = await admin.expect_text("INS-20001")
    ben.block()
    await admin.press("Approve", message=request)
    store = bot.services.store
    told = [n for n in await store.notices() if n.chat_id == BEN_ID]
    assert [(n.sent_at, n.failed_at is not None) for n in told] == [(None, True)]
    assert "blocked" in (told[0].last_error or "")
    tries = sends_to(emu, BEN_ID)

    await bot.restart()
    await bot.run_job("catch-up")
    assert sends_to(emu, BEN_ID) == tries


async def test_a_transient_failure_is_retried_later_and_given_up_in_the_end(
    tmp_path: Path
) -> None:
    store = await Store.open(tmp_path / "pinpoint.db")
    try:
        await store.queue_notice(42, "hello", [], "test:1")
        assert not await store.queue_notice(42, "hello again", [], "test:1")  # same fact

        class DownBot:
            async def send_message(self, *_: object, **__: object) -> None:
                raise NetworkError("connection dropped")

        context = SimpleNamespace(services=SimpleNamespace(store=store), bot=DownBot())
        assert await deliver(context) == 0  # type: ignore[arg-type]
        [notice] = await store.notices()
        assert notice.attempts == 1 and notice.failed_at is None and notice.sent_at is None
        assert await store.due_notices() == []  # the catch-up tries again in a minute
        await deliver(context)  # type: ignore[arg-type]
        assert (await store.notices())[0].attempts == 1

        await store._exec("UPDATE notices SET attempts = ?, next_attempt_at = created_at",
                          (MAX_ATTEMPTS - 1,))
        await deliver(context)  # type: ignore[arg-type]
        [notice] = await store.notices()
        assert notice.failed_at is not None and "connection dropped" in notice.last_error
    finally:
        await store.close()


async def expire_leases_on_postgresql(store: Store) -> None:
    """On PostgreSQL another instance may be sending: a dead process's lease is not dropped
    at start but expires (here: at once)."""
    if store.dialect == "postgresql":
        assert await store.release_notices() == 0
        await store._exec("UPDATE notices SET leased_until = created_at "
                          "WHERE leased_until IS NOT NULL")


async def test_a_lease_left_by_a_dead_process_is_dropped_at_start(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        await store.queue_notice(42, "hello", [[{"label": "Go", "data": "x", "url": None}]],
                                 "test:1")
        [notice] = await store.notices()
        assert await store.lease_notice(notice.id, "9999-01-01T00:00:00+00:00")
        assert not await store.lease_notice(notice.id, "9999-01-01T00:00:00+00:00")
        sent: list[tuple[int, str]] = []

        class UpBot:
            async def send_message(self, chat_id: int, text: str,
                                   **_: object) -> SimpleNamespace:
                sent.append((chat_id, text))
                return SimpleNamespace(message_id=7)

        context = SimpleNamespace(services=SimpleNamespace(store=store), bot=UpBot())
        assert await deliver(context) == 0  # type: ignore[arg-type]
        await expire_leases_on_postgresql(store)
        assert await deliver(context, starting=True) == 1  # type: ignore[arg-type]
        assert await deliver(context, starting=True) == 0  # type: ignore[arg-type]
        assert sent == [(42, "hello")]
        assert (await store.notices())[0].message_id == 7
    finally:
        await store.close()


async def test_a_chats_notices_keep_their_order(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        for key, chat_id in (("a", 42), ("b", 42), ("c", 43)):
            await store.queue_notice(chat_id, key, [], f"test:{key}")
        first = (await store.notices())[0]
        assert await store.lease_notice(first.id, "9999-01-01T00:00:00+00:00")  # in flight
        sent: list[str] = []

        class UpBot:
            async def send_message(self, chat_id: int, text: str,
                                   **_: object) -> SimpleNamespace:
                sent.append(text)
                return SimpleNamespace(message_id=len(sent))

        context = SimpleNamespace(services=SimpleNamespace(store=store), bot=UpBot())
        await deliver(context)  # type: ignore[arg-type]
        assert sent == ["c"]  # "b" waits until "a" is out
        await expire_leases_on_postgresql(store)
        await deliver(context, starting=True)  # type: ignore[arg-type]
        assert sent == ["c", "a", "b"]
    finally:
        await store.close()
