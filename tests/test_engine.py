"""Unit tests: the engine walks the procedure without Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine.buttons import Choose, JobAction, Say, Special, Verb, decode, encode
from bot.engine.engine import Engine
from bot.engine.interaction import Input, Outcome
from bot.engine.plan import progress_bar
from bot.services import Services

INSTALLER = 1001


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, database_path=tmp_path / "e.db",
                        installer_ids=[INSTALLER])  # type: ignore[call-arg]
    built = await Services.create(settings)
    await built.store.upsert_user(INSTALLER, "Ana")
    await built.store.set_user_status(INSTALLER, "approved", "INS-1")
    await built.store.grant(INSTALLER, "installer", None)
    try:
        yield built
    finally:
        await built.close()


def button(outcome: Outcome, label: str) -> str:
    for reply in [*outcome.replies, *([outcome.edit] if outcome.edit else [])]:
        for row in reply.buttons:
            for b in row:
                if label in b.label and b.data:
                    return b.data
    raise AssertionError(f"no button {label!r} in {outcome}")


async def current(engine: Engine) -> str | None:
    view = await engine.open_view(INSTALLER)
    return view.current.key if view and view.current else None


async def pick(engine: Engine, manufacturer: str, model: str) -> Outcome:
    first = await engine.start_job(INSTALLER, INSTALLER)
    browse = await engine.press(INSTALLER, button(first, manufacturer))
    return await engine.press(INSTALLER, button(browse, model))


def test_progress_bar() -> None:
    assert progress_bar(1 / 8) == "▰▱▱▱▱▱▱▱"
    assert progress_bar(1) == "▰▰▰▰▰▰▰▰"
    assert progress_bar(0) == "▱" * 8


async def test_screen_steps_only_for_models_with_a_screen(services: Services) -> None:
    engine = services.engine
    await pick(engine, "Wallbox", "Pulsar Plus")  # no screen
    view = await engine.open_view(INSTALLER)
    keys = [s.key for s in view.slots]
    assert "logo_visible" not in keys and "screen_mac" not in keys
    assert "checklist.cooling" not in keys
    plain_total = len(keys)

    await engine.press(INSTALLER, encode(JobAction(view.job.id, Verb.CANCEL)))
    await pick(engine, "Alpitronic", "HYC300")  # DC, with a screen
    view = await engine.open_view(INSTALLER)
    keys = [s.key for s in view.slots]
    assert {"logo_visible", "screen_mac", "checklist.cooling"} <= set(keys)
    assert len(keys) == plain_total + 4


async def test_display_errors_add_their_follow_up_steps(services: Services) -> None:
    engine, store = services.engine, services.store
    await pick(engine, "Wallbox", "Pulsar Plus")
    job = await store.open_job(INSTALLER)
    await store.save_answer(job.id, "display_errors", "some", "button")
    view = await engine.view(job)
    keys = [s.key for s in view.slots]
    assert keys.index("errors_text") == keys.index("display_errors") + 1
    assert "errors_resolved" in keys


async def test_changing_the_model_clears_what_depends_on_it(services: Services) -> None:
    engine, store = services.engine, services.store
    await pick(engine, "Alpitronic", "HYC300")
    job = await store.open_job(INSTALLER)
    for step, value in (("documents", True), ("hardware", True), ("site_access", "yes"),
                        ("owner_account", "ORD-1"), ("station_name", "P2")):
        await store.save_answer(job.id, step, value, "typed")
    await store.save_answer(job.id, "photo_before", {"photo": 1, "width": 1, "height": 1},
                            "photo")
    await store.update_job(job.id, cursor=None)
    assert await current(engine) == "plate_match"
    outcome = await engine.press(INSTALLER, encode(Choose(job.id, "plate_match", "no")))
    assert await current(engine) == "model"
    answers = await store.answers(job.id)
    assert "model" not in answers and "documents" not in answers
    assert answers["owner_account"].value == "ORD-1"  # site answers stay
    assert outcome.replies[-1].prompt


async def test_buttons_of_someone_elses_job_do_nothing(services: Services) -> None:
    engine = services.engine
    first = await engine.start_job(INSTALLER, INSTALLER)
    data = button(first, "Alpitronic")
    stranger = await engine.press(4242, data)
    assert stranger.alert == "That button is not for you." and not stranger.replies
    assert (await engine.press(INSTALLER, "a:notanumber")).alert


async def test_typed_answer_is_stored_before_the_next_question(services: Services) -> None:
    engine, store = services.engine, services.store
    await pick(engine, "Alpitronic", "HYC300")
    job = await store.open_job(INSTALLER)
    await engine.press(INSTALLER, encode(Say(job.id, "documents", Special.OK)))
    await engine.press(INSTALLER, encode(Say(job.id, "hardware", Special.OK)))
    await engine.press(INSTALLER, encode(Choose(job.id, "site_access", "yes")))
    outcome = await engine.handle(INSTALLER, Input(text="ORD-77"))
    assert (await store.answers(job.id))["owner_account"].value == "ORD-77"
    assert "owner knows it" in outcome.replies[-1].text


async def test_wrong_kind_names_what_is_expected(services: Services) -> None:
    engine = services.engine
    await engine.start_job(INSTALLER, INSTALLER)
    outcome = await engine.handle(INSTALLER, Input(other="voice"))
    assert outcome.replies[0].text.startswith("Pick the model")


async def test_one_open_job_at_a_time(services: Services) -> None:
    engine = services.engine
    await engine.start_job(INSTALLER, INSTALLER)
    again = await engine.start_job(INSTALLER, INSTALLER)
    assert "still open" in again.replies[0].text
    assert decode(button(again, "Continue job #1")) == JobAction(1, Verb.CONTINUE)
