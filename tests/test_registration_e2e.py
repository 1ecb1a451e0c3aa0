"""End to end: who may use the bot — registration, admin approval, refusal, roles."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.config import Settings
from bot.engine.buttons import Registration, Verdict, encode
from testkit.emulator import BotApiEmulator, Player

from conftest import ADMIN_ID, ANA_ID, BEN_ID, MANAGER_ID, RunningBot


async def register(player: Player, installer_id: str) -> None:
    await player.send("/start")
    await player.expect_text("installer ID")
    await player.send(installer_id)


async def test_admin_approves_a_new_installer(emu: BotApiEmulator, bot: RunningBot,
                                              admin: Player) -> None:
    ben = emu.user(BEN_ID, "Ben", "Builder", username="ben")
    await ben.send("/start")
    await ben.expect_text("installer ID")
    await ben.send("not an id!")
    await ben.expect_text("doesn't look like an installer ID")
    await ben.send("ins-20001")
    await ben.expect_text("waiting for approval", "INS-20001")

    request = await admin.expect_text("Installer registration", "Ben Builder", "INS-20001")
    assert request.buttons == [["✅ Approve", "❌ Refuse"]]

    await ben.send("/new")
    await ben.expect_text("waiting for approval")

    answer = await admin.press("Approve")
    assert answer is not None and not answer.text
    decided = admin.messages[-1]
    assert "Approved by Alex Admin" in decided.text and not decided.buttons
    await ben.expect_text("You're approved", "/new")

    again = await admin.press_data(request, encode(Registration(BEN_ID, Verdict.APPROVE)))
    assert again is not None and again.text == "Already decided."
    await ben.expect_nothing(0.2)

    user = await bot.services.store.user(BEN_ID)
    assert user is not None and user.status == "approved" and user.installer_id == "INS-20001"
    assert "installer" in await bot.services.store.roles(BEN_ID)
    actions = [e["action"] for e in await bot.services.store.audit_trail()]
    assert "registration_requested" in actions and "installer_approved" in actions

    await ben.send("/new")
    await ben.expect_text("Job #1 started")


async def test_refused_applicant_hears_how_to_get_certified_and_nothing_else(
    emu: BotApiEmulator, bot: RunningBot, admin: Player
) -> None:
    carl = emu.user(1003, "Carl")
    await register(carl, "INS-30003")
    await carl.expect_text("waiting for approval")
    await admin.expect_text("INS-30003")
    await admin.press("Refuse")
    refusal = await carl.expect_text("only for certified ChargeNet installers",
                                     "installer training")
    assert not refusal.buttons
    for attempt in ("/new", "hello", "/status"):
        await carl.send(attempt)
        reply = await carl.expect()
        assert reply.text == refusal.text
    assert (await bot.services.store.user(1003)).status == "refused"


async def test_only_admins_can_decide(emu: BotApiEmulator, bot: RunningBot,
                                      admin: Player) -> None:
    dana = emu.user(1004, "Dana")
    await register(dana, "INS-40004")
    await dana.expect_text("waiting for approval")
    request = await admin.expect_text("INS-40004")
    mallory = emu.user(6666, "Mallory")
    answer = await mallory.press_data(request, encode(Registration(1004, Verdict.APPROVE)))
    assert answer is not None and answer.text == "That button is not for you."
    assert (await bot.services.store.user(1004)).status == "pending"


async def test_installer_id_cannot_be_taken_twice(emu: BotApiEmulator, bot: RunningBot,
                                                  ana: Player) -> None:
    eve = emu.user(1005, "Eve")
    await register(eve, "INS-10234")  # Ana's
    await eve.expect_text("already linked to another account")


async def test_pre_approved_installer_starts_at_once(ana: Player) -> None:
    await ana.send("/new")
    await ana.expect_text("Job #1 started")


async def test_command_menu_is_set(emu: BotApiEmulator, bot: RunningBot) -> None:
    call = await emu.wait_for_call("setMyCommands", timeout=5)
    names = [c["command"] for c in call.params["commands"]]
    assert names == ["start", "new", "back", "status", "jobs", "cancel", "help", "language"]


async def test_managers_and_admins_see_their_commands_in_the_menu(
    emu: BotApiEmulator, admin: Player, settings: Settings
) -> None:
    emu.user(MANAGER_ID, "Mona", "Manager")
    running = RunningBot(settings)  # started after both have a chat with the bot
    await running.start()
    try:
        calls = emu.calls_of("setMyCommands")
        menus = {}
        for call in calls:
            scope = call.params.get("scope")
            scope = json.loads(scope) if isinstance(scope, str) else scope
            commands = call.params["commands"]
            commands = json.loads(commands) if isinstance(commands, str) else commands
            menus[scope["chat_id"] if scope else None] = [c["command"] for c in commands]
        assert "grant" not in menus[None] and "summary" not in menus[None]
        assert menus[MANAGER_ID][-2:] == ["summary", "export"]
        assert menus[ADMIN_ID][-4:] == ["summary", "export", "grant", "revoke"]
    finally:
        await running.stop()


async def test_a_pending_person_may_retype_their_installer_id(
    emu: BotApiEmulator, bot: RunningBot, admin: Player
) -> None:
    ben = emu.user(BEN_ID, "Ben", "Builder", username="ben")
    await register(ben, "INS-2001")  # one digit short
    await ben.expect_text("doesn't look like an installer ID", "INS-12345")
    await ben.send("INS-20010")  # a typo, but of the right shape
    await ben.expect_text("INS-20010", "waiting for approval", "send the right one",
                          "INS-12345")
    first = await admin.expect_text("Installer registration", "INS-20010")

    await ben.send("where is my approval?")
    await ben.expect_text("INS-20010", "waiting for approval", "send the right one")
    await ben.send(" ins-20001 ")
    await ben.expect_text("Changed", "INS-20001")
    second = await admin.expect_text("INS-20001", "Changed from INS-20010")
    assert second.buttons == [["✅ Approve", "❌ Refuse"]]

    await admin.press("Approve", first)  # the earlier request now stands for the new ID
    await ben.expect_text("You're approved")
    user = await bot.services.store.user(BEN_ID)
    assert user is not None and (user.status, user.installer_id) == ("approved", "INS-20001")
    actions = [e["action"] for e in await bot.services.store.audit_trail()]
    assert "registration_changed" in actions


async def refuse(carl: Player, admin: Player, installer_id: str = "INS-30003") -> None:
    await register(carl, installer_id)
    await carl.expect_text("waiting for approval")
    await admin.expect_text(installer_id)
    await admin.press("Refuse")
    decided = admin.messages[-1]
    assert "Refused by Alex Admin" in decided.text and "/reset 1003" in decided.text


async def test_a_refused_person_is_told_why_and_may_apply_again_after_the_wait(
    emu: BotApiEmulator, bot: RunningBot, admin: Player
) -> None:
    carl = emu.user(1003, "Carl")
    await refuse(carl, admin)
    refusal = await carl.expect_text("INS-30003", "was not approved", "apply again from")
    await carl.send("/start")
    assert (await carl.expect()).text == refusal.text

    store = bot.services.store
    week_ago = (store.clock() - timedelta(days=7, minutes=1)).isoformat()
    await store._exec("UPDATE users SET status_at = ? WHERE id = ?", (week_ago, 1003))
    store.forget_person(1003)  # written behind the store's back: its cached row is stale
    await carl.send("/start")
    await carl.expect_text("Send your installer ID")
    await carl.send("INS-30033")
    await carl.expect_text("waiting for approval", "INS-30033")
    await admin.expect_text("Installer registration", "INS-30033")


async def test_an_admin_may_let_a_refused_person_apply_again_at_once(
    emu: BotApiEmulator, bot: RunningBot, admin: Player
) -> None:
    carl = emu.user(1003, "Carl", username="carl")
    await refuse(carl, admin)
    await carl.expect_text("was not approved")
    await admin.send("/reset @carl")
    await admin.expect_text("Carl (id 1003) is reset", "INS-30003")
    await carl.expect_text("reset your registration", "/start")
    await register(carl, "INS-30003")
    await carl.expect_text("waiting for approval")
    user = await bot.services.store.user(1003)
    assert user is not None and user.status == "pending"
    actions = [e["action"] for e in await bot.services.store.audit_trail()]
    assert "registration_reset" in actions


async def test_a_stranger_cannot_squat_an_installer_id(
    emu: BotApiEmulator, bot: RunningBot, admin: Player, ana: Player
) -> None:
    mallory = emu.user(6666, "Mallory")
    await register(mallory, "INS-10234")  # Ana's, approved
    await mallory.expect_text("already linked to another account")

    # Before Ben registers, Mallory asks for Ben's ID: that does not block Ben.
    await register(mallory, "ins-20001")
    await mallory.expect_text("waiting for approval", "INS-20001")
    to_mallory = await admin.expect_text("Mallory", "INS-20001")
    ben = emu.user(BEN_ID, "Ben", "Builder")
    await register(ben, "INS-20001")
    await ben.expect_text("waiting for approval", "INS-20001")
    to_ben = await admin.expect_text("Ben Builder", "INS-20001")

    await admin.press("Approve", to_ben)
    await ben.expect_text("You're approved")
    answer = await admin.press("Approve", to_mallory)
    assert answer is not None and "already approved for Ben Builder" in answer.text
    store = bot.services.store
    assert (await store.user(6666)).status == "pending"  # type: ignore[union-attr]
    assert "installer" not in await store.roles(6666)
    assert (await store.user_by_installer_id("INS-20001")).id == BEN_ID  # type: ignore[union-attr]
    await admin.press("Refuse", to_mallory)
    await mallory.expect_text("was not approved")


async def test_a_revoked_installer_stays_revoked_until_granted_again(
    emu: BotApiEmulator, bot: RunningBot, admin: Player, ana: Player
) -> None:
    await admin.send("/revoke installer @ana")
    await admin.expect_text("is no longer an installer", "stay revoked")
    await ana.expect_text("You are no longer an installer")
    for attempt in ("/start", "INS-55555", "/new"):
        await ana.send(attempt)
        await ana.expect_text("withdrawn your installer access")
    store = bot.services.store
    assert "installer" not in await store.roles(ANA_ID)
    assert (await store.user(ANA_ID)).installer_id == "INS-10234"  # type: ignore[union-attr]

    await admin.send("/grant installer @ana")
    await admin.expect_text("is now an installer")
    await ana.expect_text("You are now an installer")
    await ana.send("/new")
    await ana.expect_text("Job #1 started")
