"""Periods of local days in the managers' time zone, and the words that name them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_EXPORT_DAYS = 366


@dataclass(frozen=True)
class Period:
    """The local days `first` to `last` (inclusive) in the managers' time zone."""

    first: date
    last: date
    tz: ZoneInfo

    @classmethod
    def day(cls, day: date, tz: ZoneInfo) -> Period:
        """One local day."""
        return cls(day, day, tz)

    @classmethod
    def week(cls, last: date, tz: ZoneInfo) -> Period:
        """Seven local days ending with `last`."""
        return cls(last - timedelta(days=6), last, tz)

    @property
    def start(self) -> datetime:
        """Local midnight starting the first day, in UTC."""
        return datetime.combine(self.first, time(), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day, in UTC (exclusive). A day with a daylight
        saving change is 23 or 25 hours long."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz).astimezone(UTC)

    @property
    def label(self) -> str:
        """`Tue 14 Mar 2026`, or `8–14 Mar 2026` for several days."""
        a, b = self.first, self.last
        if a == b:
            return f"{a:%a} {a.day} {a:%b %Y}"
        if (a.year, a.month) == (b.year, b.month):
            return f"{a.day}–{b.day} {b:%b %Y}"
        if a.year == b.year:
            return f"{a.day} {a:%b} – {b.day} {b:%b %Y}"
        return f"{a.day} {a:%b %Y} – {b.day} {b:%b %Y}"


def today_in(tz: ZoneInfo, now: datetime) -> date:
    """The local date at `now`."""
    return now.astimezone(tz).date()


def parse_period(args: Sequence[str], today: date, tz: ZoneInfo) -> Period | None:
    """`[]`/`today`, `yesterday`, `week` or `YYYY-MM-DD` (not in the future); else None."""
    if len(args) > 1:
        return None
    word = args[0].lower() if args else "today"
    if word == "today":
        return Period.day(today, tz)
    if word == "yesterday":
        return Period.day(today - timedelta(days=1), tz)
    if word == "week":
        return Period.week(today, tz)
    day = parse_date(word)
    return Period.day(day, tz) if day is not None and day <= today else None


def parse_range(args: Sequence[str], today: date, tz: ZoneInfo) -> Period | None:
    """`FROM TO` (or one date, or `week`) for an export: at most a year; else None."""
    if len(args) == 1 and args[0].lower() == "week":
        return Period.week(today, tz)
    if not 1 <= len(args) <= 2:
        return None
    days = [parse_date(a) for a in args]
    if any(d is None for d in days):
        return None
    first, last = days[0], days[-1]
    assert first is not None and last is not None
    if first > last:
        first, last = last, first
    if (last - first).days >= MAX_EXPORT_DAYS:
        return None
    return Period(first, last, tz)


def parse_date(text: str) -> date | None:
    """A `YYYY-MM-DD` date, or None."""
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None
