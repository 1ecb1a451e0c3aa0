"""What one answer costs the real bot (issue 17), counted, not timed: Bot API calls and SQL
statements for a pressed button and for a typed answer, and the pressed message's edit going
out beside the next question rather than before it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from telegram import Bot

from bot.store import OPEN, Store
from handlers import render
from testkit.emulator import BotApiEmulator, Player

from conftest import RunningBot
from flow import next_prompt, start_job, walk

# The budget of one answer on SQLite (31 statements for a button, 30 typed before issue 17;
# 23 and 17 before its second round, 10 and 9 before its fourth): the inbox entry; the job
# and its answers read in one statement; one transaction (BEGIN IMMEDIATE, the step's flags
# cleared, the answer, the audit entry, the job, the inbox mark); the sent question
# remembered, its message noted among the job's live keyboards and the answered message
# (its buttons being taken away) struck off them, in the same statement (issue 13). A
# statement on its own needs no BEGIN (autocommit). One more each for a statement of the
# bot's own that may run inside the measured window.
BUTTON_STATEMENTS = 10
TEXT_STATEMENTS = 10
NOT_COUNTED = {"getUpdates"}
BACKGROUND = ("leases", "outbox")  # the scheduler's and the outbox's own rounds


@contextmanager
def statements(bot: RunningBot) -> Iterator[list[str]]:
    """Every SQL statement the bot runs inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not any(f" {table} " in f"{statement} " for table in BACKGROUND):
            seen.append(" ".join(statement.split())[:60])

    engine = bot.services.store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def calls_since(emu: BotApiEmulator, since: int) -> list[str]:
    return [c.method for c in emu.calls[since:] if c.method not in NOT_COUNTED]


async def settled(bot: RunningBot) -> None:
    """Wait until the bot has finished every update it received."""
    _poller, dispatcher = bot.app.bot_data["intake"]
    await asyncio.sleep(0.05)
    await dispatcher.idle()


