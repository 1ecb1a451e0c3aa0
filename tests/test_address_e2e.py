"""End to end: real addresses for the GPS fix, search, a failing geocoder, and the pin."""

from __future__ import annotations

from testkit.emulator import Player
from testkit.fakes.geocoder import FakeNominatim

from conftest import RunningBot
from flow import current_step, next_prompt, start_job, station, walk


async def at_address_step(ana: Player, bot: RunningBot) -> object:
    await start_job(ana)
    return await walk(ana, bot, until="address")


async def test_candidates_near_the_fix_nearest_first_and_distinct(
    bot: RunningBot, ana: Player, nominatim: FakeNominatim
) -> None:
    prompt = await at_address_step(ana, bot)
    labels = [row[0] for row in prompt.buttons]
    assert labels[0] == "Invalidenstraße 113, 10115 Berlin"  # the nearest
    assert 2 <= len(labels) <= 5 and len(set(labels)) == len(labels)
    assert all("10115 Berlin" in label for label in labels)
    await ana.press("Invalidenstraße 113, 10115 Berlin")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    address = (await bot.services.store.answers(job.id))["address"].value
    assert address["verified"] and address["source_id"] == "osm:way/24181113"
    assert address["parts"]["house_number"] == "113" and address["parts"]["postcode"] == "10115"
    assert address["parts"]["country_code"] == "de"
    reverse_calls = [r for r in nominatim.requests if "/reverse" in r.path]
    assert reverse_calls  # looked up once in the background after the GPS fix, then cached
    before = len(nominatim.requests)
    await ana.send("/back")
    await next_prompt(ana)
    assert len(nominatim.requests) == before  # the same spot is not looked up twice


async def test_typed_search_is_offered_the_same_way(bot: RunningBot, ana: Player) -> None:
    await at_address_step(ana, bot)
    await ana.send("Chausseestraße 8")
    results = await next_prompt(ana)
    assert "matching “Chausseestraße 8”" in results.text
    assert results.buttons[0] == ["Chausseestraße 8, 10115 Berlin"]
    assert any("Use “Chausseestraße 8” (unverified)" in row[0] for row in results.buttons)
    await ana.press("Chausseestraße 8, 10115 Berlin")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "pin"


async def test_geocoder_down_offers_retry_and_unverified_text(
    bot: RunningBot, ana: Player, nominatim: FakeNominatim
) -> None:
    nominatim.fail_with(503, 1000)
    prompt = await at_address_step(ana, bot)
    assert "address service is not answering (unreachable)" in prompt.text
    assert prompt.buttons == [["🔄 Try again"]]
    await ana.send("Torstraße 1, Berlin")
    typed = await next_prompt(ana)
    assert typed.buttons[-1] == ["✏️ Use “Torstraße 1, Berlin” (unverified)"]
    await ana.press("Use “Torstraße 1, Berlin” (unverified)")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    address = (await bot.services.store.answers(job.id))["address"].value
    assert address["verified"] is False and address["parts"]["text"] == "Torstraße 1, Berlin"
    assert "address_unverified" in [f.kind for f in await bot.services.store.flags(job.id)]


async def test_slow_geocoder_times_out_instead_of_waiting(
    bot: RunningBot, ana: Player, nominatim: FakeNominatim
) -> None:
    await at_address_step(ana, bot)
    nominatim.delay(5.0)
    await ana.send("Somewhere 1")
    prompt = await next_prompt(ana, timeout=10)
    assert "not answering (too slow)" in prompt.text
    nominatim.delay(0.0)
    await ana.press("Try again")
    retried = await next_prompt(ana)
    assert "Somewhere 1" in retried.text


async def test_pin_far_from_the_address_shows_the_distance(bot: RunningBot,
                                                           ana: Player) -> None:
    await at_address_step(ana, bot)
    await ana.press("Invalidenstraße 113, 10115 Berlin")
    await next_prompt(ana)
    await ana.send_location(52.53200, 13.38460)  # ~170 m north: far from both
    question = await next_prompt(ana)
    assert "m from where you shared your location" in question.text
    await ana.press("Send another")
    await next_prompt(ana)
    await ana.send_location(52.53030, 13.38462)
    await next_prompt(ana)
    assert await current_step(bot, ana) == "lot_name"


async def test_next_station_reuses_the_address(bot: RunningBot, ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot)
    await ana.press("Next station, same site")
    await next_prompt(ana)
    prompt = await walk(ana, bot, until="address",
                        answers={**station(2), "mac": lambda p: p.send("02-DF-34-D6-4D-46")})
    assert any("Same as last station: Invalidenstraße 113" in row[0] for row in prompt.buttons)
    await ana.press("Same as last station")
    await next_prompt(ana)
    job = await bot.services.store.open_job(ana.user_id)
    answer = (await bot.services.store.answers(job.id))["address"]
    assert answer.source == "reuse" and answer.value["source_id"] == "osm:way/24181113"


async def test_a_live_location_counts_with_its_latest_point(bot: RunningBot,
                                                            ana: Player) -> None:
    await start_job(ana)
    await walk(ana, bot, until="gps")
    await ana.send_location(52.53100, 13.38400, horizontal_accuracy=30, live_period=900)
    await next_prompt(ana)
    await ana.edit_live_location(52.53031, 13.38461, horizontal_accuracy=6)
    await ana.send("/status")  # the bot handles one person's updates in order
    await ana.expect_text("Job #1")
    job = await bot.services.store.open_job(ana.user_id)
    gps = (await bot.services.store.answers(job.id))["gps"].value
    assert (gps["lat"], gps["lon"], gps["accuracy"]) == (52.53031, 13.38461, 6)
    assert gps["live"] is True
