"""The engine: walks the procedure for one job at a time.

Given a job and an input (or a pressed button), it validates, stores the answer, and
returns the next question as an `Outcome`. Where the installer is follows from the stored
answers: the current step is the first applicable step without an answer, unless `/back`
set a cursor on an earlier one. Nothing here knows about Telegram.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.engine.addresses import AddressSteps
from bot.engine.catalog import Catalog, Model
from bot.engine.codes import CodeReading
from bot.engine.interaction import Button, Input, LocationInput, Outcome, PhotoInput, Reply
from bot.engine.plan import JobView, Slot, plan, progress_bar, shorten
from bot.engine.procedure import Option, Procedure, Step
from bot.engine.validators import VALIDATORS, Context, Invalid, mask_secret
from bot.places import AddressFinder, distance_m
from bot.store import CANCELLED, OPEN, REJECTED, STOPPED, SUBMITTED, Answer, Job, Store
from bot.texts import Safe, Texts
from bot.vision.photos import check_photo, inspect_photo
from bot.vision.sticker import StickerReader

MODELS_PER_PAGE = 8
CHECKLIST_OPTIONS = (Option("yes"), Option("no"))
class Engine(AddressSteps, CodeReading):
    """Walks the procedure: one instance per bot, shared by all installers."""

    def __init__(
        self, store: Store, procedure: Procedure, catalog: Catalog, texts: Texts,
        settings: Settings, finder: AddressFinder | None = None,
        reader: StickerReader | None = None,
    ) -> None:
        self.store = store
        self.procedure = procedure
        self.catalog = catalog
        self.texts = texts
        self.settings = settings
        self.finder = finder
        self.reader = reader
        self._prefetches: set[asyncio.Task[Any]] = set()

    # Loading --------------------------------------------------------------------------

    def plan(self, answers: dict[str, Answer], model: Model | None) -> list[Slot]:
        """The applicable questions for these answers, in order."""
        return plan(self.procedure, self.catalog, answers, model)

    async def view(self, job: Job) -> JobView:
        """Load a job's answers and work out its plan and current question."""
        answers = await self.store.answers(job.id)
        model_answer = answers.get("model")
        model = self.catalog.model(model_answer.value) if model_answer else None
        slots = self.plan(answers, model)
        current = None
        if job.cursor:
            current = next((s for s in slots if s.key == job.cursor), None)
        if current is None:
            current = next((s for s in slots if s.key not in answers), None)
        return JobView(job, answers, model, slots, current, self.procedure)

    async def open_view(self, user_id: int) -> JobView | None:
        """The installer's open job, loaded, or None."""
        job = await self.store.open_job(user_id)
        return await self.view(job) if job else None

    # Texts ----------------------------------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        """A text with the network's name available to every template."""
        return self.texts.get(key, network=self.settings.network_name, **values)

    def option_label(self, step: Step, option: str) -> str:
        """A button's label: the step's own text, or the common one."""
        key = f"step.{step.id}.option.{option}"
        return self.t(key if self.texts.has(key) else f"option.{option}")

    def describe(self, slot: Slot, answer: Answer | None) -> str:
        """A short, safe-to-show rendering of an answer (secrets masked)."""
        if answer is None:
            return self.t("summary.none")
        value, step = answer.value, slot.step
        if answer.source == "skip" or value is None:
            return self.t("answered.skipped")
        if step.kind == "model":
            model = self.catalog.model(value)
            return model.full_name if model else str(value)
        if step.kind == "checklist" or step.option(value) is not None:
            return self.option_label(step, value)
        if step.kind == "confirm":
            return self._confirm_label(step)
        if step.kind == "photo":
            return f"{value.get('width')}×{value.get('height')}"
        if step.kind == "address":
            label = str(value.get("label", "")) if isinstance(value, dict) else str(value)
            verified = not isinstance(value, dict) or value.get("verified", True)
            return label if verified else f"{label} ({self.t('step.address.unverified')})"
        if step.kind == "location":
            text = f"{value['lat']:.5f}, {value['lon']:.5f}"
            if value.get("accuracy"):
                text += f" ±{round(value['accuracy'])} m"
            return text
        if step.secret:
            return mask_secret(str(value))
        return str(value)

    def _confirm_label(self, step: Step) -> str:
        key = f"step.{step.id}.button"
        return self.t(key if self.texts.has(key) else "option.confirm")

    def _values(self, view: JobView, slot: Slot) -> dict[str, Any]:
        model = view.model
        values: dict[str, Any] = {
            "firmware_list": self.catalog.min_firmware_list,
            "checklist": self.catalog.verification_checklist,
            "serial": view.value("serial") or "",
        }
        if model:
            values.update(
                model=model.full_name, kind=model.kind, min_firmware=model.min_firmware,
                instructions=model.instructions, example=model.serial_example,
            )
        if slot.item is not None:
            items = [s for s in view.slots if s.step.id == slot.step.id]
            values.update(
                item=self.t(f"checklist.{slot.item.id}"),
                number=items.index(slot) + 1, count=len(items),
            )
        if slot.step.kind == "submit":
            values["summary"] = Safe(self.summary_html(view))
        return values

    def summary_html(self, view: JobView, flags: list[str] | None = None) -> str:
        """The record as `label: value` lines (HTML-escaped, long values shortened)."""
        lines = []
        for slot in view.slots:
            key = f"label.{slot.key}"
            if not self.texts.has(key) or slot.key not in view.answers:
                continue
            value = shorten(self.describe(slot, view.answers[slot.key]), 120)
            lines.append(self.t("summary.line", label=self.t(key), value=value))
        if flags:
            lines.append(self.t("summary.line", label=self.t("label.flags"),
                                value=", ".join(flags)))
        return "\n".join(lines)

    # Prompts --------------------------------------------------------------------------

    def header(self, view: JobView) -> str:
        """`Part · step 7/31 ▰▰▱▱▱▱▱▱` for the current question."""
        index, total = view.index, len(view.slots)
        part = view.current.step.part if view.current else view.slots[-1].step.part
        return self.t("header.progress", part=self.t(f"part.{part}"), index=index,
                      total=total, bar=progress_bar(index, total))

    async def prompt(self, view: JobView) -> Reply:
        """The current question of the job, with its buttons."""
        slot = view.current
        if slot is None:
            return Reply(self.t("job.none"))
        job = view.job
        if job.pending:
            return self._pending_prompt(view)
        step = slot.step
        rows: list[list[Button]] = []
        if step.kind == "address":
            body = await self._address_offer(view, rows)
        else:
            body = self.t(f"step.{step.id}.prompt", **self._values(view, slot))
        text = f"{self.header(view)}\n{body}"
        data = lambda option: f"a:{job.id}:{slot.key}:{option}"  # noqa: E731
        reply = Reply(text, rows, prompt=True)
        if step.kind in ("choice", "checklist"):
            options = step.options or CHECKLIST_OPTIONS
            buttons = [Button(self.option_label(step, o.id), data(o.id)) for o in options]
            rows.extend([buttons] if len(buttons) <= 2 else [[b] for b in buttons])
        elif step.kind == "confirm" or step.kind == "submit":
            rows.append([Button(self._confirm_label(step), data("=ok"))])
        elif step.kind == "model":
            rows.extend(self._manufacturer_rows(job.id, 0))
        elif step.kind == "location" and step.source == "gps":
            reply.keyboard = "location"
            reply.keyboard_label = self.t("step.gps.button")
        current = view.answers.get(slot.key)
        if current is not None and step.kind not in ("confirm", "submit"):
            label = self.t("option.keep", value=shorten(self.describe(slot, current), 28))
            rows.append([Button(label, data("=keep"))])
        elif step.reuse:
            previous = await self._previous_answer(job, slot.key)
            if previous is not None:
                label = self.t("option.reuse", value=shorten(self.describe(slot, previous), 24))
                rows.append([Button(label, data("=reuse"))])
        if step.optional:
            skip = [Button(self.t("option.skip"), data("=skip"))]
            if step.group and self._rest_of_group(view, slot):
                skip.append(Button(self.t("option.skip_rest"), data("=skiprest")))
            rows.append(skip)
        return reply

    def _rest_of_group(self, view: JobView, slot: Slot) -> list[Slot]:
        after = view.slots[view.slots.index(slot) + 1:]
        return [s for s in after if s.step.group == slot.step.group and s.key not in view.answers]

    def _pending_prompt(self, view: JobView) -> Reply:
        pending = view.job.pending or {}
        job_id, key = view.job.id, pending["step"]
        text = self.t(pending["text"], **pending.get("values", {}))
        yes, no = pending.get("yes", "option.use_anyway"), pending.get("no", "option.send_again")
        rows = [[Button(self.t(yes), f"a:{job_id}:{key}:=warnok"),
                 Button(self.t(no), f"a:{job_id}:{key}:=warnno")]]
        return Reply(f"{self.header(view)}\n{text}", rows, prompt=True)

    def _manufacturer_rows(self, job_id: int, page: int) -> list[list[Button]]:
        mfs = self.catalog.manufacturers
        pages = max(1, math.ceil(len(mfs) / MODELS_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        shown = mfs[page * MODELS_PER_PAGE:(page + 1) * MODELS_PER_PAGE]
        buttons = [Button(mf.name, f"m:{job_id}:{mf.id}:0") for mf in shown]
        rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        nav = []
        if page > 0:
            nav.append(Button(self.t("option.less"), f"m:{job_id}:-:{page - 1}"))
        if page < pages - 1:
            nav.append(Button(self.t("option.more"), f"m:{job_id}:-:{page + 1}"))
        if nav:
            rows.append(nav)
        rows.append([Button(self.t("option.not_listed"), f"c:{job_id}:stop:unsupported_model")])
        return rows

    def _model_rows(self, job_id: int, models: list[Model]) -> list[list[Button]]:
        rows = [[Button(m.full_name, f"a:{job_id}:model:{m.id}")] for m in models]
        rows.append([Button(self.t("option.back_to_manufacturers"), f"m:{job_id}:-:0")])
        return rows

    async def _previous_answer(self, job: Job, key: str) -> Answer | None:
        for other in reversed(await self.store.visit_jobs(job.visit_id)):
            if other.id >= job.id:
                continue
            answer = (await self.store.answers(other.id)).get(key)
            if answer is not None and answer.value is not None:
                return answer
        return None

    # Starting, resuming, status -------------------------------------------------------

    async def start_job(self, user_id: int, chat_id: int, visit_id: int | None = None) -> Outcome:
        """Open a new job (in the given site visit) and ask its first question."""
        existing = await self.store.open_job(user_id)
        if existing is not None:
            view = await self.view(existing)
            button = Button(self.t("job.continue", job=existing.id), f"c:{existing.id}:cont")
            text = self.t("job.open_exists", job=existing.id, index=view.index,
                          total=len(view.slots))
            return Outcome([Reply(text, [[button]])], job_id=existing.id)
        job = await self.store.create_job(user_id, chat_id, visit_id)
        view = await self.view(job)
        intro = Reply(self.t("job.created", job=job.id))
        return Outcome([intro, await self.prompt(view)], job_id=job.id)

    async def resume(self, user_id: int) -> Outcome:
        """Ask the open job's current question again (after /start or a restart)."""
        view = await self.open_view(user_id)
        if view is None:
            return Outcome([Reply(self.t("job.none"))])
        intro = Reply(self.t("job.resumed", job=view.job.id))
        return Outcome([intro, await self.prompt(view)], job_id=view.job.id)

    async def help(self, user_id: int) -> Outcome:
        """Explain the current step."""
        view = await self.open_view(user_id)
        if view is None or view.current is None:
            return Outcome([Reply(self.t("errors.help_none"))])
        key = f"step.{view.current.step.id}.help"
        text = self.t(key, **self._values(view, view.current))
        return Outcome([Reply(f"{self.header(view)}\nℹ️ {text}")], job_id=view.job.id)

    async def status(self, user_id: int) -> Outcome:
        """Where the open job stands, and the installer's recent jobs."""
        tz = self.settings.tz
        replies = []
        view = await self.open_view(user_id)
        if view is not None and view.current is not None:
            part = self.t(f"part.{view.current.step.part}")
            replies.append(Reply(self.t(
                "job.status", job=view.job.id, state=self.t("state.open"), part=part,
                index=view.index, total=len(view.slots),
                bar=progress_bar(view.index, len(view.slots)),
                started=view.job.created_at.astimezone(tz).strftime("%d %b %H:%M"),
            )))
        recent = [j for j in await self.store.jobs_of(user_id, 10) if j.status != OPEN]
        if recent:
            lines = [self.t("job.status_recent")]
            for job in recent:
                when = (job.submitted_at or job.updated_at).astimezone(tz).strftime("%d %b %H:%M")
                lines.append(self.t("job.status_line", job=job.id,
                                    state=self.t(f"state.{job.status}"), when=when))
            replies.append(Reply("\n".join(lines)))
        if not replies:
            replies.append(Reply(self.t("job.none")))
        return Outcome(replies, job_id=view.job.id if view else None)

    async def back(self, user_id: int) -> Outcome:
        """Go one question back (a pending confirmation is dropped first)."""
        view = await self.open_view(user_id)
        if view is None or view.current is None:
            return Outcome([Reply(self.t("job.none"))])
        job = view.job
        if job.pending:
            await self.store.update_job(job.id, pending=None)
        else:
            position = view.slots.index(view.current)
            if position == 0:
                return Outcome([Reply(self.t("job.no_back"))], job_id=job.id)
            target = view.slots[position - 1]
            await self.store.update_job(job.id, cursor=target.key)
            await self.store.audit(user_id, job.id, "back", {"to": target.key})
        view = await self.view(await self._job(job.id))
        return Outcome([await self.prompt(view)], job_id=job.id,
                       retire=self._retire(job, "↩"))

    async def cancel(self, user_id: int) -> Outcome:
        """Ask to confirm cancelling the open job."""
        job = await self.store.open_job(user_id)
        if job is None:
            return Outcome([Reply(self.t("job.none"))])
        rows = [[Button(self.t("job.cancel_yes", job=job.id), f"c:{job.id}:cancel")],
                [Button(self.t("job.cancel_no"), f"c:{job.id}:keep")]]
        return Outcome([Reply(self.t("job.cancel_confirm", job=job.id), rows)], job_id=job.id)

    async def remember_prompt(self, job_id: int, message_id: int | None) -> None:
        """Note the message whose buttons belong to the job's current question."""
        await self.store.update_job(job_id, prompt_message_id=message_id)

    async def _job(self, job_id: int) -> Job:
        job = await self.store.job(job_id)
        assert job is not None
        return job

    def _retire(self, job: Job, mark: str) -> tuple[int, str] | None:
        return (job.prompt_message_id, mark) if job.prompt_message_id else None

    # Messages -------------------------------------------------------------------------

    async def handle(self, user_id: int, inp: Input) -> Outcome:
        """An installer's message: an answer to the current question, or not."""
        view = await self.open_view(user_id)
        if view is None or view.current is None:
            return Outcome([Reply(self.t("job.none"))])
        slot, job = view.current, view.job
        kind = slot.step.kind
        if job.pending:
            return self._wrong_kind(view, "choice")
        if inp.kind == "text" and kind == "text":
            return await self._typed(view, slot, inp.text or "", user_id)
        if inp.kind == "text" and kind == "model":
            return self._search_models(view, inp.text or "")
        if inp.kind == "text" and kind == "address":
            return await self._address_search(view, inp.text or "")
        if inp.kind == "photo" and kind == "photo":
            assert inp.photo is not None
            return await self._photo(view, slot, inp.photo, user_id)
        if inp.kind == "photo" and slot.step.reader and self.reader is not None:
            assert inp.photo is not None
            return await self._read_code(view, slot, inp.photo, user_id)
        if inp.kind == "location" and kind == "location":
            assert inp.location is not None
            return await self._location(view, slot, inp.location, user_id)
        return self._wrong_kind(view, inp.kind)

    def _wrong_kind(self, view: JobView, received: str) -> Outcome:
        assert view.current is not None
        step = view.current.step
        expected = {"checklist": "choice"}.get(step.kind, step.kind)
        if view.job.pending:
            expected = "choice"
        if expected == "location":
            expected = f"location_{step.source}"
        if expected == "photo" and received == "document":
            expected = "document"
        line = self.t(f"wrong_kind.{expected}")
        return Outcome([Reply(line)], job_id=view.job.id)

    def _search_models(self, view: JobView, query: str) -> Outcome:
        found = self.catalog.search(query)
        job_id = view.job.id
        if not found:
            text = self.t("step.model.search_none", query=shorten(query, 40))
            return Outcome([Reply(text, self._manufacturer_rows(job_id, 0))], job_id=job_id)
        text = self.t("step.model.search_results", query=shorten(query, 40))
        return Outcome([Reply(text, self._model_rows(job_id, found))], job_id=job_id)

    async def _typed(self, view: JobView, slot: Slot, raw: str, user_id: int) -> Outcome:
        validator = VALIDATORS[slot.step.validator or "short_text"]
        context = Context(view.model, {k: a.value for k, a in view.answers.items()})
        try:
            value = validator(raw, context)
        except Invalid as problem:
            return await self._refuse(view, slot, problem, user_id)
        warning = await self._mac_reuse(view, slot, value)
        if warning:
            return await self._hold(view, slot, value, "typed", warning, user_id)
        return await self._accept(view, slot, value, "typed", user_id)

    async def _refuse(self, view: JobView, slot: Slot, problem: Invalid, user_id: int) -> Outcome:
        job = view.job
        rows = []
        if problem.flag:
            await self._flag(job.id, problem.flag, slot.key, problem.values, user_id)
        if problem.block:
            rows.append([Button(self.t("option.stop_job"),
                                f"c:{job.id}:stop:{problem.flag or slot.key}")])
        text = self.t(problem.key, **problem.values)
        return Outcome([Reply(text, rows)], job_id=job.id)

    async def _mac_reuse(self, view: JobView, slot: Slot, value: Any) -> dict[str, Any] | None:
        if slot.key != "mac":
            return None
        others = await self.store.jobs_with_answer("mac", value, exclude=view.job.id)
        if not others:
            return None
        return {"text": "step.mac.reused", "values": {"job": others[0]}, "flag": "mac_reused"}

    async def _photo(
        self, view: JobView, slot: Slot, photo: PhotoInput, user_id: int
    ) -> Outcome:
        limit = self.settings.photo_max_bytes
        if photo.file_size and photo.file_size > limit:
            size = round(photo.file_size / 1_048_576, 1)
            return Outcome([Reply(self.t("photo.too_big", size=size, max=limit // 1_048_576))],
                           job_id=view.job.id)
        data = await photo.load()
        try:
            facts = await asyncio.to_thread(inspect_photo, data, self.settings.tz)
            check_photo(facts, min_side=self.settings.photo_min_side_px,
                        landscape=slot.step.landscape)
        except Invalid as problem:
            return await self._refuse(view, slot, problem, user_id)
        photo_id = await self.store.add_photo(
            view.job.id, slot.key, file_id=photo.file_id, file_unique_id=photo.file_unique_id,
            sha256=facts.sha256, width=facts.width, height=facts.height, bytes=facts.bytes,
            format=facts.format, as_file=photo.as_file, exif_lat=facts.exif_lat,
            exif_lon=facts.exif_lon, exif_taken_at=facts.exif_taken_at,
        )
        value = {"photo": photo_id, "file_id": photo.file_id, "width": facts.width,
                 "height": facts.height, "sha256": facts.sha256}
        warning = self._exif_warning(view, facts.exif_lat, facts.exif_lon, facts.exif_taken_at)
        if warning:
            return await self._hold(view, slot, value, "photo", warning, user_id)
        return await self._accept(view, slot, value, "photo", user_id)

    def _known_location(self, view: JobView) -> tuple[float, float] | None:
        for key in ("gps", "pin"):
            value = view.value(key)
            if value:
                return (value["lat"], value["lon"])
        return None

    def _exif_warning(
        self, view: JobView, lat: float | None, lon: float | None, taken: datetime | None,
        where: tuple[float, float] | None = None,
    ) -> dict[str, Any] | None:
        where = where or self._known_location(view)
        if lat is not None and lon is not None and where is not None:
            far = distance_m((lat, lon), where)
            if far > self.settings.exif_max_distance_m:
                return {"text": "photo.exif_far", "values": {"distance": round(far / 1000, 1)},
                        "flag": "photo_far"}
        if taken is not None:
            age = view.job.created_at - taken
            if age > timedelta(hours=self.settings.exif_max_age_hours):
                return {"text": "photo.exif_old", "values": {"age": _age_text(age)},
                        "flag": "photo_old"}
        return None

    async def _location(
        self, view: JobView, slot: Slot, loc: LocationInput, user_id: int
    ) -> Outcome:
        value = {"lat": loc.lat, "lon": loc.lon, "accuracy": loc.accuracy, "live": loc.live}
        warning = None
        if slot.step.source == "gps":
            if loc.accuracy is not None and loc.accuracy > self.settings.gps_max_accuracy_m:
                warning = {"text": "step.gps.poor_accuracy",
                           "values": {"accuracy": round(loc.accuracy)},
                           "flag": "gps_poor_accuracy"}
            else:
                warning = await self._photos_far_from(view, (loc.lat, loc.lon))
        elif slot.step.source == "pin":
            warning = self._pin_warning(view, loc)
        if warning:
            return await self._hold(view, slot, value, "location", warning, user_id)
        if slot.step.source == "gps":
            self._prefetch_addresses(loc.lat, loc.lon)
        return await self._accept(view, slot, value, "location", user_id)

    async def live_update(self, user_id: int, loc: LocationInput) -> Outcome:
        """A live location moved: its latest point replaces the answer it gave (silently)."""
        view = await self.open_view(user_id)
        if view is None:
            return Outcome()
        for key in ("gps", "pin"):
            answer = view.answers.get(key)
            if answer is not None and isinstance(answer.value, dict) and answer.value.get("live"):
                value = {**answer.value, "lat": loc.lat, "lon": loc.lon,
                         "accuracy": loc.accuracy if loc.accuracy is not None
                         else answer.value.get("accuracy")}
                await self.store.save_answer(view.job.id, key, value, answer.source)
        return Outcome()

    async def _photos_far_from(
        self, view: JobView, where: tuple[float, float]
    ) -> dict[str, Any] | None:
        for photo in await self.store.photos(view.job.id):
            current = view.value(photo.step)
            if not current or current.get("photo") != photo.id:
                continue
            warning = self._exif_warning(view, photo.exif_lat, photo.exif_lon, None, where)
            if warning:
                warning["redo"] = photo.step
                return warning
        return None

    # Buttons --------------------------------------------------------------------------

    async def press(self, user_id: int, data: str, message_id: int | None = None) -> Outcome:
        """A pressed inline button of the job flow (`a:`, `m:` and `c:` data)."""
        parts = data.split(":")
        try:
            job_id = int(parts[1])
        except (IndexError, ValueError):
            return Outcome(alert=self.t("job.stale_button"))
        job = await self.store.job(job_id)
        if job is None or job.installer_id != user_id:
            return Outcome(alert=self.t("job.not_yours"))
        if parts[0] == "c" and len(parts) >= 3:
            return await self._job_action(job, parts[2], parts[3:], user_id, message_id)
        if job.status != OPEN:
            return Outcome(alert=self.t("job.stale_button"))
        view = await self.view(job)
        if parts[0] == "m" and len(parts) == 4:
            return self._browse(view, parts[2], parts[3])
        if parts[0] == "a" and len(parts) == 4:
            return await self._answer_button(view, parts[2], parts[3], user_id, message_id)
        return Outcome(alert=self.t("job.stale_button"))

    def _browse(self, view: JobView, manufacturer_id: str, page: str) -> Outcome:
        if view.current is None or view.current.step.kind != "model" or view.job.pending:
            return Outcome(alert=self.t("job.stale_button"))
        job_id = view.job.id
        prompt = f"{self.header(view)}\n{self.t('step.model.prompt')}"
        if manufacturer_id == "-":
            rows = self._manufacturer_rows(job_id, int(page) if page.isdigit() else 0)
            return Outcome(edit=Reply(prompt, rows, prompt=True), job_id=job_id)
        manufacturer = self.catalog.manufacturer(manufacturer_id)
        if manufacturer is None:
            return Outcome(alert=self.t("job.stale_button"))
        text = f"{self.header(view)}\n" + self.t("step.model.models",
                                                  manufacturer=manufacturer.name)
        return Outcome(edit=Reply(text, self._model_rows(job_id, list(manufacturer.models)),
                                  prompt=True), job_id=job_id)

    async def _answer_button(
        self, view: JobView, key: str, option: str, user_id: int, message_id: int | None
    ) -> Outcome:
        slot, job = view.current, view.job
        pending = job.pending
        if slot is None or slot.key != key or (pending and pending["step"] != key):
            return Outcome(alert=self.t("job.stale_button"))
        if pending:
            if option not in ("=warnok", "=warnno"):
                return Outcome(alert=self.t("job.stale_button"))
            return await self._settle(view, slot, option == "=warnok", user_id, message_id)
        step = slot.step
        if option == "=keep" and key in view.answers:
            await self.store.update_job(job.id, cursor=None)
            outcome = await self._next(job.id, [])
            outcome.retire = self._mark(message_id, self.describe(slot, view.answers[key]))
            return outcome
        if option == "=reuse" and step.reuse:
            previous = await self._previous_answer(job, key)
            if previous is not None:
                return await self._accept(view, slot, previous.value, "reuse", user_id,
                                          message_id)
        if option == "=skip" and step.optional:
            return await self._accept(view, slot, None, "skip", user_id, message_id)
        if option == "=skiprest" and step.optional:
            rest = self._rest_of_group(view, slot)
            async with self.store.transaction():
                for other in rest:
                    await self.store.save_answer(job.id, other.key, None, "skip")
            return await self._accept(view, slot, None, "skip", user_id, message_id)
        if option == "=ok" and step.kind == "confirm":
            return await self._accept(view, slot, True, "button", user_id, message_id)
        if option == "=ok" and step.kind == "submit":
            return await self._submit(view, user_id, message_id)
        if step.kind == "model" and self.catalog.model(option):
            return await self._accept(view, slot, option, "button", user_id, message_id)
        if step.kind == "address":
            return await self._address_button(view, slot, option, user_id, message_id)
        if step.kind in ("choice", "checklist"):
            return await self._choose(view, slot, option, user_id, message_id)
        return Outcome(alert=self.t("job.stale_button"))

    async def _choose(
        self, view: JobView, slot: Slot, option_id: str, user_id: int, message_id: int | None
    ) -> Outcome:
        step, job = slot.step, view.job
        if slot.item is not None:
            if option_id not in ("yes", "no"):
                return Outcome(alert=self.t("job.stale_button"))
            if option_id == "no":
                item = self.t(f"checklist.{slot.item.id}")
                await self._flag(job.id, "checklist_failed", slot.key, {"item": slot.item.id},
                                 user_id)
                if slot.item.critical:
                    return self._blocked(job, "step.checklist.blocked", "checklist_failed",
                                         step, {"item": item})
                outcome = await self._accept(view, slot, option_id, "button", user_id,
                                             message_id, keep_flags=True)
                outcome.replies.insert(0, Reply(self.t("step.checklist.flagged", item=item)))
                return outcome
            return await self._accept(view, slot, option_id, "button", user_id, message_id)
        option = step.option(option_id)
        if option is None:
            return Outcome(alert=self.t("job.stale_button"))
        if option.flag:
            await self._flag(job.id, option.flag, slot.key, {}, user_id)
        if option.block:
            return self._blocked(job, f"step.{step.id}.blocked", option.flag or step.id, step, {})
        if option.goto:
            await self.store.audit(user_id, job.id, "answer", {"step": slot.key,
                                                               "value": option_id})
            await self._clear(job, [option.goto])
            outcome = await self._next(job.id, [])
            outcome.retire = self._mark(message_id, self.option_label(step, option_id))
            return outcome
        return await self._accept(view, slot, option_id, "button", user_id, message_id,
                                  keep_flags=bool(option.flag))

    async def _flag(self, job_id: int, kind: str, step: str | None, detail: dict[str, Any],
                    user_id: int) -> None:
        """Record a flag, and in the audit trail (which keeps it even if the answer changes)."""
        await self.store.add_flag(job_id, kind, step, detail)
        await self.store.audit(user_id, job_id, "flag", {"kind": kind, "step": step, **detail})

    def _blocked(self, job: Job, text_key: str, reason: str, step: Step,
                 values: dict[str, Any]) -> Outcome:
        rows = [[Button(self.t("option.stop_job"), f"c:{job.id}:stop:{reason}")]]
        return Outcome([Reply(self.t(text_key, **values), rows)], job_id=job.id,
                       alert=self.t("flag." + reason) if self.texts.has("flag." + reason)
                       else None)

    # Storing answers ------------------------------------------------------------------

    def _mark(self, message_id: int | None, label: str) -> tuple[int, str] | None:
        if message_id is None:
            return None
        return (message_id, self.t("answered.mark", value=shorten(label, 60)))

    def _dependant_keys(self, keys: list[str], answers: dict[str, Any]) -> list[str]:
        steps: list[str] = []
        for key in keys:
            base = key.split(".")[0]
            steps.extend([base, *self.procedure.dependants(base)])
        return [k for k in answers if k in steps or k.split(".")[0] in steps]

    async def _clear(self, job: Job, keys: list[str]) -> None:
        answers = await self.store.answers(job.id)
        doomed = set(self._dependant_keys(keys, answers)) | set(keys)
        async with self.store.transaction():
            await self.store.clear_answers(job.id, sorted(doomed))
            await self.store.update_job(job.id, cursor=None, pending=None)

    async def _hold(
        self, view: JobView, slot: Slot, value: Any, source: str, warning: dict[str, Any],
        user_id: int,
    ) -> Outcome:
        """Keep an answer aside until the installer confirms a warning about it."""
        pending = {"step": slot.key, "value": value, "source": source, **warning}
        await self.store.update_job(view.job.id, pending=pending)
        await self.store.audit(user_id, view.job.id, "warning",
                               {"step": slot.key, "text": warning["text"]})
        view = await self.view(await self._job(view.job.id))
        return Outcome([await self.prompt(view)], job_id=view.job.id,
                       retire=self._retire(view.job, self.t(f"answered.{source}")
                                           if self.texts.has(f"answered.{source}") else "✓"))

    async def _settle(
        self, view: JobView, slot: Slot, accepted: bool, user_id: int, message_id: int | None
    ) -> Outcome:
        pending = view.job.pending or {}
        if not accepted:
            await self.store.update_job(view.job.id, pending=None)
            await self.store.audit(user_id, view.job.id, "warning_declined",
                                   {"step": slot.key})
            redo = pending.get("redo")
            acks: list[Reply] = []
            if redo:
                shown = await self._save(view, slot, pending["value"], pending["source"],
                                         user_id, keep_flags=False)
                acks = self._acks(slot, shown)
                await self._clear(view.job, [redo])
            outcome = await self._next(view.job.id, acks)
            outcome.retire = self._mark(message_id, self.t("option.send_again"))
            return outcome
        if pending.get("flag"):
            await self.store.add_flag(view.job.id, pending["flag"],
                                      pending.get("redo") or slot.key, pending.get("values", {}))
            await self.store.audit(user_id, view.job.id, "warning_accepted",
                                   {"step": slot.key, "flag": pending["flag"]})
        shown = await self._save(view, slot, pending["value"], pending["source"], user_id,
                                 keep_flags=True)
        for step, value in (pending.get("extra") or {}).items():
            await self.store.save_answer(view.job.id, step, value, pending["source"])
        outcome = await self._next(view.job.id, self._acks(slot, shown))
        outcome.retire = self._mark(message_id, self.t(pending.get("yes", "option.use_anyway")))
        return outcome

    async def _accept(
        self, view: JobView, slot: Slot, value: Any, source: str, user_id: int,
        message_id: int | None = None, keep_flags: bool = False,
    ) -> Outcome:
        """Store an answer (clearing what depended on an older one) and ask the next."""
        shown = await self._save(view, slot, value, source, user_id, keep_flags)
        outcome = await self._next(view.job.id, self._acks(slot, shown))
        outcome.retire = (
            self._mark(message_id, shown) if message_id is not None
            else self._retire(view.job, self.t("answered.mark", value=shorten(shown)))
        )
        return outcome

    async def _save(
        self, view: JobView, slot: Slot, value: Any, source: str, user_id: int,
        keep_flags: bool,
    ) -> str:
        """Write the answer, its audit entry, and clear what depended on an older answer."""
        job = view.job
        previous = view.answers.get(slot.key)
        shown = self.describe(slot, Answer(slot.key, value, source, job.updated_at))
        async with self.store.transaction():
            if previous is not None and previous.value != value:
                dependants = [k for k in self._dependant_keys([slot.key], view.answers)
                              if k != slot.key]
                await self.store.clear_answers(job.id, dependants)
            if not keep_flags:
                await self.store.clear_flags(job.id, slot.key)
            await self.store.save_answer(job.id, slot.key, value, source)
            action = "safety_confirmed" if slot.step.safety else "answer"
            await self.store.audit(user_id, job.id, action,
                                   {"step": slot.key, "value": shown, "source": source})
            await self.store.update_job(job.id, cursor=None, pending=None)
        return shown

    def _acks(self, slot: Slot, shown: str) -> list[Reply]:
        """A note that takes the share-location keyboard away once the GPS fix is in."""
        if slot.step.kind == "location" and slot.step.source == "gps":
            return [Reply(self.t("answered.mark", value=shown), keyboard="remove")]
        return []

    async def _next(self, job_id: int, replies: list[Reply]) -> Outcome:
        view = await self.view(await self._job(job_id))
        return Outcome([*replies, await self.prompt(view)], job_id=job_id)

    async def _submit(self, view: JobView, user_id: int, message_id: int | None) -> Outcome:
        job = view.job
        missing = [s.key for s in view.slots if s.step.kind != "submit" and
                   s.key not in view.answers]
        if missing:
            await self.store.update_job(job.id, cursor=None)
            return await self._next(job.id, [])
        now = self.store.now()
        async with self.store.transaction():
            await self.store.save_answer(job.id, "submit", True, "button")
            await self.store.update_job(job.id, status=SUBMITTED, submitted_at=now, cursor=None,
                                        reopened_part=None)
            await self.store.audit(user_id, job.id, "submitted", {})
        rows = [[Button(self.t("job.next_same_site"), f"c:{job.id}:next")],
                [Button(self.t("job.done_for_now"), f"c:{job.id}:done")]]
        notified = self.settings.support_chat_id is not None or self.settings.paging_webhooks
        replies = [Reply(self.t("job.submitted" if notified else "job.submitted_unseen",
                                job=job.id)),
                   Reply(self.t("job.next_station"), rows)]
        return Outcome(replies, job_id=job.id, events=[("submitted", job.id)],
                       retire=self._mark(message_id, self.t("step.submit.button")))

    # Job-level buttons ----------------------------------------------------------------

    async def _job_action(
        self, job: Job, action: str, args: list[str], user_id: int, message_id: int | None
    ) -> Outcome:
        mark = lambda label: self._mark(message_id, label)  # noqa: E731
        if action == "fix":
            return await self._fix(job, user_id, message_id)
        if action == "cont":
            if job.status != OPEN:
                return Outcome(alert=self.t("job.stale_button"))
            return await self._next(job.id, [])
        if action in ("next", "done"):
            if job.status == OPEN:
                return Outcome(alert=self.t("job.stale_button"))
            if action == "done":
                return Outcome([Reply(self.t("job.done_ack"))],
                               retire=mark(self.t("job.done_for_now")))
            outcome = await self.start_job(user_id, job.chat_id, job.visit_id)
            outcome.retire = mark(self.t("job.next_same_site"))
            return outcome
        if job.status != OPEN:
            return Outcome(alert=self.t("job.stale_button"))
        if action == "keep":
            return Outcome([Reply(self.t("job.cancel_kept", job=job.id))],
                           retire=mark(self.t("job.cancel_no")))
        if action == "cancel":
            await self._close(job, CANCELLED, None, user_id)
            return Outcome([Reply(self.t("job.cancelled", job=job.id), keyboard="remove")],
                           retire=mark(self.t("job.cancel_yes", job=job.id)), job_id=job.id)
        if action == "stop" and args:
            reason = args[0]
            rows = [[Button(self.t("job.stop_yes", job=job.id), f"c:{job.id}:stopyes:{reason}")],
                    [Button(self.t("job.cancel_no"), f"c:{job.id}:keep")]]
            label = self.t(f"flag.{reason}") if self.texts.has(f"flag.{reason}") else reason
            return Outcome([Reply(self.t("job.stop_confirm", job=job.id, reason=label), rows)],
                           job_id=job.id)
        if action == "stopyes" and args:
            await self._close(job, STOPPED, args[0], user_id)
            await self._flag(job.id, args[0], None, {}, user_id)
            return Outcome([Reply(self.t("job.stopped", job=job.id), keyboard="remove")],
                           retire=mark(self.t("job.stop_yes", job=job.id)), job_id=job.id,
                           events=[("stopped", job.id)])
        return Outcome(alert=self.t("job.stale_button"))

    async def _fix(self, job: Job, user_id: int, message_id: int | None) -> Outcome:
        """Reopen a rejected job at exactly the part support named."""
        if job.status != REJECTED or not job.reopened_part:
            return Outcome(alert=self.t("job.stale_button"))
        other = await self.store.open_job(user_id)
        if other is not None:
            return Outcome([Reply(self.t("support.fix_other_open", job=other.id))])
        view = await self.view(job)
        redo = [s.key for s in view.slots if s.step.part == job.reopened_part]
        await self._clear(job, [*redo, "submit"])
        await self.store.update_job(job.id, status=OPEN)
        await self.store.audit(user_id, job.id, "reopened", {"part": job.reopened_part})
        part = self.t(f"part.{job.reopened_part}")
        outcome = await self._next(job.id, [Reply(self.t("support.fix_started", job=job.id,
                                                         part=part))])
        outcome.retire = self._mark(message_id, self.t("support.fix_now", job=job.id))
        return outcome

    async def jobs(self, user_id: int) -> Outcome:
        """The installer's recent jobs with their states; rejected ones offer a fix."""
        tz = self.settings.tz
        jobs = await self.store.jobs_of(user_id, 10)
        if not jobs:
            return Outcome([Reply(self.t("job.none"))])
        lines, rows = [self.t("job.status_recent")], []
        for job in jobs:
            when = (job.submitted_at or job.updated_at).astimezone(tz).strftime("%d %b %H:%M")
            lines.append(self.t("job.status_line", job=job.id,
                                state=self.t(f"state.{job.status}"), when=when))
            if job.status == REJECTED:
                rows.append([Button(self.t("support.fix_now", job=job.id), f"c:{job.id}:fix")])
        return Outcome([Reply("\n".join(lines), rows)])

    async def _close(self, job: Job, status: str, reason: str | None, user_id: int) -> None:
        async with self.store.transaction():
            await self.store.update_job(job.id, status=status, stop_reason=reason,
                                        closed_at=self.store.now(), pending=None, cursor=None)
            await self.store.audit(user_id, job.id, status, {"reason": reason})


def _age_text(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} days"
