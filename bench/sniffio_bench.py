"""Micro-benchmark: what a missing `sniffio` costs each httpx request (issue 17).

httpcore asks `sniffio` which async library runs on every request; without it installed,
each request attempts the import again (a path search). Runs the same requests to a local
server twice, each in its own process: with sniffio, and with its import failing after a
search of the path (as when it is not installed), and prints the CPU time per request.

    python bench/sniffio_bench.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time


async def measure(requests: int) -> float:
    """CPU milliseconds per request of `requests` sequential POSTs to a local server."""
    import httpx
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/", lambda _r: web.json_response({"ok": True}))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with httpx.AsyncClient() as client:
        for _ in range(50):  # warm up
            await client.post(f"http://127.0.0.1:{port}/", json={})
        began = time.process_time()
        for _ in range(requests):
            await client.post(f"http://127.0.0.1:{port}/", json={})
        spent = time.process_time() - began
    await runner.cleanup()
    return 1000 * spent / requests


class _NotInstalled:
    """Makes `import sniffio` fail as when it is not installed: after a search of the path
    (`sys.modules["sniffio"] = None` would fail at once, hiding the cost)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "sniffio":
            from importlib.machinery import PathFinder

            PathFinder.find_spec("sniffio_not_installed")  # the search a missing module costs
            raise ModuleNotFoundError("No module named 'sniffio'", name=name)


def main() -> None:
    """Parse the options; run both processes (or be one of them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--child", choices=("with", "without"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "without":
            sys.meta_path.insert(0, _NotInstalled())
        print(f"{asyncio.run(measure(args.requests)):.3f}")
        return
    for how in ("with", "without"):
        out = subprocess.run([sys.executable, __file__, "--requests", str(args.requests),
                              "--child", how], capture_output=True, text=True, check=True)
        print(f"{how} sniffio: {out.stdout.strip()} ms CPU per request")


if __name__ == "__main__":
    main()
