"""Unit tests: the activation-sticker reader (payloads, photos, hostile files, the pool)."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bot.vision.sticker import (
    ERRORS,
    TIMEOUT,
    StickerConfig,
    StickerReader,
    StickerResult,
    decode,
    parse_payload,
    where,
)
from testkit import qrsynth

ROOT = Path(__file__).resolve().parent.parent
MAC16 = "0024:B100:000A:12E8"
MAC12 = "02:DF:34:D6:4D:46"


# ---------------------------------------------------------------------------------------------
# Payloads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://o.example-network.com/activate?mac=0024:b100:000a:12e8&pw=PAAXGU",
            (MAC16, "PAAXGU"),
        ),
        (
            "https://o.example-network.com/activate?pw=PAAXGU&mac=0024B100000A12E8",
            (MAC16, "PAAXGU"),
        ),
        (
            "https://o.example-network.com/activate?mac=0024%3AB100%3A000A%3A12E8&pw=PAAXGU",
            (MAC16, "PAAXGU"),
        ),
        (
            "https://o.example-network.com/activate?mac=0024-b100-000a-12e8&pw=paaxgu",
            (MAC16, "PAAXGU"),
        ),
        (
            "https://o.example-network.com/activate?mac=00:24:b1:00:00:0a:12:e8&pw=PAAXGU",
            (MAC16, "PAAXGU"),
        ),
        ("HTTPS://O.EXAMPLE-NETWORK.COM/ACTIVATE?MAC=02DF34D64D46&PW=PAAXGU", (MAC12, "PAAXGU")),
        (
            "https://o.example-network.com/activate/?mac=02-df-34-d6-4d-46&pw=PAAXGU&lang=de",
            (MAC12, "PAAXGU"),
        ),
        (
            "https://o.example-network.com:443/activate?mac=02df34d64d46&pw=PAAXGU",
            (MAC12, "PAAXGU"),
        ),
        (
            "  https://o.example-network.com/activate?mac=02df34d64d46&pw=PAAXGU\n",
            (MAC12, "PAAXGU"),
        ),
        ("MAC:0024:B100:000A:12E8;PW:PAAXGU", (MAC16, "PAAXGU")),
        ("mac:0024b100000a12e8;pw:paaxgu;", (MAC16, "PAAXGU")),
        ("MAC: 02-DF-34-D6-4D-46 ; PW: PAAXGU", (MAC12, "PAAXGU")),
        ("PW=PAAXGU\nMAC=02df34d64d46", (MAC12, "PAAXGU")),
        ("MAC:02%3Adf%3A34%3Ad6%3A4d%3A46;PW:PAAXGU", (MAC12, "PAAXGU")),
    ],
)
def test_sticker_payloads_are_understood(text: str, expected: tuple[str, str]) -> None:
    assert parse_payload(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "WIFI:T:WPA;S:Charger-setup;P:12345678;;",
        "SN:2332-088348;MAC:0024B1000001",  # a type plate: no password
        "https://voltacharge.example/p/AC22-T2S?sn=2332-088348",
        "https://o.example-network.com/help?model=AC22",
        "https://o.example-network.com/activate?mac=02df34d64d46",  # no password
        "https://o.example-network.co/activate?mac=02df34d64d46&pw=PAAXGU",  # look-alike host
        "https://o.example-network.com.evil.example/activate?mac=02df34d64d46&pw=PAAXGU",
        "https://o.example-network.com@evil.example/activate?mac=02df34d64d46&pw=PAAXGU",
        "https://user@o.example-network.com/activate?mac=02df34d64d46&pw=PAAXGU",
        "https://o.example-network.com:8443/activate?mac=02df34d64d46&pw=PAAXGU",
        "ftp://o.example-network.com/activate?mac=02df34d64d46&pw=PAAXGU",
        "https://o.example-network.com/activate/x?mac=02df34d64d46&pw=PAAXGU",
        "https://o.example-network.com/activate?mac=02df34d64d4&pw=PAAXGU",  # 11 digits
        "https://o.example-network.com/activate?mac=02df34d64d46&pw=PA0XGU",  # 0 not allowed
        "https://o.example-network.com/activate?mac=02df34d64d46&pw=PAX",  # too short
        "https://o.example-network.com/activate?mac=000000000000&pw=PAAXGU",
        "https://o.example-network.com/activate?mac=02df34d64d46&mac=02df34d64d47&pw=PAAXGU",
        "MAC:02df34d64d46;PW:PAAXGU;MAC:02df34d64d47",
        "MAC:zz:df:34:d6:4d:46;PW:PAAXGU",
        "MAC 02df34d64d46 PW PAAXGU",
        "https://[broken/activate?mac=02df34d64d46&pw=PAAXGU",
        "x" * 5000,
    ],
)
def test_other_codes_are_not_stickers(text: str) -> None:
    assert parse_payload(text) is None


def test_host_and_path_are_configuration() -> None:
    config = StickerConfig(host="act.chargenet.example", path="/a")
    text = "https://act.chargenet.example/a?mac=02df34d64d46&pw=PAAXGU"
    assert parse_payload(text, config) == (MAC12, "PAAXGU")
    assert parse_payload(text) is None
    assert (
        parse_payload("https://o.example-network.com/activate?mac=02df34d64d46&pw=PAAXGU", config)
        is None
    )
    assert parse_payload("MAC:02df34d64d46;PW:PAAXGU", config) == (MAC12, "PAAXGU")


def test_where_names_the_ninths() -> None:
    assert where((0.1, 0.1)) == "top left"
    assert where((0.5, 0.5)) == "centre"
    assert where((0.9, 0.5)) == "right"
    assert where((0.5, 0.95)) == "bottom"
    assert where((0.8, 0.9)) == "bottom right"


# ---------------------------------------------------------------------------------------------
# Photos (drawn here, from segno codes, with Pillow distortions)

PAYLOAD = qrsynth.Payload("MAC:0024-b100-000a-12e8;PW:PAAXGUANPK", MAC16, "PAAXGUANPK")


def scene(
    codes: list[tuple[str, tuple[float, float]]],
    *,
    size: tuple[int, int] = (800, 600),
    module_px: float = 5.0,
    rotation: float = 0.0,
    tilt: float = 0.0,
    inverted: bool = False,
    blur: float = 0.0,
    noise: float = 0.0,
    gain: float = 1.0,
    seed: int = 0,
) -> Image.Image:
    """A panel with QR stickers (text, centre as fractions), photographed as asked."""
    rng = np.random.default_rng(seed)
    w, h = size
    canvas = np.full((h, w, 3), 150.0, np.float32)
    for text, (fx, fy) in codes:
        card = qrsynth.sticker_card(qrsynth.qr_matrix(text), ["MAC", "PW"], inverted=inverted)
        scale = module_px / 8
        card = card.resize(
            (round(card.width * scale), round(card.height * scale)), Image.Resampling.LANCZOS
        )
        corners = qrsynth._corners(card.size, (fx * w, fy * h), rotation, tilt, 30.0, 2.0 * w)
        qrsynth.place(canvas, card, corners)
    img = Image.fromarray(np.clip(canvas * gain, 0, 255).astype(np.uint8))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        arr = np.asarray(img, np.float32) + rng.normal(0, noise, (h, w, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def jpeg(img: Image.Image, quality: int = 85, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    "kw",
    [
        {},  # sharp, upright
        {"rotation": 45, "tilt": 20},
        {"rotation": 200, "module_px": 3.0, "blur": 0.8, "noise": 4},
        {"module_px": 2.2, "rotation": 15, "blur": 0.6, "noise": 3},
        {"inverted": True, "rotation": -30},
        {"gain": 0.35, "noise": 2, "rotation": 10},  # dark photo, low contrast
        {"module_px": 14, "size": (640, 640)},  # a code filling the frame
    ],
    ids=["plain", "tilted", "small-blurred", "tiny", "light-on-dark", "dark", "big"],
)
def test_sticker_is_read_from_photos(kw: dict) -> None:
    img = scene([(PAYLOAD.text, (0.5, 0.5))], **kw)
    res = decode(jpeg(img))
    assert res.ok, res
    assert (res.mac, res.pw) == (MAC16, "PAAXGUANPK")
    assert res.error is None
    assert res.ms > 0


@pytest.mark.parametrize("level", [1, 2, 3])
def test_generated_phone_photos_by_level(level: int) -> None:
    rng = np.random.default_rng(100 + level)
    shot = qrsynth.random_shot(rng, level)
    shot.payload, shot.size = qrsynth.random_payload(rng), (960, 720)
    res = decode(qrsynth.encode(qrsynth.render_photo(shot, rng), "JPEG", 80))
    assert (res.mac, res.pw) == (shot.payload.mac, shot.payload.pw), (res, shot.params)


def test_the_sticker_is_picked_among_other_codes() -> None:
    img = scene(
        [
            ("https://voltacharge.example/p/AC22-T2S?sn=2332-088348", (0.22, 0.3)),
            ("https://o.example-network.co/activate?mac=02df34d64d46&pw=PAAXGU", (0.22, 0.75)),
            (PAYLOAD.text, (0.72, 0.5)),
        ],
        size=(1000, 700),
        module_px=4,
    )
    res = decode(jpeg(img))
    assert (res.mac, res.pw) == (MAC16, "PAAXGUANPK")


def test_a_foreign_code_is_not_a_sticker_and_says_where() -> None:
    img = scene([("https://voltacharge.example/manual/ac22", (0.2, 0.25))], module_px=4)
    res = decode(jpeg(img))
    assert (res.mac, res.error, res.where) == (None, "not_sticker", "top left")


def test_a_look_alike_on_another_host_is_not_a_sticker() -> None:
    text = "https://o.example-netw0rk.com/activate?mac=02df34d64d46&pw=PAAXGU"
    res = decode(jpeg(scene([(text, (0.5, 0.5))])))
    assert (res.mac, res.error) == (None, "not_sticker")


def test_two_different_stickers_are_ambiguous() -> None:
    other = "MAC:02df34d64d46;PW:PAAXGU"
    img = scene([(PAYLOAD.text, (0.27, 0.5)), (other, (0.75, 0.5))], size=(1000, 600), module_px=4)
    assert decode(jpeg(img)).error == "ambiguous"


def test_no_code() -> None:
    rng = np.random.default_rng(3)
    shot = qrsynth.Shot(level=1, size=(800, 600), module_px=6)
    res = decode(qrsynth.encode(qrsynth.render_photo(shot, rng)))
    assert (res.mac, res.error, res.where) == (None, "no_code", None)


def test_a_damaged_code_is_found_but_unreadable_with_its_place() -> None:
    matrix = qrsynth.qr_matrix(PAYLOAD.text, "l")
    n = matrix.shape[0]
    rng = np.random.default_rng(1)
    matrix[9 : n - 9, 9 : n - 9] = rng.random((n - 18, n - 18)) < 0.5  # scratched
    card = qrsynth.sticker_card(matrix, ["MAC", "PW"], module=6)
    canvas = Image.new("RGB", (900, 700), (150, 150, 150))
    canvas.paste(card.convert("RGB"), (560, 440))
    res = decode(jpeg(canvas))
    assert (res.mac, res.error, res.where) == (None, "unreadable_code", "bottom right")


def test_exif_orientation_and_formats_of_files() -> None:
    img = scene([(PAYLOAD.text, (0.5, 0.5))], size=(1200, 900), module_px=6, rotation=10)
    for fmt in ("JPEG", "PNG", "WEBP", "HEIF"):
        data = qrsynth.encode(img, fmt, 90, exif_orientation=6 if fmt == "JPEG" else None)
        res = decode(data)
        assert (res.mac, res.pw) == (MAC16, "PAAXGUANPK"), fmt


def _big_grey(
    module_px: float, size: tuple[int, int] = (3200, 2400), scratched: bool = False
) -> Image.Image:
    """A sticker code with modules of `module_px` (clean, or scratched inside its fixed
    patterns) on a grey frame larger than the scan's working copy (which halves it)."""
    matrix = qrsynth.qr_matrix(PAYLOAD.text, "l")
    if scratched:
        n = matrix.shape[0]
        matrix[9 : n - 9, 9 : n - 9] = np.random.default_rng(1).random((n - 18, n - 18)) < 0.5
    matrix = np.pad(matrix, 4)
    code = Image.fromarray(np.where(matrix, 20, 235).astype(np.uint8))
    side = round(matrix.shape[0] * module_px)
    code = code.resize((side, side), Image.Resampling.BILINEAR)
    frame = Image.new("L", size, 170)
    frame.paste(code, ((size[0] - side) // 2, (size[1] - side) // 2))
    return frame


@pytest.mark.parametrize(
    ("module_px", "scratched", "passes"),
    [
        (9.0, False, ["working copy"]),
        (2.6, False, ["working copy", "full photo"]),
        (9.0, True, ["working copy"]),
    ],
    ids=["big-modules", "small-modules", "big-modules-unreadable"],
)
def test_a_large_photo_is_read_on_the_working_copy_first(
    module_px: float, scratched: bool, passes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """zxing-cpp reads a large photo's working copy first; the full photo only when that
    reads no sticker and locates no code with modules big enough for the working copy."""
    from bot.vision import qrscan

    ran: list[str] = []
    real = qrscan.zxing_read

    def spy(*args: object, **kw: object) -> list[qrscan.Symbol]:
        ran.append("full photo" if kw.get("full") else "working copy")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(qrscan, "zxing_read", spy)
    ctx = qrscan.ScanContext(_big_grey(module_px, scratched=scratched))
    col = qrscan.Collector(lambda text: parse_payload(text) is not None)
    qrscan.step_zxing_full(ctx, col)
    assert ran == passes
    if scratched:  # located, its module size measured, not read: a suspect ("move closer" …)
        assert not col.outcome.accepted
        assert {round(s.module) for s in col.outcome.suspects} == {9}
    else:
        assert [s.text for s in col.outcome.accepted] == [PAYLOAD.text]
        assert decode(jpeg(_big_grey(module_px))).mac == MAC16


# ---------------------------------------------------------------------------------------------
# Hostile files


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny PNG that declares a huge, all-black 1-bit image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\0" + bytes((width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(2000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_hostile_files_get_clear_reasons() -> None:
    photo = jpeg(scene([(PAYLOAD.text, (0.5, 0.5))]))
    cases = {
        b"": "not_image",
        b"hello, this is not a picture" * 10: "not_image",
        b"%PDF-1.7\n" + bytes(2000): "not_image",
        photo[: len(photo) // 2]: "broken_image",
        photo[:200]: "broken_image",
        png_bomb(): "too_large",  # a decompression bomb
        bytes(21 * 1024 * 1024): "too_large",
    }
    for data, reason in cases.items():
        res = decode(data)
        assert (res.mac, res.error) == (None, reason), (data[:20], res)
        assert reason in ERRORS


def test_a_large_png_of_noise_ends_in_bounded_time() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (2400, 2400, 3), dtype=np.uint8)
    data = _png(Image.fromarray(noise), compress_level=0)
    assert 15 * 1024 * 1024 < len(data) < 20 * 1024 * 1024
    res = decode(data, budget_s=5.0)
    assert res.mac is None
    assert res.error in ("no_code", "timeout")


def test_a_spent_budget_is_reported() -> None:
    res = decode(jpeg(scene([(PAYLOAD.text, (0.5, 0.5))])), budget_s=0.0)
    assert res.error == "timeout"


def test_a_spent_cpu_allowance_gives_the_found_so_far_answer_not_a_timeout() -> None:
    data = jpeg(scene([(PAYLOAD.text, (0.5, 0.5))]))
    assert decode(data, cpu_s=0.0).error == "no_code"  # no step started: nothing found
    assert decode(data).ok  # the default allowance reads it


# ---------------------------------------------------------------------------------------------
# Off the event loop, and the command line


async def test_reader_decodes_off_the_event_loop() -> None:
    reader = StickerReader(workers=2, budget_s=8.0)
    try:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        data = jpeg(scene([(PAYLOAD.text, (0.5, 0.5))], module_px=3, rotation=33))
        results = await asyncio.gather(reader.read(data), reader.read(b"nonsense"))
        task.cancel()
        assert isinstance(results[0], StickerResult)
        assert (results[0].mac, results[0].pw) == (MAC16, "PAAXGUANPK")
        assert results[1].error == "not_image"
        assert ticks > 10  # the loop kept running meanwhile
        spent = StickerReader(workers=1, budget_s=0.0)
        try:
            assert (await spent.read(data)).error == "timeout"
        finally:
            spent.close()
    finally:
        reader.close()


def stall(seconds: float, *, budget_s: float) -> None:
    """A code reading that never ends in time (run in a worker process)."""
    time.sleep(seconds)


async def test_a_stuck_decode_frees_its_worker_for_the_next_photo() -> None:
    reader = StickerReader(workers=2, budget_s=8.0, grace_s=0.2)
    data = jpeg(scene([(PAYLOAD.text, (0.5, 0.5))]))
    try:
        started = time.monotonic()
        first = await asyncio.gather(reader.read(data), reader.read(data))  # two fresh workers
        cold = time.monotonic() - started
        assert all(r.ok for r in first)
        # Both workers stuck: each is cut off at its budget plus the grace, not after 60 s.
        started = time.monotonic()
        stuck = await asyncio.gather(*(reader._run(stall, 60.0, budget_s=0.3) for _ in range(2)))
        assert stuck == [TIMEOUT, TIMEOUT]
        assert time.monotonic() - started < 0.3 + 0.2 + 0.5
        # The next photos decode at once, on fresh workers (not behind the stuck ones).
        started = time.monotonic()
        after = await asyncio.gather(reader.read(data), reader.read(data))
        took = time.monotonic() - started
        assert all(r.ok for r in after)
        assert took < cold + 1.0, (cold, took)
    finally:
        reader.close()


def test_command_line_prints_json_lines(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg(scene([(PAYLOAD.text, (0.5, 0.5))])))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    out = subprocess.run(
        [sys.executable, "-m", "bot.vision.sticker", str(good), str(bad),
         str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows[0]["mac"] == MAC16 and rows[0]["pw"] == "PAAXGUANPK" and rows[0]["ms"] > 0
    assert rows[1] == {
        "file": str(bad),
        "mac": None,
        "pw": None,
        "ms": rows[1]["ms"],
        "error": "not_image",
    }
    assert rows[2]["mac"] is None and rows[2]["error"]
