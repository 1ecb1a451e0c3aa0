"""End to end: an installer walks a whole job through the real bot and the Bot API emulator."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import Settings
from testkit.emulator import BotApiEmulator, Player

from conftest import RunningBot
from flow import ICCID, MAC, SERIAL, current_step, next_prompt, start_job, station, walk

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL


async def test_full_job_from_start_to_submitted(emu: BotApiEmulator, bot: RunningBot,
                                                ana: Player) -> None:
    first = await start_job(ana)
    assert "Before you begin" in first.text and "step 1/" in first.text
    assert "Alpitronic" in [label for row in first.buttons for label in row]

    assert await walk(ana, bot) is None

    store = bot.services.store
    job = (await store.jobs_of(ana.user_id))[0]
    assert job.status == "submitted" and job.submitted_at is not None
    answers = await store.answers(job.id)
    assert answers["model"].value == "alpi_hyc300"
    assert answers["mac"].value == MAC
    assert answers["password"].value == "ABCD7K"
    assert answers["iccid"].value == ICCID
    assert answers["serial"].value == SERIAL
    assert answers["firmware"].value == "2.10.1"
    assert answers["gps"].value["accuracy"] == 8.0
    assert answers["building"].source == "skip" and answers["floor"].source == "skip"
    checklist = [k for k in answers if k.startswith("checklist.")]
    assert len(checklist) == 7  # 5 default items + cooling + emergency stop for this DC model
    photos = await store.photos(job.id)
    assert [p.step for p in photos] == ["photo_before", "photo_site"]
    assert all(len(p.sha256) == 64 and p.file_id for p in photos)
    trail = await store.audit_trail(job.id)
    safety = [e for e in trail if e["action"] == "safety_confirmed"]
    assert [e["detail"]["step"] for e in safety] == ["power_off", "lockout", "no_voltage",
                                                      "cabinet_closed"]
    assert all(e["at"] for e in safety)
    assert not any("ABCD7K" in str(e["detail"]) for e in trail), "password leaked into audit"


async def test_every_prompt_shows_part_and_progress(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="photo_before")
    prompt = ana.last
    assert prompt.text.startswith("Prepare & swap the SIM · step ")
    assert "▰" in prompt.text and "▱" in prompt.text


async def test_gps_step_uses_a_request_location_keyboard(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    prompt = await walk(ana, bot, until="gps")
    assert prompt is not None
    keyboard = prompt.reply_keyboard
    assert keyboard and keyboard[0][0].get("request_location") is True
    await ana.send_location(52.52, 13.405, horizontal_accuracy=6)
    ack = await ana.expect()
    assert ack.removes_keyboard
    await next_prompt(ana)
    assert await current_step(bot, ana) == "new_or_replacement"


async def test_several_installers_at_once_each_get_their_own_job_through(
    emu: BotApiEmulator, bot: RunningBot, settings: Settings
) -> None:
    ids = [2001, 2002, 2003, 2004]
    players = []
    for user_id in ids:
        await bot.services.store.upsert_user(user_id, f"Inst{user_id}")
        await bot.services.store.set_user_status(user_id, "approved", f"INS-{user_id}")
        await bot.services.store.grant(user_id, "installer", None)
        players.append(emu.user(user_id, f"Inst{user_id}"))

    async def one(player: Player, index: int) -> None:
        await start_job(player)
        await walk(player, bot, answers=station(index))

    await asyncio.gather(*(one(p, i) for i, p in enumerate(players)))
    for player in players:
        job = (await bot.services.store.jobs_of(player.user_id))[0]
        assert job.status == "submitted"
        assert not [m for m in player.messages if "went wrong" in m.text]
