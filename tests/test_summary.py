"""Unit tests: the managers' summary computed from a seeded database, its text, chart, CSV.

The seeded day is Tuesday 10 March 2026 in Berlin (UTC+1); see `managers_fixtures.seed_day`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from managers_fixtures import (
    ANA,
    BEN,
    BERLIN,
    CARLA,
    DAN,
    Seeder,
    hours,
    local,
    make_settings,
    managers_engine,
    seed_day,
    seed_next_days,
)
from PIL import Image

from bot.config import TEXTS_DIR
from bot.engine.engine import Engine
from bot.managers.periods import Period, parse_period, parse_range
from bot.managers.render import chart_png, render_text, to_plain, utf16_len
from bot.managers.summary import InstallerLine, Summaries, Summary
from bot.managers.where import Where
from bot.texts import Texts
from testkit.emulator import parse_html

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL

Seeded = tuple[Engine, Seeder, dict[str, int]]
TUESDAY = date(2026, 3, 10)
EVENING = local("2026-03-10 18:00")


@pytest.fixture
async def engine(tmp_path: Path, database_url: str) -> AsyncIterator[Engine]:
    async with managers_engine(tmp_path, database_url) as engine:
        yield engine


@pytest.fixture
async def seeded(engine: Engine) -> Seeded:
    seed = Seeder(engine, engine.store.clock)  # type: ignore[arg-type]
    jobs = await seed_day(seed)
    return engine, seed, jobs


def summaries(engine: Engine) -> Summaries:
    """The summaries over the seeded engine's store, procedure, catalog and settings."""
    return Summaries(engine.store, engine.records, engine.settings)


def installer(summary: Summary, user_id: int) -> InstallerLine:
    return next(p for p in summary.installers if p.user_id == user_id)


async def test_a_day_counts_what_happened_in_the_managers_time_zone(seeded: Seeded) -> None:
    engine, _, jobs = seeded
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)

    assert summary.live and summary.as_of == EVENING
    # C2 was started at 23:30 on the 9th (local) and cancelled at 00:30 on the 10th
    assert (summary.started, summary.submitted, summary.verified) == (6, 3, 1)
    assert summary.cancelled == 1
    assert [s.job for s in summary.stopped] == [jobs["D1"]]
    assert summary.stopped[0].reason == "firmware_too_old"
    [rejection] = summary.rejections
    assert (rejection.job, rejection.reason, rejection.redo_part, rejection.by) == (
        jobs["A2"], "photo_unclear", "labels", "Sam Support")

    # waiting for support now: Carla's since yesterday 17:00, Ben's since 16:30 (late)
    assert [(w.job, w.waited) for w in summary.waiting] == [
        (jobs["C1"], hours(25)), (jobs["B2"], hours(1.5))]
    assert all(w.late for w in summary.waiting)
    [stuck] = summary.stuck
    assert (stuck.job, stuck.idle) == (jobs["B1"], hours(8))
    assert stuck.where is not None and (stuck.where.part, stuck.where.key) == ("pinpoint",
                                                                               "serial")

    ana, ben = installer(summary, ANA), installer(summary, BEN)
    assert (ana.started, ana.submitted, ana.verified, ana.rejected) == (3, 2, 1, 1)
    assert dict(ana.states) == {"verified": 1, "to_fix": 1, "in_progress": 1}
    assert (ben.started, ben.submitted) == (2, 1)
    assert dict(ben.states) == {"stuck": 1, "waiting": 1}
    carla, dan = installer(summary, CARLA), installer(summary, DAN)
    assert (carla.started, carla.cancelled, dict(carla.states)) == (
        0, 1, {"waiting": 1, "cancelled": 1})
    assert (dan.started, dan.stopped) == (1, 1)


