"""The chat page's HTTP side: static files, a small JSON API and live updates (SSE).

Every action here is something a Telegram user can do in a private chat (type, tap, press a
reply button, share a contact or location, send a photo or file); it goes to the emulator
through :class:`SimulatedUser`, and the bot sees an ordinary update. Nothing reaches the bot
or the database any other way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.emulator import ApiCall, BotApiEmulator, SimulatedUser

from .personas import PersonaBook
from .render import message_view, reply_keyboard_view

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
KEEPALIVE_SECONDS = 15.0  # an idle stream sends a comment so proxies and browsers keep it
ANSWER_TIMEOUT_SECONDS = 10.0  # how long a tap waits for answerCallbackQuery
MAX_UPLOAD = 20 * 1024 * 1024  # what a bot may download through getFile
# Calls that change nothing a chat shows: they must not wake every open page.
_QUIET_METHODS = {"getupdates", "getme", "getfile", "sendchataction", "getmycommands"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Files a browser may show in the page; anything else (HTML, SVG, scripts) is downloaded, so
# an uploaded file can never run as the sandbox's own page.
_INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")
_INLINE_PREFIXES = ("audio/", "video/")
# What sendPhoto accepts: the first bytes of JPEG, PNG, GIF and WebP files.
_PHOTO_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


def _is_photo(data: bytes) -> bool:
    return data.startswith(_PHOTO_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (a ValueError otherwise)."""
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be a string")
    return value


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name!r} must be a whole number")
    return value


class ChatFeed:
    """What one open page has already been told about one chat, to send only the changes."""

    def __init__(self, emulator: BotApiEmulator, user: SimulatedUser) -> None:
        self.emulator = emulator
        self.user = user
        # message id -> (version, paid): paying an invoice changes how it shows, not its JSON
        self.versions: dict[int, tuple[int, bool]] = {}
        self.keyboard: Any = None
        self.commands: list[dict[str, str]] = []

    def snapshot(self) -> dict[str, Any]:
        chat = self.user.chat
        live = [m for m in chat.messages.values() if not m.deleted]
        paid = paid_invoices(self.emulator, self.user)
        self.versions = {m.message_id: (m.version, m.message_id in paid) for m in live}
        self.keyboard = reply_keyboard_view(chat.reply_keyboard)
        self.commands = self._commands()
        return {
            "messages": [message_view(m, paid=m.message_id in paid) for m in live],
            "reply_keyboard": self.keyboard,
            "commands": self.commands,
        }

    def changes(self) -> list[tuple[str, Any]]:
        events: list[tuple[str, Any]] = []
        paid = paid_invoices(self.emulator, self.user)
        for message in list(self.user.chat.messages.values()):
            mid = message.message_id
            if message.deleted:
                if self.versions.pop(mid, None) is not None:
                    events.append(("deleted", {"message_id": mid}))
                continue
            seen = (message.version, mid in paid)
            if self.versions.get(mid) != seen:
                self.versions[mid] = seen
                events.append(("message", message_view(message, paid=seen[1])))
        keyboard = reply_keyboard_view(self.user.chat.reply_keyboard)
        if keyboard != self.keyboard:
            self.keyboard = keyboard
            events.append(("keyboard", keyboard))
        commands = self._commands()
        if commands != self.commands:
            self.commands = commands
            events.append(("commands", commands))
        return events

    def _commands(self) -> list[dict[str, str]]:
        return self.emulator.commands_for(self.user.id, self.user.language_code or "")


def paid_invoices(emulator: BotApiEmulator, user: SimulatedUser) -> set[int]:
    """Ids of the invoices in ``user``'s chat that a successful_payment there has paid."""
    messages = user.chat.messages.values()
    payloads = {
        str(m["successful_payment"].get("invoice_payload"))
        for m in messages
        if "successful_payment" in m and not m.deleted
    }
    if not payloads:
        return set()
    invoices = emulator.state.invoices
    return {
        m.message_id
        for m in messages
        if (record := invoices.get((user.id, m.message_id))) is not None
        and record.payload in payloads
    }


