"""Addresses near a GPS fix, typed-address search, and the pin checks (no Telegram here).

The procedure asks the installer to "select the address from the list of valid addresses",
then to "place the pin on the exact parking space". This module turns a GPS fix into up to
five address `Candidate`s (nearest first, one short label each), searches a typed text near
the fix, and measures the pin against the fix and the chosen address.

Geocoder. geopy with its `AioHTTPAdapter` (the bot is asyncio; aiohttp is already a
dependency, so no thread pool). `GEOCODER` picks the geopy geocoder (`nominatim` by default,
`photon`; other geopy names are tried best-effort), `GEOCODER_URL` a self-hosted server
(`https://host[:port][/prefix]`), `GEOCODER_USER_AGENT` the identifying User-Agent.

Usage policy. Every request of the process to one geocoder endpoint goes through one shared
`RequestSpacer` (a module-level registry keyed by endpoint, so two `AddressFinder`s still
share it): one request at a time, starts at least `GEOCODER_MIN_INTERVAL_S` + 20 ms apart
(the interval is never under 1 s for the public Nominatim; the 20 ms absorb delivery jitter,
so the server too sees the interval), FIFO so concurrent installers take turns. geopy's
`AsyncRateLimiter` is not used: its state lives in the instance wrapping one function (the
`reverse` and `geocode` wrappers, or two finders, would each allow 1/s), it lets requests
overlap, and it has no deadline for the time spent waiting (it even sleeps and retries on
errors). A 429 pushes the next start back by `Retry-After` (or 10 s). Answers (empty ones
too, for an hour) are cached in SQLite (`GeocodeCache`, table from
`data/migrations/002_geocode_cache.sql`); the cache is checked again once a caller's turn
comes, so a spot fetched by a colleague meanwhile costs nothing.

Bounded waits. Each `reverse`/`search` has a budget (`GEOCODER_BUDGET_S`, default 6 s) that
covers queueing, spacing and the requests; each request is also bounded by
`GEOCODER_TIMEOUT_S`. The caller gets a `GeocoderError` whose `kind` is one of `timeout`,
`rate_limited` (429, or too long a queue), `unavailable` (refused, 5xx, unreadable answer) or
`no_result`, so the bot can say it in one sentence and offer retry or typing the address
(`Candidate.unverified`).

Candidates near a fix. Nominatim's `/reverse` returns one place per call. We ask at the fix
itself (zoom 18, building level) and then at the corners of the ~30 m grid cell that holds
the fix (`GEOCODER_PROBES`, default 4, nearest corner first), de-duplicate by OSM id and by
label, and order by distance from the fix. Grid corners rather than offsets from the fix,
so the next station at the same site (a fix in the same cell) hits the cache for every probe
and costs one request. Probes stop when the budget runs out: the installer then gets what
was found so far (the request at the fix itself is never skipped: FIFO turns put every
waiting installer's fix request before anyone's probes). Photon's `/reverse` takes `limit`, so it
costs one request (asked at the fix rounded to ~10 m, so nearby fixes share the cache).

Measured against the fake Nominatim on 127.0.0.1 with the real 1 s interval (a real server
adds its latency, typically 0.1-0.5 s, to each request):
    cold fix, idle bot                      5 requests, 4.1 s
    same fix again                          0 requests, < 0.01 s (all cached)
    next station in the same cell           1 request, no wait (1.0 s if a lookup ran
                                            in the second before), same candidates
    neighbouring cell of the same site      3-4 requests (the fix + corners not shared)
    GEOCODER_PROBES=2 / 0, cold             3 requests 2.05 s / 1 request, no wait
    three installers at once, cold          6 requests, 2 each (fix + 1 probe), everyone
                                            answered in 5.1 s (budget 6 s)
The trade-off is choice against waiting on site: each probe adds one second (when idle) and
maybe one more address; the budget caps the wait when installers are busy at the same time.

Typed search. With a fix, Nominatim is asked within a box of `GEOCODER_SEARCH_RADIUS_M`
around it (`viewbox` + `bounded=1`), then, if nothing was found, with the box as a mere
preference; Photon gets the fix as `lat`/`lon` location bias. Results are ordered by
distance from the fix.

Probe for operators: `python -m bot.places.geo reverse LAT LON` and
`python -m bot.places.geo search "TEXT" --near LAT,LON` print the candidates as JSON lines, using
`bot.config.load_settings()` and this code path; exit 0 found, 1 nothing found, 2 geocoder
unreachable/slow/refusing, 64 usage, 78 configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import math
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import aiosqlite
from geopy.adapters import AdapterHTTPError, AioHTTPAdapter
from geopy.distance import geodesic
from geopy.exc import (
    GeocoderParseError,
    GeocoderQueryError,
    GeocoderRateLimited,
    GeocoderTimedOut,
    GeopyError,
)
from geopy.geocoders import Nominatim, Photon, get_geocoder_for_service

log = logging.getLogger(__name__)

LABEL_MAX = 60
ERROR_KINDS = frozenset({"timeout", "rate_limited", "unavailable", "no_result"})
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
PUBLIC_PHOTON = "photon.komoot.io"
DEFAULT_BACKOFF_S = 10.0  # after a 429 without Retry-After
MAX_BACKOFF_S = 300.0
MIN_REQUEST_S = 0.5  # don't start a request with less budget than this left
SPACING_MARGIN_S = 0.02  # added to the interval: delivery jitter must not bring two closer
EMPTY_TTL_S = 3600.0  # "nothing here" answers are cached this long only
_METRES_PER_DEGREE = 111_320.0

# Countries whose addresses put the house number before the street ("5 Rue …").
NUMBER_FIRST = frozenset({"fr", "gb", "ie", "lu", "mc", "mt", "us", "ca", "au", "nz", "il"})

LatLon = tuple[float, float]


# ---------------------------------------------------------------------------------------------
# Results and errors


@dataclass(frozen=True)
class Candidate:
    """One address the installer may pick: a button label, coordinates and where it came from.

    `source_id` is the geocoder's identifier ("osm:way/24181113"), `parts` the structured
    address (house_number, road, postcode, city, country_code, and name/suburb when known),
    `distance_m` the distance from the GPS fix (or from `--near`), `verified` False for an
    address the installer typed because the geocoder could not help.
    """

    label: str
    lat: float
    lon: float
    distance_m: float | None
    source_id: str
    parts: dict[str, str] = field(hash=False)
    verified: bool = True

    def to_json(self) -> str:
        """The candidate as a JSON object (to store the chosen one)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> Candidate:
        """Rebuild a candidate from `to_json()` output (or the equivalent dict)."""
        obj = json.loads(data) if isinstance(data, str | bytes) else dict(data)
        distance = obj.get("distance_m")
        return cls(
            label=str(obj["label"]),
            lat=float(obj["lat"]),
            lon=float(obj["lon"]),
            distance_m=None if distance is None else float(distance),
            source_id=str(obj.get("source_id", "")),
            parts={str(k): str(v) for k, v in (obj.get("parts") or {}).items()},
            verified=bool(obj.get("verified", True)),
        )

    @classmethod
    def unverified(cls, text: str, lat: float, lon: float) -> Candidate:
        """An address typed by the installer, not checked by a geocoder, placed at the fix."""
        text = " ".join(text.split())
        return cls(label=_cut(text, LABEL_MAX), lat=lat, lon=lon, distance_m=None,
                   source_id="typed", parts={"text": text}, verified=False)

    def as_line(self) -> dict[str, Any]:
        """The CLI's JSON line: label, lat, lon, distance_m, source_id."""
        return {"label": self.label, "lat": self.lat, "lon": self.lon,
                "distance_m": self.distance_m, "source_id": self.source_id}


