"""Checks and normalisation of what installers type: MACs, passwords, ICCIDs, serials, firmware.

Each `check_*` function returns the normalised value or raises `Invalid` with a text key
(looked up in `data/texts/<lang>.toml`) and the values that text needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEX = set("0123456789ABCDEF")
MAC_SEPARATORS = re.compile(r"[\s:.\-]")
PASSWORD_ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


@dataclass
class Invalid(Exception):
    """An answer that fails a check: `key` names the text that explains why.

    `flag` names a flag to record (e.g. a firmware below the minimum), and `block` says the
    job cannot go on until the cause is fixed, so the installer is offered to stop it.
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    flag: str | None = None
    block: bool = False

    def __str__(self) -> str:
        return self.key


def normalise_mac(raw: str) -> str | None:
    """Return the MAC uppercase, in groups of 4 (16 digits) or 2 (12 digits), or None."""
    digits = MAC_SEPARATORS.sub("", raw.strip()).upper()
    if not digits or not set(digits) <= HEX:
        return None
    if len(digits) == 16:
        return ":".join(digits[i : i + 4] for i in range(0, 16, 4))
    if len(digits) == 12:
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return None


def check_mac(raw: str) -> str:
    """A MAC address: 12 or 16 hex digits, with or without `:`/`-` separators."""
    mac = normalise_mac(raw)
    if mac is None:
        raise Invalid("invalid.mac")
    return mac


def normalise_password(raw: str) -> str | None:
    """Return an activation password (6–12 of the sticker alphabet) uppercase, or None."""
    pw = re.sub(r"\s", "", raw).upper()
    if 6 <= len(pw) <= 12 and set(pw) <= PASSWORD_ALPHABET:
        return pw
    return None


def check_password(raw: str) -> str:
    """An activation password as printed on the sticker."""
    pw = normalise_password(raw)
    if pw is None:
        raise Invalid("invalid.password")
    return pw


def mask_secret(secret: str, visible: int = 2) -> str:
    """Hide all but the last `visible` characters: `ABCD7K` -> `••••7K`."""
    if len(secret) <= visible:
        return "•" * len(secret)
    return "•" * (len(secret) - visible) + secret[-visible:]


def luhn_ok(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the others."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalise_iccid(raw: str) -> str | None:
    """Return an ICCID (19–20 digits, valid Luhn digit) without spaces, or None."""
    digits = re.sub(r"[\s\-]", "", raw.strip())
    if re.fullmatch(r"\d{19,20}", digits) and luhn_ok(digits):
        return digits
    return None


def check_iccid(raw: str) -> str:
    """A SIM's ICCID: 19 or 20 digits ending in a Luhn check digit."""
    digits = re.sub(r"[\s\-]", "", raw.strip())
    if not re.fullmatch(r"\d{19,20}", digits):
        raise Invalid("invalid.iccid_length", {"count": len(re.sub(r"\D", "", digits))})
    if not luhn_ok(digits):
        raise Invalid("invalid.iccid_luhn")
    return digits


def parse_version(raw: str) -> tuple[int, ...] | None:
    """`v2.10.1` -> (2, 10, 1); None when it is not a dotted version number."""
    text = raw.strip().lower().removeprefix("v").removeprefix("fw").strip()
    if not re.fullmatch(r"\d+(\.\d+){0,3}", text):
        return None
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check_firmware(raw: str, minimum: str) -> str:
    """A firmware version at least the catalog's minimum, compared as numbers (2.10 > 2.9)."""
    version = parse_version(raw)
    if version is None:
        raise Invalid("invalid.firmware_format")
    floor = parse_version(minimum)
    if floor is not None and version < floor:
        raise Invalid(
            "invalid.firmware_too_old",
            {"version": raw.strip(), "minimum": minimum},
            flag="firmware_too_old",
            block=True,
        )
    return raw.strip().lower().removeprefix("v").strip()


def check_serial(raw: str, pattern: str, example: str = "") -> str:
    """A serial number matching the model's pattern (a full-match regular expression)."""
    serial = re.sub(r"\s", "", raw).upper()
    if not serial or not re.fullmatch(pattern, serial):
        raise Invalid("invalid.serial", {"example": example})
    return serial


def check_text(raw: str, max_len: int = 500) -> str:
    """Free text: trimmed, not empty, at most `max_len` characters."""
    text = raw.strip()
    if not text:
        raise Invalid("invalid.empty")
    if len(text) > max_len:  # say exactly how much, and from where, to cut
        raise Invalid("invalid.too_long", {"max": max_len, "count": len(text),
                                           "over": len(text) - max_len,
                                           "cut": text[max(0, max_len - 24):max_len]})
    return text


def check_reference(raw: str) -> str:
    """An account or order number: letters, digits and `-`, `/`, `.`, `_`, `#`, spaces."""
    text = check_text(raw, 60)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ./#_\-]*", text):
        raise Invalid("invalid.reference")
    return text


@dataclass(frozen=True)
class Context:
    """What a check may need besides the typed text: the job's model, and its answers by the
    role of their step (`mac`, `serial`, ...)."""

    model: Any = None
    answers: dict[str, Any] = field(default_factory=dict)


SCREEN_TAIL = 4  # the characters of the screen's MAC the installer types


def check_screen_mac(raw: str, sticker: str | None) -> str:
    """The MAC on the station's screen against the sticker's: its last 4 characters (kept
    uppercase, e.g. `1A2B`), or the whole MAC (kept normalised)."""
    digits = MAC_SEPARATORS.sub("", raw.strip()).upper()
    if len(digits) != SCREEN_TAIL:
        mac = normalise_mac(raw)
        if mac is None:
            raise Invalid("invalid.screen_mac_format")
        if sticker and mac != sticker:
            raise Invalid("invalid.screen_mac", {"sticker": sticker})
        return mac
    if not set(digits) <= HEX:
        raise Invalid("invalid.screen_mac_format")
    if sticker and not MAC_SEPARATORS.sub("", sticker).upper().endswith(digits):
        raise Invalid("invalid.screen_mac_tail", {"typed": digits, "sticker": sticker})
    return digits


VALIDATORS: dict[str, Callable[[str, Context], Any]] = {
    "mac": lambda raw, ctx: check_mac(raw),
    "password": lambda raw, ctx: check_password(raw),
    "iccid": lambda raw, ctx: check_iccid(raw),
    "firmware": lambda raw, ctx: check_firmware(raw, ctx.model.min_firmware if ctx.model else "0"),
    "serial": lambda raw, ctx: check_serial(
        raw, ctx.model.serial_pattern if ctx.model else r".+",
        ctx.model.serial_example if ctx.model else "",
    ),
    "screen_mac": lambda raw, ctx: check_screen_mac(raw, ctx.answers.get("mac")),
    "reference": lambda raw, ctx: check_reference(raw),
    "short_text": lambda raw, ctx: check_text(raw, 120),
    "long_text": lambda raw, ctx: check_text(raw, 4000),
    "address": lambda raw, ctx: check_text(raw, 200),
}
"""Text checks by the name the procedure file uses: (typed text, context) -> stored value."""
