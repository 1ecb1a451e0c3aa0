"""Paging support through webhooks: the three payload shapes, and how webhooks are configured.

`PAGING_WEBHOOKS` lists `KIND:URL` entries. Kinds: `generic` (a plain JSON event),
`slack` (a Slack-compatible incoming webhook: `text` plus blocks) and `pagerduty` (Events API
v2: `trigger` with `dedup_key` = the job id, `resolve` once support verifies). Payloads carry
what support needs to find the job — never the activation password or any token; the
PagerDuty routing key is added only when the page is sent (see `bot.support.outbox`).

Every value is inserted by each format's own rules: Slack reads `text` and `mrkdwn` blocks
as markup, so `&`, `<` and `>` in what people typed are escaped (`<!channel>` stays text);
PagerDuty's summary is cut to its 1,024 characters, its details are data; generic JSON is
data, sent as given (the values are plain text, never HTML-escaped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

KINDS = ("generic", "slack", "pagerduty")
PAGERDUTY_SUMMARY_MAX = 1024  # characters (Events API v2)


@dataclass(frozen=True)
class Webhook:
    """One paging target."""

    kind: str
    url: str


def parse_webhooks(entries: list[str]) -> list[Webhook]:
    """`slack:https://...` entries (a bare URL is generic); ValueError on an unknown kind."""
    hooks = []
    for entry in entries:
        kind, sep, url = entry.partition(":")
        if sep and kind.lower() in KINDS and url.startswith(("http://", "https://")):
            hooks.append(Webhook(kind.lower(), url))
        elif entry.startswith(("http://", "https://")):
            hooks.append(Webhook("generic", entry))
        else:
            raise ValueError(f"PAGING_WEBHOOKS: {kind!r} is not one of {', '.join(KINDS)}")
    return hooks


@dataclass(frozen=True)
class PageFacts:
    """What a page says about a job."""

    event: str  # submitted | waiting | verified | rejected
    job_id: int
    network: str
    installer: str
    installer_id: str
    station: str
    serial: str
    mac: str
    address: str
    address_verified: bool
    submitted_at: str
    resubmission: bool = False
    waiting_minutes: int | None = None

    @property
    def headline(self) -> str:
        """One line for a pager or a chat notification."""
        what = {
            "submitted": "resubmitted for verification" if self.resubmission
            else "submitted for verification",
            "waiting": f"still waiting for support ({self.waiting_minutes} min)",
            "verified": "verified",
            "rejected": "rejected",
        }[self.event]
        return f"{self.network} job #{self.job_id} {what}: {self.station}, {self.address}"


def dedup_key(job_id: int) -> str:
    """PagerDuty's incident key for a job: the job id."""
    return str(job_id)


def slack_escape(text: str) -> str:
    """Text for Slack's mrkdwn: `&`, `<`, `>` as entities, so no value becomes a link,
    a mention (`<!channel>`, `<@U123>`) or markup (Slack's "Escaping text" rules)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_safe(facts: PageFacts) -> PageFacts:
    """The facts with every text value escaped for Slack."""
    return replace(facts, **{f.name: slack_escape(value) for f in fields(facts)
                             if isinstance(value := getattr(facts, f.name), str)})


def page_payload(kind: str, facts: PageFacts) -> dict[str, object]:
    """The JSON body of a page in the webhook's shape."""
    if kind == "slack":
        facts = _slack_safe(facts)
        details = (f"*Installer:* {facts.installer} ({facts.installer_id})\n"
                   f"*Station:* {facts.station} · S/N {facts.serial} · MAC {facts.mac}\n"
                   f"*Address:* {facts.address}"
                   + ("" if facts.address_verified else " (unverified)"))
        return {
            "text": facts.headline,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{facts.headline}*"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": details}},
            ],
        }
    if kind == "pagerduty":
        return {
            "event_action": "trigger",
            "dedup_key": dedup_key(facts.job_id),
            "payload": {
                "summary": facts.headline[:PAGERDUTY_SUMMARY_MAX],
                "source": f"pinpoint/{facts.network}",
                "severity": "warning" if facts.event == "waiting" else "info",
                "component": "support-handoff",
                "group": facts.network,
                "class": facts.event,
                "custom_details": asdict(facts),
            },
        }
    return {**asdict(facts), "event": f"job_{facts.event}", "headline": facts.headline}


def resolve_payload(job_id: int) -> dict[str, object]:
    """PagerDuty's `resolve` for a job's incident (sent when support verifies)."""
    return {"event_action": "resolve", "dedup_key": dedup_key(job_id)}
