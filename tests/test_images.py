"""Unit tests: loading untrusted image bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from bot.vision.images import ImageError, load_image
from testkit.qrsynth import encode


def picture(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """Red on the left half, blue on the right: orientation is visible."""
    img = Image.new("RGB", size, (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return img


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF", "GIF", "BMP"])
def test_formats_load(fmt: str) -> None:
    img = load_image(encode(picture(), fmt, 95))
    assert img.size == (60, 40)
    r, _, b = img.convert("RGB").getpixel((5, 20))
    assert r > 200 and b < 60


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    data = encode(picture(), "JPEG", 95, exif_orientation=orientation)
    stored = Image.open(io.BytesIO(data))
    assert stored.size == ((40, 60) if orientation in (6, 8) else (60, 40))
    img = load_image(data)
    assert img.size == (60, 40)  # upright again
    r, _, b = img.getpixel((5, 20))
    assert r > 200 and b < 60  # red on the left, as photographed


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG", "HEIF"])
@pytest.mark.parametrize("orientation", [None, 1, 3, 6, 8])
def test_grey_is_turned_after_conversion_with_the_same_pixels(
    fmt: str, orientation: int | None
) -> None:
    """Converting to grey before turning gives what turning first gave, pixel for pixel."""
    data = encode(picture((64, 48)), fmt, 90, exif_orientation=orientation)
    img = load_image(data, mode="L")
    with Image.open(io.BytesIO(data)) as stored:
        stored.draft("L", stored.size)  # a JPEG decodes its luminance only, as load_image does
        expected = ImageOps.exif_transpose(stored).convert("L")
    assert img.mode == "L" and img.size == (64, 48)
    assert img.tobytes() == expected.tobytes()


def test_a_damaged_exif_block_is_ignored() -> None:
    data = encode(picture(), "JPEG", 95)
    exif = Image.Exif()
    exif[0x0112] = 6
    broken = exif.tobytes()[:12]  # the orientation entry cut off
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "JPEG", exif=broken)
    assert load_image(buf.getvalue()).size == (60, 40)


def test_grey_mode_and_sixteen_bit_png() -> None:
    assert load_image(encode(picture(), "JPEG"), mode="L").mode == "L"
    deep = Image.fromarray(np.full((20, 30), 40000, np.uint16))
    buf = io.BytesIO()
    deep.save(buf, "PNG")
    grey = load_image(buf.getvalue(), mode="L")
    assert grey.mode == "L" and grey.getpixel((3, 3)) == 40000 >> 8


def test_only_the_first_frame_of_an_animation() -> None:
    frames = [Image.new("P", (20, 20), i) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert load_image(buf.getvalue(), mode="L").size == (20, 20)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not_image"),
        (b"GIF89a-but-not-really", "not_image"),
        (b"just text", "not_image"),
        (b"%PDF-1.4 something", "not_image"),
        (b"II*\x00" + bytes(100), "not_image"),  # TIFF is not accepted
    ],
)
def test_bad_bytes_have_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError) as caught:
        load_image(data)
    assert caught.value.reason == reason


def test_truncated_and_oversized() -> None:
    data = encode(picture((400, 300)), "JPEG", 90)
    with pytest.raises(ImageError) as caught:
        load_image(data[: len(data) // 2])
    assert caught.value.reason == "broken_image"
    with pytest.raises(ImageError) as caught:
        load_image(data, max_bytes=len(data) - 1)
    assert caught.value.reason == "too_large"
    with pytest.raises(ImageError) as caught:
        load_image(data, max_pixels=400 * 300 - 1)
    assert caught.value.reason == "too_large"
    assert load_image(data, max_pixels=400 * 300).size == (400, 300)


def test_pillow_heif_is_loaded_only_for_a_heic_file() -> None:
    """A JPEG leaves pillow-heif (~5 MB) unloaded; a HEIC file still opens (own process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = """
import io, sys
from PIL import Image, ImageOps
from bot.vision.images import load_image
out = io.BytesIO()
Image.new("RGB", (64, 48), "grey").save(out, "JPEG")
load_image(out.getvalue())
print("pillow_heif" in sys.modules)
import pillow_heif
heic = io.BytesIO()
pillow_heif.from_pillow(Image.new("RGB", (64, 48), "grey")).save(heic, format="HEIF")
print(load_image(heic.getvalue()).size)
"""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.stdout.split("\n")[:2] == ["False", "(64, 48)"], out.stdout + out.stderr
