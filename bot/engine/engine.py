"""The engine: walks the procedure for one job at a time.

Given a job and an input (or a pressed button), it validates, stores the answer, and
returns the next question as an `Outcome`. Where the installer is follows from the stored
answers: the current step is the first applicable step without an answer, unless `/back`
set a cursor on an earlier one. Nothing here knows about Telegram.

The engine is a facade over its collaborators: `Records` (job views, words), `Recorder`
(storing answers), `Checks`, `AddressSteps`, `CodeReading`, `JobActions`, and the step kinds
(`bot.engine.kinds`), which it asks for each step's question, input and buttons.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import Settings
from bot.engine import buttons
from bot.engine.addresses import AddressSteps
from bot.engine.buttons import Browse, Choose, JobAction, PickAddress, Say, Special
from bot.engine.catalog import Catalog, Model
from bot.engine.caution import Pending
from bot.engine.checks import Checks
from bot.engine.codes import CodeReading
from bot.engine.interaction import Button, Input, LocationInput, Outcome, Reply
from bot.engine.jobs import JobActions
from bot.engine.keyboards import Keyboards
from bot.engine.kinds import KINDS, Desk, Kind, Registry
from bot.engine.plan import JobView, Slot, cursor_without, shorten
from bot.engine.procedure import Procedure
from bot.engine.recording import OnSubmit, Recorder
from bot.engine.records import Records
from bot.places import AddressFinder
from bot.store import OPEN, Answer, Job, LiveKeyboards, Store
from bot.texts import Texts
from bot.vision.sticker import StickerReader

StepAction = Choose | Say | PickAddress | Browse
ASKED_BEFORE = "*"  # jobs from before questions were tracked: their question counts as asked


class Engine:
    """Walks the procedure: one instance per bot, shared by all installers."""

    def __init__(
        self, store: Store, procedure: Procedure, catalog: Catalog, texts: Texts,
        settings: Settings, finder: AddressFinder | None = None,
        reader: StickerReader | None = None, kinds: Registry = KINDS,
        on_submit: OnSubmit | None = None,
    ) -> None:
        self.store = store
        self.procedure = procedure
        self.catalog = catalog
        self.texts = texts
        self.settings = settings
        self.kinds = kinds
        self.records = Records(store, procedure, catalog, texts, settings, kinds)
        self.recorder = Recorder(self.records, self.prompt, on_submit)
        checks = Checks(self.records)
        self.addresses = AddressSteps(self.records, self.recorder, finder)
        self.desk = Desk(self.records, self.recorder, checks, self.addresses,
                         CodeReading(self.records, self.recorder, checks, reader))
        self.actions = JobActions(self.records, self.recorder)
        self.keyboards = Keyboards(store)

    # Loading and words ----------------------------------------------------------------

    def plan(self, answers: dict[str, Answer], model: Model | None) -> list[Slot]:
        """The applicable questions for these answers, in order."""
        return self.records.plan(answers, model)

    async def view(self, job: Job) -> JobView:
        """Load a job's answers and work out its plan and current question."""
        return await self.records.view(job)

    async def open_view(self, user_id: int) -> JobView | None:
        """The installer's open job, loaded, or None."""
        return await self.records.open_view(user_id)

    def t(self, key: str, **values: object) -> str:
        """A text with the network's name available to every template."""
        return self.records.t(key, **values)

    def kind(self, slot: Slot) -> Kind:
        """The kind of a question's step."""
        return self.kinds[slot.step.kind]

    # Prompts --------------------------------------------------------------------------

    async def prompt(self, view: JobView) -> Reply:
        """The current question of the job, with its buttons."""
        slot = view.current
        if slot is None:
            return Reply(self.t("job.none"))
        if view.job.pending:
            return self._pending_prompt(view)
        job, step, kind = view.job, slot.step, self.kind(slot)
        reply = await kind.question(self.desk, view, slot)
        reply.text = f"{self.records.header(view)}\n{reply.text}"
        reply.prompt = True
        reply.asks = self.asking(view)
        rows = reply.buttons
        say = lambda special: buttons.encode(Say(job.id, slot.key, special))  # noqa: E731
        current = view.answers.get(slot.key)
        if current is not None and kind.keeps:
            label = self.t("option.keep", value=shorten(self.records.describe(slot, current), 40))
            rows.append([Button(label, say(Special.KEEP))])
        elif step.reuse:
            previous = await self.records.previous_answer(job, slot.key)
            if previous is not None:
                label = self.t("option.reuse",
                               value=shorten(self.records.describe(slot, previous), 24))
                rows.append([Button(label, say(Special.REUSE))])
        if step.optional:
            skip = [Button(self.t("option.skip"), say(Special.SKIP))]
            if step.group and self.records.rest_of_group(view, slot):
                skip.append(Button(self.t("option.skip_rest"), say(Special.SKIP_REST)))
            rows.append(skip)
        return reply

    def _pending_prompt(self, view: JobView) -> Reply:
        pending = Pending.from_json(view.job.pending or {})
        caution = pending.caution
        say = lambda special: buttons.encode(Say(view.job.id, pending.step, special))  # noqa: E731
        rows = [[Button(self.t(caution.yes), say(Special.CAUTION_YES)),
                 Button(self.t(caution.no), say(Special.CAUTION_NO))]]
        text = self.t(caution.text, **caution.values)
        return Reply(f"{self.records.header(view)}\n{text}", rows, prompt=True,
                     asks=self.asking(view))

    @staticmethod
    def asking(view: JobView) -> str | None:
        """Which question the job waits on: its step key, or "caution:<key>" while a held
        answer waits for the installer's confirmation."""
        if view.current is None:
            return None
        return f"caution:{view.current.key}" if view.job.pending else view.current.key

    async def remember_prompt(self, job_id: int, message_id: int | None, asked: str | None,
                              gone: Sequence[int] = ()) -> LiveKeyboards | None:
        """Note that the job's question `asked` (the prompt's `asks`) was sent, and the
        message whose buttons belong to it (one of the job's live keyboards); the `gone`
        messages' buttons are being taken away (no longer live); the job's live keyboards as
        now stored."""
        return await self.store.remember_prompt(job_id, message_id, asked, gone)

    async def owed_questions(self) -> list[tuple[int, Outcome]]:
        """Open jobs whose current question was never sent (the bot stopped between storing
        an answer and asking the next): each one's chat, and a line saying so with the
        question. A job is owed its question exactly when the question it waits on is not
        the one last sent; bookkeeping (reminders, the remembered message) never counts."""
        owed = []
        for job in await self.store.open_jobs():
            if job.asked == ASKED_BEFORE:
                continue
            view = await self.view(job)
            if view.current is None or self.asking(view) == job.asked:
                continue
            outcome = Outcome([Reply(self.t("job.interrupted")), await self.prompt(view)],
                              job_id=job.id, retire=self.recorder.retire(job, ""))
            owed.append((job.chat_id, outcome))
        return owed

    # Job-level commands ---------------------------------------------------------------

    async def start_job(self, user_id: int, chat_id: int, visit_id: int | None = None) -> Outcome:
        """Open a new job (in the given site visit) and ask its first question."""
        return await self.actions.start_job(user_id, chat_id, visit_id)

    async def resume(self, user_id: int) -> Outcome:
        """Ask the open job's current question again (after /start or a restart)."""
        return await self.actions.resume(user_id)

    async def status(self, user_id: int) -> Outcome:
        """Where the open job stands, and the installer's recent jobs."""
        return await self.actions.status(user_id)

    async def jobs(self, user_id: int) -> Outcome:
        """The installer's recent jobs with their states; rejected ones offer a fix."""
        return await self.actions.jobs(user_id)

    async def back(self, user_id: int) -> Outcome:
        """Go one question back (a pending confirmation is dropped first)."""
        return await self.actions.back(user_id)

    async def cancel(self, user_id: int) -> Outcome:
        """Ask to confirm cancelling the open job."""
        return await self.actions.cancel(user_id)

    async def live_update(self, user_id: int, loc: LocationInput) -> Outcome:
        """A live location moved: its latest point replaces the answer it gave (silently)."""
        return await self.actions.live_update(user_id, loc)

    async def help(self, user_id: int) -> Outcome:
        """Explain the current step."""
        view = await self.open_view(user_id)
        if view is None or view.current is None:
            return Outcome([Reply(self.t("errors.help_none"))])
        text = self.kind(view.current).help(self.desk, view, view.current)
        return Outcome([Reply(f"{self.records.header(view)}\nℹ️ {text}")], job_id=view.job.id)

    async def close(self) -> None:
        """Stop address look-ups still running in the background, and the photo pool."""
        await self.addresses.close()
        self.desk.checks.close()

    # Messages -------------------------------------------------------------------------

    async def handle(self, user_id: int, inp: Input) -> Outcome:
        """An installer's message: an answer to the current question, or not."""
        view = await self.open_view(user_id)
        if view is None or view.current is None:
            return Outcome([Reply(self.t("job.none"))])
        if not view.job.pending:
            taken = await self.kind(view.current).take(self.desk, view, view.current, inp,
                                                       user_id)
            if taken is not None:
                return taken
        return self._wrong_kind(view, inp.kind)

    def _wrong_kind(self, view: JobView, received: str) -> Outcome:
        assert view.current is not None
        expected = ("choice" if view.job.pending
                    else self.kind(view.current).expects(view.current.step, received))
        return Outcome([Reply(self.t(f"wrong_kind.{expected}"))], job_id=view.job.id)

    # Buttons --------------------------------------------------------------------------

    async def press(self, user_id: int, data: str, message_id: int | None = None) -> Outcome:
        """A pressed inline button of the job flow (see `bot.engine.buttons`); one that acts
        on an old state changes nothing and loses its buttons."""
        outcome = await self._press(user_id, data, message_id)
        stale = self.t("job.stale_button")
        if (outcome.alert == stale and message_id is not None and not outcome.replies
                and outcome.retire is None):
            outcome.retire = (message_id, "")
        return outcome

    async def _press(self, user_id: int, data: str, message_id: int | None) -> Outcome:
        action = buttons.decode(data)
        if not isinstance(action, Choose | Say | PickAddress | Browse | JobAction):
            return Outcome(alert=self.t("job.stale_button"))
        if isinstance(action, JobAction):
            job = await self.store.job(action.job)
            if job is None or job.installer_id != user_id:
                return Outcome(alert=self.t("job.not_yours"))
            return await self.actions.press(job, action, user_id, message_id)
        view = await self.records.find_view(action.job)  # the job and its answers at once
        if view is None or view.job.installer_id != user_id:
            return Outcome(alert=self.t("job.not_yours"))
        if view.job.status != OPEN:
            return Outcome(alert=self.t("job.stale_button"))
        return await self._answer(view, action, user_id, message_id)

    async def _answer(self, view: JobView, action: StepAction, user_id: int,
                      message_id: int | None) -> Outcome:
        """A button of the current question: a special answer, else the kind's own."""
        slot, job = view.current, view.job
        stale = Outcome(alert=self.t("job.stale_button"))
        key = getattr(action, "key", slot.key if slot else None)
        pending = Pending.from_json(job.pending) if job.pending else None
        if slot is None or slot.key != key or (pending and pending.step != key):
            return stale
        special = action.special if isinstance(action, Say) else None
        if pending:
            if special not in (Special.CAUTION_YES, Special.CAUTION_NO):
                return stale
            outcome = await self.recorder.settle(view, slot, special is Special.CAUTION_YES,
                                                 user_id, message_id)
            if special is Special.CAUTION_NO:
                return self.kind(slot).declined(self.desk, view, slot, pending.caution, outcome)
            return outcome
        step, recorder = slot.step, self.recorder
        if special is Special.KEEP and slot.key in view.answers:
            await self.store.update_job(job.id, cursor=cursor_without(job.cursor, slot.key))
            outcome = await recorder.next(job.id, [])
            outcome.retire = recorder.mark(message_id,
                                           self.records.describe(slot, view.answers[slot.key]))
            return outcome
        if special is Special.REUSE and step.reuse:
            previous = await self.records.previous_answer(job, slot.key)
            if previous is not None:
                return await recorder.accept(view, slot, previous.value, "reuse", user_id,
                                             message_id)
        if special is Special.SKIP and step.optional:
            return await recorder.accept(view, slot, None, "skip", user_id, message_id)
        if special is Special.SKIP_REST and step.optional:
            rest = {other.key: (None, "skip") for other in self.records.rest_of_group(view, slot)}
            return await recorder.accept(view, slot, None, "skip", user_id, message_id,
                                         extra=rest)
        return await self.kind(slot).press(self.desk, view, slot, action, user_id, message_id)
