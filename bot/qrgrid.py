"""Last-resort QR reading: find finder patterns, fit the module grid, resample it cleanly.

General decoders sample one binarised pixel per module, which fails on small (2–3 px), blurred,
noisy and tilted codes. Here the three finder patterns give a rough grid; the grid's eight corner
coordinates are then refined until the code's known modules (finders, separators, timing and
alignment patterns) match the image best; each module is read relative to its neighbourhood and
the result is drawn as a clean, upright code for a general decoder (whose Reed–Solomon check
still guards the content). The same search tells where a code is when it cannot be read.
Only numpy is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from PIL import Image, ImageFilter

# Centre coordinates of alignment patterns, by version (ISO/IEC 18004 Annex E).
_ALIGN: list[list[int]] = [
    [],
    [],
    [6, 18],
    [6, 22],
    [6, 26],
    [6, 30],
    [6, 34],
    [6, 22, 38],
    [6, 24, 42],
    [6, 26, 46],
    [6, 28, 50],
    [6, 30, 54],
    [6, 32, 58],
    [6, 34, 62],
    [6, 26, 46, 66],
    [6, 26, 48, 70],
]
MAX_VERSION = len(_ALIGN) - 1


@dataclass(frozen=True)
class Finder:
    """A finder-pattern candidate: centre, module size (px) and support (number of hits)."""

    x: float
    y: float
    module: float
    support: float


@dataclass(frozen=True, eq=False)
class GridFit:
    """A fitted code: corner quad (tl, tr, br, bl in image px), version, and match score (0–1)."""

    quad: np.ndarray
    version: int
    score: float

    @property
    def centre(self) -> tuple[float, float]:
        """The centre of the quad in image coordinates."""
        c = self.quad.mean(axis=0)
        return float(c[0]), float(c[1])


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


def _max_filter(a: np.ndarray, r: int) -> np.ndarray:
    h, w = a.shape
    pad = np.pad(a, r, constant_values=-np.inf)
    out = a.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx or dy:
                np.maximum(out, pad[r + dy : r + dy + h, r + dx : r + dx + w], out=out)
    return out


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3×3 projective map taking four `src` points to four `dst` points."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    c = np.linalg.solve(np.asarray(rows, float), np.asarray(rhs, float))
    return np.append(c, 1.0).reshape(3, 3)


def _bilinear(a: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = a.shape
    u = np.clip(u, 0, w - 1.001)
    v = np.clip(v, 0, h - 1.001)
    x0 = u.astype(np.intp)
    y0 = v.astype(np.intp)
    fx = u - x0
    fy = v - y0
    top = a[y0, x0] * (1 - fx) + a[y0, x0 + 1] * fx
    bottom = a[y0 + 1, x0] * (1 - fx) + a[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


# ---------------------------------------------------------------------------------------------
# Finder patterns


def pil_box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Fast box mean of an 8-bit image (Pillow's BoxBlur), as float32."""
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return np.asarray(img.filter(ImageFilter.BoxBlur(r)), np.float32)


