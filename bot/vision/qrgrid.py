"""Last-resort QR reading: find finder patterns, fit the module grid, resample it cleanly.

General decoders sample one binarised pixel per module, which fails on small (2–3 px), blurred,
noisy and tilted codes. Here the three finder patterns give a rough grid; the grid's eight corner
coordinates are then refined until the code's known modules (finders, separators, timing and
alignment patterns) match the image best; each module is read relative to its neighbourhood and
the result is drawn as a clean, upright code for a general decoder (whose Reed–Solomon check
still guards the content). The same search tells where a code is when it cannot be read.
Finder patterns are found by `bot.vision.qrfinders`. Only numpy is used.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from bot.vision.qrfinders import Finder, box_mean, max_filter

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


@dataclass(frozen=True, eq=False)
class GridFit:
    """A fitted code: corner quad (tl, tr, br, bl in image px), version, and match score (0–1)."""

    quad: np.ndarray
    version: int
    score: float
    warp: np.ndarray | None = None

    @property
    def centre(self) -> tuple[float, float]:
        """The centre of the quad in image coordinates."""
        c = self.quad.mean(axis=0)
        return float(c[0]), float(c[1])

    @property
    def module(self) -> float:
        """The module size along the top edge, in image px."""
        q = self.quad
        return float(np.hypot(*(q[1] - q[0])) / (17 + 4 * self.version))


# ---------------------------------------------------------------------------------------------
# Small numpy helpers


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
    u = np.minimum(np.maximum(u, 0), w - 1.001)
    v = np.minimum(np.maximum(v, 0), h - 1.001)
    x0 = u.astype(np.intp)
    y0 = v.astype(np.intp)
    fx = u - x0
    fy = v - y0
    flat = a.ravel()
    i = y0 * w
    i += x0
    gx = 1 - fx
    top = flat.take(i) * gx
    top += flat.take(i + 1) * fx
    i += w
    bottom = flat.take(i) * gx
    bottom += flat.take(i + 1) * fx
    top *= 1 - fy
    bottom *= fy
    top += bottom
    return top


# ---------------------------------------------------------------------------------------------
# Grid fitting


@functools.cache
def function_pattern(version: int) -> tuple[np.ndarray, np.ndarray]:
    """(known, dark) boolean N×N matrices of a version's fixed modules (read-only, cached)."""
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
    known.setflags(write=False)
    dark.setflags(write=False)
    return known, dark


def square_to_quad(quad: np.ndarray) -> np.ndarray:
    """The projective map taking the unit square (0,0),(1,0),(1,1),(0,1) to `quad` (Heckbert)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (tuple(map(float, p)) for p in quad)
    dx1, dx2, dx3 = x1 - x2, x3 - x2, x0 - x1 + x2 - x3
    dy1, dy2, dy3 = y1 - y2, y3 - y2, y0 - y1 + y2 - y3
    den = dx1 * dy2 - dx2 * dy1
    if abs(den) < 1e-12:
        g = h = 0.0
    else:
        g = (dx3 * dy2 - dx2 * dy3) / den
        h = (dx1 * dy3 - dx3 * dy1) / den
    return np.array(
        [
            [x1 - x0 + g * x1, x3 - x0 + h * x3, x0],
            [y1 - y0 + g * y1, y3 - y0 + h * y3, y0],
            [g, h, 1.0],
        ]
    )


def squares_to_quads(quads: np.ndarray) -> np.ndarray:
    """`square_to_quad` for a stack of K quads (K×4×2): K×3×3, the same values."""
    x0, y0, x1, y1, x2, y2, x3, y3 = quads.reshape(-1, 8).T.astype(float)
    dx1, dx2, dx3 = x1 - x2, x3 - x2, x0 - x1 + x2 - x3
    dy1, dy2, dy3 = y1 - y2, y3 - y2, y0 - y1 + y2 - y3
    den = dx1 * dy2 - dx2 * dy1
    flat = np.abs(den) < 1e-12
    if flat.any():
        den[flat] = 1.0
    g = (dx3 * dy2 - dx2 * dy3) / den
    h = (dx1 * dy3 - dx3 * dy1) / den
    if flat.any():
        g[flat] = h[flat] = 0.0
    out = np.empty((len(g), 3, 3))
    out[:, 0, 0] = x1 - x0 + g * x1
    out[:, 0, 1] = x3 - x0 + h * x3
    out[:, 0, 2] = x0
    out[:, 1, 0] = y1 - y0 + g * y1
    out[:, 1, 1] = y3 - y0 + h * y3
    out[:, 1, 2] = y0
    out[:, 2, 0] = g
    out[:, 2, 1] = h
    out[:, 2, 2] = 1.0
    return out


@functools.cache
def _band(n: int, r: int) -> np.ndarray:
    """n×n matrix whose product with a vector averages it over ±r (within bounds; cached)."""
    idx = np.arange(n)
    band = (np.abs(idx[:, None] - idx[None, :]) <= r).astype(np.float64)
    band /= band.sum(axis=1, keepdims=True)
    band.setflags(write=False)
    return band


def _warp(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bend unit-square coordinates (a curved label); corners stay put, `w` = 0 is flat."""
    bu, bv = u * (1 - u), v * (1 - v)
    return (
        u + w[0] * bu + w[1] * bu * (2 * u - 1) + w[4] * bv,
        v + w[2] * bv + w[3] * bv * (2 * v - 1) + w[5] * bu,
    )


