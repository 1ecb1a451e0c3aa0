"""Probe the geocoder set-up with the bot's settings and code path (for operators).

    python -m bot.places.cli reverse LAT LON
    python -m bot.places.cli search "TEXT" --near LAT,LON      (also `./pinpoint geo ...`)

print the candidates as JSON lines, using `bot.config.load_settings()`; exit 0 found, 1
nothing found, 2 geocoder unreachable/slow/refusing, 64 usage, 78 configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings, load_settings
from bot.places.candidates import GeocoderError, cut
from bot.places.finder import GeoSettings
from bot.places.pins import LatLon, check_latlon
from bot.services import build_finder
from bot.store.connection import create_engine

log = logging.getLogger(__name__)

EXIT_OK, EXIT_NO_RESULT, EXIT_GEOCODER, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 64, 78


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: 64, so that 2 means "geocoder"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _near(value: str) -> LatLon:
    try:
        lat, lon = (float(v) for v in value.replace(";", ",").split(","))
        check_latlon(lat, lon)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LAT,LON, got {value!r}") from exc
    return lat, lon


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot.places.cli",
                     description="Check the geocoder set-up with the bot's settings and code.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rev = sub.add_parser("reverse", help="addresses near a GPS fix")
    rev.add_argument("lat", type=float)
    rev.add_argument("lon", type=float)
    find = sub.add_parser("search", help="addresses matching a text")
    find.add_argument("text")
    find.add_argument("--near", type=_near, metavar="LAT,LON", help="the GPS fix to bias to")
    for p in (rev, find):
        p.add_argument("--limit", type=int, default=5)
        p.add_argument("--cache", action="store_true",
                       help="use (and fill) the bot's cache in its database")
        p.add_argument("-v", "--verbose", action="store_true",
                       help="print the geocoder, timing and request count on stderr")
    return parser


async def _open_cache(settings: Settings, err: TextIO) -> AsyncEngine | None:
    """The bot's database for the cache, when it exists and has the cache's table."""
    path = settings.database_file
    if path is not None and not path.exists():
        print(f"warning: no database at {path}; running without the cache", file=err)
        return None
    engine = create_engine(settings.store_url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda c: inspect(c).has_table("geocode_cache"))
    except Exception as exc:  # unreachable: run without the cache, as without the table
        found = False
        print(f"warning: database: {cut(str(exc), 200)}", file=err)
    if not found:
        print("warning: the database has no geocode_cache table yet; running without "
              "the cache", file=err)
        await engine.dispose()
        return None
    return engine


async def amain(argv: Sequence[str] | None = None, *, settings: Settings | None = None,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI without `asyncio.run` (tests call it in their own loop); returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "reverse":
        try:
            check_latlon(args.lat, args.lon)
        except ValueError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_USAGE
    try:
        settings = settings or load_settings()
        finder_settings = GeoSettings.from_settings(settings)
    except Exception as exc:  # pydantic's ValidationError and friends
        print(f"error: settings: {cut(' '.join(str(exc).split()), 300)}", file=err)
        return EXIT_CONFIG
    conn = await _open_cache(settings, err) if args.cache else None
    try:
        try:
            finder = build_finder(settings, conn)
        except ValueError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_CONFIG
        if finder.policy_warning:
            log.warning(finder.policy_warning)
        started = time.monotonic()
        async with finder:
            try:
                if args.command == "reverse":
                    found = await finder.reverse(args.lat, args.lon, limit=args.limit)
                else:
                    found = await finder.search(args.text, args.near, limit=args.limit)
            except GeocoderError as exc:
                where = f"{finder_settings.geocoder} at {finder.endpoint}"
                if exc.kind == "no_result":
                    print(f"no result from {where}: {exc.message}", file=err)
                    return EXIT_NO_RESULT
                print(f"error: {where}: {exc.kind}: {exc.message}", file=err)
                return EXIT_GEOCODER
        for candidate in found:
            print(json.dumps(candidate.as_line(), ensure_ascii=False), file=out)
        if args.verbose:
            s = finder.stats
            print(f"{len(found)} candidates from {finder_settings.geocoder} at {finder.endpoint}"
                  f" in {time.monotonic() - started:.2f} s ({s.requests} requests, "
                  f"{s.cache_hits} cached)", file=err)
        return EXIT_OK
    finally:
        if conn is not None:
            await conn.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.places.cli reverse LAT LON` / `search "TEXT" --near LAT,LON`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(amain(argv))


if __name__ == "__main__":
    sys.exit(main())
