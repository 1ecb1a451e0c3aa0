"""Durable notices: a `Reply` owed to a chat, queued in the caller's transaction.

Whatever the bot must tell someone because the state changed (an admin's registration
request, an approval, a role change, a submission's confirmation, a "still waiting" line)
is queued with the change itself and sent by the handlers' sender (handlers/notices.py),
so a crash between the commit and the send delays it but never loses it. `key` names the
fact: the same key queues once.
"""

from __future__ import annotations

from bot.engine.interaction import Reply
from bot.store import Store


async def queue(store: Store, chat_id: int, reply: Reply, key: str) -> bool:
    """Queue `reply` (text, inline buttons, quoted message) for `chat_id`; False when a
    notice with this key was queued before."""
    rows = [[{"label": b.label, "data": b.data, "url": b.url} for b in row]
            for row in reply.buttons]
    return await store.queue_notice(chat_id, reply.text, rows, key, reply.reply_to)
