"""Find and decode codes in a grey photo: a cascade of decoders and image treatments.

The cascade runs cheap, broad steps first (zxing-cpp on the photo as it is) and costlier
rescues later (upscaled, grid resampling of `bot.vision.qrgrid`), and stops
as soon as a step finds a symbol the caller accepts. Steps are skipped once the deadline has passed.
Besides decoded symbols it collects *suspects*: places where a code was seen but not read,
so the caller can tell the user where to look.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import zxingcpp
from PIL import Image, ImageFilter
from pyzbar import pyzbar

from bot.vision import qrfinders, qrgrid

WORK_MAX_SIDE = 2048
"""Longer side of the working copy that every step except the first uses."""

FULL_MODULE_PX = 3.0
"""Module size (working-copy px) of a code located on a reduced working copy from which
zxing-cpp is not run again on the full photo."""

NOISY = 3.0
"""`ScanContext.noise` from which the smoothed grid step runs (sensor noise σ ≳ 9)."""

REF_PX = 1280 * 960
"""Working-copy size for which a CPU allowance is given; larger copies get proportionally more."""

SUSPECT_SCORE = 0.65
"""Grid fits this good that cannot be read are reported as codes seen but unreadable (on
both benchmark corpora, photos without any code yield no grid fit at all)."""


@dataclass(frozen=True)
class Symbol:
    """A decoded code: text, format name, centre and half-size (fractions of the photo's
    width and height), which decoder read it, and its module size in photo px (0: unknown)."""

    text: str
    format: str
    centre: tuple[float, float]
    decoder: str
    extent: tuple[float, float] = (0.0, 0.0)
    module: float = 0.0

    def overlaps(self, other: Symbol, share: float = 0.2) -> bool:
        """True if more than `share` of `other`'s box (or its centre) lies on this code."""
        (cx, cy), (ex, ey) = self.centre, self.extent
        (ox, oy), (fx, fy) = other.centre, other.extent
        if abs(ox - cx) <= ex + 0.02 and abs(oy - cy) <= ey + 0.02:
            return True
        w = min(cx + ex, ox + fx) - max(cx - ex, ox - fx)
        h = min(cy + ey, oy + fy) - max(cy - ey, oy - fy)
        return w > 0 and h > 0 and w * h > share * 4 * fx * fy


@dataclass
class ScanOutcome:
    """What a scan found: all decoded symbols, those accepted, and undecoded code positions."""

    symbols: list[Symbol] = field(default_factory=list)
    accepted: list[Symbol] = field(default_factory=list)
    suspects: list[Symbol] = field(default_factory=list)
    timed_out: bool = False
    capped: bool = False
    """True when the scan stopped at its CPU allowance (`cpu_s`), not at the deadline."""
    steps: list[str] = field(default_factory=list)

    @property
    def halted(self) -> bool:
        """True when steps were skipped (deadline or CPU allowance spent)."""
        return self.timed_out or self.capped


