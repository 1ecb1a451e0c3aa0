"""End to end: the hand-off to support, decisions, paging and the record's delivery."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Settings
from bot.logs import quiet_libraries
from testkit.emulator import BotApiEmulator, Group, Player
from testkit.fakes.geocoder import FakeNominatim
from testkit.fakes.webhook import FakeWebhook

from conftest import SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot, make_settings
from flow import PASSWORD, current_step, next_prompt, start_job, walk, walk_fix

pytestmark = pytest.mark.both_stores  # on SQLite and on PostgreSQL

ROUTING_KEY = "R0UTING-KEY-0123456789abcdef"
RECORD_TOKEN = "record-bearer-token-9876543210"
CAROL_ID = 9101  # a second supporter
SAM_ID = 7777  # in the support group, but not support staff


@pytest.fixture
def settings(tmp_path: Path, emu: BotApiEmulator, hooks: FakeWebhook,
             nominatim: FakeNominatim) -> Settings:
    return make_settings(
        tmp_path, emu, nominatim.url,
        support_ids=[SUPPORT_ID, CAROL_ID],
        paging_webhooks=[f"generic:{hooks.url('/generic')}", f"slack:{hooks.url('/slack')}",
                         f"pagerduty:{hooks.url('/pagerduty')}"],
        pagerduty_routing_key=ROUTING_KEY,
        record_endpoint=hooks.url("/record"),
        record_token=RECORD_TOKEN,
        outbox_retry_base_s=0.05,
        http_timeout_s=0.5,
        support_wait_minutes=0,
    )


@pytest.fixture
def group(emu: BotApiEmulator) -> Group:
    return emu.group(SUPPORT_CHAT_ID, "ChargeNet support")


@pytest.fixture
def bob(emu: BotApiEmulator, group: Group) -> Player:
    return emu.user(SUPPORT_ID, "Bob", "Support").in_chat(group)


@pytest.fixture
def carol(emu: BotApiEmulator, group: Group) -> Player:
    return emu.user(CAROL_ID, "Carol", "Support").in_chat(group)


@pytest.fixture
def sam(emu: BotApiEmulator, group: Group) -> Player:
    return emu.user(SAM_ID, "Sam").in_chat(group)


async def submit_job(ana: Player, bot: RunningBot, bob: Player,
                     answers: dict | None = None) -> object:
    """Walk a whole job; return the hand-off message (the one with Verify/Reject) once the
    album and the pin have been posted too."""
    since = len(bob.emu.calls)
    await start_job(ana)
    await walk(ana, bot, answers=answers)
    handoff = await bob.wait_for_text("Job #", "submitted")
    await bob.emu.wait_for_call("sendVenue", since=since)
    return handoff


async def test_hand_off_carries_everything_and_verify_tells_the_installer(
    emu: BotApiEmulator, bot: RunningBot, ana: Player, bob: Player, hooks: FakeWebhook
) -> None:
    await submit_job(ana, bot, bob)
    handoff = bob.messages[0]
    for fact in ("Job #1", "ChargeNet", "Ana Installer", "INS-10234", "Alpitronic",
                 "HYC300-23041187", "0024:B100:0002:1A2B", "••••7K", "8944500102198304826",
                 "2.10.1", "Invalidenstraße 113", "geocoded", "pin↔GPS", "Checklist 7/7 OK",
                 "power off", "LOTO", "Display errors: none", "P2 Riverside"):
        assert fact in handoff.text, fact
    assert PASSWORD not in handoff.text
    assert handoff.buttons == [["✅ Verify", "❌ Reject"]]
    assert "tg://user?id=1001" in (handoff.html or "")
    album = [m for m in bob.messages if m.media_group_id]
    assert len(album) == 2 and all(m.photo for m in album)
    venue = next(m for m in bob.messages if m.venue)
    assert venue.venue["title"] == "Job #1: pin"

    answer = await bob.press("Verify", message=handoff)
    assert answer is not None and not answer.text
    await ana.wait_for_text("Job #1 is verified")
    decided = next(m for m in bob.messages if m.message_id == handoff.message_id)
    assert "Verified by Bob Support at" in decided.text and not decided.buttons
    job = await bot.services.store.job(1)
    assert job.status == "verified"

    pages = await hooks.wait_for(1, "/pagerduty")
    await hooks.wait_for(2, "/pagerduty")
    pd = [r.body for r in hooks.delivered("/pagerduty")]
    assert [p["event_action"] for p in pd] == ["trigger", "resolve"]
    assert all(p["dedup_key"] == "1" and p["routing_key"] == ROUTING_KEY for p in pd)
    assert pd[0]["payload"]["severity"] == "info" and pages
    slack = (await hooks.wait_for(1, "/slack"))[0].body
    assert "job #1 submitted for verification" in slack["text"] and slack["blocks"]
    generic = (await hooks.wait_for(1, "/generic"))[0].body
    assert generic["event"] == "job_submitted" and generic["serial"] == "HYC300-23041187"
    record = (await hooks.wait_for(1, "/record"))[0]
    assert record.headers["Authorization"] == f"Bearer {RECORD_TOKEN}"
    assert record.headers["Idempotency-Key"] == "1"
    assert record.body["station"]["activation_password"] == PASSWORD
    for delivery in hooks.received:
        if delivery.path != "/record":
            assert PASSWORD not in json.dumps(delivery.body)
            assert RECORD_TOKEN not in json.dumps(delivery.body)
    stored = json.dumps([d.payload for d in await bot.services.store.deliveries()])
    assert ROUTING_KEY not in stored and RECORD_TOKEN not in stored


async def test_reject_reopens_the_named_part_and_resubmission_links_back(
    bot: RunningBot, ana: Player, bob: Player
) -> None:
    handoff = await submit_job(ana, bot, bob)
    await bob.press("Reject", message=handoff)
    reasons = next(m for m in bob.messages if m.message_id == handoff.message_id)
    assert ["Address or pin wrong"] in reasons.buttons
    await bob.press("Address or pin wrong", message=reasons)
    await bob.press("Part: Locate the station", message=reasons)  # the whole part, too
    await bob.press("Send", message=reasons)
    notice = await ana.wait_for_text("Job #1 needs a fix", "Address or pin wrong",
                                     "Address, Pin, Locate the station")
    assert notice.buttons == [["🔧 Fix job #1 now"]]
    decided = next(m for m in bob.messages if m.message_id == handoff.message_id)
    assert "Rejected by Bob Support" in decided.text and not decided.buttons
    assert (await bot.services.store.job(1)).status == "rejected"

    await ana.send("/jobs")
    await ana.expect_text("#1 · rejected")
    await ana.press("Fix job #1 now", message=notice)
    await ana.wait_for_text("redo Address, Pin, Locate the station")
    prompt = await next_prompt(ana)
    assert await current_step(bot, ana) == "mac"
    assert ["Keep: 0024:B100:0002:1A2B"] in prompt.buttons  # earlier answers: one tap
    answers = await bot.services.store.answers(1)
    assert "serial" in answers and "iccid" in answers and "submit" not in answers
    await walk_fix(ana, bot)

    second = await bob.wait_for_text("Resubmission", "was rejected: Address or pin wrong")
    assert second.reply_to_message_id == handoff.message_id
    handoffs = [await bot.services.store.handoff(i) for i in (1, 2)]
    assert handoffs[1].previous_id == 1 and handoffs[0].decision == "rejected"
    assert handoffs[0].redo_part == "address,pin,pinpoint"


async def test_a_typed_reason_is_escaped_and_used(bot: RunningBot, ana: Player,
                                                  bob: Player) -> None:
    handoff = await submit_job(ana, bot, bob)
    await bob.press("Reject", message=handoff)
    await bob.press("Other reason", message=handoff)
    await bob.press("Part: Labels", message=handoff)
    await bob.press("Send", message=handoff)
    question = await bob.wait_for_text("type the reason for rejecting job #1")
    assert question.force_reply
    await bob.send("<b>Branding</b> label covers the instructions", reply_to=question)
    await ana.wait_for_text("needs a fix: <b>Branding</b> label covers the instructions")
    handoff_row = await bot.services.store.handoff(1)
    assert handoff_row.redo_part == "labels" and handoff_row.decision == "rejected"


async def test_a_stranger_cannot_decide(bot: RunningBot, ana: Player, bob: Player,
                                        sam: Player) -> None:
    handoff = await submit_job(ana, bot, bob)
    answer = await sam.press_data(handoff, handoff.button_data("✅ Verify"))
    assert answer is not None and answer.text == "Only support members can decide hand-offs."
    assert (await bot.services.store.handoff(1)).decision is None
    assert handoff.buttons == [["✅ Verify", "❌ Reject"]]
    await ana.expect_nothing(0.2)


async def test_double_and_simultaneous_presses_decide_once(
    bot: RunningBot, ana: Player, bob: Player, carol: Player
) -> None:
    handoff = await submit_job(ana, bot, bob)
    data = handoff.button_data("✅ Verify")
    first, second = await asyncio.gather(bob.press_data(handoff, data),
                                         carol.press_data(handoff, data))
    alerts = sorted(a.text or "" for a in (first, second))
    assert alerts[0] == "" and alerts[1].startswith("Already decided by ")
    again = await bob.press_data(handoff, data)
    assert again is not None and again.text.startswith("Already decided by ")
    trail = await bot.services.store.audit_trail(1)
    assert sum(1 for e in trail if e["action"] == "verified") == 1
    await ana.wait_for_text("verified")
    await ana.expect_nothing(0.2)


async def test_long_and_html_input_is_split_not_broken(bot: RunningBot, ana: Player,
                                                       bob: Player) -> None:
    note = "<b>Gate</b> code & barrier: " + "x" * 3970
    answers = {"access_notes": lambda p: p.send(note),
               "building": lambda p: p.send("Block <C>"),
               "floor": lambda p: p.send("-2")}
    await start_job(ana)
    await walk(ana, bot, answers=answers)
    first = await bob.wait_for_text("Job #1")
    parts = [first]
    while not parts[-1].buttons:
        parts.append(await bob.expect())
    assert len(parts) == 3 and parts[-1].buttons == [["✅ Verify", "❌ Reject"]]
    whole = "\n".join(p.text for p in parts)
    assert "Access notes: <b>Gate</b> code & barrier: " + "x" * 3970 in whole
    assert "Building: Block <C>" in whole
    assert all(len(p.text) <= 4096 for p in parts)


async def test_webhook_down_then_back_delivers_exactly_once(
    bot: RunningBot, ana: Player, bob: Player, hooks: FakeWebhook
) -> None:
    hooks.fail_next(3, 503)
    hooks.stall_next(1, seconds=2.0)  # then one attempt times out (timeout 0.5 s)
    await submit_job(ana, bot, bob)
    for path in ("/generic", "/slack", "/pagerduty"):
        await hooks.wait_for(1, path, timeout=10)
    await asyncio.sleep(0.3)
    assert len(hooks.delivered("/generic")) == 1
    assert len(hooks.delivered("/slack")) == 1
    assert len(hooks.delivered("/pagerduty")) == 1
    failed = [r for r in hooks.received if r.status >= 500]
    assert len(failed) == 3
    deliveries = await bot.services.store.deliveries()
    assert all(d.delivered_at is not None for d in deliveries)
    assert max(d.attempts for d in deliveries) >= 2


async def test_undelivered_pages_are_sent_after_a_restart(
    bot: RunningBot, ana: Player, bob: Player, hooks: FakeWebhook
) -> None:
    port = hooks.port
    await hooks.stop()  # connections refused
    await submit_job(ana, bot, bob)
    await asyncio.sleep(0.2)
    pending = [d for d in await bot.services.store.deliveries() if d.delivered_at is None]
    assert len(pending) == 3 and all(d.last_error for d in pending)
    await bot.stop()
    await hooks.start(port)
    await bot.start()
    for path in ("/generic", "/slack", "/pagerduty"):
        await hooks.wait_for(1, path, timeout=20)  # the retry is due 5 s after the failure
    await asyncio.sleep(0.3)
    assert len(hooks.received) == 3


async def test_waiting_too_long_repages_once_and_tells_the_installer(
    bot: RunningBot, ana: Player, bob: Player, hooks: FakeWebhook
) -> None:
    handoff = await submit_job(ana, bot, bob)
    await hooks.wait_for(1, "/slack")
    await bot.run_job("support-waiting")
    await ana.wait_for_text("Support has not decided on job #1 yet")
    note = await bob.wait_for_text("has waited")
    assert note.reply_to_message_id == handoff.message_id
    slack = await hooks.wait_for(2, "/slack")
    assert "still waiting for support" in slack[1].body["text"]
    await bot.run_job("support-waiting")
    await ana.expect_nothing(0.2)
    assert len(hooks.delivered("/slack")) == 2


async def test_secrets_never_reach_the_logs(
    bot: RunningBot, ana: Player, bob: Player, hooks: FakeWebhook,
    caplog: pytest.LogCaptureFixture
) -> None:
    quiet_libraries()  # as configure_logging does in production, whatever LOG_LEVEL says
    caplog.set_level(logging.DEBUG)
    handoff = await submit_job(ana, bot, bob)
    await bob.press("Verify", message=handoff)
    await hooks.wait_for(1, "/record")
    text = caplog.text
    for secret in (PASSWORD, ROUTING_KEY, RECORD_TOKEN, bot.settings.telegram_token
                   .get_secret_value()):
        assert secret not in text


async def test_a_press_on_a_copy_of_a_decided_hand_off_shows_the_decision(
    bot: RunningBot, ana: Player, bob: Player, carol: Player
) -> None:
    """A hand-off posted twice (an interruption between its send and its note) or one whose
    edit was lost keeps its buttons; pressing them shows the decision and takes them away."""
    handoff = await submit_job(ana, bot, bob)
    data = handoff.button_data("✅ Verify")
    await bob.press_data(handoff, data)
    await ana.wait_for_text("verified")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Verify", callback_data=data)]])
    await bot.app.bot.send_message(SUPPORT_CHAT_ID, "Job copy", reply_markup=markup)
    copy = await carol.wait_for_text("Job copy")
    answer = await carol.press_data(copy, data)
    assert answer is not None and answer.text.startswith("Already decided by Bob")
    assert copy.buttons == [] and "Verified by Bob" in copy.text
    trail = await bot.services.store.audit_trail(1)
    assert sum(1 for e in trail if e["action"] == "verified") == 1