def binarise(a: np.ndarray, radius: int, invert: bool = False) -> np.ndarray:
    """Dark (or, inverted, light) pixels by local mean, ignoring areas flat up to the noise."""
    a = a.astype(np.float32, copy=False)
    mu = pil_box_mean(a, radius)
    dev = pil_box_mean(np.abs(a - mu), radius) * 1.25  # ≈ local standard deviation
    noise = float(np.median(np.abs(np.diff(a[::4], axis=1)))) + 1.0
    d = (a - mu) if invert else (mu - a)
    return (d > 0.15 * dev) & (dev > 2.5 * noise)


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
    a: np.ndarray, *, invert: bool = False, radius: int | None = None, limit: int = 16
) -> list[Finder]:
    """Finder-pattern candidates in a grey image (float32), strongest first."""
    h, w = a.shape
    radius = radius or max(8, min(h, w) // 40)
    b = binarise(a, radius, invert)
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

    hc = box_sum(acc(hor[:, 1], hor[:, 0], 1.0), 1)
    vc = box_sum(acc(ver[:, 0], ver[:, 1], 1.0), 1)
    usum = box_sum(acc(hor[:, 1], hor[:, 0], hor[:, 2]), 1)
    usum += box_sum(acc(ver[:, 0], ver[:, 1], ver[:, 2]), 1)
    support = np.minimum(hc, vc)
    peaks = np.argwhere((support >= _max_filter(support, 2)) & (support >= 2))
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


# ---------------------------------------------------------------------------------------------
# Grid fitting


def function_pattern(version: int) -> tuple[np.ndarray, np.ndarray]:
    """(known, dark) boolean N×N matrices of a version's fixed modules."""
    n = 17 + 4 * version
    known = np.zeros((n, n), bool)
    dark = np.zeros((n, n), bool)
    for r0, c0 in ((0, 0), (0, n - 7), (n - 7, 0)):
        for i in range(-1, 8):
            for j in range(-1, 8):
                r, c = r0 + i, c0 + j
                if 0 <= r < n and 0 <= c < n:
                    d = max(abs(i - 3), abs(j - 3))
                    known[r, c] = True
                    dark[r, c] = d <= 3 and d != 2
    for k in range(8, n - 8):
        known[6, k] = known[k, 6] = True
        dark[6, k] = dark[k, 6] = k % 2 == 0
    pos = _ALIGN[version]
    for r in pos:
        for c in pos:
            if (r < 9 and (c < 9 or c > n - 10)) or (r > n - 10 and c < 9):
                continue
            for i in range(-2, 3):
                for j in range(-2, 3):
                    known[r + i, c + j] = True
                    dark[r + i, c + j] = max(abs(i), abs(j)) != 1
    known[n - 8, 8] = dark[n - 8, 8] = True
    return known, dark


class _Fitter:
    """Scores a corner quad for one version by how well the known modules match the image."""

    def __init__(self, a: np.ndarray, version: int) -> None:
        self.a = a
        self.version = version
        self.n = n = 17 + 4 * version
        self.known, dark = function_pattern(version)
        self.sign = np.where(dark[self.known], 1.0, -1.0).astype(np.float32)
        jj, ii = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5)
        self.points = np.stack([jj.ravel(), ii.ravel(), np.ones(n * n)])
        self.corners = np.array([(0, 0), (n, 0), (n, n), (0, n)], float)

    def values(self, quad: np.ndarray, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        pts = self.points
        if offset != (0.0, 0.0):
            pts = pts + np.array([[offset[0]], [offset[1]], [0.0]])
        q = homography(self.corners, quad) @ pts
        return _bilinear(self.a, q[0] / q[2], q[1] / q[2]).reshape(self.n, self.n)

    def score(self, quad: np.ndarray) -> float:
        m = self.values(quad)
        z = (box_mean(m, 2) - m)[self.known]
        return float((z * self.sign).sum() / (np.abs(z).sum() + 1e-6))

    def refine(self, quad: np.ndarray, max_evals: int = 400) -> tuple[np.ndarray, float]:
        """Pattern search over the eight corner coordinates, from 0.8 to 0.05 module."""
        q = quad.astype(float).ravel()
        module = float(np.hypot(*(q[2:4] - q[0:2]))) / self.n
        step = 0.8 * module
        best = self.score(q.reshape(4, 2))
        evals = 1
        while step > 0.05 * module and evals < max_evals:
            improved = False
            for i in range(8):
                for d in (step, -step):
                    t = q.copy()
                    t[i] += d
                    s = self.score(t.reshape(4, 2))
                    evals += 1
                    if s > best:
                        best, q, improved = s, t, True
                        break
            if not improved:
                step /= 2
        return q.reshape(4, 2), best


def _triples(finders: list[Finder]) -> list[tuple[float, Finder, Finder, Finder]]:
    """Plausible (tl, tr, bl) triples with a rough N estimate, most plausible first."""
    out = []
    for trio in combinations(finders, 3):
        us = [f.module for f in trio]
        if max(us) > 2.2 * min(us):
            continue
        pts = [np.array([f.x, f.y]) for f in trio]
        sides = [np.hypot(*(pts[(k + 1) % 3] - pts[(k + 2) % 3])) for k in range(3)]
        k = int(np.argmax(sides))  # the corner opposite the longest side is top-left
        tl, p1, p2 = trio[k], trio[(k + 1) % 3], trio[(k + 2) % 3]
        v1 = np.array([p1.x - tl.x, p1.y - tl.y])
        v2 = np.array([p2.x - tl.x, p2.y - tl.y])
        d1, d2 = float(np.hypot(*v1)), float(np.hypot(*v2))
        if min(d1, d2) < 1e-3 or not 0.6 < d1 / d2 < 1.66:
            continue
        cos = float(v1 @ v2) / (d1 * d2)
        if abs(cos) > 0.55:
            continue
        if v1[0] * v2[1] - v1[1] * v2[0] > 0:
            tr, bl = p1, p2
        else:
            tr, bl = p2, p1
        u = float(np.mean(us))
        n_est = (d1 + d2) / 2 / u + 7
        if not 17 <= n_est <= 17 + 4 * MAX_VERSION + 6:
            continue
        plausibility = sum(f.support for f in trio) * (1 - abs(cos)) * min(d1, d2) / max(d1, d2)
        out.append((n_est, tl, tr, bl, plausibility))
    out.sort(key=lambda t: -t[4])
    return [(n, tl, tr, bl) for n, tl, tr, bl, _ in out]


def _initial_quad(tl: Finder, tr: Finder, bl: Finder, n: int) -> np.ndarray:
    """Corner quad of an n×n code from its three finder centres (affine)."""
    src = np.array([(3.5, 3.5), (n - 3.5, 3.5), (3.5, n - 3.5)])
    dst = np.array([(tl.x, tl.y), (tr.x, tr.y), (bl.x, bl.y)])
    affine = np.linalg.solve(np.c_[src, np.ones(3)], dst)  # 3×2
    corners = np.c_[np.array([(0, 0), (n, 0), (n, n), (0, n)], float), np.ones(4)]
    return corners @ affine


def fit_codes(
    a: np.ndarray,
    finders: list[Finder],
    *,
    max_refine: int = 6,
    min_start: float = 0.2,
    min_score: float = 0.55,
) -> list[GridFit]:
    """Fit module grids to the most promising finder triples and versions; best first.

    Every plausible triple is tried with versions around its size estimate at the rough affine
    position (cheap); only the best few starts are refined.
    """
    starts: list[tuple[float, int, np.ndarray]] = []
    fitters: dict[int, _Fitter] = {}
    for n_est, tl, tr, bl in _triples(finders)[:80]:
        v0 = round((n_est - 17) / 4)
        for version in range(max(1, v0 - 2), min(MAX_VERSION, v0 + 2) + 1):
            fitter = fitters.get(version) or fitters.setdefault(version, _Fitter(a, version))
            quad = _initial_quad(tl, tr, bl, fitter.n)
            score = fitter.score(quad)
            if score >= min_start:
                starts.append((score, version, quad))
    starts.sort(key=lambda s: -s[0])
    fits: list[GridFit] = []
    for start, version, quad in starts[:max_refine]:
        if start < 0.6 * starts[0][0]:
            break
        refined, score = fitters[version].refine(quad)
        if score < min_score:
            continue
        fit = GridFit(refined, version, score)
        same = [f for f in fits if np.hypot(*np.subtract(f.centre, fit.centre)) < 3 * _module(f)]
        if all(f.score < score for f in same):
            fits = [f for f in fits if all(f is not g for g in same)] + [fit]
    fits.sort(key=lambda f: -f.score)
    return fits


def _module(fit: GridFit) -> float:
    q = fit.quad
    return float(np.hypot(*(q[1] - q[0])) / (17 + 4 * fit.version))


def read_modules(a: np.ndarray, fit: GridFit) -> list[np.ndarray]:
    """Several dark-module matrices for a fitted code (different local thresholds and offsets)."""
    fitter = _Fitter(a, fit.version)
    out: list[np.ndarray] = []
    for offset in ((0.0, 0.0), (0.12, 0.0), (-0.12, 0.0), (0.0, 0.12), (0.0, -0.12)):
        m = fitter.values(fit.quad, offset)
        for r in (1, 2):
            out.append(m < box_mean(m, r))
        if offset == (0.0, 0.0):
            out.append(m < np.median(m))
    return out


def render(bits: np.ndarray, px: int = 3, quiet: int = 4) -> np.ndarray:
    """A clean dark-on-light image of a module matrix, `px` pixels a module, with quiet zone."""
    n = bits.shape[0]
    img = np.full((n + 2 * quiet, n + 2 * quiet), 255, np.uint8)
    img[quiet : quiet + n, quiet : quiet + n] = np.where(bits, 0, 255)
    return np.kron(img, np.ones((px, px), np.uint8))
