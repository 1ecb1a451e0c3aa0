"""User-facing texts, one TOML file per language in `data/texts/`, English complete.

Keys are dotted paths (`step.firmware.prompt`); values are Telegram-HTML templates with
`{name}` placeholders. A key missing in a language falls back to English.
"""

from __future__ import annotations

import html
import tomllib
from pathlib import Path
from string import Formatter
from typing import Any

FALLBACK_LANGUAGE = "en"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = str(value)
    return flat


class Texts:
    """Texts of one language with English as the fallback."""

    def __init__(self, texts_dir: Path, language: str = FALLBACK_LANGUAGE,
                 shared: dict[str, Any] | None = None) -> None:
        self.language = language
        self.shared = dict(shared or {})  # values every template may use, e.g. the network
        self._fallback = self._read(texts_dir / f"{FALLBACK_LANGUAGE}.toml")
        own = texts_dir / f"{language}.toml"
        self._texts = self._read(own) if language != FALLBACK_LANGUAGE and own.exists() else {}

    @staticmethod
    def _read(path: Path) -> dict[str, str]:
        return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))

    def has(self, key: str) -> bool:
        """True when the key exists (in this language or in English)."""
        return key in self._texts or key in self._fallback

    def keys(self) -> set[str]:
        """Every key known in English."""
        return set(self._fallback)

    def raw(self, key: str) -> str:
        """The template itself, unformatted; the key itself when it is missing."""
        return self._texts.get(key) or self._fallback.get(key) or key

    def get(self, key: str, default: str | None = None, **values: Any) -> str:
        """The text for `key`, its `{placeholders}` filled with HTML-escaped values.

        Values wrapped in `Safe` are inserted as they are (already HTML).
        """
        template = default if default is not None and not self.has(key) else self.raw(key)
        escaped = {k: v.html if isinstance(v, Safe) else html.escape(str(v), quote=False)
                   for k, v in {**self.shared, **values}.items()}
        return template.format_map(_Missing(escaped))

    def placeholders(self, key: str) -> set[str]:
        """The placeholder names the template of `key` uses."""
        return {name for _, name, _, _ in Formatter().parse(self.raw(key)) if name}

    def under(self, prefix: str) -> Section:
        """The texts under `prefix.` by their short keys: `texts.under("grant").get("usage")`."""
        return Section(self, prefix)


class Section:
    """The texts of one section (keys relative to its prefix), same `get`/`has` as `Texts`."""

    def __init__(self, texts: Texts, prefix: str) -> None:
        self.texts = texts
        self.prefix = prefix

    def has(self, key: str) -> bool:
        """True when `prefix.key` exists."""
        return self.texts.has(f"{self.prefix}.{key}")

    def get(self, key: str, default: str | None = None, **values: Any) -> str:
        """The text of `prefix.key` (see `Texts.get`)."""
        return self.texts.get(f"{self.prefix}.{key}", default, **values)


class Safe:
    """A value that is already Telegram-HTML and must not be escaped again."""

    def __init__(self, html_text: str) -> None:
        self.html = html_text

    def __str__(self) -> str:
        return self.html


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
