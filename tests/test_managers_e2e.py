"""End to end: the managers' daily summary, /summary, /export, the CLI, and idle reminders."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.managers import cli as summary_cli
from bot.managers.export import column_title
from bot.managers.reports import iso
from handlers.schedule import DAILY_SUMMARY, REMINDERS
from testkit.emulator import BotApiEmulator, Group, Player

from conftest import ANA_ID, MANAGER_ID, RunningBot
from flow import MAC, PASSWORD, current_step, next_prompt, start_job, walk

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL

MANAGERS_GROUP = -1007770001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Summaries go to a manager and to a managers' group."""
    return settings.model_copy(update={"manager_chat_ids": [MANAGER_ID, MANAGERS_GROUP]})


@pytest.fixture
def manager(emu: BotApiEmulator) -> Player:
    return emu.user(MANAGER_ID, "Mona", "Manager", username="mona")


@pytest.fixture
def group(emu: BotApiEmulator, manager: Player) -> Group:
    return emu.group(MANAGERS_GROUP, "Managers", members=[manager])


async def submitted_job(ana: Player, bot: RunningBot) -> int:
    """Ana walks one whole job and submits it; its id."""
    await start_job(ana)
    await walk(ana, bot)
    return (await bot.services.store.jobs_of(ANA_ID))[0].id


def today(bot: RunningBot) -> str:
    return datetime.now(UTC).astimezone(bot.settings.tz).date().isoformat()


async def test_the_daily_job_sends_the_summary_and_chart_to_every_manager_chat(
    bot: RunningBot, ana: Player, manager: Player, group: Group,
    emu: BotApiEmulator,
) -> None:
    job_id = await submitted_job(ana, bot)
    assert bot.app is not None and bot.app.job_queue is not None
    [daily] = bot.app.job_queue.get_jobs_by_name(DAILY_SUMMARY)
    next_run = daily.next_t.astimezone(bot.settings.tz)
    assert (next_run.hour, next_run.minute) == (18, 0)  # SUMMARY_TIME, local

    await bot.run_job(DAILY_SUMMARY)

    for chat in (manager, manager.in_chat(group)):
        text = await chat.expect_text("📊 ChargeNet · ", "Started 1 · submitted 1")
        assert f"#{job_id} Ana Installer · " in text.text  # waiting for support
        assert "Ana Installer: 1 started · 1 submitted · 1 waiting" in text.text
        assert "Alpitronic: Hypercharger HYC300 ×1" in text.text
        assert text.parse_mode == "HTML"
        chart = await chat.expect()
        assert chart.photo and "jobs per installer" in (chart.caption or "")
        stored = emu.files.get(chart.photo[-1]["file_id"])
        assert stored is not None and (stored.original or stored.data)
    trail = await bot.services.store.audit_trail()
    sent = [e for e in trail if e["action"] == "summary_sent"]
    assert sent and sent[-1]["detail"]["chats"] == [MANAGER_ID, MANAGERS_GROUP]


async def test_schedule_jobs_again_replaces_the_jobs(bot: RunningBot) -> None:
    from handlers.schedule import schedule_jobs

    assert bot.app is not None and bot.app.job_queue is not None
    schedule_jobs(bot.app)
    schedule_jobs(bot.app)
    queue = bot.app.job_queue
    live = [j for j in queue.jobs() if j.name in (DAILY_SUMMARY, REMINDERS) and not j.removed]
    assert sorted(j.name for j in live) == [DAILY_SUMMARY, REMINDERS]

    # 18:00 in Berlin whatever the season: 17:00 UTC in winter, 16:00 UTC in summer
    [daily] = [j for j in live if j.name == DAILY_SUMMARY]
    trigger = daily.job.trigger
    berlin = bot.settings.tz
    before = datetime(2026, 3, 28, 19, 0, tzinfo=berlin)
    spring = trigger.get_next_fire_time(None, before)
    assert spring.astimezone(UTC) == datetime(2026, 3, 29, 16, 0, tzinfo=UTC)
    autumn = trigger.get_next_fire_time(None, datetime(2026, 10, 25, 12, 0, tzinfo=berlin))
    assert autumn.astimezone(UTC) == datetime(2026, 10, 25, 17, 0, tzinfo=UTC)


async def test_summary_on_demand_for_managers_only(
    bot: RunningBot, ana: Player, manager: Player, group: Group,
) -> None:
    await manager.send("/start")
    await manager.expect_text("Hello")
    await manager.send("/summary")
    empty = await manager.expect_text("no jobs, nothing waiting")
    assert len(empty.text.splitlines()) == 1
    await manager.send("/summary next tuesday")  # answered in order: no chart came between
    await manager.expect_text("Use /summary")

    await start_job(ana)
    await walk(ana, bot, until="photo_before")
    for words in ("/summary", "/summary week", f"/summary {today(bot)}"):
        await manager.send(words)
        text = await manager.expect_text("Started 1 · submitted 0")
        assert "Ana Installer: 1 started · 1 in progress" in text.text
        assert (await manager.expect()).photo

    in_group = manager.in_chat(group)
    await in_group.send("/summary")
    await in_group.expect_text("Started 1")
    assert (await in_group.expect()).photo

    ana.mark_read()
    await ana.send("/summary")
    await ana.expect_text("Summaries and exports are for managers")
    await ana.send("/export 2026-01-01 2026-01-31")
    await ana.expect_text("for managers")
    await ana.send("/help")  # her next message is about her job, nothing else came first
    await ana.expect_text("Prepare & swap the SIM · step")
    assert await current_step(bot, ana) == "photo_before"  # her job is untouched


