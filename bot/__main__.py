"""The run command: `python -m bot` (or `pinpoint`) starts the bot with the settings."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

NO_TOKEN = """\
Pinpoint needs a Telegram bot token to run.

  1. In Telegram, talk to @BotFather, send /newbot and follow the steps.
  2. Copy the token it gives you (it looks like 123456789:AAE...).
  3. Put it in a file named .env in the project folder:
         TELEGRAM_TOKEN=123456789:AAE...
     (copy .env.example to .env for every other setting), or export TELEGRAM_TOKEN.
  4. Run this command again.
"""


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, load the settings, run the bot until interrupted."""
    parser = argparse.ArgumentParser(prog="pinpoint", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=["run"],
                        help="run: start the bot (default)")
    parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
