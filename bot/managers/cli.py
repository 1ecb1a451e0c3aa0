"""The managers' summary from the command line, for operators (settings from the environment
and `.env`; also `./pinpoint summary ...`):

    python -m bot.managers.cli                        today's summary, as plain text
    python -m bot.managers.cli --date 2026-03-14      that day's (waiting/stuck at its end)
    python -m bot.managers.cli --week                 the last seven days, today included
    python -m bot.managers.cli --csv [--date D | --from D --to D]    the jobs, as CSV
    python -m bot.managers.cli --chart summary.png    also write the chart
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import IO

from bot.config import Settings, load_settings
from bot.managers.periods import MAX_EXPORT_DAYS, Period, parse_range, today_in
from bot.managers.render import chart_png, render_text, to_plain
from bot.services import Services


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.managers.cli",
        description="Print the managers' summary (or the jobs as CSV) from the database.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--date", type=date.fromisoformat, help="a local day, YYYY-MM-DD")
    when.add_argument("--week", action="store_true", help="the last seven days")
    when.add_argument("--from", dest="first", type=date.fromisoformat,
                      help="CSV: the first local day (with --to)")
    parser.add_argument("--to", dest="last", type=date.fromisoformat,
                        help="CSV: the last local day")
    parser.add_argument("--csv", action="store_true", help="the jobs as CSV instead")
    parser.add_argument("--chart", metavar="PNG", help="also write the chart to this file")
    return parser



async def amain(
    argv: Sequence[str] | None = None, *, settings: Settings | None = None,
    out: IO[str] | None = None, err: IO[str] | None = None, now: datetime | None = None,
) -> int:
    """The command line, awaitable (tests pass settings, streams and the time)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(list(argv or []))
    except SystemExit as exc:
        return int(exc.code or 0)
    if (args.first is None) != (args.last is None) or (args.first and not args.csv):
        print("--from and --to go together, with --csv", file=err)
        return 2
    settings = settings or load_settings()
    path = settings.database_file
    if path is not None and not path.exists():
        print(f"no database at {path} (set DATABASE_URL)", file=err)
        return 2
    tz = settings.tz
    now = now or datetime.now(UTC)
    today = today_in(tz, now)
    if args.first is not None:
        period = parse_range([args.first.isoformat(), args.last.isoformat()], today, tz)
        if period is None:
            print(f"at most {MAX_EXPORT_DAYS} days", file=err)
            return 2
    elif args.week:
        period = Period.week(today, tz)
    else:
        period = Period.day(args.date or today, tz)
    services = await Services.create(settings, sync_roles=False)
    try:
        if args.csv:
            await services.summaries.export_csv(period, out)
            return 0
        summary = await services.summaries.compute(period, now)
        texts = services.texts.of(services.languages.manager)  # MANAGER_LANGUAGE
        print(to_plain(render_text(summary, texts)), file=out)
        if args.chart:
            png = await asyncio.to_thread(chart_png, summary, texts)
            if png is None:
                print("nothing to draw: the period is empty", file=err)
            else:
                with open(args.chart, "wb") as file:
                    file.write(png)
        return 0
    finally:
        await services.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.managers.cli [--date YYYY-MM-DD | --week] [--csv] [--chart PNG]`."""
    return asyncio.run(amain(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
