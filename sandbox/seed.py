"""The sandbox's demo world: its people, their chats, preset places and demo values.

Everything here is made up. The installer Ana is registered and approved in the database
before the bot starts, so `/new` works at once; Ben is a newcomer who registers and waits for
Alex the admin; Sam verifies jobs in the support group; Maya is a manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.store import Store
from testkit.emulator import BotApiEmulator

SANDBOX_TOKEN = "7000000001:SANDBOX-not-a-real-token"
BOT_USERNAME = "pinpoint_sandbox_bot"
SUPPORT_GROUP_ID = -1001000000100
SUPPORT_GROUP_TITLE = "ChargeNet support"
INSTALLER_ID = "INS-10234"  # Ana's, registered by the seed
NEWCOMER_ID = "INS-20577"  # for Ben to type when he registers


@dataclass(frozen=True)
class Persona:
    """Someone a page visitor can be: a Telegram user with a role in the sandbox."""

    id: int
    first_name: str
    last_name: str
    username: str
    role: str  # installer, newcomer, support, manager, admin
    about: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


ANA = Persona(1001, "Ana", "Installer", "ana_installs", "installer",
              "Certified installer, already approved: send /new to start a job.")
BEN = Persona(1002, "Ben", "Newcomer", "ben_new", "newcomer",
              "Not registered yet: /start, type an installer ID, wait for an admin.")
SAM = Persona(9100, "Sam", "Support", "sam_support", "support",
              "Support: verifies submitted jobs in the support group.")
MAYA = Persona(9200, "Maya", "Manager", "maya_manages", "manager",
               "Manager: oversees installers, gets the summaries.")
ALEX = Persona(9001, "Alex", "Admin", "alex_admin", "admin",
               "Admin: approves newcomers' registrations.")
PEOPLE: tuple[Persona, ...] = (ANA, SAM, BEN, MAYA, ALEX)


@dataclass(frozen=True)
class Place:
    """A preset location the page offers (addresses the offline geocoder knows)."""

    label: str
    latitude: float
    longitude: float
    accuracy: float | None = 8.0


PLACES: tuple[Place, ...] = (
    Place("Berlin · Invalidenstraße 112", 52.530580, 13.384420),
    Place("Berlin · Chausseestraße 6", 52.530380, 13.383260),
    Place("Berlin-Schöneberg · Hauptstraße 5", 52.487420, 13.352380),
    Place("Heidelberg · Hauptstraße 7", 49.410640, 8.693420),
    Place("Lyon · Rue de la République 12", 45.762580, 4.836080),
)

# What the demo activation sticker (static/demo-sticker.png) encodes.
STICKER_MAC = "0024:B100:0D3E:7A51"
STICKER_PASSWORD = "K7XRM4PT"
STICKER_URL = (
    "https://o.example-network.com/activate?mac=" + STICKER_MAC.replace(":", "")
    + "&pw=" + STICKER_PASSWORD
)
DEMO_ICCID = "8944500102198304826"  # 19 digits, Luhn-valid


def seed_emulator(emu: BotApiEmulator) -> None:
    """Create every persona's private chat and the support group with Sam in it."""
    for person in PEOPLE:
        emu.user(person.id, person.first_name, person.last_name, username=person.username)
    emu.group(SUPPORT_GROUP_ID, SUPPORT_GROUP_TITLE, members=[SAM.id], admins=[ALEX.id])


async def seed_database(path: Path) -> None:
    """Register Ana as an approved installer in the (fresh) sandbox database."""
    store = await Store.open(path)
    try:
        await store.upsert_user(ANA.id, ANA.first_name, ANA.last_name, ANA.username, "en")
        await store.set_user_status(ANA.id, "approved", INSTALLER_ID)
        await store.grant(ANA.id, "installer", None)
    finally:
        await store.close()


def chats_of(emu: BotApiEmulator, person: Persona) -> list[dict[str, Any]]:
    """The chats a persona can open: groups they are in first (support), then private."""
    groups = [
        {"id": chat.id, "title": chat.chat.get("title", ""), "type": chat.chat["type"]}
        for chat in emu.chats.values()
        if chat.id < 0 and chat.members.get(person.id) in ("member", "administrator", "creator")
    ]
    private = {"id": person.id, "title": emu.bot_user["first_name"], "type": "private"}
    return [*groups, private] if person.role == "support" else [private, *groups]


def directory(emu: BotApiEmulator) -> list[dict[str, Any]]:
    """Every persona with their chats, as the page's person picker shows them."""
    return [
        {"id": p.id, "name": p.name, "first_name": p.first_name, "role": p.role,
         "about": p.about, "chats": chats_of(emu, p)}
        for p in PEOPLE
    ]
