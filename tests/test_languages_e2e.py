"""End to end: an installer works in German, support reads English, a managers' chat reads
its own language (French once it ships), and /language switches a person or a chat."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from bot.config import TEXTS_DIR, Settings
from bot.managers.export import column_title
from bot.texts import Texts, shipped_languages
from handlers.schedule import DAILY_SUMMARY
from testkit.emulator import BotApiEmulator, Group, Player

from conftest import ANA_ID, MANAGER_ID, SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot
from flow import ANSWERS, MANUFACTURER, MODEL, Action, current_step, photo, send

DORA_ID = 4242  # an installer whose Telegram speaks German
MANAGERS_GROUP = -1007770002
SHIPPED = shipped_languages(TEXTS_DIR)
# The managers' language: French when it ships, else another non-English language.
MANAGER_LANGUAGE = next((c for c in ("fr", *SHIPPED) if c in SHIPPED and c not in ("en", "de")),
                        "de")
TEXTS = Texts(TEXTS_DIR, shared={"network": "ChargeNet"})
DE, EN, MANAGERS = TEXTS.of("de"), TEXTS.of("en"), TEXTS.of(MANAGER_LANGUAGE)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "installer_ids": [ANA_ID, DORA_ID], "manager_chat_ids": [MANAGERS_GROUP],
        "support_language": "en"})


@pytest.fixture
def group(emu: BotApiEmulator) -> Group:
    return emu.group(MANAGERS_GROUP, "Managers")


@pytest.fixture
def mona(emu: BotApiEmulator, group: Group) -> Player:
    return emu.user(MANAGER_ID, "Mona", "Manager", language_code="en").in_chat(group)


def plain(text: str) -> str:
    """A text as the reader sees it (no tags, entities resolved)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def first_line(texts: Texts, key: str) -> str:
    """The start of a text, before its first placeholder: what a reader sees whatever the
    values."""
    return plain(texts.raw(key).split("{")[0]).strip()


def german_answers() -> dict[str, Action]:
    """A valid answer for every step, pressing the German buttons."""
    def press(key: str) -> Action:
        return lambda p: p.press(DE.get(key))

    async def pick(p: Player) -> None:
        await p.press(MANUFACTURER)
        await p.press(MODEL)

    return {**ANSWERS, "model": pick,
            "documents": press("step.documents.button"), "hardware": press("step.hardware.button"),
            "site_access": press("step.site_access.option.yes"),
            "plate_match": press("step.plate_match.option.yes"),
            "condition": press("step.condition.option.good"),
            "checklist": press("step.checklist.option.yes"),
            "power_off": press("step.power_off.button"), "lockout": press("step.lockout.button"),
            "no_voltage": press("step.no_voltage.button"),
            "sticker_applied": press("step.sticker_applied.button"),
            "branding_label": press("step.branding_label.button"),
            "new_or_replacement": press("step.new_or_replacement.option.new"),
            "model_confirm": press("step.model_confirm.option.yes"),
            "serial_check": press("step.serial_check.option.yes"),
            "building": press("option.skip_rest"), "floor": press("option.skip"),
            "restrictions": press("option.skip"), "access_notes": press("option.skip"),
            "cabinet_closed": press("step.cabinet_closed.button"),
            "display_errors": press("step.display_errors.option.none"),
            "errors_resolved": press("step.errors_resolved.button"),
            "logo_visible": press("step.logo_visible.option.yes"),
            "submit": press("step.submit.button"),
            "photo_before": photo(), "photo_site": photo(1600, 900),
            "lot_name": send("P2 Am Fluss"), "pin": ANSWERS["pin"], "gps": ANSWERS["gps"]}


async def walk_in_german(dora: Player, bot: RunningBot) -> None:
    """Dora answers every question (each asked in German) and submits."""
    table = german_answers()
    step_word = plain(DE.raw("header.progress")).split("}")[1].split("{")[0]  # " · Schritt "
    for _ in range(80):
        step = await current_step(bot, dora)
        if step is None:
            return
        await table[step.split(".")[0]](dora)
        if step == "submit":
            await dora.wait_for_text(first_line(DE, "job.submitted"))
            return
        await dora.wait_for_text(step_word)
    raise AssertionError("the walk did not end")


