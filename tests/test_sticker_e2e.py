"""End to end: the sticker, the SIM and the type plate read from photos in the flow."""

from __future__ import annotations

import io

import segno
from PIL import Image

from testkit.emulator import BotApiEmulator, Player

from conftest import BEN_ID, RunningBot, photo_bytes
from flow import current_step, next_prompt, start_job, walk

STICKER_URL = "https://o.example-network.com/activate?mac=0024b1000d3e7a51&pw=K7XRM4PT"


def code_photo(payload: str, *, kind: str = "qr", size: int = 1280) -> bytes:
    """A landscape photo with a code on it: a QR code, or a Code 128 barcode."""
    scene = Image.effect_noise((size, size * 3 // 4), 20).convert("RGB")
    if kind == "qr":
        code = segno.make(payload, error="m")
        out = io.BytesIO()
        code.save(out, kind="png", scale=8, border=4)
        mark = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
    else:
        import zxingcpp

        mark = Image.fromarray(zxingcpp.create_barcode(
            payload, zxingcpp.BarcodeFormat.Code128).to_image(scale=4)).convert("RGB")
        mark = mark.resize((mark.width, 120))
        framed = Image.new("RGB", (mark.width + 80, mark.height + 80), "white")
        framed.paste(mark, (40, 40))
        mark = framed
    scene.paste(mark, ((scene.width - mark.width) // 2, (scene.height - mark.height) // 2))
    out = io.BytesIO()
    scene.save(out, "JPEG", quality=90)
    return out.getvalue()


async def test_sticker_photo_fills_mac_and_password_after_confirmation(
    bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    await ana.send_photo(code_photo(STICKER_URL))
    question = await next_prompt(ana, timeout=20)
    assert "MAC 0024:B100:0D3E:7A51" in question.text
    assert "Password ••••••PT" in question.text and "K7XRM4PT" not in question.text
    assert question.buttons == [["✅ Correct", "✏️ Type it instead"]]
    await ana.press("Correct")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "gps"  # the password step is skipped
    job = await bot.services.store.open_job(ana.user_id)
    answers = await bot.services.store.answers(job.id)
    assert answers["mac"].value == "0024:B100:0D3E:7A51" and answers["mac"].source == "qr"
    assert answers["password"].value == "K7XRM4PT"


async def test_sticker_sent_as_a_file_works_the_same(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    await ana.send_document(code_photo(STICKER_URL, size=2400), file_name="IMG_4411.JPG",
                            mime_type="image/jpeg")
    question = await next_prompt(ana, timeout=20)
    assert "0024:B100:0D3E:7A51" in question.text


async def test_unreadable_photo_leads_to_typed_entry(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    await ana.send_photo(photo_bytes())
    reply = await ana.expect(timeout=20)
    assert "could not find a QR code" in reply.text and "type the MAC" in reply.text
    await ana.send_photo(code_photo("https://example.com/manual"))
    reply = await ana.expect(timeout=20)
    assert "not an activation sticker" in reply.text
    await ana.send("0024:B100:0002:1A2B")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "password"


async def test_type_instead_keeps_nothing_read(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    await ana.send_photo(code_photo(STICKER_URL))
    await next_prompt(ana, timeout=20)
    await ana.press("Type it instead")
    question = await next_prompt(ana)
    assert "Type the <b>MAC address</b>" in question.text or "Type the MAC address" in question.text
    assert "Type it instead" not in str(question.buttons)  # typing now, not another photo
    job = await bot.services.store.open_job(ana.user_id)
    assert "mac" not in await bot.services.store.answers(job.id)
    assert await current_step(bot, ana) == "mac"
    await ana.send("0024:B100:0002:1A2B")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "password"


async def test_iccid_from_the_sim_holders_barcode(bot: RunningBot, ana: Player) -> None:
    from flow import ICCID

    await start_job(ana)
    await walk(ana, bot, until="iccid")
    await ana.send_photo(code_photo(ICCID, kind="code128"))
    question = await next_prompt(ana, timeout=20)
    assert f"ICCID {ICCID}" in question.text
    await ana.press("Correct")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    answer = (await bot.services.store.answers(job.id))["iccid"]
    assert answer.value == ICCID and answer.source == "barcode"


async def test_a_slow_decode_does_not_hold_up_other_installers(
    emu: BotApiEmulator, bot: RunningBot, ana: Player
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    ben = emu.user(BEN_ID, "Ben", "Builder")
    await bot.services.store.upsert_user(BEN_ID, "Ben", "Builder")
    await bot.services.store.set_user_status(BEN_ID, "approved", "INS-20001")
    await bot.services.store.grant(BEN_ID, "installer", None)
    big = Image.effect_noise((4032, 3024), 60).convert("RGB")  # 12 MP, no code in it
    out = io.BytesIO()
    big.save(out, "JPEG", quality=92)
    await ana.send_document(out.getvalue(), file_name="IMG_0001.JPG", mime_type="image/jpeg")
    await ben.send("/status")
    await ben.expect_text("no open job")
    answered = [m for m in ana.messages if "could not find a QR code" in m.text]
    assert not answered, "Ben's reply waited for Ana's decode"
    await ana.wait_for_text("could not find a QR code", timeout=30)
