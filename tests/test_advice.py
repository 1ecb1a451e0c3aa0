"""Unit tests: "move closer" instead of "unreadable" (bot.vision.advice)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bot.vision.advice import Tip, advise
from bot.vision.qrscan import Symbol
from bot.vision.sticker import decode
from testkit import qrsynth
from testkit.emulator import Player

from conftest import RunningBot
from flow import current_step, start_job, walk

PAYLOAD = "https://o.example-network.com/activate?mac=0024B1000102&pw=ABCDEFGH"


def scratched_code(module: int, *, blur: float = 0.0, light: float = 1.0) -> bytes:
    """A photo of a sticker whose code is found (finders intact) but cannot be read."""
    matrix = qrsynth.qr_matrix(PAYLOAD, "l")
    n = matrix.shape[0]
    rng = np.random.default_rng(1)
    matrix[9 : n - 9, 9 : n - 9] = rng.random((n - 18, n - 18)) < 0.5
    card = qrsynth.sticker_card(matrix, ["MAC", "PW"], module=module).convert("RGB")
    canvas = Image.new("RGB", (900, 700), (150, 150, 150))
    canvas.paste(card, (300, 200))
    if blur:
        canvas = canvas.filter(ImageFilter.GaussianBlur(blur))
    if light != 1.0:
        canvas = Image.fromarray((np.asarray(canvas) * light).astype(np.uint8))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize(
    ("module", "blur", "light", "tip"),
    [
        (2, 0.0, 1.0, Tip.CLOSER),  # tiny modules: come closer
        (6, 3.0, 1.0, Tip.STEADY),  # big modules blurred into each other: hold still
        (8, 5.0, 1.0, Tip.STEADY),
        (6, 0.0, 0.12, Tip.LIGHT),  # in the dark
    ],
)
def test_a_located_code_gets_the_tip_that_fits(
    module: int, blur: float, light: float, tip: Tip
) -> None:
    res = decode(scratched_code(module, blur=blur, light=light))
    assert (res.mac, res.error, res.where) == (None, "unreadable_code", "centre")
    assert res.advice is not None and res.advice.kind == tip
    assert res.advice.module_px == pytest.approx(module, rel=0.1)


def test_a_sharp_big_code_that_does_not_read_gets_no_tip() -> None:
    res = decode(scratched_code(6))
    assert (res.error, res.advice) == ("unreadable_code", None)


def test_a_photo_without_code_gets_no_tip() -> None:
    rng = np.random.default_rng(3)
    shot = qrsynth.Shot(level=1, size=(800, 600), module_px=6)
    res = decode(qrsynth.encode(qrsynth.render_photo(shot, rng)))
    assert (res.error, res.advice) == ("no_code", None)


def test_measurements_decide_the_tip() -> None:
    sharp = np.where(np.kron(np.indices((20, 20)).sum(0) % 2, np.ones((6, 6))), 220, 30)
    grey = Image.fromarray(sharp.astype(np.uint8))
    here = Symbol("", "QRCode", (0.5, 0.5), "suspect", (0.5, 0.5), module=6.0)
    assert advise(grey, here) is None
    small = Symbol("", "QRCode", (0.5, 0.5), "suspect", (0.5, 0.5), module=2.0)
    assert advise(grey, small).kind == Tip.CLOSER  # type: ignore[union-attr]
    blurred = grey.filter(ImageFilter.GaussianBlur(4))
    assert advise(blurred, here).kind == Tip.STEADY  # type: ignore[union-attr]
    assert advise(grey.filter(ImageFilter.GaussianBlur(2)), here) is None  # still sharp enough
    unknown = Symbol("", "QRCode", (0.5, 0.5), "suspect", (0.5, 0.5))
    assert advise(grey, unknown) is None  # no module size: nothing to compare with
    dark = Image.fromarray((sharp * 0.15).astype(np.uint8))
    assert advise(dark, unknown).kind == Tip.LIGHT  # type: ignore[union-attr]


async def test_the_sticker_step_says_come_closer(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="mac")
    await ana.send_photo(scratched_code(2))
    reply = await ana.expect(timeout=20)
    assert "too small in the photo (centre)" in reply.text and "15 cm" in reply.text
    await ana.send_photo(scratched_code(6, blur=3.0))
    reply = await ana.expect(timeout=20)
    assert "too blurred" in reply.text and "hold the phone still" in reply.text
    assert await current_step(bot, ana) == "mac"