async def test_german_installer_english_support_and_the_managers_language(
    emu: BotApiEmulator, bot: RunningBot, group: Group, mona: Player,
) -> None:
    # Command menus exist in every shipped language.
    for code in SHIPPED:
        menu = emu.commands[(json.dumps({"type": "default"}), code)]
        assert {c["command"] for c in menu} >= {"new", "language"}
        assert menu[0]["description"] == TEXTS.of(code).get("commands.start")

    # Dora's Telegram speaks German (Austrian): she is registered and guided in German.
    dora = emu.user(DORA_ID, "Dora", "Elektrikerin", language_code="de-AT")
    await dora.send("/start")
    await dora.expect_text("Installateur-ID")
    await dora.send("INS-20001")
    await dora.expect_text(first_line(DE, "registration.approved"))
    await dora.send("/new")
    await dora.expect_text("Auftrag #")
    question = await dora.wait_for_text("Welche Ladestation")
    assert "Schritt 1/" in question.text
    await walk_in_german(dora, bot)

    # Support reads the hand-off in English (SUPPORT_LANGUAGE) and verifies it.
    bob = emu.user(SUPPORT_ID, "Bob", "Support", language_code="de").in_chat(
        emu.group(SUPPORT_CHAT_ID, "ChargeNet support"))
    handoff = await bob.wait_for_text("Job #", "submitted")
    assert "Checklist" in handoff.text and "owner" in handoff.text
    await bob.press(EN.get("support.verify"))
    await dora.wait_for_text(first_line(DE, "support.tell_verified"))  # Dora hears German

    # A manager sets the managers' chat's language; the summary and the CSV follow it.
    await mona.send("/language")
    menu = await mona.expect_text(first_line(EN, "language.prompt_chat"))
    await mona.press(TEXTS.name(MANAGER_LANGUAGE), menu)
    assert menu.text == plain(MANAGERS.get("language.set"))  # the menu, edited
    await bot.run_job(DAILY_SUMMARY)
    summary = await mona.wait_for_text("📊 ChargeNet · ")
    started = first_line(MANAGERS, "summary_report.totals")
    assert started in summary.text and EN.get("summary_report.installers") not in summary.text
    chart = await mona.expect()
    caption_end = plain(MANAGERS.raw("summary_report.chart_caption")).rsplit("}", 1)[1]
    assert chart.photo and (chart.caption or "").endswith(caption_end)
    await mona.send("/export week")
    sent = await mona.expect()
    assert sent.document is not None
    stored = emu.files.get(sent.document["file_id"])
    assert stored is not None
    header = next(csv.reader(io.StringIO(stored.data.decode("utf-8-sig"))))
    assert header[0] == column_title("job", MANAGERS) == MANAGERS.get("export.column.job")
    assert column_title("serial", MANAGERS) in header


async def test_language_switches_a_person_and_only_staff_switch_a_group(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, group: Group,
) -> None:
    await ana.send("/language")
    menu = await ana.expect_text(first_line(EN, "language.prompt"))
    assert menu.inline_keyboard[0][0]["text"] == "✓ English"
    await ana.press("Deutsch", menu)
    assert menu.text == "Gut, ich schreibe ab jetzt auf Deutsch."
    person = await bot.services.store.user(ANA_ID)
    assert person is not None and person.language == "de"
    # her chat's command menu is German now
    scope = json.dumps({"chat_id": ANA_ID, "type": "chat"}, sort_keys=True)
    assert emu.commands[(scope, "")][0]["description"] == DE.get("commands.start")
    await ana.send("/status")
    await ana.expect_text(DE.get("job.none").split(".")[0])
    # a later update with another Telegram language keeps her choice
    emu.users[ANA_ID]["language_code"] = "en"
    emu.users[ANA_ID]["first_name"] = "Anna"
    await ana.send("/status")
    await ana.expect_text(DE.get("job.none").split(".")[0])

    # In a group, only managers and admins set its language.
    stranger = emu.user(5151, "Sven").in_chat(group)
    await stranger.send("/language")
    menu = await stranger.expect_text(first_line(EN, "language.prompt_chat"))
    answer = await stranger.press("Deutsch", menu)
    assert answer is not None and answer.text == EN.get("language.not_allowed")
    assert await bot.services.store.chat_language(MANAGERS_GROUP) is None
