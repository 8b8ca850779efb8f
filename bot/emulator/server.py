"""The aiohttp application and the public :class:`BotApiEmulator` facade."""

# Explicit timeout= parameters are the deliberate test-facing API (ASYNC109 prefers
# asyncio.timeout() at call sites, which would make every test noisier).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from . import payment_methods  # noqa: F401 (registers sendInvoice and the rest)
from .errors import CONFLICT_POLL, ApiError, too_many_requests
from .methods import METHODS, CallContext
from .params import read_params
from .state import ApiCall, EmulatorState, FaultRule, Pulse

if TYPE_CHECKING:
    from .users import SimulatedUser

log = logging.getLogger(__name__)

_DEFAULT_FAULT_TEXT = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: CONFLICT_POLL,
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def _reply(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _error(err: ApiError) -> web.Response:
    return _reply(err.to_json(), err.error_code)


class BotApiEmulator:
    """A fake api.telegram.org for one bot token, plus test-side controls.

    Point the bot at ``base_url`` (``<base_url>/bot<token>/<method>`` and
    ``<base_url>/file/bot<token>/<path>``) and drive it with :meth:`user`.
    """

    def __init__(
        self,
        token: str = "123456:TEST",  # noqa: S107 - a fake token for a fake server
        bot_username: str = "clinic_test_bot",
        bot_first_name: str = "Clinic",
    ) -> None:
        self.state = EmulatorState(token, bot_username, bot_first_name)
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._calls_pulse = Pulse()
        self._observers: list[Callable[[ApiCall], None]] = []
        self.users: dict[int, SimulatedUser] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def token(self) -> str:
        return self.state.token

    @property
    def bot_id(self) -> int:
        return self.state.bot_id

    @property
    def bot_username(self) -> str:
        return self.state.bot_username

    @property
    def api_url(self) -> str:
        """``<base_url>/bot<token>`` — append ``/<method>``."""
        return f"{self.base_url}/bot{self.token}"

    def make_app(self) -> web.Application:
        # Uploads can be up to 50 MB on the real API; aiohttp's default cap is 1 MB.
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.state.closing = False
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        actual_host, actual_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{actual_host}:{actual_port}"
        return self.base_url

    async def stop(self) -> None:
        # Release pending long polls first so shutdown doesn't wait for their timeouts.
        self.state.closing = True
        self.state.updates_pulse.notify()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- HTTP handlers -------------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        name = request.match_info["method"]
        handler = METHODS.get(name.lower())
        if handler is None:
            return _error(ApiError(404, "Not Found"))
        call = ApiCall(method=name, params={}, time=time.time())
        try:
            params, uploads = await read_params(request)
            call.params = params
            self.state.calls.append(call)
            # Notify on arrival (not completion) so tests can react to a pending long poll.
            self._calls_pulse.notify()
            self._take_fault(name, params)
            result = await handler(CallContext(self.state, params, uploads))
        except ApiError as err:
            call.ok = False
            call.error = err.description
            if call not in self.state.calls:
                self.state.calls.append(call)
                self._calls_pulse.notify()
            self._tell_observers(call)
            return _error(err)
        except Exception as exc:  # an emulator bug: answer in Bot API shape, keep the trace
            log.exception("emulator failed handling %s", name)
            call.ok = False
            call.error = repr(exc)
            if call not in self.state.calls:
                self.state.calls.append(call)
            return _error(ApiError(500, f"Internal Server Error: emulator bug: {exc!r}"))
        self._tell_observers(call)
        return _reply({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        stored = self.state.files_by_path.get(request.match_info["path"])
        if stored is None:
            return _error(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return _error(ApiError(404, "Not Found"))

    # -- fault injection -----------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (optionally only for ``chat_id``) fail."""
        self.state.faults.append(
            FaultRule(method.lower(), error_code, description, retry_after, count, chat_id)
        )

    def _take_fault(self, method: str, params: dict[str, Any]) -> None:
        for rule in self.state.faults:
            if rule.method != method.lower() or rule.remaining <= 0:
                continue
            if rule.chat_id is not None and params.get("chat_id") != rule.chat_id:
                continue
            rule.remaining -= 1
            self.state.faults = [r for r in self.state.faults if r.remaining > 0]
            if rule.error_code == 429:
                err = too_many_requests(rule.retry_after if rule.retry_after is not None else 1)
                if rule.description:
                    err.description = rule.description
                raise err
            text = rule.description or _DEFAULT_FAULT_TEXT.get(rule.error_code, "Error")
            raise ApiError(rule.error_code, text, retry_after=rule.retry_after)

    # -- observers -----------------------------------------------------------------------------
    def add_observer(self, observer: Callable[[ApiCall], None]) -> None:
        """Call ``observer(call)`` after each bot API call has been handled (its effects visible).

        Unlike :meth:`wait_for_call`, which wakes on arrival, this fires once the method has run,
        so an observer (e.g. a live view of the chats) reads the state the call left behind.
        """
        self._observers.append(observer)

    def remove_observer(self, observer: Callable[[ApiCall], None]) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def _tell_observers(self, call: ApiCall) -> None:
        for observer in list(self._observers):
            try:
                observer(call)
            except Exception:  # an observer's bug must not break the bot's API call
                log.exception("emulator observer failed on %s", call.method)

    # -- inspection ----------------------------------------------------------------------------
    @property
    def calls(self) -> list[ApiCall]:
        return self.state.calls

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.state.calls if c.method.lower() == method.lower()]

    async def wait_for_call(
        self, method: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[ApiCall]:
        """Wait until the bot has made at least ``count`` calls of ``method``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.calls_of(method)) < count:
            if not await self._calls_pulse.wait(deadline - loop.time()):
                if len(self.calls_of(method)) >= count:
                    break
                raise AssertionError(
                    f"bot made {len(self.calls_of(method))} {method} calls, expected {count}; "
                    f"last calls: {[c.method for c in self.calls[-10:]]}"
                )
        return self.calls_of(method)

    def commands_for(self, chat_id: int, language_code: str = "") -> list[dict[str, str]]:
        """The command menu a user would see in that private chat (Telegram's scope order)."""
        cmds = self.state.commands
        langs = [language_code, ""] if language_code else [""]
        for scope in (("chat", chat_id), ("all_private_chats",), ("default",)):
            for lang in langs:
                if (scope, lang) in cmds:
                    return [dict(c) for c in cmds[(scope, lang)]]
        return []

    def file_bytes(self, file_id: str) -> bytes:
        return self.state.files[file_id].data

    # -- updates -------------------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (update_id assigned if missing); returns the stored update."""
        message = update.get("message") or update.get("edited_message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            self._ensure_chat_from_message(message)
        return self.state.push_update(update)

    def _ensure_chat_from_message(self, message: dict[str, Any]) -> None:
        chat = message["chat"]
        if chat.get("type") == "private" and "id" in chat:
            user = message.get("from") or {
                "id": chat["id"],
                "is_bot": False,
                "first_name": chat.get("first_name", ""),
            }
            self.user(
                first_name=user.get("first_name", ""),
                last_name=user.get("last_name"),
                username=user.get("username"),
                user_id=int(chat["id"]),
            )
            self.state.chats[int(chat["id"])].known = True

    def redeliver(self, update_id: int) -> None:
        """Queue an already delivered update again with the same update_id."""
        self.state.redeliver(update_id)

    def drop_pending_updates(self) -> None:
        """Forget all queued updates (like deleteWebhook(drop_pending_updates=True))."""
        self.state.queue.clear()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return [q.update for q in self.state.queue]

    # -- users ---------------------------------------------------------------------------------
    def user(
        self,
        first_name: str = "Anna",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
    ) -> SimulatedUser:
        """A scripted Telegram user (returns the existing one for a known ``user_id``)."""
        from .users import SimulatedUser

        if user_id is not None and user_id in self.users:
            return self.users[user_id]
        user = SimulatedUser(self, first_name, last_name, username, language_code, user_id)
        self.users[user.id] = user
        return user
