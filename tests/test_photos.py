"""Unit tests: the photo checks (formats, size, orientation, EXIF place and time)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pillow_heif
import pytest
from PIL import Image

from bot.engine.validators import Invalid
from bot.vision.photos import check_photo, inspect_photo


def encoded(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def test_heic_from_an_iphone_is_a_photo() -> None:
    pillow_heif.register_heif_opener()
    facts = inspect_photo(encoded(Image.new("RGB", (1600, 1200), "grey"), "HEIF"))
    assert (facts.width, facts.height, facts.format) == (1600, 1200, "HEIF")


def test_exif_orientation_decides_landscape() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the viewer sees it portrait
    facts = inspect_photo(encoded(Image.new("RGB", (1600, 1200)), "JPEG", exif=exif))
    assert (facts.width, facts.height) == (1200, 1600) and not facts.landscape
    with pytest.raises(Invalid) as portrait:
        check_photo(facts, min_side=640, landscape=True)
    assert portrait.value.key == "photo.portrait"


def test_exif_time_with_and_without_offset() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2026:11:21 10:00:00"
    plain = inspect_photo(encoded(Image.new("RGB", (800, 600)), "JPEG", exif=exif),
                          timezone(timedelta(hours=1)))
    assert plain.exif_taken_at == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    exif.get_ifd(0x8769)[36881] = "-05:00"
    offset = inspect_photo(encoded(Image.new("RGB", (800, 600)), "JPEG", exif=exif))
    assert offset.exif_taken_at == datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("data", [
    b"", b"%PDF-1.7 not a picture", encoded(Image.new("RGB", (900, 700)), "JPEG")[:600],
])
def test_what_is_not_a_whole_picture_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        inspect_photo(data)
    assert caught.value.key == "photo.not_image"


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = encoded(Image.new("1", (12000, 12000)), "PNG")  # 144 MP in a few kB
    with pytest.raises(Invalid) as caught:
        inspect_photo(bomb)
    assert caught.value.key == "photo.too_big_pixels"


def test_too_small() -> None:
    facts = inspect_photo(encoded(Image.new("RGB", (600, 400)), "PNG"))
    with pytest.raises(Invalid) as small:
        check_photo(facts, min_side=640, landscape=False)
    assert small.value.values == {"width": 600, "height": 400, "min": 640}


def test_a_big_jpeg_is_checked_whole_at_an_eighth_of_its_pixels() -> None:
    """The check decodes a JPEG reduced (memory and time), yet tells its real size and
    still refuses one cut short anywhere in its data."""
    photo = encoded(Image.effect_noise((4032, 3024), 40).convert("RGB"), "JPEG", quality=85)
    facts = inspect_photo(photo)
    assert (facts.width, facts.height, facts.format) == (4032, 3024, "JPEG")
    for cut in (0.3, 0.7, 0.95):
        with pytest.raises(Invalid) as caught:
            inspect_photo(photo[:int(len(photo) * cut)])
        assert caught.value.key == "photo.not_image"
