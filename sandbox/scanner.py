"""The scanner Mini App in the sandbox: the product's page (data/scanner/), with a stand-in
for Telegram's script.

The page opens in an overlay of the chat page (an iframe, as Telegram's web client shows Mini
Apps). Instead of https://telegram.org/js/telegram-web-app.js it gets the sandbox's stand-in,
static/telegram-web-app.js: `showScanQrPopup` reads codes from this device's camera
(`getUserMedia`) or from the demo sticker with the vendored jsQR decoder (static/vendor/,
`python -m sandbox.vendor`), and `sendData` hands the text to the chat page, which posts it
as the `web_app_data` message Telegram would send. Nothing is loaded from outside.

    GET /scanner/             the page, its Telegram script swapped for the stand-in
    GET /scanner/{file}       its script and style sheet
"""

from __future__ import annotations

import re

from aiohttp import web

from bot.config import SCANNER_DIR

SCANNER_PATH = "/scanner/"
TELEGRAM_SCRIPT = '<script src="https://telegram.org/js/telegram-web-app.js"></script>'
STAND_IN = ('<script src="/static/vendor/jsQR.js"></script>\n'
            '<script src="/static/telegram-web-app.js"></script>')
META_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?', re.I)
SCANNER_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self' blob: mediastream:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)
"""The page's policy in the sandbox: its own scripts (the stand-in too), the demo sticker, the
camera's stream; framed by the chat page only."""
HEADERS = {"Content-Security-Policy": SCANNER_CSP, "X-Frame-Options": "SAMEORIGIN",
           "Cache-Control": "no-store"}
FILES = ("scan.js", "scan.css")


def scanner_html() -> str:
    """The product's page with the stand-in instead of Telegram's script (and the sandbox's
    policy, sent as a header, instead of the page's own, which names telegram.org)."""
    html = (SCANNER_DIR / "index.html").read_text(encoding="utf-8")
    if TELEGRAM_SCRIPT not in html:
        raise RuntimeError("data/scanner/index.html no longer loads Telegram's script as "
                           "sandbox/scanner.py expects")
    return META_CSP.sub("", html.replace(TELEGRAM_SCRIPT, STAND_IN))


async def page(request: web.Request) -> web.Response:
    return web.Response(text=scanner_html(), content_type="text/html", headers=HEADERS)


async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(SCANNER_DIR / name, headers=HEADERS)


def attach(app: web.Application) -> None:
    """Add the scanner's routes to `app`."""
    app.router.add_get(SCANNER_PATH, page)
    app.router.add_get(SCANNER_PATH + "{name}", asset)
