"""Fake Nominatim and Photon servers on 127.0.0.1, speaking their real JSON.

They let the real geopy code run offline (tests, the sandbox): point `GEOCODER_URL` at
`fake.url`. Both serve the small demo table `DEMO_PLACES` below (made-up OSM ids, plausible
coordinates) and record every request with its arrival time, so a test can check what the bot
asked and how fast (`fake.requests`).

Failure switches: `fail_with(status, count)` answers the next `count` requests with `status`
(429 carries `Retry-After` if given; `after=n` lets n requests through first),
`delay(seconds)` holds every answer back, `down()` drops every connection without answering
until `up()`. `await fake.stop()` closes the port.

Run one standalone for the sandbox: `python -m testkit.fakes.geocoder [--photon] [--port 8089]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# One row per address. `osm` is "<type>/<id>"; a `name` marks a shop or amenity that shares
# its building's address (a real-life duplicate the bot must fold into one button).
_DEMO_TABLE = """
# osm           | lat      | lon      | no. | road                 | code  | city       | name
way/24181101    | 52.53060 | 13.38400 | 110 | Invalidenstraße      | 10115 | Berlin     |
way/24181102    | 52.53060 | 13.38440 | 112 | Invalidenstraße      | 10115 | Berlin     |
way/24181103    | 52.53060 | 13.38480 | 114 | Invalidenstraße      | 10115 | Berlin     |
way/24181104    | 52.53060 | 13.38520 | 116 | Invalidenstraße      | 10115 | Berlin     |
way/24181111    | 52.53025 | 13.38420 | 111 | Invalidenstraße      | 10115 | Berlin     |
way/24181113    | 52.53025 | 13.38460 | 113 | Invalidenstraße      | 10115 | Berlin     |
way/24181115    | 52.53025 | 13.38500 | 115 | Invalidenstraße      | 10115 | Berlin     |
way/24175004    | 52.53000 | 13.38320 | 4   | Chausseestraße       | 10115 | Berlin     |
node/3317750404 | 52.53005 | 13.38330 | 4   | Chausseestraße       | 10115 | Berlin     | Lidl
way/24175006    | 52.53040 | 13.38320 | 6   | Chausseestraße       | 10115 | Berlin     |
way/24175008    | 52.53080 | 13.38320 | 8   | Chausseestraße       | 10115 | Berlin     |
way/31562003    | 52.48760 | 13.35210 | 3   | Hauptstraße          | 10827 | Berlin     |
way/31562005    | 52.48740 | 13.35240 | 5   | Hauptstraße          | 10827 | Berlin     |
way/31562007    | 52.48720 | 13.35270 | 7   | Hauptstraße          | 10827 | Berlin     |
way/47718005    | 49.41060 | 8.69320  | 5   | Hauptstraße          | 69117 | Heidelberg |
way/47718007    | 49.41065 | 8.69345  | 7   | Hauptstraße          | 69117 | Heidelberg |
way/58830010    | 45.76230 | 4.83600  | 10  | Rue de la République | 69002 | Lyon       |
way/58830012    | 45.76260 | 4.83610  | 12  | Rue de la République | 69002 | Lyon       |
way/58830014    | 45.76290 | 4.83620  | 14  | Rue de la République | 69002 | Lyon       |
way/58830011    | 45.76240 | 4.83560  | 11  | Rue de la République | 69002 | Lyon       |
way/58830013    | 45.76270 | 4.83570  | 13  | Rue de la République | 69002 | Lyon       |
way/58852020    | 45.76180 | 4.83210  | 20  | Rue Mercière         | 69002 | Lyon       |
"""

# What Nominatim adds from the postcode: suburb, state, country, country code.
_AREA = {
    "10115": ("Mitte", "Berlin", "Deutschland", "de"),
    "10827": ("Schöneberg", "Berlin", "Deutschland", "de"),
    "69117": ("Altstadt", "Baden-Württemberg", "Deutschland", "de"),
    "69002": ("Lyon 2e Arrondissement", "Auvergne-Rhône-Alpes", "France", "fr"),
}
_LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"


@dataclass(frozen=True)
class DemoPlace:
    """One address of the demo table."""

    osm_type: str  # node, way or relation
    osm_id: int
    lat: float
    lon: float
    house_number: str
    road: str
    postcode: str
    city: str
    name: str = ""

    @property
    def suburb(self) -> str:
        return _AREA[self.postcode][0]

    @property
    def state(self) -> str:
        return _AREA[self.postcode][1]

    @property
    def country(self) -> str:
        return _AREA[self.postcode][2]

    @property
    def country_code(self) -> str:
        return _AREA[self.postcode][3]

    @property
    def display_name(self) -> str:
        """Nominatim's long form: name, number, road, suburb, city, state, postcode, country."""
        parts = [self.name, self.house_number, self.road, self.suburb, self.city, self.state,
                 self.postcode, self.country]
        return ", ".join(p for p in parts if p)

    @property
    def words(self) -> list[str]:
        """Lower-case words a search text is matched against."""
        text = f"{self.name} {self.house_number} {self.road} {self.postcode} {self.city}"
        return _words(text)


