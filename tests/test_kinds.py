"""Unit tests: step kinds are classes in a registry; the registry drives the procedure's
checks and the engine's dispatch, so a new kind is one class and one registration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.engine.buttons import Say, Special, encode
from bot.engine.caution import Caution, Pending
from bot.engine.engine import Engine
from bot.engine.interaction import Input, Outcome, Reply
from bot.engine.kinds import KINDS, Desk, Kind, Registry, standard_kinds
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Procedure, Step
from bot.engine.records import Records
from bot.engine.validators import VALIDATORS
from bot.services import Services

INSTALLER = 1001
TOY_PROCEDURE = """
[[part]]
id = "before"

[[step]]
id = "toy"
part = "before"
kind = "echo"

[[step]]
id = "done"
part = "before"
kind = "confirm"

[[step]]
id = "submit"
role = "submit"
part = "before"
kind = "submit"
"""


class EchoKind(Kind):
    """A toy kind: takes a word, keeps it reversed, has a "same again" button."""

    name = "echo"

    def problems(self, step: Step, validators: Mapping[str, Callable[..., Any]]) -> list[str]:
        return [] if not step.options else ["an echo has no options"]

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        return Reply("Say a word")

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        if inp.text is None:
            return None
        return await desk.recorder.accept(view, slot, inp.text[::-1], "typed", user_id)

    def describe(self, records: Records, step: Step, value: Any) -> str:
        return f"echo {value}"

    def expects(self, step: Step, received: str) -> str:
        return "text"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, database_path=tmp_path / "k.db",
                        installer_ids=[INSTALLER])  # type: ignore[call-arg]
    built = await Services.create(settings)
    await built.store.upsert_user(INSTALLER, "Ana")
    try:
        yield built
    finally:
        await built.close()


def test_the_registry_holds_the_procedures_kinds() -> None:
    assert set(KINDS) == {"choice", "confirm", "text", "photo", "location", "model",
                          "checklist", "address", "submit"}
    kinds = standard_kinds()
    assert kinds.register(EchoKind()).name in kinds
    with pytest.raises(ValueError, match="new name"):
        kinds.register(EchoKind())


def test_the_procedure_takes_its_kinds_from_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "toy.toml"
    path.write_text(TOY_PROCEDURE)
    with pytest.raises(ValueError, match="unknown kind 'echo'"):
        Procedure.load(path, VALIDATORS, KINDS)
    kinds = standard_kinds()
    kinds.register(EchoKind())
    assert Procedure.load(path, VALIDATORS, kinds).step("toy").kind == "echo"
    path.write_text(TOY_PROCEDURE.replace('kind = "echo"', 'kind = "echo"\noptions = [{id="a"}]'))
    with pytest.raises(ValueError, match="an echo has no options"):
        Procedure.load(path, VALIDATORS, kinds)


async def test_a_registered_toy_kind_is_walked_by_the_engine(services: Services,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "toy.toml"
    path.write_text(TOY_PROCEDURE)
    kinds = Registry(*KINDS.values(), EchoKind())
    procedure = Procedure.load(path, VALIDATORS, kinds)
    engine = Engine(services.store, procedure, services.catalog, services.texts,
                    services.settings, kinds=kinds)
    started = await engine.start_job(INSTALLER, INSTALLER)
    assert started.replies[-1].text.endswith("\nSay a word") and started.replies[-1].prompt
    wrong = await engine.handle(INSTALLER, Input(other="voice"))
    assert wrong.replies[0].text == services.texts.get("wrong_kind.text")
    answered = await engine.handle(INSTALLER, Input(text="abc"))
    job = await services.store.open_job(INSTALLER)
    assert (await services.store.answers(job.id))["toy"].value == "cba"
    assert answered.replies[-1].buttons  # the confirmation's button
    await engine.press(INSTALLER, encode(Say(job.id, "done", Special.OK)))
    view = await engine.open_view(INSTALLER)
    assert view is not None and view.current is not None and view.current.step.kind == "submit"
    assert engine.records.describe(view.slots[0], view.answers["toy"]) == "echo cba"
    await engine.press(INSTALLER, encode(Say(job.id, "submit", Special.OK)))
    assert (await services.store.job(job.id)).status == "submitted"


def test_a_pending_answer_in_the_older_flat_shape_still_reads() -> None:
    old = {"step": "mac", "value": "AA", "source": "qr", "text": "step.mac.read",
           "values": {"mac": "AA"}, "yes": "option.correct", "no": "option.type_instead",
           "flag": None, "extra": {"password": "PW"}}
    pending = Pending.from_json(old)
    assert pending == Pending("mac", "AA", "qr", Caution(
        "step.mac.read", {"mac": "AA"}, None, "option.correct", "option.type_instead",
        {"password": "PW"}))
    assert Pending.from_json(pending.to_json()) == pending
    plain = Pending.from_json({"step": "gps", "value": {}, "source": "location",
                               "text": "photo.exif_far", "flag": "photo_far",
                               "redo": "photo_before"})
    assert plain.caution.yes == "option.use_anyway" and plain.caution.redo == "photo_before"
