"""Updates in the project's hands: kept before they are confirmed, processed once, fairly.

Telegram forgets an update once a later `getUpdates` confirms it (its `offset` passes it),
and redelivers anything not confirmed. The stock polling loop confirms a fetched batch
before its handlers have run, so a crash loses it. Here:

1. `Poller` fetches updates and writes each one to the `Inbox` (a table in the database)
   before the next `getUpdates` confirms it; an update already in the inbox (a redelivery)
   is recognised and skipped.
2. `Dispatcher` processes them: in arrival order for each person, side by side across
   people. A person's backlog waits in that person's own queue, so it never occupies the
   shared capacity (`slots`); a person with more than `per_person` updates waiting gets one
   polite "slow down" and the excess is dropped (and logged). Updates carrying a photo or a
   file (download, decoding, the QR pool: CPU) have a smaller capacity of their own
   (`photo_slots`), so a burst of photos cannot hold up anyone's typed or pressed answers.
3. Several instances on one PostgreSQL database (`Turns`): a person's update is processed
   under that person's lock across instances (`Store.person_turn`), and under it first the
   person's earlier updates that another instance received but has not finished (those a
   dead instance left too): a person's updates are processed one at a time, in `update_id`
   order among those in the inbox when the turn begins; one another instance finished
   meanwhile is skipped. (Telegram numbers updates as they come; an update still on its way
   to another instance's inbox cannot be waited for.)
4. The first transaction that commits an update's effects also marks it done in the inbox
   (`bot.store.inbox.processing`), and so does the end of its processing; at start, updates
   received but not done (the process died first) are processed before new ones. An answer
   is thus never applied twice; a message owed after a committed change is sent again by
   the start-up sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from telegram import Bot, Update
from telegram.error import TelegramError

from bot.store import Received
from bot.store.inbox import processing
from handlers.retries import RetryingRequest

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
PER_PERSON_QUEUE = 20
SHARED_SLOTS = 64
PHOTO_SLOTS = 4
POLL_TIMEOUT_S = 10
POLL_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class Inbox(Protocol):
    """Durable record of updates received and processed."""

    async def receive(self, update_id: int, sender: int, payload: str) -> bool:
        """Keep an update; False when it was received before (a redelivery)."""

    async def done(self, update_id: int) -> None:
        """Mark an update processed."""

    async def unfinished(self) -> list[Received]:
        """Updates received but not processed, oldest first."""


class Turns(Protocol):
    """A person's lock across instances, and the inbox as seen under it."""

    def person_turn(self, key: int) -> AbstractAsyncContextManager[None]:
        """Hold the person's lock while the block runs."""

    async def unfinished_of(self, sender: int, upto: int) -> list[Received]:
        """The person's updates not processed yet, up to `upto`, oldest first."""


def sender_of(update: Update) -> int:
    """Whose order an update keeps: its user's, else its chat's."""
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return 0


def carries_file(update: Update) -> bool:
    """Whether an update brings a photo or a file (work for the CPU beyond its text)."""
    message = update.message
    return message is not None and bool(message.photo or message.document)


