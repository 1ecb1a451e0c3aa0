"""Photos: checked for size, resolution and orientation, and against their EXIF place and time."""

from __future__ import annotations

from typing import Any

from bot.engine.interaction import Input, Outcome
from bot.engine.kinds.base import Desk, Kind
from bot.engine.plan import JobView, Slot
from bot.engine.procedure import Step
from bot.engine.records import Records
from bot.engine.validators import Invalid
from bot.vision.photos import check_photo


class PhotoKind(Kind):
    """A photo (compressed, or an image sent as a file)."""

    name = "photo"

    async def take(self, desk: Desk, view: JobView, slot: Slot, inp: Input,
                   user_id: int) -> Outcome | None:
        """Check the photo, keep it; hold it when taken far away or long ago."""
        photo = inp.photo
        if photo is None:
            return None
        refusal = desk.checks.photo_too_big(photo)
        if refusal is not None:
            return Outcome([refusal], job_id=view.job.id)
        settings, store = desk.records.settings, desk.records.store
        try:
            facts = await desk.checks.photos.inspect(photo.load, settings.tz)
            check_photo(facts, min_side=settings.photo_min_side_px,
                        landscape=slot.step.landscape)
        except Invalid as problem:
            return await desk.recorder.refuse(view, slot, problem, user_id)
        photo_id = await store.add_photo(
            view.job.id, slot.key, file_id=photo.file_id, file_unique_id=photo.file_unique_id,
            sha256=facts.sha256, width=facts.width, height=facts.height, bytes=facts.bytes,
            format=facts.format, as_file=photo.as_file, exif_lat=facts.exif_lat,
            exif_lon=facts.exif_lon, exif_taken_at=facts.exif_taken_at,
        )
        value = {"photo": photo_id, "file_id": photo.file_id, "width": facts.width,
                 "height": facts.height, "sha256": facts.sha256}
        caution = desk.checks.exif_caution(view, facts.exif_lat, facts.exif_lon,
                                           facts.exif_taken_at)
        if caution:
            return await desk.recorder.hold(view, slot, value, "photo", caution, user_id)
        return await desk.recorder.accept(view, slot, value, "photo", user_id)

    def describe(self, records: Records, step: Step, value: Any) -> str:
        """Its size."""
        return f"{value.get('width')}×{value.get('height')}"

    def expects(self, step: Step, received: str) -> str:
        """A photo (a file that is not a picture is told so)."""
        return "document" if received == "document" else "photo"
