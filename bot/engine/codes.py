"""Codes read from photos: a collaborator of the engine.

A text step with a `reader` (data/procedure.toml) also takes a photo: the activation
sticker's QR code (MAC and password), the SIM holder's barcode (ICCID) or the type plate's
(serial). Reading runs in `bot.vision.sticker.StickerReader`'s process pool; what was read is
shown for confirmation before it is kept, and an unreadable photo gets one sentence saying why.
With MINI_APP_URL set, the sticker's code may also come read live by Telegram's scanner (the
scanner page, data/scanner/): the same checks, the same confirmation.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from bot import metrics
from bot.engine.caution import Caution
from bot.engine.checks import Checks
from bot.engine.interaction import Outcome, PhotoInput, Reply
from bot.engine.plan import JobView, Slot
from bot.engine.recording import Recorder
from bot.engine.records import Records
from bot.engine.validators import mask_secret
from bot.vision.sticker import StickerConfig, StickerReader, parse_payload

CONFIRM = {"yes": "option.correct", "no": "option.type_instead"}


class CodeReading:
    """Answer a typed step from a photo of its code."""

    def __init__(self, records: Records, recorder: Recorder, checks: Checks,
                 reader: StickerReader | None) -> None:
        self.records = records
        self.recorder = recorder
        self.checks = checks
        self.reader = reader

    def reads(self, slot: Slot) -> bool:
        """True when a photo can answer this step."""
        return bool(slot.step.reader) and self.reader is not None

    def scans(self, slot: Slot) -> bool:
        """True when the scanner Mini App (MINI_APP_URL) can answer this step."""
        return slot.step.reader == "sticker" and bool(self.records.settings.mini_app_url)

    def scanner_url(self) -> str:
        """The scanner page's address, with what it accepts (the sticker URL's host and path)
        and the words of Telegram's scan popup in its query."""
        settings = self.records.settings
        assert settings.mini_app_url is not None
        query = urlencode({"host": settings.sticker_url_host, "path": settings.sticker_url_path,
                           "text": self.records.t("scanner.popup")})
        return f"{settings.mini_app_url}?{query}"

    async def scanned(self, view: JobView, slot: Slot, text: str, user_id: int) -> Outcome:
        """A code read live by the scanner Mini App: checked exactly like a photo's (the
        sticker URL's host and path, MAC and password), then shown to confirm."""
        read = parse_payload(text, self.config)
        if read is None:
            return Outcome([Reply(self.records.t("scanner.not_sticker"))], job_id=view.job.id)
        return await self._confirm(view, slot, *read, user_id)

    @property
    def config(self) -> StickerConfig:
        """Which URL counts as the network's sticker."""
        settings = self.records.settings
        return StickerConfig(settings.sticker_url_host, settings.sticker_url_path)

    async def _confirm(self, view: JobView, slot: Slot, mac: str | None, pw: str | None,
                       user_id: int) -> Outcome:
        """Hold the sticker's MAC (and its password) until the installer confirms them."""
        caution = await self.checks.reused(view, slot, mac) or Caution(
            f"step.{slot.step.id}.read", **CONFIRM)
        password = self.records.procedure.key("password")
        caution = caution.with_values(mac=mac, password=mask_secret(pw or ""))
        if password:
            caution = replace(caution, extra={password: pw})
        return await self.recorder.hold(view, slot, mac, "qr", caution, user_id)

    async def read(self, view: JobView, slot: Slot, photo: PhotoInput, user_id: int) -> Outcome:
        """A photo answering a typed step: read its code, then ask to confirm it."""
        assert self.reader is not None
        job_id, kind, t = view.job.id, slot.step.reader, self.records.t
        refusal = self.checks.photo_too_big(photo)
        if refusal is not None:
            return Outcome([refusal], job_id=job_id)
        data = await self.checks.photos.download(photo.load)
        if kind == "sticker":
            result = await self.reader.read(data)
            metrics.QR_DECODE_SECONDS.labels(result.error or "read").observe(result.ms / 1000)
            if not result.ok:
                key = "sticker.unreadable_code_somewhere" if (
                    result.error == "unreadable_code" and not result.where
                ) else f"sticker.{result.error}"
                if result.advice is not None:  # located, but too small, blurred or dark
                    key = f"sticker.advice.{result.advice.kind}"
                if not self.records.texts.has(key):
                    key = "sticker.internal_error"
                where = t(f"sticker.where.{(result.where or 'centre').replace(' ', '_')}")
                return Outcome([Reply(t(key, where=where))], job_id=job_id)
            return await self._confirm(view, slot, result.mac, result.pw, user_id)
        if kind == "iccid":
            code = await self.reader.read_iccid(data)
        else:
            pattern = view.model.serial_pattern if view.model else r".+"
            code = await self.reader.read_serial(data, pattern)
        step = slot.step.id
        if code is None:
            return Outcome([Reply(t(f"step.{step}.unread"))], job_id=job_id)
        caution = await self.checks.reused(view, slot, code) or Caution(
            f"step.{step}.read", {"code": code}, **CONFIRM)
        return await self.recorder.hold(view, slot, code, "barcode", caution, user_id)