def _parse_table(table: str) -> list[DemoPlace]:
    places = []
    for line in table.strip().splitlines():
        if line.lstrip().startswith("#"):
            continue
        osm, lat, lon, number, road, postcode, city, name = (
            cell.strip() for cell in line.split("|")
        )
        osm_type, osm_id = osm.split("/")
        places.append(DemoPlace(osm_type, int(osm_id), float(lat), float(lon), number, road,
                                postcode, city, name))
    return places


DEMO_PLACES: list[DemoPlace] = _parse_table(_DEMO_TABLE)


def _words(text: str) -> list[str]:
    """Lower-case words without accents: "République" matches "republique" and "rép"."""
    plain = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return [w for w in plain.replace(",", " ").replace(".", " ").split() if w]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (good enough for a fake)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def _matches(place: DemoPlace, query: str) -> bool:
    """Every query word is a prefix of one of the place's words ("invalidenstr 112")."""
    words = place.words
    return all(any(w.startswith(q) for w in words) for q in _words(query))


def _in_box(place: DemoPlace, box: tuple[float, float, float, float] | None) -> bool:
    if box is None:
        return True
    lon1, lat1, lon2, lat2 = box
    return (min(lat1, lat2) <= place.lat <= max(lat1, lat2)
            and min(lon1, lon2) <= place.lon <= max(lon1, lon2))


def _box(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    lon1, lat1, lon2, lat2 = (float(v) for v in value.split(","))
    return lon1, lat1, lon2, lat2


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake received: arrival time (`time.monotonic()`), path, query, User-Agent."""

    t: float
    path: str
    params: dict[str, str]
    user_agent: str


@dataclass
class _FakeServer:
    places: list[DemoPlace] = field(default_factory=lambda: list(DEMO_PLACES))
    requests: list[RecordedRequest] = field(default_factory=list)
    url: str = ""
    _failures: list[tuple[int, float | None] | None] = field(default_factory=list)
    _delay: float = 0.0
    _down: bool = False
    _runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:  # pragma: no cover - overridden
        raise NotImplementedError

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (`port` 0 picks a free one); return and set `.url`."""
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{site.port}"
        return self.url

    async def stop(self) -> None:
        """Close the port and drop any held-back answers."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> _FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def fail_with(self, status: int, count: int = 1, retry_after: float | None = None,
                  *, after: int = 0) -> None:
        """Answer `count` requests with HTTP `status` (and `Retry-After` if given).

        The failures start with the next request, or after `after` more normal answers.
        """
        self._failures.extend([None] * after + [(status, retry_after)] * count)

    def delay(self, seconds: float) -> None:
        """Hold every answer back `seconds` (0 to stop)."""
        self._delay = seconds

    def down(self) -> None:
        """Drop every connection without an answer until `up()`."""
        self._down = True

    def up(self) -> None:
        """Answer again after `down()`."""
        self._down = False

    def reset(self) -> None:
        """Forget recorded requests and clear every failure switch."""
        self.requests.clear()
        self._failures.clear()
        self._delay = 0.0
        self._down = False

    async def _prelude(self, request: web.Request) -> web.StreamResponse | None:
        """Record the request, apply the failure switches; a response means "answer this"."""
        self.requests.append(RecordedRequest(
            t=time.monotonic(), path=request.path, params=dict(request.query),
            user_agent=request.headers.get("User-Agent", ""),
        ))
        if self._down:
            if request.transport is not None:
                request.transport.abort()  # the client sees the connection drop
            return web.Response(status=503)  # never sent
        if self._delay:
            await asyncio.sleep(self._delay)
        failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, retry_after = failure
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            reason = {429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "Error")
            return web.Response(status=status, text=f"<html><body>{status} {reason}</body></html>",
                                content_type="text/html", headers=headers)
        return None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class FakeNominatim(_FakeServer):
    """Nominatim's `/reverse` and `/search` (`format=json`/`jsonv2`) over the demo places."""

    reverse_radius_m: float = 80.0  # beyond this a zoom-18 reverse finds nothing

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/reverse", self._reverse), web.get("/search", self._search),
                web.get("/status", self._status)]

    def _place_json(self, place: DemoPlace, fmt: str, details: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "place_id": 100_000 + self.places.index(place),
            "licence": _LICENCE,
            "osm_type": place.osm_type,
            "osm_id": place.osm_id,
            "lat": f"{place.lat:.7f}",
            "lon": f"{place.lon:.7f}",
            ("category" if fmt == "jsonv2" else "class"): "shop" if place.name else "building",
            "type": "supermarket" if place.name else "yes",
            "place_rank": 30,
            "importance": 9.99e-06,
            "addresstype": "shop" if place.name else "building",
            "name": place.name,
            "display_name": place.display_name,
            "boundingbox": [f"{place.lat - 0.0001:.7f}", f"{place.lat + 0.0001:.7f}",
                            f"{place.lon - 0.0001:.7f}", f"{place.lon + 0.0001:.7f}"],
        }
        if details:
            address = {
                "shop": place.name, "house_number": place.house_number, "road": place.road,
                "suburb": place.suburb, "city": place.city, "state": place.state,
                "postcode": place.postcode, "country": place.country,
                "country_code": place.country_code,
            }
            out["address"] = {k: v for k, v in address.items() if v}
        return out

    @staticmethod
    def _format(request: web.Request) -> str | None:
        fmt = request.query.get("format", "xml")
        return fmt if fmt in ("json", "jsonv2") else None

    async def _status(self, request: web.Request) -> web.StreamResponse:
        return await self._prelude(request) or web.Response(text="OK")

    async def _reverse(self, request: web.Request) -> web.StreamResponse:
        failed = await self._prelude(request)
        if failed is not None:
            return failed
        fmt = self._format(request)
        if fmt is None:
            return web.json_response({"error": "format not supported by this fake"}, status=400)
        try:
            lat, lon = float(request.query["lat"]), float(request.query["lon"])
        except (KeyError, ValueError):
            return web.json_response({"error": {"code": 400, "message": "Need lat and lon"}},
                                     status=400)
        details = request.query.get("addressdetails", "1") != "0"
        nearest = min(self.places, key=lambda p: distance_m(lat, lon, p.lat, p.lon))
        if distance_m(lat, lon, nearest.lat, nearest.lon) > self.reverse_radius_m:
            return web.json_response({"error": "Unable to geocode"})
        return web.json_response(self._place_json(nearest, fmt, details))

    async def _search(self, request: web.Request) -> web.StreamResponse:
        failed = await self._prelude(request)
        if failed is not None:
            return failed
        fmt = self._format(request)
        if fmt is None:
            return web.json_response({"error": "format not supported by this fake"}, status=400)
        query = request.query.get("q", "")
        limit = min(_int(request.query.get("limit"), 10), 40)
        box = _box(request.query.get("viewbox"))
        bounded = request.query.get("bounded") == "1"
        details = request.query.get("addressdetails") == "1"
        found = [p for p in self.places if query.strip() and _matches(p, query)]
        if bounded:
            found = [p for p in found if _in_box(p, box)]
        # Nominatim prefers results inside the viewbox; otherwise keep the table's order.
        found.sort(key=lambda p: not _in_box(p, box))
        return web.json_response([self._place_json(p, fmt, details) for p in found[:limit]])


