"""Unit tests: part-level progress that later answers cannot move, distances in km, and
prompts that name what the installer sees."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest

from bot.config import TEXTS_DIR
from bot.engine.catalog import Catalog
from bot.engine.kinds import KINDS
from bot.engine.plan import Slot, chosen_model, plan, progress
from bot.engine.procedure import Procedure
from bot.engine.validators import Invalid, check_screen_mac
from bot.store import Answer
from bot.texts import Texts

NOW = datetime(2026, 3, 12, tzinfo=UTC)


def counts(procedure: Procedure, catalog: Catalog, given: dict[str, tuple[object, str]]
           ) -> dict[str, list[tuple[int, int]]]:
    """Walk a plan question by question, answering from `given` (else "yes"): each part's
    (number, count) as each of its questions is asked."""
    answers: dict[str, Answer] = {}
    seen: dict[str, list[tuple[int, int]]] = {}
    for _ in range(100):
        model = chosen_model(procedure, catalog, answers)
        slots = plan(procedure, answers, model,
                     lambda step, m: KINDS[step.kind].slots(step, catalog, m))
        current = next((s for s in slots if s.key not in answers), None)
        if current is None:
            return seen
        p = progress(procedure, slots, current)
        seen.setdefault(p.part, []).append((p.index, p.total))
        value, source = given.get(current.key, given.get(current.step.id, ("yes", "button")))
        answers[current.key] = Answer(current.key, value, source, NOW)
    raise AssertionError("the plan did not end")


@pytest.mark.parametrize("variant", ["typed", "photos", "errors"])
def test_a_parts_count_is_fixed_while_in_it(procedure: Procedure, catalog: Catalog,
                                            variant: str) -> None:
    given: dict[str, tuple[object, str]] = {"model": ("alpi_hyc300", "button")}
    if variant == "photos":
        given |= {"mac": ("M", "qr"), "serial": ("S", "barcode"), "iccid": ("I", "barcode")}
    if variant == "errors":
        given |= {"display_errors": ("some", "button")}
    seen = counts(procedure, catalog, given)
    assert list(seen) == list(procedure.parts)
    for part, steps in seen.items():
        assert len({total for _, total in steps}) == 1, (part, steps)
        numbers = [index for index, _ in steps]
        assert numbers[0] == 1 and numbers[-1] == steps[0][1], (part, steps)
        assert all(b - a in (0, 1) for a, b in itertools.pairwise(numbers))


def test_the_same_model_gives_the_same_counts_whatever_the_answers(
    procedure: Procedure, catalog: Catalog
) -> None:
    model = {"model": ("alpi_hyc300", "button")}
    typed = counts(procedure, catalog, model)
    photos = counts(procedure, catalog, model | {"mac": ("M", "qr"),
                                                  "serial": ("S", "barcode")})
    assert {p: s[0][1] for p, s in typed.items()} == {p: s[0][1] for p, s in photos.items()}
    assert photos["pinpoint"][0][1] == 9  # the MAC, GPS, ..., details for drivers, photo


def test_the_details_for_drivers_are_one_number(procedure: Procedure, catalog: Catalog) -> None:
    model = chosen_model(procedure, catalog, {"model": Answer("model", "alpi_hyc300", "button",
                                                               NOW)})
    slots = plan(procedure, {}, model, lambda s, m: KINDS[s.kind].slots(s, catalog, m))
    numbers = {s.key: progress(procedure, slots, s).index for s in slots
               if s.step.part == "pinpoint"}
    details = {numbers[s.id] for s in procedure.in_group("details")}
    assert len(details) == 1 and numbers["photo_site"] == details.pop() + 1
    assert numbers["password"] == numbers["mac"]  # asked only after a typed MAC


def test_progress_of_a_job_without_slots_is_the_first_part(procedure: Procedure) -> None:
    empty: list[Slot] = []
    assert progress(procedure, empty, None).part == procedure.parts[0]


def test_distances_over_a_kilometre_are_in_km() -> None:
    texts = Texts(TEXTS_DIR, shared={"network": "ChargeNet"})
    english, german = texts.of("en"), texts.of("de")
    assert english.distance(12.4) == "12 m"
    assert english.distance(999.4) == "999 m"
    assert english.distance(999.6) == "1 km"
    assert english.distance(1234) == "1.2 km"
    assert english.distance(12_345) == "12 km"
    assert german.distance(1234) == "1,2 km"
    assert texts.of("xx-nope").distance(1234) == "1.2 km"


def test_the_screen_mac_is_its_last_four() -> None:
    sticker = "0024:B100:0002:1A2B"
    assert check_screen_mac("1a2b", sticker) == "1A2B"
    assert check_screen_mac(" 1A-2B ", sticker) == "1A2B"
    assert check_screen_mac("0024b10000021a2b", sticker) == sticker
    with pytest.raises(Invalid) as other:
        check_screen_mac("1A2C", sticker)
    assert other.value.key == "invalid.screen_mac_tail"
    assert other.value.values == {"typed": "1A2C", "sticker": sticker}
    for wrong in ("1A2", "1A2G", "12345"):
        with pytest.raises(Invalid) as bad:
            check_screen_mac(wrong, sticker)
        assert bad.value.key == "invalid.screen_mac_format"


def test_prompts_name_the_buttons_they_ask_for(procedure: Procedure, texts: Texts) -> None:
    documents = texts.get("step.documents.prompt", model="M", instructions="", firmware_list="",
                          checklist="", min_firmware="1")
    assert f"press {texts.get('step.documents.button')}" in documents
    for step in procedure.steps:
        prompt = texts.get(f"step.{step.id}.prompt")
        pressed = re.findall(r"press (✅ [^.,\n]+|Done)", prompt)
        label = texts.get(f"step.{step.id}.button") if texts.has(
            f"step.{step.id}.button") else texts.get("option.confirm")
        assert all(p == label for p in pressed), (step.id, pressed, label)


def test_the_pin_says_how_on_phones_and_desktops(texts: Texts) -> None:
    prompt = texts.get("step.pin.prompt")
    assert "Phone" in prompt and "Desktop" in prompt and "Send selected location" in prompt


def test_steps_read_from_photos_say_how_to_type_instead(procedure: Procedure,
                                                         texts: Texts) -> None:
    readers = [s for s in procedure.steps if s.reader]
    assert {s.role for s in readers} == {"mac", "iccid", "serial"}
    for step in readers:
        assert texts.has(f"step.{step.id}.typed"), step.id
    for role in ("mac", "iccid", "serial"):
        step = procedure.with_role(role)
        assert step is not None and texts.has(f"step.{step.id}.reused"), role
        assert texts.has(f"flag.{role}_reused")
