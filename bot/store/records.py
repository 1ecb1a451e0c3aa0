"""The records the store returns (frozen dataclasses), the job statuses and the roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ROLES = ("installer", "support", "manager", "admin")
OPEN, SUBMITTED, VERIFIED, REJECTED, CANCELLED, STOPPED = (
    "open", "submitted", "verified", "rejected", "cancelled", "stopped"
)


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class User:
    """A Telegram user known to the bot."""

    id: int
    first_name: str
    last_name: str | None
    username: str | None
    installer_id: str | None
    status: str
    status_at: datetime | None = None  # when the status last changed
    language: str | None = None  # Telegram's language_code at first contact, or /language's

    @property
    def name(self) -> str:
        """First and last name."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or str(self.id)


@dataclass(frozen=True)
class Job:
    """One station's networking job."""

    id: int
    visit_id: int
    installer_id: int
    chat_id: int
    status: str
    cursor: str | None
    pending: dict[str, Any] | None
    prompt_message_id: int | None
    stop_reason: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    closed_at: datetime | None
    reopened_part: str | None = None
    reminded_at: datetime | None = None
    offers: dict[str, Any] | None = None
    asked: str | None = None
    keyboards: tuple[int, ...] = ()  # messages whose inline buttons are live, oldest first


@dataclass(frozen=True)
class LiveKeyboards:
    """A job's live keyboards as read: its status, question message, the messages, and
    their column's text as stored (to write them back only if unchanged)."""

    status: str
    prompt_message_id: int | None
    message_ids: tuple[int, ...]
    stored: str | None


@dataclass(frozen=True)
class Answer:
    """A stored answer to one step."""

    step: str
    value: Any
    source: str
    answered_at: datetime


@dataclass(frozen=True)
class Photo:
    """A photo kept for a job: Telegram's ids, a checksum and what Pillow read."""

    id: int
    job_id: int
    step: str
    file_id: str
    file_unique_id: str
    sha256: str
    width: int
    height: int
    bytes: int
    format: str
    as_file: bool
    exif_lat: float | None
    exif_lon: float | None
    exif_taken_at: datetime | None


@dataclass(frozen=True)
class Handoff:
    """One submission of a job to support, and support's decision."""

    id: int
    job_id: int
    previous_id: int | None
    chat_id: int | None
    message_id: int | None
    created_at: datetime
    decision: str | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    redo_part: str | None
    repaged_at: datetime | None
    draft_by: int | None
    draft_part: str | None
    draft_message_id: int | None
    text_message_ids: tuple[int, ...] = ()
    album_message_id: int | None = None
    pin_message_id: int | None = None
    posted_at: datetime | None = None
    notified_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """An outgoing HTTP delivery waiting in (or done from) the outbox."""

    id: int
    kind: str
    target: str
    payload: dict[str, Any]
    dedup_key: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Flag:
    """Something support and managers should see about a job."""

    kind: str
    step: str | None
    detail: dict[str, Any]
    at: datetime