async def test_a_button_answer_costs_two_calls_waited_for(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_job(ana)
    prompt = await walk(ana, bot, until="documents")
    assert prompt is not None
    await settled(bot)
    ana.mark_read()
    edit_may_finish = asyncio.Event()
    call = render.call

    async def held_edit(bot: Bot, method: str, **params: Any) -> Any:
        if method == "editMessageText":
            await edit_may_finish.wait()  # the next question must not wait for this edit
        return await call(bot, method, **params)

    monkeypatch.setattr(render, "call", held_edit)
    since = len(emu.calls)
    with statements(bot) as seen:
        await ana.press("I have them", prompt, wait=False)
        question = await next_prompt(ana)
        edit_may_finish.set()
        await settled(bot)
    assert "step 3/" in question.text
    calls = calls_since(emu, since)
    assert sorted(calls) == ["answerCallbackQuery", "editMessageText", "sendMessage"], calls
    assert calls[-1] == "answerCallbackQuery"  # the spinner stops once the question is there
    assert len(seen) <= BUTTON_STATEMENTS, seen


async def test_a_typed_answer_costs_one_call_and_few_statements(
    emu: BotApiEmulator, bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="owner_account")
    await settled(bot)
    ana.mark_read()
    since = len(emu.calls)
    with statements(bot) as seen:
        await ana.send("ORD-2024-1187")
        await next_prompt(ana)
        await settled(bot)
    calls = calls_since(emu, since)
    # the question's buttons (if any) are taken away beside the next question
    assert calls.count("sendMessage") == 1 and len(calls) <= 2, calls
    assert len(seen) <= TEXT_STATEMENTS, seen


@pytest.mark.both_stores
async def test_the_answer_path_reads_and_remembers_in_one_statement_each(
    database_url: str
) -> None:
    """The job and its answers come back in one read; remembering a question notes its
    message among the live keyboards in the same statement; striking them off writes only
    over what was read."""
    store = await Store.open(database_url)
    try:
        await store.upsert_user(1, "Ana")
        job = await store.create_job(1, 1, None)
        assert await store.job_and_answers(job.id) == (job, {})
        await store.save_answer(job.id, "owner", "ORD-1", "text")
        await store.save_answer(job.id, "gps", [52.1, 4.3], "gps")
        found = await store.job_and_answers(open_of=1)
        assert found is not None and found[0].id == job.id
        assert {k: a.value for k, a in found[1].items()} == {"owner": "ORD-1",
                                                             "gps": [52.1, 4.3]}
        assert await store.job_and_answers(job.id + 1) is None
        assert await store.job_and_answers(open_of=2) is None
        first = await store.remember_prompt(job.id, 10, "owner")
        live = await store.remember_prompt(job.id, 11, "gps")
        assert first is not None and first.message_ids == (10,)
        assert live is not None and live.message_ids == (10, 11)
        assert (live.status, live.prompt_message_id) == (OPEN, 11)
        after = await store.job(job.id)
        assert after is not None and after.keyboards == (10, 11) and after.asked == "gps"
        assert await store.set_keyboards(job.id, [11], was=live)
        assert not await store.set_keyboards(job.id, [], was=live)  # changed since: kept
        assert (await store.job(job.id)).keyboards == (11,)  # type: ignore[union-attr]
        quiet = await store.remember_prompt(job.id, None, "done")
        assert quiet is not None and quiet.message_ids == (11,)
        struck = await store.remember_prompt(job.id, 12, "pin", gone=[11])  # noted, struck off
        assert struck is not None and struck.message_ids == (12,)
        emptied = await store.remember_prompt(job.id, None, "done", gone=[12, 99])
        assert emptied is not None and emptied.message_ids == ()
    finally:
        await store.close()


async def test_statements_cancelled_in_flight_leave_sqlite_in_step(tmp_path: Path) -> None:
    """SQLite's shared connection (statements sent to the driver directly): a transaction or
    a statement cancelled at any point leaves no transaction open and no turn held; what is
    written after is committed, as another connection sees."""
    path = tmp_path / "pinpoint.db"
    store = await Store.open(path)
    await store.upsert_user(1, "Ana")

    async def in_transaction() -> None:
        async with store.transaction():
            await store.set_language(1, "de")
            await store.set_language(1, "es")

    try:
        for work in (in_transaction, lambda: store.set_language(1, "fr")):
            for steps in range(8):  # cancelled after 0, 1, ... turns of the loop
                task = asyncio.create_task(work())
                for _ in range(steps):
                    await asyncio.sleep(0)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await store.set_language(1, "nl")
        other = await Store.open(path)
        try:
            assert (await other.user(1)).language == "nl"  # type: ignore[union-attr]
        finally:
            await other.close()
    finally:
        await store.close()


def test_the_bots_process_loads_no_decoder() -> None:
    """NumPy, zxing-cpp and zbar run in the reader's workers only (~15 MB the bot's own
    process does without); a module-level import of them would bring them back."""
    import os
    import subprocess
    import sys

    probe = ("import sys, handlers.app, bot.__main__; "
             "print(sorted(m for m in ('numpy', 'zxingcpp', 'pyzbar') if m in sys.modules))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.stdout.strip() == "[]", out.stdout


def test_the_newest_revision_is_read_without_alembic() -> None:
    """`latest` reads the revision files' own lines; Alembic finds the same head."""
    from alembic.script import ScriptDirectory

    from bot.store.migrations import alembic_config, latest

    assert latest() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_current_database_is_opened_without_alembic(tmp_path: Path) -> None:
    """Alembic (~10 MB) is loaded only to upgrade: `bot run` migrates in a process of its
    own, and the bot's process opens the current database without it."""
    import os
    import subprocess
    import sys

    path = tmp_path / "pinpoint.db"
    asyncio.run(_opened_and_closed(path))
    probe = ("import asyncio, sys, handlers.app, bot.__main__\n"
             "from bot.store import Store\n"
             "async def opened():\n"
             f"    await (await Store.open({str(path)!r})).close()\n"
             "asyncio.run(opened())\n"
             "print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.stdout.strip() == "[]", out.stdout


async def _opened_and_closed(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


async def test_a_statement_that_would_wait_leaves_the_loop_free(tmp_path: Path) -> None:
    """SQLite's statements run on the loop's thread; one that needs a lock another
    connection holds runs on a thread instead, so the loop goes on (the other connection
    may need it to commit), and it lands once the lock is free."""
    import sqlite3

    path = tmp_path / "pinpoint.db"
    store = await Store.open(path)
    await store.upsert_user(1, "Ana")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, held
        write = asyncio.create_task(store.set_language(1, "de"))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done() and ticks == 20  # waiting, the loop free
        other.execute("COMMIT")
        await asyncio.wait_for(write, 5)
        assert (await store.user(1)).language == "de"  # type: ignore[union-attr]
    finally:
        other.close()
        await store.close()


async def test_a_long_read_moves_to_a_thread(tmp_path: Path) -> None:
    """A read still running after `INLINE_S` on the loop's thread is stopped and run on a
    thread: the same rows, the loop free meanwhile; a short one stays on the loop."""
    from bot.store import shared_sqlite

    store = await Store.open(tmp_path / "pinpoint.db")
    ran: list[str] = []
    waiting = shared_sqlite.SharedConnection._waiting

    def spied(self: Any, sql: str, values: Any) -> Any:
        ran.append(sql)
        return waiting(self, sql, values)

    long_read = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                 "WHERE i < 3000000) SELECT count(*) AS c FROM n")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(shared_sqlite.SharedConnection, "_waiting", spied)
            assert (await store.fetch_one("SELECT 41 + 1 AS c"))["c"] == 42  # type: ignore[index]
            assert ran == []
            assert (await store.fetch_one(long_read))["c"] == 3000000  # type: ignore[index]
            assert ran == [long_read]
    finally:
        await store.close()