@functools.cache
def _grid_points(
    version: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A version's known modules, their signs (+1 dark), and module centres in the unit square
    (u, v and homogeneous points); cached, read-only."""
    n = 17 + 4 * version
    known, dark = function_pattern(version)
    sign = np.where(dark[known], 1.0, -1.0)
    jj, ii = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n)
    u, v = jj.ravel(), ii.ravel()
    points = np.stack([u, v, np.ones(n * n)])
    for arr in (sign, u, v, points):
        arr.setflags(write=False)
    return known, sign, u, v, points


@functools.cache
def _near_known(version: int) -> np.ndarray:
    """Flat indices of the modules within 2 of a known one: all that the known modules' local
    means (`_Fitter.local_mean`, ±2 modules) depend on (cached, read-only)."""
    known, _ = function_pattern(version)
    near = max_filter(known.astype(np.float32), 2) > 0
    at = np.flatnonzero(near)
    at.setflags(write=False)
    return at


_SWEEP_BATCH = 4
"""Tries of the grid's pattern search evaluated at once (two dimensions, both signs)."""

HOPELESS = (0.30, 0.40, 0.46)
"""Agreement below which the pattern search gives up after its 0.8-, 0.4- and 0.2-module
steps: on the harder corpus no search rose by more than 0.37, 0.12 and 0.08 from there to
its end, none that ended at or above `fit_codes`' 0.55 was below 0.41, 0.47 and 0.55, so a
search given up would have been discarded anyway (bench/README.md, issue 15's third time
round)."""


class _Fitter:
    """Scores a corner quad for one version by how well the known modules match the image."""

    def __init__(self, a: np.ndarray, version: int) -> None:
        self.a = a
        self.version = version
        self.n = 17 + 4 * version
        self.known, self.sign, self.u, self.v, self.points = _grid_points(version)
        self.known_at = np.flatnonzero(self.known)
        self.near = _near_known(version)
        self.band = _band(self.n, 2)

    def values(
        self,
        quad: np.ndarray,
        offset: tuple[float, float] = (0.0, 0.0),
        warp: np.ndarray | None = None,
    ) -> np.ndarray:
        """Image values at the module centres (shifted by `offset` modules, bent by `warp`)."""
        if warp is not None and warp.any():
            u, v = _warp(self.u, self.v, warp)
            pts = np.stack([u, v, np.ones_like(u)])
        else:
            pts = self.points
        if offset != (0.0, 0.0):
            pts = pts + np.array([[offset[0] / self.n], [offset[1] / self.n], [0.0]])
        q = square_to_quad(quad) @ pts
        return _bilinear(self.a, q[0] / q[2], q[1] / q[2]).reshape(self.n, self.n)

    def values_many(self, quads: np.ndarray, warps: np.ndarray) -> np.ndarray:
        """`values` of K quads (K×4×2) bent by K warps (K×6), as K×n×n: the same values."""
        if warps.any():
            u, v = _warp(self.u, self.v, warps.T[:, :, None])
            pts = np.stack([u, v, np.ones_like(u)], 1)
        else:
            pts = self.points
        q = squares_to_quads(quads) @ pts
        return _bilinear(self.a, q[:, 0] / q[:, 2], q[:, 1] / q[:, 2]).reshape(-1, self.n, self.n)

    def local_mean(self, m: np.ndarray) -> np.ndarray:
        """Mean over the 5×5 modules around each module."""
        return self.band @ m @ self.band.T

    def agreements(self, quads: np.ndarray) -> np.ndarray:
        """`agreement` of a stack of K flat quads (K×4×2) at once: the same values."""
        # Only the modules near known ones are sampled; the others, zero, get zero weight in
        # the known modules' local means, which come out bit for bit the same.
        q = (squares_to_quads(quads) @ self.points).take(self.near, axis=2)
        m = np.zeros((len(quads), self.n * self.n))
        m[:, self.near] = _bilinear(self.a, q[:, 0] / q[:, 2], q[:, 1] / q[:, 2])
        m = m.reshape(-1, self.n, self.n)
        z = (self.local_mean(m) - m).reshape(len(quads), -1).take(self.known_at, axis=1)
        return (z * self.sign).sum(1) / (np.abs(z).sum(1) + 1e-6)

    def agreement(self, quad: np.ndarray, warp: np.ndarray | None = None) -> float:
        """Agreement of the known modules with the image, -1 … 1."""
        m = self.values(quad, warp=warp)
        z = (self.local_mean(m) - m).ravel().take(self.known_at)
        return float((z * self.sign).sum() / (np.abs(z).sum() + 1e-6))

    def refine(
        self,
        quad: np.ndarray,
        warp: np.ndarray | None = None,
        *,
        bend: bool = False,
        max_evals: int = 400,
        sharpness: float = 0.6,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Pattern search over the corner coordinates (and, with `bend`, the warp).

        The objective is the known modules' agreement plus `sharpness` times the mean contrast
        of all modules (relative to the start): sampling at module centres gives the most
        decided values, which aligns the grid inside the code, where no pattern is known.
        Steps shrink from 0.8 to 0.05 module; a search whose agreement is below `HOPELESS`
        after a step size is given up. Returns quad, warp and agreement.
        """
        w0 = np.zeros(6) if warp is None else np.asarray(warp, float)
        m = self.values(quad, warp=w0)
        scale = float(np.abs((self.local_mean(m) - m).ravel().take(self.known_at)).mean()) + 1e-6
        q = np.concatenate([quad.astype(float).ravel(), w0])
        module = float(np.hypot(*(q[2:4] - q[0:2]))) / self.n
        unit = np.concatenate([np.full(8, module), np.full(6, 4.0 / self.n)])
        dims = range(14 if bend else 8)

        def objectives(ts: np.ndarray) -> np.ndarray:
            m = self.values_many(ts[:, :8].reshape(-1, 4, 2), ts[:, 8:])
            z = (self.local_mean(m) - m).reshape(len(ts), -1)
            k = z.take(self.known_at, axis=1)
            agree = (k * self.sign).sum(1) / (np.abs(k).sum(1) + 1e-6)
            return agree + sharpness * np.abs(z).mean(1) / scale

        # Coordinate sweeps: each dimension tries +step, then -step, and keeps the first that
        # improves. The tries of the next few dimensions are evaluated as one batch from the
        # current point; after an accepted move the rest of the batch is dropped.
        step = 0.8
        best = float(objectives(q[None])[0])
        evals = 1
        order = [(i, sign) for i in dims for sign in (1.0, -1.0)]
        floors = iter(HOPELESS)
        while step > 0.05 and evals < max_evals:
            improved = False
            at = 0
            while at < len(order):
                batch = order[at : at + _SWEEP_BATCH]
                ts = np.repeat(q[None], len(batch), axis=0)
                for row, (i, sign) in enumerate(batch):
                    ts[row, i] += sign * step * unit[i]
                scores = objectives(ts)
                at += len(batch)
                for row, (i, _) in enumerate(batch):
                    evals += 1
                    if scores[row] > best:
                        best, q, improved = float(scores[row]), ts[row], True
                        at = 2 * (dims.index(i) + 1)
                        break
            if not improved:
                step /= 2
                floor = next(floors, None)
                if floor is not None:
                    agreement = self.agreement(q[:8].reshape(4, 2), q[8:])
                    if agreement < floor:  # hopeless: it would end below any use
                        return q[:8].reshape(4, 2), q[8:], agreement
        quad_out = q[:8].reshape(4, 2)
        return quad_out, q[8:], self.agreement(quad_out, q[8:])


def _triples(finders: list[Finder]) -> list[tuple[float, Finder, Finder, Finder]]:
    """Plausible (tl, tr, bl) triples with a rough N estimate, most plausible first."""
    out = []
    for trio in combinations(finders, 3):
        us = [f.module for f in trio]
        if max(us) > 2.2 * min(us):
            continue
        sides = [
            math.hypot(
                trio[(k + 1) % 3].x - trio[(k + 2) % 3].x, trio[(k + 1) % 3].y - trio[(k + 2) % 3].y
            )
            for k in range(3)
        ]
        k = sides.index(max(sides))  # the corner opposite the longest side is top-left
        tl, p1, p2 = trio[k], trio[(k + 1) % 3], trio[(k + 2) % 3]
        v1x, v1y, v2x, v2y = p1.x - tl.x, p1.y - tl.y, p2.x - tl.x, p2.y - tl.y
        d1, d2 = math.hypot(v1x, v1y), math.hypot(v2x, v2y)
        if min(d1, d2) < 1e-3 or not 0.6 < d1 / d2 < 1.66:
            continue
        cos = (v1x * v2x + v1y * v2y) / (d1 * d2)
        if abs(cos) > 0.55:
            continue
        tr, bl = (p1, p2) if v1x * v2y - v1y * v2x > 0 else (p2, p1)
        u = sum(us) / 3
        n_est = (d1 + d2) / 2 / u + 7
        if not 17 <= n_est <= 17 + 4 * MAX_VERSION + 6:
            continue
        plausibility = sum(f.support for f in trio) * (1 - abs(cos)) * min(d1, d2) / max(d1, d2)
        out.append((n_est, tl, tr, bl, plausibility))
    out.sort(key=lambda t: -t[4])
    return [(n, tl, tr, bl) for n, tl, tr, bl, _ in out]


@functools.cache
def _finder_frame(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous finder centres (3×3) and corners (4×3) of an n×n code (cached)."""
    src = np.array([(3.5, 3.5, 1.0), (n - 3.5, 3.5, 1.0), (3.5, n - 3.5, 1.0)])
    corners = np.array([(0, 0, 1), (n, 0, 1), (n, n, 1), (0, n, 1)], float)
    src.setflags(write=False)
    corners.setflags(write=False)
    return src, corners


def _initial_quads(centres: np.ndarray, n: int) -> np.ndarray:
    """Corner quads (K×4×2) of n×n codes from their finder centres (K×3×2: tl, tr, bl; affine)."""
    src, corners = _finder_frame(n)
    return corners @ np.linalg.solve(src, centres)  # affine: K×3×2


def fit_codes(
    a: np.ndarray,
    finders: list[Finder],
    *,
    max_refine: int = 6,
    min_start: float = 0.2,
    min_score: float = 0.55,
    stop: Callable[[], bool] | None = None,
) -> list[GridFit]:
    """Fit module grids to the most promising finder triples and versions; best first.

    Every plausible triple is tried with versions around its size estimate at the rough affine
    position (cheap); only the best few starts are refined, until `stop()` says time is up.
    """
    trios: list[tuple[int, tuple[tuple[float, float], ...]]] = []  # (version, finder centres)
    for n_est, tl, tr, bl in _triples(finders)[:80]:
        v0 = round((n_est - 17) / 4)
        for version in range(max(1, v0 - 2), min(MAX_VERSION, v0 + 2) + 1):
            trios.append((version, ((tl.x, tl.y), (tr.x, tr.y), (bl.x, bl.y))))
    fitters = {v: _Fitter(a, v) for v in sorted({v for v, _ in trios})}
    scores = np.zeros(len(trios))
    quads = np.zeros((len(trios), 4, 2))
    for version, fitter in fitters.items():  # one batch per version
        at = [i for i, (v, _) in enumerate(trios) if v == version]
        quads[at] = _initial_quads(np.array([trios[i][1] for i in at]), fitter.n)
        scores[at] = fitter.agreements(quads[at])
    starts = [
        (float(s), v, q)
        for s, (v, _), q in zip(scores, trios, quads, strict=True)
        if s >= min_start
    ]
    starts.sort(key=lambda s: -s[0])
    fits: list[GridFit] = []
    for start, version, quad in starts[:max_refine]:
        if start < 0.6 * starts[0][0] or (stop is not None and stop()):
            break
        refined, _, score = fitters[version].refine(quad)
        if score < min_score:
            continue
        fit = GridFit(refined, version, score)
        same = [f for f in fits if np.hypot(*np.subtract(f.centre, fit.centre)) < 3 * f.module]
        if all(f.score < score for f in same):
            fits = [f for f in fits if all(f is not g for g in same)] + [fit]
    fits.sort(key=lambda f: -f.score)
    return fits


def _neighbours(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.pad(s, 1)
    side = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
    corner = p[:-2, :-2] + p[2:, 2:] + p[:-2, 2:] + p[2:, :-2]
    return side, corner


def equalise(z: np.ndarray, iterations: int = 2) -> list[np.ndarray]:
    """Dark-module decisions with blur between neighbours removed (decision feedback).

    `z` is each module's darkness relative to its surroundings. The module's value is modelled
    as its own ±1 plus weighted sums of its 4 side and 4 corner neighbours (fitted by least
    squares to the current decisions); subtracting the neighbours' share sharpens the decisions.
    """
    s = np.where(z > 0, 1.0, -1.0)
    out = []
    for _ in range(iterations):
        side, corner = _neighbours(s)
        x = np.stack([s.ravel(), side.ravel(), corner.ravel(), np.ones(s.size)], 1)
        coef, *_ = np.linalg.lstsq(x, z.ravel(), rcond=None)
        if coef[0] <= 0:
            break
        s = np.where(z - coef[1] * side - coef[2] * corner - coef[3] > 0, 1.0, -1.0)
        out.append(s > 0)
    return out


def bend(a: np.ndarray, fit: GridFit, good: float = 0.97) -> GridFit:
    """The fit refined again with the label allowed to bend (curved surfaces).

    A bend is a poor local optimum from flat, so the search starts from a few bends along
    either axis and keeps the best, stopping at `good` agreement.
    """
    fitter = _Fitter(a, fit.version)
    best = fit
    for start in ((0.0, 0.0), (-0.15, 0.0), (0.15, 0.0), (0.0, -0.15), (0.0, 0.15)):
        warp = np.array([start[0], 0.0, start[1], 0.0, 0.0, 0.0])
        quad, warp, score = fitter.refine(fit.quad, warp, bend=True, max_evals=350)
        if score > best.score:
            best = GridFit(quad, fit.version, score, warp)
            if score >= good:
                break
    return best


def read_modules(
    a: np.ndarray, fit: GridFit, sources: tuple[np.ndarray, ...] = ()
) -> list[np.ndarray]:
    """Dark-module matrices of a fitted code, most likely first (thresholds, sources, offsets)."""
    out: list[np.ndarray] = []
    known, dark = function_pattern(fit.version)
    for offset in ((0.0, 0.0), (0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1)):
        for src in (a, *sources):
            fitter = _Fitter(src, fit.version)
            m = fitter.values(fit.quad, offset, fit.warp)
            z = box_mean(m, 1) - m
            out.extend(equalise(z))
            out.append(z > 0)
            out.append(m < fitter.local_mean(m))
    for bits in out:  # the fixed patterns are known: restore them
        bits[known] = dark[known]
    return out


def render(bits: np.ndarray, px: int = 3, quiet: int = 4) -> np.ndarray:
    """A clean dark-on-light image of a module matrix, `px` pixels a module, with quiet zone."""
    n = bits.shape[0]
    img = np.full((n + 2 * quiet, n + 2 * quiet), 255, np.uint8)
    img[quiet : quiet + n, quiet : quiet + n] = np.where(bits, 0, 255)
    return np.kron(img, np.ones((px, px), np.uint8))
