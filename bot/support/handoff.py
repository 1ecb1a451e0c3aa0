"""The support hand-off: what support sees, their one-tap decision, paging and the record.

A hand-off is recorded and its pages are queued in the submission's own transaction (the
engine calls `hand_off` inside it); the handlers then post the message (text with
Verify/Reject, the photos as one album, the pin as a venue), part by part, each part's
message remembered (`bot.support.posting`), so an interrupted post is completed later and
nothing is posted twice. Support's decision is taken once — the first press wins, later
ones are told who decided; a member never decides on their own submission unless
`SUPPORT_SELF_REVIEW` allows it — and the installer hears of it at once (or, after an
interruption, from the catch-up: `owed_notices`). A rejection names a reason and what to
redo (`bot.support.rejection`); the installer's "Fix" button reopens exactly that, and the
resubmission's hand-off replies to the previous one. Verified records go to the network's
endpoint through the outbox (or stay local when none is configured).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.engine import buttons, notices
from bot.engine.buttons import (
    JobAction,
    Reject,
    RejectPick,
    RejectReason,
    RejectSend,
    Undo,
    Verb,
    Verify,
)
from bot.engine.interaction import Button, Edit, Notice, Outcome, Reply
from bot.engine.plan import JobView, shorten
from bot.engine.records import Records
from bot.engine.validators import mask_secret
from bot.people.languages import Languages
from bot.people.registration import Person
from bot.places import distance_m
from bot.store import REJECTED, SUBMITTED, VERIFIED, Handoff, Store, User
from bot.support.outbox import Outbox
from bot.support.paging import PageFacts, page_payload, parse_webhooks, resolve_payload
from bot.support.posting import HandoffPoster, address_text, split_lines
from bot.support.rejection import RejectionButtons
from bot.texts import Texts

DETAILS = "details"  # the group of optional details for drivers (data/procedure.toml)
CHECKLIST = "checklist"  # the kind of the checklist's steps


class Support:
    """Hand-offs to support and their decisions."""

    def __init__(self, store: Store, records: Records, texts: Texts, settings: Settings,
                 outbox: Outbox) -> None:
        self.store = store
        self.records = records
        self.procedure = records.procedure
        self.texts = texts
        self.settings = settings
        self.outbox = outbox
        self.webhooks = parse_webhooks(settings.paging_webhooks)
        self.t = texts.get
        self.languages = Languages(store, texts, settings)
        self.posts = HandoffPoster(self)
        self.rejection = RejectionButtons(records.fixes, self.t, self._reason_text)

    def _time(self, when: Any) -> str:
        return self.texts.when(when.astimezone(self.settings.tz) if when else None)

    # Building the hand-off ------------------------------------------------------------

    async def _view(self, job_id: int) -> JobView:
        return await self.records.job_view(job_id)

    async def facts(self, view: JobView, event: str, previous: bool = False,
                    waiting: int | None = None) -> PageFacts:
        """What a page says about this job (no secrets)."""
        installer = await self.store.user(view.job.installer_id)
        address = view.of_role("address")
        return PageFacts(
            event=event, job_id=view.job.id, network=self.settings.network_name,
            installer=installer.name if installer else "?",
            installer_id=(installer.installer_id or "?") if installer else "?",
            station=view.model.full_name if view.model else "?",
            serial=view.of_role("serial") or "", mac=view.of_role("mac") or "",
            address=address_text(address), address_verified=_address_verified(address),
            submitted_at=(view.job.submitted_at or view.job.updated_at).isoformat(),
            resubmission=previous, waiting_minutes=waiting,
        )

    def _distance(self, a: Any, b: Any) -> str:
        if not (isinstance(a, dict) and isinstance(b, dict) and "lat" in a and "lat" in b):
            return "—"
        return self.texts.distance(distance_m((a['lat'], a['lon']), (b['lat'], b['lon'])))

    async def text(self, view: JobView, handoff: Handoff) -> str:
        """The hand-off's HTML: one short line per fact, user input escaped."""
        t, value = self.t, view.of_role
        job = view.job
        installer = await self.store.user(job.installer_id)
        lines = [t("support.title", job=job.id, time=self._time(job.submitted_at))]
        if handoff.previous_id:
            previous = await self.store.handoff(handoff.previous_id)
            reason = self._reason_text(previous.reason) if previous else "—"
            lines.append(t("support.resubmission", previous=handoff.previous_id, reason=reason))
        if installer:
            lines.append(t("support.installer", name=installer.name,
                           installer_id=installer.installer_id or "—", user_id=installer.id))
        model = view.model
        lines.append(t("support.station", station=model.full_name if model else "?",
                       kind=model.kind if model else "?",
                       owner=value("owner_account") or "—", name=value("station_name") or "—"))
        lines.append(t("support.ids", serial=value("serial") or "—", mac=value("mac") or "—",
                       password=mask_secret(str(value("password") or ""))))
        replacement = self.procedure.with_role("replacement")
        lines.append(t("support.sim", iccid=value("iccid") or "—",
                       firmware=value("firmware") or "—",
                       kind=self.records.option_label(
                           replacement, value("replacement") or replacement.options[0].id)
                       if replacement else "—"))
        address = value("address")
        lines.append(t("support.address", address=address_text(address),
                       verified=t("support.address_verified") if _address_verified(address)
                       else t("support.address_unverified")))
        gps, pin = value("gps"), value("pin")
        accuracy = gps.get("accuracy") if isinstance(gps, dict) else None
        lines.append(t("support.distances", pin_gps=self._distance(pin, gps),
                       pin_address=self._distance(pin, address) if _address_verified(address)
                       else "—",
                       accuracy=self.texts.distance(accuracy) if accuracy else "—"))
        lines.extend(t("support.detail", label=self.t("label." + s.id), value=view.value(s.id))
                     for s in self.procedure.in_group(DETAILS) if view.value(s.id))
        checks = [k for k in view.answers if self._of_kind(k, CHECKLIST)]
        failed = [self.t("checklist." + k.split(".", 1)[1]) for k in checks
                  if view.value(k) == "no"]
        lines.append(t("support.checklist", ok=len(checks) - len(failed), total=len(checks),
                       failed=t("support.checklist_failed", items="; ".join(failed))
                       if failed else ""))
        safety = [f"{self.t('label.safety_' + s.id)} "
                  f"{self._time(view.answers[s.id].answered_at)}"
                  for s in self.procedure.safety_steps if s.id in view.answers]
        lines.append(t("support.safety", items=" · ".join(safety) or "—"))
        errors_key = self.procedure.key("display_errors")
        errors = value("display_errors") if any(s.key == errors_key for s in view.slots) else None
        lines.append(t("support.display", errors=errors or t("support.no_errors")))
        flags = await self.store.flags(job.id)
        if flags:
            names = sorted({self.t("flag." + f.kind) if self.texts.has("flag." + f.kind)
                            else f.kind for f in flags})
            lines.append(t("support.flags", flags=", ".join(names)))
        lines.append(t("support.record_on_verify") if self.settings.record_endpoint
                     else t("support.record_local"))
        return "\n".join(lines)

    def _of_kind(self, key: str, kind: str) -> bool:
        step = key.split(".")[0]
        return self.procedure.has(step) and self.procedure.step(step).kind == kind

    def main_buttons(self, handoff_id: int) -> list[list[Button]]:
        """Verify and Reject, under a hand-off."""
        return [[Button(self.t("support.verify"), buttons.encode(Verify(handoff_id))),
                 Button(self.t("support.reject"), buttons.encode(Reject(handoff_id)))]]

    async def hand_off(self, job_id: int) -> None:
        """Record the hand-off of a job being submitted and queue its pages. The engine
        calls this inside the submission's transaction, so they commit together."""
        view = await self._view(job_id)
        previous = await self.store.latest_handoff(job_id)
        facts = await self.facts(view, "submitted", previous=previous is not None)
        async with self.store.transaction():
            handoff = await self.store.add_handoff(job_id, self.settings.support_chat_id)
            for index, hook in enumerate(self.webhooks):
                await self.store.enqueue(hook.kind, hook.url, page_payload(hook.kind, facts),
                                         f"page:{handoff.id}:submitted:{index}")
            await self.store.audit(None, job_id, "handed_off",
                                   {"handoff": handoff.id, "pages": len(self.webhooks)})
        self.outbox.kick()  # the worker's first read waits for the commit

    # Decisions ------------------------------------------------------------------------

    def redo_text(self, redo: str | None) -> str:
        """What a rejection asked to redo: `Address, Pin` or a part's name."""
        return self.records.fixes.label(redo, self.t)

    def _reason_text(self, reason: str | None) -> str:
        if not reason:
            return "—"
        key = f"support.reason.{reason}"
        return self.t(key) if self.texts.has(key) else html.unescape(reason)

    async def press(self, person: Person, data: str) -> Outcome:
        """A button on a hand-off: verify, or the steps of a rejection."""
        action = buttons.decode(data)
        handoff = None
        if isinstance(action, Verify | Reject | Undo | RejectReason | RejectPick | RejectSend):
            handoff = await self.store.handoff(action.handoff)
        if handoff is None:
            return Outcome(alert=self.t("job.stale_button"))
        if not person.has("support"):
            return Outcome(alert=self.t("support.not_member"))
        if handoff.decision:
            return await self._already(handoff)
        if await self._own(handoff, person):
            return Outcome(alert=self.t("support.own_job", job=handoff.job_id))
        hid = handoff.id
        if isinstance(action, Verify):
            return await self.decide(handoff, person, VERIFIED)
        if isinstance(action, Undo):
            return Outcome(rekey=self.main_buttons(hid))
        if isinstance(action, Reject):
            return Outcome(rekey=self.rejection.reasons(hid))
        if isinstance(action, RejectReason | RejectPick):
            return self.rejection.press(hid, action)
        redo = self.rejection.redo(action)
        if redo is None:
            return Outcome(alert=self.t("fix.pick_one"))
        if action.reason is not None:
            return await self.decide(handoff, person, REJECTED, action.reason, redo)
        return self._ask_reason(handoff, person, redo)

    def _ask_reason(self, handoff: Handoff, person: Person, part: str) -> Outcome:
        async def remember(message_id: int) -> None:
            await self.store.update_handoff(handoff.id, draft_by=person.user.id,
                                            draft_part=part, draft_message_id=message_id)

        prompt = Reply(self.t("support.type_reason", name=person.user.name,
                              user_id=person.user.id, job=handoff.job_id,
                              part=self.redo_text(part)),
                       force_reply=True, remember=remember)
        return Outcome([prompt])

    async def reason_typed(self, person: Person, chat_id: int, reply_to: int,
                           text: str) -> Outcome | None:
        """A supporter's typed rejection reason (a reply to the bot's question), or None."""
        handoff = await self.store.handoff_by_draft(chat_id, reply_to)
        if handoff is None or not person.has("support"):
            return None
        if handoff.draft_by != person.user.id:
            return None
        if await self._own(handoff, person):
            return Outcome(alert=self.t("support.own_job", job=handoff.job_id))
        reason = shorten(text.strip(), 500)
        return await self.decide(handoff, person, REJECTED, reason, handoff.draft_part)

    async def _own(self, handoff: Handoff, person: Person) -> bool:
        """Whether this member submitted the job and may not decide on it (separation of
        duties; `SUPPORT_SELF_REVIEW` allows it for one-person teams)."""
        if self.settings.support_self_review:
            return False
        job = await self.store.job(handoff.job_id)
        return job is not None and job.installer_id == person.user.id

    async def _already(self, handoff: Handoff) -> Outcome:
        """A press on a hand-off decided before: say by whom, and show the decision on the
        pressed message (a copy posted twice, or one whose edit an interruption lost)."""
        decided = await self.store.handoff(handoff.id) or handoff
        decider = await self.store.user(decided.decided_by) if decided.decided_by else None
        outcome = Outcome(alert=self.t("support.already", name=decider.name if decider else "?"))
        if decided.decision:
            view = await self._view(decided.job_id)
            outcome.edit = await self._decided(decided, decider, view)
        return outcome

    async def decide(self, handoff: Handoff, person: Person, decision: str,
                     reason: str | None = None, part: str | None = None) -> Outcome:
        """Take support's decision once, tell the installer, queue the follow-ups."""
        by = person.user.id
        async with self.store.transaction():
            if not await self.store.decide_handoff(handoff.id, decision, by, reason, part):
                return await self._already(handoff)
            job = await self.store.job(handoff.job_id)
            assert job is not None
            if decision == VERIFIED:
                await self.store.update_job(job.id, status=VERIFIED, closed_at=self.store.now())
            else:
                await self.store.update_job(job.id, status=REJECTED, reopened_part=part)
            await self.store.audit(by, job.id, decision, {"handoff": handoff.id,
                                                          "reason": reason, "part": part})
            view = await self._view(job.id)
            await self._queue_follow_ups(view, decision)
        self.outbox.kick()
        return await self._announce(handoff.id, person.user, view)

    async def _queue_follow_ups(self, view: JobView, decision: str) -> None:
        job_id = view.job.id
        facts = await self.facts(view, decision)
        for index, hook in enumerate(self.webhooks):
            if hook.kind == "pagerduty" and decision == VERIFIED:
                await self.store.enqueue(hook.kind, hook.url, resolve_payload(job_id),
                                         f"page:{job_id}:resolve:{index}")
            elif hook.kind != "pagerduty":
                handoff = await self.store.latest_handoff(job_id)
                await self.store.enqueue(hook.kind, hook.url, page_payload(hook.kind, facts),
                                         f"page:{handoff.id if handoff else 0}:{decision}:{index}")
        if decision == VERIFIED and self.settings.record_endpoint:
            await self.store.enqueue("record", self.settings.record_endpoint,
                                     await self.record(view), f"record:{job_id}")

    async def _announce(self, handoff_id: int, decider: User | None, view: JobView) -> Outcome:
        """The decision on the hand-off message, and the installer's notice (which marks
        the hand-off notified once sent)."""
        handoff = await self.store.handoff(handoff_id)
        assert handoff is not None

        async def notified(_message_id: int) -> None:
            await self.notified(handoff_id)

        with self.texts.speaking(await self.languages.of_chat(view.job.chat_id)):
            if handoff.decision == VERIFIED:
                tell = Reply(self.t("support.tell_verified", job=view.job.id),
                             remember=notified)
            else:
                part_name = self.redo_text(handoff.redo_part)
                reason = self._reason_text(handoff.reason)
                tell = Reply(self.t("support.tell_rejected", job=view.job.id, reason=reason,
                                    part=part_name),
                             [[Button(self.t("support.fix_now", job=view.job.id),
                                      buttons.encode(JobAction(view.job.id, Verb.FIX)))]],
                             remember=notified)
        outcome = Outcome(notices=[Notice(view.job.chat_id, tell)])
        if handoff.chat_id is not None and handoff.message_id is not None:
            with self.texts.speaking(await self.languages.of_chat(handoff.chat_id)):
                decided = await self._decided(handoff, decider, view)
            outcome.edits.append(Edit(handoff.chat_id, handoff.message_id, decided))
        return outcome

    async def _decided(self, handoff: Handoff, decider: User | None, view: JobView) -> Reply:
        """The hand-off message as it reads once decided: its last part and who decided."""
        when, name = self._time(handoff.decided_at), decider.name if decider else "?"
        if handoff.decision == VERIFIED:
            line = self.t("support.verified_line", name=name, time=when)
        else:
            line = self.t("support.rejected_line", name=name, time=when,
                          reason=self._reason_text(handoff.reason),
                          part=self.redo_text(handoff.redo_part))
        chunks = split_lines(await self.text(view, handoff))
        return Reply(f"{chunks[-1]}\n\n{line}")

    async def notified(self, handoff_id: int) -> None:
        """The installer has been told the decision (or cannot be: they blocked the bot)."""
        await self.store.update_handoff(handoff_id, notified_at=self.store.now())

    async def owed_notices(self, decided_before: datetime) -> list[tuple[int, Outcome]]:
        """Decisions whose installer was never told (the bot stopped in between): each
        hand-off's id and the decision's notice and edit, as when it was taken."""
        owed = []
        for handoff in await self.store.unnotified_decisions(
                decided_before.astimezone(UTC).isoformat()):
            decider = await self.store.user(handoff.decided_by) if handoff.decided_by else None
            owed.append((handoff.id, await self._announce(handoff.id, decider,
                                                          await self._view(handoff.job_id))))
        return owed

    async def record(self, view: JobView) -> dict[str, Any]:
        """The pinpoint record for the network (the network needs the password once)."""
        value = view.of_role
        installer = await self.store.user(view.job.installer_id)
        handoff = await self.store.latest_handoff(view.job.id)
        photos = await self.store.photos(view.job.id)
        return {
            "job_id": view.job.id,
            "network": self.settings.network_name,
            "status": view.job.status,
            "installer": {"installer_id": installer.installer_id if installer else None,
                          "name": installer.name if installer else None},
            "station": {
                "manufacturer": view.model.manufacturer if view.model else None,
                "model": view.model.name if view.model else None,
                "model_id": view.model.id if view.model else None,
                "serial": value("serial"), "mac": value("mac"),
                "activation_password": value("password"), "firmware": value("firmware"),
                "sim_iccid": value("iccid"), "replacement": value("replacement"),
                "name": value("station_name"), "owner_account": value("owner_account"),
            },
            "location": {"address": value("address"), "gps": value("gps"), "pin": value("pin")},
            "details": {s.id: view.value(s.id) for s in self.procedure.in_group(DETAILS)},
            "photos": [{"step": p.step, "sha256": p.sha256, "width": p.width,
                        "height": p.height} for p in photos],
            "submitted_at": view.job.submitted_at.isoformat() if view.job.submitted_at else None,
            "verified_at": handoff.decided_at.isoformat() if handoff and handoff.decided_at
            else None,
        }

    # Waiting --------------------------------------------------------------------------

    async def sweep_waiting(self) -> int:
        """Re-page support once for hand-offs undecided too long; tell their installers
        (and note it in the support chat) through notices queued with the re-page. Returns
        how many hand-offs were re-paged."""
        limit = self.settings.support_wait_minutes
        cutoff = (self.store.clock() - timedelta(minutes=limit)).isoformat()
        repaged = 0
        for handoff in await self.store.waiting_handoffs(cutoff):
            view = await self._view(handoff.job_id)
            if view.job.status != SUBMITTED:
                continue
            minutes = int((self.store.clock() - handoff.created_at).total_seconds() // 60)
            facts = await self.facts(view, "waiting", waiting=minutes)
            async with self.store.transaction():
                await self.store.update_handoff(handoff.id, repaged_at=self.store.now())
                for index, hook in enumerate(self.webhooks):
                    await self.store.enqueue(hook.kind, hook.url,
                                             page_payload(hook.kind, facts),
                                             f"page:{handoff.id}:waiting:{index}")
                await self.store.audit(None, handoff.job_id, "repaged",
                                       {"handoff": handoff.id, "minutes": minutes})
                with self.texts.speaking(await self.languages.of_chat(view.job.chat_id)):
                    tell = Reply(self.t("support.tell_waiting", job=handoff.job_id))
                await notices.queue(self.store, view.job.chat_id, tell,
                                    f"waiting:{handoff.id}:installer")
                if handoff.chat_id is not None:
                    with self.texts.speaking(await self.languages.of_chat(handoff.chat_id)):
                        note = Reply(self.t("support.waiting_note", job=handoff.job_id,
                                            waited=self.texts.duration(
                                                timedelta(minutes=minutes))),
                                     reply_to=handoff.message_id)
                    await notices.queue(self.store, handoff.chat_id, note,
                                        f"waiting:{handoff.id}:support")
            repaged += 1
        self.outbox.kick()
        return repaged


def _address_verified(address: Any) -> bool:
    return isinstance(address, dict) and bool(address.get("verified"))
