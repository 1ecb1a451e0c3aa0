"""End to end: admins grant and revoke roles with /grant and /revoke; every change is audited."""

from __future__ import annotations

from typing import Any

import pytest

from testkit.emulator import BotApiEmulator, Player

from conftest import ADMIN_ID, ANA_ID, BEN_ID, MANAGER_ID, RunningBot

MIA_ID = 9300


@pytest.fixture
async def mia(emu: BotApiEmulator, bot: RunningBot) -> Player:
    """Someone who has talked to the bot once (so it knows her @username)."""
    player = emu.user(MIA_ID, "Mia", "Meyer", username="mia_m")
    await player.send("/start")
    await player.expect_text("installer ID")
    return player


async def role_changes(bot: RunningBot) -> list[dict[str, Any]]:
    trail = await bot.services.store.audit_trail()
    return [{"action": e["action"], "actor": e["actor_id"], **e["detail"]} for e in trail
            if e["action"] in ("role_granted", "role_revoked")
            and e["detail"].get("by") != "config"]


async def test_an_admin_makes_someone_a_manager_and_takes_it_back(
    bot: RunningBot, admin: Player, mia: Player,
) -> None:
    await admin.send("/grant manager @mia_m")
    await admin.expect_text(f"✅ Mia Meyer (id {MIA_ID}) is now a manager.")
    told = await mia.expect_text("You are now a manager in the ChargeNet bot.", "/summary")
    assert told.parse_mode == "HTML"
    assert "manager" in await bot.services.store.roles(MIA_ID)

    await mia.send("/summary")
    await mia.expect_text("no jobs, nothing waiting")

    await admin.send("/grant manager @mia_m")
    await admin.expect_text("already is a manager")
    await admin.send("/revoke manager @MIA_M")
    await admin.expect_text(f"✅ Mia Meyer (id {MIA_ID}) is no longer a manager.")
    await mia.expect_text("You are no longer a manager")
    await mia.send("/summary")
    await mia.expect_text("Summaries and exports are for managers")
    await admin.send("/revoke manager @mia_m")
    await admin.expect_text("is not a manager")

    assert await role_changes(bot) == [
        {"action": "role_granted", "actor": ADMIN_ID, "user": MIA_ID, "role": "manager",
         "by": ADMIN_ID},
        {"action": "role_revoked", "actor": ADMIN_ID, "user": MIA_ID, "role": "manager",
         "by": ADMIN_ID},
    ]


async def test_grant_by_id_to_someone_the_bot_has_not_met(bot: RunningBot,
                                                          admin: Player) -> None:
    await admin.send("/grant support 9400")
    await admin.expect_text("(id 9400) is now a support member.")
    store = bot.services.store
    assert await store.roles(9400) == {"support"}
    assert await store.user(9400) is not None
    assert (await role_changes(bot))[-1]["user"] == 9400


async def test_grant_installer_from_a_forwarded_message_approves_a_waiting_registration(
    bot: RunningBot, emu: BotApiEmulator, admin: Player,
) -> None:
    ben = emu.user(BEN_ID, "Ben", "Berg", username="ben")
    await ben.send("/start")
    await ben.expect_text("installer ID")
    await ben.send("INS-20001")
    await ben.expect_text("waiting for approval")
    await admin.wait_for_text("Installer registration")

    forwarded = await admin.forward("Hi, it's Ben, please let me in", origin=ben)
    admin.mark_read()  # the bot's general answer to a forwarded text
    await admin.send("/grant installer", reply_to=forwarded)
    await admin.wait_for_text(f"Ben Berg (id {BEN_ID}) is now an installer.",
                              "INS-20001 is approved")
    await ben.expect_text("You're approved, Ben Berg")
    await ben.send("/new")
    await ben.expect_text("started")

    changes = await role_changes(bot)
    assert changes[-1] == {"action": "role_granted", "actor": ADMIN_ID, "user": BEN_ID,
                           "role": "installer", "by": ADMIN_ID}
    trail = await bot.services.store.audit_trail()
    assert any(e["action"] == "installer_approved" and e["detail"]["user"] == BEN_ID
               and e["actor_id"] == ADMIN_ID for e in trail)


