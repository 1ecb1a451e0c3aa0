"""Unit tests: the store on SQLite and on PostgreSQL — migrations (and adopting a database of
the earlier runner), SQLite's WAL and foreign keys, transactions, and each aggregate (people,
jobs, hand-offs, outbox, audit, inbox) on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from bot.store import OPEN, SUBMITTED, Store
from bot.store.audit import AuditTrail
from bot.store.connection import Database, create_engine
from bot.store.handoffs import Handoffs
from bot.store.inbox import Inbox
from bot.store.jobs import Jobs
from bot.store.migrations import REVISIONS_DIR, alembic_config, current, latest, upgrade
from bot.store.outbox import Outbox
from bot.store.people import People

pytestmark = pytest.mark.both_stores


async def test_migrations_run_once_and_set_the_version(blank_database_url: str) -> None:
    store = await Store.open(blank_database_url)
    assert await store.schema_version() == latest() and await store.schema_current()
    if store.dialect == "sqlite":
        assert (await store.fetch_one("PRAGMA journal_mode"))["journal_mode"] == "wal"
    await store.close()
    again = await Store.open(blank_database_url)  # nothing left to apply: no error
    assert await again.schema_version() == latest()
    await again.close()


async def test_a_database_behind_is_not_current_until_migrated(blank_database_url: str) -> None:
    engine = create_engine(blank_database_url)
    assert await current(engine) is None
    assert await upgrade(engine, "004") == "004" != latest()
    await engine.dispose()
    store = await Store.open(blank_database_url)
    assert await store.schema_current()
    await store.close()


def test_revisions_are_numbered_in_order() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert chain == [f"{n:03d}" for n in range(1, len(chain) + 1)] and chain[-1] == latest()
    files = sorted(p.name.split("_")[0] for p in (REVISIONS_DIR / "versions").glob("0*.py"))
    assert files == chain


async def test_a_database_of_the_numbered_scripts_runner_is_adopted(tmp_path: Path) -> None:
    """A SQLite file the earlier runner migrated (`PRAGMA user_version` = 3, no Alembic table)
    is stamped at 003, then upgraded; its rows stay."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    await upgrade(engine, "003")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE alembic_version")
        await conn.exec_driver_sql("PRAGMA user_version = 3")
        await conn.exec_driver_sql(
            "INSERT INTO users (id, first_name, created_at, updated_at) "
            "VALUES (7, 'Ana', '2025-01-01', '2025-01-01')")
    await engine.dispose()
    store = await Store.open(url)
    assert await store.schema_version() == latest()
    assert (await store.user(7)).first_name == "Ana"  # type: ignore[union-attr]
    assert await store.receive(1, 7, "{}")  # the inbox (004) is there
    await store.close()


async def test_foreign_keys_are_enforced(database_url: str) -> None:
    store = await Store.open(database_url)
    with pytest.raises(IntegrityError):
        await store.save_answer(12345, "model", "x", "typed")
    await store.close()


async def test_telegram_ids_take_64_bits(database_url: str) -> None:
    store = await Store.open(database_url)
    user_id, chat_id = 7_123_456_789, -1_002_345_678_901
    await store.upsert_user(user_id, "Ana")
    job = await store.create_job(user_id, chat_id, None)
    assert (job.installer_id, job.chat_id) == (user_id, chat_id)
    handoff = await store.add_handoff(job.id, chat_id)
    assert (await store.handoff(handoff.id)).chat_id == chat_id  # type: ignore[union-attr]
    await store.close()


async def test_a_failed_transaction_leaves_nothing(database_url: str) -> None:
    store = await Store.open(database_url)
    await store.upsert_user(1, "Ana")
    job = await store.create_job(1, 1, None)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.save_answer(job.id, "model", "x", "typed")
            raise RuntimeError("boom")
    assert await store.answers(job.id) == {}
    await store.close()


async def test_lone_writes_wait_for_another_tasks_transaction(database_url: str) -> None:
    store = await Store.open(database_url)
    await store.upsert_user(1, "Ana")
    job = await store.create_job(1, 1, None)
    inside = asyncio.Event()

    async def failing_transaction() -> None:
        async with store.transaction():
            await store.save_answer(job.id, "a", 1, "typed")
            inside.set()
            await asyncio.sleep(0.05)
            raise RuntimeError("rolled back")

    task = asyncio.create_task(failing_transaction())
    await inside.wait()
    await store.save_answer(job.id, "b", 2, "typed")  # must not slip into the rollback
    with pytest.raises(RuntimeError):
        await task
    assert set(await store.answers(job.id)) == {"b"}
    await store.close()


