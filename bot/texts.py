"""User-facing texts, one TOML file per language in `data/texts/<code>.toml` (English is the
reference; every shipped language has exactly its keys, tests/test_languages.py checks it).

Keys are dotted paths (`step.firmware.prompt`); values are Telegram-HTML templates with
`{name}` placeholders. A value may instead be a table of CLDR plural categories,
`{ one = "{count} job", other = "{count} jobs" }`: the form is chosen by the `count` value
with Babel's plural rules for the language (never by code of its own).

Whose language a text is in: a `Texts` built for the bot follows the language of the update
being handled (`speak`, set once per update for the chat it answers) or of a block
(`with texts.speaking(code):`), else its default; `texts.of(code)` is pinned to one
language whatever the context. Dates, numbers, distances and durations are formatted for
the same language (`when`, `number`, `distance`, `duration`).
"""

from __future__ import annotations

import html
import logging
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from pathlib import Path
from string import Formatter
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_interval
from babel.numbers import format_decimal
from babel.units import format_unit

log = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})
COUNT = "count"  # the value a plural text is chosen by

Template = str | dict[str, str]
_speaking: ContextVar[str | None] = ContextVar("speaking", default=None)


def _is_plural(value: Any) -> bool:
    return isinstance(value, dict) and "other" in value and set(value) <= PLURAL_CATEGORIES


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Template]:
    flat: dict[str, Template] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if _is_plural(value):
            flat[path] = {k: str(v) for k, v in value.items()}
        elif isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = str(value)
    return flat


def read_language(path: Path) -> dict[str, Template]:
    """One language file's texts by dotted key (plural texts as their table of forms)."""
    return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))


def shipped_languages(texts_dir: Path) -> list[str]:
    """The languages with a file in `texts_dir`, English first (a file is `<code>.toml`;
    glossaries and other files beside them are not languages)."""
    codes = sorted(p.stem for p in texts_dir.glob("*.toml") if "-" not in p.stem)
    return sorted(codes, key=lambda code: code != FALLBACK_LANGUAGE)


