"""Logging set-up that never writes secrets (the bot token, activation passwords)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


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
    """Log to stderr, redacted; quiet the HTTP client, whose request lines carry the token."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
