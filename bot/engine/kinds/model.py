"""The station model: manufacturers as pages of buttons, their models, or a typed search."""

from __future__ import annotations

import math
from typing import Any

from bot.engine import buttons
from bot.engine.buttons import Action, Browse, Choose, JobAction, Verb
from bot.engine.catalog import Model
from bot.engine.interaction import Button, Input, Outcome, Reply
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot, shorten
from bot.engine.procedure import Step
from bot.engine.records import Records

MODELS_PER_PAGE = 8
UNSUPPORTED = "unsupported_model"


class ModelKind(Kind):
    """A model from the catalog."""

    name = "model"

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The prompt with the first page of manufacturers."""
        reply = await super().question(desk, view, slot)
        reply.buttons = self.manufacturer_rows(desk, view.job.id, 0)
        return reply

    def manufacturer_rows(self, desk: Desk, job_id: int, page: int) -> list[list[Button]]:
        """A page of manufacturers, two a row, with paging and "not listed"."""
        t, mfs = desk.records.t, desk.records.catalog.manufacturers
        pages = max(1, math.ceil(len(mfs) / MODELS_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        shown = mfs[page * MODELS_PER_PAGE:(page + 1) * MODELS_PER_PAGE]
        data = lambda mf, to: buttons.encode(Browse(job_id, mf, to))  # noqa: E731
        row = [Button(mf.name, data(mf.id, 0)) for mf in shown]
        rows = [row[i:i + 2] for i in range(0, len(row), 2)]
        nav = []
        if page > 0:
            nav.append(Button(t("option.less"), data(None, page - 1)))
        if page < pages - 1:
            nav.append(Button(t("option.more"), data(None, page + 1)))
        if nav:
            rows.append(nav)
        stop = JobAction(job_id, Verb.STOP, UNSUPPORTED)
        rows.append([Button(t("option.not_listed"), buttons.encode(stop))])
        return rows

    def model_rows(self, desk: Desk, view: JobView, slot: Slot,
                   models: list[Model]) -> list[list[Button]]:
        """One button per model, and back to the manufacturers."""
        job_id = view.job.id
        rows = [[Button(m.full_name, buttons.encode(Choose(job_id, slot.key, m.id)))]
                for m in models]
        rows.append([Button(desk.records.t("option.back_to_manufacturers"),
                            buttons.encode(Browse(job_id, None, 0)))])
        return rows

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        """A typed search of the catalog."""
        if inp.text is None:
            return None
        t, job_id = desk.records.t, view.job.id
        found = desk.records.catalog.search(inp.text)
        query = shorten(inp.text, 40)
        if not found:  # either way the question, asked anew: the older list goes
            return Outcome([Reply(t(f"step.{slot.step.id}.search_none", query=query),
                                  self.manufacturer_rows(desk, job_id, 0), prompt=True)],
                           job_id=job_id)
        return Outcome([Reply(t(f"step.{slot.step.id}.search_results", query=query),
                              self.model_rows(desk, view, slot, found), prompt=True)],
                       job_id=job_id)

    async def press(self, desk: Desk, view: JobView, slot: Slot, action: Action,
                    user_id: int, message_id: int | None) -> Outcome:
        """Browse manufacturers and models; keep the chosen model."""
        records = desk.records
        if isinstance(action, Choose) and records.catalog.model(action.option):
            return await desk.recorder.accept(view, slot, action.option, "button", user_id,
                                              message_id)
        if not isinstance(action, Browse):
            return Outcome(alert=records.t("job.stale_button"))
        job_id, header = view.job.id, records.header(view)
        if action.manufacturer is None:
            prompt = f"{header}\n{records.t(f'step.{slot.step.id}.prompt')}"
            rows = self.manufacturer_rows(desk, job_id, action.page)
            return Outcome(edit=Reply(prompt, rows, prompt=True), job_id=job_id)
        manufacturer = records.catalog.manufacturer(action.manufacturer)
        if manufacturer is None:
            return Outcome(alert=records.t("job.stale_button"))
        text = f"{header}\n" + records.t(f"step.{slot.step.id}.models",
                                         manufacturer=manufacturer.name)
        rows = self.model_rows(desk, view, slot, list(manufacturer.models))
        return Outcome(edit=Reply(text, rows, prompt=True), job_id=job_id)

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """The model's full name."""
        model = records.catalog.model(value)
        return model.full_name if model else str(value)