async def test_durations_per_job_and_per_part(seeded: Seeded) -> None:
    engine, _, jobs = seeded
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    # first submitted today: A1 in 1 h 30, A2 in 1 h, B2 in 3 h 30
    assert summary.per_job.count == 3
    assert summary.per_job.median == hours(1.5)
    assert (summary.per_job.longest, summary.per_job.longest_job) == (hours(3.5), jobs["B2"])
    minutes = {part: spread.median for part, spread in summary.per_part.items()}
    # A1: before 08:00→08:10, sim →08:40, labels →08:50, pinpoint →09:20, verify →09:30
    # A2: the model at 11:00, the rest at 11:30, submitted 12:00; B2: the model at 13:00,
    # then nothing until its submission at 16:30
    assert list(minutes) == ["before", "sim", "labels", "pinpoint", "verify"]
    assert summary.per_part["before"].count == 3
    assert summary.per_part["before"].median == timedelta(minutes=10)  # 0, 10 and 30 min
    assert summary.per_part["before"].longest_job == jobs["A2"]
    assert summary.per_part["verify"].longest == hours(3.5)  # B2 went straight to submit
    assert summary.per_part["sim"].longest == timedelta(minutes=30)


async def test_stations_and_failures(seeded: Seeded) -> None:
    engine, _, jobs = seeded
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    assert summary.stations == [
        ("Alpitronic", [("Hypercharger HYC300", 4)]),
        ("ABB", [("Terra 184", 2), ("Terra AC W22-T-RD-M-0", 1)]),
    ]
    failures = {(f.job, f.kind): f for f in summary.failures}
    # A3's firmware was updated on site: its cleared flag leaves no failure behind
    assert set(failures) == {(jobs["B2"], "checklist_failed"), (jobs["D1"], "firmware_too_old")}
    assert (failures[jobs["D1"], "firmware_too_old"].version,
            failures[jobs["D1"], "firmware_too_old"].minimum) == ("1.2", "2.10.1")
    assert failures[jobs["B2"], "checklist_failed"].items == ("signal",)


async def test_a_past_day_shows_what_waited_and_stuck_at_its_end(seeded: Seeded) -> None:
    engine, seed, jobs = seeded
    await seed_next_days(seed, jobs)
    later = local("2026-03-12 12:00")

    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), later)
    assert not summary.live and summary.as_of == local("2026-03-11 00:00")
    assert (summary.started, summary.submitted, summary.verified) == (6, 3, 1)
    assert [(w.job, w.waited) for w in summary.waiting] == [
        (jobs["C1"], hours(31)), (jobs["B2"], hours(7.5))]
    # B1 (answered at 10:00) and A3 (at 17:30) were stuck when the day ended
    assert [(s.job, s.idle) for s in summary.stuck] == [(jobs["B1"], hours(14)),
                                                        (jobs["A3"], hours(6.5))]
    b1 = summary.stuck[0].where
    assert b1 is not None and b1.key == "serial"  # although it was answered on the 11th

    wednesday = await summaries(engine).compute(Period.day(date(2026, 3, 11), BERLIN), later)
    assert wednesday.as_of == local("2026-03-12 00:00")
    assert wednesday.started == 1  # C3 at 00:15 local, still the 10th in UTC
    assert wednesday.verified == 2 and not wednesday.waiting
    stuck = {s.job: s for s in wednesday.stuck}
    assert stuck[jobs["B1"]].idle == hours(14)  # its serial at 10:00, then nothing
    assert stuck[jobs["B1"]].where is not None
    assert stuck[jobs["B1"]].where.key == "serial_check"


async def test_a_stuck_job_waits_where_the_engine_last_asked(seeded: Seeded) -> None:
    """An open job unchanged since the report's moment waits on the question the engine last
    sent (`jobs.asked`, its answers not read); the plan tells when that names no step, or
    when the job changed after the moment."""
    engine, seed, jobs = seeded
    tuesday = Period.day(TUESDAY, BERLIN)
    seed.at(local("2026-03-10 10:00"))
    for asked, key in (("serial", "serial"), ("caution:serial", "serial"), ("*", "serial"),
                       ("gone", "serial"), ("checklist.signal", "checklist.signal")):
        await engine.store.update_job(jobs["B1"], asked=asked)
        [stuck] = (await summaries(engine).compute(tuesday, EVENING)).stuck
        assert stuck.where is not None and stuck.where.key == key, asked
    assert stuck.where == Where(engine.procedure.step("checklist").part, "checklist.signal",
                                "checklist", "signal")

    seed.at(local("2026-03-11 09:00"))  # changed after the 10th: its answers until then
    await engine.store.update_job(jobs["B1"], asked="checklist.signal")
    [stuck] = (await summaries(engine).compute(tuesday, local("2026-03-12 12:00"))).stuck[:1]
    assert stuck.job == jobs["B1"] and stuck.where is not None and stuck.where.key == "serial"