class Texts:
    """The texts of every shipped language; `get` answers in the current one."""

    def __init__(self, texts_dir: Path, language: str = FALLBACK_LANGUAGE,
                 shared: dict[str, Any] | None = None, *, pinned: bool = False,
                 _loaded: dict[str, dict[str, Template]] | None = None) -> None:
        self.texts_dir = texts_dir
        self.shared = dict(shared or {})  # values every template may use, e.g. the network
        self._all = _loaded if _loaded is not None else {
            code: read_language(texts_dir / f"{code}.toml")
            for code in shipped_languages(texts_dir)}
        self.default = self.resolve(language) or FALLBACK_LANGUAGE
        self._pinned = pinned
        self._warned: set[tuple[str, str]] = set()

    # Languages ------------------------------------------------------------------------

    @property
    def languages(self) -> list[str]:
        """The shipped languages' codes, English first."""
        return list(self._all)

    def resolve(self, code: str | None) -> str | None:
        """The shipped language for a Telegram `language_code` (`de`, `de-AT`, `pt_BR`), or
        None when it is not shipped."""
        if not code:
            return None
        code = code.replace("_", "-").lower()
        return code if code in self._all else (base if (base := code.split("-")[0])
                                                in self._all else None)

    @property
    def language(self) -> str:
        """The language `get` answers in now."""
        if self._pinned:
            return self.default
        return _speaking.get() or self.default

    def of(self, language: str | None) -> Texts:
        """These texts pinned to `language` (English when it is not shipped)."""
        return Texts(self.texts_dir, self.resolve(language) or FALLBACK_LANGUAGE, self.shared,
                     pinned=True, _loaded=self._all)

    def name(self, language: str) -> str:
        """A language's own name, e.g. `Deutsch`."""
        return Locale.parse(language).get_display_name(language).capitalize()

    @staticmethod
    def speak(language: str | None) -> None:
        """Answer in `language` for the rest of the update being handled (its task)."""
        _speaking.set(language)

    @contextmanager
    def speaking(self, language: str | None) -> Iterator[Texts]:
        """Within the block, unpinned texts answer in `language` (None: the default)."""
        token = _speaking.set(self.resolve(language))
        try:
            yield self
        finally:
            _speaking.reset(token)

    # Templates ------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        """True when the key exists (English is the reference)."""
        return key in self._all[FALLBACK_LANGUAGE]

    def keys(self) -> set[str]:
        """Every key known in English."""
        return set(self._all[FALLBACK_LANGUAGE])

    def template(self, key: str) -> Template | None:
        """The current language's template (a plural one as its table of forms), None when
        English has no such key. A key the language lacks is English, with a warning."""
        language = self.language
        own = self._all[language].get(key)
        if own is not None:
            return own
        english = self._all[FALLBACK_LANGUAGE].get(key)
        if english is not None and (language, key) not in self._warned:
            self._warned.add((language, key))
            log.warning("text %s is missing in %s.toml: English is used", key, language)
        return english

    def raw(self, key: str) -> str:
        """The template itself, unformatted (a plural one's `other` form); the key itself
        when it is missing."""
        found = self.template(key)
        if found is None:
            return key
        return found["other"] if isinstance(found, dict) else found

    def get(self, key: str, default: str | None = None, **values: Any) -> str:
        """The text for `key`, its `{placeholders}` filled with HTML-escaped values; a
        plural text in the form for `count`. Values wrapped in `Safe` are inserted as they
        are (already HTML)."""
        found = default if default is not None and not self.has(key) else self.template(key)
        if found is None:
            found = key
        if isinstance(found, dict):
            found = found.get(self.plural(values.get(COUNT, 0))) or found["other"]
        escaped = {k: v.html if isinstance(v, Safe) else html.escape(str(v), quote=False)
                   for k, v in {**self.shared, **values}.items()}
        return found.format_map(_Missing(escaped))

    def placeholders(self, key: str) -> set[str]:
        """The placeholder names the template of `key` uses (in any of its plural forms)."""
        found = self.template(key)
        forms = found.values() if isinstance(found, dict) else [found or key]
        return {name for form in forms for _, name, _, _ in Formatter().parse(form) if name}

    def under(self, prefix: str) -> Section:
        """The texts under `prefix.` by their short keys: `texts.under("grant").get("usage")`."""
        return Section(self, prefix)

    # Numbers, dates, distances --------------------------------------------------------

    def plural(self, count: Any) -> str:
        """The CLDR plural category of `count` in the current language."""
        try:
            return Locale.parse(self.language).plural_form(abs(float(count)))
        except (TypeError, ValueError):
            return "other"

    @property
    def locale(self) -> str:
        """The CLDR locale dates, numbers and units are written in (`format.locale`, e.g.
        `en_GB`: day before month)."""
        return self.raw("format.locale")

    def number(self, value: float, digits: int = 0) -> str:
        """A number as the language writes it (`1,234.5`, `1.234,5`)."""
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.locale)

    def when(self, moment: datetime | None, style: str = "date_time") -> str:
        """A local moment in the language's pattern `format.<style>` (a CLDR date pattern);
        `—` for none. Convert it to the time zone first."""
        if moment is None:
            return "—"
        return format_datetime(moment, self.raw(f"format.{style}"), tzinfo=moment.tzinfo,
                               locale=self.locale)

    def period(self, first: date, last: date) -> str:
        """A day (`format.day`) or a span of days (`8–14 Mar 2026`)."""
        if first == last:
            return format_date(first, self.raw("format.day"), locale=self.locale)
        return format_interval(first, last, "yMMMd", locale=self.locale)

    def distance(self, metres: float | None) -> str:
        """A distance as people read it: whole metres up to 1 km (`150 m`), then `1.2 km`,
        `12 km` (`1,2 km` in German); `—` for none."""
        if metres is None:
            return "—"
        if round(metres) < 1000:
            return format_unit(round(metres), "length-meter", length="short",
                               locale=self.locale)
        km = metres / 1000
        return format_unit(km, "length-kilometer", length="short", locale=self.locale,
                           format="#,##0" if km >= 10 else "#,##0.#")

    def duration(self, span: timedelta | None) -> str:
        """A duration, as short as it reads: `<1 min`, `25 min`, `1 h 05 min`, `3 d 4 h`
        (plain text, like `when` and `distance`: a value for a template)."""
        if span is None:
            return "—"

        def say(key: str, **values: Any) -> str:
            return html.unescape(self.get(f"format.duration.{key}", **values))

        minutes = int(span.total_seconds() // 60)
        if minutes < 1:
            return say("under_minute")
        if minutes < 60:
            return say("minutes", count=minutes)
        hours, minutes = divmod(minutes, 60)
        if hours < 48:
            return (say("hours_minutes", hours=hours, minutes=f"{minutes:02d}") if minutes
                    else say("hours", count=hours))
        days, hours = divmod(hours, 24)
        return say("days_hours", days=days, hours=hours)


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
