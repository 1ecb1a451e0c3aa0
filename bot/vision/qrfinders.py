"""Finder patterns: where a QR code may be, for the grid rescue of `bot.vision.qrgrid`.

Two locators: `find_finders` looks for 1:1:3:1:1 dark-light runs on a noise-aware local
threshold (both directions); `match_finders` filters for the pattern's rings by box means at a
few module sizes, which survives noise that breaks the runs. Both return `Finder` candidates,
strongest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Finder:
    """A finder-pattern candidate: centre, module size (px) and support (number of hits)."""

    x: float
    y: float
    module: float
    support: float


# ---------------------------------------------------------------------------------------------
# Small numpy helpers


def box_sum(a: np.ndarray, r: int) -> np.ndarray:
    """Sum over a (2r+1)² window around every pixel (edges replicated), same shape as `a`."""
    p = np.pad(a.astype(np.float64), ((r + 1, r), (r + 1, r)), mode="edge")
    s = p.cumsum(0).cumsum(1)
    k = 2 * r + 1
    return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]).astype(np.float32)


def box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window around every pixel."""
    return box_sum(a, r) / float((2 * r + 1) ** 2)


def _box3(a: np.ndarray) -> np.ndarray:
    """`box_sum(a, 1)` of an array of small whole numbers (exact either way), by shifted adds."""
    p = np.pad(a, 1, mode="edge")
    rows = p[:-2] + p[1:-1]
    rows += p[2:]
    out = rows[:, :-2] + rows[:, 1:-1]
    out += rows[:, 2:]
    return out


def max_filter(a: np.ndarray, r: int) -> np.ndarray:
    """Maximum over a (2r+1)² window (outside the image counts as -inf): rows, then columns."""
    h, w = a.shape
    pad = np.pad(a, ((0, 0), (r, r)), constant_values=-np.inf)
    rows = a.copy()
    for dx in range(-r, r + 1):
        if dx:
            np.maximum(rows, pad[:, r + dx : r + dx + w], out=rows)
    pad = np.pad(rows, ((r, r), (0, 0)), constant_values=-np.inf)
    out = rows.copy()
    for dy in range(-r, r + 1):
        if dy:
            np.maximum(out, pad[r + dy : r + dy + h], out=out)
    return out


# ---------------------------------------------------------------------------------------------
# Finder patterns