class FakePhoton(_FakeServer):
    """Photon's `/api` (search) and `/reverse` GeoJSON over the demo places."""

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api", self._search), web.get("/api/", self._search),
                web.get("/reverse", self._reverse)]

    @staticmethod
    def _feature(place: DemoPlace) -> dict[str, Any]:
        props = {
            "osm_type": place.osm_type[0].upper(),
            "osm_id": place.osm_id,
            "osm_key": "shop" if place.name else "building",
            "osm_value": "supermarket" if place.name else "yes",
            "type": "house",
            "name": place.name,
            "housenumber": place.house_number,
            "street": place.road,
            "postcode": place.postcode,
            "district": place.suburb,
            "city": place.city,
            "state": place.state,
            "country": place.country,
            "countrycode": place.country_code.upper(),
        }
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [place.lon, place.lat]},
            "properties": {k: v for k, v in props.items() if v},
        }

    def _collection(self, places: list[DemoPlace]) -> web.Response:
        return web.json_response({"type": "FeatureCollection",
                                  "features": [self._feature(p) for p in places]})

    async def _reverse(self, request: web.Request) -> web.StreamResponse:
        failed = await self._prelude(request)
        if failed is not None:
            return failed
        try:
            lat, lon = float(request.query["lat"]), float(request.query["lon"])
        except (KeyError, ValueError):
            return web.json_response({"message": "missing lat/lon"}, status=400)
        limit = _int(request.query.get("limit"), 1)
        radius_m = float(request.query.get("radius", "1")) * 1000  # Photon: km
        near = sorted((p for p in self.places if distance_m(lat, lon, p.lat, p.lon) <= radius_m),
                      key=lambda p: distance_m(lat, lon, p.lat, p.lon))
        return self._collection(near[:limit])

    async def _search(self, request: web.Request) -> web.StreamResponse:
        failed = await self._prelude(request)
        if failed is not None:
            return failed
        query = request.query.get("q", "")
        if not query.strip():
            return web.json_response({"message": "missing search term 'q'"}, status=400)
        limit = _int(request.query.get("limit"), 15)
        box = _box(request.query.get("bbox"))
        found = [p for p in self.places if _matches(p, query) and _in_box(p, box)]
        if "lat" in request.query and "lon" in request.query:
            lat, lon = float(request.query["lat"]), float(request.query["lon"])
            found.sort(key=lambda p: distance_m(lat, lon, p.lat, p.lon))
        return self._collection(found[:limit])


async def _serve(photon: bool, port: int) -> None:
    fake: _FakeServer = FakePhoton() if photon else FakeNominatim()
    url = await fake.start(port)
    print(f"fake {'Photon' if photon else 'Nominatim'} at {url} (GEOCODER_URL={url})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve a fake geocoder until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m testkit.fakes.geocoder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photon", action="store_true", help="serve Photon instead of Nominatim")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.photon, args.port))


if __name__ == "__main__":
    main()
