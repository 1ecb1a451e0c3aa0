"""Logging set-up that never writes secrets (the bot token, activation passwords)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
# Libraries whose detailed logs carry raw updates (what installers typed, passwords
# included) or request URLs (the bot token): never more verbose than this.
LIBRARY_LEVELS = {"telegram": logging.INFO, "httpx": logging.WARNING,
                  "httpcore": logging.WARNING, "apscheduler": logging.WARNING,
                  "aiosqlite": logging.INFO, "sqlalchemy": logging.WARNING}


class RedactingFilter(logging.Filter):
    """Replace known secrets and anything shaped like a bot token with `[redacted]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        """The text with every secret removed."""
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return TOKEN_PATTERN.sub("[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted, and drop the arguments."""
        message = self.redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactingFilter:
    """Log to stderr, redacted; cap the libraries whose debug output carries secrets."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()
    return redactor


def quiet_libraries() -> None:
    """Cap the libraries' log levels (see `LIBRARY_LEVELS`), whatever LOG_LEVEL says."""
    for name, cap in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(cap)
