"""The address step and the pin: a collaborator of the engine.

Addresses come from `bot.places.finder.AddressFinder`: candidates near the GPS fix (looked up in the
background as soon as the fix arrives), a typed search near it, or — when the geocoder cannot
help — the typed text, kept as unverified. The offered candidates are stored with the job, so
a button pressed later means exactly what was shown.

Fair use of the geocoder: a job has at most one background look-up (a new fix cancels the
previous one), background look-ups yield to interactive ones (the question being shown, a
typed search), and every look-up counts against its installer's quota (`bot.places.spacing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from bot.engine import buttons
from bot.engine.buttons import PickAddress, Say, Special
from bot.engine.caution import Caution
from bot.engine.interaction import Button, LocationInput, Outcome, Reply
from bot.engine.plan import JobView, Slot, shorten
from bot.engine.recording import Recorder
from bot.engine.records import Records
from bot.places import AddressFinder, Candidate, GeocoderError, check_pin
from bot.places.spacing import BACKGROUND
from bot.store import Job


class AddressSteps:
    """Offer, search and pick addresses; measure the pin."""

    def __init__(self, records: Records, recorder: Recorder,
                 finder: AddressFinder | None) -> None:
        self.records = records
        self.recorder = recorder
        self.store = records.store
        self.settings = records.settings
        self.t = records.t
        self.finder = finder
        self._prefetches: dict[int, asyncio.Task[Any]] = {}  # job id → its look-up

    def pin_caution(self, view: JobView, slot: Slot, loc: LocationInput) -> Caution | None:
        """A caution when the pin is far from the GPS fix or from the chosen address."""
        gps, address = view.of_role("gps"), view.of_role("address")
        check = check_pin(
            (loc.lat, loc.lon),
            (gps["lat"], gps["lon"]) if gps else None,
            Candidate.from_json(address) if isinstance(address, dict) else None,
            max_from_gps_m=self.settings.pin_max_from_gps_m,
            max_from_address_m=self.settings.pin_max_from_address_m,
        )
        if not check.too_far:
            return None
        pin = slot.step.id
        parts = []
        if check.from_gps_m is not None and check.too_far_from_gps:
            parts.append(self.t(f"step.{pin}.far_gps", distance=self._km(check.from_gps_m)))
        if check.from_address_m is not None and check.too_far_from_address:
            parts.append(self.t(f"step.{pin}.far_address",
                                distance=self._km(check.from_address_m)))
        return Caution(f"step.{pin}.far", {"distances": " and ".join(parts)}, flag="pin_far")

    def _km(self, metres: float) -> str:
        return self.records.texts.distance(metres)

    def prefetch(self, job: Job, lat: float, lon: float) -> None:
        """Warm the geocoder cache while the installer answers the next questions: one
        background look-up per job, a new fix cancels the previous one."""
        if self.finder is None:
            return
        finder = self.finder

        async def fetch() -> None:
            with contextlib.suppress(GeocoderError):  # asked again at the address step
                await finder.reverse(lat, lon, priority=BACKGROUND, who=job.installer_id)

        previous = self._prefetches.pop(job.id, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.create_task(fetch())
        self._prefetches[job.id] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._prefetches.get(job.id) is done:
                del self._prefetches[job.id]

        task.add_done_callback(forget)

    async def close(self) -> None:
        """Stop address look-ups still running in the background."""
        tasks = list(self._prefetches.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def offer(self, view: JobView, slot: Slot) -> Reply:
        """The address question: candidates near the GPS fix (or the last search) as buttons."""
        job, gps, step = view.job, view.of_role("gps"), slot.step.id
        offers = job.offers
        if gps is None or self.finder is None:
            return Reply(self.t(f"step.{step}.prompt_no_gps"))
        here = [gps["lat"], gps["lon"]]
        if not offers or offers.get("gps") != here:
            offers = {"gps": here, "query": None}
            try:
                found = await self.finder.reverse(gps["lat"], gps["lon"],
                                                  who=job.installer_id)
                offers["candidates"] = [json.loads(c.to_json()) for c in found]
            except GeocoderError as problem:
                offers["error"] = problem.kind
            await self.store.update_job(job.id, offers=offers)
        say = lambda special: buttons.encode(Say(job.id, slot.key, special))  # noqa: E731
        rows = [[Button(candidate["label"], buttons.encode(PickAddress(job.id, slot.key, index)))]
                for index, candidate in enumerate(offers.get("candidates", []))]
        query, error = offers.get("query"), offers.get("error")
        if error and error != "no_result":
            rows.append([Button(self.t(f"step.{step}.retry"), say(Special.RETRY))])
        if query:
            rows.append([Button(self.t(f"step.{step}.use_typed", text=shorten(query, 30)),
                                say(Special.TYPED))])
        if error and error != "no_result":
            reason = self.t(f"step.{step}.reason_{error}")
            return Reply(self.t(f"step.{step}.failed", reason=reason), rows)
        if query:
            key = "results" if offers.get("candidates") else "no_results"
            return Reply(self.t(f"step.{step}.{key}", query=shorten(query, 60)), rows)
        return Reply(self.t(f"step.{step}.prompt"), rows)

    async def search(self, view: JobView, text: str) -> Outcome | None:
        """A typed address: search near the GPS fix and offer what was found (None: empty)."""
        query = " ".join(text.split())[:200]
        if not query:
            return None
        gps = view.of_role("gps")
        here = [gps["lat"], gps["lon"]] if gps else None
        offers: dict[str, Any] = {"gps": here, "query": query, "candidates": []}
        if self.finder is not None:
            try:
                found = await self.finder.search(query, tuple(here) if here else None,
                                                 who=view.job.installer_id)
                offers["candidates"] = [json.loads(c.to_json()) for c in found]
            except GeocoderError as problem:
                offers["error"] = problem.kind
        else:
            offers["error"] = "unavailable"
        await self.store.update_job(view.job.id, offers=offers)
        return await self.recorder.next(view.job.id, [])

    async def press(self, view: JobView, slot: Slot, action: Say | PickAddress, user_id: int,
                    message_id: int | None) -> Outcome:
        """A candidate, "use what I typed", or "try again"."""
        offers = view.job.offers or {}
        candidates = offers.get("candidates", [])
        recorder = self.recorder
        if isinstance(action, PickAddress):
            if action.index >= len(candidates):
                return Outcome(alert=self.t("job.stale_button"))
            async with self.store.transaction():  # one update, one commit
                await self.store.update_job(view.job.id, offers=None)
                shown = await recorder.save(view, slot, candidates[action.index], "button",
                                            user_id, keep_flags=False)
            return await recorder.answered(view, slot, shown, message_id)
        if action.special is Special.RETRY:
            await self.store.update_job(view.job.id, offers={**offers, "gps": None}
                                        if not offers.get("query") else None)
            if offers.get("query"):
                return await self.search(view, offers["query"]) or Outcome()
            return await recorder.next(view.job.id, [])
        if action.special is Special.TYPED and offers.get("query"):
            gps = view.of_role("gps") or {"lat": 0.0, "lon": 0.0}
            typed = Candidate.unverified(offers["query"], gps["lat"], gps["lon"])
            async with self.store.transaction():  # one update, one commit
                await recorder.flag(view.job.id, "address_unverified", slot.key, {}, user_id)
                await self.store.update_job(view.job.id, offers=None)
                shown = await recorder.save(view, slot, json.loads(typed.to_json()), "typed",
                                            user_id, keep_flags=True)
            return await recorder.answered(view, slot, shown, message_id)
        return Outcome(alert=self.t("job.stale_button"))
