"""Stored files: photos (as sets of JPEG sizes), documents, stickers, voice and video notes."""

from __future__ import annotations

import functools
import mimetypes
import secrets
from dataclasses import dataclass, field
from typing import Any

from testkit.emulator.media import PHOTO_SIDES, Rendition, photo_renditions, thumbnail

# File id prefixes of the real API (they encode the file type); cosmetic here.
PREFIX = {
    "photo": "AgACAgIAAxkB",
    "document": "BQACAgIAAxkB",
    "sticker": "CAACAgIAAxkB",
    "voice": "AwACAgIAAxkB",
    "video": "BAACAgIAAxkB",
    "audio": "CQACAgIAAxkB",
    "animation": "CgACAgIAAxkB",
    "thumbnail": "AAMCAgADGQE",
}
FOLDER = {
    "photo": "photos",
    "document": "documents",
    "sticker": "stickers",
    "voice": "voice",
    "video": "videos",
    "audio": "music",
    "animation": "animations",
    "thumbnail": "thumbnails",
}
TYPE_NAME = {
    "photo": "Photo",
    "document": "Document",
    "sticker": "Sticker",
    "voice": "Voice",
    "video": "Video",
    "audio": "Audio",
    "animation": "Animation",
    "thumbnail": "Photo",
}


@dataclass
class FileRecord:
    """One stored file; `photo` holds the whole PhotoSize list when this is one of its sizes."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    photo: list[dict[str, Any]] | None = None
    original: bytes | None = None  # for photos: the bytes the sender uploaded
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def file_size(self) -> int:
        return len(self.data)

    def file_json(self) -> dict[str, Any]:
        """The `File` object getFile answers with."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }

    def photo_size_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "width": self.width,
            "height": self.height,
        }


def _extension(file_name: str | None, mime_type: str | None, default: str) -> str:
    if file_name and "." in file_name:
        return file_name.rsplit(".", 1)[1].lower()
    guessed = mimetypes.guess_extension(mime_type or "") or ""
    return guessed.lstrip(".") or default


@functools.lru_cache(maxsize=8)
def _renditions(data: bytes, sides: tuple[int, ...]) -> list[Rendition]:
    """`photo_renditions`, made once per content: a benchmark sending the same photo again
    and again must not spend the emulator's event loop re-encoding it (the renditions of the
    same bytes are the same; every upload still gets its own file ids)."""
    return photo_renditions(data, sides)


class FileStore:
    """All files by id and by download path. Ids and paths are random, as unguessable as
    Telegram's: whoever has a file id has seen the file's message."""

    def __init__(self, photo_sides: tuple[int, ...] = PHOTO_SIDES) -> None:
        self.photo_sides = photo_sides
        self.by_id: dict[str, FileRecord] = {}
        self.by_path: dict[str, FileRecord] = {}

    def get(self, file_id: str) -> FileRecord | None:
        return self.by_id.get(file_id)

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        ext: str | None = None,
        **fields: Any,
    ) -> FileRecord:
        """Store bytes under a fresh, random file id and download path."""
        ext = ext or _extension(file_name, mime_type, "bin")
        record = FileRecord(
            file_id=f"{PREFIX[kind]}{secrets.token_urlsafe(32)}",
            file_unique_id=f"AQAD{secrets.token_urlsafe(12)}",
            kind=kind,
            data=data,
            file_path=f"{FOLDER[kind]}/file_{secrets.token_hex(8)}.{ext}",
            mime_type=mime_type,
            file_name=file_name,
            **fields,
        )
        self.by_id[record.file_id] = record
        self.by_path[record.file_path] = record
        return record

    def add_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Store a photo as Telegram does; return its PhotoSize list. ValueError if no image."""
        sizes: list[dict[str, Any]] = []
        for rendition in _renditions(data, self.photo_sides):
            record = self.add(
                "photo",
                rendition.data,
                ext="jpg",
                mime_type="image/jpeg",
                width=rendition.width,
                height=rendition.height,
                photo=sizes,
                original=data,
            )
            sizes.append(record.photo_size_json())
        return sizes

    def add_document(
        self, data: bytes, file_name: str | None, mime_type: str | None
    ) -> dict[str, Any]:
        """Store a document; return its Document JSON (with a thumbnail when it is an image)."""
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(file_name or "")[0] or mime_type
        record = self.add("document", data, file_name=file_name, mime_type=mime_type)
        return self.document_json(record)

    def document_json(self, record: FileRecord) -> dict[str, Any]:
        if "json" in record.extra:
            return record.extra["json"]
        doc: dict[str, Any] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.file_size,
        }
        if record.file_name:
            doc["file_name"] = record.file_name
        if record.mime_type:
            doc["mime_type"] = record.mime_type
        if (record.mime_type or "").startswith("image/"):
            thumb = thumbnail(record.data)
            if thumb:
                rec = self.add(
                    "thumbnail",
                    thumb.data,
                    ext="jpg",
                    mime_type="image/jpeg",
                    width=thumb.width,
                    height=thumb.height,
                )
                doc["thumbnail"] = rec.photo_size_json()
        record.extra["json"] = doc
        return doc

    def add_media(
        self,
        kind: str,
        data: bytes,
        fields: dict[str, Any],
        mime_type: str | None = None,
        file_name: str | None = None,
    ) -> dict[str, Any]:
        """Store a sticker/voice/video/audio/animation; return its JSON with `fields` added."""
        record = self.add(
            kind,
            data,
            mime_type=mime_type,
            file_name=file_name,
            ext=None if (file_name or mime_type) else "bin",
        )
        media: dict[str, Any] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.file_size,
            **fields,
        }
        if mime_type:
            media["mime_type"] = mime_type
        if file_name:
            media["file_name"] = file_name
        record.extra["json"] = media
        return media
