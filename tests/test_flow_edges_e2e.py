"""End to end: the flow's edges — back, restart, wrong input, bad values, stale buttons."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO

from PIL import Image

from testkit.emulator import BotApiEmulator, Player

from conftest import RunningBot, photo_bytes
from flow import GPS, current_step, next_prompt, start_job, station, walk


async def test_back_across_a_photo_step_keeps_or_replaces_the_photo(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="plate_match")
    await ana.send("/back")
    prompt = await next_prompt(ana)
    assert "before" in prompt.text and await current_step(bot, ana) == "photo_before"
    keep = [label for row in prompt.buttons for label in row if label.startswith("Keep")]
    assert keep == ["Keep: 1280×960"]
    await ana.press("Keep: 1280×960")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "plate_match"

    await ana.send("/back")
    await next_prompt(ana)
    await ana.send_photo(photo_bytes(1024, 768))
    await next_prompt(ana)
    assert await current_step(bot, ana) == "plate_match"
    store = bot.services.store
    job = await store.open_job(ana.user_id)
    photos = await store.photos(job.id)
    answer = (await store.answers(job.id))["photo_before"]
    assert len(photos) == 2 and answer.value["photo"] == photos[-1].id
    assert answer.value["width"] == 1024


async def test_back_at_the_first_step(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await ana.send("/back")
    await ana.expect_text("This is the first step.")


async def test_restart_mid_job_resumes_at_the_same_step(
    emu: BotApiEmulator, bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="firmware")
    job_before = await bot.services.store.open_job(ana.user_id)
    answers_before = await bot.services.store.answers(job_before.id)

    await bot.restart()

    await ana.send("/start")
    await ana.expect_text("Welcome back", f"job #{job_before.id}")
    prompt = await next_prompt(ana)
    assert "firmware version" in prompt.text
    assert await bot.services.store.answers(job_before.id) == answers_before
    await ana.send("2.11")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "condition"


async def test_wrong_kinds_of_input_get_one_line_and_change_nothing(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="site_access")
    await ana.send("yes")
    await ana.expect_text("Please use the buttons above.")
    await ana.press("Yes, arranged")
    await next_prompt(ana)

    await ana.send_photo(photo_bytes())
    await ana.expect_text("I need a typed answer here.")
    await walk(ana, bot, until="photo_before")
    for send, expected in (
        (lambda: ana.send("here it is"), "I need a photo here"),
        (lambda: ana.send_sticker(), "I need a photo here"),
        (lambda: ana.send_voice(), "I need a photo here"),
        (lambda: ana.send_document(b"%PDF-1.4 ...", file_name="plan.pdf",
                                   mime_type="application/pdf"), "not a picture"),
        (lambda: ana.send_location(*GPS), "I need a photo here"),
    ):
        await send()
        reply = await ana.expect()
        assert expected in reply.text and "\n" not in reply.text
    await ana.send_document(b"\xff\xd8\xff\xe0 not really a jpeg", file_name="IMG_1.jpg",
                            mime_type="image/jpeg")
    await ana.expect_text("could not open that file as a photo")
    assert await current_step(bot, ana) == "photo_before"

    await walk(ana, bot, until="gps")
    await ana.send("Berlin")
    await ana.expect_text("Share my location")
    await walk(ana, bot, until="pin")
    await ana.send_photo(photo_bytes())
    await ana.expect_text("tap 📎 → Location")
    await walk(ana, bot, until="cabinet_closed")
    await ana.send_voice()
    await ana.expect_text("press the button above")
    assert await current_step(bot, ana) == "cabinet_closed"


async def test_firmware_below_the_minimum_stops_until_updated(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="firmware")
    await ana.send("latest")
    await ana.expect_text("version number only")
    await ana.send("2.9")
    refusal = await ana.expect_text("below the minimum 2.10.1", "Update the firmware first")
    assert refusal.buttons == [["⛔ Stop this job"]]
    job = await bot.services.store.open_job(ana.user_id)
    assert [f.kind for f in await bot.services.store.flags(job.id)] == ["firmware_too_old"]
    assert await current_step(bot, ana) == "firmware"
    await ana.send("v2.10.2")
    await next_prompt(ana)
    answers = await bot.services.store.answers(job.id)
    assert answers["firmware"].value == "2.10.2"


async def test_stop_job_from_a_blocking_answer(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="firmware")
    await ana.send("1.0")
    await ana.expect_text("below the minimum")
    await ana.press("Stop this job")
    await ana.expect_text("Stop job #1?", "firmware too old")
    await ana.press("Yes, stop job #1")
    await ana.expect_text("Job #1 stopped")
    job = (await bot.services.store.jobs_of(ana.user_id))[0]
    assert job.status == "stopped" and job.stop_reason == "firmware_too_old"


async def test_serial_must_match_the_model_and_is_read_back_once(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="serial")
    await ana.send("ABC-123")
    await ana.expect_text("does not match this model's pattern", "HYC300-23041187")
    await ana.send("hyc300-23041188")
    check = await next_prompt(ana)
    assert "HYC300-23041188" in check.text
    await ana.press("Retype it")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "serial"
    await ana.send("HYC300-23041187")
    check = await next_prompt(ana)
    assert "cannot be changed after you submit" in check.text
    await ana.press("Exactly right")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "address"


async def test_a_button_pressed_twice_acts_once(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="site_access")
    question = ana.last
    data = question.button_data("✅ Yes, arranged")
    first = await ana.press_data(question, data)
    assert first is not None and not first.text
    await next_prompt(ana)
    second = await ana.press_data(question, data)
    assert second is not None and second.text == "That question was already answered."
    await ana.expect_nothing(0.2)
    assert await current_step(bot, ana) == "owner_account"
    trail = await bot.services.store.audit_trail()
    assert sum(1 for e in trail if e["detail"].get("step") == "site_access") == 1


async def test_pressed_question_shows_the_answer_and_loses_its_buttons(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="site_access")
    question = ana.last
    await ana.press("Yes, arranged")
    await next_prompt(ana)
    edited = next(m for m in ana.messages if m.message_id == question.message_id)
    assert edited.text.endswith("✓ ✅ Yes, arranged") and not edited.buttons


async def test_cancel_is_confirmed(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await ana.send("/cancel")
    await ana.expect_text("Cancel job #1?")
    await ana.press("No, keep going")
    await ana.expect_text("job #1 continues")
    await ana.send("/cancel")
    await ana.expect_text("Cancel job #1?")
    await ana.press("Yes, cancel job #1")
    await ana.expect_text("Job #1 cancelled")
    await ana.send("/status")
    await ana.expect_text("#1 · cancelled")
    await ana.send("hello")
    await ana.expect_text("no open job", "/new")


async def test_status_and_help_describe_the_current_step(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="iccid")
    await ana.send("/status")
    status = await ana.expect_text("Job #1 · in progress", "Prepare & swap the SIM")
    assert "step " in status.text
    await ana.send("/help")
    await ana.expect_text("ICCID is printed on the SIM card")


async def test_iccid_is_checked_for_length_and_luhn(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="iccid")
    await ana.send("8944 5001 0219")
    await ana.expect_text("19 or 20 digits; you typed 12")
    await ana.send("8944500102198304820")  # one digit off
    await ana.expect_text("check) digit does not match")
    assert await current_step(bot, ana) == "iccid"


async def test_model_search_by_typing(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await ana.send("terra 184")
    results = await ana.expect_text("Models matching")
    assert results.buttons[0] == ["ABB Terra 184"]
    await ana.press("ABB Terra 184")
    prompt = await next_prompt(ana)
    assert "Terra 184" in prompt.text
    await ana.send("/back")
    await next_prompt(ana)
    await ana.send("qqqq")
    await ana.expect_text("No model matches")


async def test_unlisted_model_stops_the_job_after_confirmation(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await ana.press("Not in the list")
    await ana.expect_text("model not supported")
    await ana.press("Yes, stop job #1")
    await ana.expect_text("stopped")
    job = (await bot.services.store.jobs_of(ana.user_id))[0]
    assert job.stop_reason == "unsupported_model"


async def test_critical_checklist_item_blocks_and_minor_one_flags(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="checklist.housing")
    await ana.press("Not OK")
    await ana.expect_text("must be OK before the station is networked")
    assert await current_step(bot, ana) == "checklist.housing"
    await ana.press("✅ OK")
    await next_prompt(ana)
    await walk(ana, bot, until="checklist.signal")
    await ana.press("Not OK")
    await ana.expect_text("Noted", "Support will see it")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    kinds = [(f.kind, f.step) for f in await bot.services.store.flags(job.id)]
    assert ("checklist_failed", "checklist.signal") in kinds


async def test_photo_site_must_be_landscape_and_big_enough(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="photo_site")
    await ana.send_photo(photo_bytes(900, 1200))
    await ana.expect_text("portrait")
    await ana.send_photo(photo_bytes(400, 300))
    await ana.expect_text("too small", "400×300")
    await ana.send_photo(photo_bytes(1280, 720))
    await next_prompt(ana)
    assert await current_step(bot, ana) == "cabinet_closed"


def exif_photo(taken: datetime | None = None,
               where: tuple[float, float] | None = None) -> bytes:
    """A landscape JPEG 'sent as a file', with EXIF time and GPS."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[36867] = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(0x8769)[36881] = "+00:00"
    if where is not None:
        def dms(value: float) -> tuple[float, float, float]:
            minutes = (value % 1) * 60
            return (float(int(value)), float(int(minutes)), round((minutes % 1) * 60, 2))
        exif.get_ifd(0x8825).update({1: "N", 2: dms(where[0]), 3: "E", 4: dms(where[1])})
    out = BytesIO()
    Image.effect_noise((1600, 1200), 30).convert("RGB").save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_old_photo_sent_as_file_is_questioned(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="photo_before")
    old = datetime.now() - timedelta(days=3)
    await ana.send_document(exif_photo(taken=old), file_name="IMG_0001.jpg",
                            mime_type="image/jpeg")
    question = await next_prompt(ana)
    assert "taken 3 days before the job started" in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "photo_before"
    await ana.send_document(exif_photo(taken=old), file_name="IMG_0001.jpg",
                            mime_type="image/jpeg")
    await next_prompt(ana)
    await ana.press("Use it anyway")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "plate_match"
    job = await bot.services.store.open_job(ana.user_id)
    assert "photo_old" in [f.kind for f in await bot.services.store.flags(job.id)]
    photo = (await bot.services.store.photos(job.id))[-1]
    assert photo.as_file and photo.exif_taken_at is not None


