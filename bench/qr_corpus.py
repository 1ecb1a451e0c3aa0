"""Generate the benchmark's own QR corpus (seeded) in the shared corpus's manifest format.

    python bench/qr_corpus.py [--out bench/out/qr-corpus] [--count 240] [--seed 7] [--big 12]
    python bench/qr_corpus.py --hard [--out bench/out/qr-corpus-hard] [--count 250] [--seed 15]
                              [--big 16]

Levels 1–4 as in `../shared/qr-corpus` plus what that corpus lacks: light-on-dark stickers,
curved surfaces, partial shadows, a second QR code (type plate, manual link, look-alike sticker
on another host), photos without the sticker, files as PNG/WebP/HEIC and 12 MP originals with
EXIF orientation. `score.py` from the shared corpus can score it as well.

`--hard` makes issue 15's harder corpus instead: levels 2–3 as above, level 4 (modules 2–3 px)
and level 5 (modules 1.5–2.5 px) with horizontal stickers, landscape frames, noise σ 10–20,
curved labels, shadows and look-alike codes (`qrsynth.hard_shot`), and photos without the
sticker; 1280 px JPEGs as Telegram sends them, plus `--big` 12 MP originals sent as files
(`hard_big_*`, drawn after the others from their own seed, so the 1280 px photos stay the same:
levels 4–5 and code-free ones, three in four framed like a phone photo, the rest from afar).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testkit import qrsynth  # noqa: E402


def make(out: Path, count: int, seed: int, big: int) -> dict:
    """Write `count` photos (of which `big` are 12 MP files) and manifest.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images: dict[str, dict] = {}
    big_at = set(rng.choice(count, size=min(big, count), replace=False).tolist())
    t0 = time.monotonic()
    for i in range(count):
        level = int(i % 4) + 1
        shot = qrsynth.random_shot(rng, level)
        fmt, quality, orientation = "JPEG", int(rng.uniform(*qrsynth.LEVELS[level]["jpeg"])), None
        if i in big_at:
            shot.size = (4032, 3024) if rng.random() < 0.5 else (3024, 4032)
            if rng.random() < 0.75:  # same framing as a phone photo, more pixels
                shot.module_px *= 3.15
            orientation = int(rng.choice([1, 3, 6, 8]))
            fmt = str(rng.choice(["JPEG", "JPEG", "HEIF", "WEBP"]))
            quality = int(rng.uniform(80, 95))
            shot.params["sent_as_file"] = True
        elif rng.random() < 0.08:
            fmt = str(rng.choice(["PNG", "WEBP", "HEIF"]))
            shot.params["sent_as_file"] = True
        name, entry = _write(out, f"syn_{i:04d}", shot, rng, fmt, quality, orientation)
        images[name] = entry
        _progress(i, count, t0)
    return _manifest(out, images, seed, count, "bench")


def make_hard(out: Path, count: int, seed: int, big: int = 16) -> dict:
    """Write issue 15's harder corpus: `count` 1280 px photos, about 7 % without a sticker,
    and `big` 12 MP files (levels 4–5, one in eight without a sticker)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images: dict[str, dict] = {}
    t0 = time.monotonic()
    for i in range(count):
        level = int(rng.choice([2, 3, 4, 5], p=[0.13, 0.2, 0.32, 0.35]))
        if rng.random() < 0.07:
            shot = qrsynth.code_free_shot(rng, level)
        elif level >= 4:
            shot = qrsynth.hard_shot(rng, level)
        else:
            shot = qrsynth.random_shot(rng, level)
        quality = int(rng.uniform(*qrsynth.LEVELS[level]["jpeg"]))
        name, entry = _write(out, f"hard_{i:04d}", shot, rng, "JPEG", quality, None)
        images[name] = entry
        _progress(i, count, t0)
    rng = np.random.default_rng(seed + 1000)
    for i in range(big):
        level = 4 + i % 2
        shot = qrsynth.code_free_shot(rng, level) if i % 8 == 7 else qrsynth.hard_shot(rng, level)
        shot.size = (4032, 3024) if rng.random() < 0.5 else (3024, 4032)
        if rng.random() < 0.75:  # same framing as a phone photo, more pixels
            shot.module_px *= 3.15
        shot.params["sent_as_file"] = True
        fmt = str(rng.choice(["JPEG", "JPEG", "HEIF", "WEBP"]))
        orientation = int(rng.choice([1, 3, 6, 8]))
        name, entry = _write(
            out, f"hard_big_{i:02d}", shot, rng, fmt, int(rng.uniform(80, 95)), orientation
        )
        images[name] = entry
        _progress(i, big, t0)
    return _manifest(out, images, seed, count + big, "hard")


def _write(
    out: Path, stem: str, shot: qrsynth.Shot, rng: np.random.Generator, fmt: str, quality: int,
    orientation: int | None,
) -> tuple[str, dict]:
    """Render, encode and write one photo; its file name and manifest entry."""
    img = qrsynth.render_photo(shot, rng)
    data = qrsynth.encode(img, fmt, quality, orientation)
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}[fmt]
    name = f"{stem}.{ext}"
    (out / name).write_bytes(data)
    shot.params.update(format=fmt, jpeg_quality=quality, exif_orientation=orientation)
    expected = (
        {"mac": shot.payload.mac, "pw": shot.payload.pw} if shot.payload is not None else None
    )
    return name, {
        "expected": expected,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "params": shot.params,
    }


def _progress(i: int, count: int, t0: float) -> None:
    if (i + 1) % 20 == 0 or i + 1 == count:
        print(f"{i + 1}/{count} {time.monotonic() - t0:.0f}s", file=sys.stderr)


def _manifest(out: Path, images: dict, seed: int, count: int, difficulty: str) -> dict:
    manifest = {
        "meta": {
            "generator": "bench/qr_corpus.py",
            "seed": seed,
            "count": count,
            "difficulty": difficulty,
        },
        "images": images,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hard", action="store_true", help="issue 15's harder corpus")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--big", type=int, default=None, help="how many 12 MP files (12; hard: 16)")
    a = ap.parse_args()
    if a.hard:
        out = a.out or ROOT / "bench" / "out" / "qr-corpus-hard"
        make_hard(out, a.count or 250, 15 if a.seed is None else a.seed,
                  16 if a.big is None else a.big)
    else:
        out = a.out or ROOT / "bench" / "out" / "qr-corpus"
        make(out, a.count or 240, 7 if a.seed is None else a.seed, 12 if a.big is None else a.big)


if __name__ == "__main__":
    main()
