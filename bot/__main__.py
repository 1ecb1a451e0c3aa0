"""The run command: `python -m bot [COMMAND]` (also `./pinpoint [COMMAND]`).

    run               start the bot (the default)
    geo ...           probe the geocoder set-up (python -m bot.geo --help)
    sticker PATH...   read activation stickers from photos (python -m bot.sticker --help)
"""

from __future__ import annotations

import importlib
import sys

from pydantic import ValidationError

NO_TOKEN = """\
Pinpoint needs a Telegram bot token to run: set TELEGRAM_TOKEN.

  1. In Telegram, talk to @BotFather, send /newbot and follow the steps.
  2. Copy the token it gives you (it looks like 123456789:AAE...).
  3. Put it in a file named .env in the project folder:
         TELEGRAM_TOKEN=123456789:AAE...
     (copy .env.example to .env: it lists every other setting), or export TELEGRAM_TOKEN.
  4. Run this command again.
"""

TOOLS = {"geo": "bot.geo", "sticker": "bot.sticker"}


def run() -> int:
    """Load the settings and run the bot until interrupted."""
    from bot.config import load_settings

    try:
        settings = load_settings()
    except ValidationError as exc:
        print(f"Pinpoint: a setting is wrong:\n{exc}", file=sys.stderr)
        return 2
    if settings.telegram_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2

    from bot.app import build_application
    from bot.logs import configure_logging

    configure_logging(settings.log_level, [settings.telegram_token.get_secret_value()])
    app = build_application(settings)
    app.run_polling(allowed_updates=["message", "edited_message", "callback_query"])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the bot or to one of its command-line tools."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else "run"
    if command == "run":
        return run()
    if command in TOOLS:
        return int(importlib.import_module(TOOLS[command]).main(args) or 0)
    print(__doc__, file=sys.stderr)
    return 0 if command in ("-h", "--help", "help") else 2


if __name__ == "__main__":
    sys.exit(main())