class GeocoderError(Exception):
    """The geocoder could not give an answer; `kind` says why in a word.

    kinds: `timeout` (no answer in time), `rate_limited` (HTTP 429, or the bot's own queue is
    too long for the budget; `retry_after` in seconds when known), `unavailable` (connection
    refused or dropped, 5xx, unreadable answer, request refused), `no_result` (nothing found).
    """

    def __init__(self, kind: str, message: str = "", *, retry_after: float | None = None):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown GeocoderError kind {kind!r}")
        super().__init__(message or kind)
        self.kind = kind
        self.message = message or kind
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class GeoSettings:
    """The geocoding settings, read from the bot's `Settings` (missing ones get defaults)."""

    geocoder: str = "nominatim"
    url: str | None = None
    user_agent: str = "pinpoint-bot/0.1 (set GEOCODER_USER_AGENT to your contact)"
    timeout_s: float = 5.0
    min_interval_s: float = 1.0
    budget_s: float = 6.0
    probes: int = 4
    probe_spacing_m: float = 30.0
    search_radius_m: float = 5000.0
    cache_ttl_days: float = 90.0
    gps_max_accuracy_m: float = 50.0
    pin_max_from_gps_m: float = 150.0
    pin_max_from_address_m: float = 300.0

    @classmethod
    def from_settings(cls, settings: Any) -> GeoSettings:
        """Pick the `geocoder_*`, `gps_*` and `pin_*` fields off `bot.config.Settings`."""
        d = cls()

        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            return default if value is None else value

        return cls(
            geocoder=str(get("geocoder", d.geocoder)).strip().lower(),
            url=(get("geocoder_url", "") or "").strip() or None,
            user_agent=get("geocoder_user_agent", d.user_agent),
            timeout_s=float(get("geocoder_timeout_s", d.timeout_s)),
            min_interval_s=float(get("geocoder_min_interval_s", d.min_interval_s)),
            budget_s=float(get("geocoder_budget_s", d.budget_s)),
            probes=int(get("geocoder_probes", d.probes)),
            probe_spacing_m=float(get("geocoder_probe_spacing_m", d.probe_spacing_m)),
            search_radius_m=float(get("geocoder_search_radius_m", d.search_radius_m)),
            cache_ttl_days=float(get("geocoder_cache_ttl_days", d.cache_ttl_days)),
            gps_max_accuracy_m=float(get("gps_max_accuracy_m", d.gps_max_accuracy_m)),
            pin_max_from_gps_m=float(get("pin_max_from_gps_m", d.pin_max_from_gps_m)),
            pin_max_from_address_m=float(get("pin_max_from_address_m",
                                             d.pin_max_from_address_m)),
        )


