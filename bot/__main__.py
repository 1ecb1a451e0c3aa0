"""The run command: `python -m bot [COMMAND]` (also `./pinpoint [COMMAND]`).

    run               start the bot (the default); without TELEGRAM_TOKEN, the sandbox
    sandbox           the bot against a fake Telegram, chat page in the browser
                      (python -m bot sandbox --help)
    geo ...           probe the geocoder set-up (python -m bot.places.cli --help)
    sticker PATH...   read activation stickers from photos (python -m bot.vision.sticker --help)
    summary ...       the managers' summary or CSV from the database
                      (python -m bot.managers.cli -h)
    diagram           draw the procedure as a Mermaid flowchart in docs/procedure.md
    migrate           apply the database's pending migrations, print its version
    check             check the settings, store, Bot API, geocoder and webhooks (exit 1: failed)
"""

from __future__ import annotations

import importlib
import sys

from pydantic import ValidationError

SANDBOX_FIRST_LINE = (
    "No TELEGRAM_TOKEN set: starting the local sandbox (a fake Telegram in your browser; "
    "nothing reaches Telegram)."
)
NO_TOKEN = """\
To run the real bot instead, Pinpoint needs a Telegram bot token: set TELEGRAM_TOKEN.

  1. In Telegram, talk to @BotFather, send /newbot and follow the steps.
  2. Copy the token it gives you (it looks like 123456789:AAE...).
  3. Put it in a file named .env in the project folder:
         TELEGRAM_TOKEN=123456789:AAE...
     (copy .env.example to .env: it lists every other setting), or export TELEGRAM_TOKEN.
  4. Run this command again.
"""

TOOLS = {
    "geo": "bot.places.cli",
    "sticker": "bot.vision.sticker",
    "summary": "bot.managers.cli",
    "diagram": "bot.engine.diagram",
}


def run(args: list[str] | None = None) -> int:
    """Load the settings and run the bot until interrupted (webhook mode when WEBHOOK_URL is
    set, else long polling); without a token, the sandbox (`args` are its options then)."""
    from bot.config import load_settings

    try:
        settings = load_settings()
    except ValidationError as exc:
        print(f"Pinpoint: a setting is wrong:\n{exc}", file=sys.stderr)
        return 2
    if settings.telegram_token is None:
        print(SANDBOX_FIRST_LINE, NO_TOKEN, sep="\n", flush=True)
        from sandbox import main as sandbox

        return sandbox(args or [], settings)

    import asyncio
    import subprocess

    from bot.logs import configure_logging
    from handlers.app import build_application, serve

    # migrated by a process of its own: this one, long-lived, never loads Alembic (~10 MB)
    migrated = subprocess.run([sys.executable, "-m", "bot", "migrate"], check=False)
    if migrated.returncode:
        return migrated.returncode

    configure_logging(settings.log_level, settings.secrets(), settings.log_format)
    app = build_application(settings)
    asyncio.run(serve(app, settings))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the bot or to one of its command-line tools."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else "run"
    if command == "run":
        return run(args)
    if command == "sandbox":
        from sandbox import main as sandbox

        return sandbox(args)
    if command in ("migrate", "check"):
        from bot.ops import main as ops

        return ops(command, args)
    if command in TOOLS:
        return int(importlib.import_module(TOOLS[command]).main(args) or 0)
    print(__doc__, file=sys.stderr)
    return 0 if command in ("-h", "--help", "help") else 2


if __name__ == "__main__":
    sys.exit(main())
