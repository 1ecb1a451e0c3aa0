"""The pin checks: distances between points, the pin against the fix and the address, the
fix's accuracy, and what counts as a coordinate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from babel import Locale, UnknownLocaleError
from babel.units import format_unit
from geopy.distance import geodesic

LatLon = tuple[float, float]


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


def format_distance(metres: float, language: str = "en") -> str:
    """A distance as people read it: `340 m` up to 1 km, then `1.2 km`, `12 km` (in the
    language's own way, e.g. `1,2 km` in German)."""
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en")
    if round(metres) < 1000:
        return format_unit(round(metres), "length-meter", length="short", locale=locale)
    km = metres / 1000
    return format_unit(km, "length-kilometer", length="short", locale=locale,
                       format="#,##0" if km >= 10 else "#,##0.#")


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


def check_latlon(lat: float, lon: float) -> None:
    """ValueError unless (lat, lon) is a coordinate on the globe."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise ValueError(f"not a coordinate: {lat},{lon}")
