"""Read the SIM's ICCID and the charger's serial number from photos of their barcodes.

The SIM card holder carries the ICCID as a 1-D barcode (Code 128, sometimes ITF or Code 39):
19–20 digits whose last is a Luhn check digit. A type plate may carry the serial number as a
1-D code or a QR/Data Matrix code (alone, as `SN:…;…`, or in a URL). One-dimensional codes
are read only up to about 15° of skew, so the photo is also tried turned by 30° and 60°
(zxing-cpp adds the quarter turns itself), then zbar, then upscaled for thin bars.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import zxingcpp
from PIL import Image
from pyzbar import pyzbar

from bot.engine.validators import normalise_iccid
from bot.vision.images import ImageError, load_image
from bot.vision.qrscan import Collector, ScanContext, ScanOutcome, Step, scan, zbar_read, zxing_read

_F = zxingcpp.BarcodeFormat
LINEAR = (_F.Code128, _F.Code39, _F.Code93, _F.ITF, _F.Codabar, _F.EAN13, _F.DataBar)
"""1-D formats tried (EAN-13 and DataBar for serials; ICCIDs are mostly Code 128)."""
ANY = (*LINEAR, _F.QRCode, _F.DataMatrix, _F.MicroQRCode)
_ZBAR_ANY = [
    pyzbar.ZBarSymbol.CODE128,
    pyzbar.ZBarSymbol.CODE39,
    pyzbar.ZBarSymbol.CODE93,
    pyzbar.ZBarSymbol.I25,
    pyzbar.ZBarSymbol.CODABAR,
    pyzbar.ZBarSymbol.EAN13,
    pyzbar.ZBarSymbol.QRCODE,
]


def _rotated(ctx: ScanContext, angle: int) -> np.ndarray:
    def make() -> np.ndarray:
        img = ctx.work.rotate(angle, Image.Resampling.BILINEAR, expand=True, fillcolor=128)
        return np.asarray(img)

    return ctx.cached(f"rot{angle}", make)


def _steps(formats: tuple[zxingcpp.BarcodeFormat, ...]) -> dict[str, Step]:
    """The barcode cascade for the given zxing formats."""

    def full(ctx: ScanContext, col: Collector) -> None:
        zxing_read(ctx, col, np.asarray(ctx.grey), formats=formats, full=True)

    def turned(angle: int) -> Step:
        def step(ctx: ScanContext, col: Collector) -> None:
            # positions in a turned copy are not mapped back; codes found here are decoded
            zxing_read(ctx, col, _rotated(ctx, angle), formats=formats, full=True)

        return step

    def zbar(ctx: ScanContext, col: Collector) -> None:
        zbar_read(ctx, col, ctx.array("work"), symbols=_ZBAR_ANY)

    def up2(ctx: ScanContext, col: Collector) -> None:
        if ctx.work.width * ctx.work.height <= 2_500_000:
            zxing_read(ctx, col, ctx.array("up2"), scale=2.0, formats=formats)

    return {
        "zxing": full,
        "zxing-30": turned(30),
        "zxing-60": turned(60),
        "zbar": zbar,
        "zxing-up2": up2,
    }


_LINEAR_STEPS = _steps(LINEAR)
_ANY_STEPS = _steps(ANY)


def _scan(
    data: bytes, accept: Callable[[str], bool], steps: dict[str, Step], budget_s: float | None
) -> ScanOutcome | None:
    try:
        grey = load_image(data, mode="L")
    except ImageError:
        return None
    except Exception:  # a damaged file must not take the bot down
        return None
    deadline = time.monotonic() + budget_s if budget_s is not None else None
    return scan(grey, accept, deadline=deadline, registry=steps)


def iccid_from_text(text: str) -> str | None:
    """The ICCID in a barcode's text (digits, maybe spaced or with a trailing `F`), or None."""
    digits = re.sub(r"[\s\-]", "", text).upper().removesuffix("F")
    return normalise_iccid(digits)


def read_iccid(data: bytes, *, budget_s: float | None = 6.0) -> str | None:
    """The SIM's ICCID (19–20 digits, Luhn-checked) from a photo of its barcode, or None."""
    outcome = _scan(data, lambda t: iccid_from_text(t) is not None, _LINEAR_STEPS, budget_s)
    if outcome is None:
        return None
    found = {iccid_from_text(s.text) for s in outcome.accepted} - {None}
    return found.pop() if len(found) == 1 else None


def serial_candidates(text: str) -> list[str]:
    """Values in a code's text that may be the serial: the text, URL parameters, `K:V` fields."""
    text = text.strip()
    out = [text]
    try:
        url = urlsplit(text)
        if url.scheme and url.netloc:
            out += [v for _, v in parse_qsl(url.query)]
            out += [p for p in url.path.split("/") if p]
    except ValueError:
        pass
    for part in re.split(r"[;,&\n\r\t]+", text):
        out.append(part)
        if re.match(r"^\s*[A-Za-z/ ._-]{1,20}\s*[:=]", part):
            out.append(re.split(r"[:=]", part, maxsplit=1)[1])
    return [re.sub(r"\s", "", c).upper() for c in out if c.strip()]


def serial_from_text(text: str, pattern: str) -> str | None:
    """The first candidate in `text` that fully matches `pattern`, normalised, or None."""
    rx = re.compile(pattern)
    for cand in serial_candidates(text):
        if rx.fullmatch(cand):
            return cand
    return None


def read_serial(data: bytes, pattern: str, *, budget_s: float | None = 6.0) -> str | None:
    """A serial number matching `pattern` (full match) from a 1-D or 2-D code in the photo."""
    re.compile(pattern)  # a bad pattern is the caller's error, raised here
    outcome = _scan(data, lambda t: serial_from_text(t, pattern) is not None, _ANY_STEPS, budget_s)
    if outcome is None:
        return None
    found = {serial_from_text(s.text, pattern) for s in outcome.accepted} - {None}
    return found.pop() if len(found) == 1 else None
