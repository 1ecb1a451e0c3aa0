"""Checks on answers that need more than the answer: photo size, EXIF place and time, a MAC,
ICCID or serial already used by another job. They return a `Caution` (or a reply) for the
engine to act on. Photos are fetched and inspected through `photos`
(`bot.vision.photos.PhotoWork`), a bounded pool of its own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.engine.caution import Caution
from bot.engine.interaction import PhotoInput, Reply
from bot.engine.plan import JobView, Slot
from bot.engine.records import Records
from bot.places import distance_m
from bot.vision.photos import PhotoWork

MB = 1_048_576  # as Telegram counts a file's megabytes
LOCATED_BY = ("gps", "pin")  # the roles whose answers say where the station is
UNIQUE = ("mac", "iccid", "serial")  # the roles whose answers no two live jobs share


class Checks:
    """Checks that read the store or the settings."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.settings = records.settings
        self.store = records.store
        self.photos = PhotoWork(self.settings.photo_workers)

    def close(self) -> None:
        """Stop the photo pool's threads."""
        self.photos.close()

    def photo_too_big(self, photo: PhotoInput) -> Reply | None:
        """The refusal of a file over the configured size, or None."""
        limit = self.settings.photo_max_bytes
        if not photo.file_size or photo.file_size <= limit:
            return None
        size = self.records.texts.number(photo.file_size / MB, 1)
        return Reply(self.records.t("photo.too_big", size=size, max=limit // MB))

    async def reused(self, view: JobView, slot: Slot, value: Any) -> Caution | None:
        """A caution naming the other job when a MAC, ICCID or serial (the steps playing those
        roles) is already the answer of another live job (not cancelled or stopped)."""
        role = slot.step.role
        if role not in UNIQUE:
            return None
        others = await self.store.jobs_with_answer(slot.key, value, exclude=view.job.id)
        if not others:
            return None
        return Caution(f"step.{slot.step.id}.reused", {"job": others[0], "value": value},
                       flag=f"{role}_reused")

    @staticmethod
    def known_location(view: JobView) -> tuple[float, float] | None:
        """Where the station is, as far as the job knows (the GPS fix, else the pin)."""
        for role in LOCATED_BY:
            value = view.of_role(role)
            if value:
                return (value["lat"], value["lon"])
        return None

    def exif_caution(
        self, view: JobView, lat: float | None, lon: float | None, taken: datetime | None,
        where: tuple[float, float] | None = None,
    ) -> Caution | None:
        """A caution for a photo taken far from the station or long before the job."""
        where = where or self.known_location(view)
        if lat is not None and lon is not None and where is not None:
            far = distance_m((lat, lon), where)
            if far > self.settings.exif_max_distance_m:
                return Caution("photo.exif_far", {"distance": self.records.texts.distance(far)},
                               flag="photo_far")
        if taken is not None:
            age = view.job.created_at - taken
            if age > timedelta(hours=self.settings.exif_max_age_hours):
                return Caution("photo.exif_old", {"age": self._age_text(age)},
                               flag="photo_old")
        return None

    def _age_text(self, age: timedelta) -> str:
        hours = age.total_seconds() / 3600
        if hours < 48:
            return self.records.t("photo.age_hours", count=round(hours))
        return self.records.t("photo.age_days", count=round(hours / 24))

    async def photos_far_from(self, view: JobView, where: tuple[float, float]) -> Caution | None:
        """A caution (redoing the photo) for a kept photo taken far from a new GPS fix."""
        for photo in await self.store.photos(view.job.id):
            current = view.value(photo.step)
            if not current or current.get("photo") != photo.id:
                continue
            caution = self.exif_caution(view, photo.exif_lat, photo.exif_lon, None, where)
            if caution:
                return Caution(caution.text, caution.values, caution.flag, redo=photo.step)
        return None
