"""Play an installer through the procedure: a valid answer for every step, by step id.

`walk(ana, bot, until="serial")` answers every question up to (not including) `serial`,
following whatever order the procedure file declares, and returns the waiting prompt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.engine.validators import luhn_ok
from testkit.emulator import BotMessage, Player

from conftest import RunningBot, photo_bytes

MODEL = "Hypercharger HYC300"
MANUFACTURER = "Alpitronic"
MAC = "0024:B100:0002:1A2B"
PASSWORD = "ABCD7K"
SERIAL = "HYC300-23041187"
GPS = (52.530300, 13.384600)  # Invalidenstraße, Berlin: in the fake geocoder's demo table
PIN = (52.530280, 13.384620)


def make_iccid(prefix: str = "894450010219830482") -> str:
    """A valid 19-digit ICCID: the prefix and its Luhn check digit."""
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


ICCID = make_iccid()


async def pick_model(p: Player) -> None:
    """Manufacturer, then model, on the picker's buttons."""
    await p.press(MANUFACTURER)
    await p.press(MODEL)


Action = Callable[[Player], Awaitable[object]]


def press(label: str) -> Action:
    """Press the button with this label on the newest message that has it."""
    return lambda p: p.press(label)


def send(text: str) -> Action:
    """Type a text."""
    return lambda p: p.send(text)


def photo(width: int = 1280, height: int = 960) -> Action:
    """Send a camera photo of this size."""
    return lambda p: p.send_photo(photo_bytes(width, height))


def location(lat: float, lon: float, accuracy: float | None = 8.0) -> Action:
    """Share a location."""
    return lambda p: p.send_location(lat, lon, horizontal_accuracy=accuracy)


ANSWERS: dict[str, Action] = {
    "model": pick_model,
    "documents": press("I have them"),
    "hardware": press("Ready"),
    "site_access": press("✅ Yes, arranged"),
    "owner_account": send("ORD-2024-1187"),
    "station_name": send("Car park P2, left"),
    "photo_before": photo(),
    "plate_match": press("Yes, it matches"),
    "firmware": send("2.10.1"),
    "condition": press("Good"),
    "checklist": press("✅ OK"),
    "power_off": press("Power is off"),
    "lockout": press("Locked and tagged"),
    "no_voltage": press("No voltage"),
    "iccid": send(ICCID),
    "sticker_applied": press("Sticker applied"),
    "branding_label": press("Label applied"),
    "mac": send(MAC),
    "password": send(PASSWORD),
    "gps": location(*GPS),
    "new_or_replacement": press("New station"),
    "model_confirm": press("That's it"),
    "serial": send(SERIAL),
    "serial_check": press("Exactly right"),
    "address": press("Invalidenstraße 113, 10115 Berlin"),
    "pin": location(*PIN, accuracy=None),
    "lot_name": send("P2 Riverside"),
    "building": press("Skip the rest"),
    "floor": press("Skip"),
    "restrictions": press("Skip"),
    "access_notes": press("Skip"),
    "photo_site": photo(1600, 900),
    "cabinet_closed": press("Closed, power on"),
    "display_errors": press("No errors"),
    "errors_text": send("E-42 Backend not reachable"),
    "errors_resolved": press("Resolved"),
    "logo_visible": press("Logo visible"),
    "screen_mac": send("1a2b"),  # the last 4 characters of the MAC on the screen
    "submit": press("Submit"),
}


def station(n: int) -> dict[str, Action]:
    """Answers that make the `n`-th station of a test its own: a MAC, an ICCID and a serial no
    other job has (the same ones are questioned as reused), and the screen's MAC to match."""
    mac = f"0024:B100:0002:{0x1A2B + n:04X}"
    return {"mac": send(mac), "screen_mac": send(mac[-4:]),
            "iccid": send(make_iccid(f"8944500102198{n:05d}")),
            "serial": send(f"HYC300-{23041187 + n:08d}")}


async def current_step(bot: RunningBot, player: Player) -> str | None:
    """The step the player's open job waits on (read from the bot's database)."""
    view = await bot.services.engine.open_view(player.user_id)
    if view is None or view.current is None:
        return None
    return view.current.key


async def next_prompt(player: Player, timeout: float = 5.0) -> BotMessage:
    """Read the bot's messages until the next question (it carries the progress header)."""
    return await player.wait_for_text("· step ", timeout=timeout)


async def walk(
    player: Player, bot: RunningBot, until: str | None = None,
    answers: dict[str, Action] | None = None,
) -> BotMessage | None:
    """Answer each question until the job waits on `until` (or is submitted).

    Returns the prompt of `until`; None once the job is submitted.
    """
    table = {**ANSWERS, **(answers or {})}
    for _ in range(80):
        step = await current_step(bot, player)
        if step is None or step == until:
            return player.last if step else None
        await table[step.split(".")[0]](player)
        if step == "submit":
            await player.wait_for_text("submitted")
            await player.wait_for_text("another station")
            return None
        await next_prompt(player)
    raise AssertionError("the walk did not end")


async def start_job(player: Player) -> BotMessage:
    """`/new`, and the first question."""
    await player.send("/new")
    await player.expect_text("started")
    return await next_prompt(player)


async def walk_fix(player: Player, bot: RunningBot) -> list[str]:
    """Walk a fix to its resubmission, keeping every earlier answer offered ("Keep: …");
    returns the steps it asked, the submission included."""
    asked: list[str] = []

    def keeping(action: Action) -> Action:
        async def act(p: Player) -> None:
            asked.append(await current_step(bot, p) or "")
            prompt = p.last
            keep = next((label for row in prompt.buttons for label in row
                         if label.startswith("Keep: ")), None) if prompt else None
            await (p.press(keep, message=prompt) if keep is not None else action(p))
        return act

    await walk(player, bot, answers={name: keeping(action) for name, action in ANSWERS.items()})
    return asked