def contrast_map(a: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Local darkness `d` (local mean minus pixel) and local deviation, both int16.

    Where the deviation is within the image noise, `dev` is set to 0 (flat: nothing there).
    """
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8, copy=False))
    grey = np.asarray(img, np.int16)
    mu = np.asarray(img.filter(ImageFilter.BoxBlur(radius)), np.int16)
    d = mu - grey
    dev_img = Image.fromarray(np.abs(d).astype(np.uint8))
    dev = np.asarray(dev_img.filter(ImageFilter.BoxBlur(radius)), np.int16)  # ≈ 0.8 σ
    noise = int(np.median(np.abs(np.diff(grey[::8], axis=1)))) + 1
    dev[dev * 4 <= noise * 8] = 0
    return d, dev


def binarise(
    a: np.ndarray,
    radius: int,
    invert: bool = False,
    contrast: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Dark (or, inverted, light) pixels by local mean, ignoring areas flat up to the noise."""
    d, dev = contrast if contrast is not None else contrast_map(a, radius)
    if invert:
        return (d * -16 > dev * 3) & (dev > 0)
    return (d * 16 > dev * 3) & (dev > 0)


def _runs(b: np.ndarray) -> np.ndarray:
    """Rows of (row, centre, module) where a row shows dark-light-dark-light-dark as 1:1:3:1:1."""
    h, w = b.shape
    bb = b.view(np.int8) if b.dtype == np.bool_ else b.astype(np.int8)
    change = np.ones((h, w), bool)
    change[:, 1:] = bb[:, 1:] != bb[:, :-1]
    rows, starts = np.nonzero(change)
    n = len(starts)
    if n < 5:
        return np.zeros((0, 3), np.float32)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    last = np.ones(n, bool)
    last[:-1] = rows[1:] != rows[:-1]
    ends[last] = w
    lens = ends - starts
    dark = bb[rows, starts] == 1
    i = np.arange(n - 4)
    i = i[(rows[i] == rows[i + 4]) & dark[i]]
    runs = np.stack([lens[i + k] for k in range(5)]).astype(np.float32)
    total = runs.sum(0)
    u = total / 7.0
    tol = 0.75 * u
    ok = total >= 9.0
    for k in (0, 1, 3, 4):
        ok &= np.abs(runs[k] - u) < tol
    ok &= np.abs(runs[2] - 3 * u) < 2 * tol
    idx = i[ok]
    centre = starts[idx + 2] + lens[idx + 2] / 2.0
    return np.stack([rows[idx].astype(np.float32), centre.astype(np.float32), u[ok]], 1)


def find_finders(
    a: np.ndarray,
    *,
    invert: bool = False,
    radius: int | None = None,
    limit: int = 16,
    contrast: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Finder]:
    """Finder-pattern candidates in a grey image, strongest first (`invert`: light-on-dark).

    `contrast` is `contrast_map(a, radius)` when the caller already has it.
    """
    h, w = a.shape
    radius = radius or max(8, min(h, w) // 40)
    b = binarise(a, radius, invert, contrast)
    hor = _runs(b)  # (y, x, u)
    ver = _runs(np.ascontiguousarray(b.T))  # (x, y, u)
    if len(hor) == 0 or len(ver) == 0:
        return []
    cell = 3
    gh, gw = h // cell + 1, w // cell + 1

    def acc(xs: np.ndarray, ys: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
        m = np.zeros((gh, gw), np.float32)
        np.add.at(m, ((ys // cell).astype(np.intp), (xs // cell).astype(np.intp)), weight)
        return m

    hc = _box3(acc(hor[:, 1], hor[:, 0], 1.0))
    vc = _box3(acc(ver[:, 0], ver[:, 1], 1.0))
    usum = box_sum(acc(hor[:, 1], hor[:, 0], hor[:, 2]), 1)
    usum += box_sum(acc(ver[:, 0], ver[:, 1], ver[:, 2]), 1)
    support = np.minimum(hc, vc)
    peaks = np.argwhere((support >= max_filter(support, 2)) & (support >= 2))
    if len(peaks) == 0:
        return []
    order = np.argsort(-support[peaks[:, 0], peaks[:, 1]], kind="stable")
    found: list[Finder] = []
    for py, px in peaks[order]:
        u = float(usum[py, px] / max(hc[py, px] + vc[py, px], 1.0))
        x, y = (px + 0.5) * cell, (py + 0.5) * cell
        if any(np.hypot(f.x - x, f.y - y) < max(3.5 * f.module, 6) for f in found):
            continue
        found.append(Finder(x, y, u, float(support[py, px])))
        if len(found) >= limit:
            break
    return found


def _box_blur_every(img: Image.Image, r: float, step: int) -> np.ndarray:
    """Every `step`-th pixel of `img` after Pillow's `BoxBlur(r)`, bit for bit.

    Pillow blurs the rows, rounds, then blurs the columns: so the column pass need only run on
    the columns kept (as rows of the transposed image), which saves a third of the time.
    """
    rows = np.asarray(img.filter(ImageFilter.BoxBlur((r, 0))))[:, ::step]
    cols = Image.fromarray(np.ascontiguousarray(rows.T)).filter(ImageFilter.BoxBlur((r, 0)))
    return np.ascontiguousarray(np.asarray(cols)[:, ::step].T)


def match_finders(
    a: np.ndarray, modules: tuple[float, ...] = (2.0, 2.4, 2.9), limit: int = 16
) -> list[Finder]:
    """Finder-pattern candidates by matched filtering, for noise that breaks run-lengths.

    At each module size u, box means over 3u, 5u, 7u and 9u squares give the mean of the dark
    centre, the light ring, the dark ring and the light separator; a finder is where all three
    steps between them have the right sign (score: the smallest step, grey levels). Averaging
    over whole rings is what survives noise that breaks 1:1:3:1:1 runs. The score is taken
    every second pixel (the grid fit refines the centres). Strongest first.
    """
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8, copy=False))
    step = 2
    best: np.ndarray | None = None
    size: np.ndarray | None = None
    for u in modules:
        means, areas = [], []
        for k in (3, 5, 7, 9):
            r = (k * u - 1) / 2
            means.append(_box_blur_every(img, r, step))
            areas.append((2 * r + 1) ** 2)
        c = means[0].astype(np.float32)
        rings = []
        for k in (1, 2, 3):  # sums over the larger box minus the smaller, per area
            ring = means[k] * np.float32(areas[k])  # uint8 × float32: as float32 × area
            ring -= means[k - 1] * np.float32(areas[k - 1])
            ring /= areas[k] - areas[k - 1]
            rings.append(ring)
        ring1, ring2, ring3 = rings
        score = np.minimum(ring1 - c, ring1 - ring2)
        np.minimum(score, np.subtract(ring3, ring2, out=ring3), out=score)
        if best is None or size is None:
            best, size = score, np.full(score.shape, u, np.float32)
        else:
            size[score > best] = u
            np.maximum(best, score, out=best)
    assert best is not None and size is not None
    peaks = np.argwhere((best >= max_filter(best, 2)) & (best > 4.0))
    order = np.argsort(-best[peaks[:, 0], peaks[:, 1]], kind="stable")
    found: list[Finder] = []
    for py, px in peaks[order][: limit * 8]:
        x, y, u = float(px * step), float(py * step), float(size[py, px])
        if any(np.hypot(f.x - x, f.y - y) < 3.5 * f.module for f in found):
            continue
        found.append(Finder(x, y, u, float(best[py, px])))
        if len(found) >= limit:
            break
    return found
