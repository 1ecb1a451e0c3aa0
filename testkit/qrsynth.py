"""Synthetic phone photos of activation stickers, for the tests and the QR benchmark.

A scene is a panel with the network's sticker (QR code, MAC and password printed beside it),
the manufacturer's type plate and, on request, other codes; it is then photographed badly:
perspective, rotation, curved surface, blur and motion blur, gain, glare, partial shadow, veil,
noise, JPEG. Everything is drawn from a seeded `numpy.random.Generator`, so a corpus is
reproducible. Needs `segno` (a test dependency); nothing in the bot imports this module.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bot.engine.validators import normalise_mac
from bot.vision.qrgrid import homography

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
HOST = "o.example-network.com"
PATH = "/activate"


# ---------------------------------------------------------------------------------------------
# Payloads


@dataclass(frozen=True)
class Payload:
    """A sticker payload and the values a decoder must report for it."""

    text: str
    mac: str
    pw: str


def random_payload(rng: np.random.Generator, host: str = HOST, path: str = PATH) -> Payload:
    """A sticker payload in one of the accepted spellings (URL or `MAC:…;PW:…`)."""
    eui64 = rng.random() < 0.5
    if rng.random() < 0.6:  # the manufacturer's OUI
        digits = ("0024B100" if eui64 else "0024B1") + "".join(
            rng.choice(list("0123456789ABCDEF"), 8 if eui64 else 6)
        )
    else:
        digits = "".join(rng.choice(list("0123456789ABCDEF"), 16 if eui64 else 12))
    group = int(rng.choice([2, 4])) if eui64 else 2
    sep = str(rng.choice([":", "-", ""]))
    raw = sep.join(digits[i : i + group] for i in range(0, len(digits), group))
    raw = raw.lower() if rng.random() < 0.35 else raw
    pw = "".join(rng.choice(list(PASSWORD_ALPHABET), int(rng.integers(6, 13))))
    mac = normalise_mac(raw)
    assert mac is not None
    if rng.random() < 0.5:
        value = quote(raw, safe="") if rng.random() < 0.3 else raw
        params = [f"mac={value}", f"pw={pw}"]
        if rng.random() < 0.3:
            params.reverse()
        text = f"https://{host}{path}?{'&'.join(params)}"
        if rng.random() < 0.1:
            text = text.upper()
    else:
        text = f"MAC:{raw};PW:{pw}"
        if rng.random() < 0.15:
            text = text.replace("MAC:", "mac:").replace("PW:", "pw:")
    return Payload(text, mac, pw)


def foreign_payload(rng: np.random.Generator, kind: str) -> str:
    """Text of a code that must be ignored: type plate, manual link, look-alike sticker."""
    sn = f"{rng.integers(1000, 9999)}-{rng.integers(0, 999999):06d}"
    if kind == "plate":
        return str(
            rng.choice(
                [
                    f"https://voltacharge.example/p/AC22-T2S?sn={sn}",
                    f"SN:{sn};MODEL:AC22-T2S",
                    f"SN:{sn};MAC:0024B1{rng.integers(0, 16**6):06X}",
                ]
            )
        )
    if kind == "url":
        return str(
            rng.choice(
                [
                    "https://voltacharge.example/manual/ac22",
                    f"https://{HOST}/help?model=AC22",
                    "WIFI:T:WPA;S:Charger-setup;P:12345678;;",
                ]
            )
        )
    if kind == "lookalike":
        other = random_payload(rng, host=str(rng.choice(["o.example-netw0rk.com", "example.com"])))
        if "://" not in other.text:
            return f"https://o.example-network.co/activate?mac={other.mac}&pw={other.pw}"
        return other.text
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Cards


def qr_matrix(text: str, error: str = "m", version: int | None = None) -> np.ndarray:
    """The module matrix (True = dark) of a QR code, without quiet zone."""
    import segno

    qr = segno.make(text, error=error, version=version, micro=False, boost_error=False)
    return np.array([list(row) for row in qr.matrix], dtype=bool)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def sticker_card(
    matrix: np.ndarray,
    lines: list[str],
    *,
    module: int = 8,
    inverted: bool = False,
    layout: str = "H",
    header: bool = True,
    quiet: int = 4,
) -> Image.Image:
    """An RGBA sticker: QR code with quiet zone, text beside (H) or below (V), header band."""
    n = matrix.shape[0]
    qr_px = (n + 2 * quiet) * module
    paper, ink = ((32, 34, 38), (236, 236, 230)) if inverted else ((246, 246, 240), (20, 20, 24))
    font_px = max(10, int(module * 2.4))
    font = _font(font_px)
    text_w = int(max(len(s) for s in lines) * font_px * 0.62) + 2 * module
    text_h = len(lines) * int(font_px * 1.4) + 2 * module
    band = int(module * 3) if header else 0
    if layout == "H":
        width, height = qr_px + text_w, max(qr_px, text_h) + band
        qr_at, text_at = (0, band), (qr_px, band + (qr_px - text_h) // 2 + module)
    else:
        width, height = max(qr_px, text_w), qr_px + text_h + band
        qr_at, text_at = ((width - qr_px) // 2, band), (module, band + qr_px)
    card = Image.new("RGBA", (width, height), (*paper, 255))
    draw = ImageDraw.Draw(card)
    if header:
        draw.rectangle((0, 0, width, band), fill=(0, 90, 160, 255))
        draw.text((module, band // 6), "EV CHARGER ACTIVATION", fill="white", font=_font(band // 2))
    cells = np.pad(matrix, quiet)
    img = np.where(cells, 0, 1).astype(np.uint8)
    rgb = np.where(img[..., None] == 0, np.array(ink, np.uint8), np.array(paper, np.uint8))
    rgb = np.kron(rgb, np.ones((module, module, 1), np.uint8))
    card.paste(Image.fromarray(rgb, "RGB"), qr_at)
    y = text_at[1]
    for line in lines:
        draw.text((text_at[0], y), line, fill=(*ink, 255), font=font)
        y += int(font_px * 1.4)
    draw.rectangle(
        (0, 0, width - 1, height - 1), outline=(90, 90, 90, 255), width=max(1, module // 3)
    )
    return card


def plate_card(rng: np.random.Generator, qr_text: str | None, module: int = 8) -> Image.Image:
    """The manufacturer's type plate (grey, text, optionally its own QR code)."""
    font_px = int(module * 2.2)
    lines = [
        "VOLTACHARGE GmbH",
        "Type: AC22-T2S  Wallbox",
        f"S/N: {rng.integers(1000, 9999)}-{rng.integers(0, 999999):06d}",
        "400 V 3~  32 A  50 Hz",
        "22 kW  IP54  IK10",
    ]
    width = int(26 * font_px * 0.62) + 2 * module
    height = len(lines) * int(font_px * 1.45) + 2 * module
    qr_img = None
    if qr_text:
        m = qr_matrix(qr_text, "l")
        qr_px = (m.shape[0] + 4) * module
        cells = np.pad(m, 2)
        qr_img = Image.fromarray(
            np.where(np.kron(cells, np.ones((module, module))), 25, 205).astype(np.uint8)
        )
        width += qr_px
        height = max(height, qr_px + 2 * module)
    card = Image.new("RGBA", (width, height), (200, 202, 204, 255))
    draw = ImageDraw.Draw(card)
    font = _font(font_px)
    for i, line in enumerate(lines):
        draw.text(
            (module, module + i * int(font_px * 1.45)), line, fill=(25, 25, 25, 255), font=font
        )
    if qr_img is not None:
        card.paste(qr_img.convert("RGBA"), (width - qr_img.width - module, module))
    draw.rectangle(
        (0, 0, width - 1, height - 1), outline=(70, 70, 70, 255), width=max(2, module // 2)
    )
    return card


# ---------------------------------------------------------------------------------------------
# Geometry


def _curve(card: Image.Image, span_deg: float, bow: float) -> Image.Image:
    """The card wrapped round a vertical cylinder of `span_deg`, seen from a little above."""
    a = np.asarray(card, np.float32)
    h, w = a.shape[:2]
    phi = math.radians(span_deg)
    radius = w / phi
    half = radius * math.sin(phi / 2)
    out_w = max(8, int(2 * half))
    xo = np.arange(out_w, dtype=np.float32) - out_w / 2 + 0.5
    theta = np.arcsin(np.clip(xo / radius, -1, 1))
    x_src = radius * theta + w / 2
    shift = bow * radius * (1 - np.cos(theta))
    pad = int(abs(bow) * radius * (1 - math.cos(phi / 2))) + 2
    yo = np.arange(h + pad, dtype=np.float32)[:, None]
    y_src = yo - shift[None, :]
    x_src = np.broadcast_to(x_src[None, :], y_src.shape)
    x0 = np.clip(np.floor(x_src).astype(np.intp), 0, w - 2)
    y0 = np.clip(np.floor(y_src).astype(np.intp), 0, h - 2)
    fx = np.clip(x_src - x0, 0, 1)[..., None]
    fy = np.clip(y_src - y0, 0, 1)[..., None]
    v = (
        a[y0, x0] * (1 - fx) * (1 - fy)
        + a[y0, x0 + 1] * fx * (1 - fy)
        + a[y0 + 1, x0] * (1 - fx) * fy
        + a[y0 + 1, x0 + 1] * fx * fy
    )
    inside = ((y_src >= 0) & (y_src <= h - 1))[..., None]
    v = np.where(inside, v, 0)
    shade = (0.8 + 0.2 * np.cos(theta))[None, :, None]
    v[..., :3] *= shade
    return Image.fromarray(np.clip(v, 0, 255).astype(np.uint8), "RGBA")


def _corners(
    size: tuple[int, int],
    centre: tuple[float, float],
    rotation: float,
    tilt: float,
    tilt_dir: float,
    focal: float,
) -> np.ndarray:
    """Image positions of a flat card's corners after rotation, tilt and projection."""
    w, h = size
    pts = np.array([(-w / 2, -h / 2, 0), (w / 2, -h / 2, 0), (w / 2, h / 2, 0), (-w / 2, h / 2, 0)])
    r = math.radians(rotation)
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    d = math.radians(tilt_dir)
    axis = np.array([math.cos(d), math.sin(d), 0.0])
    t = math.radians(tilt)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rt = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k
    p = pts @ rz.T @ rt.T
    scale = focal / (focal + p[:, 2])
    return np.stack([centre[0] + p[:, 0] * scale, centre[1] + p[:, 1] * scale], 1)


def place(canvas: np.ndarray, card: Image.Image, corners: np.ndarray) -> None:
    """Draw an RGBA card onto a float RGB canvas so that its corners land on `corners`."""
    h, w = canvas.shape[:2]
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    src = np.array([(0, 0), (card.width, 0), (card.width, card.height), (0, card.height)], float)
    coeffs = homography(corners - (x0, y0), src).ravel()[:8]
    patch = card.transform(
        (x1 - x0, y1 - y0), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BICUBIC
    )
    arr = np.asarray(patch, np.float32)
    alpha = arr[..., 3:4] / 255.0
    region = canvas[y0:y1, x0:x1]
    region[:] = region * (1 - alpha) + arr[..., :3] * alpha


# ---------------------------------------------------------------------------------------------
# Photos

LEVELS: dict[int, dict[str, tuple[float, float]]] = {
    1: {
        "module": (6, 10),
        "rot": (-10, 10),
        "tilt": (0, 8),
        "blur": (0.3, 0.6),
        "motion": (0, 1),
        "noise": (1, 3),
        "gain": (0.9, 1.0),
        "contrast": (0.9, 1.0),
        "jpeg": (80, 92),
    },
    2: {
        "module": (4, 7),
        "rot": (-30, 30),
        "tilt": (0, 20),
        "blur": (0.4, 1.0),
        "motion": (0, 2),
        "noise": (2, 6),
        "gain": (0.7, 1.0),
        "contrast": (0.8, 0.95),
        "jpeg": (68, 88),
    },
    3: {
        "module": (3, 5),
        "rot": (-180, 180),
        "tilt": (0, 28),
        "blur": (0.4, 1.2),
        "motion": (0, 3),
        "noise": (3, 10),
        "gain": (0.5, 1.0),
        "contrast": (0.65, 0.95),
        "jpeg": (55, 82),
    },
    4: {
        "module": (1.5, 3.2),
        "rot": (-180, 180),
        "tilt": (0, 38),
        "blur": (0.3, 1.1),
        "motion": (0, 3),
        "noise": (6, 12),
        "gain": (0.35, 0.9),
        "contrast": (0.5, 0.9),
        "jpeg": (55, 75),
    },
}
LEVELS[5] = {**LEVELS[4], "module": (1.5, 2.5)}
"""Level 5: level 4's light and optics with modules at the physical limit."""


@dataclass
class Shot:
    """What to photograph and how; `random_shot` fills it, `render_photo` draws it."""

    level: int = 1
    size: tuple[int, int] = (1280, 960)
    payload: Payload | None = None
    extra_codes: list[str] = field(default_factory=list)
    inverted: bool = False
    curved: float = 0.0
    shadow: bool = False
    plate: bool = True
    module_px: float = 6.0
    layout: str | None = None
    """Sticker layout: code beside the text ("H") or above it ("V"); None draws one."""
    overrides: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Ranges that replace the level's (e.g. ``{"noise": (10, 20)}``)."""
    params: dict[str, Any] = field(default_factory=dict)


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def render_photo(shot: Shot, rng: np.random.Generator) -> Image.Image:
    """Draw the scene and photograph it (RGB image); fills `shot.params` with what was used."""
    w, h = shot.size
    lv = {**LEVELS[shot.level], **shot.overrides}
    p = shot.params
    big = max(w, h) / 1280
    base = rng.uniform(90, 200, 3) * rng.uniform(0.85, 1.0)
    canvas = np.empty((h, w, 3), np.float32)
    canvas[:] = base
    low = rng.normal(0, 6, (6, 8)).astype(np.float32)
    tex = np.asarray(Image.fromarray(low, "F").resize((w, h), Image.Resampling.BICUBIC))
    canvas += tex[..., None]
    for _ in range(int(rng.integers(0, 4))):  # panel seams
        x = int(rng.uniform(0, w))
        draw_w = max(1, int(2 * big))
        slope = rng.uniform(-0.15, 0.15)
        ys = np.arange(h)
        xs = np.clip((x + slope * ys).astype(int), 0, w - draw_w)
        for k in range(draw_w):
            canvas[ys, xs + k] *= 0.75
    focal = rng.uniform(1.0, 2.0) * max(w, h)
    rotation = _u(rng, lv["rot"])
    tilt, tilt_dir = _u(rng, lv["tilt"]), float(rng.uniform(0, 360))
    p.update(
        level=shot.level,
        size=[w, h],
        rotation_deg=round(rotation, 1),
        tilt_deg=round(tilt, 1),
        tilt_dir_deg=round(tilt_dir, 1),
    )
    occupied: list[tuple[float, float, float]] = []

    def spot(radius: float) -> tuple[float, float]:
        for _ in range(60):
            cx = rng.uniform(radius, max(radius + 1, w - radius))
            cy = rng.uniform(radius, max(radius + 1, h - radius))
            if all(math.hypot(cx - x, cy - y) > (radius + r) * 0.9 for x, y, r in occupied):
                break
        occupied.append((cx, cy, radius))
        return cx, cy

    def put(card: Image.Image, scale: float, curve: float = 0.0) -> tuple[float, float, float]:
        """Place a card (scaled, maybe curved) wholly inside the frame; centre and scale used."""
        rot = rotation + rng.uniform(-4, 4)
        for _ in range(8):
            sized = card.resize(
                (max(4, round(card.width * scale)), max(4, round(card.height * scale))),
                Image.Resampling.LANCZOS,
            )
            if curve:
                sized = _curve(sized, curve, float(rng.uniform(0.0, 0.12)))
            corners = _corners(sized.size, (0.0, 0.0), rot, tilt, tilt_dir, focal)
            span = corners.max(0) - corners.min(0)
            if span[0] < 0.96 * w and span[1] < 0.96 * h:
                break
            scale *= 0.85
        radius = 0.5 * math.hypot(*span)
        cx, cy = spot(radius)
        lo, hi = corners.min(0), corners.max(0)
        cx = min(max(cx, 0.02 * w - lo[0]), 0.98 * w - hi[0])
        cy = min(max(cy, 0.02 * h - lo[1]), 0.98 * h - hi[1])
        occupied[-1] = (cx, cy, radius)
        place(canvas, sized, _corners(sized.size, (cx, cy), rot, tilt, tilt_dir, focal))
        return cx, cy, scale

    module = 8
    target = (w / 2, h / 2, 0.0)
    card = None
    if shot.payload is not None:  # sized first, drawn last: nothing may cover the sticker
        matrix = qr_matrix(shot.payload.text, str(rng.choice(["l", "m", "q"])))
        lines = [f"MAC: {shot.payload.mac.lower()}", f"Activation Password: {shot.payload.pw}"]
        layout = shot.layout or str(rng.choice(["H", "V"]))
        p["layout"] = layout
        card = sticker_card(
            matrix,
            lines,
            module=module,
            inverted=shot.inverted,
            layout=layout,
            header=bool(rng.random() < 0.6),
        )
        p.update(
            modules=int(matrix.shape[0]),
            module_px=round(shot.module_px, 2),
            payload=shot.payload.text,
        )
    if shot.plate:
        plate_qr = next(
            (c for c in shot.extra_codes if c.startswith(("SN:", "https://volta"))), None
        )
        put(plate_card(rng, plate_qr, module), shot.module_px * rng.uniform(0.8, 1.2) / module)
    for code in shot.extra_codes:
        if shot.plate and code.startswith(("SN:", "https://volta")):
            continue
        matrix = qr_matrix(code, "m")
        extra = sticker_card(matrix, ["Scan me"], module=module, layout="V", header=False)
        put(extra, shot.module_px * rng.uniform(0.8, 1.3) / module)
    if card is not None:
        cx, cy, scale = put(card, shot.module_px / module, shot.curved)
        target = occupied[-1]
        p["module_px"] = round(scale * module, 2)
        p["sticker_centre"] = [round(cx / w, 3), round(cy / h, 3)]
    p.update(extras=list(shot.extra_codes), inverted=shot.inverted, curved_deg=shot.curved)

    # light
    gain = _u(rng, lv["gain"])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gdir = rng.uniform(0, 2 * math.pi)
    grad = float(rng.uniform(0, 0.35))
    light = gain * (
        1 - grad * (0.5 + 0.5 * ((xx / w) * math.cos(gdir) + (yy / h) * math.sin(gdir)))
    )
    canvas *= light[..., None]
    if shot.shadow:
        ang = rng.uniform(0, 2 * math.pi)
        cx, cy = target[:2]
        offset = rng.uniform(-0.3, 0.3) * target[2]
        side = (xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang) - offset
        edge = rng.uniform(2, 25) * big
        depth = rng.uniform(0.35, 0.65)
        mask = 1 - depth / (1 + np.exp(np.clip(-side / edge, -60, 60)))
        canvas *= mask[..., None]
        p.update(shadow_depth=round(depth, 2))
    if rng.random() < 0.5:
        gx, gy = target[:2] if rng.random() < 0.7 else (w / 2, h / 2)
        gx += rng.normal(0, 40 * big)
        gy += rng.normal(0, 40 * big)
        amp, sig = rng.uniform(40, 170), rng.uniform(10, 120) * big
        canvas += (amp * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * sig**2)))[..., None]
        p.update(glare_amp=round(amp, 1), glare_sigma_px=round(sig, 1))
    del xx, yy
    contrast = _u(rng, lv["contrast"])
    veil = rng.uniform(40, 150)
    canvas = veil + contrast * (canvas - veil)

    # optics
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    blur = _u(rng, lv["blur"]) * big
    img = img.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img, np.float32)
    motion = _u(rng, lv["motion"]) * big
    if motion >= 1:
        ang = rng.uniform(0, math.pi)
        steps = math.ceil(motion) + 1
        acc = np.zeros_like(arr)
        for i in range(steps):
            t = i / (steps - 1) - 0.5
            acc += np.roll(
                arr, (round(t * motion * math.sin(ang)), round(t * motion * math.cos(ang))), (0, 1)
            )
        arr = acc / steps
    noise = _u(rng, lv["noise"])
    arr = arr + rng.normal(0, noise, arr.shape).astype(np.float32)
    p.update(
        gain=round(gain, 2),
        light_gradient=round(grad, 2),
        contrast=round(contrast, 2),
        veil=round(veil, 1),
        blur_sigma_px=round(blur, 2),
        motion_px=round(motion, 2),
        noise_sigma=round(noise, 2),
    )
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def encode(
    img: Image.Image, fmt: str = "JPEG", quality: int = 85, exif_orientation: int | None = None
) -> bytes:
    """Image file bytes; with `exif_orientation`, pixels are stored turned and the tag set."""
    if exif_orientation in (3, 6, 8):
        inverse = {
            3: Image.Transpose.ROTATE_180,
            6: Image.Transpose.ROTATE_90,
            8: Image.Transpose.ROTATE_270,
        }[exif_orientation]
        img = img.transpose(inverse)
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    if fmt == "HEIF":
        from bot.vision.images import _register_heif

        _register_heif()
    if fmt in ("JPEG", "WEBP", "HEIF"):
        kwargs["quality"] = quality
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def random_shot(rng: np.random.Generator, level: int) -> Shot:
    """A shot of the given difficulty with random extra features (codes, shadow, curve …)."""
    lv = LEVELS[level]
    shot = Shot(level=level, module_px=_u(rng, lv["module"]))
    roll = rng.random()
    if roll < 0.05:
        kind = "no_code"
        shot.plate = True
    elif roll < 0.09:
        kind = "lookalike_only"
        shot.extra_codes = [foreign_payload(rng, "lookalike")]
    elif roll < 0.12:
        kind = "plate_code_only"
        shot.extra_codes = [foreign_payload(rng, "plate")]
    else:
        kind = "sticker"
        shot.payload = random_payload(rng)
        if rng.random() < 0.25:
            shot.extra_codes.append(
                foreign_payload(rng, str(rng.choice(["plate", "url", "lookalike"])))
            )
        shot.inverted = bool(rng.random() < 0.1)
        shot.curved = float(rng.uniform(40, 110)) if rng.random() < 0.12 else 0.0
        shot.shadow = bool(rng.random() < 0.15)
    shot.params["kind"] = kind
    if rng.random() < 0.5:
        shot.size = (960, 1280)
    return shot


