"""Unit tests: every shipped language has English's keys and placeholders, renders as valid
Telegram HTML, keeps its buttons short and its plurals complete; the `Texts` API."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel import Locale

from bot.config import TEXTS_DIR
from bot.texts import FALLBACK_LANGUAGE, Texts, read_language, shipped_languages

LANGUAGES = shipped_languages(TEXTS_DIR)
OTHERS = [code for code in LANGUAGES if code != FALLBACK_LANGUAGE]
ENGLISH = read_language(TEXTS_DIR / "en.toml")
# Telegram's HTML: these tags (and their attributes) only.
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "tg-spoiler", "span", "blockquote", "tg-emoji"}
LABEL_WIDTH = 32  # characters: a button that fits a phone's width
DATA_LIMIT = 64  # bytes: Telegram's limit for a button's text and data
COMMAND_LIMIT = 256  # a command's description
# The texts shown on inline buttons (and the reply keyboard's location button).
BUTTONS = re.compile(
    r"^(option\.[^.]+|step\.[^.]+\.option\.[^.]+|step\.[^.]+\.button|part\.[^.]+"
    r"|step\.address\.(retry|use_typed)|job\.(continue|next_same_site|done_for_now|cancel_yes"
    r"|cancel_no|stop_yes)|support\.(verify|reject|back|other_reason|fix_now)"
    r"|support\.reason\.[^.]+|registration\.(approve|refuse))$")
# A button naming what was typed shortens it (bot/engine): our words must fit beside it.
SAMPLES = {"job": "12345", "value": "P2", "text": "…", "count": 2}
COUNTS = (0, 1, 2, 5, 21)


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts(TEXTS_DIR, shared={"network": "ChargeNet"})


def sample(name: str) -> object:
    return SAMPLES.get(name, f"<{name}&>")  # escaped on the way in: must stay valid HTML


class TelegramHtml(HTMLParser):
    """Fails on a tag Telegram does not know, or one left open or closed twice."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag <{tag}>")
        if tag == "a" and not dict(attrs).get("href"):
            self.errors.append("<a> without href")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def check(self, text: str) -> list[str]:
        self.feed(text)
        self.close()
        if "<" in re.sub(r"</?[a-z-]+(\s[^>]*)?>", "", text):
            self.errors.append("a bare <")
        return self.errors + [f"unclosed <{t}>" for t in self.open]


@pytest.mark.parametrize("language", OTHERS)
def test_a_language_has_exactly_the_keys_and_placeholders_of_english(
    texts: Texts, language: str,
) -> None:
    own = read_language(TEXTS_DIR / f"{language}.toml")
    assert sorted(set(ENGLISH) - set(own)) == [], "missing"
    assert sorted(set(own) - set(ENGLISH)) == [], "not in English"
    english, translated = texts.of("en"), texts.of(language)
    wrong = {key: (english.placeholders(key), translated.placeholders(key)) for key in ENGLISH
             if english.placeholders(key) != translated.placeholders(key)}
    assert wrong == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_renders_as_telegram_html(texts: Texts, language: str) -> None:
    speaking = texts.of(language)
    problems = {}
    for key in ENGLISH:
        values = {name: sample(name) for name in speaking.placeholders(key)}
        for count in COUNTS:
            text = speaking.get(key, **{**values, "count": count})
            found = TelegramHtml().check(text)
            if "{" in text.replace("{}", ""):
                found.append("a placeholder left")
            if found:
                problems[key] = found
    assert problems == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_buttons_fit_telegram_and_a_phone(texts: Texts, language: str) -> None:
    speaking = texts.of(language)
    labels = [key for key in ENGLISH if BUTTONS.match(key)]
    assert len(labels) > 60
    too_long = {}
    for key in labels:
        label = speaking.get(key, **{n: sample(n) for n in speaking.placeholders(key)
                                     if n in SAMPLES})
        if len(label) > LABEL_WIDTH or len(label.encode()) > DATA_LIMIT:
            too_long[key] = label
    assert too_long == {}
    for key in (k for k in ENGLISH if k.startswith("commands.")):
        assert 3 <= len(speaking.get(key)) <= COMMAND_LIMIT, key


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_texts_have_the_languages_forms(texts: Texts, language: str) -> None:
    speaking = texts.of(language)
    plurals = {k: v for k, v in read_language(TEXTS_DIR / f"{language}.toml").items()
               if isinstance(v, dict)}
    assert plurals, "no plural texts"
    rules = Locale.parse(language)
    for key, forms in plurals.items():
        for count in COUNTS:
            category = rules.plural_form(count)
            assert category in forms, (key, count, category)
            assert speaking.get(key, count=count) == forms[category].format(count=count)


