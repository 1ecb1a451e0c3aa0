"""Safe loading of photos that users send: size limits, formats, EXIF orientation, HEIC.

`load_image` turns untrusted bytes into an upright Pillow image or raises `ImageError` with a
short reason code; it never lets Pillow decode more pixels than allowed (decompression bombs)
and reads only the first frame of animated files.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES: Final = 20 * 1024 * 1024
"""Largest file accepted (Telegram bots can download files up to 20 MB)."""

MAX_PIXELS: Final = 50_000_000
"""Largest image accepted, in pixels (48 MP phone cameras fit)."""

FORMATS: Final = ("JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF", "GIF", "BMP")
"""Formats a phone or a desktop client sends; nothing more exotic is parsed."""

ISO_MEDIA: Final = b"ftyp"
"""Bytes 4–8 of an ISO media file: HEIC/HEIF and AVIF (pillow-heif's formats)."""

_heif_ready = False


class ImageError(Exception):
    """An image that cannot be used; `reason` is a short code.

    - ``not_image``: not a picture in a format we read;
    - ``too_large``: more bytes or pixels than allowed;
    - ``broken_image``: a known format, but damaged or truncated.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (iPhone) and AVIF files, once."""
    global _heif_ready
    if _heif_ready:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        if hasattr(pillow_heif, "register_avif_opener"):
            with contextlib.suppress(Exception):  # AVIF support is optional in some builds
                pillow_heif.register_avif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a dependency
        pass
    _heif_ready = True


def load_image(
    data: bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    mode: str | None = None,
    reduced: bool = False,
) -> Image.Image:
    """Decode untrusted image bytes into an upright image, or raise `ImageError`.

    `mode` converts the result (``"L"`` for grey, ``"RGB"``); for JPEG, ``"L"`` decodes the
    luminance only, which is about twice as fast. EXIF orientation is applied after the
    conversion (a grey frame turns faster than an RGB one), and an upright picture is not
    copied (a 12 MP copy costs tens of ms). `reduced` decodes a JPEG at an eighth of its width
    and height (`Image.draft`): every byte is still read, so a damaged file still fails, with a
    sixty-fourth of the pixels in memory — for checks that need to know only that the picture
    is whole.
    """
    if not data:
        raise ImageError("not_image", "empty file")
    if len(data) > max_bytes:
        raise ImageError("too_large", f"{len(data)} bytes, limit {max_bytes}")
    if data[4:8] == ISO_MEDIA:  # pillow-heif (~5 MB) only once such a file comes
        Image.init()
        _register_heif()
    else:  # the common formats' plugins only, not all of Pillow's (~2 MB)
        Image.preinit()
        from PIL import MpoImagePlugin, WebPImagePlugin  # noqa: F401 (registered on import)
    formats = [f for f in FORMATS if f in Image.OPEN]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("too_large", str(exc)) from None
    except UnidentifiedImageError:
        raise ImageError("not_image", "unknown format") from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError) as exc:
        raise ImageError("broken_image", str(exc) or type(exc).__name__) from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError("broken_image", "empty image")
    if width * height > max_pixels:
        raise ImageError("too_large", f"{width}x{height} pixels, limit {max_pixels}")
    try:
        if img.format in ("JPEG", "MPO") and (reduced or mode == "L"):
            img.draft("L" if mode == "L" else img.mode,
                      (width // 8, height // 8) if reduced else img.size)
        img.load()
        out = _convert(img, mode) if mode and img.mode != mode else img
        _turn_upright(out)  # after `convert`: grey has a third of an RGB frame's bytes
    except ImageError:
        raise
    except MemoryError:
        raise ImageError("too_large", "out of memory") from None
    except Exception as exc:  # Pillow raises many types for damaged data
        raise ImageError("broken_image", str(exc) or type(exc).__name__) from None
    return out


def _convert(img: Image.Image, mode: str) -> Image.Image:
    """`img` in `mode`; 16-bit grey keeps its top 8 bits."""
    if img.mode.startswith("I;16") and mode in ("L", "RGB"):
        import numpy as np  # 16-bit images only: the bot's process rarely needs it

        grey = (np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8)
        out = Image.fromarray(grey).convert(mode)
        out.info = img.info.copy()  # its EXIF orientation still to apply
        return out
    return img.convert(mode)


def _turn_upright(img: Image.Image) -> None:
    """Apply the EXIF orientation in place (an upright picture is not copied); a damaged EXIF
    block is ignored. pillow-heif applies a HEIC file's rotation itself."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:
        return
