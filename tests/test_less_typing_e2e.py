"""End to end: a job with little typing (codes from photos, the screen MAC's last 4, one serial
read-back), progress that does not jump, a reused ICCID or serial questioned."""

from __future__ import annotations

import itertools
import re
from typing import Any

from test_sticker_e2e import code_photo

from testkit.emulator import Player

from conftest import RunningBot
from flow import GPS, ICCID, SERIAL, Action, current_step, next_prompt, start_job, walk

STICKER_URL = "https://o.example-network.com/activate?mac=0024b10000021a2b&pw=K7XRM4PT"
HEADER = re.compile(r"^(.+?) · step (\d+)/(\d+) · part (\d+)/(\d+)")


class Counting:
    """A player whose typed characters and taps are counted."""

    def __init__(self, player: Player) -> None:
        self.player = player
        self.typed = 0
        self.taps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.player, name)

    async def send(self, text: str) -> Any:
        self.typed += len(text)
        return await self.player.send(text)

    async def press(self, label: str, *args: Any, **kwargs: Any) -> Any:
        self.taps += 1
        return await self.player.press(label, *args, **kwargs)


def read_and_confirm(payload: str, kind: str = "code128") -> Action:
    """Photograph a code, then confirm what the bot read."""
    async def act(p: Player) -> None:
        await p.send_photo(code_photo(payload, kind=kind))
        await p.wait_for_text("Is ", timeout=20)
        await p.press("✅ Correct")
    return act


PHOTOS: dict[str, Action] = {
    "iccid": read_and_confirm(ICCID),
    "mac": read_and_confirm(STICKER_URL, kind="qr"),
    "serial": read_and_confirm(SERIAL),
}


def prompts(player: Player) -> list[tuple[str, int, int, int]]:
    """Every question's header: part, step, count, part number."""
    found = []
    for message in player.messages:
        match = HEADER.match(message.text)
        if match:
            part, index, total, part_no, _ = match.groups()
            found.append((part, int(index), int(total), int(part_no)))
    return found


async def test_a_full_job_with_code_photos_types_at_most_60_characters(
    bot: RunningBot, ana: Player
) -> None:
    counted = Counting(ana)
    await counted.send("/new")
    await next_prompt(ana)
    await walk(counted, bot, answers=PHOTOS)  # type: ignore[arg-type]
    job = (await bot.services.store.jobs_of(ana.user_id))[0]
    answers = await bot.services.store.answers(job.id)
    assert job.status == "submitted"
    assert answers["iccid"].value == ICCID and answers["iccid"].source == "barcode"
    assert answers["serial"].value == SERIAL and answers["serial"].source == "barcode"
    assert answers["screen_mac"].value == "1A2B"
    assert "serial_check" not in answers  # read from its barcode: confirmed once, as read
    assert not [m for m in ana.messages if "once more" in m.text]
    print(f"\nfull job with code photos: {counted.typed} typed characters, "
          f"{counted.taps} taps, {len(prompts(ana))} questions")
    assert counted.typed <= 60


async def test_the_count_of_a_part_never_changes_and_moves_by_one(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot)  # a typed MAC adds the password; "Skip the rest" skips four
    seen = prompts(ana)
    by_part: dict[str, set[int]] = {}
    for part, _, total, _ in seen:
        by_part.setdefault(part, set()).add(total)
    assert all(len(totals) == 1 for totals in by_part.values()), by_part
    for (part, index, _, number), (part2, index2, _, number2) in itertools.pairwise(seen):
        if part2 == part:
            assert index2 - index in (0, 1), (part, index, index2)
        else:
            assert (number2, index2) == (number + 1, 1)
    assert seen[-1][1] == seen[-1][2]  # the submission is the last of the last part


async def test_type_it_instead_shows_how_to_type_and_typing_works(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    question = await walk(ana, bot, until="iccid")
    assert question is not None and "photo of the barcode" in question.text
    assert question.buttons[0] == ["✏️ Type it instead"]
    await ana.press("Type it instead")
    edited = await ana.expect_edit(question)
    assert "19–20 digits" in edited.text and "Type it instead" not in str(edited.buttons)
    await ana.send(ICCID)
    await next_prompt(ana)
    assert await current_step(bot, ana) == "sticker_applied"


async def test_a_typed_serial_is_read_back_once(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="serial")
    await ana.send(SERIAL.lower())
    check = await next_prompt(ana)
    assert SERIAL in check.text and "cannot be changed after you submit" in check.text
    await ana.press("Exactly right")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "address"


async def test_the_screen_mac_is_its_last_four_and_a_mismatch_is_explained(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    question = await walk(ana, bot, until="screen_mac")
    assert question is not None and "last 4 characters" in question.text
    await ana.send("1A2C")
    refusal = await ana.expect_text("ends in 1A2C", "0024:B100:0002:1A2B")
    assert "sticker belongs to this station" in refusal.text
    await ana.send("12345")
    await ana.expect_text("last 4 characters")
    await ana.send("1a2b")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "submit"


async def test_a_reused_iccid_or_serial_is_questioned_with_the_other_job(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot)
    first = (await bot.services.store.jobs_of(ana.user_id))[0].id
    await ana.press("Next station, same site")
    await next_prompt(ana)
    await walk(ana, bot, until="iccid", answers={"mac": lambda p: p.send("0024B10000021A2C")})
    await ana.send(ICCID)
    question = await next_prompt(ana)
    assert f"already on job #{first}" in question.text and ICCID in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "iccid"
    await ana.send_photo(code_photo(ICCID, kind="code128"))
    question = await next_prompt(ana, timeout=20)
    assert f"already on job #{first}" in question.text  # read from the barcode: the same
    await ana.press("Use it anyway")
    await next_prompt(ana)
    await walk(ana, bot, until="serial", answers={"mac": lambda p: p.send("0024B10000021A2C")})
    await ana.send(SERIAL)
    question = await next_prompt(ana)
    assert f"The serial {SERIAL} is already on job #{first}" in question.text
    await ana.press("Use it anyway")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    flags = {f.kind for f in await bot.services.store.flags(job.id)}
    assert {"iccid_reused", "serial_reused"} <= flags


async def test_the_words_match_the_buttons_and_far_pins_are_in_km(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    documents = await walk(ana, bot, until="documents")
    assert documents is not None and "press ✅ I have them" in documents.text
    assert documents.buttons[0] == ["✅ I have them"]
    pin = await walk(ana, bot, until="pin")
    assert pin is not None and "Phone" in pin.text and "Desktop" in pin.text
    await ana.send_location(GPS[0] + 0.0135, GPS[1])  # about 1.5 km north of the GPS fix
    question = await next_prompt(ana)
    assert "1.5 km from where you shared your location" in question.text
    assert " m from" not in question.text
