"""Unit tests: the QR grid rescue's locators (`qrfinders`) and crop step (`qrgrid`, `qrscan`)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bot.vision import qrfinders, qrgrid, qrscan
from bot.vision.sticker import StickerConfig, parse_payload
from testkit import qrsynth

TEXT = "https://o.example-network.com/activate?mac=0024B100000A12E8&pw=PAAXGUANPK"


def small_code(module: float, rotation: float = 0.0) -> tuple[np.ndarray, int]:
    """The sticker's code, dark on light, `module` px a module (4 px quiet zone), and its n."""
    matrix = qrsynth.qr_matrix(TEXT, "m")
    n = matrix.shape[0]
    img = np.ones((n + 8, n + 8))
    img[4 : 4 + n, 4 : 4 + n] = np.where(matrix, 0.0, 1.0)
    big = Image.fromarray((np.kron(img, np.ones((10, 10))) * 255).astype(np.uint8))
    side = round(big.width * module / 10)
    small = big.resize((side, side), Image.Resampling.BOX)
    if rotation:
        small = small.rotate(rotation, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return np.asarray(small, float), n


def test_matched_filtering_finds_finder_patterns_under_strong_noise() -> None:
    code, n = small_code(2.5)
    canvas = np.full((400, 500), 120.0)
    canvas[100 : 100 + code.shape[0], 150 : 150 + code.shape[1]] = code * 0.25 + 90
    noisy = np.clip(canvas + np.random.default_rng(5).normal(0, 22, canvas.shape), 0, 255)
    assert qrfinders.find_finders(noisy.astype(np.float32), radius=8) == []  # runs are broken
    found = qrfinders.match_finders(noisy)[:3]
    corners = ((3.5, 3.5), (3.5, n - 3.5), (n - 3.5, 3.5))
    centres = [(150 + (4 + c) * 2.5, 100 + (4 + r) * 2.5) for r, c in corners]
    for x, y in centres:
        assert any(np.hypot(f.x - x, f.y - y) <= 2.5 for f in found), (x, y, found)


def test_a_located_but_unread_code_is_read_from_an_upscaled_crop() -> None:
    code, _ = small_code(1.9, rotation=20)
    canvas = np.full((600, 800), 140.0)
    y0, x0 = 250, 420
    canvas[y0 : y0 + code.shape[0], x0 : x0 + code.shape[1]] = code * 0.5 + 60
    grey = Image.fromarray(canvas.astype(np.uint8))
    config = StickerConfig()
    ctx = qrscan.ScanContext(grey)
    col = qrscan.Collector(lambda t: parse_payload(t, config) is not None)
    half = code.shape[1] / 2
    centre = ((x0 + half) / grey.width, (y0 + half) / grey.height)
    col.suspect(centre, (half / grey.width, half / grey.height))
    qrscan.step_grid_crop(ctx, col)
    assert [s.text for s in col.outcome.accepted] == [TEXT]
    assert np.allclose(col.outcome.accepted[0].centre, centre, atol=0.01)  # in the photo


def test_a_spent_cpu_allowance_stops_the_cascade_without_a_timeout() -> None:
    canvas = np.random.default_rng(3).normal(128, 20, (480, 640)).clip(0, 255).astype(np.uint8)
    grey = Image.fromarray(canvas)
    capped = qrscan.scan(grey, lambda t: True, cpu_s=0.0)
    assert capped.capped and not capped.timed_out
    assert capped.steps == []
    full = qrscan.scan(grey, lambda t: True)
    assert not full.halted and full.steps == list(qrscan.QR_STEPS)


def test_batched_fit_scores_equal_the_single_ones() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(128, 40, (200, 240)).astype(np.float32)
    quads = np.array([[20, 30], [150, 35], [160, 170], [25, 160]], float) + rng.normal(
        0, 4, (6, 4, 2))
    quads[0] = [[10, 10], [50, 10], [50, 50], [10, 50]]  # a square: no perspective term
    for q, h in zip(quads, qrgrid.squares_to_quads(quads), strict=True):
        assert np.array_equal(h, qrgrid.square_to_quad(q))
    fitter = qrgrid._Fitter(a, 3)
    assert list(fitter.agreements(quads)) == [fitter.agreement(q) for q in quads]
    warps = rng.normal(0, 0.1, (6, 6))
    many = fitter.values_many(quads, warps)
    assert all(np.array_equal(m, fitter.values(q, warp=w)) for m, q, w in zip(
        many, quads, warps, strict=True))


def test_box_blur_every_equals_pillows_box_blur_subsampled() -> None:
    from PIL import ImageFilter

    rng = np.random.default_rng(4)
    img = Image.fromarray(rng.integers(0, 256, (97, 131)).astype(np.uint8))
    for r in (2.5, 3.1, 6.75, 12.55):
        whole = np.asarray(img.filter(ImageFilter.BoxBlur(r)))[::2, ::2]
        assert np.array_equal(qrfinders._box_blur_every(img, r, 2), whole)


def test_start_quads_in_one_solve_equal_one_at_a_time() -> None:
    centres = np.random.default_rng(6).uniform(0, 900, (7, 3, 2))
    batch = qrgrid._initial_quads(centres, 33)
    for c, q in zip(centres, batch, strict=True):
        assert np.array_equal(qrgrid._initial_quads(c[None], 33)[0], q)


def test_a_hopeless_grid_search_gives_up_below_any_use() -> None:
    a = np.random.default_rng(8).normal(128, 30, (300, 300)).astype(np.float32)
    quad = np.array([[50, 50], [200, 50], [200, 200], [50, 200]], float)
    _, _, score = qrgrid._Fitter(a, 4).refine(quad)
    assert score < qrgrid.HOPELESS[-1]


def test_the_soft_copy_around_fits_equals_the_whole_blurred_copy_there() -> None:
    canvas = np.random.default_rng(9).integers(0, 256, (300, 400)).astype(np.uint8)
    quad = np.array([[120, 80], [200, 85], [195, 170], [118, 160]], float)
    near = qrscan.ScanContext(Image.fromarray(canvas)).blurred_near("work", 0.5, [quad])
    whole = qrscan.ScanContext(Image.fromarray(canvas)).blurred("work", 0.5)
    box = (slice(40, 210), slice(78, 242))  # the quad widened by half its size
    assert np.array_equal(near[box], whole[box]) and not near[:30].any()
