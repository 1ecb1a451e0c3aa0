"""Typed settings, read from the environment and `.env` when `load_settings()` is called.

Nothing here runs at import time: the run command, the tests and the sandbox each build
their own `Settings`, so a test can point the bot at a temporary database and a fake API.
"""

from __future__ import annotations

import re
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The shipped data files (the `data` package; pip installs packages unpacked, as folders).
DATA_DIR = Path(resources.files("data"))  # type: ignore[arg-type]
PROCEDURE_PATH = DATA_DIR / "procedure.toml"
TEXTS_DIR = DATA_DIR / "texts"
SCANNER_DIR = DATA_DIR / "scanner"  # the sticker scanner Mini App's static page

URL = re.compile(r"https?://\S+")
URL_PATH_SECRET_MIN = 12  # a URL's path+query this long may be a secret (Slack's is ~60)
# Telegram's secret_token alphabet; webhooks over plain http only to a loopback address.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK = ("127.0.0.1", "localhost", "::1")

IdList = Annotated[list[int], NoDecode]
StrList = Annotated[list[str], NoDecode]


def url_secrets(url: str, whole: bool = True) -> list[str]:
    """What in a URL may be a secret: its password, its query; with `whole`, also the URL
    and its path (a Slack hook's path is its credential)."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    found = [parts.password or "", parts.query]
    if whole:
        found += [url, tail if len(tail) >= URL_PATH_SECRET_MIN else ""]
    return [s for s in found if s]


def _split(value: Any) -> Any:
    """Accept `1,2 3` style lists from the environment as well as real lists."""
    if isinstance(value, str):
        return [part for part in value.replace(";", ",").replace(" ", ",").split(",") if part]
    if isinstance(value, int):
        return [value]
    return value


def _https_url(value: Any, name: str) -> Any:
    """An https:// URL (http:// only on loopback), stripped; empty text is None."""
    if not isinstance(value, str) or not value.strip():
        return None if isinstance(value, str) else value
    url = urlsplit(value.strip())
    local = url.scheme == "http" and url.hostname in LOOPBACK
    if not (url.scheme == "https" or local) or not url.hostname:
        raise ValueError(f"{name} must be an https:// URL (http:// only on loopback)")
    return value.strip()


