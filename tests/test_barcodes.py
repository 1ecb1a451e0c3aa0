"""Unit tests: ICCID and serial-number barcodes read from drawn photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

from bot.engine.validators import luhn_ok
from bot.vision.barcodes import iccid_from_text, read_iccid, read_serial, serial_from_text
from bot.vision.sticker import StickerReader
from testkit import qrsynth

SERIAL = r"\d{4}-\d{6}"


def with_luhn(body: str) -> str:
    """`body` followed by its Luhn check digit."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


ICCID20 = with_luhn("8949022123456789012")
ICCID19 = with_luhn("894902212345678901")


def photo_of_barcode(
    text: str,
    fmt: zxingcpp.BarcodeFormat = zxingcpp.BarcodeFormat.Code128,
    *,
    angle: float = 0.0,
    scale: int = 3,
    blur: float = 0.0,
    noise: float = 0.0,
    size: tuple[int, int] = (900, 700),
) -> bytes:
    """A SIM-holder-like card with a barcode, turned by `angle`, on a grey desk, as JPEG."""
    bars = Image.fromarray(np.asarray(zxingcpp.create_barcode(text, fmt).to_image(scale=scale)))
    card = Image.new("L", (bars.width + 80, bars.height + 90), 245)
    card.paste(bars.convert("L"), (40, 30))
    ImageDraw.Draw(card).text((40, bars.height + 45), text, fill=20)
    card = card.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=110)
    desk = Image.new("L", size, 110)
    desk.paste(card, ((size[0] - card.width) // 2, (size[1] - card.height) // 2))
    if blur:
        desk = desk.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(desk, np.float32)
    if noise:
        arr = arr + np.random.default_rng(0).normal(0, noise, arr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert("RGB").save(
        buf, "JPEG", quality=85
    )
    return buf.getvalue()


@pytest.mark.parametrize("angle", [0, 8, 35, 62, 90, 127, 180, 305])
def test_iccid_is_read_at_any_angle(angle: float) -> None:
    assert read_iccid(photo_of_barcode(ICCID20, angle=angle)) == ICCID20


def test_iccid_19_digits_blurred_and_noisy() -> None:
    data = photo_of_barcode(ICCID19, scale=2, blur=0.8, noise=5, angle=-12)
    assert read_iccid(data) == ICCID19


def test_iccid_in_interleaved_2_of_5() -> None:
    assert read_iccid(photo_of_barcode(ICCID20, zxingcpp.BarcodeFormat.ITF)) == ICCID20


def test_a_wrong_check_digit_or_another_number_is_no_iccid() -> None:
    bad = ICCID20[:-1] + str((int(ICCID20[-1]) + 1) % 10)
    assert read_iccid(photo_of_barcode(bad)) is None
    assert read_iccid(photo_of_barcode("4006381333931", zxingcpp.BarcodeFormat.EAN13)) is None
    assert read_iccid(b"not an image") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ICCID20, ICCID20),
        (f"{ICCID19}F", ICCID19),
        (" ".join(ICCID20[i : i + 4] for i in range(0, 20, 4)), ICCID20),
        ("1234", None),
        (ICCID20[:-1] + "x", None),
    ],
)
def test_iccid_from_barcode_text(text: str, expected: str | None) -> None:
    assert iccid_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2332-088348", "2332-088348"),
        ("SN:2332-088348;MODEL:AC22-T2S", "2332-088348"),
        ("https://voltacharge.example/p/AC22-T2S?sn=2332-088348", "2332-088348"),
        ("https://voltacharge.example/p/2332-088348", "2332-088348"),
        ("S/N: 2332-088348", "2332-088348"),
        ("MODEL:AC22-T2S", None),
        ("12332-0883489", None),
    ],
)
def test_serial_from_code_text(text: str, expected: str | None) -> None:
    assert serial_from_text(text, SERIAL) == expected


def test_serial_from_a_1d_code_and_from_a_type_plate_qr() -> None:
    assert read_serial(photo_of_barcode("2332-088348", angle=20), SERIAL) == "2332-088348"
    rng = np.random.default_rng(5)
    plate = qrsynth.plate_card(rng, "SN:2332-088348;MODEL:AC22-T2S", module=5).convert("RGB")
    canvas = Image.new("RGB", (1000, 700), (90, 95, 100))
    canvas.paste(plate.rotate(25, expand=True, fillcolor=(90, 95, 100)), (150, 120))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=85)
    assert read_serial(buf.getvalue(), SERIAL) == "2332-088348"
    assert read_serial(buf.getvalue(), r"[A-Z]{2}\d{8}") is None


async def test_barcodes_through_the_reader_pool() -> None:
    reader = StickerReader(workers=1)
    try:
        assert await reader.read_iccid(photo_of_barcode(ICCID20, angle=45)) == ICCID20
        data = photo_of_barcode("2332-088348")
        assert await reader.read_serial(data, SERIAL) == "2332-088348"
    finally:
        reader.close()
