"""What to tell the installer when a code is seen but not read: closer, steadier, more light.

`advise(grey, suspect)` measures the located code's region of the photo — its module size
(from the fitted grid or zxing-cpp's version), its brightness and contrast, and its sharpness
as the width of its edges (contrast over the strong gradients: a sharp edge is about 2.5 px
wide after the camera's own softening, a blurred one about 2.5 σ wider) — and returns an
`Advice`, or None when nothing in particular is wrong with the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from PIL import Image, ImageFilter

if TYPE_CHECKING:
    from bot.vision.qrscan import Symbol

MIN_MODULE_PX = 3.0
"""Modules smaller than this (px in the photo as read) are too small: move closer."""

MAX_EDGE_PER_MODULE = 0.9
"""Edges wider than this many modules blur neighbouring modules together: hold still."""

MIN_CONTRAST = 30.0
"""A code region (in light enough) whose dark and light differ by less (of 255) is blurred."""

MIN_LIGHT = 45.0
"""A code region whose light modules are darker than this (of 255) is in the dark."""


class Tip(StrEnum):
    """The one thing to change for the next photo."""

    CLOSER = "closer"
    STEADY = "steady"
    LIGHT = "light"


@dataclass(frozen=True)
class Advice:
    """A tip and the measurements it came from (module and edge width in photo pixels)."""

    kind: Tip
    module_px: float
    edge_px: float
    contrast: float


def measure(grey: Image.Image, suspect: Symbol) -> tuple[float, float, float]:
    """(edge width px, contrast, light level) of the suspect's region of the grey photo."""
    import numpy as np  # here, not at import: the bot's own process has no use for NumPy

    w, h = grey.size
    (cx, cy), (ex, ey) = suspect.centre, suspect.extent
    ex, ey = max(ex, 8 / w), max(ey, 8 / h)
    box = (
        max(int((cx - ex) * w), 0),
        max(int((cy - ey) * h), 0),
        min(int((cx + ex) * w) + 1, w),
        min(int((cy + ey) * h) + 1, h),
    )
    crop = grey.crop(box)
    a = np.asarray(crop, np.float32)
    lo, hi = np.percentile(a, (5, 95))
    contrast = float(hi - lo)
    soft = np.asarray(crop.filter(ImageFilter.GaussianBlur(0.7)), np.float32)
    gy, gx = np.gradient(soft)
    steep = float(np.percentile(np.hypot(gx, gy), 95))
    edge = contrast / steep if steep > 0 else float("inf")
    return edge, contrast, float(hi)


def advise(grey: Image.Image, suspect: Symbol) -> Advice | None:
    """The tip for a code that was located but not read, or None (nothing measurable wrong)."""
    edge, contrast, light = measure(grey, suspect)
    module = suspect.module

    def tip(kind: Tip) -> Advice:
        return Advice(kind, round(module, 2), round(edge, 2), round(contrast, 1))

    if light < MIN_LIGHT:
        return tip(Tip.LIGHT)
    if 0 < module < MIN_MODULE_PX:
        return tip(Tip.CLOSER)
    if contrast < MIN_CONTRAST or (module > 0 and edge > MAX_EDGE_PER_MODULE * module):
        return tip(Tip.STEADY)  # blur spreads the edges and, at worst, evens out the contrast
    return None
