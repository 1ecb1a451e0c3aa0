"""Render the README's sample summary and chart from seeded demo data.

    python docs/summary_demo.py            # writes docs/summary-chart.png, prints the text

The demo day is Thursday 12 March 2026 in Berlin, as of 18:00: five installers, thirteen
jobs in every state. The data goes into a temporary database through the store's own
repositories, so the figures are computed exactly as the bot computes them.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.engine.engine import Engine  # noqa: E402
from bot.managers.periods import Period  # noqa: E402
from bot.managers.render import chart_png, render_text, to_plain  # noqa: E402
from bot.services import Services  # noqa: E402

DAY = "2026-03-12"
SUPPORT = 900
PARTS = ("before", "sim", "labels", "pinpoint", "verify")


class Demo:
    """Writes jobs at chosen local times (the store's clock is moved along)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.store = engine.store
        self.tz = settings.tz
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def clock(self) -> datetime:
        return self.now

    def at(self, hhmm: str, day: str = DAY) -> datetime:
        self.now = datetime.fromisoformat(f"{day} {hhmm}").replace(tzinfo=self.tz)
        return self.now

    async def job(self, installer: int, start: str, model: str, parts: list[str],
                  stop_before: str | None = None, day: str = DAY) -> int:
        """A job started at `start`, each part's answers at the next time in `parts`."""
        self.at(start, day)
        job = await self.store.create_job(installer, installer, None)
        await self.answer(job.id, installer, "model", model)
        times = dict(zip(PARTS, parts, strict=False))
        while True:
            stored = await self.store.job(job.id)
            assert stored is not None
            slot = (await self.engine.view(stored)).current
            if slot is None or slot.key == stop_before or slot.step.kind == "submit":
                return job.id
            if slot.step.part not in times:
                return job.id
            self.at(times[slot.step.part], day)
            value: Any = "yes" if slot.step.kind == "checklist" else True
            if slot.step.kind == "choice" and slot.step.options:
                value = slot.step.options[0].id
            elif slot.step.kind in ("text", "photo", "location"):
                value = {"firmware": "2.10.1"}.get(slot.key, "demo")
            await self.answer(job.id, installer, slot.key, value)

    async def answer(self, job_id: int, installer: int, key: str, value: Any) -> None:
        await self.store.save_answer(job_id, key, value, "button")
        await self.store.audit(installer, job_id, "answer", {"step": key})
        await self.store.update_job(job_id, cursor=None)

    async def submit(self, job_id: int, installer: int, hhmm: str, day: str = DAY) -> int:
        self.at(hhmm, day)
        await self.store.save_answer(job_id, "submit", True, "button")
        await self.store.update_job(job_id, status="submitted", submitted_at=self.store.now())
        await self.store.audit(installer, job_id, "submitted", {})
        return (await self.store.add_handoff(job_id, None)).id

    async def decide(self, handoff: int, job_id: int, hhmm: str, reason: str | None = None,
                     part: str | None = None) -> None:
        self.at(hhmm)
        decision = "rejected" if reason else "verified"
        await self.store.decide_handoff(handoff, decision, SUPPORT, reason, part)
        if reason:
            await self.store.update_job(job_id, status="rejected", reopened_part=part)
        else:
            await self.store.update_job(job_id, status="verified", closed_at=self.store.now())

    async def flag(self, job_id: int, kind: str, step: str, hhmm: str, **detail: str) -> None:
        self.at(hhmm)
        await self.store.add_flag(job_id, kind, step, detail)

    async def close(self, job_id: int, status: str, hhmm: str, reason: str | None = None) -> None:
        self.at(hhmm)
        await self.store.update_job(job_id, status=status, stop_reason=reason,
                                    closed_at=self.store.now())
        if reason:
            await self.store.add_flag(job_id, reason, None, {})


async def seed(demo: Demo) -> None:
    """Thursday's work."""
    store = demo.store
    people = [(101, "Ana", "Alves"), (102, "Ben", "Berg"), (103, "Carla", "Costa"),
              (104, "Dev", "Patel"), (105, "Emma", "Eriksen")]
    for user_id, first, last in people:
        await store.upsert_user(user_id, first, last)
        await store.grant(user_id, "installer", None)
    await store.upsert_user(SUPPORT, "Sam", "Support")
    # Ana: three stations on one site, two verified, one rejected
    a1 = await demo.job(101, "07:40", "alpi_hyc300", ["07:55", "08:30", "08:38", "09:05",
                                                        "09:12"])
    await demo.decide(await demo.submit(a1, 101, "09:15"), a1, "09:50")
    a2 = await demo.job(101, "09:20", "alpi_hyc300", ["09:24", "09:58", "10:05", "10:31",
                                                        "10:36"])
    await demo.decide(await demo.submit(a2, 101, "10:40"), a2, "11:20")
    a3 = await demo.job(101, "10:45", "alpi_hyc150", ["10:49", "11:30", "11:37", "12:10",
                                                        "12:16"])
    await demo.decide(await demo.submit(a3, 101, "12:20"), a3, "13:05", "photo_unclear",
                      "pinpoint")
    # Ben: one verified, one stuck at the serial number since the morning
    b1 = await demo.job(102, "08:10", "abb_terra_184", ["08:20", "09:10", "09:18", "09:55",
                                                          "10:02"])
    await demo.decide(await demo.submit(b1, 102, "10:05"), b1, "10:40")
    await demo.flag(b1, "checklist_failed", "checklist.signal", "08:50", item="signal")
    await demo.job(102, "11:00", "abb_terra_184", ["11:10", "12:05", "12:12", "12:40"],
                   stop_before="serial")
    # Carla: wallboxes in a car park, one waiting for support since the afternoon
    c1 = await demo.job(103, "09:00", "wb_pulsar_plus", ["09:05", "09:32", "09:38", "09:58",
                                                           "10:03"])
    await demo.decide(await demo.submit(c1, 103, "10:05"), c1, "10:30")
    c2 = await demo.job(103, "10:10", "wb_pulsar_plus", ["10:12", "10:36", "10:41", "11:02",
                                                           "11:06"])
    await demo.decide(await demo.submit(c2, 103, "11:08"), c2, "11:45")
    c3 = await demo.job(103, "14:20", "wb_commander2", ["14:25", "15:02", "15:08", "15:40",
                                                          "15:44"])
    await demo.submit(c3, 103, "15:45")
    # Dev: firmware too old on a Zaptec, stopped; a KEBA in progress
    d1 = await demo.job(104, "08:30", "zaptec_pro", ["08:35"])
    await demo.flag(d1, "firmware_too_old", "firmware", "08:52", version="1.4.2",
                    minimum="2.3.0")
    await demo.close(d1, "stopped", "08:55", "firmware_too_old")
    d2 = await demo.job(104, "13:30", "keba_p40", ["13:36", "14:30", "14:35", "17:05"],
                        stop_before="photo_site")
    del d2
    # Emma: a DC charger verified, one waiting since noon, one cancelled
    e1 = await demo.job(105, "07:30", "kemp_satellite", ["07:45", "08:40", "08:47", "09:30",
                                                           "09:38"])
    await demo.decide(await demo.submit(e1, 105, "09:40"), e1, "10:15")
    e2 = await demo.job(105, "10:30", "tritium_pkm150", ["10:40", "11:25", "11:31", "11:58",
                                                           "12:04"])
    await demo.submit(e2, 105, "12:05")
    e3 = await demo.job(105, "12:40", "easee_charge", ["12:44"])
    await demo.close(e3, "cancelled", "12:50")


async def main(out: Path = ROOT / "docs" / "summary-chart.png") -> str:
    """Seed, compute, write the chart; return the summary's text."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_path=Path(tmp) / "demo.db",  # type: ignore[call-arg]
                            timezone="Europe/Berlin", network_name="ChargeNet")
        demo_clock: list[Demo] = []
        services = await Services.create(settings, lambda: demo_clock[0].clock(),
                                         sync_roles=False)
        demo = Demo(services.engine, settings)
        demo_clock.append(demo)
        await seed(demo)
        now = demo.at("18:00")
        period = Period.day(date.fromisoformat(DAY), settings.tz)
        summary = await services.summaries.compute(period, now)
        png = chart_png(summary, services.texts)
        assert png is not None
        out.write_bytes(png)
        text = render_text(summary, services.texts)
        await services.close()
    return text


if __name__ == "__main__":
    print(to_plain(asyncio.run(main())))
