"""Threads or processes for `StickerReader`? Loop lag and latency under a burst of photos.

    python bench/qr_pool.py [--corpus ../shared/qr-corpus] [--workers 2] [--rounds 3]

A burst of photos (the corpus's 12 MP files and its hardest 1280 px photos) is submitted at
once while a 1280 px photo that decodes at once arrives shortly after, and a ticker measures
how late the event loop wakes up (what every other user of the bot would feel). Run with a
thread pool and with a process pool of the same size.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.vision.sticker import StickerConfig, decode  # noqa: E402


def _job(data: bytes) -> float:
    t0 = time.perf_counter()
    decode(data, StickerConfig(), budget_s=8.0)
    return time.perf_counter() - t0


async def scenario(pool: concurrent.futures.Executor, burst: list[bytes], quick: bytes) -> dict:
    """Submit the burst, then the quick photo; measure loop lag and latencies."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - t - 0.005)

    async def timed(data: bytes) -> float:
        t0 = time.perf_counter()
        await loop.run_in_executor(pool, _job, data)
        return time.perf_counter() - t0

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    burst_tasks = [asyncio.create_task(timed(d)) for d in burst]
    await asyncio.sleep(0.05)
    quick_latency = await timed(quick)
    burst_latency = await asyncio.gather(*burst_tasks)
    wall = time.perf_counter() - t0
    stop.set()
    await tick
    return {
        "wall_s": wall,
        "burst_median_s": statistics.median(burst_latency),
        "burst_max_s": max(burst_latency),
        "quick_s": quick_latency,
        "loop_lag_max_ms": 1000 * max(lags),
        "loop_lag_p95_ms": 1000 * sorted(lags)[int(0.95 * (len(lags) - 1))],
    }


def main() -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "qr-corpus")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    images = json.loads((a.corpus / "manifest.json").read_text())["images"]
    big = [n for n, i in sorted(images.items()) if max(i["params"]["size"]) > 2000]
    hard = [n for n, i in sorted(images.items()) if i["params"].get("level") == 4][:4]
    easy = next(n for n, i in sorted(images.items()) if i["params"].get("level") == 1)
    burst = [(a.corpus / n).read_bytes() for n in big + hard]
    quick = (a.corpus / easy).read_bytes()
    print(f"burst: {len(big)} files of 12 MP + {len(hard)} hard 1280 px photos; then 1 easy photo")
    ctx = multiprocessing.get_context("forkserver")
    for kind in ("thread", "process"):
        rows = []
        for _ in range(a.rounds):
            if kind == "thread":
                pool: concurrent.futures.Executor = concurrent.futures.ThreadPoolExecutor(a.workers)
            else:
                pool = concurrent.futures.ProcessPoolExecutor(a.workers, mp_context=ctx)
                list(pool.map(_job, [b""] * a.workers))  # start the workers outside the timing
            rows.append(asyncio.run(scenario(pool, burst, quick)))
            pool.shutdown()
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(
            f"{kind:>7} x{a.workers}: wall {med['wall_s']:.2f} s; burst median "
            f"{med['burst_median_s']:.2f} s, max {med['burst_max_s']:.2f} s; easy photo "
            f"{med['quick_s']:.2f} s; loop lag p95 {med['loop_lag_p95_ms']:.1f} ms, "
            f"max {med['loop_lag_max_ms']:.1f} ms (median of {a.rounds})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