def test_plural_forms_follow_cldr(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text('jobs = { one = "{count} job", other = "{count} jobs" }\n')
    (tmp_path / "fr.toml").write_text(
        'jobs = { one = "{count} tâche", many = "{count} de tâches", other = "{count} tâches" }\n')
    texts = Texts(tmp_path)
    assert [texts.get("jobs", count=n) for n in COUNTS] == [
        "0 jobs", "1 job", "2 jobs", "5 jobs", "21 jobs"]
    french = texts.of("fr")
    assert [french.get("jobs", count=n) for n in (0, 1, 2, 1_000_000)] == [
        "0 tâche", "1 tâche", "2 tâches", "1000000 de tâches"]


def test_the_language_follows_the_reader(texts: Texts) -> None:
    assert texts.languages[0] == "en" and "de" in texts.languages
    assert texts.resolve("de-AT") == "de" and texts.resolve("DE") == "de"
    assert texts.resolve("xx") is None and texts.resolve(None) is None
    assert texts.get("job.none").startswith("You have no open job")
    with texts.speaking("de-CH"):
        assert texts.language == "de"
        assert texts.get("job.none").startswith("Sie haben keinen offenen Auftrag")
        assert texts.under("job").get("none") == texts.get("job.none")
        assert texts.of("en").get("job.none").startswith("You have")  # pinned stays
    assert texts.language == "en"
    assert texts.of("xx").language == "en"  # an unshipped language: English
    assert texts.name("de") == "Deutsch" and texts.name("en") == "English"


def test_a_missing_key_in_a_shipped_language_is_english_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "en.toml").write_text('[a]\nhello = "Hi"\nbye = "Bye"\n')
    (tmp_path / "de.toml").write_text('[a]\nhello = "Hallo"\n')
    (tmp_path / "glossary-de.toml").write_text('x = "not a language"\n')
    german = Texts(tmp_path).of("de")
    assert Texts(tmp_path).languages == ["en", "de"]
    with caplog.at_level(logging.WARNING):
        assert german.get("a.bye") == "Bye"
    assert "a.bye is missing in de.toml" in caplog.text


def test_dates_numbers_distances_and_durations_per_language(texts: Texts) -> None:
    moment = datetime(2026, 3, 9, 14, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    english, german = texts.of("en"), texts.of("de")
    assert english.when(moment) == "09 Mar 14:05" and german.when(moment) == "09.03. 14:05"
    assert english.when(None) == "—"
    assert english.number(1234.5, 1) == "1,234.5" and german.number(1234.5, 1) == "1.234,5"
    assert english.distance(149.6) == "150 m" and german.distance(None) == "—"
    span = timedelta(hours=1, minutes=5)
    assert english.duration(span) == "1 h 05 min" and german.duration(span) == "1 Std. 05 Min."
    assert german.duration(timedelta(seconds=20)) == "<1 Min."
    day = moment.date()
    assert english.period(day, day) == "Mon 9 Mar 2026"
    assert german.period(day, day) == "Mo., 9. März 2026"
    assert german.period(day - timedelta(days=6), day) == "3.–9. März 2026"
