"""Service benchmark: answers per second and p95 latency of the bot run as a service.

In one run, the same installers (answering each question the moment it arrives, photos
included) walk jobs for `--seconds` through the webhook and a round-robin proxy (nginx when
installed) in front of:

    echo        a bare echo bot (aiohttp, one sendMessage an update): the floor
    sqlite x1   one instance on SQLite
    pg x1       one instance on PostgreSQL
    pg x3       three instances on one PostgreSQL database

The bots are child processes (`python -m bot run`, webhook mode); the emulator, fakes and
PostgreSQL (a throwaway cluster from Debian's binaries, as in the tests) run beside them.
Latency: from an answer to the bot's next message in that chat.

    python bench/service.py [--installers 6] [--seconds 20] [--only pg-3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import Fleet, fleet_world, have_nginx
from harness import ROOT, BotApiEmulator, World, answer_latencies, bot_env, ping_all

sys.path.insert(0, str(ROOT / "tests"))
from stores import Cluster, pg_bindir

CONFIGS = {"echo": ("echo", 1), "sqlite-1": ("sqlite", 1), "pg-1": ("postgresql", 1),
           "pg-3": ("postgresql", 3)}


async def walk_for(w: World, seconds: float) -> tuple[int, float]:
    """Let the installers walk jobs for `seconds` (then finish their job); (answers, wall)."""
    keep_going = asyncio.Event()
    keep_going.set()
    began = time.monotonic()
    walkers = [asyncio.create_task(p.walk(keep_going, began + seconds + 120, []))
               for p in w.installers]
    await asyncio.sleep(seconds)
    keep_going.clear()
    await asyncio.gather(*walkers)
    return sum(len(p.sent) for p in w.installers), time.monotonic() - began


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its waited-for children, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def server_pids(cluster: Cluster | None) -> list[int]:
    """The PostgreSQL cluster's processes: the postmaster and its children."""
    if cluster is None:
        return []
    postmaster = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
    return [postmaster, *children]


async def bot_run(workdir: Path, installers: int, instances: int, url: str,
                  seconds: float, cluster: Cluster | None = None) -> dict[str, float]:
    """One configuration's run: throughput, latency, and CPU per answer of each instance, of
    the database server and of this process (emulator, fakes, installers)."""
    async with fleet_world(workdir, installers, instances, url, use_nginx=have_nginx()) as w:
        pids = [bot.proc.pid for bot in w.bot.instances]  # type: ignore[attr-defined]
        before = [cpu_seconds(p) for p in pids]
        server = server_pids(cluster)
        server_before = sum(cpu_seconds(p) for p in server)
        own = time.process_time()
        answers, wall = await walk_for(w, seconds)
        bots = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
        server_cpu = sum(cpu_seconds(p) for p in server_pids(cluster)) - server_before
        own = time.process_time() - own
        lat = answer_latencies(w)
    result = figures(answers, wall, lat)
    per = 1000 / max(answers, 1)
    result["bot_cpu_ms"] = sum(bots) * per
    result["bot_cpu_ms_each"] = [round(b * per, 1) for b in bots]  # type: ignore[assignment]
    result["pg_cpu_ms"] = server_cpu * per
    result["driver_cpu_ms"] = own * per
    result["cpu_busy"] = (sum(bots) + server_cpu + own) / wall / (os.cpu_count() or 1)
    return result


def figures(answers: int, wall: float, lat: list[float]) -> dict[str, float]:
    ms = sorted(1000 * x for x in lat)
    return {"answers": answers, "per_s": answers / wall,
            "median_ms": statistics.median(ms) if ms else 0.0,
            "p95_ms": ms[int(0.95 * (len(ms) - 1))] if ms else 0.0}


# -- the floor: a bare echo bot -----------------------------------------------------------------


