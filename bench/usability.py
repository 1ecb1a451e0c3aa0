"""Usability benchmark: what one installer does for one full job, and for one fix.

Runs the real bot against the Bot API emulator and the fake geocoder. A new installer
registers (`/start`, the installer ID; an admin approves), sends `/new` and answers whatever
is asked, generically: a "Keep" button first, optional questions skipped, a question's own
buttons over typing (the first option), photos where a photo is asked (a sticker's QR code
or a barcode when the question asks for its photo before offering typing: made by
`testkit.qrsynth` and zxing-cpp), locations where one is asked, typing only when nothing else
answers (a valid value for the step's validator). Then support rejects the job for "Address
or pin wrong" and the installer fixes it the same way.

Prints, per walk: questions answered (a question answered in two moves, e.g. manufacturer
then model, or a photo then its confirmation, counts twice), taps (buttons pressed), typed
characters (with and without commands), photos, locations, and the bot's time from each
action until its last message or edit (total and slowest).

    python bench/usability.py [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test settings and the sample values

import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402

from handlers.app import build_application, start_polling, stop_polling  # noqa: E402
from testkit import qrsynth  # noqa: E402
from testkit.emulator import BotApiEmulator, BotMessage, Player  # noqa: E402
from testkit.fakes.geocoder import FakeNominatim  # noqa: E402

from conftest import ADMIN_ID, SUPPORT_CHAT_ID, SUPPORT_ID, make_settings  # noqa: E402
from flow import GPS, ICCID, PIN  # noqa: E402

NEWCOMER = 4242
INSTALLER_ID = "INS-20577"
MAC_HEX, PASSWORD = "0024B10000021A2B", "K7XRM4PT"
STICKER = f"https://{qrsynth.HOST}{qrsynth.PATH}?mac={MAC_HEX.lower()}&pw={PASSWORD}"
REASON = "Address or pin wrong"
QUIET_S = 0.25  # the bot is done once it has been quiet this long


@dataclass
class Tally:
    """What the installer did in one walk."""

    name: str
    questions: list[str] = field(default_factory=list)
    taps: int = 0
    typed: int = 0
    commands: int = 0
    photos: int = 0
    locations: int = 0
    bot_s: list[float] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def row(self) -> str:
        slowest = max(self.bot_s, default=0.0)
        return (f"{self.name:<28} {len(self.questions):>9} {self.taps:>5} {self.typed:>6} "
                f"{self.typed - self.commands:>9} {self.photos:>6} {self.locations:>9} "
                f"{sum(self.bot_s):>8.2f} s {slowest:>7.2f} s")


HEADER = (f"{'walk':<28} {'questions':>9} {'taps':>5} {'typed':>6} {'w/o cmds':>9} "
          f"{'photos':>6} {'locations':>9} {'bot time':>10} {'slowest':>9}")


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def scene(mark: Image.Image, size: int = 1280) -> bytes:
    """A landscape phone photo with the mark in the middle."""
    photo = Image.new("RGB", (size, size * 3 // 4), (128, 126, 120))
    photo.paste(mark.convert("RGB"), ((photo.width - mark.width) // 2,
                                      (photo.height - mark.height) // 2))
    return jpeg(photo)


def sticker_photo() -> bytes:
    card = qrsynth.sticker_card(qrsynth.qr_matrix(STICKER), [f"MAC {MAC_HEX}", PASSWORD])
    return scene(card)


def barcode_photo(text: str) -> bytes:
    mark = Image.fromarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128)
                           .to_image(scale=4)).convert("RGB")
    framed = Image.new("RGB", (mark.width + 80, 200), "white")
    framed.paste(mark.resize((mark.width, 120)), (40, 40))
    return scene(framed)


def plain_photo() -> bytes:
    rng = np.random.default_rng(7)
    return jpeg(Image.fromarray(rng.integers(0, 255, (900, 1600, 3), dtype=np.uint8)))


class Installer:
    """Acts for one person and counts what they do."""

    def __init__(self, emu: BotApiEmulator, player: Player, services: object) -> None:
        self.emu, self.player, self.services = emu, player, services
        self.tally = Tally("")

    def _marks(self) -> tuple[int, int]:
        messages = self.player.messages
        return len(messages), sum(m.edits for m in messages)

    async def _settle(self, started: float, before: tuple[int, int]) -> None:
        """Wait until the bot has answered (changed the chat since `before`) and gone quiet;
        note its time."""
        last, changed = time.perf_counter(), self._marks() != before
        while time.perf_counter() - last < QUIET_S or not changed:
            await asyncio.sleep(0.005)
            now = self._marks()
            if now != before:
                before, last, changed = now, time.perf_counter(), True
            if time.perf_counter() - started > 30:
                raise TimeoutError("the bot did not answer")
        self.tally.bot_s.append(last - started)
        where = self.tally.questions[-1] if self.tally.questions else "start"
        self.tally.slowest = max(self.tally.slowest, (last - started, where))

    async def type(self, text: str) -> None:
        self.tally.typed += len(text)
        if text.startswith("/"):
            self.tally.commands += len(text)
        started, before = time.perf_counter(), self._marks()
        await self.player.send(text)
        await self._settle(started, before)

    async def tap(self, message: BotMessage, label: str) -> None:
        self.tally.taps += 1
        started, before = time.perf_counter(), self._marks()
        await self.player.press(label, message=message)
        await self._settle(started, before)

    async def photo(self, data: bytes) -> None:
        self.tally.photos += 1
        started, before = time.perf_counter(), self._marks()
        await self.player.send_photo(data)
        await self._settle(started, before)

    async def location(self, lat: float, lon: float) -> None:
        self.tally.locations += 1
        started, before = time.perf_counter(), self._marks()
        await self.player.send_location(lat, lon, horizontal_accuracy=8.0)
        await self._settle(started, before)

    def live(self) -> BotMessage | None:
        """The newest message with buttons."""
        return next((m for m in reversed(self.player.messages) if m.inline_keyboard), None)

    async def answer(self) -> bool:
        """Answer the open job's current question; False once there is none."""
        engine = self.services.engine
        view = await engine.open_view(self.player.user_id)
        if view is None or view.current is None:
            return False
        step, model = view.current.step, view.model
        self.tally.questions.append(view.current.key)
        live = self.live()
        labels = [b for row in live.buttons for b in row] if live else []
        keep = next((b for b in labels if b.startswith("Keep: ")), None)
        prompt = next((m.text for m in reversed(self.player.messages) if "· " in m.text
                       and "/" in m.text.split("\n")[0]), "").lower()
        if view.job.pending or keep:
            await self.tap(live, keep or labels[0])
        elif step.optional:
            await self.tap(live, "Skip the rest" if "Skip the rest" in labels else "Skip")
        elif step.kind == "photo":
            await self.photo(plain_photo())
        elif step.kind == "location":
            await self.location(*(GPS if step.source == "gps" else PIN))
        elif step.kind == "text":
            photo_first = step.reader and "photo" in prompt and (
                "type" not in prompt or prompt.index("photo") < prompt.index("type"))
            if photo_first:
                await self.photo(sticker_photo() if step.reader == "sticker"
                                 else barcode_photo(self.value(step.validator, model, view,
                                                               prompt)))
            else:
                await self.type(self.value(step.validator, model, view, prompt))
        else:
            await self.tap(live, labels[0])
        return True

    @staticmethod
    def value(validator: str | None, model: object, view: object, prompt: str) -> str:
        """A valid typed answer for a validator."""
        if validator == "screen_mac":
            mac = "".join(c for c in str(view.of_role("mac") or MAC_HEX) if c.isalnum())
            return mac[-4:] if "last 4" in prompt or "last four" in prompt else mac.lower()
        return {
            "firmware": getattr(model, "min_firmware", "2.10.1"),
            "serial": getattr(model, "serial_example", ""),
            "iccid": ICCID, "mac": MAC_HEX, "password": PASSWORD,
            "reference": "ORD-2024-1187", "short_text": "Car park P2",
        }.get(validator or "", "Gate code 4711")


