"""The speed benchmark's children (`bench/speed.py`): the floor, or the real bot with its SQL
statements counted. Kept apart so a child imports nothing of the benchmark's own.

    python bench/speed_child.py floor|bot
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

COUNT_FILE = "sql-count"

def count_statements(where: Path) -> None:
    """Count every SQL statement this process runs; SIGUSR1 writes the count to `where` and
    the most frequent statements (their first 70 characters) beside it (`.top`)."""
    import json
    from collections import Counter

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counted: Counter[str] = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counted[" ".join(statement.split())[:70]] += 1

    def _write(*_: Any) -> None:
        where.with_suffix(".top").write_text(json.dumps(counted.most_common(40), indent=0))
        where.write_text(str(sum(counted.values())))

    signal.signal(signal.SIGUSR1, _write)


def serve_bot() -> int:
    """The real bot, its SQL statements counted."""
    count_statements(Path(COUNT_FILE))
    from bot.__main__ import run

    return run([])


def serve_floor() -> None:
    """The floor: PTB polling, one committed SQLite row and one sendMessage per message."""
    import aiosqlite
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    counted = [0]
    signal.signal(signal.SIGUSR1, lambda *_: Path(COUNT_FILE).write_text(str(counted[0])))
    db: dict[str, aiosqlite.Connection] = {}

    async def opened(app: Application) -> None:
        db["conn"] = conn = await aiosqlite.connect(os.environ["DATABASE_PATH"])
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("CREATE TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY, "
                           "chat INTEGER, text TEXT)")
        await conn.commit()

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        conn = db["conn"]
        await conn.execute("INSERT INTO seen (chat, text) VALUES (?, ?)",
                           (message.chat_id, message.text))
        await conn.commit()
        counted[0] += 2  # the insert and its commit
        await message.reply_text(message.text, do_quote=False)

    app = (Application.builder().token(os.environ["TELEGRAM_TOKEN"])
           .base_url(f"{os.environ['TELEGRAM_API_URL'].rstrip('/')}/bot")
           .base_file_url(f"{os.environ['TELEGRAM_API_URL'].rstrip('/')}/file/bot")
           .concurrent_updates(256).post_init(opened).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0, timeout=10, drop_pending_updates=False)


if __name__ == "__main__":
    if sys.argv[1:] == ["floor"]:
        serve_floor()
    elif sys.argv[1:] == ["bot"] and os.environ.get("SPEED_PROFILE"):
        import cProfile  # the bot's own profile (CPU time), written when it stops
        import time

        profile = cProfile.Profile(time.process_time)
        try:
            profile.runcall(serve_bot)
        finally:
            profile.dump_stats(os.environ["SPEED_PROFILE"])
    elif sys.argv[1:] == ["bot"]:
        sys.exit(serve_bot())
    else:
        sys.exit(__doc__)
