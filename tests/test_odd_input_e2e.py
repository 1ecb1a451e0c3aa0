"""End to end: edited messages, odd locations, over-long text and invisible characters."""

from __future__ import annotations

import pytest

from testkit.emulator import BotApiEmulator, Group, Player

from conftest import SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot
from flow import GPS, current_step, location, next_prompt, press, send, start_job, walk

RLO, ZWSP, LRI, PDI, BOM = "\u202e", "\u200b", "\u2066", "\u2069", "\ufeff"


@pytest.fixture
def bob(emu: BotApiEmulator) -> Player:
    group: Group = emu.group(SUPPORT_CHAT_ID, "ChargeNet support")
    return emu.user(SUPPORT_ID, "Bob", "Support").in_chat(group)


async def test_an_edited_answer_is_told_how_to_change_it(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="station_name")
    sent = await ana.send("Car park P2, left")
    await next_prompt(ana)
    step = await current_step(bot, ana)
    await ana.edit(sent, "Car park P3, right")
    line = await ana.expect_text("doesn't change its answer", "/back")
    assert not line.buttons
    await ana.expect_nothing(0.2)
    view = await bot.services.engine.open_view(ana.user_id)
    assert view is not None and view.value("station_name") == "Car park P2, left"
    assert await current_step(bot, ana) == step


async def test_a_location_at_zero_zero_is_questioned(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="gps")
    await ana.send_location(0.0, 0.0, horizontal_accuracy=5)
    question = await next_prompt(ana)
    assert "0, 0" in question.text and "no fix" in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "gps"
    await ana.send_location(*GPS, horizontal_accuracy=8)
    await next_prompt(ana)
    assert await current_step(bot, ana) != "gps"


async def test_a_location_without_accuracy_is_questioned(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="gps")
    await ana.send_location(*GPS)  # a desktop client sends no accuracy
    question = await next_prompt(ana)
    assert "without an accuracy" in question.text
    await ana.press("Use it anyway")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    assert job is not None
    assert "gps_no_accuracy" in [f.kind for f in await bot.services.store.flags(job.id)]


async def test_over_long_text_is_answered_with_what_to_cut_and_kept_when_it_fits(
    bot: RunningBot, ana: Player, bob: Player
) -> None:
    notes = ("Gate code at the kiosk. " * 200)[:3990]
    too_long = (notes + " And then some more words beyond the limit." * 3).strip()
    await start_job(ana)
    await walk(ana, bot, until="restrictions",
               answers={"building": send("Block B"), "floor": press("Skip")})
    await ana.send(too_long)
    refusal = await ana.expect_text("That is too long", f"{len(too_long)} characters",
                                    "at most 4000", f"Shorten it by {len(too_long) - 4000}")
    assert len(refusal.text) < 400
    assert await current_step(bot, ana) == "restrictions"
    await ana.send(notes)
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    assert job is not None
    assert (await bot.services.store.answers(job.id))["restrictions"].value == notes.strip()

    since = len(bob.emu.calls)
    await walk(ana, bot, answers={"building": send("Block B"), "floor": press("Skip"),
                                  "access_notes": send(notes)})
    await bob.emu.wait_for_call("sendVenue", since=since)  # the hand-off's last part
    posted = "\n".join(m.text for m in bob.messages)  # longer than one message: in parts
    assert posted.count("Gate code at the kiosk.") >= 2 * notes.count("Gate code")


async def test_invisible_characters_never_reach_support(
    bot: RunningBot, emu: BotApiEmulator, bob: Player
) -> None:
    ana = emu.user(1001, f"Ana{RLO}", f"{ZWSP}Installer", username="ana")
    await ana.send("/start")
    await ana.expect_text("installer ID")
    await ana.send(f"{BOM}INS-10234{ZWSP}")
    await ana.expect_text("approved")
    await start_job(ana)
    await walk(ana, bot, answers={
        "station_name": send(f"Car{ZWSP} park {RLO}P2{LRI}, left{PDI}"),
        "lot_name": send(f"P2{RLO} Riverside"),
        "gps": location(*GPS),
    })
    handoff = await bob.wait_for_text("Job #", "submitted")
    for text in (handoff.text, handoff.html or ""):
        assert not any(ch in text for ch in (RLO, ZWSP, LRI, PDI, BOM))
    assert "Car park P2, left" in handoff.text and "P2 Riverside" in handoff.text
    assert "Ana Installer" in handoff.text and "INS-10234" in handoff.text
