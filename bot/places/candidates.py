"""What a lookup yields: address `Candidate`s with their button labels, read from the
geocoders' answers (Nominatim, Photon and GeoJSON-like ones), or a `GeocoderError` (what
geopy, aiohttp and asyncio raise, classified)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from geopy.adapters import AdapterHTTPError
from geopy.exc import (
    GeocoderParseError,
    GeocoderQueryError,
    GeocoderRateLimited,
    GeocoderTimedOut,
)

from bot.places.pins import LatLon, distance_m

LABEL_MAX = 60
ERROR_KINDS = frozenset({"timeout", "rate_limited", "unavailable", "no_result"})
# Countries whose addresses put the house number before the street ("5 Rue …").
NUMBER_FIRST = frozenset({"fr", "gb", "ie", "lu", "mc", "mt", "us", "ca", "au", "nz", "il"})


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
        return cls(label=cut(text, LABEL_MAX), lat=lat, lon=lon, distance_m=None,
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


def classify(error: BaseException) -> GeocoderError:
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
    return GeocoderError("unavailable", f"the geocoder could not be reached ({cut(text, 120)})")


def cut(text: str, max_len: int) -> str:
    """`text`, cut to `max_len` characters with an ellipsis."""
    return text if len(text) <= max_len else text[: max_len - 1].rstrip(" ,") + "…"


def make_label(parts: Mapping[str, str], fallback: str = "", max_len: int = LABEL_MAX) -> str:
    """A button label: "Hauptstraße 5, 10115 Berlin" / "5 Rue X, 69002 Lyon", ≤ `max_len`."""
    road, number = parts.get("road", ""), parts.get("house_number", "")
    number_first = parts.get("country_code", "") in NUMBER_FIRST
    place = " ".join(p for p in (parts.get("postcode", ""), parts.get("city", "")) if p)
    if not road:
        head = parts.get("name") or ", ".join(fallback.split(", ")[:2])
        return cut(", ".join(p for p in (head, place) if p), max_len)

    def compose(road_text: str) -> str:
        street = road_text
        if number:
            street = f"{number} {road_text}" if number_first else f"{road_text} {number}"
        return ", ".join(p for p in (street, place) if p)

    label = compose(road)
    excess = len(label) - max_len
    if excess > 0 and len(road) - excess - 1 >= 8:  # shorten the road, keep number and place
        label = compose(road[: len(road) - excess - 1].rstrip() + "…")
    return cut(label, max_len)


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
