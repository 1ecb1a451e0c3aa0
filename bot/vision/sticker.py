"""Read the activation sticker (its QR code: MAC and password) from a photo.

`decode(data)` takes the bytes of any file a user sent and returns a `StickerResult`: the
normalised MAC and password, or an error code the bot turns into one sentence:

==================  ==========================================================================
``not_image``       the file is not a picture we can read
``broken_image``    a picture, but damaged or truncated
``too_large``       more bytes or pixels than allowed
``no_code``         no QR code found
``not_sticker``     a QR code was read, but it is not the network's activation sticker
``unreadable_code`` a code is visible (``where`` tells where) but too small or blurred to read;
                    ``advice`` (`bot.vision.advice.Advice`) says what to change, if measurable
``ambiguous``       two different activation stickers in one photo
``timeout``         reading took longer than the time budget
``internal_error``  the decoder failed (a bug, or a worker process died); offer typed entry
==================  ==========================================================================

`StickerReader` runs `decode` in worker processes so the bot's event loop never blocks; a
worker stuck past the time budget is killed and replaced.
Command line: ``python -m bot.vision.sticker PATH...`` prints one JSON line per file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import Image

from bot.engine.validators import normalise_mac, normalise_password
from bot.vision.advice import Advice, advise
from bot.vision.images import ImageError, load_image

if TYPE_CHECKING:
    from bot.vision.qrscan import ScanOutcome, Step

# The decoders (NumPy, zxing-cpp, zbar: `bot.vision.qrscan`, `bot.vision.barcodes`) are
# imported where they run, in the reader's worker processes: the bot's own process, which
# only hands photos over, stays without them (~15 MB).
DECODERS = ("bot.vision.qrscan", "bot.vision.barcodes")
SCAN_CPU_S = 0.9
"""CPU time (s) a scan of a 1280×960 photo may spend before it stops starting steps and
reports what it found (a located code: "move closer"; else no code). Every photo of the three
benchmark corpora that the cascade reads at all is read within 0.85 s; 0.3 s would lose
reads (bench/README.md, "Times")."""

log = logging.getLogger(__name__)

ERRORS = (
    "not_image",
    "broken_image",
    "too_large",
    "no_code",
    "not_sticker",
    "unreadable_code",
    "ambiguous",
    "timeout",
    "internal_error",
)
"""Every error code `StickerResult.error` can hold."""


@dataclass(frozen=True)
class StickerConfig:
    """Which URL counts as the network's sticker (settings `sticker_url_host`/`_path`)."""

    host: str = "o.example-network.com"
    path: str = "/activate"


@dataclass(frozen=True)
class StickerResult:
    """The sticker's MAC and password, or an error code (see `ERRORS`), maybe where, and for
    an unreadable code maybe what to do about it."""

    mac: str | None
    pw: str | None
    error: str | None
    where: str | None = None
    ms: float = 0.0
    advice: Advice | None = None

    @property
    def ok(self) -> bool:
        """True when a MAC and password were read."""
        return self.error is None and self.mac is not None and self.pw is not None


# ---------------------------------------------------------------------------------------------
# Payload


_MAC_KEYS = {"mac", "macaddr", "mac_address"}
_PW_KEYS = {"pw", "pwd", "password"}
_FIELD = re.compile(r"^\s*([A-Za-z_]+)\s*[:=]\s*(.*?)\s*$", re.S)


