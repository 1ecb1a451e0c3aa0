"""End to end: nothing lost after an interruption — the hand-off commits with the
submission and is posted once, part by part; owed questions and decision notices are sent
at start, once; the error handler answers a button once; separation of duties."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

import handlers.installer
import handlers.support
from bot.config import Settings
from bot.engine.interaction import Input
from bot.support.handoff import Support
from handlers.errors import on_error
from testkit.emulator import BotApiEmulator, Group, Player
from testkit.fakes.geocoder import FakeNominatim

from conftest import ANA_ID, SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot, make_settings
from flow import current_step, next_prompt, start_job, walk

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL


@pytest.fixture
def settings(tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim,
             database_url: str) -> Settings:
    return make_settings(tmp_path, emu, nominatim.url, database_url=database_url,
                         paging_webhooks=["generic:http://127.0.0.1:9/hook"],
                         outbox_retry_base_s=60.0)


@pytest.fixture
def group(emu: BotApiEmulator) -> Group:
    return emu.group(SUPPORT_CHAT_ID, "ChargeNet support")


@pytest.fixture
def bob(emu: BotApiEmulator, group: Group) -> Player:
    return emu.user(SUPPORT_ID, "Bob", "Support").in_chat(group)


def support_calls(emu: BotApiEmulator) -> dict[str, int]:
    """How many messages, albums and venues went to the support chat."""
    counts = {"sendMessage": 0, "sendMediaGroup": 0, "sendVenue": 0}
    for call in emu.calls:
        if call.method in counts and str(call.params.get("chat_id")) == str(SUPPORT_CHAT_ID):
            counts[call.method] += 1
    return counts


async def test_a_submission_interrupted_before_its_post_is_posted_once_after_restart(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, bob: Player,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*_: object) -> None:  # the process died right after the commit
        return None

    monkeypatch.setattr(handlers.installer, "on_events", crash)
    await start_job(ana)
    await walk(ana, bot)
    store = bot.services.store
    handoff = await store.latest_handoff(1)
    assert handoff is not None and handoff.posted_at is None and handoff.message_id is None
    assert [d.dedup_key for d in await store.deliveries()] == ["page:1:submitted:0"]
    assert support_calls(emu) == {"sendMessage": 0, "sendMediaGroup": 0, "sendVenue": 0}

    await bot.restart()
    posted = await bob.wait_for_text("Job #1", "submitted")
    assert posted.buttons == [["✅ Verify", "❌ Reject"]]
    await emu.wait_for_call("sendVenue")
    assert support_calls(emu) == {"sendMessage": 1, "sendMediaGroup": 1, "sendVenue": 1}
    handoff = await bot.services.store.handoff(handoff.id)
    assert handoff.message_id == posted.message_id and handoff.posted_at is not None

    await bot.restart()
    await bot.run_job("catch-up")
    assert support_calls(emu) == {"sendMessage": 1, "sendMediaGroup": 1, "sendVenue": 1}


async def test_a_post_interrupted_after_its_text_is_completed_without_repeats(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, bob: Player,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*_: object) -> int:
        raise RuntimeError("the process died before the album")

    monkeypatch.setattr(handlers.support, "post_album", crash)
    await start_job(ana)
    await walk(ana, bot)
    text = await bob.wait_for_text("Job #1", "submitted")
    await ana.wait_for_text("Sorry")  # the crash stand-in is a bug to the error handler
    assert support_calls(emu) == {"sendMessage": 1, "sendMediaGroup": 0, "sendVenue": 0}
    failed = [c for c in emu.calls_of("answerCallbackQuery") if c.ok is False]
    assert failed == []  # the Submit button was answered once, not again with the apology

    monkeypatch.undo()
    await bot.restart()
    await emu.wait_for_call("sendVenue")
    assert support_calls(emu) == {"sendMessage": 1, "sendMediaGroup": 1, "sendVenue": 1}
    album = [m for m in bob.messages if m.media_group_id]
    assert album and all(m.reply_to_message_id == text.message_id for m in album[:1])
    venue = next(m for m in bob.messages if m.venue)
    assert venue.reply_to_message_id == text.message_id

    await bot.restart()
    assert support_calls(emu) == {"sendMessage": 1, "sendMediaGroup": 1, "sendVenue": 1}


async def test_an_answer_stored_without_its_next_question_is_asked_at_start_once(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="firmware")
    # The answer commits, then the process dies before the next question goes out.
    await bot.services.engine.handle(ANA_ID, Input(text="2.10.1"))
    assert await current_step(bot, ana) == "condition"
    ana.mark_read()

    await bot.restart()
    await ana.expect_text("We were interrupted — here is where you are.")
    prompt = await next_prompt(ana)
    assert "condition" in prompt.text.lower() and prompt.buttons
    await ana.expect_nothing(0.3)

    await bot.restart()
    await ana.expect_nothing(0.3)
    await ana.press("Good", message=prompt)  # the re-asked question is a live one
    await next_prompt(ana)
    assert await current_step(bot, ana) != "condition"


async def test_bookkeeping_is_not_a_change_of_question(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="owner_account")
    engine, store = bot.services.engine, bot.services.store
    job = await store.open_job(ANA_ID)
    assert job.asked == "owner_account"
    await store.update_job(job.id, reminded_at=store.now())  # a reminder went out
    await store.touch_job(job.id)
    assert await engine.owed_questions() == []

    await engine.start_job(ANA_ID, ana.chat_id)  # refused: a job is open; nothing changes
    assert await engine.owed_questions() == []
    await engine.back(ANA_ID)  # a committed /back whose question never went out
    [(chat_id, outcome)] = await engine.owed_questions()
    assert chat_id == ana.chat_id and outcome.job_id == job.id
    assert "interrupted" in outcome.replies[0].text


async def test_a_new_job_whose_first_question_never_went_out_is_asked(
    bot: RunningBot, ana: Player
) -> None:
    await bot.services.engine.start_job(ANA_ID, ana.chat_id)
    ana.mark_read()
    await bot.restart()
    await ana.expect_text("We were interrupted")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "model"


async def test_a_decision_whose_notice_was_lost_is_told_at_start_once(
    bot: RunningBot, ana: Player, bob: Player, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_job(ana)
    await walk(ana, bot)
    handoff = await bob.wait_for_text("Job #1", "submitted")

    async def crash(*_: object) -> None:
        raise RuntimeError("the process died after the decision's commit")

    monkeypatch.setattr(Support, "_announce", crash)
    await bob.press("Verify", message=handoff)
    assert (await bot.services.store.handoff(1)).decision == "verified"
    monkeypatch.undo()
    ana.mark_read()

    await bot.restart()
    await ana.wait_for_text("Job #1 is verified")
    decided = next(m for m in bob.messages if m.message_id == handoff.message_id)
    assert "Verified by Bob Support" in decided.text and not decided.buttons
    assert (await bot.services.store.handoff(1)).notified_at is not None
    await bot.restart()
    await bot.run_job("catch-up")
    await ana.expect_nothing(0.3)


async def test_a_decision_told_in_band_is_not_told_again(
    bot: RunningBot, ana: Player, bob: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot)
    handoff = await bob.wait_for_text("Job #1", "submitted")
    await bob.press("Verify", message=handoff)
    await ana.wait_for_text("Job #1 is verified")
    assert (await bot.services.store.handoff(1)).notified_at is not None
    await bot.restart()
    await ana.expect_nothing(0.3)


async def test_an_error_before_the_answer_apologises_on_the_button(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = await start_job(ana)

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.services.engine, "press", broken)
    answer = await ana.press("Alpitronic", message=prompt)
    assert answer is not None and "Sorry" in (answer.text or "")
    assert [c for c in emu.calls_of("answerCallbackQuery") if c.ok is False] == []


async def test_errors_without_an_update_are_not_update_errors(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    await on_error(None, SimpleNamespace(error=RuntimeError("job failed")))  # type: ignore[arg-type]
    assert "error in background work" in caplog.text
    assert "while handling" not in caplog.text


@pytest.mark.parametrize("self_review", [False, True])
async def test_a_member_does_not_decide_on_their_own_submission(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, bob: Player, self_review: bool
) -> None:
    bot.settings.support_self_review = self_review
    await bot.services.store.grant(ANA_ID, "support", None)  # an installer in support too
    await start_job(ana)
    await walk(ana, bot)
    ana_in_support = emu.player(ANA_ID, SUPPORT_CHAT_ID)
    handoff = await ana_in_support.wait_for_text("Job #1", "submitted")
    answer = await ana_in_support.press_data(handoff, handoff.button_data("✅ Verify"))
    decision = (await bot.services.store.handoff(1)).decision
    if self_review:  # a one-person team
        assert decision == "verified"
        return
    assert answer is not None
    assert answer.text == "You submitted job #1 yourself, so a colleague decides on it."
    assert decision is None
    await bob.press_data(handoff, handoff.button_data("✅ Verify"))
    assert (await bot.services.store.handoff(1)).decision == "verified"
