"""Codes read from photos, as part of the engine (a mixin of `bot.engine.engine.Engine`).

A text step with a `reader` (data/procedure.toml) also takes a photo: the activation
sticker's QR code (MAC and password), the SIM holder's barcode (ICCID) or the type plate's
(serial). Reading runs in `bot.vision.sticker.StickerReader`'s process pool; what was read is shown
for confirmation before it is kept, and an unreadable photo gets one sentence saying why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.interaction import Outcome, PhotoInput, Reply
from bot.engine.plan import JobView, Slot
from bot.engine.validators import mask_secret
from bot.vision.sticker import StickerReader

if TYPE_CHECKING:
    from bot.engine.engine import Engine

    _Base = Engine
else:
    _Base = object


class CodeReading(_Base):
    """Answer a typed step from a photo of its code."""

    reader: StickerReader | None

    async def _read_code(self, view: JobView, slot: Slot, photo: PhotoInput,
                         user_id: int) -> Outcome:
        """A photo answering a typed step: read its code, then ask to confirm it."""
        assert self.reader is not None
        job_id, kind = view.job.id, slot.step.reader
        if photo.file_size and photo.file_size > self.settings.photo_max_bytes:
            limit = self.settings.photo_max_bytes
            return Outcome([Reply(self.t("photo.too_big", size=round(photo.file_size / 1e6, 1),
                                         max=limit // 1_048_576))], job_id=job_id)
        data = await photo.load()
        confirm = {"yes": "option.correct", "no": "option.type_instead", "flag": None}
        if kind == "sticker":
            result = await self.reader.read(data)
            if not result.ok:
                key = "sticker.unreadable_code_somewhere" if (
                    result.error == "unreadable_code" and not result.where
                ) else f"sticker.{result.error}"
                if not self.texts.has(key):
                    key = "sticker.internal_error"
                return Outcome([Reply(self.t(key, where=result.where or ""))], job_id=job_id)
            warning = await self._mac_reuse(view, slot, result.mac) or {
                "text": "step.mac.read", **confirm}
            warning.setdefault("yes", "option.use_anyway")
            warning["values"] = {**warning.get("values", {}), "mac": result.mac,
                                 "password": mask_secret(result.pw or "")}
            warning["extra"] = {"password": result.pw}
            return await self._hold(view, slot, result.mac, "qr", warning, user_id)
        if kind == "iccid":
            code = await self.reader.read_iccid(data)
        else:
            pattern = view.model.serial_pattern if view.model else r".+"
            code = await self.reader.read_serial(data, pattern)
        step = slot.step.id
        if code is None:
            return Outcome([Reply(self.t(f"step.{step}.unread"))], job_id=job_id)
        warning = {"text": f"step.{step}.read", "values": {"code": code}, **confirm}
        return await self._hold(view, slot, code, "barcode", warning, user_id)
