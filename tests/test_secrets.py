"""Secrets: no markup injected into pages, private database files, deliveries cleared once
delivered, the activation password masked when no longer needed, and no secret in the logs
(the real bot at DEBUG with every secret set)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import Settings
from bot.engine.procedure import Procedure
from bot.logs import LIBRARY_LEVELS, configure_logging
from bot.places.cache import GeocodeCache
from bot.store import Store
from bot.store.outbox import target_origin
from bot.support.paging import PageFacts, page_payload
from bot.support.retention import purge_secrets
from sandbox.launcher import Sandbox
from testkit.emulator import BotApiEmulator, Player
from testkit.fakes.geocoder import FakeNominatim
from testkit.fakes.webhook import FakeWebhook

from conftest import ANA_ID, SUPPORT_CHAT_ID, SUPPORT_ID, RunningBot, make_settings
from flow import PASSWORD, start_job, walk

EVIL_NAME = "<!channel>"
EVIL_ADDRESS = "<https://evil.example|click> & more"
RECORD_TOKEN = "record-bearer-token-9876543210"
ROUTING_KEY = "R0UTING-KEY-0123456789abcdef"
GEOCODER_KEY = "geo-api-key-5f4dcc3b5aa765d61d83"
SLACK_PATH = "/slack/services/T0AAAAAAA/B0BBBBBBB/XyZsecretSlackPart0123"
GENERIC_PATH = "/generic/hook?token=generic-url-secret-0123"
RECORD_PATH = "/record/v1/stations?auth=record-url-secret-4242"

FACTS = PageFacts(event="submitted", job_id=7, network="ChargeNet", installer=EVIL_NAME,
                  installer_id="INS-1&2", station="ABB Terra 184", serial="T184<b>",
                  mac="0024:B100:0002:1A2B", address=EVIL_ADDRESS, address_verified=False,
                  submitted_at="2026-11-24T10:00:00+00:00")


# Pages -------------------------------------------------------------------------------------


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_slack_pages_escape_every_inserted_value() -> None:
    slack = page_payload("slack", FACTS)
    for text in _strings(slack):
        assert "<" not in text and ">" not in text, text
        assert "& " not in text
    body = json.dumps(slack, ensure_ascii=False)
    assert "&lt;!channel&gt;" in body
    assert "&lt;https://evil.example|click&gt; &amp; more" in body
    assert "INS-1&amp;2" in body and "T184&lt;b&gt;" in body
    assert "&amp;amp;" not in body and "&amp;lt;" not in body  # escaped once


def test_generic_and_pagerduty_pages_are_data() -> None:
    generic = page_payload("generic", FACTS)
    assert generic["installer"] == EVIL_NAME and generic["address"] == EVIL_ADDRESS
    long = PageFacts(**{**FACTS.__dict__, "address": "Hauptstraße 5 " * 200})
    pd = page_payload("pagerduty", long)["payload"]
    assert len(pd["summary"]) <= 1024
    assert pd["custom_details"]["installer"] == EVIL_NAME  # data: not escaped


# Logs --------------------------------------------------------------------------------------


def test_the_settings_name_every_secret() -> None:
    settings = Settings(
        _env_file=None, telegram_token="123456:" + "A" * 35, record_token=RECORD_TOKEN,
        pagerduty_routing_key=ROUTING_KEY, geocoder_api_key=GEOCODER_KEY,
        paging_webhooks="slack:https://hooks.slack.com/services/T0/B0/XXXXXXXX,"
                        "https://ops.example/h?token=t0k3n",
        record_endpoint="https://net.example/api/records",
        geocoder_url="https://u:geopw@geo.example/?key=qq11",
    )
    found = settings.secrets()
    for secret in ("123456:" + "A" * 35, RECORD_TOKEN, ROUTING_KEY, GEOCODER_KEY,
                   "https://hooks.slack.com/services/T0/B0/XXXXXXXX", "/services/T0/B0/XXXXXXXX",
                   "https://ops.example/h?token=t0k3n", "token=t0k3n",
                   "https://net.example/api/records", "geopw", "key=qq11"):
        assert secret in found, secret
    assert "https://geo.example/" not in found  # the geocoder's address itself is no secret
    assert Settings(_env_file=None).secrets() == []


def test_every_logger_is_redacted_message_arguments_and_exception(
    caplog: pytest.LogCaptureFixture, logging_restored: None
) -> None:
    configure_logging("DEBUG", ["s3cr3t-value", "a b&c/d", "ab"])
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError("boom with s3cr3t-value")
    except ValueError:
        logging.getLogger("some.library").exception("failed: %s", "s3cr3t-value")
    logging.getLogger("geopy").debug("X.geocode: https://g.example/?q=x&key=a+b%26c%2Fd")
    logging.getLogger("x").info("a table")  # "ab" is too short to be taken for a secret
    text = caplog.text
    assert "s3cr3t-value" not in text and "a+b%26c%2Fd" not in text
    assert "failed: [redacted]" in text and "ValueError: boom with [redacted]" in text
    assert "key=[redacted]" in text and "a table" in text


# Files and the outbox ----------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "p.db"
        store = await Store.open(path)
        await store.enqueue("generic", "https://x.example/h", {"a": 1}, "k")
        cache = GeocodeCache(store.engine)  # the cache writes on a connection of its own
        await cache.put("k", [])
        files = [path, path.with_name("p.db-wal"), path.with_name("p.db-shm")]
        assert all(f.exists() for f in files)
        assert [_mode(f) for f in files] == [0o600] * 3
        await store.close()
        legacy = tmp_path / "old.db"
        legacy.touch(mode=0o644)
        legacy.chmod(0o644)
        await (await Store.open(legacy)).close()
        assert _mode(legacy) == 0o600  # narrowed when opened
    finally:
        os.umask(old)


async def test_the_sandbox_database_is_private(sandbox: Sandbox) -> None:
    assert sandbox.database is not None
    assert _mode(sandbox.database) == 0o600


def test_a_target_keeps_only_its_origin() -> None:
    assert target_origin("https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com"
    assert target_origin("http://u:pw@127.0.0.1:8080/r?k=1") == "http://127.0.0.1:8080"


async def test_old_deliveries_are_given_up_and_cleared(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "o.db")
    await store.enqueue("slack", "https://hooks.example/services/SECRET", {"t": "x"}, "a")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await store.scrub_deliveries(later) == 1
    [row] = await store.deliveries()
    assert (row.payload, row.target) == ({}, "https://hooks.example")
    assert "expired" in (row.last_error or "")
    assert await store.due_deliveries(later, max_attempts=12) == []
    await store.close()


# The bot, end to end -----------------------------------------------------------------------


class KeyedNominatim(FakeNominatim):
    """The fake Nominatim under OpenMapQuest's paths: a geopy geocoder that sends an API key
    in its URLs (`key=`), as geopy logs them at DEBUG."""

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/nominatim/v1/reverse", self._reverse),
                web.get("/nominatim/v1/search", self._search)]


@pytest.fixture
async def keyed() -> AsyncIterator[KeyedNominatim]:
    fake = KeyedNominatim()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def settings(tmp_path: Path, emu: BotApiEmulator, hooks: FakeWebhook,
             keyed: KeyedNominatim) -> Settings:
    return make_settings(
        tmp_path, emu, keyed.url, geocoder="openmapquest", geocoder_api_key=GEOCODER_KEY,
        paging_webhooks=[f"slack:{hooks.url(SLACK_PATH)}", f"generic:{hooks.url(GENERIC_PATH)}",
                         f"pagerduty:{hooks.url('/pagerduty')}"],
        pagerduty_routing_key=ROUTING_KEY, record_endpoint=hooks.url(RECORD_PATH),
        record_token=RECORD_TOKEN, outbox_retry_base_s=0.05, log_level="DEBUG",
    )


async def verified_job(emu: BotApiEmulator, bot: RunningBot, hooks: FakeWebhook) -> Player:
    """Register an installer named `<!channel>`, walk and submit a job, have support verify
    it, and wait until every page and the record were delivered."""
    installer = emu.user(ANA_ID, EVIL_NAME, "<https://evil.example|x>", username="ana")
    await installer.send("/start")
    await installer.expect_text("installer ID")
    await installer.send("INS-10234")
    await installer.expect_text("approved")
    support = emu.user(SUPPORT_ID, "Bob", "Support").in_chat(
        emu.group(SUPPORT_CHAT_ID, "ChargeNet support"))
    await start_job(installer)
    await walk(installer, bot)
    handoff = await support.wait_for_text("Job #", "submitted")
    await support.press("Verify", message=handoff)
    await installer.wait_for_text("Job #1 is verified")
    await hooks.wait_for(1, "/record/v1/stations", timeout=10)
    await hooks.wait_for(2, "/pagerduty", timeout=10)
    await hooks.wait_for(2, SLACK_PATH, timeout=10)
    return installer


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Put the process's logging back as it was after a test that configures it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    names = [*LIBRARY_LEVELS, "geopy"]
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level
        logging.setLogRecordFactory(factory)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


async def test_debug_logs_carry_no_secret(
    emu: BotApiEmulator, settings: Settings, hooks: FakeWebhook,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
    logging_restored: None,
) -> None:
    configure_logging("DEBUG", settings.secrets())  # as `python -m bot run` does
    logging.getLogger().addHandler(caplog.handler)  # (configure_logging replaced it)
    for name in ("httpx", "httpcore", "geopy"):  # louder than production: the URLs show
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    bot = RunningBot(settings)
    await bot.start()
    try:
        await verified_job(emu, bot, hooks)
        await bot.run_job("secrets-purge")
    finally:
        await bot.stop()
    text = caplog.text + capfd.readouterr().err
    secrets = [settings.telegram_token.get_secret_value(), RECORD_TOKEN, ROUTING_KEY,
               GEOCODER_KEY, hooks.url(SLACK_PATH), "XyZsecretSlackPart0123",
               "generic-url-secret-0123", "record-url-secret-4242", PASSWORD]
    for secret in secrets:
        assert secret not in text, secret
    # the secrets were there to leak: geopy's and httpx's request URLs, redacted
    assert any(r.name == "geopy" and "key=[redacted]" in r.getMessage()
               for r in caplog.records)
    assert any(r.name == "httpx" and "[redacted]" in r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in text  # what is not secret stays readable


async def test_secrets_at_rest_after_delivery_and_the_purge(
    emu: BotApiEmulator, settings: Settings, hooks: FakeWebhook
) -> None:
    bot = RunningBot(settings)
    await bot.start()
    try:
        await verified_job(emu, bot, hooks)
        # the Slack page escaped the installer's name: no `<!channel>` for Slack to act on
        slack = hooks.delivered(SLACK_PATH)[0].body
        details = slack["blocks"][1]["text"]["text"]
        assert "&lt;!channel&gt; &lt;https://evil.example|x&gt;" in details
        assert "<" not in json.dumps(slack, ensure_ascii=False)
        assert hooks.delivered("/record/v1/stations")[0].body["station"][
            "activation_password"] == PASSWORD  # the network got it, once
        store = bot.services.store
        await _until_all_delivered(store)
        rows = await store.fetch_all("SELECT * FROM outbox")
        dumped = json.dumps([dict(r) for r in rows])
        for secret in (PASSWORD, "services/T0AAAAAAA", "generic-url-secret", "record-url-secret",
                       ROUTING_KEY, RECORD_TOKEN, EVIL_NAME):
            assert secret not in dumped, secret
        assert all(r["payload"] == "{}" and r["target"] == hooks.url("") for r in rows)
        assert {r["kind"] for r in rows} == {"slack", "generic", "pagerduty", "record"}
        assert all(r["delivered_at"] and r["attempts"] >= 1 for r in rows)

        key = bot.services.procedure.key("password")
        before = await store.answers(1)
        assert before[key].value == PASSWORD  # until the purge
        await bot.run_job("secrets-purge")
        after = await store.answers(1)
        assert after[key].value == "••••7K"
        trail = await store.audit_trail(1)
        assert PASSWORD not in json.dumps(trail)
        assert trail[-1]["action"] == "secret_masked"
        path = settings.database_path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        files = [path, path.with_name(path.name + "-wal")]
        assert not any(PASSWORD.encode() in f.read_bytes() for f in files)  # nowhere at all
    finally:
        await bot.stop()


async def _until_all_delivered(store: Store) -> None:
    for _ in range(100):
        if all(d.delivered_at for d in await store.deliveries()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not every delivery was delivered")


# The purge, on its own ----------------------------------------------------------------------


@pytest.mark.both_stores
async def test_the_purge_keeps_a_password_until_the_network_has_it(database_url: str) -> None:
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    clock = {"now": now}
    store = await Store.open(database_url, clock=lambda: clock["now"])
    from bot.config import PROCEDURE_PATH
    from bot.engine.kinds import KINDS
    from bot.engine.validators import VALIDATORS

    procedure = Procedure.load(PROCEDURE_PATH, VALIDATORS, KINDS)
    settings = Settings(_env_file=None, password_retention_days=30)
    key = procedure.key("password")
    mac = procedure.key("mac")
    await store.upsert_user(ANA_ID, "Ana")
    jobs = [(await store.create_job(ANA_ID, ANA_ID, None)).id for _ in range(4)]
    for job_id in jobs[:3]:
        await store.save_answer(job_id, key, "SECRET9", "typed")
    # 1: verified, record delivered; 2: verified, record not yet delivered; 3: open
    await store.update_job(jobs[0], status="verified")
    await store.update_job(jobs[1], status="verified")
    await store.enqueue("record", "https://n.example/r", {"pw": "SECRET9"}, f"record:{jobs[0]}")
    await store.enqueue("record", "https://n.example/r", {"pw": "SECRET9"}, f"record:{jobs[1]}")
    [first, _] = await store.deliveries()
    await store.delivered(first.id)
    # 4: cancelled with a sticker's password held for confirmation
    await store.update_job(jobs[3], status="cancelled", pending={
        "step": mac, "value": "0024:B100:0002:1A2B", "source": "qr",
        "caution": {"text": "t", "extra": {key: "SECRET9"}}})

    purged = await purge_secrets(store, settings, procedure)
    assert purged.answers == [jobs[0]] and purged.pending == [jobs[3]]
    values = [(await store.answers(j)).get(key) for j in jobs[:3]]
    assert [v.value for v in values] == ["•••••T9", "SECRET9", "SECRET9"]
    job = await store.job(jobs[3])
    assert job.pending["caution"]["extra"][key] == "•••••T9"
    assert (await purge_secrets(store, settings, procedure)).answers == []  # once

    clock["now"] = now + timedelta(days=31)  # past the retention: whatever the state
    purged = await purge_secrets(store, settings, procedure)
    assert sorted(purged.answers) == [jobs[1], jobs[2]]
    dumped = json.dumps([dict(r) for r in await store.fetch_all("SELECT * FROM outbox")])
    assert "SECRET9" not in dumped and "expired" in dumped
    await store.close()
