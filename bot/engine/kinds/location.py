"""Locations: the phone's GPS fix (a reply-keyboard button) or a pin dragged on the map."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.engine.caution import Caution
from bot.engine.interaction import Input, Outcome, Reply
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Step
from bot.engine.records import Records

SOURCES = ("gps", "pin")


class LocationKind(Kind):
    """A shared location; `source` says how it is given."""

    name = "location"

    def problems(self, step: Step, validators: Mapping[str, Callable[..., Any]]) -> list[str]:
        """A known source."""
        return [*super().problems(step, validators),
                *([] if step.source in SOURCES else ["a location needs source = gps or pin"])]

    async def question(self, desk: Desk, view: JobView, slot: Slot) -> Reply:
        """The prompt; for the GPS fix, a share-location keyboard."""
        reply = await super().question(desk, view, slot)
        if slot.step.source == "gps":
            reply.keyboard = "location"
            reply.keyboard_label = desk.records.t(f"step.{slot.step.id}.button")
        return reply

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        """Keep the location; hold a poor fix, a fix far from the photos, a pin far away."""
        loc = inp.location
        if loc is None:
            return None
        value = {"lat": loc.lat, "lon": loc.lon, "accuracy": loc.accuracy, "live": loc.live}
        caution = None
        gps = slot.step.source == "gps"
        limit = desk.records.settings.gps_max_accuracy_m
        if loc.lat == 0 and loc.lon == 0:  # "null island": no fix at all
            caution = Caution("odd_input.null_island", flag="location_null_island")
        elif gps and loc.accuracy is None:  # a desktop client, or a point picked on the map
            caution = Caution("odd_input.no_accuracy", flag="gps_no_accuracy")
        elif gps:
            if loc.accuracy is not None and loc.accuracy > limit:
                caution = Caution(f"step.{slot.step.id}.poor_accuracy",
                                  {"accuracy": round(loc.accuracy)}, flag="gps_poor_accuracy")
            else:
                caution = await desk.checks.photos_far_from(view, (loc.lat, loc.lon))
        else:
            caution = desk.addresses.pin_caution(view, slot, loc)
        if caution:
            return await desk.recorder.hold(view, slot, value, "location", caution, user_id)
        if gps:
            desk.addresses.prefetch(view.job, loc.lat, loc.lon)
        return await desk.recorder.accept(view, slot, value, "location", user_id)

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """Coordinates, with the accuracy when known."""
        text = f"{value['lat']:.5f}, {value['lon']:.5f}"
        if value.get("accuracy"):
            text += f" ±{round(value['accuracy'])} m"
        return text

    def expects(self, step: Step, received: str) -> str:
        """The share button, or the pin."""
        return f"location_{step.source}"
