"""Fixtures for the managers' tests: a seeded database, and the bot with their handlers.

The seeder writes people, jobs, answers and hand-offs at chosen local times through the
store's own repositories, with a clock it moves, so the rows look exactly like the bot's
(UTC ISO times, audit entries with the step).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import DATA_DIR, PROCEDURE_PATH, Settings
from bot.engine.catalog import Catalog
from bot.engine.engine import Engine
from bot.engine.kinds import KINDS
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS
from bot.services import load_texts
from bot.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
SUPPORT = 9100


class Clock:
    """A settable clock for the store."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def local(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    """`2026-03-10 08:00` in the managers' time zone, as an aware UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


class Seeder:
    """Builds jobs step by step at given times."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = clock

    def at(self, moment: datetime) -> None:
        self.clock.now = moment

    async def person(self, user_id: int, first: str, last: str | None = None,
                     role: str = "installer") -> None:
        await self.store.upsert_user(user_id, first, last, first.lower())
        if role == "installer":
            await self.store.set_user_status(user_id, "approved", f"INS-{user_id}")
        await self.store.grant(user_id, role, None)

    async def job(self, installer: int, at: datetime, model: str | None = None) -> int:
        self.at(at)
        job = await self.store.create_job(installer, installer, None)
        if model:
            await self.answer(job.id, "model", model, at)
        return job.id

    async def answer(self, job_id: int, key: str, value: Any, at: datetime,
                     source: str = "button") -> None:
        self.at(at)
        job = await self.store.job(job_id)
        assert job is not None
        await self.store.save_answer(job_id, key, value, source)
        await self.store.audit(job.installer_id, job_id, "answer",
                               {"step": key, "value": str(value), "source": source})
        await self.store.update_job(job_id, cursor=None)

    async def answer_until(self, job_id: int, stop: str | None,
                           times: dict[str, datetime]) -> None:
        """Answer every question of the plan before `stop` (all if None), each part's
        answers at that part's time; parts without a time stop the walk."""
        while True:
            job = await self.store.job(job_id)
            assert job is not None
            view = await self.engine.view(job)
            slot = view.current
            if slot is None or slot.key == stop or slot.step.kind == "submit":
                return
            part = slot.step.part
            if part not in times:
                return
            value: Any = {"model": "alpi_hyc300", "firmware": "2.10.1"}.get(slot.key, "x")
            if slot.step.kind == "checklist":
                value = "yes"
            elif slot.step.kind == "confirm":
                value = True
            elif slot.step.kind == "choice" and slot.step.options:
                value = slot.step.options[0].id
            await self.answer(job_id, slot.key, value, times[part])

    async def submit(self, job_id: int, at: datetime) -> int:
        self.at(at)
        job = await self.store.job(job_id)
        assert job is not None
        await self.store.save_answer(job_id, "submit", True, "button")
        await self.store.update_job(job_id, status="submitted", submitted_at=self.store.now())
        await self.store.audit(job.installer_id, job_id, "submitted", {})
        await self.store.record_part_ends(job_id, {s.id: s.part for s in
                                                   self.engine.records.procedure.steps})
        handoff = await self.store.add_handoff(job_id, -100)
        return handoff.id

    async def decide(self, handoff_id: int, decision: str, at: datetime,
                     reason: str | None = None, part: str | None = None) -> None:
        self.at(at)
        handoff = await self.store.handoff(handoff_id)
        assert handoff is not None
        await self.store.decide_handoff(handoff_id, decision, SUPPORT, reason, part)
        if decision == "verified":
            await self.store.update_job(handoff.job_id, status="verified",
                                        closed_at=self.store.now())
        else:
            await self.store.update_job(handoff.job_id, status="rejected", reopened_part=part)
        await self.store.audit(SUPPORT, handoff.job_id, decision,
                               {"handoff": handoff_id, "reason": reason, "part": part})

    async def flag(self, job_id: int, kind: str, step: str | None, at: datetime,
                   detail: dict[str, Any] | None = None, audited: bool = True) -> None:
        self.at(at)
        await self.store.add_flag(job_id, kind, step, detail or {})
        if audited:
            job = await self.store.job(job_id)
            assert job is not None
            await self.store.audit(job.installer_id, job_id, "flag",
                                   {"kind": kind, "step": step})

    async def close(self, job_id: int, status: str, at: datetime,
                    reason: str | None = None) -> None:
        self.at(at)
        await self.store.update_job(job_id, status=status, stop_reason=reason,
                                    closed_at=self.store.now())
        job = await self.store.job(job_id)
        assert job is not None
        await self.store.audit(job.installer_id, job_id, status, {"reason": reason})
        if status == "stopped" and reason:
            await self.store.add_flag(job_id, reason, None, {})


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on a temporary database, in Berlin, with the documented defaults."""
    values: dict[str, Any] = {"database_path": tmp_path / "pinpoint.db",
                              "timezone": "Europe/Berlin", "network_name": "ChargeNet",
                              "stuck_after_minutes": 120, "support_wait_minutes": 60,
                              "reminder_after_minutes": 60}
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[arg-type]


async def open_engine(settings: Settings, clock: Clock) -> Engine:
    """An engine over a fresh store that uses `clock`."""
    store = await Store.open(settings.store_url, clock=clock)
    procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)
    catalog = Catalog.load(DATA_DIR / "catalog.toml", DATA_DIR / "checklists.toml")
    return Engine(store, procedure, catalog, load_texts(settings), settings)


@asynccontextmanager
async def managers_engine(tmp_path: Path, database_url: str) -> AsyncIterator[Engine]:
    """An engine over a fresh store at `database_url`, its clock at Monday 9 March 2026,
    08:00 in Berlin (the seeded week's start); the store closed afterwards."""
    clock = Clock(local("2026-03-09 08:00"))
    engine = await open_engine(make_settings(tmp_path, database_url=database_url), clock)
    try:
        yield engine
    finally:
        await engine.store.close()


ANA, BEN, CARLA, DAN = 1001, 1002, 1003, 1004


async def seed_day(seed: Seeder) -> dict[str, int]:
    """Tuesday 10 March 2026 in Berlin (UTC+1), and a little around it; see test_summary."""
    for user_id, first, last in ((ANA, "Ana", "Alves"), (BEN, "Ben", "Berg"),
                                 (CARLA, "Carla", "Costa"), (DAN, "Dan", "Dietz")):
        await seed.person(user_id, first, last)
    await seed.person(SUPPORT, "Sam", "Support", role="support")
    jobs: dict[str, int] = {}
    d = "2026-03-10"
    # Ana: one verified, one rejected (to fix), one in progress after an old firmware
    jobs["A1"] = await seed.job(ANA, local(f"{d} 08:00"))
    await seed.answer_until(jobs["A1"], None, {
        "before": local(f"{d} 08:10"), "sim": local(f"{d} 08:40"),
        "labels": local(f"{d} 08:50"), "pinpoint": local(f"{d} 09:20"),
        "verify": local(f"{d} 09:25")})
    h = await seed.submit(jobs["A1"], local(f"{d} 09:30"))
    await seed.decide(h, "verified", local(f"{d} 10:00"))
    jobs["A2"] = await seed.job(ANA, local(f"{d} 11:00"), "alpi_hyc300")
    await seed.answer_until(jobs["A2"], None, {p: local(f"{d} 11:30") for p in
                                              ("before", "sim", "labels", "pinpoint", "verify")})
    h = await seed.submit(jobs["A2"], local(f"{d} 12:00"))
    await seed.decide(h, "rejected", local(f"{d} 12:30"), "photo_unclear", "labels")
    jobs["A3"] = await seed.job(ANA, local(f"{d} 14:00"), "alpi_hyc300")
    await seed.flag(jobs["A3"], "firmware_too_old", "firmware", local(f"{d} 14:10"),
                    {"version": "2.1", "minimum": "2.10.1"})
    await seed.store.clear_flags(jobs["A3"], "firmware")  # updated on site: flag cleared
    await seed.answer(jobs["A3"], "documents", True, local(f"{d} 17:30"))
    # Ben: stuck at the serial number since 10:00; one waiting since 16:30 (late)
    jobs["B1"] = await seed.job(BEN, local(f"{d} 09:00"), "abb_terra_184")
    await seed.answer_until(jobs["B1"], "serial", {p: local(f"{d} 10:00") for p in
                                                  ("before", "sim", "labels", "pinpoint")})
    jobs["B2"] = await seed.job(BEN, local(f"{d} 13:00"), "abb_terra_184")
    await seed.flag(jobs["B2"], "checklist_failed", "checklist.signal", local(f"{d} 13:30"),
                    {"item": "signal"}, audited=False)
    h = await seed.submit(jobs["B2"], local(f"{d} 16:30"))
    jobs["B2.handoff"] = h
    # Carla: submitted yesterday, still waiting; a job started yesterday 23:30 and
    # cancelled today at 00:30 (UTC: both on the 9th)
    jobs["C1"] = await seed.job(CARLA, local("2026-03-09 15:00"), "abb_terra_ac")
    jobs["C1.handoff"] = await seed.submit(jobs["C1"], local("2026-03-09 17:00"))
    jobs["C2"] = await seed.job(CARLA, local("2026-03-09 23:30"), "abb_terra_ac")
    await seed.close(jobs["C2"], "cancelled", local(f"{d} 00:30"))
    # Dan: firmware too old, job stopped
    jobs["D1"] = await seed.job(DAN, local(f"{d} 13:40"), "alpi_hyc300")
    await seed.flag(jobs["D1"], "firmware_too_old", "firmware", local(f"{d} 13:50"),
                    {"version": "1.2", "minimum": "2.10.1"})
    await seed.close(jobs["D1"], "stopped", local(f"{d} 14:00"), "firmware_too_old")
    return jobs


async def seed_next_days(seed: Seeder, jobs: dict[str, int]) -> None:
    """What happened after the 10th: decisions, Ben going on, a job just after midnight."""
    await seed.decide(jobs["B2.handoff"], "verified", local("2026-03-11 09:00"))
    await seed.decide(jobs["C1.handoff"], "verified", local("2026-03-11 09:30"))
    await seed.answer(jobs["B1"], "serial", "T184-IT12345-00042", local("2026-03-11 10:00"))
    # 00:15 on the 11th in Berlin is 23:15 on the 10th in UTC
    jobs["C3"] = await seed.job(CARLA, local("2026-03-11 00:15"), "abb_terra_ac")


def hours(h: float) -> timedelta:
    return timedelta(hours=h)


# The running bot with the managers' handlers and jobs ------------------------------------