async def test_export_sends_a_csv_that_matches_the_database(
    bot: RunningBot, ana: Player, manager: Player, emu: BotApiEmulator,
) -> None:
    job_id = await submitted_job(ana, bot)
    day = today(bot)
    await manager.send(f"/export {day} {day}")
    sent = await manager.expect()
    assert sent.document is not None
    assert sent.document["file_name"] == f"pinpoint-jobs-{day}-{day}.csv"
    assert sent.caption == f"Jobs started from {day} to {day} (Europe/Berlin): 1. " \
                           "Activation passwords are left out."
    record = emu.files.get(sent.document["file_id"])
    assert record is not None
    text = record.data.decode("utf-8-sig")
    assert PASSWORD not in text
    [titled] = list(csv.DictReader(io.StringIO(text)))  # headers in the manager's language
    english = bot.services.texts.of("en")
    row = {column: titled[column_title(column, english)] for column in (
        "job", "status", "installer", "created_at", "submitted_at", "mac", "serial", "model",
        "manufacturer", "offers")}
    assert column_title("password", english) not in titled and "pending" not in titled
    store = bot.services.store
    job = await store.job(job_id)
    answers = await store.answers(job_id)
    assert job is not None
    assert (int(row["job"]), row["status"], row["installer"]) == (job_id, job.status,
                                                                 "Ana Installer")
    assert row["created_at"] == job.created_at.isoformat()
    assert row["submitted_at"] == job.submitted_at.isoformat()
    assert row["mac"] == MAC and row["serial"] == answers["serial"].value
    assert row["model"] == "alpi_hyc300" and row["manufacturer"] == "Alpitronic"
    assert "password" not in row and "pending" not in row
    assert "offers" in row  # a column a later migration added is exported too
    trail = await store.audit_trail()
    assert any(e["action"] == "exported" and e["actor_id"] == MANAGER_ID for e in trail)

    await manager.send("/export 2020-01-01 2020-01-02")
    await manager.expect_text("No jobs were started")
    await manager.send("/export yesterday")
    await manager.expect_text("Use /export FROM TO")


async def test_the_cli_prints_the_figures_the_managers_get(
    bot: RunningBot, ana: Player, manager: Player,
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="firmware")
    await manager.send("/summary")
    message = await manager.expect_text("Started 1")

    out, err = io.StringIO(), io.StringIO()
    code = await summary_cli.amain(["--date", today(bot)], settings=bot.settings, out=out,
                                   err=err)
    assert code == 0 and err.getvalue() == ""
    printed = out.getvalue().strip().splitlines()
    shown = message.text.strip().splitlines()
    # the same lines, but for the moment ("as of 18:03") and the wait that grew meanwhile
    assert printed[0] == shown[0] and printed[2:5] == shown[2:5]
    assert [line.split(" · ")[0] for line in printed] == [line.split(" · ")[0]
                                                         for line in shown]

    out = io.StringIO()
    assert await summary_cli.amain(["--csv", "--date", today(bot)], settings=bot.settings,
                                   out=out) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["status"], r["model"]) for r in rows] == [("open", "alpi_hyc300")]


async def later(bot: RunningBot, job_id: int, minutes: int) -> None:
    """Let `minutes` pass for the job: its activity and reminder times move back."""
    store = bot.services.store
    job = await store.job(job_id)
    assert job is not None
    shift = timedelta(minutes=minutes)
    reminded = job.reminded_at - shift if job.reminded_at else None
    await store._exec("UPDATE jobs SET updated_at = ?, reminded_at = ? WHERE id = ?",
                      (iso(job.updated_at - shift), reminded and iso(reminded), job_id))


async def test_an_idle_job_gets_one_reminder_whose_button_continues_it(
    bot: RunningBot, ana: Player,
) -> None:
    await start_job(ana)
    await walk(ana, bot, until="firmware")
    store = bot.services.store
    job = await store.open_job(ANA_ID)
    assert job is not None

    await bot.run_job(REMINDERS)  # not idle yet
    await later(bot, job.id, 61)
    await bot.run_job(REMINDERS)
    reminder = await ana.expect_text(f"Job #{job.id} is waiting for you at",
                                     "Prepare & swap the SIM", "(firmware)")
    assert reminder.buttons == [[f"▶ Continue job #{job.id}"]]
    await bot.run_job(REMINDERS)
    await later(bot, job.id, 120)  # still idle, much longer
    await bot.run_job(REMINDERS)
    assert ana.unread == []  # one reminder per idle period

    await ana.press(f"Continue job #{job.id}")
    prompt = await next_prompt(ana)
    assert "firmware" in prompt.text.lower()
    await ana.send("2.10.1")
    await next_prompt(ana)
    assert await current_step(bot, ana) == "condition"

    await later(bot, job.id, 90)  # idle again after her answer
    await bot.run_job(REMINDERS)
    await ana.expect_text(f"Job #{job.id} is waiting", "(condition)")
    await bot.run_job(REMINDERS)
    assert ana.unread == []
    trail = await store.audit_trail(job.id)
    assert [e["detail"]["step"] for e in trail if e["action"] == "reminded"] == [
        "firmware", "condition"]
