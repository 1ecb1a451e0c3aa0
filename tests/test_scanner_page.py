"""The sticker scanner Mini App's page (data/scanner/): nothing but Telegram's script comes
from elsewhere, and the webhook server serves it at /scanner/."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import SCANNER_DIR, Settings
from handlers.monitoring import Monitoring
from handlers.webhook import SCANNER_PATH, WebhookServer

TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"  # as Telegram documents it


class Resources(HTMLParser):
    """Every address the page loads or links, and its meta Content-Security-Policy."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.csp = ""
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href", "action", "srcset") and v]
        if tag == "meta" and (found.get("http-equiv") or "").lower() == \
                "content-security-policy":
            self.csp = found.get("content") or ""
        self._in_script = tag == "script"
        if any(k.startswith("on") for k, _ in attrs) or "style" in found:
            self.inline_scripts += 1

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_only_telegrams_script_comes_from_elsewhere() -> None:
    page = Resources()
    page.feed((SCANNER_DIR / "index.html").read_text(encoding="utf-8"))
    external = [u for u in page.urls if re.match(r"^([a-z]+:)?//", u, re.I)]
    assert external == [TELEGRAM_SCRIPT]
    assert page.inline_scripts == 0
    assert {u for u in page.urls if u not in external} == {"scan.js", "scan.css"}
    policy = dict(part.strip().split(" ", 1) for part in page.csp.split(";") if part.strip())
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self' https://telegram.org"
    for name in ("scan.js", "scan.css"):
        text = (SCANNER_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|\bfetch\(|XMLHttpRequest|WebSocket|\beval\(|import\(|"
                             r"@import|url\(", text), name
    script = (SCANNER_DIR / "scan.js").read_text(encoding="utf-8")
    assert "showScanQrPopup" in script and "sendData" in script
    assert {p.name for p in SCANNER_DIR.iterdir()} == {"index.html", "scan.js", "scan.css"}


def test_mini_app_url_must_be_https() -> None:
    assert Settings(_env_file=None, mini_app_url="").mini_app_url is None  # type: ignore[call-arg]
    assert Settings(_env_file=None,  # type: ignore[call-arg]
                    mini_app_url=" https://bot.example.org/scanner/ ").mini_app_url \
        == "https://bot.example.org/scanner/"
    for wrong in ("http://bot.example.org/scanner/", "bot.example.org/scanner/"):
        try:
            Settings(_env_file=None, mini_app_url=wrong)  # type: ignore[call-arg]
        except ValueError as exc:
            assert "MINI_APP_URL" in str(exc)
        else:
            raise AssertionError(f"{wrong!r} was taken")


async def test_the_webhook_server_serves_the_page() -> None:
    async def hook(request: web.Request) -> web.Response:
        return web.Response()

    server = WebhookServer(SimpleNamespace(handle=hook),  # type: ignore[arg-type]
                           Monitoring(SimpleNamespace(bot_data={})),  # type: ignore[arg-type]
                           "/telegram/hook")
    async with TestClient(TestServer(server.web_app)) as client:
        index = await client.get(SCANNER_PATH)
        assert index.status == 200 and index.content_type == "text/html"
        assert TELEGRAM_SCRIPT in await index.text()
        assert index.headers["X-Content-Type-Options"] == "nosniff"
        script = await client.get(SCANNER_PATH + "scan.js")
        assert script.status == 200 and "showScanQrPopup" in await script.text()
        for path in ("scan.py", "..%2Fprocedure.toml", "../procedure.toml", "%2e%2e/en.toml"):
            assert (await client.get(SCANNER_PATH + path)).status == 404, path
        assert (await client.post(SCANNER_PATH)).status == 405
