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


def open_image(data: bytes, draft_side: int | None = None) -> Image.Image:
    """Open image bytes, turned upright by their EXIF orientation; ValueError if not an image.

    With `draft_side`, a JPEG may be decoded at a reduced scale that still keeps both sides
    at least that long (much faster for big camera photos)."""
    try:
        image = Image.open(io.BytesIO(data))
        if draft_side and image.format == "JPEG":
            image.draft("RGB", (draft_side, draft_side))
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


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    width, height = size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _scaled(image: Image.Image, side: int) -> Image.Image:
    return image.resize(_fit(image.size, side), Image.Resampling.LANCZOS)


def photo_renditions(data: bytes, sides: tuple[int, ...] = PHOTO_SIDES) -> list[Rendition]:
    """JPEG sizes as Telegram stores a photo: one per side smaller than the original's longest
    side, plus the original size when it is not larger than the biggest side. Smallest first,
    never upscaled, metadata (EXIF) dropped."""
    size = image_size(data)
    if size is None:
        raise ValueError("not an image")
    longest = max(size)
    keep_full = longest <= max(sides)
    targets = sorted((side for side in sides if side < longest), reverse=True)
    image = open_image(data, draft_side=None if keep_full or not targets else targets[0])
    turned = (image.width >= image.height) != (size[0] >= size[1])
    full = (size[1], size[0]) if turned else size  # upright, at full scale
    result = [Rendition(image.width, image.height, _jpeg(image))] if keep_full else []
    source = image
    for side in targets:  # each size from the previous, larger one
        source = source.resize(_fit(full, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        result.append(Rendition(source.width, source.height, _jpeg(source)))
    return sorted(result, key=lambda r: r.width * r.height)


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
