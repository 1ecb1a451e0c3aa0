"""What one answer costs the real bot (issue 17), counted, not timed: Bot API calls and SQL
statements for a pressed button and for a typed answer, and the pressed message's edit going
out beside the next question rather than before it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from telegram.ext import ExtBot

from testkit.emulator import BotApiEmulator, Player

from conftest import RunningBot
from flow import next_prompt, start_job, walk

# The budget of one answer (SQLite; 31 for a button, 30 typed before issue 17): the inbox
# entry, the job and its answers read (each statement on its own with its BEGIN), one
# transaction (BEGIN, flags cleared, the answer, the audit entry, the job, the inbox mark),
# and the sent question remembered (14 at that point). Issue 13's live-keyboard bookkeeping
# (bot/engine/keyboards.py) adds its own: the question's message noted among the job's live
# keyboards, the stale ones looked up and, after a press, the pressed one's struck off.
# One more each for a transaction of the bot's own that may begin inside the measured window.
BUTTON_STATEMENTS = 23
TEXT_STATEMENTS = 17
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
    edit = ExtBot.edit_message_text

    async def held_edit(self: ExtBot, *args: Any, **kwargs: Any) -> Any:
        await edit_may_finish.wait()  # the next question must not wait for this edit
        return await edit(self, *args, **kwargs)

    monkeypatch.setattr(ExtBot, "edit_message_text", held_edit)
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
