"""Generate the benchmark's own QR corpus (seeded) in the shared corpus's manifest format.

    python bench/qr_corpus.py [--out bench/out/qr-corpus] [--count 240] [--seed 7] [--big 12]

Levels 1–4 as in `../shared/qr-corpus` plus what that corpus lacks: light-on-dark stickers,
curved surfaces, partial shadows, a second QR code (type plate, manual link, look-alike sticker
on another host), photos without the sticker, files as PNG/WebP/HEIC and 12 MP originals with
EXIF orientation. `score.py` from the shared corpus can score it as well.
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
        img = qrsynth.render_photo(shot, rng)
        data = qrsynth.encode(img, fmt, quality, orientation)
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}[fmt]
        name = f"syn_{i:04d}.{ext}"
        (out / name).write_bytes(data)
        shot.params.update(format=fmt, jpeg_quality=quality, exif_orientation=orientation)
        expected = (
            {"mac": shot.payload.mac, "pw": shot.payload.pw} if shot.payload is not None else None
        )
        images[name] = {
            "expected": expected,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "params": shot.params,
        }
        if (i + 1) % 20 == 0 or i + 1 == count:
            print(f"{i + 1}/{count} {time.monotonic() - t0:.0f}s", file=sys.stderr)
    manifest = {
        "meta": {
            "generator": "bench/qr_corpus.py",
            "seed": seed,
            "count": count,
            "difficulty": "bench",
        },
        "images": images,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "qr-corpus")
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--big", type=int, default=12, help="how many 12 MP files")
    a = ap.parse_args()
    make(a.out, a.count, a.seed, a.big)


if __name__ == "__main__":
    main()
