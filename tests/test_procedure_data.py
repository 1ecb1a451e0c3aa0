"""Unit tests: the procedure file, the catalog and the texts agree with each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import PROCEDURE_PATH
from bot.engine.catalog import Catalog
from bot.engine.kinds import KINDS
from bot.engine.procedure import Procedure, condition_holds
from bot.engine.validators import VALIDATORS
from bot.texts import Safe, Texts


def test_every_step_has_an_english_prompt_and_help(procedure: Procedure, texts: Texts) -> None:
    for step in procedure.steps:
        assert texts.has(f"step.{step.id}.prompt"), step.id
        assert texts.has(f"step.{step.id}.help"), step.id
        for option in step.options:
            key = f"step.{step.id}.option.{option.id}"
            assert texts.has(key) or texts.has(f"option.{option.id}"), key
    for part in procedure.parts:
        assert texts.has(f"part.{part}")


def test_every_checklist_item_and_flag_has_a_text(catalog: Catalog, texts: Texts,
                                                  procedure: Procedure) -> None:
    for item in catalog.checklist_items:
        assert texts.has(f"checklist.{item}")
    for step in procedure.steps:
        for option in step.options:
            if option.flag:
                assert texts.has(f"flag.{option.flag}"), option.flag


def test_the_procedure_follows_flow_md_order(procedure: Procedure) -> None:
    ids = [s.id for s in procedure.steps]
    order = ["model", "photo_before", "checklist", "power_off", "lockout", "no_voltage",
             "iccid", "sticker_applied", "branding_label", "mac", "gps", "serial", "address",
             "pin", "photo_site", "cabinet_closed", "display_errors", "screen_mac", "submit"]
    positions = [ids.index(s) for s in order]
    assert positions == sorted(positions)
    # The SIM step cannot start before all three safety confirmations.
    assert ids.index("iccid") > max(ids.index(s) for s in ("power_off", "lockout", "no_voltage"))
    assert all(procedure.step(s).safety for s in ("power_off", "lockout", "no_voltage"))


def test_catalog_is_big_enough_and_consistent(catalog: Catalog) -> None:
    assert len(catalog.manufacturers) >= 8
    assert len(catalog.models) >= 15
    kinds = {m.kind for m in catalog.models}
    assert kinds == {"AC", "DC"}
    for model in catalog.models:
        assert model.serial_example, model.id
        import re
        assert re.fullmatch(model.serial_pattern, model.serial_example), model.id


def test_catalog_search(catalog: Catalog) -> None:
    assert [m.id for m in catalog.search("terra 184")] == ["abb_terra_184"]
    assert [m.id for m in catalog.search("keba p30")] == ["keba_p30"]
    assert catalog.search("pulsr")[0].id == "wb_pulsar_plus"  # a typo still finds it
    assert catalog.search("") == []
    assert catalog.search("zzzz") == []


def test_dc_models_get_their_extra_checklist_items(catalog: Catalog) -> None:
    dc = catalog.model("alpi_hyc300")
    ac = catalog.model("wb_pulsar_plus")
    assert [i.id for i in catalog.checklist_for(dc)][-2:] == ["cooling", "emergency_stop"]
    assert "cooling" not in [i.id for i in catalog.checklist_for(ac)]


def test_dependants_are_transitive(procedure: Procedure) -> None:
    assert {"serial", "serial_check", "firmware"} <= set(
        procedure.dependants("model"))
    assert procedure.dependants("display_errors") == ["errors_text", "errors_resolved"]


def test_conditions() -> None:
    answers = {"display_errors": "some", "mac": "X"}
    sources = {"mac": "qr"}
    model = {"has_screen": True}
    holds = lambda cond: condition_holds(cond, answers.get, sources.get, model.get)  # noqa: E731
    assert holds(None)
    assert holds("display_errors == some")
    assert not holds("display_errors == none")
    assert not holds("mac.source != qr")
    assert holds("model.has_screen")
    assert holds("display_errors != none")


def test_a_broken_procedure_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "procedure.toml"
    bad.write_text('[[part]]\nid = "a"\n[[step]]\nid = "x"\npart = "a"\nkind = "text"\n'
                   'validator = "nope"\n')
    with pytest.raises(ValueError, match="unknown validator"):
        Procedure.load(bad, VALIDATORS, KINDS)


def test_texts_escape_values_and_fall_back_to_english(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text('[a]\nhello = "Hi <b>{name}</b>"\nbye = "Bye"\n')
    (tmp_path / "de.toml").write_text('[a]\nhello = "Hallo <b>{name}</b>"\n')
    german = Texts(tmp_path, "de")
    assert german.get("a.hello", name="<Ana>") == "Hallo <b>&lt;Ana&gt;</b>"
    assert german.get("a.bye") == "Bye"
    assert german.get("a.hello", name=Safe("<i>A</i>")) == "Hallo <b><i>A</i></b>"


def test_roles_name_the_steps_the_rest_of_the_bot_relies_on(procedure: Procedure) -> None:
    from bot.engine.procedure import ROLES

    assert {s.role for s in procedure.steps if s.role} == ROLES
    assert procedure.with_role("mac").reader == "sticker"
    assert procedure.with_role("gps").source == "gps"
    assert procedure.with_role("pin").source == "pin"
    assert procedure.with_role("submit").kind == "submit"
    assert procedure.with_role("nothing") is None
    assert [s.id for s in procedure.in_group("details")] == [
        "lot_name", "building", "floor", "restrictions", "access_notes"]
    assert [s.id for s in procedure.safety_steps] == [
        "power_off", "lockout", "no_voltage", "cabinet_closed"]


def test_a_role_played_twice_or_unknown_is_refused(tmp_path: Path) -> None:
    base = PROCEDURE_PATH.read_text()
    twice = tmp_path / "twice.toml"
    twice.write_text(base.replace('role = "pin"', 'role = "gps"'))
    with pytest.raises(ValueError, match="role"):
        Procedure.load(twice, VALIDATORS, KINDS)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(base.replace('role = "pin"', 'role = "parking"'))
    with pytest.raises(ValueError, match="unknown role"):
        Procedure.load(unknown, VALIDATORS, KINDS)
