"""Vendor the sandbox page's browser dependencies: `python -m sandbox.vendor`.

The page loads nothing from a CDN and works offline. Its QR decoder (jsQR, used by the
scanner Mini App's stand-in, static/telegram-web-app.js) is installed with npm from
`sandbox/npm/` (package.json and its lock, exact versions) and copied with its licence into
`static/vendor/`, which is committed. To update: change the version in package.json, run
`npm install --package-lock-only` in sandbox/npm, then this.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "npm"
VENDOR_DIR = HERE / "static" / "vendor"
FILES = {"jsqr/dist/jsQR.js": "jsQR.js", "jsqr/LICENSE": "jsQR.LICENSE"}
"""node_modules path → name in static/vendor/."""


def main() -> int:
    """`npm ci` the manifest in a temporary directory, copy `FILES` into static/vendor/."""
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pinpoint-vendor-") as tmp:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(MANIFEST / name, Path(tmp) / name)
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=tmp,
                       check=True)
        VENDOR_DIR.mkdir(exist_ok=True)
        for source, target in FILES.items():
            shutil.copyfile(Path(tmp) / "node_modules" / source, VENDOR_DIR / target)
            print(f"wrote {VENDOR_DIR / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
