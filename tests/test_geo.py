"""bot.places (finder, candidates, pins, spacing, cache) against the fake Nominatim and
Photon servers on 127.0.0.1 (real geopy code)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.config import load_settings
from bot.places import (
    AddressFinder,
    Candidate,
    GeocodeCache,
    GeocoderError,
    GeoSettings,
    PinCheck,
    accuracy_ok,
    check_pin,
    distance_m,
)
from bot.places.candidates import candidate_from, make_label
from bot.places.finder import probe_points
from bot.places.spacing import reset_rate_limits
from bot.store import Store
from testkit.fakes.geocoder import FakeNominatim, FakePhoton

# A fix on the pavement of Invalidenstraße, Berlin (demo table): 111/113 south, 110–116 north.
FIX = (52.53040, 13.38450)
SCHOENEBERG = (52.48750, 13.35250)
HEIDELBERG = (49.41000, 8.69000)
LYON = (45.76000, 4.83000)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    reset_rate_limits()  # fakes may reuse a port; don't inherit a back-off


@pytest.fixture
async def nominatim() -> AsyncIterator[FakeNominatim]:
    async with FakeNominatim() as fake:
        yield fake


@pytest.fixture
async def photon() -> AsyncIterator[FakePhoton]:
    async with FakePhoton() as fake:
        yield fake


def config(url: str, **kw: object) -> GeoSettings:
    base = GeoSettings(url=url, min_interval_s=0.01, timeout_s=2.0, budget_s=5.0,
                       user_agent="pinpoint-tests/1 (ops@example.org)")
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The engine of a migrated store (SQLite, or PostgreSQL for tests marked both_stores)."""
    store = await Store.open(database_url)
    yield store.engine
    await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- candidates ------------------------------------------------------------------------------


