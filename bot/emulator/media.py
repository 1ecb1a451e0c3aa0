"""Image handling with Pillow: the JPEG renditions Telegram makes of a photo, thumbnails."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

PHOTO_SIDES = (90, 320, 800, 1280)
THUMBNAIL_SIDE = 320


@dataclass(frozen=True)
class Rendition:
    """One re-encoded size of a photo."""

    width: int
    height: int
    data: bytes


def open_image(data: bytes) -> Image.Image:
    """Open image bytes, turned upright by their EXIF orientation; ValueError if not an image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError("not an image") from exc
    return ImageOps.exif_transpose(image)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of image bytes, or None when Pillow can't read them."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


def _jpeg(image: Image.Image, quality: int = 87) -> bytes:
    if image.mode != "RGB":
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _scaled(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def photo_renditions(data: bytes, sides: tuple[int, ...] = PHOTO_SIDES) -> list[Rendition]:
    """JPEG sizes as Telegram stores a photo: one per side smaller than the original's longest
    side, plus the original size when it is not larger than the biggest side. Smallest first,
    never upscaled, metadata (EXIF) dropped."""
    image = open_image(data)
    longest = max(image.size)
    result = []
    for side in sorted(sides):
        if side < longest:
            scaled = _scaled(image, side)
            result.append(Rendition(scaled.width, scaled.height, _jpeg(scaled)))
    if longest <= max(sides):
        result.append(Rendition(image.width, image.height, _jpeg(image)))
    return result


def thumbnail(data: bytes, side: int = THUMBNAIL_SIDE) -> Rendition | None:
    """A JPEG thumbnail (longest side at most `side`) or None when `data` is not an image."""
    try:
        image = open_image(data)
    except ValueError:
        return None
    if max(image.size) > side:
        image = _scaled(image, side)
    return Rendition(image.width, image.height, _jpeg(image))


def sample_image(width: int, height: int, fmt: str = "JPEG", color: str = "#3a7bd5") -> bytes:
    """A test image of the given size with a simple pattern, encoded as `fmt`."""
    image = Image.new("RGB", (width, height), color)
    stripe = max(1, width // 8)
    for x in range(0, width, stripe * 2):
        image.paste((240, 240, 240), (x, 0, min(x + stripe, width), height))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()
