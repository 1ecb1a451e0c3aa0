"""Request parameters as the Bot API reads them: JSON, url-encoded or multipart, typed on use.

Clients send form values as strings (python-telegram-bot JSON-encodes every non-string value),
so each method asks for the type it needs and a bad value becomes a 400 like the real API's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from testkit.emulator.state import bad_request

JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "media",
    "allowed_updates",
    "commands",
    "scope",
    "reply_parameters",
    "link_preview_options",
    "menu_button",
    "message_ids",
}


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def describe(self) -> dict[str, Any]:
        return {"upload": self.filename, "content_type": self.content_type, "size": len(self.data)}


class Params:
    """The parameters of one call, with typed getters that raise the API's 400 errors."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = dict(values)
        self.uploads = uploads or {}
        for name in JSON_FIELDS & self.values.keys():
            value = self.values[name]
            if isinstance(value, str):
                try:
                    self.values[name] = json.loads(value)
                except ValueError as exc:
                    raise bad_request(f"can't parse {name} JSON object") from exc

    def loggable(self) -> dict[str, Any]:
        """Values plus uploads described by name and size (for the call log)."""
        logged = dict(self.values)
        logged.update({name: up.describe() for name, up in self.uploads.items()})
        return logged

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def raw(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def get_str(
        self, name: str, default: str | None = None, *, required: bool = False
    ) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(
        self, name: str, default: int | None = None, *, required: bool = False
    ) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise bad_request(f"{name} is empty")
            return default
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"invalid {name} specified") from exc

    def get_float(
        self, name: str, default: float | None = None, *, required: bool = False
    ) -> float | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise bad_request(f"{name} is empty")
            return default
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"invalid {name} specified") from exc

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def get_json(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value in (None, "") else value

    def chat_id(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value in (None, ""):
            raise bad_request(f"{name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise bad_request("chat not found") from exc

    def file(self, name: str) -> Upload | str | None:
        """A file parameter: an upload (also via `attach://`), else a file id or URL string."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.values.get(name)
        if value is None:
            return None
        return self.attached(value)

    def attached(self, value: Any) -> Upload | str:
        """Resolve `attach://name` against the uploads; other strings stay as they are."""
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return upload
        if not isinstance(value, str) or not value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return value


async def read_params(request: web.Request) -> Params:
    """Collect query string, JSON body, url-encoded or multipart form into `Params`."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request("can't parse JSON encoded request") from exc
            if isinstance(body, dict):
                values.update(body)
        else:
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, FileField):
                    uploads[name] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    values[name] = value
    return Params(values, uploads)
