"""Unit tests: the checks of typed answers."""

from __future__ import annotations

import pytest

from bot.engine.catalog import Model
from bot.engine.validators import (
    VALIDATORS,
    Context,
    Invalid,
    check_firmware,
    check_iccid,
    check_mac,
    check_password,
    check_reference,
    check_serial,
    check_text,
    luhn_ok,
    mask_secret,
    normalise_iccid,
    parse_version,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0024:b100:000a:12e8", "0024:B100:000A:12E8"),
        ("0024-B100-000A-12E8", "0024:B100:000A:12E8"),
        ("0024B100000A12E8", "0024:B100:000A:12E8"),
        ("00:24:b1:00:00:0a:12:e8", "0024:B100:000A:12E8"),
        ("02-df-34-d6-4d-46", "02:DF:34:D6:4D:46"),
        ("02df34d64d46", "02:DF:34:D6:4D:46"),
        (" 02:DF:34:D6:4D:46 ", "02:DF:34:D6:4D:46"),
    ],
)
def test_mac_is_normalised(raw: str, expected: str) -> None:
    assert check_mac(raw) == expected


@pytest.mark.parametrize("raw", ["", "02:DF:34:D6:4D", "0024B100000A12E", "GG:DF:34:D6:4D:46",
                                 "0024B100000A12E8FF", "hello"])
def test_bad_macs_are_refused(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_mac(raw)
    assert caught.value.key == "invalid.mac"


def test_password_alphabet_and_length() -> None:
    assert check_password("abcd7k") == "ABCD7K"
    assert check_password("ABCD 7KXY") == "ABCD7KXY"
    for bad in ("ABC", "ABCDEFGHJKLMN", "ABCD0K", "ABCDIK", "ABCD1K", "ABCDOK"):
        with pytest.raises(Invalid):
            check_password(bad)


def test_mask_secret_shows_the_last_two() -> None:
    assert mask_secret("ABCD7K") == "••••7K"
    assert mask_secret("7K") == "••"


def test_luhn() -> None:
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")
    assert not luhn_ok("7992739871a")


def test_iccid_length_and_check_digit() -> None:
    valid = "8944500102198304826"
    assert luhn_ok(valid)
    assert check_iccid("8944 5001 0219 8304 826") == valid
    assert normalise_iccid(valid) == valid
    with pytest.raises(Invalid) as short:
        check_iccid("894450010219830")
    assert short.value.key == "invalid.iccid_length" and short.value.values == {"count": 15}
    with pytest.raises(Invalid) as typo:
        check_iccid("8944500102198304827")
    assert typo.value.key == "invalid.iccid_luhn"
    assert normalise_iccid("8944500102198304827") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2.10.1", (2, 10, 1)), ("v2.9", (2, 9)), ("2.10.0", (2, 10)), ("310", (310,)),
     ("FW 1.6", (1, 6)), ("2.x", None), ("", None)],
)
def test_versions_parse_as_numbers(raw: str, expected: tuple[int, ...] | None) -> None:
    assert parse_version(raw) == expected


def test_firmware_is_compared_as_versions() -> None:
    assert check_firmware("2.10.1", "2.9") == "2.10.1"
    assert check_firmware("2.10", "2.10.0") == "2.10"
    with pytest.raises(Invalid) as old:
        check_firmware("2.9.9", "2.10.1")
    assert old.value.key == "invalid.firmware_too_old"
    assert old.value.block and old.value.flag == "firmware_too_old"
    with pytest.raises(Invalid) as junk:
        check_firmware("latest", "1.0")
    assert junk.value.key == "invalid.firmware_format"


def test_serial_against_the_model_pattern() -> None:
    assert check_serial("hyc300-23041187", r"HYC300-\d{8}") == "HYC300-23041187"
    assert check_serial("HYC300 - 2304 1187", r"HYC300-\d{8}") == "HYC300-23041187"
    with pytest.raises(Invalid) as bad:
        check_serial("HYC300-2304118", r"HYC300-\d{8}", "HYC300-23041187")
    assert bad.value.values == {"example": "HYC300-23041187"}


def test_text_and_reference() -> None:
    assert check_text("  hello ") == "hello"
    with pytest.raises(Invalid):
        check_text("   ")
    with pytest.raises(Invalid) as long:
        check_text("x" * 121, 120)
    assert long.value.values == {"max": 120, "count": 121, "over": 1, "cut": "x" * 24}
    assert check_reference("ORD-2024/1187") == "ORD-2024/1187"
    with pytest.raises(Invalid):
        check_reference("<script>")


def test_screen_mac_must_match_the_sticker() -> None:
    screen = VALIDATORS["screen_mac"]
    ctx = Context(answers={"mac": "0024:B100:0002:1A2B"})
    assert screen("0024b10000021a2b", ctx) == "0024:B100:0002:1A2B"
    with pytest.raises(Invalid) as other:
        screen("0024b10000021a2c", ctx)
    assert other.value.key == "invalid.screen_mac"


def test_model_dependent_validators_use_the_context() -> None:
    model = Model("m", "M", "mf", "MF", "AC", "3.0", r"X\d{3}", "X123", False, "")
    ctx = Context(model=model)
    assert VALIDATORS["serial"]("x123", ctx) == "X123"
    with pytest.raises(Invalid):
        VALIDATORS["firmware"]("2.9", ctx)