class SandboxWeb:
    """aiohttp routes of the chat page; one instance per sandbox."""

    def __init__(self, emulator: BotApiEmulator, personas: PersonaBook) -> None:
        self.emulator = emulator
        self.personas = personas
        self.closing = False
        # One event per open stream: set by any change, cleared by the stream before it reads
        # the state, so a change that lands while the stream is writing is never lost.
        self._wakers: set[asyncio.Event] = set()
        emulator.add_observer(self._on_bot_call)

    # -- wiring ----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC, show_index=False)
        app.router.add_get("/api/personas", self.list_personas)
        app.router.add_post("/api/personas", self.create_persona)
        app.router.add_get("/api/chats/{chat_id:\\d+}", self.history)
        app.router.add_get("/api/chats/{chat_id:\\d+}/events", self.events)
        for action, handler in (
            ("text", self.send_text),
            ("tap", self.tap),
            ("press", self.press),
            ("contact", self.share_contact),
            ("location", self.share_location),
            ("photo", self.send_photo),
            ("document", self.send_document),
            ("pay", self.pay),
        ):
            app.router.add_post(f"/api/chats/{{chat_id:\\d+}}/{action}", self._acting(handler))
        app.router.add_get("/api/files/{file_id}", self.file)
        return app

    def close(self) -> None:
        """End every open stream, so the server can stop without waiting for them."""
        self.closing = True
        self.emulator.remove_observer(self._on_bot_call)
        self._wake()

    def _on_bot_call(self, call: ApiCall) -> None:
        if call.method.lower() not in _QUIET_METHODS:
            self._wake()

    def _wake(self) -> None:
        for waker in self._wakers:
            waker.set()

    def _user(self, request: web.Request) -> SimulatedUser:
        user = self.personas.user(int(request.match_info["chat_id"]))
        if user is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "no such persona"}), content_type="application/json"
            )
        return user

    def _acting(
        self, action: Callable[[web.Request, SimulatedUser], Awaitable[web.Response]]
    ) -> Handler:
        """A user action, then a wake-up so open pages show the user's own message too."""

        async def handle(request: web.Request) -> web.StreamResponse:
            user = self._user(request)
            try:
                return await action(request, user)
            except AssertionError as exc:  # the emulator's "no such button" and the like
                return _error(409, str(exc))
            except (ValueError, KeyError, TypeError) as exc:
                return _error(400, f"bad request: {exc}")
            finally:
                self._wake()

        return handle

    # -- pages and personas ----------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def list_personas(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "bot": {"username": self.emulator.bot_username},
                "personas": [self._persona_json(p.user_id) for p in self.personas.all()],
            }
        )

    def _persona_json(self, user_id: int) -> dict[str, Any]:
        persona = self.personas.get(user_id)
        assert persona is not None
        return {
            "id": persona.user_id,
            "first_name": persona.first_name,
            "label": persona.label,
            "role": persona.role,
        }

    async def create_persona(self, request: web.Request) -> web.Response:
        try:
            name = _text_field(await _json_object(request), "name").strip()
        except ValueError as exc:
            return _error(400, f"bad request: {exc}")
        if not name:
            return _error(400, "a new user needs a first name")
        persona = self.personas.add(name, name, "new")
        return web.json_response(self._persona_json(persona.user_id), status=201)

    # -- reading a chat --------------------------------------------------------------------
    async def history(self, request: web.Request) -> web.Response:
        user = self._user(request)
        return web.json_response(ChatFeed(self.emulator, user).snapshot())

    async def events(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        feed = ChatFeed(self.emulator, user)
        waker = asyncio.Event()
        self._wakers.add(waker)
        try:
            await self._send(response, "snapshot", feed.snapshot())
            while not self.closing:
                try:
                    await asyncio.wait_for(waker.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                waker.clear()
                if self.closing:
                    break
                for name, data in feed.changes():
                    await self._send(response, name, data)
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page was closed or reloaded: nothing to clean up beyond the waker
        finally:
            self._wakers.discard(waker)
        return response

    @staticmethod
    async def _send(response: web.StreamResponse, name: str, data: Any) -> None:
        payload = json.dumps(data, ensure_ascii=False)
        await response.write(f"event: {name}\ndata: {payload}\n\n".encode())

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.emulator.state.files.get(request.match_info["file_id"])
        if stored is None:
            return _error(404, "no such file")
        name = str(stored.meta.get("file_name") or stored.file_path.rsplit("/", 1)[-1])
        mime = str(
            stored.meta.get("mime_type")
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        )
        shown = mime in _INLINE_TYPES or mime.startswith(_INLINE_PREFIXES)
        # Only the file name goes into the header, and only in its RFC 5987 encoded form.
        return web.Response(
            body=stored.data,
            content_type=mime,
            headers={
                "Content-Disposition": (
                    f"{'inline' if shown else 'attachment'}; filename*=UTF-8''{quote(name)}"
                ),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
            },
        )

    # -- acting as the user ----------------------------------------------------------------
    async def send_text(self, request: web.Request, user: SimulatedUser) -> web.Response:
        text = _text_field(await _json_object(request), "text")
        if not text.strip():
            return _error(400, "Telegram does not send empty messages")
        await user.send_text(text[:4096])
        return web.json_response({"ok": True})

    async def tap(self, request: web.Request, user: SimulatedUser) -> web.Response:
        """Tap button ``row``/``column`` of bot message ``message_id``; returns the bot's answer."""
        body = await _json_object(request)
        message = user.chat.messages.get(int(body["message_id"]))
        if message is None or message.deleted or not message.from_bot:
            return _error(409, "that message is gone")
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        row, column = int(body["row"]), int(body["column"])
        if not (0 <= row < len(rows) and 0 <= column < len(rows[row])):
            return _error(409, "that button is gone")
        button = rows[row][column]
        if "callback_data" not in button:
            return _error(409, "that button does not send anything to the bot")
        tap = await user.tap_data(button["callback_data"], message.message_id)
        self._wake()
        try:
            answer: dict[str, Any] | None = await tap.answer(timeout=ANSWER_TIMEOUT_SECONDS)
        except AssertionError:
            answer = None  # Telegram's spinner just stops; the page shows nothing either
        return web.json_response({"answer": answer})

    async def pay(self, request: web.Request, user: SimulatedUser) -> web.Response:
        """Tap Pay on invoice ``message_id``: the bot's pre-checkout answer decides.

        ``{"ok": true}`` once the successful_payment is sent; ``{"ok": false, "error": ...}``
        with the bot's own words when it refuses, as Telegram's payment form shows them."""
        message_id = _int_field(await _json_object(request), "message_id")
        message = user.chat.messages.get(message_id)
        if message is None or message.deleted:
            return _error(409, f"there is no message #{message_id} in this chat")
        if (user.id, message_id) not in self.emulator.state.invoices:
            return _error(409, f"message #{message_id} is not an invoice: there is nothing to pay")
        try:
            attempt = await user.pay(message_id, timeout=ANSWER_TIMEOUT_SECONDS)
        except AssertionError:  # the bot never answered the pre-checkout query
            return _error(
                504,
                f"the bot did not answer the payment within {ANSWER_TIMEOUT_SECONDS:.0f}s; "
                "nothing was charged",
            )
        if not attempt.ok:
            return web.json_response({"ok": False, "error": attempt.error_message or ""})
        return web.json_response({"ok": True})

    async def press(self, request: web.Request, user: SimulatedUser) -> web.Response:
        await user.press(_text_field(await _json_object(request), "text"))
        return web.json_response({"ok": True})

    async def share_contact(self, request: web.Request, user: SimulatedUser) -> web.Response:
        await user.share_contact()  # one's own contact, as the request_contact button shares
        return web.json_response({"ok": True})

    async def share_location(self, request: web.Request, user: SimulatedUser) -> web.Response:
        body = await _json_object(request)
        latitude, longitude = float(body["latitude"]), float(body["longitude"])
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return _error(400, "latitude or longitude out of range")
        await user.send_location(latitude, longitude)
        return web.json_response({"ok": True})

    async def _upload(self, request: web.Request) -> tuple[bytes, str, str, str | None]:
        """(bytes, file name, mime type, caption) of a multipart upload with field ``file``."""
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise ValueError("no file in the upload")
        data = upload.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise ValueError("the file is larger than 20 MB")
        caption = str(form.get("caption") or "").strip()[:1024] or None
        name = upload.filename or "file"
        mime = upload.content_type or "application/octet-stream"
        return data, name, mime, caption

    async def send_photo(self, request: web.Request, user: SimulatedUser) -> web.Response:
        data, _name, _mime, caption = await self._upload(request)
        if not _is_photo(data):
            return _error(400, "a photo must be a JPEG, PNG, GIF or WebP image")
        await user.send_photo(data, caption=caption)
        return web.json_response({"ok": True})

    async def send_document(self, request: web.Request, user: SimulatedUser) -> web.Response:
        data, name, mime, caption = await self._upload(request)
        await user.send_document(data, file_name=name, mime_type=mime, caption=caption)
        return web.json_response({"ok": True})


async def start_web(web_app: SandboxWeb, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve the page on host:port; returns the runner (for cleanup) and the page's address."""
    runner = web.AppRunner(web_app.make_app(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    actual_host, actual_port = runner.addresses[0][:2]
    return runner, f"http://{actual_host}:{actual_port}"


async def stop_web(web_app: SandboxWeb, runner: web.AppRunner) -> None:
    web_app.close()
    await runner.cleanup()