async def full_job(emu: BotApiEmulator, services: object, admin: Player) -> Tally:
    player = emu.user(NEWCOMER, "Nia", "Newcomer")
    me = Installer(emu, player, services)
    me.tally.name = "full job (new installer)"
    await me.type("/start")
    me.tally.questions.append("installer_id")
    await me.type(INSTALLER_ID)
    await admin.wait_for_text(INSTALLER_ID)
    await admin.press("Approve")
    await player.wait_for_text("approved")
    await me.type("/new")
    while await me.answer():
        pass
    await player.wait_for_text("another station")
    return me


async def fix(emu: BotApiEmulator, me: Installer, support: Player) -> Tally:
    handoff = await support.wait_for_text("submitted", timeout=30)
    while not handoff.buttons:
        handoff = await support.wait_for_text("")
    await support.press("Reject", message=handoff)
    await support.press(REASON, message=handoff)
    labels = [b for row in handoff.buttons for b in row]
    if any("Send" in b for b in labels):
        await support.press("Send", message=handoff)
    else:  # a part to redo: the one holding the address
        address = me.services.procedure.with_role("address")
        await support.press(me.services.texts.get(f"part.{address.part}"), message=handoff)
    notice = await me.player.wait_for_text("needs a fix")
    me.tally = Tally(f"fix: {REASON.lower()}")
    await me.tap(notice, notice.buttons[0][0])
    while await me.answer():
        pass
    return me.tally


async def run(verbose: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        emu = BotApiEmulator()
        await emu.start()
        geocoder = FakeNominatim()
        await geocoder.start()
        settings = make_settings(Path(tmp), emu, geocoder.url, installer_ids=[],
                                 qr_time_budget_s=20.0)  # a shared machine: read, not time out
        app = build_application(settings)
        await start_polling(app, poll_timeout=1)
        services = app.bot_data["services"]
        admin = emu.user(ADMIN_ID, "Alex", "Admin")
        support = emu.user(SUPPORT_ID, "Bob", "Support").in_chat(
            emu.group(SUPPORT_CHAT_ID, "Support"))
        try:
            me = await full_job(emu, services, admin)
            first = me.tally
            second = await fix(emu, me, support)
        finally:
            await stop_polling(app)
            await geocoder.stop()
            await emu.stop()
        print(HEADER)
        for tally in (first, second):
            print(tally.row())
            if verbose:
                print("   ", " → ".join(tally.questions))
                print(f"    slowest: {tally.slowest[1]} ({tally.slowest[0]:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list the questions asked")
    asyncio.run(run(parser.parse_args().verbose))


if __name__ == "__main__":
    main()
