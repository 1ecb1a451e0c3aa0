"""The sandbox in a real browser: an installer walks a whole job, support verifies it.

Playwright drives Debian's Chromium (`/usr/bin/chromium`, installed by `.ci/run`); no
browser is ever downloaded. Without it the test is skipped.

`PINPOINT_SCREENSHOT=docs/sandbox.png pytest tests/test_sandbox_browser.py` also saves the
installer's phone screen at the step named by `PINPOINT_SCREENSHOT_STEP` (the README's).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sandbox import Sandbox, seed
from sandbox.server import STICKER_PATH
from testkit.emulator import Player

from conftest import photo_bytes
from flow import ANSWERS, ICCID

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
SCREENSHOT = os.environ.get("PINPOINT_SCREENSHOT")
SCREENSHOT_STEP = os.environ.get("PINPOINT_SCREENSHOT_STEP", "plate_match")
GPS = seed.PLACES[0]  # Invalidenstraße 112, Berlin: the offline geocoder knows it
PIN = (52.530520, 13.384500)  # the parking space, 8 m from the fix

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="Debian's Chromium is not installed (/usr/bin/chromium)")
async_api = pytest.importorskip("playwright.async_api")




class ChatPage:
    """One browser tab, being one person in one chat of the sandbox page."""

    def __init__(self, page: object, sandbox: Sandbox, person: seed.Persona) -> None:
        self.page = page
        self.sandbox = sandbox
        self.person = person
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: object) -> None:
        """A request or an inline style the page's Content-Security-Policy refused."""
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    async def open(self, chat_id: int) -> None:
        """The picker, then this person's chat, live."""
        await self.page.goto(self.sandbox.url)
        await self.page.click(f'a[href="#user={self.person.id}&chat={chat_id}"]')
        await self.page.wait_for_selector("body[data-ready='1'][data-live='1']")

    async def prompts(self) -> int:
        """How many of the bot's questions (they carry "· step ") the page shows."""
        return await self.page.evaluate(PROMPTS_JS)

    async def wait_for_prompt(self, after: int) -> None:
        # A locator, not wait_for_function: the page's CSP forbids evaluating strings.
        await self.page.locator(".msg.in .text", has_text="· step ").nth(after).wait_for(
            timeout=TIMEOUT_MS)

    async def wait_for_text(self, text: str) -> None:
        await self.page.locator(".msg.in", has_text=text).last.wait_for(timeout=TIMEOUT_MS)

    def last_prompt(self) -> object:
        return self.page.locator(".msg.in", has_text="· step ").last

    async def type(self, text: str) -> None:
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")

    async def press(self, label: str) -> None:
        """The newest inline button labelled `label` (an emoji before it is fine)."""
        exact = re.compile(rf"^\s*(?:\S+\s)?{re.escape(label)}\s*$")
        await self.page.locator(".ib", has_text=exact).last.click(timeout=TIMEOUT_MS)

    async def send_picture(self, data: bytes, name: str, pick: str = "photo") -> None:
        """📎 → Photo (or File), and pick `data` in the file chooser."""
        async with self.page.expect_file_chooser() as chooser:
            await self.page.click("#attach")
            await self.page.click(f"[data-pick={pick}]")
        await (await chooser.value).set_files(
            files=[{"name": name, "mimeType": "image/png" if name.endswith(".png")
                    else "image/jpeg", "buffer": data}])

    async def share_location(self, place: seed.Place) -> None:
        """The bot's "share my location" keyboard button, then a preset site."""
        await self.page.click(".rk[data-request=location]", timeout=TIMEOUT_MS)
        await self.page.locator(".place", has_text=place.label).click()
        await self.page.click("#location-send")

    async def drop_pin(self, latitude: float, longitude: float) -> None:
        """📎 → Location, coordinates typed."""
        await self.page.click("#attach")
        await self.page.click("[data-pick=location]")
        await self.page.fill("input[name=latitude]", str(latitude))
        await self.page.fill("input[name=longitude]", str(longitude))
        await self.page.click("#location-send")


PROMPTS_JS = ("[...document.querySelectorAll('.msg.in .text')]"
              ".filter(e => e.textContent.includes('· step ')).length")

Action = Callable[[ChatPage], Awaitable[object]]


def press(label: str) -> Action:
    return lambda chat: chat.press(label)


def typed(text: str) -> Action:
    return lambda chat: chat.type(text)


