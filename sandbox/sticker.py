"""The demo activation sticker: a printed label with the QR code the network puts on stations.

The page offers `static/demo-sticker.png` for download, so a sandbox user can send it back
as the photo of the sticker. It is committed; `python -m sandbox.sticker` draws it again
(this needs `segno`, a test dependency: the sandbox itself only serves the file).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sandbox.seed import STICKER_MAC, STICKER_PASSWORD, STICKER_URL

STICKER_PATH = Path(__file__).parent / "static" / "demo-sticker.png"
MODULE_PX = 10
INK = (20, 24, 28)
ACCENT = (0, 122, 94)


def qr_image(payload: str, module_px: int = MODULE_PX) -> Image.Image:
    """The payload as a black-on-white QR code with a quiet zone of 4 modules."""
    import segno

    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(out, kind="png", scale=module_px,
                                                      border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def draw_sticker(payload: str = STICKER_URL) -> Image.Image:
    """A landscape label: the network's name, the QR code, and MAC and password in print."""
    code = qr_image(payload)
    width, height = code.width + 560, code.height + 120
    label = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(label)
    draw.rounded_rectangle((4, 4, width - 5, 88), radius=28, fill=ACCENT,
                           corners=(True, True, False, False))
    draw.rounded_rectangle((4, 4, width - 5, height - 5), radius=28, outline=INK, width=4)
    heading = ImageFont.load_default(size=44)
    body = ImageFont.load_default(size=34)
    small = ImageFont.load_default(size=24)
    draw.text((36, 20), "ChargeNet · station activation", font=heading, fill="white")
    label.paste(code, (24, 104))
    left = code.width + 48
    draw.text((left, 150), "MAC", font=small, fill=ACCENT)
    draw.text((left, 182), STICKER_MAC, font=body, fill=INK)
    draw.text((left, 262), "Activation password", font=small, fill=ACCENT)
    draw.text((left, 294), STICKER_PASSWORD, font=body, fill=INK)
    draw.text((left, height - 96), "Demo sticker: sandbox only", font=small, fill=INK)
    draw.text((left, height - 64), "Scan to activate", font=small, fill=INK)
    return label


def main(argv: list[str] | None = None) -> int:
    """Draw the sticker into `static/demo-sticker.png` (or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else STICKER_PATH
    draw_sticker().save(path, optimize=True)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
