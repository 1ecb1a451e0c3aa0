"""End to end: precise fixes after a rejection, and no stale buttons in the installer's chat."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import Settings
from testkit.emulator import BotApiEmulator, Player
from testkit.fakes.geocoder import FakeNominatim

from conftest import SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot, make_settings
from flow import (
    MODEL,
    current_step,
    next_prompt,
    start_job,
    walk,
    walk_fix,
)

# What each reason asks again when the installer keeps every earlier answer (the
# resubmission included); the walk types the MAC, so the password is asked with it.
QUESTIONS = {
    "Address or pin wrong": ["address", "pin", "submit"],
    "Photo unclear": ["photo_before", "photo_site", "submit"],
    "MAC or password wrong": ["mac", "password", "submit"],
    "Serial wrong": ["serial", "submit"],
    "Sticker or label missing": ["sticker_applied", "branding_label", "submit"],
}


@pytest.fixture
def settings(tmp_path: Path, emu: BotApiEmulator, nominatim: FakeNominatim) -> Settings:
    return make_settings(tmp_path, emu, nominatim.url, support_ids=[SUPPORT_ID])


@pytest.fixture
def bob(emu: BotApiEmulator) -> Player:
    return emu.user(SUPPORT_ID, "Bob", "Support").in_chat(emu.group(SUPPORT_CHAT_ID, "Support"))


async def reject(bob: Player, reason: str, *toggles: str) -> None:
    """Reject the newest hand-off for this reason (its answers ticked), toggle more, send."""
    handoff = await bob.wait_for_text("submitted")
    while not handoff.buttons:  # a long hand-off: the buttons are on its last part
        handoff = await bob.wait_for_text("")
    await bob.press("Reject", message=handoff)
    await bob.press(reason, message=handoff)
    for label in toggles:
        await bob.press(label, message=handoff)
    await bob.press("Send", message=handoff)


async def test_each_reason_asks_only_its_answers_with_earlier_ones_kept(
    bot: RunningBot, ana: Player, bob: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot)
    for reason, expected in QUESTIONS.items():
        await reject(bob, reason)
        notice = await ana.wait_for_text("needs a fix", reason)
        await ana.press(notice.buttons[0][0], message=notice)
        prompt = await next_prompt(ana)
        if expected[0] == "address":  # the earlier answer, one tap
            assert ["Keep: Invalidenstraße 113, 10115 Berlin"] in prompt.buttons
        assert await walk_fix(ana, bot) == expected, reason
    assert len(QUESTIONS["Address or pin wrong"]) <= 6
    assert (await bot.services.store.job(1)).status == "submitted"


async def test_a_fix_for_several_items_and_a_new_address(bot: RunningBot, ana: Player,
                                                         bob: Player) -> None:
    await start_job(ana)
    await walk(ana, bot)
    await reject(bob, "Address or pin wrong", "▫️ Serial")  # support ticks one more
    notice = await ana.wait_for_text("needs a fix", "Address, Pin, Serial")
    await ana.press(notice.buttons[0][0], message=notice)
    await next_prompt(ana)
    assert await current_step(bot, ana) == "serial"
    await ana.press("Keep: HYC300-23041187")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "address"
    await ana.press("Invalidenstraße 113, 10115 Berlin")  # chosen again: the pin stays asked
    prompt = await next_prompt(ana)
    assert await current_step(bot, ana) == "pin" and any(
        label.startswith("Keep: ") for row in prompt.buttons for label in row)
    await ana.press(next(label for row in prompt.buttons for label in row
                         if label.startswith("Keep: ")))
    await next_prompt(ana)
    assert await current_step(bot, ana) == "submit"


def live(player: Player) -> list[int]:
    """The bot's messages in the chat whose inline buttons are still there."""
    return [m.message_id for m in player.messages if m.inline_keyboard]


async def only_the_question_is_live(player: Player, question: int | None) -> None:
    """Wait until no message but the current question has live buttons."""
    allowed = {question} if question else set()
    for _ in range(100):
        if set(live(player)) <= allowed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"live buttons on {live(player)}, only {allowed} allowed")


async def test_no_stale_buttons_through_search_back_correction_and_cancel(
    bot: RunningBot, ana: Player
) -> None:
    store = bot.services.store
    first = await start_job(ana)
    await ana.send("HYC300")  # a typed model search: the manufacturer list goes
    results = await ana.wait_for_text("HYC300")
    await only_the_question_is_live(ana, results.message_id)
    assert first.message_id not in live(ana)
    await ana.press(MODEL, message=results)
    question = await next_prompt(ana)
    await only_the_question_is_live(ana, question.message_id)

    await walk(ana, bot, until="site_access")
    await ana.press("✅ Yes, arranged")
    await next_prompt(ana)
    await ana.send("/back")  # the question left behind loses its buttons
    back = await next_prompt(ana)
    assert await current_step(bot, ana) == "site_access"
    await only_the_question_is_live(ana, back.message_id)
    await ana.press("Keep: ✅ Yes, arranged")
    await next_prompt(ana)

    await walk(ana, bot, until="firmware")
    await ana.send("1.0")  # too old: a stop button ...
    refused = await ana.wait_for_text("below the minimum")
    stop = refused.button_data("⛔ Stop this job")
    assert stop is not None
    await ana.send("2.10.1")  # ... corrected: the stop button goes with the next question
    question = await next_prompt(ana)
    await only_the_question_is_live(ana, question.message_id)
    answer = await ana.press_data(refused, stop)  # pressed anyway (an old client)
    assert answer is not None and answer.text == bot.services.texts.get("job.stale_button")
    job = await store.job(1)
    assert job.status == "open" and job.stop_reason is None
    assert not [f for f in await store.flags(1) if f.kind == "firmware_too_old"]

    await ana.send("/cancel")
    await ana.wait_for_text("Cancel job #1?")
    await ana.press("Yes, cancel job #1")
    await ana.wait_for_text("cancelled")
    await only_the_question_is_live(ana, None)
    assert (await store.job(1)).keyboards == ()