class ScanContext:
    """The photo at the sizes and treatments the steps share (computed once, on demand)."""

    def __init__(
        self, grey: Image.Image, deadline: float | None = None, cpu_s: float | None = None
    ) -> None:
        self.grey = grey
        self.deadline = deadline
        w, h = grey.size
        factor = max(1, int(np.ceil(max(w, h) / WORK_MAX_SIDE)))
        self.work = grey.reduce(factor) if factor > 1 else grey
        self.cpu_limit = (
            None if cpu_s is None
            else time.process_time() + cpu_s * max(1.0, self.work.width * self.work.height / REF_PX)
        )
        self.work_scale = (w / self.work.width, h / self.work.height)
        self._cache: dict[str, np.ndarray] = {}
        self._maps: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def array(self, key: str) -> np.ndarray:
        """The working copy as uint8 (`work`), blurred (`blur1`), inverted (`inv`) …"""
        if key not in self._cache:
            if key == "work":
                arr = np.asarray(self.work)
            elif key == "blur1":
                arr = np.asarray(self.work.filter(ImageFilter.GaussianBlur(1.0)))
            elif key == "up2":
                w = self.work
                arr = np.asarray(w.resize((w.width * 2, w.height * 2), Image.Resampling.BICUBIC))
            elif key == "inv":
                arr = 255 - self.array("work")
            else:  # pragma: no cover - programming error
                raise KeyError(key)
            self._cache[key] = np.ascontiguousarray(arr)
        return self._cache[key]

    def noise(self) -> float:
        """The photo's noise: median absolute difference of horizontal neighbours (of 255)."""
        if "noise" not in self._cache:
            rows = self.array("work")[::8].astype(np.int16)
            self._cache["noise"] = np.array(np.median(np.abs(np.diff(rows, axis=1))))
        return float(self._cache["noise"])

    def expired(self) -> bool:
        """True once the scan's deadline has passed or its CPU allowance is spent."""
        return self._late() or (
            self.cpu_limit is not None and time.process_time() > self.cpu_limit)

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def halt(self, col: Collector) -> None:
        """Mark the scan as stopped early: timed out (deadline) or capped (CPU allowance)."""
        if self._late():
            col.outcome.timed_out = True
        else:
            col.outcome.capped = True

    def cached(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """An array derived from the photo, made once per scan."""
        if key not in self._cache:
            self._cache[key] = np.ascontiguousarray(make())
        return self._cache[key]

    def blurred(self, key: str, sigma: float) -> np.ndarray:
        """`array(key)` after a Gaussian blur, as float32 (cached)."""
        name = f"{key}@{sigma}"
        if name not in self._cache:
            img = Image.fromarray(self.array(key)).filter(ImageFilter.GaussianBlur(sigma))
            self._cache[name] = np.asarray(img, np.float32)
        return self._cache[name]

    def blurred_near(self, key: str, sigma: float, quads: list[np.ndarray]) -> np.ndarray:
        """`blurred(key, sigma)` around the fitted `quads` (each widened by half its size), zero
        elsewhere: the same values where the fits are read, without blurring the whole copy."""
        name = f"{key}@{sigma}"
        arr = self.array(key)
        h, w = arr.shape
        boxes = []
        for q in quads:
            (x0, y0), (x1, y1) = q.min(axis=0), q.max(axis=0)
            pad = 0.5 * max(x1 - x0, y1 - y0) + 2
            boxes.append((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        x0, y0 = (max(0, int(min(b[k] for b in boxes))) for k in (0, 1))
        x1, y1 = (int(max(b[k] for b in boxes)) + 1 for k in (2, 3))
        x1, y1 = min(w, x1), min(h, y1)
        if name in self._cache or (x1 - x0) * (y1 - y0) > 0.4 * w * h or x1 <= x0 or y1 <= y0:
            return self.blurred(key, sigma)
        reach = 8 + int(8 * sigma)  # beyond the blur's reach, the crop's edge changes nothing
        bx0, by0, bx1, by1 = max(0, x0 - reach), max(0, y0 - reach), min(w, x1 + reach), min(
            h, y1 + reach)
        part = Image.fromarray(arr[by0:by1, bx0:bx1]).filter(ImageFilter.GaussianBlur(sigma))
        out = np.zeros((h, w), np.float32)
        out[y0:y1, x0:x1] = np.asarray(part, np.float32)[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        return out

    def contrast(self, blur: float, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """`qrfinders.contrast_map` of the (blurred) working copy, shared by both polarities."""
        name = f"contrast@{blur}/{radius}"
        if name not in self._maps:
            src = self.blurred("work", blur) if blur else self.array("work")
            self._maps[name] = qrfinders.contrast_map(src, radius)
        return self._maps[name]

    def frac(self, x: float, y: float, scale: float = 1.0) -> tuple[float, float]:
        """Working-copy coordinates (divided by `scale`) as fractions of the photo."""
        return (
            min(max(x / scale / self.work.width, 0.0), 1.0),
            min(max(y / scale / self.work.height, 0.0), 1.0),
        )


Step = Callable[[ScanContext, "Collector"], None]


def suspect(centre: tuple[float, float], extent: tuple[float, float],
            module: float = 0.0) -> Symbol:
    """A QR code located but not read, where it is, how big and its module size (px)."""
    return Symbol("", "QRCode", centre, "suspect", extent, module)


class Collector:
    """Gathers symbols and suspects during a scan."""

    def __init__(self, accept: Callable[[str], bool]) -> None:
        self.accept = accept
        self.outcome = ScanOutcome()
        self._seen: set[str] = set()

    def symbol(self, sym: Symbol) -> None:
        if not sym.text:
            return
        if sym.text not in self._seen:
            self._seen.add(sym.text)
            self.outcome.symbols.append(sym)
        if self.accept(sym.text) and all(s.text != sym.text for s in self.outcome.accepted):
            self.outcome.accepted.append(sym)

    def suspect(
        self, centre: tuple[float, float], extent: tuple[float, float], module: float = 0.0
    ) -> None:
        self.outcome.suspects.append(suspect(centre, extent, module))


# ---------------------------------------------------------------------------------------------
# Decoder wrappers

_QR = zxingcpp.BarcodeFormat.QRCode


def _centre(points: Iterable[tuple[float, float]]) -> tuple[float, float]:
    pts = list(points)
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def _extent(
    points: Iterable[tuple[float, float]], width: float, height: float
) -> tuple[float, float]:
    """Half the bounding box of `points` as fractions of `width` and `height`."""
    pts = list(points)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return (max(xs) - min(xs)) / 2 / width, (max(ys) - min(ys)) / 2 / height


def zxing_read(
    ctx: ScanContext,
    col: Collector,
    arr: np.ndarray,
    *,
    scale: float = 1.0,
    name: str = "zxing",
    formats: zxingcpp.BarcodeFormat | tuple[zxingcpp.BarcodeFormat, ...] = _QR,
    full: bool = False,
    located: bool = True,
    **kw: object,
) -> list[Symbol]:
    """Run zxing-cpp on an array of the working copy (or of the full photo when `full`).

    Returns the QR codes it located but could not read; with `located` they also become
    suspects."""
    seen: list[Symbol] = []
    for bc in zxingcpp.read_barcodes(
        arr, formats=formats, text_mode=zxingcpp.TextMode.Plain, return_errors=True, **kw
    ):
        p = bc.position
        pts = [(q.x, q.y) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        cx, cy = _centre(pts)
        full_frac = (cx / ctx.grey.width, cy / ctx.grey.height)
        centre = full_frac if full else ctx.frac(cx, cy, scale)
        if full:
            extent = _extent(pts, ctx.grey.width, ctx.grey.height)
        else:
            extent = _extent(pts, ctx.work.width * scale, ctx.work.height * scale)
        if bc.valid and bc.text:
            fmt = str(bc.format).split(".")[-1]
            col.symbol(Symbol(bc.text, fmt, centre, name, extent))
        elif bc.format == _QR and any(pts[0]):
            px = 1.0 if full else ctx.work_scale[0] / scale
            seen.append(suspect(centre, extent, _zxing_module(bc, pts, px)))
    if located:
        col.outcome.suspects.extend(seen)
    return seen


def _zxing_module(bc: zxingcpp.Barcode, pts: list[tuple[float, float]], scale: float) -> float:
    """Module size (photo px) of a located code whose version zxing-cpp reports, else 0."""
    try:
        version = int((bc.extra or {}).get("Version", 0))
    except (TypeError, ValueError):
        return 0.0
    if version <= 0:
        return 0.0
    side = float(np.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]))
    return side * scale / (17 + 4 * version)


def zbar_read(
    ctx: ScanContext,
    col: Collector,
    arr: np.ndarray,
    *,
    scale: float = 1.0,
    name: str = "zbar",
    symbols: Sequence[pyzbar.ZBarSymbol] = (pyzbar.ZBarSymbol.QRCODE,),
) -> None:
    """Run zbar (pyzbar) on an array of the working copy."""
    h, w = arr.shape
    for res in pyzbar.decode((arr.tobytes(), w, h), symbols=list(symbols)):
        pts = [(p.x, p.y) for p in res.polygon] or [(res.rect.left, res.rect.top)]
        text = res.data.decode("utf-8", errors="replace")
        extent = _extent(pts, ctx.work.width * scale, ctx.work.height * scale)
        col.symbol(Symbol(text, str(res.type), ctx.frac(*_centre(pts), scale), name, extent))


# ---------------------------------------------------------------------------------------------
# Steps of the QR cascade


def step_zxing_full(ctx: ScanContext, col: Collector) -> None:
    """zxing-cpp on the full-resolution photo (it tries rotations, inversion, downscales).

    A photo larger than the working copy (12 MP) is read on the working copy first, at a
    fifth of the cost, where a phone photo's code reads. The full photo follows, without the
    inverted tries the first pass made, unless that pass read the sticker or located a code
    with modules of `FULL_MODULE_PX` or more there (more pixels would not make it readable).
    """
    if ctx.work is not ctx.grey:
        seen = zxing_read(ctx, col, ctx.array("work"), name="zxing", located=False)
        if col.outcome.accepted:
            return
        if any(s.module >= FULL_MODULE_PX * ctx.work_scale[0] for s in seen):
            col.outcome.suspects.extend(seen)
            return
    invert = ctx.work is ctx.grey
    zxing_read(ctx, col, np.asarray(ctx.grey), full=True, name="zxing", try_invert=invert)


def step_zxing_up2(ctx: ScanContext, col: Collector) -> None:
    """zxing-cpp on the working copy upscaled twice (tiny modules)."""
    if ctx.work.width * ctx.work.height > 2_500_000:
        return
    zxing_read(ctx, col, ctx.array("up2"), scale=2.0, name="zxing-up2", try_downscale=False)


def _zxing_clean(img: np.ndarray) -> list[str]:
    found = zxingcpp.read_barcodes(
        img,
        formats=_QR,
        text_mode=zxingcpp.TextMode.Plain,
        is_pure=True,
        try_rotate=False,
        try_invert=False,
        try_downscale=False,
    )
    return [bc.text for bc in found if bc.valid and bc.text]


def _zbar_clean(img: np.ndarray) -> list[str]:
    h, w = img.shape
    found = pyzbar.decode((img.tobytes(), w, h), symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [r.data.decode("utf-8", errors="replace") for r in found]


def _grid(
    ctx: ScanContext,
    col: Collector,
    radius: int,
    blur: float,
    invert: bool,
    read_clean: Callable[[np.ndarray], list[str]] = _zxing_clean,
    denoise: float = 0.0,
) -> None:
    key = "inv" if invert else "work"
    src = ctx.blurred(key, denoise) if denoise else ctx.array(key).astype(np.float32)
    finders = qrfinders.find_finders(
        src, invert=invert, radius=radius, limit=24, contrast=ctx.contrast(blur, radius)
    )
    fits = qrgrid.fit_codes(src, finders, stop=ctx.expired)
    if fits:
        soft = ctx.blurred_near(key, denoise + 0.5, [f.quad for f in fits])
        _read_fits(ctx, col, src, soft, fits, read_clean)


def _read_fits(
    ctx: ScanContext,
    col: Collector,
    src: np.ndarray,
    soft: np.ndarray,
    fits: list[qrgrid.GridFit],
    read_clean: Callable[[np.ndarray], list[str]] = _zxing_clean,
    origin: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    bend: bool = True,
) -> None:
    """Read fitted codes of `src` (a crop of the working copy at `origin`, `scale` times as
    large, or the whole of it), with `bend` also as a curved label; unread good fits become
    suspects."""

    def read(fit: qrgrid.GridFit) -> str | None:
        seen: set[bytes] = set()
        for bits in qrgrid.read_modules(src, fit, (soft,)):
            packed = np.packbits(bits).tobytes()
            if packed not in seen:
                seen.add(packed)
                texts = read_clean(qrgrid.render(bits))
                if texts:
                    return texts[0]
        return None

    for fit in fits:
        if ctx.expired():
            ctx.halt(col)
            return
        text = read(fit)
        if text is None and bend and fit.score >= 0.8 and not ctx.expired():  # curved label?
            bent = qrgrid.bend(src, fit)
            if bent is not fit:
                text = read(bent)
        quad = fit.quad / scale + origin
        centre = ctx.frac(*quad.mean(axis=0))
        extent = _extent(quad.tolist(), ctx.work.width, ctx.work.height)
        if text is not None:
            col.symbol(Symbol(text, "QRCode", centre, "grid", extent))
        elif fit.score >= SUSPECT_SCORE:
            col.suspect(centre, extent, fit.module / scale * ctx.work_scale[0])


def step_grid(ctx: ScanContext, col: Collector) -> None:
    """Grid resampling around finder patterns (small radius, raw pixels)."""
    _grid(ctx, col, radius=8, blur=0.0, invert=False)


def step_grid_denoise(ctx: ScanContext, col: Collector) -> None:
    """Grid resampling of a smoothed copy, for photos with strong sensor noise only."""
    if ctx.noise() >= NOISY:
        _grid(ctx, col, radius=8, blur=0.8, invert=False, denoise=0.8)


CROP_UP = 2
"""Upscaling of the crops the grid reads around places where a code may be."""

MATCHED_REFINE = 2
"""Grid fits `step_grid_matched` refines per crop and in the whole copy (`fit_codes`
refines 6 by default; 2 read as many photos of the harder corpus in half the time)."""

MATCHED_CROPS = 4
"""Regions around the strongest matched-filter finder candidates that `step_grid_matched`
reads at `CROP_UP` (the code was in the first four on the harder corpus)."""


def _grid_in_box(
    ctx: ScanContext, col: Collector, box: tuple[int, int, int, int], max_refine: int = 6
) -> None:
    """Grid resampling of a `CROP_UP`× upscaled crop (`box`: left, top, right, bottom),
    refining the best `max_refine` starts."""
    work = ctx.work
    box = (max(0, box[0]), max(0, box[1]), min(work.width, box[2]), min(work.height, box[3]))
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        return
    crop = work.crop(box)
    up = crop.resize((crop.width * CROP_UP, crop.height * CROP_UP), Image.Resampling.BICUBIC)
    src = np.asarray(up, np.float32)
    finders = qrfinders.find_finders(src, radius=8 * CROP_UP, limit=24)
    fits = qrgrid.fit_codes(src, finders, max_refine=max_refine, stop=ctx.expired)
    if fits:
        soft = np.asarray(up.filter(ImageFilter.GaussianBlur(CROP_UP * 0.5)), np.float32)
        _read_fits(ctx, col, src, soft, fits, origin=box[:2], scale=CROP_UP, bend=False)


def step_grid_crop(ctx: ScanContext, col: Collector) -> None:
    """Grid resampling of a 2× upscaled crop around each code located but not read so far.

    zxing-cpp locates small tilted or curved codes whose checksum then fails; at twice the
    size their finder patterns show up as clean runs and the grid fit gets a finer start.
    """
    done: list[Symbol] = []
    for sus in list(col.outcome.suspects):
        if ctx.expired():
            ctx.halt(col)
            return
        if any(d.overlaps(sus, 0.5) for d in done):
            continue
        done.append(sus)
        (cx, cy), (ex, ey) = sus.centre, sus.extent
        w, h = ctx.work.size
        _grid_in_box(
            ctx,
            col,
            (
                int((cx - 1.8 * ex) * w),
                int((cy - 1.8 * ey) * h),
                int((cx + 1.8 * ex) * w) + 1,
                int((cy + 1.8 * ey) * h) + 1,
            ),
        )
        if col.outcome.accepted:
            return


def step_grid_matched(ctx: ScanContext, col: Collector) -> None:
    """Grid resampling where matched filtering finds finder patterns that noise hides.

    First a 2× upscaled crop around each of the strongest few candidates (±30 modules: the
    whole code, whichever finder it is), then one fit over all candidates on a smoothed copy.
    """
    finders = qrfinders.match_finders(ctx.array("work"))
    done: list[qrfinders.Finder] = []
    for f in finders:
        if len(done) >= MATCHED_CROPS or col.outcome.accepted:
            break
        if ctx.expired():
            ctx.halt(col)
            return
        if any(np.hypot(f.x - d.x, f.y - d.y) < 20 * d.module for d in done):
            continue
        done.append(f)
        r = int(30 * f.module)
        box = (int(f.x) - r, int(f.y) - r, int(f.x) + r, int(f.y) + r)
        _grid_in_box(ctx, col, box, MATCHED_REFINE)
    if col.outcome.accepted or ctx.expired():
        return
    src = ctx.blurred("work", 0.8)
    fits = qrgrid.fit_codes(src, finders, max_refine=MATCHED_REFINE, stop=ctx.expired)
    if fits:
        soft = ctx.blurred_near("work", 1.3, [f.quad for f in fits])
        _read_fits(ctx, col, src, soft, fits, bend=False)


def step_grid_inverted(ctx: ScanContext, col: Collector) -> None:
    """Grid resampling for light-on-dark codes."""
    _grid(ctx, col, radius=8, blur=0.0, invert=True)


QR_STEPS: dict[str, Step] = {
    "zxing": step_zxing_full,
    "zxing-up2": step_zxing_up2,
    "grid-crop": step_grid_crop,
    "grid": step_grid,
    "grid-denoise": step_grid_denoise,
    "grid-inverted": step_grid_inverted,
    "grid-matched": step_grid_matched,
}
"""The QR cascade, in order (zbar read nothing the others did not on three corpora: dropped)."""


def _zbar_array(ctx: ScanContext, col: Collector, key: str, scale: float = 1.0) -> None:
    zbar_read(ctx, col, ctx.array(key), scale=scale, name=f"zbar-{key}")


QR_STEPS_ZBAR_ONLY: dict[str, Step] = {
    "zbar": lambda ctx, col: _zbar_array(ctx, col, "work"),
    "zbar-blur": lambda ctx, col: _zbar_array(ctx, col, "blur1"),
    "zbar-inverted": lambda ctx, col: _zbar_array(ctx, col, "inv"),
    "grid": lambda ctx, col: _grid(ctx, col, 8, 0.0, False, _zbar_clean),
    "zbar-up2": lambda ctx, col: _zbar_array(ctx, col, "up2", 2.0),
    "grid-inverted": lambda ctx, col: _grid(ctx, col, 8, 0.0, True, _zbar_clean),
}
"""The same cascade without zxing-cpp (zbar everywhere): for the benchmark's comparison."""


def scan(
    grey: Image.Image,
    accept: Callable[[str], bool],
    *,
    deadline: float | None = None,
    steps: Sequence[str] | None = None,
    registry: dict[str, Step] | None = None,
    cpu_s: float | None = None,
) -> ScanOutcome:
    """Run the cascade on a grey image until a step yields an accepted symbol.

    `deadline` is a `time.monotonic()` value; steps not started before it are skipped and
    the outcome is marked `timed_out`. With `cpu_s`, no step starts once this process has
    spent that much CPU time on the scan (scaled up for working copies above `REF_PX`); the
    outcome is then marked `capped` and reports what was found so far.
    """
    registry = registry or QR_STEPS
    ctx = ScanContext(grey, deadline, cpu_s)
    col = Collector(accept)
    for name in steps or list(registry):
        if col.outcome.halted or ctx.expired():
            if not col.outcome.halted:
                ctx.halt(col)
            break
        registry[name](ctx, col)
        col.outcome.steps.append(name)
        if col.outcome.accepted:
            break
    return col.outcome