def _pick(pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
    """MAC and password from (key, value) pairs; None if missing, invalid or contradictory."""
    macs: set[str] = set()
    pws: set[str] = set()
    for key, value in pairs:
        k = key.strip().lower()
        if k in _MAC_KEYS:
            mac = normalise_mac(unquote(value))
            if mac is None or set(mac.replace(":", "")) in ({"0"}, {"F"}):
                return None
            macs.add(mac)
        elif k in _PW_KEYS:
            pw = normalise_password(unquote(value))
            if pw is None:
                return None
            pws.add(pw)
    if len(macs) != 1 or len(pws) != 1:
        return None
    return macs.pop(), pws.pop()


def parse_payload(text: str, config: StickerConfig = StickerConfig()) -> tuple[str, str] | None:
    """(normalised MAC, password) if `text` is an activation-sticker payload, else None.

    Accepted: ``https://<host><path>?mac=…&pw=…`` (any order, any case, percent-encoding) and
    ``MAC:…;PW:…`` (any case, `;`, `,` or line breaks between the fields).
    """
    text = text.strip().strip("\x00")
    if not text or len(text) > 1000:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", text):
        return _parse_url(text, config)
    fields = [f for f in re.split(r"[;,\r\n]+", text) if f.strip()]
    pairs = []
    for f in fields:
        m = _FIELD.match(f)
        if not m:
            return None
        pairs.append((m.group(1), m.group(2)))
    return _pick(pairs)


def _parse_url(text: str, config: StickerConfig) -> tuple[str, str] | None:
    try:
        url = urlsplit(text)
        host = (url.hostname or "").rstrip(".").lower()
        port = url.port
    except ValueError:
        return None
    if url.scheme.lower() not in ("http", "https") or url.username or url.password:
        return None
    if host != config.host.rstrip(".").lower():
        return None
    if port is not None and port != {"http": 80, "https": 443}[url.scheme.lower()]:
        return None
    want = "/" + config.path.strip("/").lower()
    if unquote(url.path).rstrip("/").lower() != want.rstrip("/"):
        return None
    try:
        pairs = parse_qsl(url.query, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return None
    return _pick(pairs)


# ---------------------------------------------------------------------------------------------
# Decoding


def where(centre: tuple[float, float]) -> str:
    """A coarse position in words: "top left", "top", …, "centre", …, "bottom right"."""
    x, y = centre
    col = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
    return f"{row} {col}".strip() or "centre"


def _result(outcome: ScanOutcome, config: StickerConfig, grey: Image.Image) -> StickerResult:
    found = {parse_payload(s.text, config) for s in outcome.accepted} - {None}
    if len(found) == 1:
        mac, pw = found.pop()  # type: ignore[misc]
        return StickerResult(mac, pw, None)
    if len(found) > 1:
        return StickerResult(None, None, "ambiguous")
    if outcome.timed_out:
        return StickerResult(None, None, "timeout")
    unread = [c for c in outcome.suspects if not any(s.overlaps(c) for s in outcome.symbols)]
    if unread:
        tip = advise(grey, unread[0])
        return StickerResult(None, None, "unreadable_code", where(unread[0].centre), advice=tip)
    if any(s.format.lower().startswith("qr") for s in outcome.symbols):
        qr = next(s for s in outcome.symbols if s.format.lower().startswith("qr"))
        return StickerResult(None, None, "not_sticker", where(qr.centre))
    return StickerResult(None, None, "no_code")


def decode(
    data: bytes,
    config: StickerConfig = StickerConfig(),
    *,
    budget_s: float | None = None,
    steps: list[str] | None = None,
    registry: dict[str, Step] | None = None,
    cpu_s: float | None = SCAN_CPU_S,
) -> StickerResult:
    """Read the sticker from image bytes (synchronous, CPU-bound, safe on any bytes).

    With `budget_s`, no further step starts once it is spent (`error="timeout"`). After
    `cpu_s` of CPU time (more for photos above 1280×960, see `qrscan.scan`) the cascade stops
    and reports what it found so far (a located code: "move closer"; else `no_code`).
    `steps` and `registry` choose other cascades (for the benchmark).
    """
    t0 = time.monotonic()
    deadline = t0 + budget_s if budget_s is not None else None

    def done(res: StickerResult) -> StickerResult:
        ms = (time.monotonic() - t0) * 1000
        return replace(res, ms=round(ms, 1))

    try:
        grey = load_image(data, mode="L")
    except ImageError as exc:
        return done(StickerResult(None, None, exc.reason))
    except Exception:  # a Pillow or plugin bug must not take the bot down
        return done(StickerResult(None, None, "broken_image"))
    from bot.vision.qrscan import scan

    try:
        outcome = scan(
            grey,
            lambda text: parse_payload(text, config) is not None,
            deadline=deadline,
            steps=steps,
            registry=registry,
            cpu_s=cpu_s,
        )
    except MemoryError:
        return done(StickerResult(None, None, "too_large"))
    except Exception:  # never let a decoder bug reach the bot; it offers typed entry
        log.exception("sticker decoding failed")
        return done(StickerResult(None, None, "internal_error"))
    return done(_result(outcome, config, grey))


# ---------------------------------------------------------------------------------------------
# Off the event loop


def read_iccid(data: bytes, **options: Any) -> str | None:
    """`bot.vision.barcodes.read_iccid`, imported in the worker that runs it."""
    from bot.vision import barcodes

    return barcodes.read_iccid(data, **options)


def read_serial(data: bytes, pattern: str, **options: Any) -> str | None:
    """`bot.vision.barcodes.read_serial`, imported in the worker that runs it."""
    from bot.vision import barcodes

    return barcodes.read_serial(data, pattern, **options)


def _worker_init() -> None:
    """Worker processes ignore Ctrl-C: the parent shuts them down."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


GRACE_S = 2.0  # a decode stops starting steps at its budget; one step may take this long more
TIMEOUT, BROKEN = "timeout", "broken"  # what `_run` returns when a worker gave no answer


class StickerReader:
    """Decodes sticker photos in worker processes, with a time budget per photo.

    `workers` single-process executors, each lent to one photo at a time (so at most
    `workers` decodes run at once, the others wait their turn here, within their budget). A
    worker that gives no answer by the budget plus `grace_s` is killed and replaced, so a
    few stuck photos cannot occupy the pool: the next photo starts at once on a fresh one.
    """

    def __init__(
        self, config: StickerConfig = StickerConfig(), workers: int = 0, budget_s: float = 8.0,
        grace_s: float = GRACE_S,
    ) -> None:
        self.config = config
        self.workers = workers or os.cpu_count() or 1
        self.budget_s = budget_s
        self.grace_s = grace_s
        self._slots = asyncio.Semaphore(self.workers)
        self._idle: list[concurrent.futures.ProcessPoolExecutor] = []
        self._lent: set[concurrent.futures.ProcessPoolExecutor] = set()
        self._ctx = multiprocessing.get_context(
            "forkserver" if sys.platform != "win32" else "spawn")
        if sys.platform != "win32":  # replacement workers fork from a server that has these
            self._ctx.set_forkserver_preload([__name__, *DECODERS])

    async def read(self, data: bytes) -> StickerResult:
        """Decode `data` off the event loop; `error="timeout"` once the budget is spent.

        The budget counts from the call, so a photo waiting for a worker has less left.
        """
        t0 = time.monotonic()
        result = await self._run(_decode_for_pool, data, self.config)
        if isinstance(result, StickerResult):
            return result
        ms = round((time.monotonic() - t0) * 1000, 1)
        return StickerResult(None, None, "timeout" if result == TIMEOUT else "internal_error",
                             ms=ms)

    async def read_iccid(self, data: bytes) -> str | None:
        """The SIM's ICCID from a photo of its barcode (`bot.vision.barcodes`), in the same pool."""
        code = await self._run(read_iccid, data)
        return None if code in (TIMEOUT, BROKEN) else code

    async def read_serial(self, data: bytes, pattern: str) -> str | None:
        """A serial number matching `pattern` from a photo of the type plate, in the pool."""
        code = await self._run(read_serial, data, pattern)
        return None if code in (TIMEOUT, BROKEN) else code

    async def _run(self, fn: Callable[..., Any], *args: object,
                   budget_s: float | None = None) -> Any:
        """`fn(*args, budget_s=what is left)` in a worker of its own; `TIMEOUT` or `BROKEN`
        when it gave no answer (the worker is then killed and replaced)."""
        budget = self.budget_s if budget_s is None else budget_s
        deadline = time.monotonic() + budget
        try:
            async with asyncio.timeout(budget):
                await self._slots.acquire()
        except TimeoutError:
            return TIMEOUT
        worker = self._idle.pop() if self._idle else self._start_worker()
        self._lent.add(worker)
        healthy = False
        try:
            left = max(deadline - time.monotonic(), 0.0)
            call = functools.partial(fn, *args, budget_s=left)
            result = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(worker, call), left + self.grace_s)
            healthy = True
            return result
        except TimeoutError:
            log.warning("a code reading ran past its budget; its worker is replaced")
            return TIMEOUT
        except concurrent.futures.process.BrokenProcessPool:  # a worker died (memory, crash)
            return BROKEN
        finally:
            self._lent.discard(worker)
            if healthy:
                self._idle.append(worker)
            else:  # stuck, dead, or its caller gave up: never lend it again
                _kill(worker)
            self._slots.release()

    def _start_worker(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=self._ctx, initializer=_worker_init)

    def close(self) -> None:
        """Stop the worker processes."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.shutdown(wait=True, cancel_futures=True)
        for worker in list(self._lent):
            _kill(worker)


def _kill(worker: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a single-process executor now, whatever its process is doing."""
    kill = getattr(worker, "kill_workers", None)  # Python 3.14+
    if kill is not None:
        kill()
    else:
        for process in list((getattr(worker, "_processes", None) or {}).values()):
            process.kill()
    worker.shutdown(wait=False, cancel_futures=True)


def _decode_for_pool(data: bytes, config: StickerConfig, *, budget_s: float) -> StickerResult:
    return decode(data, config, budget_s=budget_s)


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.vision.sticker [--host H] [--path P] [--budget S] PATH...``: JSON lines."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bot.vision.sticker", description=main.__doc__)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--host", default=StickerConfig.host)
    ap.add_argument("--path", default=StickerConfig.path)
    ap.add_argument("--budget", type=float, default=None, help="time budget per image (s)")
    args = ap.parse_args(argv)
    config = StickerConfig(args.host, args.path)
    for path in args.paths:
        try:
            with open(path, "rb") as fh:
                data = fh.read(20 * 1024 * 1024 + 1)
        except OSError as exc:
            row = {
                "file": path,
                "mac": None,
                "pw": None,
                "error": "unreadable_file",
                "detail": str(exc),
            }
        else:
            try:
                res = decode(data, config, budget_s=args.budget)
            except Exception as exc:  # keep going with the next file
                res = StickerResult(None, None, "internal_error")
                print(f"{path}: {exc!r}", file=sys.stderr)
            row = {"file": path, "mac": res.mac, "pw": res.pw, "ms": res.ms}
            if res.error:
                row["error"] = res.error
            if res.where:
                row["where"] = res.where
            if res.advice:
                row["advice"] = res.advice.kind
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
