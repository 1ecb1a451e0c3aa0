"""Addresses near a GPS fix and typed-address search through one geopy geocoder.

Geocoder. geopy with its `AioHTTPAdapter` (the bot is asyncio; aiohttp is already a
dependency, so no thread pool). `GEOCODER` picks the geopy geocoder (`nominatim` by default,
`photon`; other geopy names are tried best-effort), `GEOCODER_URL` a self-hosted server
(`https://host[:port][/prefix]`), `GEOCODER_USER_AGENT` the identifying User-Agent.

Usage policy. Requests are spaced by `bot.places.spacing` (never under 1 s apart for the
public Nominatim); a 429 pushes the next start back by `Retry-After` (or 10 s). Each look-up
says whether someone waits for it (`INTERACTIVE`, the default) or it only warms the cache
(`BACKGROUND`), and for whom (`who`, counted against `GEOCODER_QUOTA_PER_PERSON`). Answers
(empty ones too, for an hour) are cached in SQLite (`bot.places.cache`); the cache is checked
again once a caller's turn comes, so a spot fetched by a colleague meanwhile costs nothing.

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

The command-line probe for operators is `bot.places.cli` (`./pinpoint geo ...`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from geopy.adapters import AioHTTPAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim, Photon, get_geocoder_for_service

from bot import metrics
from bot.config import Settings
from bot.places.cache import GeocodeCache
from bot.places.candidates import Candidate, GeocoderError, candidate_from, classify, cut, rank
from bot.places.pins import LatLon, check_latlon, distance_m
from bot.places.spacing import INTERACTIVE, RequestSpacer, SharedLimiter, spacer_for

log = logging.getLogger(__name__)

PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
PUBLIC_PHOTON = "photon.komoot.io"
DEFAULT_BACKOFF_S = 10.0  # after a 429 without Retry-After
MAX_BACKOFF_S = 300.0
EMPTY_TTL_S = 3600.0  # "nothing here" answers are cached this long only
_METRES_PER_DEGREE = 111_320.0


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class GeoSettings:
    """The finder's settings: `Settings`' `geocoder_*`, `gps_*` and `pin_*` fields, by shorter
    names, with the same defaults (tests build one directly)."""

    geocoder: str = _default("geocoder")
    url: str | None = _default("geocoder_url")
    user_agent: str = _default("geocoder_user_agent")
    timeout_s: float = _default("geocoder_timeout_s")
    min_interval_s: float = _default("geocoder_min_interval_s")
    budget_s: float = _default("geocoder_budget_s")
    probes: int = _default("geocoder_probes")
    probe_spacing_m: float = _default("geocoder_probe_spacing_m")
    search_radius_m: float = _default("geocoder_search_radius_m")
    cache_ttl_days: float = _default("geocoder_cache_ttl_days")
    quota_per_person: int = _default("geocoder_quota_per_person")
    gps_max_accuracy_m: float = _default("gps_max_accuracy_m")
    pin_max_from_gps_m: float = _default("pin_max_from_gps_m")
    pin_max_from_address_m: float = _default("pin_max_from_address_m")

    @classmethod
    def from_settings(cls, settings: Settings) -> GeoSettings:
        """The fields of `settings` under their shorter names (the geocoder's name lowered)."""
        values = {f.name: getattr(settings, _SETTING.get(f.name, f.name)) for f in fields(cls)}
        values["geocoder"] = values["geocoder"].strip().lower()
        values["url"] = (values["url"] or "").strip() or None
        return cls(**values)


# GeoSettings' names that differ from the Settings' ones.
_SETTING = {name: f"geocoder_{name}" for name in (
    "url", "user_agent", "timeout_s", "min_interval_s", "budget_s", "probes", "probe_spacing_m",
    "search_radius_m", "cache_ttl_days", "quota_per_person")}


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
        self.spacer = spacer or spacer_for(f"{self.service}|{endpoint}", interval,
                                           config.quota_per_person)
        if spacer is None and cache is not None:  # the latest store's database shares it
            shared = cache.engine.dialect.name == "postgresql"
            self.spacer.shared = (SharedLimiter(cache.engine, f"{self.service}|{endpoint}")
                                  if shared else None)
        self.stats = FinderStats()

    @classmethod
    def from_settings(cls, settings: Settings | GeoSettings,
                      cache: GeocodeCache | None = None) -> AddressFinder:
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
        return cls(geocoder, config, endpoint=endpoint, cache=cache)

    @property
    def policy_warning(self) -> str | None:
        """What to tell the operator when the set-up breaks the public server's usage policy
        (logged when the bot starts and by the probe), else None."""
        if self.service == "nominatim" and PUBLIC_NOMINATIM in self.endpoint and (
            "set GEOCODER_USER_AGENT" in self.config.user_agent
        ):
            return ("public Nominatim with the default User-Agent: set GEOCODER_USER_AGENT "
                    "to name your deployment and a contact (usage policy)")
        return None

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

    async def reverse(self, lat: float, lon: float, limit: int = 5, *,
                      priority: int = INTERACTIVE, who: Hashable | None = None,
                      ) -> list[Candidate]:
        """Up to `limit` distinct addresses near the fix, nearest first (see module doc).

        Raises `GeocoderError`: the first request's failure, or `no_result` when nothing was
        found. A probe failing later just ends the probing (what was found is returned).
        """
        check_latlon(lat, lon)
        deadline = time.monotonic() + self.config.budget_s
        calls = self._reverse_calls(lat, lon, limit)
        found: list[Candidate] = []
        cache_only = False  # after a failed probe, only what the cache already knows
        for n, call in enumerate(calls):
            try:
                items = await self._fetch(call, deadline, cache_only=cache_only,
                                          priority=priority, who=who)
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

    async def search(self, text: str, near: LatLon | None, limit: int = 5, *,
                     who: Hashable | None = None) -> list[Candidate]:
        """Addresses matching `text`, biased to `near` (the fix) and ordered by distance
        (always interactive: someone typed it)."""
        query = " ".join(text.split())
        if not query:
            raise GeocoderError("no_result", "nothing to search for")
        if near is not None:
            check_latlon(*near)
        deadline = time.monotonic() + self.config.budget_s
        for call in self._search_calls(query, near, limit):
            items = await self._fetch(call, deadline, who=who)
            found = [c for c in (candidate_from(i, self.service) for i in items) if c]
            ranked = rank(found, near, limit)
            if ranked:
                return ranked
        raise GeocoderError("no_result", f"no address found for {cut(query, 60)!r}")

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

    async def _fetch(self, call: _Call, deadline: float, *, cache_only: bool = False,
                     priority: int = INTERACTIVE, who: Hashable | None = None,
                     ) -> list[dict[str, Any]]:
        key = f"{self.service}|{self.endpoint}|{call.key}"
        cached = await self._cache_get(key)
        if cached is not None or cache_only:
            return cached or []
        async with self.spacer.turn(deadline, priority=priority, who=who) as turn:
            cached = await self._cache_get(key)  # fetched by someone else while we queued?
            if cached is not None:
                turn.unused()
                return cached
            await turn.cleared(deadline)  # several instances: their shared spacing too
            timeout = max(min(self.config.timeout_s, deadline - time.monotonic()), 0.05)
            self.stats.requests += 1
            try:
                async with asyncio.timeout(timeout):
                    answer = await call.run(timeout)
            except Exception as exc:
                self.stats.errors += 1
                error = classify(exc)
                metrics.GEOCODER_CALLS.labels(error.kind).inc()
                if error.kind == "rate_limited":
                    pause = min(error.retry_after or DEFAULT_BACKOFF_S, MAX_BACKOFF_S)
                    self.spacer.back_off(pause)
                    if self.spacer.shared is not None:
                        await self.spacer.shared.back_off(pause)
                log.info("geocoder %s %s failed: %s", self.service, call.key, error)
                raise error from exc
        metrics.GEOCODER_CALLS.labels("ok").inc()
        locations = [] if answer is None else answer if isinstance(answer, list) else [answer]
        items = [{"address": loc.address, "lat": loc.latitude, "lon": loc.longitude,
                  "raw": loc.raw} for loc in locations]
        await self._cache_put(key, items)
        return items
