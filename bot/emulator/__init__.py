"""A fake Telegram Bot API server and a test driver for running the real bot against it.

Plain aiohttp speaking the Bot API wire format; it never imports `telegram`.
"""

from bot.emulator.driver import BotMessage, CallbackAnswer, Group, Player
from bot.emulator.html import HtmlError, parse_html, utf16_len
from bot.emulator.media import sample_image
from bot.emulator.server import BotApiEmulator
from bot.emulator.state import ApiCall, ApiError, StoredMessage

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "CallbackAnswer",
    "Group",
    "HtmlError",
    "Player",
    "StoredMessage",
    "parse_html",
    "sample_image",
    "utf16_len",
]