async def test_answers_survive_reopening(database_url: str) -> None:
    store = await Store.open(database_url)
    await store.upsert_user(1, "Ana")
    job = await store.create_job(1, 1, None)
    await store.save_answer(job.id, "gps", {"lat": 1.5, "lon": 2.5}, "location")
    await store.close()
    reopened = await Store.open(database_url)
    assert (await reopened.answers(job.id))["gps"].value == {"lat": 1.5, "lon": 2.5}
    await reopened.close()


async def test_registration_decision_happens_once(database_url: str) -> None:
    store = await Store.open(database_url)
    await store.upsert_user(5, "Ben")
    await store.set_user_status(5, "pending", "INS-5")
    results = await asyncio.gather(
        store.set_user_status(5, "approved", only_from="pending"),
        store.set_user_status(5, "refused", only_from="pending"),
    )
    assert sorted(results) == [False, True]
    await store.close()


# Each aggregate on its own, on a fresh migrated database --------------------------------

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


async def seed_job(database: Database, user_id: int = 1) -> int:
    """A user with one job, written with plain SQL (for aggregates that only read jobs)."""
    now = database.now()
    await database._write(
        "INSERT INTO users (id, first_name, created_at, updated_at) VALUES (?, 'Ana', ?, ?)",
        (user_id, now, now),
    )
    visit = await database._write(
        "INSERT INTO visits (installer_id, started_at) VALUES (?, ?) RETURNING id", (user_id, now)
    )
    job = await database._write(
        """INSERT INTO jobs (visit_id, installer_id, chat_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?) RETURNING id""",
        (visit, user_id, user_id, now, now),
    )
    assert job
    return job


async def test_database_alone_opens_migrated_and_reads(database_url: str) -> None:
    database = await Database.open(database_url, clock=Clock())
    assert database.now() == T0.isoformat()
    async with database.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert {"users", "jobs", "handoffs", "outbox", "audit", "inbox", "geocode_cache"} <= tables
    assert (await database.fetch_one("SELECT count(*) AS n FROM users"))["n"] == 0
    assert await database.fetch_all(
        "SELECT id FROM users WHERE status = :status", {"status": "new"}) == []
    await database.close()


async def test_people_alone(database_url: str) -> None:
    people = await People.open(database_url, clock=Clock())
    assert await people.user(7) is None
    user = await people.upsert_user(7, "Ana", "Lee", "ana_l")
    assert (user.name, user.status) == ("Ana Lee", "new")
    assert await people.set_user_status(7, "approved", "INS-7")
    assert (await people.user_by_installer_id("INS-7")) == await people.user(7)
    assert (await people.users_by_username("@ANA_L")).id == 7  # type: ignore[union-attr]
    assert await people.grant(7, "support", by=None)
    assert not await people.grant(7, "support", by=None)
    with pytest.raises(ValueError):
        await people.grant(7, "pilot", by=None)
    assert await people.roles(7) == {"support"}
    assert [u.id for u in await people.users_with_role("support")] == [7]
    assert await people.revoke(7, "support")
    assert await people.roles(7) == set()
    await people.close()


async def test_jobs_alone(database_url: str) -> None:
    clock = Clock()
    jobs = await Jobs.open(database_url, clock=clock)
    first = await seed_job(jobs)
    job = await jobs.create_job(1, 1, visit_id=None)
    assert job.status == OPEN and job.created_at == T0
    assert [e["action"] for e in await jobs.audit_trail(job.id)] == ["job_created"]
    assert await jobs.open_job(1) == job
    assert [j.id for j in await jobs.jobs_of(1)] == [job.id, first]
    await jobs.update_job(job.id, cursor="model", pending={"step": "model"})
    with pytest.raises(ValueError):
        await jobs.update_job(job.id, installer_id=2)
    assert (await jobs.job(job.id)).pending == {"step": "model"}  # type: ignore[union-attr]

    await jobs.save_answer(job.id, "mac", "AA:BB", "typed")
    await jobs.save_answer(first, "mac", "AA:BB", "qr")
    assert (await jobs.answers(job.id))["mac"].value == "AA:BB"
    assert await jobs.jobs_with_answer("mac", "AA:BB", exclude=job.id) == [first]
    await jobs.add_flag(job.id, "duplicate", "mac", {"other": first})
    await jobs.add_flag(job.id, "duplicate", "mac", {"other": first})
    assert [(f.kind, f.detail) for f in await jobs.flags(job.id)] == [
        ("duplicate", {"other": first})
    ]
    await jobs.clear_answers(job.id, ["mac"])
    assert await jobs.answers(job.id) == {} and await jobs.flags(job.id) == []

    photo = await jobs.add_photo(
        job.id, "sticker", file_id="f", file_unique_id="u", sha256="0" * 64, width=4,
        height=3, bytes=12, format="JPEG",
    )
    assert [(p.id, p.as_file, p.exif_taken_at) for p in await jobs.photos(job.id)] == [
        (photo, False, None)
    ]

    clock.at = T0 + timedelta(hours=2)
    idle = (T0 + timedelta(hours=1)).isoformat()
    assert {j.id for j in await jobs.idle_jobs(idle)} == {first, job.id}
    assert await jobs.mark_reminded(job.id)
    assert not await jobs.mark_reminded(job.id)
    assert [j.id for j in await jobs.idle_jobs(idle)] == [first]
    await jobs.close()


