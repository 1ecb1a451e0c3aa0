"""A fake Telegram Bot API server and a test driver for running the real bot against it.

Plain aiohttp speaking the Bot API wire format; it never imports `telegram`.

    emu = BotApiEmulator()                      # token "123456:TEST-TOKEN"
    await emu.start()                           # free port on 127.0.0.1; emu.api_root
    ana = emu.user(id=1001, first_name="Ana")   # a Player in her private chat
    await ana.send("/start")
    reply = await ana.expect_text("Welcome")    # next unread bot message, waited for
    answer = await ana.press("Confirm")         # callback query, waits for answerCallbackQuery
    await emu.stop()

State to inspect: `emu.calls` (every API call), `emu.chats[chat_id].messages` (with edit
history and deletions), `emu.files`, `emu.all_updates`; `emu.fail_next()` injects errors,
`emu.fail_randomly(rate=0.3, seed=7)` a seeded fraction of them (429, 5xx, an HTML error
page, a dropped connection), `emu.stop_failing()` ends both.

Mini Apps: a reply keyboard's `web_app` button (https only, private chats; plain http with
`BotApiEmulator(test_environment=True)`) opens at `ana.web_app_url()`, and what the Mini App
sends with `sendData` arrives as `await ana.send_web_app_data(text)` (a `web_app_data` message).

Webhooks too: after the bot's `setWebhook`, updates are POSTed to its URL and redelivered
until answered 2xx (`emu.webhook`, `emu.redeliver(update)`; testkit/emulator/webhook.py).
"""

from testkit.emulator.core import RandomFaults
from testkit.emulator.driver import BotMessage, CallbackAnswer, Group, Player
from testkit.emulator.html import HtmlError, parse_html, utf16_len
from testkit.emulator.media import sample_image
from testkit.emulator.server import BotApiEmulator
from testkit.emulator.state import ApiCall, ApiError, StoredMessage

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "CallbackAnswer",
    "Group",
    "HtmlError",
    "Player",
    "RandomFaults",
    "StoredMessage",
    "parse_html",
    "sample_image",
    "utf16_len",
]
