"""The catch-up: what the bot owes after an interruption, sent once.

At start (after the updates left over from the previous run are processed, before polling
begins) and then every minute: queued notices not sent yet are sent (`handlers.notices`),
hand-offs not completely posted are completed, and decisions the installer never heard of
are told. At start only — no update can be in progress then — installers whose answer was
stored but whose next question never went out get one line saying so and the question, and
buttons left live on older messages are taken away.

Several instances on one database: one runs the catch-up at a time (the lease `CATCH_UP`);
owed questions are asked by the instance starting, and those of an instance that died by the
instance that saw it die (`OWED_GRACE_S` later), each under the person's turn and checked
again under it (another instance may be answering that person right then).
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from telegram.error import BadRequest, TelegramError

from bot.engine.interaction import Outcome
from handlers import notices, support
from handlers.context import PinpointContext
from handlers.render import retire_keyboards, send_replies

log = logging.getLogger(__name__)
NOTICE_GRACE = timedelta(minutes=2)  # a decision's own notice may still be on its way
POST_GRACE = timedelta(minutes=1)  # a hand-off's own update may still be posting it
ORPHAN_AGE = timedelta(minutes=1)  # this old and not processed: its instance is lost
ORPHAN_CHECK_S = 2.0  # several instances: how often to look for a dead one's updates
# A dead instance's owed questions wait this long: an answer it took and never acknowledged
# is redelivered by Telegram meanwhile, and asking before it arrives asks a question twice.
OWED_GRACE_S = 10.0
UNTIL_NOW = 2**62  # every update_id
CATCH_UP = "catch-up"
CATCH_UP_LEASE_S = 150.0  # the job runs every minute: a dead holder's lease soon expires


async def catch_up(context: PinpointContext, *, starting: bool = False) -> None:
    """Send owed notices, complete hand-off posts, tell missed decisions; at start, re-ask
    owed questions."""
    store = context.services.store
    now = store.clock()
    # At the start of the only running instance whatever is unposted or unsent was
    # interrupted; while another runs, it may be posting or sending it: the graces hold.
    interrupted = starting and not await store.others_alive()
    if await store.claim_lease(CATCH_UP, CATCH_UP_LEASE_S):
        await notices.deliver(context, starting=interrupted)
        # While the bot runs, a hand-off made moments ago is being posted by its own update
        # (here or on another instance).
        await support.post_unposted(context, now if interrupted else now - POST_GRACE)
        await support.send_owed_notices(context, now if interrupted else now - NOTICE_GRACE)
    if starting:
        await ask_owed_questions(context)
        await retire_leftover_keyboards(context)


async def catch_up_job(context: PinpointContext) -> None:
    """The repeating job: the catch-up while the bot runs."""
    await catch_up(context)


async def take_over_job(context: PinpointContext) -> None:
    """The repeating job of several instances: what a dead instance left."""
    await adopt_orphans(context)


async def adopt_orphans(context: PinpointContext) -> int:
    """Several instances: queue here the updates an instance that has died received and did
    not process (or any not processed for `ORPHAN_AGE`), and ask the questions it owed.
    Each update is processed under its person's turn, so one its instance is still working
    on is not processed twice."""
    store = context.services.store
    intake = context.application.bot_data.get("intake")
    if not store.shared or intake is None:
        return 0
    dead = await store.gone(r for r in await store.unfinished_receivers() if r is not None)
    before = (store.clock() - ORPHAN_AGE).astimezone(UTC).isoformat()
    adopted = intake[1].adopt(await store.orphans(dead, before))
    if adopted:
        log.info("adopted %d updates another instance left unfinished", adopted)
    if await store.departed():
        log.info("an instance has died: asking the questions it owed in %.0f s", OWED_GRACE_S)
        context.job_queue.run_once(owed_after_departure, OWED_GRACE_S, name="owed-questions")
    return adopted


async def owed_after_departure(context: PinpointContext) -> None:
    """The questions a dead instance owed, once its unacknowledged updates had time to come
    back (each person checked under their turn)."""
    await ask_owed_questions(context)


async def ask_owed_questions(context: PinpointContext) -> None:
    """Each open job whose current question was never sent: the line and the question."""
    store, engine = context.services.store, context.services.engine
    for chat_id, outcome in await engine.owed_questions():
        if store.shared:  # another instance may be answering this person: check under its turn
            async with store.person_turn(chat_id):
                if await store.unfinished_of(chat_id, UNTIL_NOW):
                    continue  # an update of theirs is on its way: it asks the next question
                for _chat, still in await engine.owed_questions():
                    if still.job_id == outcome.job_id:
                        await ask_again(context, chat_id, still)
        else:
            await ask_again(context, chat_id, outcome)


async def ask_again(context: PinpointContext, chat_id: int, outcome: Outcome) -> None:
    """Retire the old question's buttons, then the line and the question."""
    try:
        if outcome.retire is not None:  # the old question's buttons answer nothing now
            try:
                await context.bot.edit_message_reply_markup(chat_id, outcome.retire[0],
                                                            reply_markup=None)
            except BadRequest as exc:
                log.debug("old question not retired: %s", exc)
        await send_replies(context, chat_id, outcome)
    except TelegramError as exc:
        log.warning("could not ask job %s's question again: %s", outcome.job_id, exc)


async def retire_leftover_keyboards(context: PinpointContext) -> None:
    """Buttons an interruption left live on messages that are no longer the question."""
    keyboards = context.services.engine.keyboards
    for chat_id, job_id, stale in await keyboards.leftovers():
        try:
            await retire_keyboards(context, chat_id, stale)
        except TelegramError as exc:
            log.warning("stale buttons of job %s not taken away yet: %s", job_id, exc)
            continue
        await keyboards.retired(job_id, stale)
