"""The bot's Prometheus metrics (`prometheus-client`), defined once for the process.

Counters and histograms are updated where things happen (the intake, the QR reader, the
geocoder); the gauges read from the database (jobs by state, the outbox's backlog) are set
just before each scrape by `set_store_gauges`, so a scrape costs two small queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

__all__ = [
    "CONTENT_TYPE_LATEST", "GEOCODER_CALLS", "JOBS", "OUTBOX_BACKLOG", "OUTBOX_OLDEST_AGE",
    "QR_DECODE_SECONDS", "UPDATES_RECEIVED", "UPDATE_SECONDS", "exposition", "set_store_gauges",
]

UPDATE_SECONDS = Histogram(
    "pinpoint_update_seconds", "Updates handled and how long each took, by kind",
    ["kind"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPDATES_RECEIVED = Counter(
    "pinpoint_updates_received", "Updates POSTed to the webhook: new, or seen before",
    ["outcome"],
)
JOBS = Gauge("pinpoint_jobs", "Jobs in the database, by state", ["state"])
OUTBOX_BACKLOG = Gauge("pinpoint_outbox_backlog", "Outgoing deliveries not yet delivered")
OUTBOX_OLDEST_AGE = Gauge(
    "pinpoint_outbox_oldest_age_seconds", "Age of the oldest undelivered outgoing delivery",
)
QR_DECODE_SECONDS = Histogram(
    "pinpoint_qr_decode_seconds", "Activation sticker photos decoded and how long each took",
    ["outcome"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)
GEOCODER_CALLS = Counter(
    "pinpoint_geocoder_calls", "Requests to the geocoder (cache hits excluded), by outcome",
    ["outcome"],
)


def set_store_gauges(jobs: Mapping[str, int], backlog: int, oldest: datetime | None,
                     now: datetime) -> None:
    """Set the database's gauges: job counts by state (states no longer seen read 0), the
    outbox's backlog and the age of its oldest item (0 when empty)."""
    for labels in JOBS.collect()[0].samples:
        if labels.labels["state"] not in jobs:
            JOBS.labels(labels.labels["state"]).set(0)
    for state, count in jobs.items():
        JOBS.labels(state).set(count)
    OUTBOX_BACKLOG.set(backlog)
    OUTBOX_OLDEST_AGE.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)


def exposition() -> bytes:
    """Every metric of the process in Prometheus' text format."""
    return _generate_latest(REGISTRY)
