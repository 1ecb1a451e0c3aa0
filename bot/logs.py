"""Logging set-up that never writes secrets: the bot token, the record's bearer token, the
PagerDuty routing key, the geocoder's API key, webhook URLs (a Slack hook's path is its
credential) — every value `Settings.secrets()` names — and activation passwords.

`configure_logging` installs the redaction as the log-record factory, so every record of
every logger (the bot's, httpx's, geopy's, ...) is redacted once, when it is made: its
message with its arguments, its exception text and stack, before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "[redacted]"
MIN_SECRET = 4  # shorter "secrets" would shred every line; nobody sets one that short
# Libraries whose detailed logs carry raw updates (what installers typed, passwords
# included) or request URLs (the bot token): never more verbose than this.
LIBRARY_LEVELS = {"telegram": logging.INFO, "httpx": logging.WARNING,
                  "httpcore": logging.WARNING, "apscheduler": logging.WARNING,
                  "aiosqlite": logging.INFO, "sqlalchemy": logging.WARNING}


class RedactingFilter(logging.Filter):
    """Replace known secrets (also percent-encoded, as in a URL's query) and anything shaped
    like a bot token with `[redacted]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        variants = {v for s in secrets if s and len(s) >= MIN_SECRET
                    for v in (s, quote(s, safe=""), quote_plus(s))}
        self.secrets = sorted(variants, key=len, reverse=True)  # a URL before its path

    def redact(self, text: str) -> str:
        """The text with every secret removed."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_PATTERN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted, and drop the arguments; the same for the
        exception and the stack."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactingFactory:
    """A log-record factory: the previous one's record, redacted."""

    def __init__(self, base: Callable[..., logging.LogRecord],
                 redactor: RedactingFilter) -> None:
        self.base = base
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self.redactor.filter(record)
        return record


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message and, when
    there is one, exception (the records are redacted already, when made)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                     timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def install_redaction(secrets: Iterable[str]) -> RedactingFilter:
    """Redact every log record from now on (replaces an earlier installation)."""
    current = logging.getLogRecordFactory()
    base = current.base if isinstance(current, RedactingFactory) else current
    redactor = RedactingFilter(secrets)
    logging.setLogRecordFactory(RedactingFactory(base, redactor))
    return redactor


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (),
                      fmt: str = "text") -> RedactingFilter:
    """Log to stderr, every record redacted (`secrets`: e.g. `Settings.secrets()`), as text
    lines or (`fmt="json"`) one JSON object a line; cap the libraries whose debug output
    carries secrets."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    redactor = install_redaction(secrets)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()
    return redactor


def quiet_libraries() -> None:
    """Cap the libraries' log levels (see `LIBRARY_LEVELS`), whatever LOG_LEVEL says."""
    for name, cap in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(cap)