def station_picture(width: int, height: int) -> bytes:
    """A drawn charging station on a car park (nicer than noise in the README's screenshot)."""
    image = Image.new("RGB", (width, height), (150, 190, 225))
    draw = ImageDraw.Draw(image)
    ground = int(height * 0.62)
    draw.rectangle((0, ground, width, height), fill=(95, 100, 105))
    for x in range(0, width, width // 5):
        draw.rectangle((x + 20, ground + 40, x + 34, height), fill=(235, 235, 225))
    left, top = int(width * 0.4), int(height * 0.22)
    right, bottom = left + width // 6, ground + height // 12
    draw.rounded_rectangle((left, top, right, bottom), radius=24, fill=(0, 110, 85))
    draw.rectangle((left + 30, top + 40, right - 30, top + 150), fill=(225, 240, 235))
    draw.line((right, top + 220, right + 120, bottom + 40), fill=(25, 25, 25), width=14)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def photo(width: int, height: int, drawn: bool = False) -> Action:
    make = station_picture if drawn else photo_bytes
    return lambda chat: chat.send_picture(make(width, height), "station.jpg")


async def pick_model(chat: ChatPage) -> None:
    await chat.press("Alpitronic")
    await chat.press("Alpitronic Hypercharger HYC300")


async def sticker_or_mac(chat: ChatPage) -> None:
    """Send the demo sticker when the bot asks for its photo (and confirm what it read),
    else type its MAC."""
    read = chat.last_prompt().locator(".ib", has_text="Correct")
    if await read.count():
        await read.first.click()
    elif "photo" in (await chat.last_prompt().inner_text()).lower():
        await chat.send_picture(STICKER_PATH.read_bytes(), "demo-sticker.png")
    else:
        await chat.type(seed.STICKER_MAC)


async def address(chat: ChatPage) -> None:
    """Pick the geocoder's address when offered, else type it (to search, or as the answer)."""
    offered = chat.last_prompt().locator(".ib", has_text="Invalidenstraße")
    if await offered.count():
        await offered.first.click()
    else:
        await chat.type("Invalidenstraße 112, 10115 Berlin")


BROWSER: dict[str, Action] = {
    "model": pick_model,
    "documents": press("I have them"),
    "hardware": press("Ready"),
    "site_access": press("Yes, arranged"),
    "owner_account": typed("ORD-2024-1187"),
    "station_name": typed("Car park P2, left"),
    "photo_before": photo(1280, 960, drawn=True),
    "plate_match": press("Yes, it matches"),
    "firmware": typed("2.10.1"),
    "condition": press("Good"),
    "checklist": press("OK"),
    "power_off": press("Power is off"),
    "lockout": press("Locked and tagged"),
    "no_voltage": press("No voltage"),
    "iccid": typed(ICCID),
    "sticker_applied": press("Sticker applied"),
    "branding_label": press("Label applied"),
    "mac": sticker_or_mac,
    "password": typed(seed.STICKER_PASSWORD),
    "gps": lambda chat: chat.share_location(GPS),
    "new_or_replacement": press("New station"),
    "model_confirm": press("That's it"),
    "serial": typed("HYC300-23041187"),
    "serial_check": press("Exactly right"),
    "serial_final": press("Confirm serial"),
    "address": address,
    "pin": lambda chat: chat.drop_pin(*PIN),
    "lot_name": typed("P2 Riverside"),
    "building": press("Skip the rest"),
    "floor": press("Skip"),
    "restrictions": press("Skip"),
    "access_notes": press("Skip"),
    "photo_site": photo(1600, 900),
    "cabinet_closed": press("Closed, power on"),
    "display_errors": press("No errors"),
    "errors_text": typed("E-42 Backend not reachable"),
    "errors_resolved": press("Resolved"),
    "logo_visible": press("Logo visible"),
    "screen_mac": typed(seed.STICKER_MAC),
    "submit": press("Submit"),
}


async def current_step(sandbox: Sandbox, user_id: int) -> str | None:
    view = await sandbox.app.bot_data["services"].engine.open_view(user_id)
    return None if view is None or view.current is None else view.current.key


async def walk_job(chat: ChatPage) -> None:
    """Answer every question in the page until the job is submitted."""
    sandbox, user_id = chat.sandbox, chat.person.id
    tries: dict[str, int] = {}
    for _ in range(120):
        step = await current_step(sandbox, user_id)
        if step is None:
            return
        tries[step] = tries.get(step, 0) + 1
        assert tries[step] <= 3, (f"stuck at {step}:\n"
                                  + sandbox.emu.transcript(user_id)[-3000:])
        if step == SCREENSHOT_STEP and SCREENSHOT and tries[step] == 1:
            await chat.page.screenshot(path=SCREENSHOT, animations="disabled")
        before = await chat.prompts()
        action = BROWSER.get(step.split(".")[0])
        if action is None:  # a step added to the procedure since: answer it as the e2e tests do
            warnings.warn(f"no browser action for step {step!r}; answered through the emulator",
                          stacklevel=1)
            player: Player = sandbox.emu.player(user_id, user_id)
            await ANSWERS[step.split(".")[0]](player)
        else:
            await action(chat)
        if step == "submit":
            await chat.wait_for_text("submitted")
            return
        await chat.wait_for_prompt(before)
    raise AssertionError("the walk did not end")


async def test_installer_walks_a_job_in_the_browser_and_support_verifies_it(
        sandbox: Sandbox) -> None:
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=PHONE,
                                                device_scale_factor=2 if SCREENSHOT else 1)
            context.set_default_timeout(TIMEOUT_MS)
            ana = ChatPage(await context.new_page(), sandbox, seed.ANA)
            await ana.open(seed.ANA.id)
            await ana.type("/new")
            await ana.wait_for_text("· step 1/")
            await walk_job(ana)

            store = sandbox.app.bot_data["services"].store
            job = (await store.jobs_of(seed.ANA.id))[0]
            assert job.status == "submitted"
            photos = ana.page.locator(".msg.out .photo img")
            assert await photos.count() >= 2
            assert await ana.page.locator(".msg.out .location").count() == 2

            if importlib.util.find_spec("bot.support.handoff") is None:
                pytest.skip("the support hand-off (issue 5, bot/handoff.py) has not landed: "
                            "nothing reaches the support group to verify")
            sam = ChatPage(await context.new_page(), sandbox, seed.SAM)
            await sam.open(seed.SUPPORT_GROUP_ID)
            await sam.wait_for_text(f"Job #{job.id}")
            await sam.page.locator(".album .photo img").first.wait_for()
            await sam.page.locator(".msg.in .location").first.wait_for()
            await sam.press("Verify")
            await ana.wait_for_text("verified")
            assert (await store.job(job.id)).status != "submitted"
            await sam.page.click(".bar [data-open=deliveries]")  # what Slack would have got
            await sam.page.locator("#delivery-list li", has_text=f"job #{job.id} submitted").first\
                .wait_for()
            assert ana.errors == [] and sam.errors == []
        finally:
            await browser.close()
