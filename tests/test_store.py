"""Unit tests: the SQLite store — migrations, WAL, foreign keys, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.store import MIGRATIONS_DIR, Store


async def test_migrations_run_once_and_set_the_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await Store.open(path)
    async with store.db.execute("PRAGMA user_version") as cur:
        version = (await cur.fetchone())[0]
    newest = max(int(p.name.split("_")[0]) for p in MIGRATIONS_DIR.glob("*.sql"))
    assert version == newest
    async with store.db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    await store.close()
    again = await Store.open(path)  # nothing left to apply: no error on existing tables
    assert await again.migrate() == newest
    await again.close()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError):
        await store.save_answer(12345, "model", "x", "typed")
    await store.close()


async def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    await store.upsert_user(1, "Ana")
    job = await store.create_job(1, 1, None)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.save_answer(job.id, "model", "x", "typed")
            raise RuntimeError("boom")
    assert await store.answers(job.id) == {}
    await store.close()


async def test_lone_writes_wait_for_another_tasks_transaction(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
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


async def test_answers_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await Store.open(path)
    await store.upsert_user(1, "Ana")
    job = await store.create_job(1, 1, None)
    await store.save_answer(job.id, "gps", {"lat": 1.5, "lon": 2.5}, "location")
    await store.close()
    reopened = await Store.open(path)
    assert (await reopened.answers(job.id))["gps"].value == {"lat": 1.5, "lon": 2.5}
    await reopened.close()


async def test_registration_decision_happens_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    await store.upsert_user(5, "Ben")
    await store.set_user_status(5, "pending", "INS-5")
    results = await asyncio.gather(
        store.set_user_status(5, "approved", only_from="pending"),
        store.set_user_status(5, "refused", only_from="pending"),
    )
    assert sorted(results) == [False, True]
    await store.close()