class Settings(BaseSettings):
    """Every setting of the bot; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        env_ignore_empty=True,
    )

    # Telegram
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_rate_limit: bool = True

    # Storage and data
    database_url: str | None = None  # sqlite:///... or postgresql://...; None: database_path
    database_path: Path = Path("data/pinpoint.db")  # relative to the working directory
    catalog_path: Path = DATA_DIR / "catalog.toml"
    checklists_path: Path = DATA_DIR / "checklists.toml"
    language: str = "en"
    network_name: str = "ChargeNet"
    timezone: ZoneInfo = ZoneInfo("UTC")

    # People
    admin_ids: IdList = Field(default_factory=list)
    installer_ids: IdList = Field(default_factory=list)
    support_ids: IdList = Field(default_factory=list)
    manager_ids: IdList = Field(default_factory=list)
    support_chat_id: int | None = None
    manager_chat_ids: IdList = Field(default_factory=list)
    # An installer ID as typed (in capitals, spaces removed) must match this in full
    installer_id_pattern: re.Pattern[str] = re.compile(r"^INS-\d{5}$")
    installer_id_example: str = "INS-12345"  # shown to people who type one
    reapply_after_days: float = Field(default=7.0, ge=0)  # a refused person may apply again
    support_language: str | None = None  # None: `language`
    manager_language: str | None = None  # managers' chats without their own; None: `language`

    # Photos
    photo_min_side_px: int = 640
    photo_max_bytes: int = 20 * 1024 * 1024
    exif_max_distance_m: float = 500.0
    exif_max_age_hours: float = 12.0
    photo_workers: int = 0  # photos downloaded and inspected at once; 0 = one per CPU core

    # Activation sticker (QR)
    sticker_url_host: str = "o.example-network.com"
    sticker_url_path: str = "/activate"
    qr_time_budget_s: float = 8.0
    qr_workers: int = 0  # 0 = one per CPU core
    mini_app_url: str | None = None  # set: the sticker step offers Telegram's live scanner

    # Geocoding and the pin
    geocoder: str = "nominatim"
    geocoder_url: str | None = None
    geocoder_user_agent: str = "pinpoint-bot/0.1 (set GEOCODER_USER_AGENT to your contact)"
    geocoder_timeout_s: float = 5.0
    geocoder_min_interval_s: float = 1.0
    geocoder_budget_s: float = 6.0
    geocoder_probes: int = 4
    geocoder_probe_spacing_m: float = 30.0
    geocoder_search_radius_m: float = 5000.0
    geocoder_cache_ttl_days: float = 90.0
    geocoder_api_key: SecretStr | None = None
    gps_max_accuracy_m: float = 50.0
    pin_max_from_gps_m: float = 150.0
    pin_max_from_address_m: float = 300.0
    geocoder_quota_per_person: int = 20  # geocoder requests per person per minute; 0 = none

    # Support hand-off, paging and the record's submission
    paging_webhooks: StrList = Field(default_factory=list)
    pagerduty_routing_key: SecretStr | None = None
    record_endpoint: str | None = None
    record_token: SecretStr | None = None
    http_timeout_s: float = 10.0
    outbox_max_attempts: int = 12
    outbox_retry_base_s: float = 5.0
    support_wait_minutes: int = 60
    password_retention_days: float = Field(default=30.0, gt=0)
    support_self_review: bool = False  # may a member decide on a job they submitted?

    # Managers
    summary_time: time = time(18, 0)  # local to `timezone`
    stuck_after_minutes: int = 120
    reminder_after_minutes: int = 60

    # Logging
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object a line, for collectors

    # Running as a service: webhook mode, health and metrics
    webhook_url: str | None = None  # set: webhook mode (else long polling)
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    metrics_port: int | None = None  # polling mode: serve /healthz and /metrics there

    @field_validator(
        "admin_ids", "installer_ids", "support_ids", "manager_ids", "manager_chat_ids",
        mode="before",
    )
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("paging_webhooks", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
        return value

    @field_validator("summary_time", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        hours, _, minutes = value.strip().partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return time(int(hours), int(minutes))

    @field_validator("telegram_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone", mode="before")
    @classmethod
    def _known_timezone(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _https_webhook(cls, value: Any) -> Any:
        return _https_url(value, "WEBHOOK_URL")

    @field_validator("mini_app_url", mode="before")
    @classmethod
    def _https_mini_app(cls, value: Any) -> Any:
        return _https_url(value, "MINI_APP_URL")

    @field_validator("webhook_secret", mode="after")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("WEBHOOK_SECRET: 1-256 characters A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required with WEBHOOK_URL")
        return self

    @model_validator(mode="after")
    def _example_fits_the_pattern(self) -> Settings:
        if not self.installer_id_pattern.fullmatch(self.installer_id_example):
            raise ValueError("INSTALLER_ID_EXAMPLE does not match INSTALLER_ID_PATTERN")
        return self

    @property
    def webhook_path(self) -> str:
        """The path the webhook server answers on: WEBHOOK_URL's (`/` when it has none)."""
        return urlsplit(self.webhook_url or "").path or "/"

    @property
    def tz(self) -> ZoneInfo:
        """The managers' local time zone (`timezone`, by its short name)."""
        return self.timezone

    def secrets(self) -> list[str]:
        """Every secret the settings hold, for the logs' redaction: each `SecretStr`, the
        paging webhooks' and the record endpoint's URLs (and paths), and whatever credential
        the geocoder's URL carries."""
        found = [value.get_secret_value() for name in type(self).model_fields
                 if isinstance(value := getattr(self, name), SecretStr)]
        hooks = [m.group(0) for entry in self.paging_webhooks if (m := URL.search(entry))]
        for url in [*hooks, self.record_endpoint or ""]:
            found += url_secrets(url) if url else []
        if self.geocoder_url:
            found += url_secrets(self.geocoder_url, whole=False)
        return [s for s in found if s]

    @property
    def store_url(self) -> str:
        """The database: `DATABASE_URL`, else the SQLite file at `DATABASE_PATH`."""
        return self.database_url or f"sqlite:///{self.database_path}"

    @property
    def database_file(self) -> Path | None:
        """The SQLite file the store uses, or None (PostgreSQL, or in memory)."""
        scheme, _, rest = self.store_url.partition(":///")
        name = rest.split("?")[0]
        if scheme.split("+")[0] != "sqlite" or name in ("", ":memory:"):
            return None
        return Path(name)

    @property
    def bot_base_url(self) -> str:
        """`base_url` for python-telegram-bot: the API root followed by `/bot`."""
        return self.telegram_api_url.rstrip("/") + "/bot"

    @property
    def bot_base_file_url(self) -> str:
        """`base_file_url` for python-telegram-bot: the API root followed by `/file/bot`."""
        return self.telegram_api_url.rstrip("/") + "/file/bot"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment and `.env`, with explicit overrides on top."""
    return Settings(**overrides)
