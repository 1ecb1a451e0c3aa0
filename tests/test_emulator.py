"""The Bot API emulator driven by the real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from datetime import timedelta

import aiohttp
import pytest
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from testkit.emulator import BotApiEmulator, HtmlError, parse_html, sample_image, utf16_len

try:
    from emulator_fixtures import build_application, emulator, running
except ImportError:  # tests/ turned into a package
    from tests.emulator_fixtures import build_application, emulator, running

ANA = 1001
DEFAULT_SCOPE = '{"type": "default"}'  # how the emulator keys the commands of no scope
Ctx = ContextTypes.DEFAULT_TYPE


# -- the tiny bot under test -----------------------------------------------------------------


async def echo(update: Update, context: Ctx) -> None:
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def menu(update: Update, context: Ctx) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Confirm ✅", callback_data="confirm"),
          InlineKeyboardButton("Cancel", callback_data="cancel")],
         [InlineKeyboardButton("Help", url="https://example.com/help")]]
    )
    await update.effective_message.reply_text("Ready?", reply_markup=keyboard)


async def where(update: Update, context: Ctx) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 Send location", request_location=True)], ["Skip"]],
        resize_keyboard=True,
    )
    await update.effective_message.reply_text("Where are you?", reply_markup=keyboard)


async def pressed(update: Update, context: Ctx) -> None:
    query = update.callback_query
    await query.answer(f"You chose {query.data}", show_alert=query.data == "cancel")
    await query.edit_message_text(f"Chosen: {query.data}")


async def photo(update: Update, context: Ctx) -> None:
    largest = update.message.photo[-1]
    file = await largest.get_file()
    data = bytes(await file.download_as_bytearray())
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    await update.message.reply_text(f"{len(data)} bytes {width}x{height}")


async def document(update: Update, context: Ctx) -> None:
    file = await update.message.document.get_file()
    data = bytes(await file.download_as_bytearray())
    await update.message.reply_text(hashlib.sha256(data).hexdigest())


async def location(update: Update, context: Ctx) -> None:
    loc = update.effective_message.location
    verb = "moved to" if update.edited_message else "at"
    await update.effective_message.reply_text(f"{verb} {loc.latitude:.5f},{loc.longitude:.5f}")


def make_bot(emu: BotApiEmulator) -> Application:
    app = build_application(emu)
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CommandHandler("where", where))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_handler(MessageHandler(filters.LOCATION, location))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


@pytest.fixture
async def emu():
    async with emulator() as server:
        yield server


@pytest.fixture
async def app(emu):
    application = make_bot(emu)
    async with running(application):
        yield application


@pytest.fixture
def ana(emu):
    return emu.user(id=ANA, first_name="Ana", username="ana")


# -- polling and text ------------------------------------------------------------------------


async def test_polling_replies_in_order(emu, app, ana):
    for word in ("one", "two", "three"):
        await ana.send(word)
    replies = [await ana.expect() for _ in range(3)]
    assert [m.text for m in replies] == ["echo: one", "echo: two", "echo: three"]
    ids = [m.message_id for m in replies]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [m.text for m in ana.messages] == [m.text for m in replies]
    assert ana.last == replies[-1]
    assert emu.calls[0].method == "getMe"
    assert emu.calls_of("getUpdates"), "the bot long-polls"
    await emu.idle()
    assert emu.pending_updates == 0
    await ana.expect_nothing(0.1)


async def test_commands_get_entities_and_reach_command_handlers(emu, app, ana):
    sent = await ana.send("/menu@pinpoint_test_bot")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 23}]
    message = await ana.expect_text("Ready?")
    assert message.buttons == [["Confirm ✅", "Cancel"], ["Help"]]
    assert message.button_data("Confirm") == "confirm"
    assert message.button_url("Help") == "https://example.com/help"


async def test_expect_timeout_lists_the_chat(emu, app, ana):
    await ana.send("hi")
    await ana.expect_text("echo: hi")
    with pytest.raises(AssertionError, match="echo: hi"):
        await ana.expect(timeout=0.05)


async def test_html_is_parsed_into_text_and_entities(emu, app, ana):
    html = (
        '🔌 <b>Bold</b> &amp; <i>it</i> <a href="https://e.x/?a=1&amp;b=2">link</a> '
        '<code>MAC</code>\n<pre><code class="language-python">x = 1</code></pre>'
        '<tg-spoiler>s</tg-spoiler><blockquote expandable>q</blockquote> &unknown; a &lt; b'
    )
    await app.bot.send_message(ANA, html, parse_mode="HTML")
    message = await ana.expect()
    assert message.html == html
    assert message.text == "🔌 Bold & it link MAC\nx = 1sq &unknown; a < b"
    kinds = [(e["type"], e["offset"], e["length"]) for e in message.entities]
    assert kinds[0] == ("bold", 3, 4)  # the plug emoji counts two UTF-16 units
    assert message.entity_texts("bold") == ["Bold"]
    assert message.entity_texts("text_link") == ["link"]
    link = next(e for e in message.entities if e["type"] == "text_link")
    assert link["url"] == "https://e.x/?a=1&b=2"
    pre = next(e for e in message.entities if e["type"] == "pre")
    assert pre["language"] == "python" and message.entity_texts("pre") == ["x = 1"]
    assert message.entity_texts("spoiler") == ["s"]
    assert message.entity_texts("expandable_blockquote") == ["q"]
    # python-telegram-bot reads the UTF-16 offsets back to the same substrings
    parsed = Message.de_json(message.data, app.bot).parse_entities()
    assert sorted(parsed.values()) == sorted(
        ["Bold", "it", "link", "MAC", "x = 1", "s", "q"]
    )


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("line<br>break", 'unsupported start tag "br" at byte offset 4'),
        ("<b>open", "can't find end tag corresponding to start tag \"b\""),
        ("<b><i>x</b></i>", 'unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x</b>", "unexpected end tag at byte offset 1"),
    ],
)
async def test_malformed_html_is_a_bad_request(emu, app, ana, html, error):
    with pytest.raises(BadRequest) as caught:
        await app.bot.send_message(ANA, html, parse_mode="HTML")
    assert str(caught.value).lower() == f"can't parse entities: {error}".lower()
    assert emu.calls[-1].error.startswith("Bad Request: can't parse entities: ")
    assert ana.messages == []


def test_parse_html_unit():
    assert parse_html("<B>x</B>") == ("x", [{"type": "bold", "offset": 0, "length": 1}])
    assert parse_html("&#128268;&#x41;&quot;") == ("🔌A\"", [])
    _, entities = parse_html('<a href="tg://user?id=42">Ana</a>')
    assert entities[0]["type"] == "text_mention" and entities[0]["user"]["id"] == 42
    assert parse_html("<b></b>x") == ("x", [])
    with pytest.raises(HtmlError):
        parse_html("<a href=x y>z</a>")
    assert utf16_len("a🔌") == 3


async def test_text_limits(emu, app, ana):
    await app.bot.send_message(ANA, "a" * 4096)
    await app.bot.send_message(ANA, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert [len(m.text) for m in ana.messages] == [4096, 4096]
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await app.bot.send_message(ANA, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await app.bot.send_message(ANA, "🔌" * 2049)  # 4098 UTF-16 units
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await app.bot.send_message(ANA, "  \n ")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await app.bot.send_photo(ANA, sample_image(64, 64), caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await app.bot.send_message(424242, "anyone?")
    assert len(ana.messages) == 2


async def test_callback_data_limit(emu, app, ana):
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data=data)]])

    await app.bot.send_message(ANA, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await app.bot.send_message(ANA, "too long", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await app.bot.send_message(ANA, "33 two-byte chars", reply_markup=keyboard("é" * 33))
    assert [m.text for m in ana.messages] == ["ok"]
    assert ana.last.button_data("b") == "x" * 64


# -- buttons ---------------------------------------------------------------------------------


async def test_press_button_and_read_answer(emu, app, ana):
    await ana.send("/menu")
    first = await ana.expect_text("Ready?")
    answer = await ana.press("Confirm")  # unique substring of "Confirm ✅"
    assert answer.text == "You chose confirm" and answer.show_alert is False
    await ana.expect_edit(first)
    assert first.text == "Chosen: confirm" and first.edited and first.buttons == []
    assert first.history[0]["text"] == "Ready?"

    await ana.send("/menu")
    second = await ana.expect_text("Ready?")
    assert second.message_id > first.message_id
    answer = await ana.press("Cancel", message=second)
    assert answer.show_alert is True
    # an old message can still be pressed by passing it (or exact callback data)
    answer = await ana.press_data(first, "confirm")
    assert answer.text == "You chose confirm"
    query = emu.calls_of("answerCallbackQuery")
    assert len(query) == 3 and all(c.ok for c in query)
    with pytest.raises(AssertionError, match="no button"):
        ana.find_button("Nope")


async def test_double_answer_of_a_callback_query_fails(emu, ana):
    errors: list[str] = []

    async def answer_twice(update: Update, context: Ctx) -> None:
        await update.callback_query.answer("first")
        try:
            await update.callback_query.answer("second")
        except BadRequest as exc:
            errors.append(str(exc))
        await update.effective_message.reply_text("done")

    app = build_application(emu)
    app.add_handler(CallbackQueryHandler(answer_twice))
    async with running(app):
        await app.bot.send_message(
            ANA, "pick", reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Go", callback_data="go")]])
        )
        await ana.expect_text("pick")
        answer = await ana.press("Go")
        await ana.expect_text("done")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await app.bot.answer_callback_query("no-such-query")
    assert answer.text == "first"
    assert errors == ["Query is too old and response timeout expired or query id is invalid"]


async def test_edit_errors(emu, app, ana):
    sent = await app.bot.send_message(ANA, "same")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await app.bot.edit_message_text("same", chat_id=ANA, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await app.bot.edit_message_text("x", chat_id=ANA, message_id=999)
    assert (await ana.expect()).text == "same"

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    photo_message = await app.bot.send_photo(
        ANA, sample_image(50, 50), caption="<i>v1</i>", parse_mode="HTML", reply_markup=keyboard
    )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await app.bot.edit_message_reply_markup(
            ANA, photo_message.message_id, reply_markup=keyboard
        )
    edited = await app.bot.edit_message_reply_markup(ANA, photo_message.message_id)
    assert edited.caption == "v1" and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
        await app.bot.edit_message_text("x", chat_id=ANA, message_id=photo_message.message_id)
    shown = await ana.expect()
    assert shown.caption == "v1" and shown.entity_texts("italic") == ["v1"]
    assert shown.buttons == [] and [h.get("reply_markup") for h in shown.history] == [
        keyboard.to_dict()]


# -- keyboards, locations, groups ------------------------------------------------------------


async def test_reply_keyboard_and_locations(emu, app, ana):
    await ana.send("/where")
    question = await ana.expect_text("Where are you?")
    assert question.reply_labels == [["📍 Send location"], ["Skip"]]
    assert question.reply_keyboard[0][0]["request_location"] is True
    assert ana.keyboard == [["📍 Send location"], ["Skip"]]
    await ana.send_location(48.85837, 2.29448, horizontal_accuracy=8.5, live_period=600)
    await ana.expect_text("at 48.85837,2.29448")
    await ana.edit_live_location(48.85900, 2.29500)
    await ana.expect_text("moved to 48.85900,2.29500")
    venue = await app.bot.send_venue(ANA, 48.8584, 2.2945, "Tower", "Champ de Mars")
    assert venue.venue.title == "Tower" and venue.location.latitude == pytest.approx(48.8584)
    assert (await ana.expect()).venue["address"] == "Champ de Mars"


async def test_group_players_and_members(emu, app, ana):
    bob = emu.user(id=1002, first_name="Bob")
    group = emu.group(id=-1001234, title="Support", members=[ana], admins=[bob])
    bob_in_group = bob.in_chat(group)
    await bob_in_group.send("hello group")
    reply = await bob_in_group.expect_text("echo: hello group")
    assert reply.chat_id == group.id and ana.messages == []
    assert (await ana.in_chat(group).expect()) == reply  # every member reads the group
    assert emu.chats[group.id].members[bob.user_id] == "administrator"
    assert emu.chats[group.id].members[ANA] == "member"
    assert reply.chat_id == group.id and emu.chats[group.id].chat["type"] == "supergroup"
    ana.block()
    with pytest.raises(Forbidden, match="blocked"):
        await app.bot.send_message(ANA, "still there?")


# -- files -----------------------------------------------------------------------------------


async def test_photo_sizes_and_download(emu, app, ana):
    original = sample_image(2000, 1500)
    sent = await ana.send_photo(original, caption="the charger")
    sizes = [(p["width"], p["height"]) for p in sent["photo"]]
    assert sizes == [(90, 68), (320, 240), (800, 600), (1280, 960)]
    assert len({p["file_id"] for p in sent["photo"]}) == 4
    assert len({p["file_unique_id"] for p in sent["photo"]}) == 4
    largest = emu.files.get(sent["photo"][-1]["file_id"])
    assert largest.file_path.startswith("photos/") and largest.original == original
    reply = await ana.expect()
    assert reply.text == f"{largest.file_size} bytes 1280x960"
    assert sent["photo"][-1]["file_size"] == largest.file_size

    small = await ana.send_photo(sample_image(200, 100, "PNG"))
    assert [(p["width"], p["height"]) for p in small["photo"]] == [(90, 45), (200, 100)]
    assert (await ana.expect()).text.endswith("200x100")


async def test_document_download_keeps_bytes(emu, app, ana):
    data = sample_image(700, 500)
    sent = await ana.send_document(data, file_name="IMG_1.jpg", mime_type="image/jpeg")
    doc = sent["document"]
    assert doc["file_name"] == "IMG_1.jpg" and doc["mime_type"] == "image/jpeg"
    assert doc["file_size"] == len(data) and doc["thumbnail"]["width"] == 320
    await ana.expect_text(hashlib.sha256(data).hexdigest())


async def test_send_media_group_with_uploads(emu, app, ana):
    media = [
        InputMediaPhoto(sample_image(640, 480), caption="<b>front</b>", parse_mode="HTML"),
        InputMediaPhoto(sample_image(480, 640)),
    ]
    sent = await app.bot.send_media_group(ANA, media)
    assert len(sent) == 2 and sent[0].media_group_id == sent[1].media_group_id
    assert sent[0].caption == "front" and sent[0].caption_entities[0].type == "bold"
    assert (sent[1].photo[-1].width, sent[1].photo[-1].height) == (480, 640)
    first, second = await ana.expect(), await ana.expect()
    assert first.media_group_id == second.media_group_id == sent[0].media_group_id
    assert emu.calls_of("sendMediaGroup")[0].params["media"][0]["media"].startswith("attach://")
    with pytest.raises(BadRequest, match=r"(?i)too few"):
        await app.bot.send_media_group(ANA, media[:1])


async def test_send_photo_by_file_id_and_bad_ids(emu, app, ana):
    sent = await ana.send_photo(sample_image(900, 600))
    await ana.expect()
    file_id = sent["photo"][-1]["file_id"]
    again = await app.bot.send_photo(ANA, file_id, caption="again")
    assert [p.file_id for p in again.photo] == [p["file_id"] for p in sent["photo"]]
    assert (await ana.expect()).photo[-1]["file_id"] == file_id
    uploaded = await app.bot.send_photo(ANA, sample_image(300, 200))
    assert uploaded.photo[-1].width == 300
    file = await app.bot.get_file(uploaded.photo[-1].file_id)
    assert Image.open(io.BytesIO(await file.download_as_bytearray())).size == (300, 200)
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await app.bot.send_photo(ANA, "AgACnonsense")
    doc = await ana.send_document(b"%PDF-1.4", file_name="manual.pdf")
    await ana.expect()
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type document as photo"):
        await app.bot.send_photo(ANA, doc["document"]["file_id"])
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await app.bot.send_photo(ANA, b"not an image")


async def test_getfile_20mb_limit_and_self_hosted(ana, emu, app):
    big = b"\0" * (20 * 1024 * 1024 + 1)
    sent = await ana.send_document(big, file_name="dump.bin")
    await ana.expect_nothing(0)  # the document handler fails on getFile, no reply
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await app.bot.get_file(sent["document"]["file_id"])

    async with emulator(self_hosted=True) as local:
        bob = local.user(id=7, first_name="Bob")
        doc = (await bob.send_document(big, file_name="dump.bin"))["document"]
        app2 = build_application(local)
        await app2.initialize()
        try:
            file = await app2.bot.get_file(doc["file_id"])
            assert file.file_size == len(big)
            assert len(await file.download_as_bytearray()) == len(big)
        finally:
            await app2.shutdown()


# -- failures, auth, waiting -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_429_and_500(emu, app, ana):
    emu.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await app.bot.send_message(ANA, "flood")
    assert caught.value.retry_after in (7, timedelta(seconds=7))  # int, or PTB_TIMEDELTA
    assert str(caught.value).startswith("Flood control exceeded. Retry in ")
    emu.fail_next("sendMessage", times=2, status=500)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await app.bot.send_message(ANA, "boom")
    await app.bot.send_message(ANA, "fine now")
    assert [m.text for m in ana.messages] == ["fine now"]
    errors = [c.error for c in emu.calls_of("sendMessage")]
    assert errors == ["Too Many Requests: retry after 7", "Internal Server Error",
                      "Internal Server Error", None]


async def test_injected_html_page_and_dropped_connection(emu, app, ana):
    emu.fail_next("sendMessage", status=502, html=True)
    async with aiohttp.ClientSession() as session:
        url = f"{emu.base_url}{emu.token}/sendMessage"
        async with session.post(url, json={"chat_id": ANA, "text": "x"}) as response:
            assert response.status == 502
            assert response.content_type == "text/html"
            assert "<h1>502 Bad Gateway</h1>" in await response.text()
    emu.fail_next("sendMessage", drop=True)
    with pytest.raises(NetworkError):
        await app.bot.send_message(ANA, "never arrives")
    await app.bot.send_message(ANA, "fine now")
    assert [m.text for m in ana.messages] == ["fine now"]
    errors = [c.error for c in emu.calls_of("sendMessage")]
    assert errors == ["Bad Gateway", "connection dropped", None]


async def test_random_failures_are_seeded_counted_and_stoppable(emu):
    async def outcomes(seed: int) -> list[int]:
        emu.stop_failing()
        rule = emu.fail_randomly(["sendMessage"], rate=0.4, status=429, retry_after=(1, 3),
                                 seed=seed)
        got = []
        async with aiohttp.ClientSession() as session:
            for i in range(40):
                url = f"{emu.base_url}{emu.token}/sendMessage"
                async with session.post(url, json={"chat_id": ANA, "text": f"{i}"}) as response:
                    body = await response.json()
                    got.append(body.get("parameters", {}).get("retry_after", 0))
                async with session.post(f"{emu.base_url}{emu.token}/getMe") as response:
                    assert response.status == 200  # other methods are left alone
        assert rule.seen == 40 and rule.injected == sum(1 for x in got if x)
        assert rule.by_method == {"sendMessage": rule.injected}
        return got

    emu.user(ANA, "Ana")
    first, again, other = await outcomes(5), await outcomes(5), await outcomes(6)
    assert first == again != other
    assert 8 <= sum(1 for x in first if x) <= 24
    assert {x for x in first if x} <= {1, 2, 3}
    emu.stop_failing()
    async with aiohttp.ClientSession() as session:
        url = f"{emu.base_url}{emu.token}/sendMessage"
        async with session.post(url, json={"chat_id": ANA, "text": "ok"}) as response:
            assert response.status == 200
    with pytest.raises(ValueError):
        emu.fail_randomly(rate=1.5)


async def test_random_failures_of_every_kind_reach_the_client(emu, app, ana):
    emu.fail_randomly(rate=1.0, status=503, html=True, seed=1)
    with pytest.raises(NetworkError):
        await app.bot.send_message(ANA, "proxy page")
    emu.stop_failing()
    emu.fail_randomly(rate=1.0, drop=True, seed=1)
    with pytest.raises(NetworkError):
        await app.bot.send_message(ANA, "hung up")
    emu.stop_failing()
    await app.bot.send_message(ANA, "through")
    assert [m.text for m in ana.messages] == ["through"]


async def test_unknown_token_and_method(emu):
    wrong = (
        ApplicationBuilder().token("999:WRONG").base_url(emu.base_url)
        .base_file_url(emu.base_file_url).build()
    )
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emu.api_root}/bot999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False, "error_code": 401, "description": "Unauthorized"}
        async with session.post(f"{emu.base_url}{emu.token}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False, "error_code": 404, "description": "Not Found"}
        async with session.post(f"{emu.base_url}{emu.token}/getme", json={}) as response:
            assert (await response.json())["result"]["username"] == "pinpoint_test_bot"
    assert [c.method for c in emu.calls] == ["getMe"]


async def test_wait_for_call_commands_and_fast_stop():
    async def post_init(application: Application) -> None:
        await application.bot.set_my_commands([("start", "Begin"), ("help", "Help")])

    async with emulator() as emu:
        app = build_application(emu, post_init=post_init)
        async with running(app):
            call = await emu.wait_for_call("setMyCommands")
            assert call.ok and [c["command"] for c in call.params["commands"]] == ["start", "help"]
            assert [c["command"] for c in emu.commands[DEFAULT_SCOPE, ""]] == ["start", "help"]
        # a long poll still waiting when the emulator stops returns at once
        async with aiohttp.ClientSession() as session:
            poll = asyncio.create_task(
                session.post(f"{emu.base_url}{emu.token}/getUpdates", data={"timeout": "30"})
            )
            polling = await emu.signal.wait_for(
                lambda: any(c.method == "getUpdates" and c.ok is None for c in emu.calls), 5
            )
            assert polling
            started = time.monotonic()
            await emu.stop()
            response = await poll
            assert (await response.json()) == {"ok": True, "result": []}
            assert time.monotonic() - started < 2



async def test_get_updates_offset_limit_and_allowed_updates(emu):
    ana = emu.user(id=ANA, first_name="Ana")
    await ana.send("a")
    await ana.send("b")
    shown = await app_less_send_menu(emu)
    await ana.press_data(shown, "x", wait=False)
    url = f"{emu.base_url}{emu.token}/getUpdates"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"limit": "1"}) as response:
            first = (await response.json())["result"]
        assert [u["message"]["text"] for u in first] == ["a"]
        offset = first[0]["update_id"] + 1
        body = {"offset": offset, "allowed_updates": ["callback_query"]}
        async with session.post(url, json=body) as response:
            rest = (await response.json())["result"]
        assert [u["callback_query"]["data"] for u in rest] == ["x"]
        assert emu.pending_updates == 1  # "b" was dropped as not allowed
        started = time.monotonic()
        body = {"offset": rest[0]["update_id"] + 1, "timeout": 0.05}
        async with session.post(url, json=body) as response:
            assert (await response.json())["result"] == []
        assert time.monotonic() - started >= 0.04 and emu.pending_updates == 0


async def app_less_send_menu(emu: BotApiEmulator):
    """Send a bot message with a button through the raw HTTP API (no PTB)."""
    markup = {"inline_keyboard": [[{"text": "X", "callback_data": "x"}]]}
    async with aiohttp.ClientSession() as session:
        url = f"{emu.base_url}{emu.token}/sendMessage"
        async with session.post(url, data={"chat_id": str(ANA), "text": "menu",
                                           "reply_markup": json.dumps(markup)}) as response:
            assert (await response.json())["ok"] is True
    return emu.player(ANA, ANA).last


async def test_other_user_content_parses_in_ptb(emu, ana):
    seen: list[str] = []

    async def kind(update: Update, context: Ctx) -> None:
        message = update.effective_message
        if message.forward_origin:
            seen.append(f"forward:{message.forward_origin.type}")
        elif message.venue:  # a venue also carries `location`, as in the real API
            seen.append(f"Venue:{message.venue.title}@{message.location.latitude}")
        else:
            attachment = message.effective_attachment
            seen.append(type(attachment).__name__ if attachment else "text")
        await message.reply_text(seen[-1])

    app = build_application(emu)
    app.add_handler(MessageHandler(filters.ALL, kind))
    async with running(app):
        await ana.send_sticker()
        await ana.send_voice()
        await ana.send_video()
        await ana.send_contact("+331234")
        await ana.send_venue(1.0, 2.0, "Depot", "1 Main St")
        await ana.forward("look", sender_name="Carl")
        for _ in range(6):
            await ana.expect()
        await app.bot.set_my_commands([("start", "Begin")], language_code="fr")
        assert [c["command"] for c in emu.commands[DEFAULT_SCOPE, "fr"]] == ["start"]
        assert (DEFAULT_SCOPE, "") not in emu.commands
    assert seen == [
        "Sticker", "Voice", "Video", "Contact", "Venue:Depot@1.0", "forward:hidden_user"
    ]
