"""Unit tests: every button's data goes through one codec — compact, versioned, and a button
from before a deploy (or any other data) is recognised as stale, never misread."""

from __future__ import annotations

import pytest

from bot.config import DATA_DIR, PROCEDURE_PATH
from bot.engine import buttons
from bot.engine.buttons import (
    LIMIT,
    TAGS,
    VERSION,
    Browse,
    Choose,
    JobAction,
    Language,
    PickAddress,
    Registration,
    Reject,
    RejectPick,
    RejectReason,
    RejectSend,
    Say,
    Special,
    Stale,
    Undo,
    Verb,
    Verdict,
    Verify,
    decode,
    encode,
)
from bot.engine.catalog import Catalog
from bot.engine.kinds import KINDS
from bot.engine.kinds.model import UNSUPPORTED
from bot.engine.procedure import Procedure
from bot.engine.validators import VALIDATORS

BIG_ID = 2**52  # Telegram user ids fit in 52 bits; job and hand-off ids stay far below

ONE_OF_EACH = [
    Choose(12, "site_access", "not_needed"), Choose(3, "checklist.earth", "no"),
    Choose(7, "model", "abb_terra_ac"),
    *(Say(12, "mac", special) for special in Special),
    PickAddress(12, "address", 3),
    Browse(12, None, 0), Browse(12, "abb", 0), Browse(12, None, 2),
    *(JobAction(12, verb) for verb in Verb), JobAction(12, Verb.STOP, "unsupported_model"),
    Verify(3), Reject(3), Undo(3), RejectReason(3, "photo_unclear"), RejectReason(3, None),
    RejectPick(3, 5, "photo_unclear"), RejectSend(3, 0, None),
    Registration(5, Verdict.APPROVE), Registration(5, Verdict.REFUSE), Language("de"),
]


@pytest.mark.parametrize("action", ONE_OF_EACH, ids=repr)
def test_every_action_survives_the_round_trip(action: buttons.Action) -> None:
    data = encode(action)
    assert data.startswith(VERSION + ":")
    assert decode(data) == action


def test_every_action_type_is_covered() -> None:
    assert {type(a) for a in ONE_OF_EACH} == set(TAGS.values())


def test_the_longest_real_data_fits_in_telegrams_64_bytes() -> None:
    procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)
    catalog = Catalog.load(DATA_DIR / "catalog.toml", DATA_DIR / "checklists.toml")
    longest = lambda names: max(names, key=len)  # noqa: E731
    items = [f"{s.id}.{item}" for s in procedure.steps if s.kind == "checklist"
             for item in catalog.checklist_items]
    key = longest([s.id for s in procedure.steps] + items)
    option = longest([o.id for s in procedure.steps for o in s.options]
                     + [m.id for mf in catalog.manufacturers for m in mf.models])
    flags = [o.flag for s in procedure.steps for o in s.options if o.flag]
    reason = longest([*flags, UNSUPPORTED, "checklist_failed", key])
    actions = [
        Choose(BIG_ID, key, option), Say(BIG_ID, key, Special.SKIP_REST),
        PickAddress(BIG_ID, key, 99), Browse(BIG_ID, longest([m.id for m in
                                                              catalog.manufacturers]), 99),
        JobAction(BIG_ID, Verb.STOP_YES, reason),
        RejectSend(BIG_ID, (1 << (len(procedure.fixes) + len(procedure.parts))) - 1,
                   longest([r.id for r in procedure.reasons])),
        Registration(BIG_ID, Verdict.APPROVE),
    ]
    for action in actions:
        data = encode(action)
        assert len(data.encode("utf-8")) <= LIMIT, data
        assert decode(data) == action


def test_data_over_the_limit_or_not_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        encode(Choose(1, "k" * 40, "o" * 30))
    with pytest.raises(ValueError):
        encode(Choose(1, "a:b", "yes"))
    with pytest.raises(ValueError):
        encode(Choose(1, "mac", ""))


@pytest.mark.parametrize("data", [
    # the formats before the codec: never misread
    "a:12:mac:=ok", "a:12:checklist.cable:yes", "a:12:model:abb_terra_ac", "m:12:-:0",
    "m:12:abb:0", "c:12:stop:reason", "c:1:cont", "c:3:fix", "s:3:v", "s:3:r",
    "s:3:x:reason:part", "s:3:q:photo_unclear", "r:5:approve", "r:5:refuse",
    # garbage, and data of another version or shape
    "", ":", "1", "1:", "1:?:1", "1:a", "1:a:12:mac", "1:a:12:mac:yes:extra", "1:a:x:mac:yes",
    "1:a:-1:mac:yes", "1:a:12::yes", "1:s:12:mac:=ok", "1:s:12:mac:z", "1:j:12:q",
    "1:u:5:approve", "1:m:12:abb:x", "2:a:12:mac:yes", "1:a:１２:mac:yes", "1:a:12:mac:yés",
    "a:notanumber", "confirm", "\x00",
])
def test_old_formats_and_garbage_are_stale(data: str) -> None:
    assert decode(data) == Stale(data)


def test_non_text_data_is_stale() -> None:
    assert isinstance(decode(None), Stale)
    assert isinstance(decode(b"1:v:3"), Stale)


def test_matches_routes_by_decoded_type() -> None:
    job_button = buttons.matches(*buttons.JOB_ACTIONS)
    support_button = buttons.matches(*buttons.SUPPORT_ACTIONS)
    assert job_button(encode(Choose(1, "mac", "yes")))
    assert not job_button(encode(Verify(1)))
    assert support_button(encode(Verify(1)))
    assert not job_button("a:1:mac:yes") and not support_button("s:1:v")