# ---------------------------------------------------------------------------------------------
# The pin


class HasLatLon(Protocol):
    lat: float
    lon: float


@dataclass(frozen=True)
class PinCheck:
    """Distances from the pin to the GPS fix and to the chosen address, and whether too far."""

    from_gps_m: float | None
    from_address_m: float | None
    too_far_from_gps: bool
    too_far_from_address: bool

    @property
    def too_far(self) -> bool:
        """True when the bot should show the distances and ask to confirm or resend."""
        return self.too_far_from_gps or self.too_far_from_address


def _latlon(point: LatLon | HasLatLon) -> LatLon:
    if isinstance(point, tuple | list):
        return float(point[0]), float(point[1])
    return float(point.lat), float(point.lon)


def distance_m(a: LatLon | HasLatLon, b: LatLon | HasLatLon) -> float:
    """Geodesic distance in metres between two (lat, lon) points or objects with lat/lon."""
    return float(geodesic(_latlon(a), _latlon(b)).meters)


def check_pin(
    pin: LatLon | HasLatLon,
    gps: LatLon | HasLatLon | None,
    address: LatLon | HasLatLon | None,
    *,
    max_from_gps_m: float,
    max_from_address_m: float,
) -> PinCheck:
    """Measure the pin against the GPS fix and the chosen address (either may be None).

    An unverified (typed) address has no coordinates of its own, so it is not measured.
    """
    from_gps = None if gps is None else distance_m(pin, gps)
    if address is None or getattr(address, "verified", True) is False:
        from_address = None
    else:
        from_address = distance_m(pin, address)
    return PinCheck(
        from_gps_m=from_gps,
        from_address_m=from_address,
        too_far_from_gps=from_gps is not None and from_gps > max_from_gps_m,
        too_far_from_address=from_address is not None and from_address > max_from_address_m,
    )


def accuracy_ok(horizontal_accuracy: float | None, max_m: float) -> bool:
    """Is a reported horizontal accuracy (radius, metres) good enough? Unknown counts as ok."""
    return horizontal_accuracy is None or horizontal_accuracy <= max_m


# ---------------------------------------------------------------------------------------------
# Cache