async def test_photo_taken_far_away_is_questioned_when_the_gps_fix_arrives(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="photo_before")
    await ana.send_document(exif_photo(where=(48.137, 11.575)), file_name="IMG_2.jpg",
                            mime_type="image/jpeg")  # Munich; the site is in Berlin
    await next_prompt(ana)
    await walk(ana, bot, until="gps")
    await ana.send_location(*GPS, horizontal_accuracy=5)
    question = await next_prompt(ana)
    assert "km from where you are" in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "photo_before"
    job = await bot.services.store.open_job(ana.user_id)
    assert "gps" in await bot.services.store.answers(job.id)


async def test_pin_far_from_the_gps_fix_is_questioned(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="pin")
    await ana.send_location(52.53, 13.42)  # about 1.5 km away
    question = await next_prompt(ana)
    assert "The pin is" in question.text and "m from where you shared" in question.text
    await ana.press("Use it anyway")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    assert "pin_far" in [f.kind for f in await bot.services.store.flags(job.id)]


async def test_poor_gps_accuracy_asks_for_a_fresh_fix(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="gps")
    await ana.send_location(*GPS, horizontal_accuracy=180)
    question = await next_prompt(ana)
    assert "accuracy of 180 m" in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    await ana.send_location(*GPS, horizontal_accuracy=9)
    await next_prompt(ana)
    assert await current_step(bot, ana) == "new_or_replacement"


async def test_next_station_same_site_offers_the_site_answers(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot)
    await ana.press("Next station, same site")
    await ana.expect_text("Job #2 started")
    await next_prompt(ana)
    await walk(ana, bot, until="site_access")
    reuse = ana.last
    assert any("Same as last station: ✅ Yes, arranged" in label
               for row in reuse.buttons for label in row)
    await ana.press("Same as last station")
    owner = await next_prompt(ana)
    assert "Same as last station: ORD-2024-1187" in str(owner.buttons)
    store = bot.services.store
    jobs = await store.jobs_of(ana.user_id)
    assert jobs[0].visit_id == jobs[1].visit_id
    assert (await store.answers(jobs[0].id))["site_access"].source == "reuse"


async def test_mac_already_used_by_another_job_is_questioned(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot)
    await ana.send("/new")
    await ana.expect_text("Job #2 started")
    await next_prompt(ana)
    await walk(ana, bot, until="mac", answers={"iccid": station(2)["iccid"]})
    await ana.send("0024-b100-0002-1a2b")
    question = await next_prompt(ana)
    assert "already on job #1" in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "mac"
