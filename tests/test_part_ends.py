"""Each part's end, recorded at a job's first submission (`jobs.part_ends`): the engine writes
it with the submission, a resubmission keeps the first, and revision 014 fills it in from the
audit trail for jobs submitted before, to the same figures."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from managers_fixtures import (
    Seeder,
    local,
    managers_engine,
    seed_day,
    seed_next_days,
)
from sqlalchemy import Connection

from bot.engine.engine import Engine
from bot.store.connection import create_engine
from bot.store.migrations import alembic_config
from testkit.emulator import Player

from conftest import RunningBot
from flow import start_job, walk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bigdata

pytestmark = pytest.mark.both_stores


@pytest.fixture
async def engine(tmp_path: Path, database_url: str) -> AsyncIterator[Engine]:
    async with managers_engine(tmp_path, database_url) as engine:
        yield engine


async def _recorded(engine: Engine) -> dict[int, str | None]:
    rows = await engine.store.fetch_all("SELECT id, part_ends FROM jobs ORDER BY id")
    return {r["id"]: r["part_ends"] for r in rows}


def _again(connection: Connection) -> None:
    """Revision 014 undone and applied again: `part_ends` rebuilt from the audit trail."""
    config = alembic_config(connection)
    command.downgrade(config, "013")
    command.upgrade(config, "014")


async def _rebuilt(url: str) -> None:
    database = create_engine(url)
    try:
        async with database.begin() as conn:
            await conn.run_sync(_again)
    finally:
        await database.dispose()


async def test_the_first_submission_records_each_parts_last_answer(engine: Engine) -> None:
    seed = Seeder(engine, engine.store.clock)  # type: ignore[arg-type]
    jobs = await seed_day(seed)
    recorded = await _recorded(engine)
    a1 = json.loads(recorded[jobs["A1"]] or "null")
    assert a1 == {"before": local("2026-03-10 08:10").isoformat(),
                  "sim": local("2026-03-10 08:40").isoformat(),
                  "labels": local("2026-03-10 08:50").isoformat(),
                  "pinpoint": local("2026-03-10 09:20").isoformat(),
                  "verify": local("2026-03-10 09:25").isoformat()}
    assert recorded[jobs["B1"]] is None  # never submitted
    first = recorded[jobs["A2"]]
    await seed.answer(jobs["A2"], "serial", "fixed", local("2026-03-10 13:00"))
    await seed.submit(jobs["A2"], local("2026-03-10 13:05"))
    assert (await _recorded(engine))[jobs["A2"]] == first  # the first submission's, kept


async def test_the_engine_records_them_with_the_submission(bot: RunningBot,
                                                         ana: Player) -> None:
    await start_job(ana)
    assert await walk(ana, bot) is None
    store = bot.services.store
    job = (await store.jobs_of(ana.user_id))[0]
    parts = {s.id: s.part for s in bot.services.engine.records.procedure.steps}
    expected: dict[str, str] = {}
    for entry in await store.audit_trail(job.id):
        if entry["action"] in ("answer", "safety_confirmed"):
            part = parts[entry["detail"]["step"].split(".")[0]]
            expected[part] = max(expected.get(part, ""), entry["at"])
    row = await store.fetch_one("SELECT part_ends FROM jobs WHERE id = ?", (job.id,))
    assert row is not None and json.loads(row["part_ends"]) == expected
    assert len(expected) == 5


async def test_the_upgrade_fills_in_what_the_engine_records(engine: Engine,
                                                            database_url: str) -> None:
    seed = Seeder(engine, engine.store.clock)  # type: ignore[arg-type]
    jobs = await seed_day(seed)
    await seed_next_days(seed, jobs)
    await seed.answer(jobs["A2"], "serial", "fixed", local("2026-03-11 13:00"))
    await seed.submit(jobs["A2"], local("2026-03-11 13:05"))
    recorded = await _recorded(engine)
    await _rebuilt(database_url)
    rebuilt = await _recorded(engine)
    assert rebuilt.keys() == recorded.keys()
    for job, ends in recorded.items():
        assert (json.loads(rebuilt[job]) if rebuilt[job] else None) == (
            json.loads(ends) if ends else None), job


async def test_the_generated_jobs_record_what_the_upgrade_would(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    await bigdata.generate(url, 2000)
    database = create_engine(url)
    try:
        async with database.connect() as conn:
            generated = dict((await conn.exec_driver_sql(
                "SELECT id, part_ends FROM jobs ORDER BY id")).all())
        await _rebuilt(url)
        async with database.connect() as conn:
            rebuilt = dict((await conn.exec_driver_sql(
                "SELECT id, part_ends FROM jobs ORDER BY id")).all())
    finally:
        await database.dispose()
    assert sum(1 for e in generated.values() if e) > 1500
    assert {j: e and json.loads(e) for j, e in generated.items()} == {
        j: e and json.loads(e) for j, e in rebuilt.items()}