async def test_a_week_adds_the_days_up(seeded: Seeded) -> None:
    engine, seed, jobs = seeded
    await seed_next_days(seed, jobs)
    week = await summaries(engine).compute(Period.week(date(2026, 3, 12), BERLIN),
                         local("2026-03-12 12:00"))
    assert week.period.label == "6–12 Mar 2026"
    # the 10th's six, C1 and C2 on the 9th, C3 on the 11th
    assert (week.started, week.submitted, week.verified) == (9, 4, 3)
    assert {s.job for s in week.stuck} == {jobs["A3"], jobs["B1"], jobs["C3"]}


@pytest.mark.parametrize(("day", "length"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
def test_a_day_with_a_daylight_saving_change_has_its_real_length(day: date, length: int) -> None:
    period = Period.day(day, BERLIN)
    assert period.end - period.start == hours(length)
    assert period.start.astimezone(BERLIN).hour == 0


async def test_daylight_saving_day_boundaries_and_durations(engine: Engine) -> None:
    seed = Seeder(engine, engine.store.clock)  # type: ignore[arg-type]
    await seed.person(ANA, "Ana", "Alves")
    # 29 March 2026: clocks go from 02:00 to 03:00 in Berlin
    inside = await seed.job(ANA, local("2026-03-29 01:30"), "alpi_hyc300")
    await seed.submit(inside, local("2026-03-29 03:30"))  # one real hour later
    late = await seed.job(ANA, local("2026-03-29 23:30"), "alpi_hyc300")  # 21:30 UTC
    after = await seed.job(ANA, local("2026-03-30 00:10"), "alpi_hyc300")  # 22:10 UTC 29th
    summary = await summaries(engine).compute(Period.day(date(2026, 3, 29), BERLIN),
                            local("2026-03-31 12:00"))
    assert summary.started == 2
    assert summary.per_job.median == hours(1) and summary.per_job.longest_job == inside
    assert summary.stuck == []  # `late` had been idle for 30 minutes when the day ended
    monday = await summaries(engine).compute(Period.day(date(2026, 3, 30), BERLIN),
                           local("2026-03-31 12:00"))
    assert monday.started == 1
    assert [(s.job, s.idle) for s in monday.stuck] == [(late, hours(24.5)),
                                                       (after, hours(23 + 5 / 6))]


async def test_an_empty_day_is_one_line(engine: Engine) -> None:
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    assert summary.empty
    text = render_text(summary, engine.texts)
    assert text == "📊 ChargeNet · Tue 10 Mar 2026: no jobs, nothing waiting."
    assert chart_png(summary, engine.texts) is None


async def test_the_text_is_short_valid_html_with_the_figures(seeded: Seeded) -> None:
    engine, _, jobs = seeded
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    text = render_text(summary, engine.texts)
    parse_html(text)  # raises on bad Telegram HTML
    plain = to_plain(text)
    assert utf16_len(text) <= 4096 and len(plain.splitlines()) < 45
    lines = plain.splitlines()
    assert lines[0] == "📊 ChargeNet · Tue 10 Mar 2026"
    assert lines[1] == "as of 18:00 (Europe/Berlin)"
    assert "Started 6 · submitted 3 · verified 1 · rejected 1" in lines
    assert "Cancelled 1 · stopped 1" in lines
    assert "⏳ Waiting for support: 2 · longest 25 h" in lines
    assert f"#{jobs['B2']} Ben Berg · 1 h 30 min ⚠️" in lines
    assert "🧊 Stuck: 1 · no answer for 2 h+" in lines
    assert f"#{jobs['B1']} Ben Berg · Locate the station › serial number · 8 h" in lines
    assert any(line.startswith(f"#{jobs['A2']} Ana Alves · ") and "→ redo Labels" in line
               for line in lines)
    assert "Ana Alves: 3 started · 2 submitted · 1 verified · 1 rejected · 1 to fix · " \
           "1 in progress" in lines
    assert f"⏱ Time per job (3 submitted): median 1 h 30 min · longest 3 h 30 min " \
           f"(#{jobs['B2']})" in lines
    assert "Prepare & swap the SIM: 15 min (longest 30 min)" in lines
    assert "Alpitronic: Hypercharger HYC300 ×4" in lines
    assert f"#{jobs['D1']} Dan Dietz · firmware 1.2 below 2.10.1" in lines
    assert f"#{jobs['B2']} Ben Berg · checklist: Mobile signal at the station: at least 2 bars" \
        in lines


async def test_a_long_summary_is_cut_at_whole_lines(seeded: Seeded) -> None:
    engine, _, _ = seeded
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    text = render_text(summary, engine.texts, limit=500)
    assert utf16_len(text) <= 500
    assert text.endswith("… (shortened: /export has every job)")
    parse_html(text)


async def test_names_are_escaped(engine: Engine) -> None:
    seed = Seeder(engine, engine.store.clock)  # type: ignore[arg-type]
    await seed.person(ANA, "<b>Ana</b> & $Co", None)
    await seed.job(ANA, local("2026-03-10 09:00"), "alpi_hyc300")
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    text = render_text(summary, engine.texts)
    assert "&lt;b&gt;Ana&lt;/b&gt; &amp; $Co" in text
    parse_html(text)
    assert chart_png(summary, engine.texts)  # `$` is not taken for mathtext


async def test_the_chart_is_a_png_sized_for_a_phone(seeded: Seeded) -> None:
    engine, _, _ = seeded
    summary = await summaries(engine).compute(Period.day(TUESDAY, BERLIN), EVENING)
    png = chart_png(summary, engine.texts)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    width, height = image.size
    assert 1000 <= width <= 1280 and 600 <= height <= 2560
    assert len(png) < 400_000


def test_duration_texts() -> None:
    duration_text = Texts(TEXTS_DIR).duration
    assert [duration_text(timedelta(seconds=s)) for s in (20, 600, 3900, 7200, 200_000)] == [
        "<1 min", "10 min", "1 h 05 min", "2 h", "2 d 7 h"]
    assert duration_text(None) == "—"


def test_periods_from_command_words() -> None:
    today = date(2026, 3, 10)
    assert parse_period([], today, BERLIN) == Period.day(today, BERLIN)
    assert parse_period(["week"], today, BERLIN) == Period(date(2026, 3, 4), today, BERLIN)
    assert parse_period(["2026-03-01"], today, BERLIN) == Period.day(date(2026, 3, 1), BERLIN)
    assert parse_period(["yesterday"], today, BERLIN) == Period.day(date(2026, 3, 9), BERLIN)
    for bad in (["2026-03-11"], ["tomorrow"], ["2026-02-30"], ["1", "2"], ["10.3.2026"]):
        assert parse_period(bad, today, BERLIN) is None, bad
    assert parse_range(["2026-03-31", "2026-03-01"], today, BERLIN) == Period(
        date(2026, 3, 1), date(2026, 3, 31), BERLIN)
    assert parse_range(["2025-01-01", "2026-03-01"], today, BERLIN) is None  # over a year
    assert parse_range([], today, BERLIN) is None


async def test_the_csv_has_every_job_field_but_the_password(seeded: Seeded) -> None:
    engine, seed, jobs = seeded
    await seed.answer(jobs["A1"], "password", "ABCD7K", local("2026-03-10 09:21"), "typed")
    await seed.answer(jobs["A1"], "station_name", "=HYPERLINK(\"x\")", local("2026-03-10 09:22"),
                      "typed")
    out = io.StringIO()
    count = await summaries(engine).export_csv(Period.day(TUESDAY, BERLIN), out)
    text = out.getvalue()
    assert "ABCD7K" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == len(rows) == 6  # created on the 10th, local time
    assert "password" not in rows[0]
    by_id = {int(r["job"]): r for r in rows}
    assert set(by_id) == {jobs[k] for k in ("A1", "A2", "A3", "B1", "B2", "D1")}
    for job_id, row in by_id.items():
        job = await engine.store.job(job_id)
        assert job is not None
        assert row["status"] == job.status
        assert row["created_at"] == job.created_at.isoformat()
        assert row["created_local"] == job.created_at.astimezone(BERLIN).strftime(
            "%Y-%m-%d %H:%M")
        assert row["installer_user_id"] == str(job.installer_id)
        answers = await engine.store.answers(job_id)
        for key, answer in answers.items():
            if key == "password":
                continue
            value = answer.value
            expected = {True: "true", False: "false"}.get(value, value) \
                if isinstance(value, bool) else value
            if key == "station_name" and job_id == jobs["A1"]:
                expected = "'" + value  # a formula is defused for spreadsheets
            assert row[key] == expected, (job_id, key)
    a2 = by_id[jobs["A2"]]
    assert (a2["decision"], a2["reason"], a2["redo_part"], a2["decided_by"]) == (
        "rejected", "photo_unclear", "labels", "Sam Support")
    assert (a2["manufacturer"], a2["model_name"]) == ("Alpitronic", "Hypercharger HYC300")
    assert by_id[jobs["D1"]]["flags"] == "firmware_too_old@firmware; firmware_too_old"
    assert by_id[jobs["D1"]]["stop_reason"] == "firmware_too_old"


async def test_the_csv_has_a_header_even_when_empty(engine: Engine) -> None:
    out = io.StringIO()
    assert await summaries(engine).export_csv(Period.day(TUESDAY, BERLIN), out) == 0
    text = out.getvalue()
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["job", "visit", "installer_user_id"] and "password" not in header


async def test_the_chart_keeps_to_twenty_bars(engine: Engine) -> None:
    summary = Summary(Period.day(TUESDAY, BERLIN), EVENING, EVENING,
                      hours(2), engine.procedure.parts)
    for n in range(30):
        person = InstallerLine(n + 1, f"Installer {n:02d}", started=1)
        person.states["in_progress"] = 1 + n % 3
        summary.installers.append(person)
    png = chart_png(summary, engine.texts)
    assert png is not None
    width, height = Image.open(io.BytesIO(png)).size
    assert height <= 2 * width  # 19 installers and "11 others", not 30 bars


async def test_python_m_bot_summary_reads_the_settings_and_prints(seeded: Seeded,
                                                                   tmp_path: Path) -> None:
    engine, _, _ = seeded
    expected = to_plain(render_text(
        await summaries(engine).compute(Period.day(TUESDAY, BERLIN), local("2026-03-12 12:00")),
        engine.texts))
    env = {**os.environ, "DATABASE_URL": engine.settings.store_url,
           "TIMEZONE": "Europe/Berlin", "NETWORK_NAME": "ChargeNet"}
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.managers.cli", "--date", "2026-03-10", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    assert out.decode().strip() == expected  # a past day: the same at any later moment
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.managers.cli", "--csv", "--from", "2026-03-09", "--to",
        "2026-03-10", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await done.communicate()
    assert len(list(csv.DictReader(io.StringIO(out.decode())))) == 8


async def test_the_cli_does_not_create_a_database(tmp_path: Path) -> None:
    from bot.managers.cli import amain

    out, err = io.StringIO(), io.StringIO()
    settings = make_settings(tmp_path / "nowhere")
    assert await amain([], settings=settings, out=out, err=err) == 2
    assert "no database at" in err.getvalue() and not (tmp_path / "nowhere").exists()
