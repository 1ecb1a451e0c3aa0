"""Photo checks: a real image, big enough, landscape where asked, and its EXIF place and time.

Loading is `bot.vision.images.load_image` (formats, HEIC, pixel limits, EXIF orientation).
`PhotoWork` downloads and inspects photos a few at a time, in threads of its own: decoding a
12 MP photo takes a while, and a flood of photos must not hold the event loop's default
executor (which also resolves host names) nor make anyone else's answer wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from PIL import Image

from bot.engine.validators import Invalid
from bot.vision.images import ImageError, load_image

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881
ORIENTATION = 0x0112
TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class PhotoFacts:
    """What a photo is: size after EXIF rotation, format, checksum, EXIF place and time."""

    width: int
    height: int
    format: str
    sha256: str
    bytes: int
    exif_lat: float | None = None
    exif_lon: float | None = None
    exif_taken_at: datetime | None = None

    @property
    def landscape(self) -> bool:
        """Wider than high, as the viewer sees it."""
        return self.width > self.height


def _ratio(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return float(value[0]) / float(value[1])


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(GPS_IFD)
    try:
        lat_ref, lat, lon_ref, lon = gps[1], gps[2], gps[3], gps[4]
        to_deg = lambda dms: _ratio(dms[0]) + _ratio(dms[1]) / 60 + _ratio(dms[2]) / 3600  # noqa: E731
        lat_deg = to_deg(lat) * (-1 if str(lat_ref).upper().startswith("S") else 1)
        lon_deg = to_deg(lon) * (-1 if str(lon_ref).upper().startswith("W") else 1)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None, None
    if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180) or (lat_deg == 0 and lon_deg == 0):
        return None, None
    return lat_deg, lon_deg


def _taken_at(exif: Image.Exif, local: tzinfo) -> datetime | None:
    sub = exif.get_ifd(EXIF_IFD)
    raw = sub.get(DATETIME_ORIGINAL) or exif.get(306)  # 306: DateTime
    if not raw:
        return None
    try:
        naive = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(OFFSET_TIME_ORIGINAL)
    if offset:
        try:
            sign = -1 if str(offset).startswith("-") else 1
            hours, minutes = str(offset).lstrip("+-").split(":")
            tz: tzinfo = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        except ValueError:
            tz = local
    else:
        tz = local
    return naive.replace(tzinfo=tz)


def inspect_photo(data: bytes, local_tz: tzinfo = UTC) -> PhotoFacts:
    """Open the bytes as an image (JPEG, PNG, WebP, HEIC, ...) and read its facts.

    Raises `Invalid("photo.not_image")` for anything that is not a whole picture, or
    `Invalid("photo.too_big_pixels")` beyond the pixel limit. EXIF times without an offset
    are taken as `local_tz` (the network's time zone).
    """
    try:
        upright = load_image(data, reduced=True)  # whole? (a JPEG at an eighth of its size)
    except ImageError as problem:
        key = "photo.too_big_pixels" if problem.reason == "too_large" else "photo.not_image"
        raise Invalid(key) from problem
    with Image.open(io.BytesIO(data)) as original:  # headers only: the EXIF block
        exif = original.getexif()
        fmt = original.format or "?"
        width, height = upright.size
        if fmt in ("JPEG", "MPO"):  # decoded reduced: its size as the viewer sees it
            width, height = original.size
            if exif.get(ORIENTATION) in TURNED:
                width, height = height, width
    lat, lon = _gps(exif)
    return PhotoFacts(
        width=width,
        height=height,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        exif_lat=lat,
        exif_lon=lon,
        exif_taken_at=_taken_at(exif, local_tz),
    )


class PhotoWork:
    """Photos downloaded and inspected by the whole bot, a bounded number at a time.

    At most `4 × workers` photos are being downloaded or inspected at once (the rest wait
    their turn here, so memory stays bounded), and at most `workers` (default: one per CPU
    core) are decoded at once, in this pool's own threads.
    """

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._slots = asyncio.Semaphore(4 * self.workers)
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="photo")

    async def download(self, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The photo's bytes, fetched in turn."""
        async with self._slots:
            return await load()

    async def inspect(self, load: Callable[[], Awaitable[bytes]],
                      local_tz: tzinfo = UTC) -> PhotoFacts:
        """Fetch the photo and read its facts (`inspect_photo`), in turn, off the loop."""
        async with self._slots:
            data = await load()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, inspect_photo, data, local_tz)

    def close(self) -> None:
        """Let the threads end (inspections still queued are dropped)."""
        self._threads.shutdown(wait=False, cancel_futures=True)


def check_photo(facts: PhotoFacts, *, min_side: int, landscape: bool) -> None:
    """Refuse a photo that is too small, or portrait where landscape is required."""
    if min(facts.width, facts.height) < min_side:
        raise Invalid(
            "photo.too_small", {"width": facts.width, "height": facts.height, "min": min_side}
        )
    if landscape and not facts.landscape:
        raise Invalid("photo.portrait")
