"""The sandbox's scanner Mini App in a real browser: Chromium's fake camera films the demo
sticker, the scanner page (in the chat page's overlay) reads it with the vendored jsQR, and
the bot confirms the MAC.

Playwright drives Debian's Chromium (`/usr/bin/chromium`); without it the test is skipped.
The camera is Chromium's fake device playing a short Y4M video of the sticker, written here
with numpy (no ffmpeg).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_sandbox_scanner import to_the_sticker_step

from sandbox import Sandbox, seed
from sandbox.server import STICKER_PATH
from sandbox.sticker import draw_sticker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000
BUTTON = "📷 Scan the sticker"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="Debian's Chromium is not installed (/usr/bin/chromium)")
async_api = pytest.importorskip("playwright.async_api")


def write_y4m(image: Image.Image, path: Path, size: tuple[int, int] = (640, 480),
              frames: int = 5) -> Path:
    """A still video of `image` centred on white, as YUV 4:2:0 Y4M (BT.601, full range)."""
    width, height = size
    canvas = Image.new("RGB", size, "white")
    picture = image.convert("RGB")
    picture.thumbnail((width - 40, height - 40))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    rgb = np.asarray(canvas, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b

    def half(plane: np.ndarray) -> np.ndarray:  # 2×2 averages: the chroma planes of 4:2:0
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes()
                      for p in (y, half(u), half(v)))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path


async def open_scanner(playwright: object, sandbox: Sandbox, video: Path | None,
                       errors: list[str]) -> object:
    """Chromium (filming `video`, else without a camera), Ana's chat, the scan button."""
    camera = [f"--use-file-for-fake-video-capture={video}"] if video else []
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*(CHROMIUM_ARGS if video else CHROMIUM_ARGS[:-2]),
                                             *camera])
    context = await browser.new_context(viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(sandbox.url)
    await page.click(f'a[href="#user={seed.ANA.id}&chat={seed.ANA.id}"]')
    await page.wait_for_selector("body[data-ready='1'][data-live='1']")
    await page.click(".rk[data-request=web_app]")
    await page.frame_locator("#webapp-frame").locator(".tg-scan").wait_for()  # the popup
    return page


async def test_the_scanner_reads_the_sticker_from_the_camera(sandbox: Sandbox,
                                                             tmp_path: Path) -> None:
    video = write_y4m(Image.open(STICKER_PATH), tmp_path / "sticker.y4m")
    await to_the_sticker_step(sandbox)
    errors: list[str] = []
    async with async_api.async_playwright() as playwright:
        page = await open_scanner(playwright, sandbox, video, errors)
        try:
            await page.locator(".msg.in", has_text="I read the sticker").last.wait_for()
            confirmation = await page.locator(".msg.in", has_text="I read the sticker").last\
                .inner_text()
            assert f"MAC {seed.STICKER_MAC}" in confirmation
            assert seed.STICKER_PASSWORD not in confirmation
            assert not await page.locator("#webapp-sheet").is_visible()  # sendData closed it
            await page.locator(".msg.out", has_text=BUTTON).wait_for()  # the service line
            await page.locator(".ib", has_text="Correct").last.click()
            await page.locator(".msg.in", has_text="Share my location").last.wait_for()
        finally:
            await page.context.browser.close()
    store = sandbox.app.bot_data["services"].store
    job = await store.open_job(seed.ANA.id)
    answers = await store.answers(job.id)
    assert answers["mac"].value == seed.STICKER_MAC and answers["mac"].source == "qr"
    assert answers["password"].value == seed.STICKER_PASSWORD
    assert errors == []


async def test_the_scanner_keeps_scanning_past_a_look_alike(sandbox: Sandbox,
                                                            tmp_path: Path) -> None:
    look_alike = seed.STICKER_URL.replace("o.example-network.com", "o.example-network.co")
    video = write_y4m(draw_sticker(look_alike), tmp_path / "look-alike.y4m")
    await to_the_sticker_step(sandbox)
    errors: list[str] = []
    async with async_api.async_playwright() as playwright:
        page = await open_scanner(playwright, sandbox, video, errors)
        try:
            frame = page.frame_locator("#webapp-frame")
            await frame.locator("#status", has_text="not the activation sticker").wait_for()
            assert await frame.locator(".tg-scan").is_visible()  # still scanning
        finally:
            await page.context.browser.close()
    assert not any("web_app_data" in m.data for m in sandbox.emu.chats[seed.ANA.id].messages)
    assert errors == []


async def test_the_trainer_can_pick_the_demo_sticker_instead(sandbox: Sandbox) -> None:
    await to_the_sticker_step(sandbox)
    errors: list[str] = []
    async with async_api.async_playwright() as playwright:
        page = await open_scanner(playwright, sandbox, None, errors)
        try:
            await page.frame_locator("#webapp-frame").locator(".tg-scan-demo").click()
            await page.locator(".msg.in", has_text=f"MAC {seed.STICKER_MAC}").last.wait_for()
        finally:
            await page.context.browser.close()