async def test_handoffs_alone(database_url: str) -> None:
    clock = Clock()
    handoffs = await Handoffs.open(database_url, clock=clock)
    job_id = await seed_job(handoffs)
    await handoffs._exec("UPDATE jobs SET status = ? WHERE id = ?", (SUBMITTED, job_id))
    first = await handoffs.add_handoff(job_id, chat_id=-100)
    assert first.previous_id is None
    await handoffs.update_handoff(first.id, draft_by=5, draft_message_id=42)
    with pytest.raises(ValueError):
        await handoffs.update_handoff(first.id, decision="verified")
    assert await handoffs.handoff_by_draft(-100, 42) == await handoffs.handoff(first.id)
    later = (T0 + timedelta(minutes=1)).isoformat()
    assert [h.id for h in await handoffs.waiting_handoffs(later)] == [first.id]
    assert await handoffs.decide_handoff(first.id, "rejected", by=5, reason="blurry")
    assert not await handoffs.decide_handoff(first.id, "verified", by=6)
    decided = await handoffs.handoff(first.id)
    assert decided is not None and (decided.decision, decided.draft_by) == ("rejected", None)
    assert await handoffs.waiting_handoffs(later) == []
    second = await handoffs.add_handoff(job_id, chat_id=-100)
    assert second.previous_id == first.id
    assert await handoffs.latest_handoff(job_id) == second
    await handoffs.close()


async def test_outbox_alone(database_url: str) -> None:
    clock = Clock()
    outbox = await Outbox.open(database_url, clock=clock)
    assert await outbox.next_delivery_time(max_attempts=3) is None
    assert await outbox.enqueue("webhook", "http://x", {"job": 1}, "job-1")
    assert not await outbox.enqueue("webhook", "http://x", {"job": 1}, "job-1")
    [item] = await outbox.due_deliveries(outbox.now(), max_attempts=3)
    assert (item.payload, item.attempts) == ({"job": 1}, 0)
    retry = (T0 + timedelta(minutes=5)).isoformat()
    await outbox.delivery_failed(item.id, "timeout", retry)
    assert await outbox.due_deliveries(outbox.now(), max_attempts=3) == []
    assert await outbox.next_delivery_time(max_attempts=3) == T0 + timedelta(minutes=5)
    await outbox.delivered(item.id)
    [done] = await outbox.deliveries()
    assert (done.attempts, done.last_error, done.delivered_at) == (2, "timeout", T0)
    assert await outbox.next_delivery_time(max_attempts=3) is None
    await outbox.close()


async def test_audit_trail_alone(database_url: str) -> None:
    trail = await AuditTrail.open(database_url, clock=Clock())
    job_id = await seed_job(trail)
    await trail.audit(1, job_id, "answer", {"step": "mac"})
    await trail.audit(2, None, "role_granted")
    assert [(e["actor_id"], e["action"], e["detail"]) for e in await trail.audit_trail()] == [
        (1, "answer", {"step": "mac"}), (2, "role_granted", {})
    ]
    assert [e["action"] for e in await trail.audit_trail(job_id)] == ["answer"]
    await trail.close()


async def test_inbox_alone(database_url: str) -> None:
    clock = Clock()
    inbox = await Inbox.open(database_url, clock=clock)
    assert await inbox.receive(10, 1001, '{"update_id": 10}')
    assert await inbox.receive(11, 1002, '{"update_id": 11}')
    assert not await inbox.receive(10, 1001, '{"update_id": 10}')  # a redelivery
    await inbox.done(10)
    assert [r.update_id for r in await inbox.unfinished()] == [11]
    assert await inbox.forget_done() == 0  # kept while Telegram could redeliver it
    clock.at += timedelta(days=3)
    assert await inbox.forget_done() == 1
    assert [r.sender for r in await inbox.unfinished()] == [1002]
    await inbox.close()


async def test_a_transaction_marks_the_update_it_commits_for_done(database_url: str) -> None:
    from bot.store.inbox import processing

    store = await Store.open(database_url)
    await store.receive(7, 1001, "{}")
    await store.receive(8, 1001, "{}")
    token = processing.set(7)
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await store.upsert_user(1001, "Ana", None, None, "en")
                raise RuntimeError("crash before commit")
        assert [r.update_id for r in await store.unfinished()] == [7, 8]  # rolled back
        async with store.transaction():
            await store.upsert_user(1001, "Ana", None, None, "en")
    finally:
        processing.reset(token)
    assert [r.update_id for r in await store.unfinished()] == [8]
    await store.close()