def hard_shot(rng: np.random.Generator, level: int) -> Shot:
    """Issue 15's harder sticker photos, level 4 (modules 2–3 px) or 5 (1.5–2.5 px).

    Each draws its own failure classes: horizontal layout (code beside the text), landscape
    frame, strong sensor noise (σ 10–20), curved label, shadow across the code, a look-alike
    sticker (another host) or another code in the frame.
    """
    if level == 4:
        module = _u(rng, (2.0, 3.0))
    else:
        module = _u(rng, (2.0, 2.5)) if rng.random() < 0.5 else _u(rng, (1.5, 2.0))
    shot = Shot(level=level, module_px=module, payload=random_payload(rng))
    shot.layout = "H" if rng.random() < 0.36 else "V"
    shot.size = (1280, 960) if rng.random() < 0.55 else (960, 1280)
    if rng.random() < 0.35:
        shot.overrides["noise"] = (10.0, 20.0)
    shot.curved = float(rng.uniform(40, 90)) if rng.random() < 0.1 else 0.0
    shot.shadow = bool(rng.random() < 0.12)
    extra = rng.random()
    if extra < 0.12:
        shot.extra_codes.append(foreign_payload(rng, "lookalike"))
    elif extra < 0.25:
        shot.extra_codes.append(foreign_payload(rng, str(rng.choice(["plate", "url"]))))
    shot.params["kind"] = "sticker"
    return shot


def code_free_shot(rng: np.random.Generator, level: int) -> Shot:
    """A photo without the sticker: nothing, a look-alike sticker or the type plate's code."""
    shot = Shot(level=level, module_px=_u(rng, LEVELS[level]["module"]))
    kind = str(rng.choice(["no_code", "lookalike_only", "plate_code_only"]))
    if kind == "lookalike_only":
        shot.extra_codes = [foreign_payload(rng, "lookalike")]
    elif kind == "plate_code_only":
        shot.extra_codes = [foreign_payload(rng, "plate")]
    shot.params["kind"] = kind
    if rng.random() < 0.5:
        shot.size = (960, 1280)
    return shot
