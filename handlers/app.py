"""The factory: settings in, a wired python-telegram-bot `Application` out.

This is the one module of `bot/` that knows Telegram; the handlers live in `handlers/`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Callable
from datetime import datetime

# Durations such as a live location's period come as timedelta (PTB 22's opt-in, the future
# default); set before telegram is imported.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings
from bot.engine import buttons
from bot.engine.buttons import (
    JOB_ACTIONS,
    LANGUAGE_ACTIONS,
    REGISTRATION_ACTIONS,
    SUPPORT_ACTIONS,
)
from bot.services import Services
from bot.store import Received, utc_now
from handlers import access, installer, support
from handlers.catchup import ORPHAN_CHECK_S, catch_up, catch_up_job, take_over_job
from handlers.context import PinpointContext
from handlers.errors import on_error
from handlers.intake import ALLOWED_UPDATES, Dispatcher, Poller, UpdatesRequest
from handlers.language import language_button, language_command, set_command_menus
from handlers.managers import register_manager_handlers
from handlers.monitoring import Monitoring, start_monitoring, timed
from handlers.retries import RetryingRequest
from handlers.schedule import once, schedule_jobs
from handlers.webhook import WebhookReceiver, WebhookServer

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 60
CONNECTIONS = 64  # HTTP connections to the Bot API, shared by all people


def build_application(
    settings: Settings, clock: Callable[[], datetime] = utc_now
) -> Application:
    """Build the bot: services are created in `post_init`, closed in `post_shutdown`."""
    if settings.telegram_token is None:
        raise ValueError("TELEGRAM_TOKEN is not set")

    async def post_init(app: Application) -> None:
        services = await Services.create(settings, clock)
        app.bot_data["services"] = services
        services.start()
        schedule_jobs(app)  # the daily summary at SUMMARY_TIME and the reminder sweep
        if app.job_queue is not None:
            app.job_queue.run_repeating(once("support-waiting", 2.5 * SWEEP_INTERVAL_S)(
                support.sweep_waiting), interval=SWEEP_INTERVAL_S, first=SWEEP_INTERVAL_S,
                name="support-waiting")
            app.job_queue.run_repeating(catch_up_job, interval=SWEEP_INTERVAL_S,
                                        first=SWEEP_INTERVAL_S, name="catch-up")
            if services.store.shared:  # several instances: take over from a dead one at once
                await services.store.announce()
                app.job_queue.run_repeating(take_over_job, interval=ORPHAN_CHECK_S,
                                            first=ORPHAN_CHECK_S, name="take-over")
        await set_command_menus(app, services)

    async def post_shutdown(app: Application) -> None:
        services: Services | None = app.bot_data.pop("services", None)
        if services is not None:
            await services.close()

    updates = UpdatesRequest()  # getUpdates' own transport (keeps the updates' JSON)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.bot_base_url)
        .base_file_url(settings.bot_base_file_url)
        .context_types(ContextTypes(context=PinpointContext))
        .request(RetryingRequest(pool_size=CONNECTIONS))
        .get_updates_request(updates)
        .updater(None)  # updates come through the intake (handlers/intake.py)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.telegram_rate_limit:
        # Telegram's flood limits (about 30 messages a second, 20 a minute in a group):
        # queue rather than fail, and retry after a 429 with its retry_after.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
    app = builder.build()
    app.bot_data["updates_request"] = updates
    register_handlers(app)
    return app


def register_handlers(app: Application) -> None:
    """Handlers in the order they are tried; catch-alls come last."""
    private = filters.ChatType.PRIVATE
    # -1: every update: who is it? (never stops the update)
    app.add_handler(TypeHandler(Update, access.identify), group=-1)
    # 0: buttons, by the action their data decodes to (stale data: the catch-all below)
    app.add_handler(CallbackQueryHandler(access.registration_decision,
                                         pattern=buttons.matches(*REGISTRATION_ACTIONS)))
    app.add_handler(CallbackQueryHandler(installer.button, pattern=buttons.matches(*JOB_ACTIONS)))
    app.add_handler(CallbackQueryHandler(support.button,
                                         pattern=buttons.matches(*SUPPORT_ACTIONS)))
    app.add_handler(CallbackQueryHandler(language_button,
                                         pattern=buttons.matches(*LANGUAGE_ACTIONS)))
    # 0: /language, in any chat (a group's: managers and admins)
    app.add_handler(CommandHandler("language", language_command))
    # 0: installer commands, in private chats
    commands = {
        "start": installer.start, "new": installer.new_job, "back": installer.back,
        "status": installer.status, "jobs": installer.jobs, "cancel": installer.cancel,
        "help": installer.help_step,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback, filters=private))
    # 0: managers' and admins' commands (/summary, /export, /grant, /revoke), in any chat
    register_manager_handlers(app)
    # 0: any other private message is an answer (or a wrong kind of one)
    app.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, installer.message))
    # 0: a live location moving on: its latest point counts
    app.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE
                                   & filters.LOCATION, installer.live_location))
    # 0: any other edit: edits never change answers (the installer is told how to)
    app.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE
                                   & ~filters.LOCATION, installer.edited))
    # 0: in groups, a supporter's typed rejection reason (a reply to the bot's question)
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.REPLY & filters.TEXT
                                   & ~filters.COMMAND, support.reason_reply))
    # last: buttons nobody claims (old messages after an upgrade)
    app.add_handler(CallbackQueryHandler(access.stale_button))
    app.add_error_handler(on_error)


def make_dispatcher(app: Application, services: Services) -> Dispatcher:
    """The intake's dispatcher: every update processed (and timed), a person sending too
    much at once told to slow down."""

    async def slow_down(update: Update) -> None:
        if update.effective_chat is not None:
            await app.bot.send_message(update.effective_chat.id,
                                       services.texts.get("errors.slow_down"))

    def decode(kept: Received) -> Update | None:
        return Update.de_json(json.loads(kept.payload), app.bot)

    store = services.store  # several instances share PostgreSQL: take each person's turn
    return Dispatcher(timed(app.process_update), store, on_overflow=slow_down,
                      turns=store if store.shared else None, decode=decode)


async def start_polling(app: Application, poll_timeout: int = 10) -> None:
    """Start the bot inside a running event loop: services, the job queue, then the intake
    (updates left unprocessed by a previous run first, then those sent while it was down,
    then the catch-up of what the previous run still owed, then long polling)."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    services: Services = app.bot_data["services"]
    dispatcher = make_dispatcher(app, services)
    poller = Poller(app.bot, services.store, dispatcher, allowed_updates=ALLOWED_UPDATES,
                    timeout_s=poll_timeout, raw=app.bot_data.get("updates_request"))
    app.bot_data["intake"] = (poller, dispatcher)
    await services.store.forget_done()
    await services.store.release_earlier_leases()  # a killed run's leases must not wait
    await app.start()
    await poller.resume()
    try:  # what people sent while the bot was down goes first: it may answer what is owed
        await poller.poll_once(timeout_s=0)
    except TelegramError as exc:
        log.warning("polling error (getUpdates) at start: %s", exc)
    await settle_then_catch_up(app, dispatcher)
    poller.start()


