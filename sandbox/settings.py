"""The sandbox's settings: a fixed, safe base; never the production credentials.

The sandbox takes from the environment and `.env` only the harmless settings named in
`FROM_ENVIRONMENT` (the network's name, time zone, languages, catalog and the thresholds of
the checks, so practice feels like the real thing). Everything else is fixed here: the fake
Telegram, a database of its own, the demo people, the offline geocoder, and every delivery
(pages to Slack and PagerDuty, the network's record) sent to a recorder on this computer with
made-up credentials. A new setting of the bot is therefore never taken by the sandbox until it
is listed here, so `.env`'s webhooks, tokens, keys and database stay out of practice jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.config import Settings
from sandbox import seed

FROM_ENVIRONMENT = (
    "network_name", "timezone", "language", "support_language", "manager_language",
    "catalog_path", "checklists_path", "log_level",
    "photo_min_side_px", "photo_max_bytes", "exif_max_distance_m", "exif_max_age_hours",
    "qr_time_budget_s", "qr_workers", "gps_max_accuracy_m", "pin_max_from_gps_m",
    "pin_max_from_address_m", "support_wait_minutes", "summary_time", "stuck_after_minutes",
    "reminder_after_minutes",
)
"""Settings the sandbox may take from the environment and `.env`: none is a credential or
points anywhere outside this computer."""

ROUTING_KEY = "sandbox-routing-key"  # made up: the recorder accepts anything
RECORD_TOKEN = "sandbox-record-token"
GEOCODER_INTERVAL_S = 0.2  # the offline fake needs no 1 s courtesy spacing


class SandboxSettings(Settings):
    """`Settings` built from the given values and the defaults only (no environment)."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        **sources: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def recorder_paths(recorder: str) -> dict[str, str]:
    """Where the sandbox's deliveries go on the recorder at `recorder` (`http://host:port`)."""
    return {kind: f"{recorder}/{kind}" for kind in ("slack", "pagerduty", "record")}


def sandbox_settings(
    base: Settings, *, api_url: str, database: Path, geocoder_url: str, recorder: str,
    mini_app_url: str | None = None,
) -> Settings:
    """The bot's settings in the sandbox: `FROM_ENVIRONMENT` from `base` (the environment and
    `.env`), the rest fixed: the emulator at `api_url`, `database`, the demo people, the
    geocoder at `geocoder_url`, deliveries to the local recorder at `recorder`, and the
    scanner Mini App at `mini_app_url` (the sandbox's own page)."""
    paths = recorder_paths(recorder)
    values: dict[str, Any] = {name: getattr(base, name) for name in FROM_ENVIRONMENT}
    values.update(
        telegram_token=SecretStr(seed.SANDBOX_TOKEN),
        telegram_api_url=api_url,
        telegram_rate_limit=False,  # the emulator has no flood limits to keep within
        database_path=database,
        admin_ids=[seed.ALEX.id],
        installer_ids=[seed.ANA.id],
        support_ids=[seed.SAM.id],
        manager_ids=[seed.MAYA.id],
        support_chat_id=seed.SUPPORT_GROUP_ID,
        manager_chat_ids=[seed.MAYA.id],
        geocoder="nominatim",
        geocoder_url=geocoder_url,
        geocoder_min_interval_s=GEOCODER_INTERVAL_S,
        paging_webhooks=[f"slack:{paths['slack']}", f"pagerduty:{paths['pagerduty']}"],
        pagerduty_routing_key=SecretStr(ROUTING_KEY),
        record_endpoint=paths["record"],
        record_token=SecretStr(RECORD_TOKEN),
        mini_app_url=mini_app_url,
    )
    return SandboxSettings(**values)
