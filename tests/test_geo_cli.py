"""`python -m bot.places.cli`: the operators' probe, against the fake Nominatim on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.places import cli
from bot.places.spacing import reset_rate_limits
from bot.store import Store
from testkit.fakes.geocoder import FakeNominatim

FIX = ("52.5304", "13.3845")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    reset_rate_limits()


@pytest.fixture
async def nominatim() -> AsyncIterator[FakeNominatim]:
    async with FakeNominatim() as fake:
        yield fake


def settings_for(url: str, tmp_path: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "geocoder": "nominatim", "geocoder_url": url, "geocoder_min_interval_s": 0.01,
        "geocoder_timeout_s": 1.0, "database_path": tmp_path / "bot.db",
        "geocoder_user_agent": "pinpoint-tests/1 (ops@example.org)",
    }
    return Settings(_env_file=None, **(values | kw))  # type: ignore[arg-type]


async def run(argv: list[str], settings: Settings) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    code = await cli.amain(argv, settings=settings, out=out, err=err)
    return code, out.getvalue().splitlines(), err.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_reverse_prints_candidates_as_json_lines(nominatim: FakeNominatim,
                                                       tmp_path: Path) -> None:
    code, lines, err = await run(["reverse", *FIX], settings_for(nominatim.url, tmp_path))
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in lines]
    assert 2 <= len(rows) <= 5
    assert all(set(r) == {"label", "lat", "lon", "distance_m", "source_id"} for r in rows)
    assert rows[0] == {"label": "Invalidenstraße 113, 10115 Berlin", "lat": 52.53025,
                       "lon": 13.3846, "distance_m": 18.0, "source_id": "osm:way/24181113"}
    assert [r["distance_m"] for r in rows] == sorted(r["distance_m"] for r in rows)


async def test_search_near_prints_nearest_first(nominatim: FakeNominatim, tmp_path: Path) -> None:
    settings = settings_for(nominatim.url, tmp_path)
    code, lines, _ = await run(["search", "Hauptstraße 5", "--near", "45.76,4.83"], settings)
    assert code == 0
    assert [json.loads(x)["label"] for x in lines] == ["Hauptstraße 5, 69117 Heidelberg",
                                                      "Hauptstraße 5, 10827 Berlin"]
    code, lines, _ = await run(["search", "rue mercière 20"], settings)
    assert code == 0 and json.loads(lines[0])["distance_m"] is None


async def test_nothing_found_exits_1(nominatim: FakeNominatim, tmp_path: Path) -> None:
    code, lines, err = await run(["search", "Nowhere Lane 9", "--near", "52.53,13.38"],
                                 settings_for(nominatim.url, tmp_path))
    assert (code, lines) == (1, []) and err.startswith("no result")


async def test_unreachable_geocoder_exits_2(tmp_path: Path) -> None:
    code, lines, err = await run(["reverse", *FIX],
                                 settings_for(f"http://127.0.0.1:{free_port()}", tmp_path))
    assert (code, lines) == (2, [])
    assert err.count("\n") == 1 and err.startswith("error: nominatim at http://127.0.0.1:")
    assert "unavailable" in err


async def test_slow_geocoder_exits_2(nominatim: FakeNominatim, tmp_path: Path) -> None:
    nominatim.delay(1.0)
    settings = settings_for(nominatim.url, tmp_path, geocoder_timeout_s=0.2)
    code, lines, err = await run(["search", "Hauptstraße 5"], settings)
    assert (code, lines) == (2, []) and ": timeout: " in err


async def test_usage_errors_exit_64(nominatim: FakeNominatim, tmp_path: Path) -> None:
    settings = settings_for(nominatim.url, tmp_path)
    assert (await run(["search", "x", "--near", "here"], settings))[0] == 64
    assert (await run(["reverse", "95", "13"], settings))[0] == 64
    assert (await run([], settings))[0] == 64
    assert nominatim.requests == []


async def test_cache_option_uses_the_bots_database(nominatim: FakeNominatim,
                                                   tmp_path: Path) -> None:
    settings = settings_for(nominatim.url, tmp_path)
    await (await Store.open(settings.store_url)).close()  # the bot's database, migrated
    code, first, err = await run(["reverse", *FIX, "--cache", "-v"], settings)
    assert code == 0 and "(5 requests, 0 cached)" in err
    code, again, err = await run(["reverse", *FIX, "--cache", "-v"], settings)
    assert code == 0 and again == first and "(0 requests, 5 cached)" in err
    assert len(nominatim.requests) == 5


async def _python_m(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.places.cli", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_python_m_bot_geo_reads_the_environment(nominatim: FakeNominatim,
                                                      tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GEOCODER")}
    env |= {"GEOCODER": "nominatim", "GEOCODER_URL": nominatim.url,
            "GEOCODER_USER_AGENT": "pinpoint-cli-test/1 (ops@example.org)",
            "GEOCODER_MIN_INTERVAL_S": "0.01", "GEOCODER_TIMEOUT_S": "2",
            "DATABASE_PATH": str(tmp_path / "bot.db")}
    code, out, err = await _python_m(["reverse", *FIX, "--limit", "3"], env, tmp_path)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and rows[0]["source_id"] == "osm:way/24181113"
    assert nominatim.requests[0].user_agent == "pinpoint-cli-test/1 (ops@example.org)"

    env["GEOCODER_URL"] = f"http://127.0.0.1:{free_port()}"
    code, out, err = await _python_m(["search", "Hauptstraße 5", "--near", "52.48,13.35"],
                                     env, tmp_path)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: nominatim at ")
