"""The address step and the pin, as part of the engine (a mixin of `bot.engine.engine.Engine`).

Addresses come from `bot.places.finder.AddressFinder`: candidates near the GPS fix (looked up in the
background as soon as the fix arrives), a typed search near it, or — when the geocoder cannot
help — the typed text, kept as unverified. The offered candidates are stored with the job, so
a button pressed later means exactly what was shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from bot.engine.interaction import Button, LocationInput, Outcome
from bot.engine.plan import JobView, Slot, shorten
from bot.places import AddressFinder, Candidate, GeocoderError, check_pin

if TYPE_CHECKING:
    from bot.engine.engine import Engine

    _Base = Engine
else:
    _Base = object


class AddressSteps(_Base):
    """Offer, search and pick addresses; measure the pin."""

    finder: AddressFinder | None
    _prefetches: set[asyncio.Task[Any]]

    def _pin_warning(self, view: JobView, loc: LocationInput) -> dict[str, Any] | None:
        gps, address = view.value("gps"), view.value("address")
        check = check_pin(
            (loc.lat, loc.lon),
            (gps["lat"], gps["lon"]) if gps else None,
            Candidate.from_json(address) if isinstance(address, dict) else None,
            max_from_gps_m=self.settings.pin_max_from_gps_m,
            max_from_address_m=self.settings.pin_max_from_address_m,
        )
        if not check.too_far:
            return None
        parts = []
        if check.from_gps_m is not None and check.too_far_from_gps:
            parts.append(self.t("step.pin.far_gps", distance=round(check.from_gps_m)))
        if check.from_address_m is not None and check.too_far_from_address:
            parts.append(self.t("step.pin.far_address", distance=round(check.from_address_m)))
        return {"text": "step.pin.far", "values": {"distances": " and ".join(parts)},
                "flag": "pin_far"}


    def _prefetch_addresses(self, lat: float, lon: float) -> None:
        """Warm the geocoder cache while the installer answers the next questions."""
        if self.finder is None:
            return

        async def fetch() -> None:
            with contextlib.suppress(GeocoderError):  # asked again at the address step
                await self.finder.reverse(lat, lon)  # type: ignore[union-attr]

        task = asyncio.create_task(fetch())
        self._prefetches.add(task)
        task.add_done_callback(self._prefetches.discard)

    async def close(self) -> None:
        """Stop address look-ups still running in the background."""
        for task in list(self._prefetches):
            task.cancel()
        await asyncio.gather(*self._prefetches, return_exceptions=True)

    async def _address_offer(self, view: JobView, rows: list[list[Button]]) -> str:
        """The address question: candidates near the GPS fix (or the last search) as buttons."""
        job, gps = view.job, view.value("gps")
        offers = job.offers
        if gps is None or self.finder is None:
            return self.t("step.address.prompt_no_gps")
        here = [gps["lat"], gps["lon"]]
        if not offers or offers.get("gps") != here:
            offers = {"gps": here, "query": None}
            try:
                found = await self.finder.reverse(gps["lat"], gps["lon"])
                offers["candidates"] = [json.loads(c.to_json()) for c in found]
            except GeocoderError as problem:
                offers["error"] = problem.kind
            await self.store.update_job(job.id, offers=offers)
        data = lambda option: f"a:{job.id}:address:{option}"  # noqa: E731
        for index, candidate in enumerate(offers.get("candidates", [])):
            rows.append([Button(candidate["label"], data(f"c{index}"))])
        query, error = offers.get("query"), offers.get("error")
        if error and error != "no_result":
            rows.append([Button(self.t("step.address.retry"), data("=retry"))])
        if query:
            rows.append([Button(self.t("step.address.use_typed", text=shorten(query, 30)),
                                data("=typed"))])
        if error and error != "no_result":
            reason = self.t(f"step.address.reason_{error}")
            return self.t("step.address.failed", reason=reason)
        if query:
            key = "results" if offers.get("candidates") else "no_results"
            return self.t(f"step.address.{key}", query=shorten(query, 60))
        return self.t("step.address.prompt")

    async def _address_search(self, view: JobView, text: str) -> Outcome:
        """A typed address: search near the GPS fix and offer what was found."""
        query = " ".join(text.split())[:200]
        if not query:
            return self._wrong_kind(view, "unknown")
        gps = view.value("gps")
        here = [gps["lat"], gps["lon"]] if gps else None
        offers: dict[str, Any] = {"gps": here, "query": query, "candidates": []}
        if self.finder is not None:
            try:
                found = await self.finder.search(query, tuple(here) if here else None)
                offers["candidates"] = [json.loads(c.to_json()) for c in found]
            except GeocoderError as problem:
                offers["error"] = problem.kind
        else:
            offers["error"] = "unavailable"
        await self.store.update_job(view.job.id, offers=offers)
        view = await self.view(await self._job(view.job.id))
        return Outcome([await self.prompt(view)], job_id=view.job.id)

    async def _address_button(self, view: JobView, slot: Slot, option: str, user_id: int,
                              message_id: int | None) -> Outcome:
        offers = view.job.offers or {}
        candidates = offers.get("candidates", [])
        if option == "=retry":
            await self.store.update_job(view.job.id, offers={**offers, "gps": None}
                                        if not offers.get("query") else None)
            if offers.get("query"):
                return await self._address_search(view, offers["query"])
            return await self._next(view.job.id, [])
        if option == "=typed" and offers.get("query"):
            gps = view.value("gps") or {"lat": 0.0, "lon": 0.0}
            typed = Candidate.unverified(offers["query"], gps["lat"], gps["lon"])
            await self._flag(view.job.id, "address_unverified", slot.key, {}, user_id)
            await self.store.update_job(view.job.id, offers=None)
            return await self._accept(view, slot, json.loads(typed.to_json()), "typed",
                                      user_id, message_id, keep_flags=True)
        if option.startswith("c") and option[1:].isdigit() and int(option[1:]) < len(candidates):
            await self.store.update_job(view.job.id, offers=None)
            return await self._accept(view, slot, candidates[int(option[1:])], "button",
                                      user_id, message_id)
        return Outcome(alert=self.t("job.stale_button"))
