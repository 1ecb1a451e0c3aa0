"""The sandbox: try the bot without Telegram, in a browser.

`python -m bot sandbox` (and `python -m bot run` when no TELEGRAM_TOKEN is set) starts the
project's Bot API emulator as a server, the real bot polling it with its own SQLite file, and
a chat page at http://127.0.0.1:8765 where one can be the demo installer, a support member in
the support group, a manager or an admin — one person per browser tab.

    launcher.py   `Sandbox` (start/stop everything) and the command line (`main`)
    settings.py   the bot's settings: a fixed safe base, deliveries to a local recorder
    guard.py      who may talk to the server: loopback Host, own Origin, the network token
    server.py     the page's JSON API and live updates (Server-Sent Events)
    views.py      messages, keyboards and recorded deliveries as the page receives them
    seed.py       the demo people, chats, places and values
    sticker.py    the demo activation sticker (static/demo-sticker.png)
    scanner.py    the scanner Mini App (data/scanner/) with a stand-in for Telegram's script
    vendor.py     `python -m sandbox.vendor`: the QR decoder from npm (npm/) into static/vendor/
    static/       the page: index.html, app.js, style.css (no build step, works offline), the
                  stand-in telegram-web-app.js, and vendor/ (jsQR and its licence)
"""

from sandbox.launcher import Sandbox, main

__all__ = ["Sandbox", "main"]