async def settle_then_catch_up(app: Application, dispatcher: Dispatcher) -> None:
    """Process the updates kept by a previous run, then send what that run still owed."""
    await dispatcher.idle()
    try:
        await catch_up(PinpointContext(app), starting=True)
    except Exception:  # never keep the bot from starting; the repeating catch-up retries
        log.exception("the start-up catch-up failed")


async def stop_polling(app: Application) -> None:
    """Stop what `start_polling` started: fetching first, then the updates in progress
    (those not finished in time are processed at the next start), then the services."""
    intake = app.bot_data.pop("intake", None)
    if intake is not None:
        poller, dispatcher = intake
        await poller.stop()
        await dispatcher.close()
    if app.running:
        await app.stop()
    if app.post_stop is not None:
        await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def start_webhook(app: Application) -> None:
    """Start the bot in webhook mode (WEBHOOK_URL): services, the job queue, the updates
    left unprocessed by a previous run, the webhook server (with /healthz and /metrics),
    then `setWebhook` with the allowed updates and the secret. `stop_webhook` stops it."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    services: Services = app.bot_data["services"]
    settings = services.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    dispatcher = make_dispatcher(app, services)
    receiver = WebhookReceiver(app.bot, services.store, dispatcher, secret)
    server = WebhookServer(receiver, Monitoring(app), settings.webhook_path)
    app.bot_data["intake"] = (server, dispatcher)
    await services.store.forget_done()
    await services.store.release_earlier_leases()  # a killed run's leases must not wait
    await app.start()
    await receiver.resume()
    await settle_then_catch_up(app, dispatcher)
    await server.start(settings.webhook_listen, settings.webhook_port)
    await app.bot.set_webhook(settings.webhook_url, secret_token=secret,
                              allowed_updates=list(ALLOWED_UPDATES))


async def stop_webhook(app: Application) -> None:
    """Stop what `start_webhook` started, in `stop_polling`'s order (its intake holds the
    webhook server). The webhook stays set: Telegram keeps the updates nobody answered and
    delivers them to whichever instance answers next (`deleteWebhook` switches it off)."""
    await stop_polling(app)


async def serve(app: Application, settings: Settings) -> None:
    """Run the bot until SIGINT or SIGTERM (the run command): webhook mode when WEBHOOK_URL
    is set, else long polling (with /healthz and /metrics on METRICS_PORT, if set)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    monitoring = None
    if settings.webhook_url:
        await start_webhook(app)
    else:
        await start_polling(app)
        if settings.metrics_port:
            monitoring = await start_monitoring(app, settings.webhook_listen,
                                                settings.metrics_port)
    log.info("Pinpoint is running (%s)", "webhook" if settings.webhook_url else "long polling")
    try:
        await stop.wait()
    finally:
        if monitoring is not None:
            await monitoring.cleanup()
        await (stop_webhook(app) if settings.webhook_url else stop_polling(app))