async def serve_echo() -> None:
    """The echo bot (a child process): setWebhook, then one sendMessage an update."""
    api = f"{os.environ['TELEGRAM_API_URL'].rstrip('/')}/bot{os.environ['TELEGRAM_TOKEN']}"
    session = aiohttp.ClientSession()

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        message = update.get("message") or {}
        if "text" in message:
            async with session.post(f"{api}/sendMessage", json={
                    "chat_id": message["chat"]["id"], "text": message["text"]}) as answer:
                await answer.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(os.environ.get("WEBHOOK_PATH", "/telegram/hook"), hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["WEBHOOK_PORT"])).start()
    async with session.post(f"{api}/setWebhook", json={
            "url": os.environ["WEBHOOK_URL"], "secret_token": os.environ["WEBHOOK_SECRET"]}):
        pass
    await asyncio.Event().wait()


class EchoFleet(Fleet):
    """The fleet's proxy in front of one echo bot instead of Pinpoint."""

    def __init__(self, emu: BotApiEmulator, env: dict[str, str], workdir: Path) -> None:
        super().__init__(emu, env, workdir, 1, "", have_nginx())
        self.instances[0].command = [sys.executable, str(Path(__file__).resolve()),
                                     "--serve-echo"]


async def echo_run(workdir: Path, installers: int, seconds: float) -> dict[str, float]:
    emu = BotApiEmulator()
    await emu.start()
    env = bot_env(emu, workdir / "unused.db", "http://127.0.0.1:9", _NoWebhook(), [])
    fleet = EchoFleet(emu, env, workdir)
    try:
        await fleet.start()
        players = [emu.user(9000 + i, f"P{i}") for i in range(installers)]
        lat, wall = await ping_all(players, seconds, timeout_s=30)
    finally:
        await fleet.stop()
        await emu.stop()
    return figures(len(lat), wall, lat)


class _NoWebhook:
    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:9{path}"


# -- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    chosen = args.only or list(CONFIGS)
    cluster = None
    if any(CONFIGS[name][0] == "postgresql" for name in chosen):
        bindir = pg_bindir()
        if bindir is None:
            sys.exit("no PostgreSQL binaries (Debian's `postgresql` package)")
        cluster = Cluster(bindir)
        await asyncio.to_thread(cluster.start)  # it migrates with asyncio.run
    results = {}
    try:
        for name in chosen:
            store, instances = CONFIGS[name]
            with tempfile.TemporaryDirectory(prefix=f"pinpoint-service-{name}-") as tmp:
                workdir = Path(tmp)
                if store == "echo":
                    results[name] = await echo_run(workdir, args.installers, args.seconds)
                elif store == "sqlite":
                    results[name] = await bot_run(workdir, args.installers, instances,
                                                  f"sqlite:///{workdir / 'pinpoint.db'}",
                                                  args.seconds)
                else:
                    assert cluster is not None
                    with cluster.database() as url:
                        results[name] = await bot_run(workdir, args.installers, instances,
                                                      url, args.seconds, cluster)
            print(f"  {name:<9} {json.dumps(results[name])}", file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"{args.installers} installers, {args.seconds:.0f} s a configuration, proxy: "
          f"{'nginx' if have_nginx() else 'python round-robin'}, {os.cpu_count()} cores")
    print(f"  {'config':<10} {'answers':>8} {'answers/s':>10} {'median ms':>10} {'p95 ms':>8}"
          f" {'vs pg x1':>9}  CPU ms per answer: bots (each), PostgreSQL, driver; cores busy")
    base = results.get("pg-1", {}).get("per_s")
    for name, r in results.items():
        ratio = f"{r['per_s'] / base:.2f}" if base else "-"
        cpu = (f"{r['bot_cpu_ms']:.1f} {r['bot_cpu_ms_each']}, {r['pg_cpu_ms']:.1f}, "
               f"{r['driver_cpu_ms']:.1f}; {r['cpu_busy'] * 100:.0f}%"
               if "bot_cpu_ms" in r else "")
        print(f"  {name:<10} {r['answers']:>8.0f} {r['per_s']:>10.1f} {r['median_ms']:>10.0f} "
              f"{r['p95_ms']:>8.0f} {ratio:>9}  {cpu}")


def main() -> None:
    """Parse the options and run the benchmark (or serve the echo bot)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installers", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", action="append", choices=list(CONFIGS))
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        asyncio.run(serve_echo())
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