async def test_reverse_offers_distinct_candidates_nearest_first(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        found = await finder.reverse(*FIX)
    assert 2 <= len(found) <= 5
    assert found[0].label == "Invalidenstraße 113, 10115 Berlin"
    distances = [c.distance_m for c in found]
    assert distances == sorted(distances) and all(d is not None and d < 60 for d in distances)
    assert len({c.source_id for c in found}) == len({c.label for c in found}) == len(found)
    first = found[0]
    assert first.source_id == "osm:way/24181113" and first.verified
    assert first.parts == {"house_number": "113", "road": "Invalidenstraße", "postcode": "10115",
                           "city": "Berlin", "country_code": "de", "suburb": "Mitte"}
    assert first.distance_m == pytest.approx(distance_m(FIX, (52.53025, 13.3846)), abs=0.1)
    # What was asked: the fix, then the grid corners, at building zoom, with the User-Agent.
    reqs = nominatim.requests
    assert [r.path for r in reqs] == ["/reverse"] * 5
    assert (float(reqs[0].params["lat"]), float(reqs[0].params["lon"])) == FIX
    assert all(r.params["zoom"] == "18" and r.params["addressdetails"] == "1"
               and r.params["format"] == "json" for r in reqs)
    assert {r.user_agent for r in reqs} == {"pinpoint-tests/1 (ops@example.org)"}


async def test_reverse_folds_a_shop_into_its_building(nominatim: FakeNominatim) -> None:
    # Chausseestraße 4 is a building way and a "Lidl" node with the same address.
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        found = await finder.reverse(52.53003, 13.38326)
    labels = [c.label for c in found]
    assert labels.count("Chausseestraße 4, 10115 Berlin") == 1
    assert labels[0] == "Chausseestraße 4, 10115 Berlin"


async def test_reverse_limit_one_costs_one_request(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        found = await finder.reverse(*FIX, limit=1)
    assert len(found) == 1 and len(nominatim.requests) == 1


async def test_reverse_nothing_near_is_no_result(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        with pytest.raises(GeocoderError) as err:
            await finder.reverse(0.0, 0.0)
    assert err.value.kind == "no_result"


async def test_probes_stop_at_the_budget(nominatim: FakeNominatim) -> None:
    # 0.4 s between requests, 0.8 s budget: the fix's request only; its address is offered.
    cfg = config(nominatim.url, min_interval_s=0.4, budget_s=0.8)
    async with AddressFinder.from_settings(cfg) as finder:
        found = await finder.reverse(*FIX)
    assert [c.label for c in found] == ["Invalidenstraße 113, 10115 Berlin"]
    assert len(nominatim.requests) == 1


async def test_a_failing_probe_keeps_what_was_found(nominatim: FakeNominatim) -> None:
    nominatim.fail_with(503, count=4, after=1)
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        found = await finder.reverse(*FIX)
    assert [c.label for c in found] == ["Invalidenstraße 113, 10115 Berlin"]
    assert len(nominatim.requests) == 2  # the fix, then one probe that failed: stop there


async def test_after_a_failed_probe_the_cache_still_answers(
    nominatim: FakeNominatim, db: AsyncEngine
) -> None:
    cache = GeocodeCache(db)
    async with AddressFinder.from_settings(config(nominatim.url), cache=cache) as finder:
        full = await finder.reverse(*FIX)
        async with db.begin() as conn:  # forget the fix and the nearest corner
            await conn.exec_driver_sql(
                "DELETE FROM geocode_cache WHERE key LIKE '%|z18' AND rowid IN "
                "(SELECT rowid FROM geocode_cache ORDER BY rowid LIMIT 2)")
        nominatim.fail_with(503, count=9, after=1)
        again = await finder.reverse(*FIX)
    # The fix was asked again, the nearest corner failed, the other corners came from the cache.
    assert len(nominatim.requests) == 7
    assert again[0] == full[0] and set(again) <= set(full) and len(again) >= len(full) - 1


async def test_photon_reverse_is_one_request(photon: FakePhoton) -> None:
    async with AddressFinder.from_settings(config(photon.url, geocoder="photon")) as finder:
        found = await finder.reverse(*FIX)
    assert len(found) == 5 and len(photon.requests) == 1
    assert photon.requests[0].path == "/reverse" and photon.requests[0].params["limit"] == "10"
    assert found[0].label == "Invalidenstraße 113, 10115 Berlin"
    assert found[0].source_id == "osm:way/24181113"
    assert [c.distance_m for c in found] == sorted(c.distance_m or 0 for c in found)


async def test_photon_search_uses_location_bias(photon: FakePhoton) -> None:
    async with AddressFinder.from_settings(config(photon.url, geocoder="photon")) as finder:
        found = await finder.search("Hauptstraße 5", near=HEIDELBERG)
    assert found[0].label == "Hauptstraße 5, 69117 Heidelberg"
    assert found[0].parts["country_code"] == "de"
    params = photon.requests[0].params
    assert photon.requests[0].path == "/api" and "lat" in params and "lon" in params


# --- search ----------------------------------------------------------------------------------


async def test_search_is_bounded_to_the_fix_first(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        berlin = await finder.search("Hauptstraße 5", near=SCHOENEBERG)
        heidelberg = await finder.search("hauptstr 5", near=HEIDELBERG)
    assert [c.label for c in berlin] == ["Hauptstraße 5, 10827 Berlin"]
    assert [c.label for c in heidelberg] == ["Hauptstraße 5, 69117 Heidelberg"]
    assert berlin[0].distance_m is not None and berlin[0].distance_m < 100
    first = nominatim.requests[0].params
    assert first["bounded"] == "1" and first["addressdetails"] == "1"
    lon1, lat1, lon2, lat2 = (float(v) for v in first["viewbox"].split(","))
    assert lat1 < SCHOENEBERG[0] < lat2 and lon1 < SCHOENEBERG[1] < lon2
    assert len(nominatim.requests) == 2  # one per search


async def test_search_falls_back_to_a_preference(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        found = await finder.search("Hauptstraße 5", near=LYON)
    # Nothing within 5 km of Lyon: asked again with the box as a preference, nearest first.
    assert [c.label for c in found] == ["Hauptstraße 5, 69117 Heidelberg",
                                        "Hauptstraße 5, 10827 Berlin"]
    assert [r.params.get("bounded") for r in nominatim.requests] == ["1", None]
    assert "viewbox" in nominatim.requests[1].params


async def test_search_without_a_fix_and_french_labels(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        found = await finder.search("rue de la republique", near=None)
    assert found[0].label == "10 Rue de la République, 69002 Lyon"
    assert all(c.distance_m is None for c in found)
    assert "viewbox" not in nominatim.requests[0].params


async def test_search_nothing_found(nominatim: FakeNominatim) -> None:
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        with pytest.raises(GeocoderError) as err:
            await finder.search("Nowhere Lane 99", near=FIX)
        assert err.value.kind == "no_result"
        with pytest.raises(GeocoderError) as err:
            await finder.search("   ", near=FIX)
        assert err.value.kind == "no_result"


# --- failures --------------------------------------------------------------------------------


async def test_geocoder_down_is_unavailable(nominatim: FakeNominatim) -> None:
    nominatim.down()
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        with pytest.raises(GeocoderError) as err:
            await finder.reverse(*FIX)
    assert err.value.kind == "unavailable"
    closed = config(f"http://127.0.0.1:{free_port()}")
    async with AddressFinder.from_settings(closed) as finder:
        with pytest.raises(GeocoderError) as err:
            await finder.search("Hauptstraße 5", near=FIX)
    assert err.value.kind == "unavailable"


async def test_slow_geocoder_times_out_within_the_bound(nominatim: FakeNominatim) -> None:
    nominatim.delay(2.0)
    cfg = config(nominatim.url, timeout_s=0.3, budget_s=1.0)
    async with AddressFinder.from_settings(cfg) as finder:
        started = time.monotonic()
        with pytest.raises(GeocoderError) as err:
            await finder.reverse(*FIX)
        assert err.value.kind == "timeout"
        assert time.monotonic() - started < 0.3 + 0.4
        # The budget also caps a long per-request timeout.
        finder.config = replace(cfg, timeout_s=30.0, budget_s=0.5)
        started = time.monotonic()
        with pytest.raises(GeocoderError) as err:
            await finder.search("Hauptstraße 5", near=FIX)
        assert err.value.kind == "timeout"
        assert time.monotonic() - started < 0.5 + 0.4


@pytest.mark.parametrize(("status", "kind"), [(500, "unavailable"), (502, "unavailable"),
                                              (503, "unavailable"), (504, "timeout"),
                                              (403, "unavailable")])
async def test_http_errors_have_a_kind(nominatim: FakeNominatim, status: int, kind: str) -> None:
    nominatim.fail_with(status)
    async with AddressFinder.from_settings(config(nominatim.url)) as finder:
        with pytest.raises(GeocoderError) as err:
            await finder.reverse(*FIX)
        assert err.value.kind == kind
        assert (await finder.reverse(*FIX, limit=1))[0].source_id == "osm:way/24181113"


async def test_429_backs_off_for_the_whole_bot(nominatim: FakeNominatim) -> None:
    nominatim.fail_with(429, retry_after=30)
    async with AddressFinder.from_settings(config(nominatim.url)) as finder, \
            AddressFinder.from_settings(config(nominatim.url)) as other:
        with pytest.raises(GeocoderError) as err:
            await finder.reverse(*FIX)
        assert err.value.kind == "rate_limited" and err.value.retry_after == 30
        # Neither finder asks again during the back-off: they fail at once, without a request.
        started = time.monotonic()
        for f in (finder, other):
            with pytest.raises(GeocoderError) as err:
                await f.search("Hauptstraße 5", near=FIX)
            assert err.value.kind == "rate_limited"
        assert time.monotonic() - started < 0.5  # no 30 s wait
    assert len(nominatim.requests) == 1


# --- the rate limit --------------------------------------------------------------------------


async def test_rate_limit_holds_across_concurrent_installers(nominatim: FakeNominatim) -> None:
    interval = 0.15
    cfg = config(nominatim.url, min_interval_s=interval, probes=2, budget_s=5.0)
    nominatim.delay(0.02)
    fixes = [FIX, SCHOENEBERG, (45.7625, 4.8358), (52.5300, 13.3833)]
    # Two installers share one finder, two more have their own: one limit for all.
    shared = AddressFinder.from_settings(cfg)
    finders = [shared, shared, AddressFinder.from_settings(cfg), AddressFinder.from_settings(cfg)]
    try:
        results = await asyncio.gather(*(f.reverse(*fix) for f, fix in zip(finders, fixes,
                                                                           strict=True)))
    finally:
        for f in finders:
            await f.aclose()
    assert all(results)
    times = [r.t for r in nominatim.requests]
    assert len(times) == 12  # 4 fixes × (fix + 2 probes)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Starts are spaced by the interval, measured where the geocoder sees them (the tolerance
    # is for delivery jitter; without the limiter the gaps would be ~1 ms).
    assert min(gaps) >= interval - 0.03, gaps
    assert times[-1] - times[0] >= 11 * interval - 0.03
    # Turns are FIFO: every installer's own fix goes before anyone's probes.
    first_four = {(float(r.params["lat"]), float(r.params["lon"]))
                  for r in nominatim.requests[:4]}
    assert first_four == set(fixes)


async def test_one_request_at_a_time(nominatim: FakeNominatim) -> None:
    # A slow server (0.2 s per answer, interval 0.05 s): the next request waits for the answer.
    nominatim.delay(0.2)
    cfg = config(nominatim.url, min_interval_s=0.05, probes=0)
    async with AddressFinder.from_settings(cfg) as finder:
        await asyncio.gather(*(finder.reverse(FIX[0] + i * 0.0003, FIX[1]) for i in range(3)))
    times = [r.t for r in nominatim.requests]
    assert len(times) == 3
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(times)), times


async def test_queueing_is_bounded_by_the_budget(nominatim: FakeNominatim) -> None:
    cfg = config(nominatim.url, min_interval_s=0.5, probes=0, budget_s=0.9)
    async with AddressFinder.from_settings(cfg) as finder:

        async def one(i: int) -> tuple[str, float]:
            started = time.monotonic()
            try:
                await finder.reverse(FIX[0] + i * 0.001, FIX[1])
                return "ok", time.monotonic() - started
            except GeocoderError as exc:
                return exc.kind, time.monotonic() - started

        outcomes = await asyncio.gather(*(one(i) for i in range(4)))
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds.count("rate_limited") >= 2 and "ok" in kinds
    assert max(elapsed for _, elapsed in outcomes) < 0.9 + 0.4
    assert len(nominatim.requests) <= 2


# --- cache -----------------------------------------------------------------------------------


@pytest.mark.both_stores
async def test_cache_saves_requests(nominatim: FakeNominatim, db: AsyncEngine) -> None:
    cache = GeocodeCache(db)
    async with AddressFinder.from_settings(config(nominatim.url), cache=cache) as finder:
        cold = await finder.reverse(*FIX)
        assert len(nominatim.requests) == 5
        again = await finder.reverse(*FIX)
        assert again == cold and len(nominatim.requests) == 5
        # The next station of the site: a fix a few metres away, in the same grid cell.
        near = (FIX[0] + 0.00003, FIX[1] + 0.00003)
        assert set(probe_points(*near, 30, 4)) == set(probe_points(*FIX, 30, 4))
        await finder.reverse(*near)
        assert len(nominatim.requests) == 6
        await finder.search("Hauptstraße 5", near=SCHOENEBERG)
        await finder.search("  hauptstraße   5 ", near=SCHOENEBERG)
        assert len(nominatim.requests) == 7
        assert finder.stats.cache_hits >= 10
    # A restarted bot (new finder, same database) still has it.
    async with AddressFinder.from_settings(config(nominatim.url), cache=cache) as finder:
        assert await finder.reverse(*FIX) == cold
    assert len(nominatim.requests) == 7


@pytest.mark.both_stores
async def test_cache_entries_expire(db: AsyncEngine) -> None:
    now = [1000.0]
    cache = GeocodeCache(db, ttl_s=60, clock=lambda: now[0])
    await cache.put("k", [{"a": 1}])
    await cache.put("empty", [], ttl_s=5)
    await cache.put("forever", {"b": "ü"}, ttl_s=None)
    cache.ttl_s = None
    await cache.put("forever", {"b": "ü"})
    assert await cache.get("k") == [{"a": 1}] and await cache.get("empty") == []
    now[0] += 10
    assert await cache.get("empty") is None and await cache.get("k") == [{"a": 1}]
    now[0] += 100
    assert await cache.get("k") is None and await cache.get("forever") == {"b": "ü"}
    assert await cache.purge() == 2


async def test_a_broken_cache_is_only_a_miss(nominatim: FakeNominatim) -> None:
    engine = create_async_engine("sqlite+aiosqlite://")  # no geocode_cache table
    try:
        async with AddressFinder.from_settings(config(nominatim.url),
                                               cache=GeocodeCache(engine)) as finder:
            assert await finder.reverse(*FIX, limit=1)
    finally:
        await engine.dispose()


async def test_concurrent_callers_share_what_the_first_fetched(
    nominatim: FakeNominatim, db: AsyncEngine
) -> None:
    cfg = config(nominatim.url, min_interval_s=0.05, probes=0)
    async with AddressFinder.from_settings(cfg, cache=GeocodeCache(db)) as finder:
        await asyncio.gather(*(finder.reverse(*FIX) for _ in range(3)))
    assert len(nominatim.requests) == 1  # the others found it in the cache when their turn came


# --- the pin and the fix ---------------------------------------------------------------------


def test_pin_close_enough() -> None:
    address = Candidate("Invalidenstraße 113, 10115 Berlin", 52.53025, 13.3846, 18.0,
                        "osm:way/24181113", {})
    pin = (52.53030, 13.38455)
    check = check_pin(pin, FIX, address, max_from_gps_m=150, max_from_address_m=300)
    assert not check.too_far
    assert check.from_gps_m == pytest.approx(11.2, abs=0.5)
    assert check.from_address_m == pytest.approx(7.0, abs=0.5)


def test_pin_too_far() -> None:
    far_pin = (FIX[0] + 0.002, FIX[1])  # ~222 m north
    address = (FIX[0] - 0.002, FIX[1])
    check = check_pin(far_pin, FIX, address, max_from_gps_m=150, max_from_address_m=300)
    assert check.too_far and check.too_far_from_gps and check.too_far_from_address
    assert check.from_gps_m == pytest.approx(222.6, abs=1)
    assert check.from_address_m == pytest.approx(445.2, abs=1)
    only_gps = check_pin(far_pin, FIX, None, max_from_gps_m=150, max_from_address_m=300)
    assert only_gps.from_address_m is None and only_gps.too_far_from_gps
    typed = Candidate.unverified("Hinterhof, Invalidenstr. 113", *FIX)
    no_gps = check_pin(far_pin, None, typed, max_from_gps_m=150, max_from_address_m=300)
    assert no_gps == PinCheck(None, None, False, False) and not no_gps.too_far


def test_fix_accuracy() -> None:
    assert accuracy_ok(12.5, 50) and accuracy_ok(50, 50) and accuracy_ok(None, 50)
    assert not accuracy_ok(50.1, 50) and not accuracy_ok(1500, 50)


# --- candidates, labels, settings ------------------------------------------------------------


def test_candidate_json_round_trip() -> None:
    c = Candidate("Hauptstraße 5, 10827 Berlin", 52.4874, 13.3524, 12.3, "osm:way/31562005",
                  {"house_number": "5", "road": "Hauptstraße"})
    assert Candidate.from_json(c.to_json()) == c
    typed = Candidate.unverified("  Hof hinter dem   Lidl ", 52.5, 13.4)
    back = Candidate.from_json(typed.to_json())
    assert back == typed and not back.verified and back.label == "Hof hinter dem Lidl"
    assert Candidate.from_json({"label": "x", "lat": "1", "lon": 2, "distance_m": None,
                                "source_id": "s"}).parts == {}


def test_labels_are_short_and_local() -> None:
    assert make_label({"road": "Rue de la République", "house_number": "10",
                       "postcode": "69002", "city": "Lyon", "country_code": "fr"}) \
        == "10 Rue de la République, 69002 Lyon"
    long = make_label({"road": "Straße des 17. Juni und noch viel längerer Name der Allee",
                       "house_number": "135", "postcode": "10623", "city": "Berlin",
                       "country_code": "de"})
    assert len(long) <= 60 and long.endswith(" 135, 10623 Berlin") and "…" in long
    assert make_label({"postcode": "10115", "city": "Berlin"}, "Nordbahnhof, Mitte, Berlin") \
        == "Nordbahnhof, Mitte, 10115 Berlin"
    assert len(make_label({"name": "x" * 100})) == 60


async def test_fake_speaks_jsonv2_too(nominatim: FakeNominatim) -> None:
    async with aiohttp.ClientSession() as s:
        params = {"lat": str(FIX[0]), "lon": str(FIX[1]), "format": "jsonv2", "zoom": "18",
                  "addressdetails": "1"}
        async with s.get(nominatim.url + "/reverse", params=params) as resp:
            raw = await resp.json()
    assert raw["category"] == "building" and "class" not in raw
    c = candidate_from({"address": raw["display_name"], "lat": float(raw["lat"]),
                        "lon": float(raw["lon"]), "raw": raw}, "nominatim")
    assert c is not None and c.label == "Invalidenstraße 113, 10115 Berlin"


def test_settings_come_from_the_bot_config() -> None:
    s = load_settings(geocoder="Photon", geocoder_url="https://photon.example.org/x/",
                      geocoder_user_agent="acme-pinpoint/2 (ops@acme.example)",
                      geocoder_timeout_s=3, geocoder_min_interval_s=0.5, pin_max_from_gps_m=100)
    cfg = GeoSettings.from_settings(s)
    assert (cfg.geocoder, cfg.url, cfg.timeout_s, cfg.pin_max_from_gps_m) == (
        "photon", "https://photon.example.org/x/", 3.0, 100.0)
    assert cfg.budget_s == 6.0 and cfg.probes == 4  # not in bot.config yet: defaults
    finder = AddressFinder.from_settings(s)
    assert finder.endpoint == "https://photon.example.org/x"
    assert finder.geocoder.headers["User-Agent"] == "acme-pinpoint/2 (ops@acme.example)"
    public = AddressFinder.from_settings(load_settings(geocoder_min_interval_s=0.1))
    assert public.endpoint == "https://nominatim.openstreetmap.org"
    assert public.spacer.min_interval_s == 1.0  # the public server's policy wins
    with pytest.raises(ValueError, match="not a geopy geocoder"):
        AddressFinder.from_settings(load_settings(geocoder="nosuchcoder"))


async def test_other_geopy_geocoders_best_effort() -> None:
    """A geopy geocoder without a dedicated parser (Pelias here) still yields candidates."""

    async def pelias(request: web.Request) -> web.Response:
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [13.3846, 52.53025]},
            "properties": {
                "id": "way/24181113", "gid": "openstreetmap:address:way/24181113",
                "layer": "address", "source": "openstreetmap", "name": "Invalidenstraße 113",
                "housenumber": "113", "street": "Invalidenstraße", "postalcode": "10115",
                "locality": "Berlin", "country_a": "DEU",
                "label": "Invalidenstraße 113, Berlin, Germany",
            },
        }
        return web.json_response({"type": "FeatureCollection", "features": [feature]})

    app = web.Application()
    app.add_routes([web.get("/v1/reverse", pelias), web.get("/v1/search", pelias)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        cfg = config(f"http://127.0.0.1:{site.port}", geocoder="pelias")
        async with AddressFinder.from_settings(cfg) as finder:
            found = await finder.reverse(*FIX)
            searched = await finder.search("invalidenstr 113", near=FIX)
        assert found[0].label == searched[0].label == "Invalidenstraße 113, 10115 Berlin"
        assert found[0].source_id == "pelias:openstreetmap:address:way/24181113"
    finally:
        await runner.cleanup()