class Dispatcher:
    """Runs updates in order per person and concurrently across people, fairly."""

    def __init__(self, process: Callable[[Update], Awaitable[object]], inbox: Inbox, *,
                 slots: int = SHARED_SLOTS, photo_slots: int = PHOTO_SLOTS,
                 per_person: int = PER_PERSON_QUEUE,
                 on_overflow: Callable[[Update], Awaitable[object]] | None = None,
                 turns: Turns | None = None,
                 decode: Callable[[Received], Update | None] | None = None) -> None:
        self._process = process
        self._turns = turns  # several instances: take the person's turn (needs `decode`)
        self._decode = decode
        self._inbox = inbox
        self._slots = asyncio.Semaphore(slots)
        self._photo_slots = asyncio.Semaphore(photo_slots)
        self._per_person = per_person
        self._on_overflow = on_overflow
        self._queues: dict[int, deque[Update]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._warned: set[int] = set()
        self._background: set[asyncio.Task[object]] = set()

    def submit(self, update: Update) -> bool:
        """Queue an update behind the same person's earlier ones; False when dropped."""
        key = sender_of(update)
        queue = self._queues.setdefault(key, deque())
        if len(queue) >= self._per_person:
            self._overflow(key, update)
            return False
        queue.append(update)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"person-{key}")
        return True

    def _overflow(self, key: int, update: Update) -> None:
        log.warning("dropped update %s: %s already has %d updates waiting",
                    update.update_id, key, self._per_person)
        self._spawn(self._inbox.done(update.update_id))
        if key not in self._warned and self._on_overflow is not None:
            self._warned.add(key)
            self._spawn(self._on_overflow(update))

    def _spawn(self, work: Awaitable[object]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _work(self, key: int) -> None:
        queue = self._queues[key]
        try:
            while queue:
                update = queue[0]
                async with self._photo_slots if carries_file(update) else self._slots:
                    if self._turns is None:
                        await self._run(update)
                    else:
                        await self._run_in_turn(key, update)
                queue.popleft()
        finally:
            self._workers.pop(key, None)
            if not queue:
                self._queues.pop(key, None)
                self._warned.discard(key)

    async def _run(self, update: Update) -> None:
        processing.set(update.update_id)
        try:
            await self._process(update)
        except Exception:  # the application logs handler errors itself
            log.exception("update %s failed", update.update_id)
        await self._inbox.done(update.update_id)

    async def _run_in_turn(self, key: int, update: Update) -> None:
        """Under the person's lock: their unfinished updates up to this one, in order."""
        assert self._turns is not None and self._decode is not None
        async with self._turns.person_turn(key):
            for kept in await self._turns.unfinished_of(key, update.update_id):
                mine = kept.update_id == update.update_id
                earlier = update if mine else self._decode_kept(kept)
                if not mine:
                    log.info("update %s of %s taken over from another instance",
                             kept.update_id, key)
                if earlier is None:
                    await self._inbox.done(kept.update_id)
                else:
                    await self._run(earlier)

    def adopt(self, kept: Iterable[Received]) -> int:
        """Queue updates another instance received but left unfinished (it died), unless
        queued here already; how many were queued. Their person's turn sorts out the rest."""
        queued = {u.update_id for q in self._queues.values() for u in q}
        adopted = 0
        for item in kept:
            update = None if item.update_id in queued else self._decode_kept(item)
            if update is not None and self.submit(update):
                adopted += 1
        return adopted

    def _decode_kept(self, item: Received) -> Update | None:
        try:
            return self._decode(item) if self._decode is not None else None
        except Exception:  # a payload that is no update: dropped (marked done), logged
            log.exception("update %s in the inbox cannot be read", item.update_id)
            return None

    @property
    def waiting(self) -> int:
        """Updates queued or in progress, across people."""
        return sum(len(q) for q in self._queues.values())

    async def idle(self) -> None:
        """Wait until every queued update has been processed."""
        while self._workers or self._background:
            await asyncio.gather(*self._workers.values(), *self._background,
                                 return_exceptions=True)

    async def close(self, grace_s: float = 10.0) -> None:
        """Let the updates in progress finish (up to `grace_s`), then stop the rest."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), grace_s)
        tasks = [*self._workers.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class UpdatesRequest(RetryingRequest):
    """The transport of `getUpdates` that keeps each update's JSON as Telegram sent it, for
    the inbox (python-telegram-bot's `Update.to_json` cost more than the rest of the poll)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent: dict[int, str] = {}

    async def do_request(self, url: str, method: str, request_data: Any = None,
                         **timeouts: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, **timeouts)
        if code == 200 and url.endswith("/getUpdates"):
            try:
                self._sent = {u["update_id"]: json.dumps(u) for u in json.loads(payload)["result"]}
            except (ValueError, KeyError, TypeError):  # PTB reports what it cannot read
                self._sent = {}
        return code, payload

    def json_of(self, update: Update) -> str:
        """The update's JSON as received (as PTB writes it when not at hand)."""
        return self._sent.pop(update.update_id, None) or update.to_json()


class Poller:
    """Long polling that confirms an update only once the inbox holds it."""

    def __init__(self, bot: Bot, inbox: Inbox, dispatcher: Dispatcher, *,
                 allowed_updates: Iterable[str] = ALLOWED_UPDATES,
                 timeout_s: int = POLL_TIMEOUT_S, raw: UpdatesRequest | None = None) -> None:
        self.bot = bot
        self.inbox = inbox
        self.dispatcher = dispatcher
        self.raw = raw  # the transport of `getUpdates`, when it keeps the updates' JSON
        self.allowed_updates = list(allowed_updates)
        self.timeout_s = timeout_s
        self.offset: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def resume(self) -> int:
        """Queue the updates received before a restart but never processed."""
        return await resume(self.bot, self.inbox, self.dispatcher)

    async def poll_once(self, timeout_s: int | None = None) -> int:
        """One `getUpdates` (waiting up to `timeout_s`, by default the poller's): keep each
        update, then queue it; returns how many arrived."""
        wait = self.timeout_s if timeout_s is None else timeout_s
        updates = await self.bot.get_updates(offset=self.offset, timeout=wait,
                                             allowed_updates=self.allowed_updates)
        for update in updates:
            payload = update.to_json() if self.raw is None else self.raw.json_of(update)
            fresh = await self.inbox.receive(update.update_id, sender_of(update), payload)
            if fresh:
                self.dispatcher.submit(update)
            else:
                log.info("update %s was delivered again: skipped", update.update_id)
            self.offset = update.update_id + 1  # confirmed by the next call, now it is kept
        return len(updates)

    async def run(self) -> None:
        """Poll until cancelled; errors of `getUpdates` are polling errors, with back-off."""
        failures = 0
        while True:
            try:
                await self.poll_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramError as exc:
                delay = POLL_BACKOFF_S[min(failures, len(POLL_BACKOFF_S) - 1)]
                failures += 1
                log.warning("polling error (getUpdates): %s; trying again in %.0f s", exc, delay)
                await asyncio.sleep(delay)

    def start(self) -> None:
        """Run the loop in the background."""
        self._task = asyncio.create_task(self.run(), name="poller")

    async def stop(self) -> None:
        """Stop fetching (what was fetched is kept and will be processed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def resume(bot: Bot, inbox: Inbox, dispatcher: Dispatcher) -> int:
    """Queue the updates received before a restart but never processed (polling or webhook)."""
    unfinished = await inbox.unfinished()
    for kept in unfinished:
        update = Update.de_json(json.loads(kept.payload), bot)
        if update is not None:
            dispatcher.submit(update)
    if unfinished:
        log.info("resuming %d updates received before the restart", len(unfinished))
    return len(unfinished)