async def test_a_forward_from_a_hidden_account_cannot_be_used(bot: RunningBot,
                                                              admin: Player) -> None:
    forwarded = await admin.forward("hello", sender_name="Private Pete")
    admin.mark_read()
    await admin.send("/grant manager", reply_to=forwarded)
    await admin.wait_for_text("Private Pete hides their account")
    assert await role_changes(bot) == []


async def test_revoking_a_configured_role_warns_that_it_comes_back(bot: RunningBot,
                                                                   admin: Player) -> None:
    await admin.send(f"/revoke manager {MANAGER_ID}")
    await admin.expect_text("is no longer a manager", "MANAGER_IDS lists them")
    assert "manager" not in await bot.services.store.roles(MANAGER_ID)
    assert (await role_changes(bot))[-1]["action"] == "role_revoked"


async def test_usage_listing_and_refusals(bot: RunningBot, admin: Player, ana: Player,
                                          emu: BotApiEmulator) -> None:
    await admin.send("/grant")
    listing = await admin.expect_text("/grant manager @username", "Roles now")
    lines = listing.text.splitlines()
    assert f"admin: Alex Admin ({ADMIN_ID})" in lines
    assert f"manager: {MANAGER_ID}" in lines  # configured, never seen: no name yet
    assert "installers: 1" in lines  # Ana

    await admin.send("/grant admin @ana")
    await admin.expect_text("comes from the configuration (ADMIN_IDS)")
    await admin.send("/grant boss @ana")
    await admin.expect_text("“boss” is not a role")
    await admin.send("/grant manager @nobody_here")
    await admin.expect_text("I don't know @nobody_here yet")

    ana.mark_read()
    await ana.send("/grant manager @ana")
    await ana.expect_text("Only admins can grant or revoke roles.")
    manager = emu.user(MANAGER_ID, "Mona", "Manager")
    await manager.send(f"/revoke installer {ANA_ID}")
    await manager.expect_text("Only admins")
    assert "installer" in await bot.services.store.roles(ANA_ID)
    assert await role_changes(bot) == []


async def test_pending_lists_the_waiting_requests_with_their_buttons(
    bot: RunningBot, emu: BotApiEmulator, admin: Player,
) -> None:
    await admin.send("/pending")
    await admin.expect_text("Nobody is waiting")
    for user_id, name, installer_id in ((BEN_ID, "Ben", "INS-20001"),
                                        (1003, "Carl", "INS-30003")):
        person = emu.user(user_id, name)
        await person.send("/start")
        await person.expect_text("installer ID")
        await person.send(installer_id)
        await person.expect_text("waiting for approval")
        await admin.wait_for_text("Installer registration", installer_id)

    await admin.send("/pending")
    await admin.expect_text("Waiting for approval: 2")
    first = await admin.expect_text("Ben", "INS-20001")
    second = await admin.expect_text("Carl", "INS-30003")
    assert first.buttons == second.buttons == [["✅ Approve", "❌ Refuse"]]
    await admin.press("Approve", second)
    assert "Approved by Alex Admin" in admin.messages[-1].text
    assert "installer" in await bot.services.store.roles(1003)

    await admin.send("/pending")
    await admin.expect_text("Waiting for approval: 1")
    await admin.expect_text("Ben", "INS-20001")

    manager = emu.user(MANAGER_ID, "Mona", "Manager")
    await manager.send("/pending")
    await manager.expect_text("Only admins")
    await manager.send(f"/reset {BEN_ID}")
    await manager.expect_text("Only admins")
    assert (await bot.services.store.user(BEN_ID)).status == "pending"  # type: ignore[union-attr]


async def test_reset_forgets_a_registration(bot: RunningBot, admin: Player, ana: Player) -> None:
    await admin.send("/reset")
    await admin.expect_text("/reset @username")
    await admin.send("/reset @ana")
    await admin.expect_text("Ana Installer (id 1001) is reset", "INS-10234")
    await ana.expect_text("reset your registration")
    store = bot.services.store
    user = await store.user(ANA_ID)
    assert user is not None and (user.status, user.installer_id) == ("new", None)
    assert "installer" not in await store.roles(ANA_ID)
    await admin.send("/reset @ana")
    await admin.expect_text("has no registration to reset")
    await ana.send("/new")
    await ana.expect_text("Send your installer ID")
    await ana.send("INS-10234")  # pre-approved by the configuration: in at once
    await ana.expect_text("You're approved")
