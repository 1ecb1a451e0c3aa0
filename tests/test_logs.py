"""LOG_FORMAT=json: one JSON object a line, redacted like the text lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import logging
from bot.logs import configure_logging
configure_logging("INFO", ["s3cr3t-value"], "json")
logging.getLogger("pinpoint.test").info("hello %s, token 123456789:AAEabcdefghijklmnopqrstu",
                                        "s3cr3t-value")
try:
    raise ValueError("boom with s3cr3t-value")
except ValueError:
    logging.getLogger("some.library").exception("failed: %s", "ünïcode")
logging.getLogger("some.library").debug("below the level")
"""


def test_json_lines_carry_the_fields_and_no_secret() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "s3cr3t-value" not in done.stderr and "AAEabcdef" not in done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "pinpoint.test"
    assert first["message"] == "hello [redacted], token [redacted]"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["level"] == "ERROR" and second["message"] == "failed: ünïcode"
    assert second["exception"].startswith("Traceback")
    assert "ValueError: boom with [redacted]" in second["exception"]


def test_the_log_format_setting() -> None:
    assert Settings(_env_file=None).log_format == "text"
    assert Settings(_env_file=None, log_format="json").log_format == "json"  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, log_format="xml")  # type: ignore[arg-type]