class GeocodeCache:
    """Geocoder answers in SQLite (`geocode_cache`), keyed by service, endpoint and request.

    Values are JSON; entries expire after `ttl_s` (default 90 days). Errors of the cache are
    logged and treated as a miss: geocoding never fails because of the cache. `put` commits.
    """

    def __init__(self, conn: aiosqlite.Connection, ttl_s: float | None = 90 * 86400.0,
                 *, clock: Callable[[], float] = time.time):
        self.conn = conn
        self.ttl_s = ttl_s
        self._clock = clock
        self._turn = asyncio.Lock()  # one statement at a time on the connection (see Store)

    @classmethod
    def from_settings(cls, conn: aiosqlite.Connection, settings: Any) -> GeocodeCache:
        """A cache whose lifetime comes from `GEOCODER_CACHE_TTL_DAYS` (0 = never expires)."""
        days = GeoSettings.from_settings(settings).cache_ttl_days
        return cls(conn, days * 86400.0 if days > 0 else None)

    async def get(self, key: str) -> Any | None:
        """The cached value, or None when missing or expired."""
        async with self._turn, self.conn.execute(
            "SELECT value FROM geocode_cache WHERE key = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (key, self._clock()),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    async def put(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        """Store `value` (JSON-serialisable) for `ttl_s` seconds (default: the cache's TTL)."""
        now = self._clock()
        ttl = self.ttl_s if ttl_s is None else ttl_s
        async with self._turn:
            await self.conn.execute(
                "INSERT OR REPLACE INTO geocode_cache (key, value, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (key, json.dumps(value, ensure_ascii=False), now,
                 None if ttl is None else now + ttl),
            )
            await self.conn.commit()

    async def purge(self) -> int:
        """Delete expired entries; return how many."""
        async with self._turn:
            cursor = await self.conn.execute(
                "DELETE FROM geocode_cache WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (self._clock(),),
            )
            await self.conn.commit()
        return cursor.rowcount


# ---------------------------------------------------------------------------------------------
# Rate limit shared by the whole process


class RequestSpacer:
    """One request at a time to an endpoint, starts at least `min_interval_s` apart, FIFO.

    Shared by every `AddressFinder` of the process that talks to the same endpoint (see
    `spacer_for`). Waiting is bounded by the caller's deadline (`time.monotonic()` based).
    """

    def __init__(self, min_interval_s: float):
        self.min_interval_s = min_interval_s
        self._next_start = 0.0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a new event loop: new lock
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[RequestSpacer]:
        """Hold the endpoint (FIFO) until the block ends; `rate_limited` if not by deadline."""
        lock = self._get_lock()
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                await lock.acquire()
        except TimeoutError:
            raise GeocoderError("rate_limited", "too many lookups queued; try again shortly",
                                retry_after=self.min_interval_s) from None
        try:
            yield self
        finally:
            lock.release()

    async def wait_start(self, deadline: float) -> None:
        """Inside a turn: sleep until the next start is allowed, then claim it."""
        now = time.monotonic()
        wait = self._next_start - now
        if wait > 0:
            if now + wait > deadline - MIN_REQUEST_S:
                raise GeocoderError("rate_limited", "the geocoder's rate limit leaves no time "
                                    "for this lookup; try again shortly", retry_after=wait)
            await asyncio.sleep(wait)
        self._next_start = time.monotonic() + self.min_interval_s + SPACING_MARGIN_S

    def back_off(self, seconds: float) -> None:
        """After a 429: no request before `seconds` from now."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)


_SPACERS: dict[str, RequestSpacer] = {}
_SPACERS_LOCK = threading.Lock()


def spacer_for(endpoint: str, min_interval_s: float) -> RequestSpacer:
    """The process-wide spacer of an endpoint (the strictest interval asked for wins)."""
    with _SPACERS_LOCK:
        spacer = _SPACERS.get(endpoint)
        if spacer is None:
            spacer = _SPACERS[endpoint] = RequestSpacer(min_interval_s)
        else:
            spacer.min_interval_s = max(spacer.min_interval_s, min_interval_s)
        return spacer


def reset_rate_limits() -> None:
    """Forget every endpoint's spacing and back-off (tests whose fakes reuse a port)."""
    with _SPACERS_LOCK:
        _SPACERS.clear()


# ---------------------------------------------------------------------------------------------
# Turning geocoder answers into candidates


def _cut(text: str, max_len: int) -> str:
    return text if len(text) <= max_len else text[: max_len - 1].rstrip(" ,") + "…"


def make_label(parts: Mapping[str, str], fallback: str = "", max_len: int = LABEL_MAX) -> str:
    """A button label: "Hauptstraße 5, 10115 Berlin" / "5 Rue X, 69002 Lyon", ≤ `max_len`."""
    road, number = parts.get("road", ""), parts.get("house_number", "")
    number_first = parts.get("country_code", "") in NUMBER_FIRST
    place = " ".join(p for p in (parts.get("postcode", ""), parts.get("city", "")) if p)
    if not road:
        head = parts.get("name") or ", ".join(fallback.split(", ")[:2])
        return _cut(", ".join(p for p in (head, place) if p), max_len)

    def compose(road_text: str) -> str:
        street = road_text
        if number:
            street = f"{number} {road_text}" if number_first else f"{road_text} {number}"
        return ", ".join(p for p in (street, place) if p)

    label = compose(road)
    excess = len(label) - max_len
    if excess > 0 and len(road) - excess - 1 >= 8:  # shorten the road, keep number and place
        label = compose(road[: len(road) - excess - 1].rstrip() + "…")
    return _cut(label, max_len)


_ROAD_KEYS = ("road", "pedestrian", "footway", "path", "cycleway", "square", "place")
_CITY_KEYS = ("city", "town", "village", "municipality", "hamlet", "suburb")
_OSM_TYPES = {"N": "node", "W": "way", "R": "relation"}


def _first(mapping: Mapping[str, Any], keys: Sequence[str]) -> str:
    for key in keys:
        value = mapping.get(key)
        if value:
            return str(value)
    return ""


def _clean(parts: Mapping[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in parts.items() if v}


def _nominatim_parts(raw: Mapping[str, Any]) -> dict[str, str]:
    address = raw.get("address") or {}
    return _clean({
        "house_number": address.get("house_number", ""),
        "road": _first(address, _ROAD_KEYS),
        "postcode": address.get("postcode", ""),
        "city": _first(address, _CITY_KEYS),
        "country_code": str(address.get("country_code", "")).lower(),
        "suburb": address.get("suburb", ""),
        "name": raw.get("name", ""),
    })


def _geojson_parts(props: Mapping[str, Any]) -> dict[str, str]:
    """Photon's (and Pelias-like) feature properties."""
    road = props.get("street", "")
    if not road and props.get("type") == "street":
        road = props.get("name", "")
    return _clean({
        "house_number": props.get("housenumber", ""),
        "road": road,
        "postcode": props.get("postcode") or props.get("postalcode", ""),
        "city": _first(props, ("city", "locality", "town", "village", "district", "county")),
        "country_code": str(props.get("countrycode", "")).lower(),
        "suburb": props.get("district", ""),
        "name": "" if props.get("type") == "street" else props.get("name", ""),
    })


def candidate_from(item: Mapping[str, Any], service: str) -> Candidate | None:
    """A candidate from one cached geocoder answer `{address, lat, lon, raw}` (no distance)."""
    raw = item.get("raw") or {}
    lat, lon = item.get("lat"), item.get("lon")
    if lat is None or lon is None:
        return None
    if isinstance(raw.get("address"), Mapping):  # Nominatim and compatibles
        parts = _nominatim_parts(raw)
        if raw.get("osm_type") and raw.get("osm_id") is not None:
            source_id = f"osm:{raw['osm_type']}/{raw['osm_id']}"
        else:
            source_id = f"{service}:place/{raw.get('place_id', '')}"
    elif isinstance(raw.get("properties"), Mapping):  # Photon and other GeoJSON geocoders
        props = raw["properties"]
        parts = _geojson_parts(props)
        osm_type = _OSM_TYPES.get(str(props.get("osm_type", "")), props.get("osm_type"))
        if osm_type and props.get("osm_id") is not None:
            source_id = f"osm:{osm_type}/{props['osm_id']}"
        else:
            source_id = f"{service}:{props.get('gid') or props.get('id') or f'{lat},{lon}'}"
    else:
        parts = {}
        source_id = f"{service}:{float(lat):.6f},{float(lon):.6f}"
    label = make_label(parts, fallback=str(item.get("address") or ""))
    if not label:
        return None
    return Candidate(label=label, lat=float(lat), lon=float(lon), distance_m=None,
                     source_id=source_id, parts=parts)


def rank(candidates: Sequence[Candidate], origin: LatLon | None, limit: int) -> list[Candidate]:
    """Set distances from `origin`, order nearest first, drop repeats (same id or label)."""
    measured = [
        replace(c, distance_m=None if origin is None else round(distance_m(origin, c), 1))
        for c in candidates
    ]
    if origin is not None:
        measured.sort(key=lambda c: c.distance_m if c.distance_m is not None else math.inf)
    seen: set[str] = set()
    out = []
    for c in measured:
        keys = {c.source_id, "label:" + c.label.casefold()}
        if keys & seen:
            continue
        seen |= keys
        out.append(c)
    return out[:limit]


# ---------------------------------------------------------------------------------------------
# The finder


@dataclass
class FinderStats:
    """What an `AddressFinder` did so far (for logs, tests and the CLI's `-v`)."""

    requests: int = 0
    cache_hits: int = 0
    errors: int = 0


@dataclass(frozen=True)
class _Call:
    key: str  # the request, for the cache
    run: Callable[[float], Awaitable[Any]]  # timeout → geopy's answer (Location, list, None)


def _box(lat: float, lon: float, radius_m: float) -> list[LatLon]:
    dlat = radius_m / _METRES_PER_DEGREE
    dlon = radius_m / (_METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return [(lat - dlat, lon - dlon), (lat + dlat, lon + dlon)]


def probe_points(lat: float, lon: float, spacing_m: float, count: int) -> list[LatLon]:
    """The corners of the `spacing_m` grid cell holding the fix, nearest first (≤ 4).

    The grid is fixed on the globe (its longitude step only depends on the whole degree of
    latitude), so fixes in the same cell give the same points and hit the cache.
    """
    if count <= 0 or spacing_m <= 0:
        return []
    dlat = spacing_m / _METRES_PER_DEGREE
    dlon = spacing_m / (_METRES_PER_DEGREE * max(math.cos(math.radians(math.floor(lat))), 0.01))
    i, j = math.floor(lat / dlat), math.floor(lon / dlon)
    corners = [(round((i + a) * dlat, 6), round((j + b) * dlon, 6))
               for a in (0, 1) for b in (0, 1)]
    corners.sort(key=lambda p: distance_m((lat, lon), p))
    return corners[: min(count, 4)]


def _classify(error: BaseException) -> GeocoderError:
    """Map geopy/aiohttp/asyncio failures to a `GeocoderError` kind."""
    if isinstance(error, GeocoderError):
        return error
    cause = error.__cause__
    status = cause.status_code if isinstance(cause, AdapterHTTPError) else None
    if isinstance(error, GeocoderRateLimited) or status == 429:
        retry = getattr(error, "retry_after", None)
        return GeocoderError("rate_limited", "the geocoder asks to slow down (HTTP 429)",
                             retry_after=float(retry) if retry is not None else None)
    if status == 504 or (status is None and isinstance(error, GeocoderTimedOut | TimeoutError)):
        return GeocoderError("timeout", "the geocoder did not answer in time")
    if status is not None:
        return GeocoderError("unavailable", f"the geocoder answered HTTP {status}")
    if isinstance(error, GeocoderQueryError):
        return GeocoderError("no_result", f"the geocoder rejected the query: {error}")
    if isinstance(error, GeocoderParseError):
        return GeocoderError("unavailable", "the geocoder's answer could not be read")
    text = str(error).strip() or type(error).__name__
    return GeocoderError("unavailable", f"the geocoder could not be reached ({_cut(text, 120)})")


class AddressFinder:
    """Addresses near a GPS fix and typed-address search, through one geopy geocoder.

    Build it once with `from_settings` and share it; close it with `aclose()`.
    """

    def __init__(self, geocoder: Any, config: GeoSettings, *, endpoint: str,
                 cache: GeocodeCache | None = None, spacer: RequestSpacer | None = None):
        self.geocoder = geocoder
        self.config = config
        self.service = config.geocoder
        self.endpoint = endpoint
        self.cache = cache
        interval = config.min_interval_s
        if self.service == "nominatim" and PUBLIC_NOMINATIM in endpoint:
            interval = max(interval, 1.0)  # the public server's usage policy
        self.spacer = spacer or spacer_for(f"{self.service}|{endpoint}", interval)
        self.stats = FinderStats()

    @classmethod
    def from_settings(cls, settings: Any, cache: GeocodeCache | None = None) -> AddressFinder:
        """Build the geocoder named by `settings.geocoder` (ValueError if geopy lacks it)."""
        config = settings if isinstance(settings, GeoSettings) else GeoSettings.from_settings(
            settings)
        scheme, domain = "https", None
        if config.url:
            split = urlsplit(config.url if "//" in config.url else "https://" + config.url)
            scheme, domain = split.scheme or "https", split.netloc + split.path.rstrip("/")
        common: dict[str, Any] = {"scheme": scheme, "user_agent": config.user_agent,
                                  "timeout": config.timeout_s, "adapter_factory": AioHTTPAdapter}
        if config.geocoder == "nominatim":
            geocoder: Any = Nominatim(domain=domain or PUBLIC_NOMINATIM, **common)
        elif config.geocoder == "photon":
            geocoder = Photon(domain=domain or PUBLIC_PHOTON, **common)
        else:
            try:
                cls_ = get_geocoder_for_service(config.geocoder)
            except GeopyError as exc:
                raise ValueError(f"GEOCODER={config.geocoder!r} is not a geopy geocoder") from exc
            accepted = inspect.signature(cls_).parameters
            kwargs = {k: v for k, v in common.items() if k in accepted}
            if domain and "domain" in accepted:
                kwargs["domain"] = domain
            api_key = getattr(settings, "geocoder_api_key", None)
            if api_key and "api_key" in accepted:
                kwargs["api_key"] = getattr(api_key, "get_secret_value", lambda: api_key)()
            try:
                geocoder = cls_(**kwargs)
            except (TypeError, GeopyError) as exc:
                raise ValueError(f"GEOCODER={config.geocoder!r} needs settings this bot "
                                 f"does not have: {exc}") from exc
        endpoint = f"{geocoder.scheme}://{getattr(geocoder, 'domain', '') or config.geocoder}"
        if config.geocoder == "nominatim" and PUBLIC_NOMINATIM in endpoint and (
            "set GEOCODER_USER_AGENT" in config.user_agent
        ):
            log.warning("public Nominatim with the default User-Agent: set GEOCODER_USER_AGENT "
                        "to name your deployment and a contact (usage policy)")
        return cls(geocoder, config, endpoint=endpoint, cache=cache)

    async def __aenter__(self) -> AddressFinder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (if one was opened)."""
        adapter = getattr(self.geocoder, "adapter", None)
        session = getattr(adapter, "__dict__", {}).get("session")
        if session is not None and not session.closed:
            await session.close()

    # -- public lookups --------------------------------------------------------------------

    async def reverse(self, lat: float, lon: float, limit: int = 5) -> list[Candidate]:
        """Up to `limit` distinct addresses near the fix, nearest first (see module doc).

        Raises `GeocoderError`: the first request's failure, or `no_result` when nothing was
        found. A probe failing later just ends the probing (what was found is returned).
        """
        _check_latlon(lat, lon)
        deadline = time.monotonic() + self.config.budget_s
        calls = self._reverse_calls(lat, lon, limit)
        found: list[Candidate] = []
        cache_only = False  # after a failed probe, only what the cache already knows
        for n, call in enumerate(calls):
            try:
                items = await self._fetch(call, deadline, cache_only=cache_only)
            except GeocoderError as exc:
                if n == 0:
                    raise
                log.info("reverse probes stopped after %d of %d: %s", n, len(calls), exc)
                cache_only = True
                continue
            found.extend(c for c in (candidate_from(i, self.service) for i in items) if c)
            if len(rank(found, (lat, lon), limit)) >= limit:
                break
        ranked = rank(found, (lat, lon), limit)
        if not ranked:
            raise GeocoderError("no_result", f"no address known near {lat:.5f},{lon:.5f}")
        return ranked

    async def search(self, text: str, near: LatLon | None, limit: int = 5) -> list[Candidate]:
        """Addresses matching `text`, biased to `near` (the fix) and ordered by distance."""
        query = " ".join(text.split())
        if not query:
            raise GeocoderError("no_result", "nothing to search for")
        if near is not None:
            _check_latlon(*near)
        deadline = time.monotonic() + self.config.budget_s
        for call in self._search_calls(query, near, limit):
            items = await self._fetch(call, deadline)
            found = [c for c in (candidate_from(i, self.service) for i in items) if c]
            ranked = rank(found, near, limit)
            if ranked:
                return ranked
        raise GeocoderError("no_result", f"no address found for {_cut(query, 60)!r}")

    # -- request plans ----------------------------------------------------------------------

    def _reverse_calls(self, lat: float, lon: float, limit: int) -> list[_Call]:
        g, many = self.geocoder, limit + 5  # ask for a few more: some repeat an address
        if self.service == "nominatim":
            def at(p: LatLon) -> _Call:
                return _Call(f"reverse|{p[0]:.5f},{p[1]:.5f}|z18",
                             lambda t: g.reverse(p, exactly_one=True, zoom=18,
                                                 addressdetails=True, timeout=t))
            probes = probe_points(lat, lon, self.config.probe_spacing_m, self.config.probes)
            return [at((lat, lon))] + ([at(p) for p in probes] if limit > 1 else [])
        # One request answers with several places (Photon takes `limit`); ask at the fix
        # rounded to ~10 m so nearby fixes share the cache.
        p = (round(lat, 4), round(lon, 4))
        if self.service == "photon":
            return [_Call(f"reverse|{p[0]:.4f},{p[1]:.4f}|n{many}",
                          lambda t: g.reverse(p, exactly_one=False, limit=many, timeout=t))]
        return [_Call(f"reverse|{p[0]:.4f},{p[1]:.4f}",
                      lambda t: g.reverse(p, exactly_one=False, timeout=t))]

    def _search_calls(self, query: str, near: LatLon | None, limit: int) -> list[_Call]:
        g, many, q = self.geocoder, min(limit + 5, 40), query.casefold()
        if self.service == "nominatim":
            if near is None:
                return [_Call(f"search|{q}|n{many}",
                              lambda t: g.geocode(query, exactly_one=False, limit=many,
                                                  addressdetails=True, timeout=t))]
            box = _box(near[0], near[1], self.config.search_radius_m)
            where = f"{near[0]:.3f},{near[1]:.3f}|r{self.config.search_radius_m:g}"
            return [
                _Call(f"search|{q}|n{many}|within|{where}",
                      lambda t: g.geocode(query, exactly_one=False, limit=many,
                                          addressdetails=True, viewbox=box, bounded=True,
                                          timeout=t)),
                _Call(f"search|{q}|n{many}|prefer|{where}",
                      lambda t: g.geocode(query, exactly_one=False, limit=many,
                                          addressdetails=True, viewbox=box, timeout=t)),
            ]
        if self.service == "photon":
            bias = None if near is None else (round(near[0], 3), round(near[1], 3))
            return [_Call(f"search|{q}|n{many}|bias|{bias}",
                          lambda t: g.geocode(query, exactly_one=False, limit=many,
                                              location_bias=bias, timeout=t))]
        return [_Call(f"search|{q}", lambda t: g.geocode(query, exactly_one=False, timeout=t))]

    # -- one request: cache, turn, spacing, bounded call -------------------------------------

    async def _cache_get(self, key: str) -> list[dict[str, Any]] | None:
        if self.cache is None:
            return None
        try:
            value = await self.cache.get(key)
        except Exception as exc:  # a broken cache must not break geocoding
            log.warning("geocode cache read failed: %s", exc)
            return None
        if value is not None:
            self.stats.cache_hits += 1
        return value

    async def _cache_put(self, key: str, items: list[dict[str, Any]]) -> None:
        if self.cache is None:
            return
        ttl = self.cache.ttl_s
        if not items:
            ttl = EMPTY_TTL_S if ttl is None else min(ttl, EMPTY_TTL_S)
        try:
            await self.cache.put(key, items, ttl_s=ttl)
        except Exception as exc:
            log.warning("geocode cache write failed: %s", exc)

    async def _fetch(self, call: _Call, deadline: float, *,
                     cache_only: bool = False) -> list[dict[str, Any]]:
        key = f"{self.service}|{self.endpoint}|{call.key}"
        cached = await self._cache_get(key)
        if cached is not None or cache_only:
            return cached or []
        async with self.spacer.turn(deadline):
            cached = await self._cache_get(key)  # fetched by someone else while we queued?
            if cached is not None:
                return cached
            await self.spacer.wait_start(deadline)
            timeout = max(min(self.config.timeout_s, deadline - time.monotonic()), 0.05)
            self.stats.requests += 1
            try:
                async with asyncio.timeout(timeout):
                    answer = await call.run(timeout)
            except Exception as exc:
                self.stats.errors += 1
                error = _classify(exc)
                if error.kind == "rate_limited":
                    self.spacer.back_off(min(error.retry_after or DEFAULT_BACKOFF_S,
                                             MAX_BACKOFF_S))
                log.info("geocoder %s %s failed: %s", self.service, call.key, error)
                raise error from exc
        locations = [] if answer is None else answer if isinstance(answer, list) else [answer]
        items = [{"address": loc.address, "lat": loc.latitude, "lon": loc.longitude,
                  "raw": loc.raw} for loc in locations]
        await self._cache_put(key, items)
        return items


def _check_latlon(lat: float, lon: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise ValueError(f"not a coordinate: {lat},{lon}")


# ---------------------------------------------------------------------------------------------
# Command line probe

EXIT_OK, EXIT_NO_RESULT, EXIT_GEOCODER, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 64, 78


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: 64, so that 2 means "geocoder"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _near(value: str) -> LatLon:
    try:
        lat, lon = (float(v) for v in value.replace(";", ",").split(","))
        _check_latlon(lat, lon)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LAT,LON, got {value!r}") from exc
    return lat, lon


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot.places.geo",
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
                       help="use (and fill) the bot's cache in DATABASE_PATH")
        p.add_argument("-v", "--verbose", action="store_true",
                       help="print the geocoder, timing and request count on stderr")
    return parser


async def _open_cache(settings: Any, err: TextIO) -> tuple[aiosqlite.Connection | None,
                                                           GeocodeCache | None]:
    path = getattr(settings, "database_path", None)
    if path is None or not path.exists():
        print(f"warning: no database at {path}; running without the cache", file=err)
        return None, None
    conn = await aiosqlite.connect(path)
    async with conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'geocode_cache'"
    ) as cursor:
        if await cursor.fetchone() is None:
            print("warning: the database has no geocode_cache table yet; running without "
                  "the cache", file=err)
            await conn.close()
            return None, None
    return conn, GeocodeCache.from_settings(conn, settings)


async def amain(argv: Sequence[str] | None = None, *, settings: Any = None,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI without `asyncio.run` (tests call it in their own loop); returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "reverse":
        try:
            _check_latlon(args.lat, args.lon)
        except ValueError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_USAGE
    try:
        if settings is None:
            from bot.config import load_settings

            settings = load_settings()
        finder_settings = GeoSettings.from_settings(settings)
    except Exception as exc:  # pydantic's ValidationError and friends
        print(f"error: settings: {_cut(' '.join(str(exc).split()), 300)}", file=err)
        return EXIT_CONFIG
    conn, cache = await _open_cache(settings, err) if args.cache else (None, None)
    try:
        try:
            finder = AddressFinder.from_settings(settings, cache=cache)
        except ValueError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_CONFIG
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
            await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.places.geo reverse LAT LON` / `search "TEXT" --near LAT,LON`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(amain(argv))


if __name__ == "__main__":
    sys.exit(main())
