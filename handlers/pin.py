"""PIN-locked sessions: /pin to set or change it, /lock, and the gate in front of records.

Reading records, prescriptions or chat history (and /export) needs an unlocked session.
Doctors must have a PIN; patients may set one. Every message that carries a PIN is deleted
from the chat at once, the PIN is kept only as an Argon2 hash, five wrong PINs in a row lock
the account for 15 minutes, and every failure goes to the audit log (admins see lockouts and
are the only ones who can reset a forgotten PIN). What the user asked for before being asked
for the PIN runs once the session is unlocked.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from clinic import pin_rules
from clinic.pin_rules import PinProblem
from clinic.roles import Role
from handlers import callbacks, conversation, wrap_up
from handlers.formatting import clock
from handlers.pin_hashing import hash_pin, pin_matches
from handlers.turn import Turn
from storage.models import Conversation, User

log = logging.getLogger(__name__)

FLOW = "pin"
BUTTONS = "pn"
NEW, REPEAT, CURRENT, UNLOCK = "new", "repeat", "current", "unlock"
# An unlocked session's activity is written at most this often: not on every single update.
TOUCH_EVERY = timedelta(seconds=30)


# The gate ---------------------------------------------------------------------------------------


def touch(turn: Turn) -> None:
    """Activity keeps an unlocked session open; a session idle too long is locked now, even
    if the sweep that announces it has not run yet."""
    user = turn.user
    if user is None or user.session_active_at is None:
        return
    if not pin_rules.session_open(user.session_active_at, turn.now, turn.config.session_idle):
        user.session_active_at = None
    elif turn.now - user.session_active_at >= TOUCH_EVERY:
        user.session_active_at = turn.now


def unlocked(turn: Turn) -> bool:
    user = turn.user
    if user is None:
        return False
    if user.pin_hash is None:
        return user.role == Role.PATIENT.value  # doctors must set a PIN first
    return pin_rules.session_open(user.session_active_at, turn.now, turn.config.session_idle)


async def gate(turn: Turn, resume: str) -> bool:
    """True when the user may go on; otherwise asks for the PIN (or for a new one) and keeps
    `resume` ("cmd:<name>" or "btn:<callback data>") to run once unlocked."""
    if unlocked(turn):
        return True
    user, t = turn.user, turn.t
    if user is None:
        return False
    if turn.event.callback_id:
        turn.answer()
    if pin_rules.locked_out(user.pin_locked_until, turn.now):
        await _locked_out(turn, user, resume)
        return False
    if turn.conversation is not None and turn.conversation.flow == wrap_up.FLOW:
        # Asking for the PIN is a conversation of its own; it must not replace a wrap-up draft.
        turn.reply(
            t(
                "Your records are locked, and you are wrapping up a consultation. Finish the "
                "wrap-up first (your draft is kept), then open the records again."
            )
        )
        return False
    if user.pin_hash is None:
        await conversation.start(turn, FLOW, NEW, {"resume": resume})
        turn.reply(
            t(
                "Patient records are protected by a PIN. Please choose one: {min} to {max} "
                "digits. I delete your message as soon as I have read it.",
                min=pin_rules.MIN_DIGITS,
                max=pin_rules.MAX_DIGITS,
            )
        )
        return False
    await conversation.start(turn, FLOW, UNLOCK, {"resume": resume})
    turn.reply(t("Your records are locked. Please type your PIN (or /cancel)."))
    return False


# Commands -----------------------------------------------------------------------------------


def drop_typed_pin(turn: Turn) -> None:
    """ "/pin 1234" puts a PIN in the chat before it was asked for: the router calls this first,
    whatever the command then does (even "please register first"). The message is deleted like
    any PIN message and its argument never read (a PIN is typed on its own, and twice)."""
    if turn.event.message_id:
        turn.delete(turn.event.message_id)
    turn.reply(turn.t("I deleted your message: type your PIN on its own when I ask for it."))


async def begin(turn: Turn) -> None:
    """/pin: set a PIN, or change it after typing the current one."""
    user, t = turn.user, turn.t
    if user is None:
        return
    if pin_rules.locked_out(user.pin_locked_until, turn.now):
        await _locked_out(turn, user, "")
        return
    if user.pin_hash is None:
        await conversation.start(turn, FLOW, NEW, {})
        turn.reply(
            t(
                "Choose a PIN of {min} to {max} digits. I delete your message as soon as I "
                "have read it. Send /cancel to stop.",
                min=pin_rules.MIN_DIGITS,
                max=pin_rules.MAX_DIGITS,
            )
        )
        return
    await conversation.start(turn, FLOW, CURRENT, {})
    turn.reply(t("To change your PIN, first type your current PIN (or /cancel)."))


async def lock(turn: Turn) -> None:
    """/lock: end the unlocked session now."""
    user, t = turn.user, turn.t
    if user is None:
        return
    if user.pin_hash is None:
        turn.reply(t("You have no PIN yet. Send /pin to set one."))
        return
    user.session_active_at = None
    turn.reply(t("Locked. Your records will ask for your PIN next time."))


# The conversation -------------------------------------------------------------------------------


def ask(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    texts = {
        NEW: t(
            "Please type a new PIN: {min} to {max} digits.",
            min=pin_rules.MIN_DIGITS,
            max=pin_rules.MAX_DIGITS,
        ),
        REPEAT: t("Please type the same PIN again."),
        CURRENT: t("Please type your current PIN."),
        UNLOCK: t("Please type your PIN."),
    }
    turn.reply(texts.get(conv.step, texts[UNLOCK]) + "\n" + t("Send /cancel to stop."))


def cancelled_text(turn: Turn) -> str:
    return turn.t("Cancelled. Nothing about your PIN changed.")


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    turn.answer(turn.t("Please type your PIN as a message."))


async def on_message(turn: Turn, conv: Conversation) -> None:
    user, event = turn.user, turn.event
    if user is None:
        await conversation.end(turn)
        return
    if event.message_id:
        # The PIN must not stay in the chat history, whatever it turns out to be.
        turn.delete(event.message_id)
    text = (event.text or "").strip()
    if not text:
        turn.reply(turn.t("Please type your PIN as digits; I can't read a PIN from a file."))
        return
    if conv.step == NEW:
        await _new(turn, conv, text)
    elif conv.step == REPEAT:
        await _repeat(turn, conv, user, text)
    else:
        await _check(turn, conv, user, text)


async def _new(turn: Turn, conv: Conversation, text: str) -> None:
    t = turn.t
    problem = pin_rules.check_new_pin(text)
    if problem is PinProblem.NOT_DIGITS:
        turn.reply(
            t(
                "A PIN is {min} to {max} digits (0–9), nothing else. Please try again.",
                min=pin_rules.MIN_DIGITS,
                max=pin_rules.MAX_DIGITS,
            )
        )
        return
    if problem is PinProblem.TOO_SIMPLE:
        turn.reply(t("That PIN is too easy to guess (like 1111 or 1234). Please choose another."))
        return
    # Only the hash of the first entry is kept while the user repeats it.
    conv.data["first"] = await hash_pin(text)
    await conversation.move(turn, conv, REPEAT)
    turn.reply(t("Please type the same PIN again."))


async def _repeat(turn: Turn, conv: Conversation, user: User, text: str) -> None:
    t = turn.t
    first = str(conv.data.get("first", ""))
    if not first or not await pin_matches(first, text):
        conv.data.pop("first", None)
        await conversation.move(turn, conv, NEW)
        turn.reply(t("The two PINs were different. Please choose a PIN again."))
        return
    user.pin_hash = first
    user.pin_failures = 0
    user.pin_locked_until = None
    user.session_active_at = turn.now
    turn.uow.audit.record(turn.event.user_id, user.id, "pin_set", None, True, turn.now)
    log.info("pin set", extra={"user_id": user.id})
    minutes = int(turn.config.session_idle.total_seconds() // 60)
    turn.reply(
        t(
            "Your PIN is set. Records ask for it again after {minutes} minutes without "
            "activity, or after /lock. If you forget it, the clinic's admins can reset it.",
            minutes=minutes,
        )
    )
    await _finish(turn, conv)


async def _check(turn: Turn, conv: Conversation, user: User, text: str) -> None:
    """The current PIN, to unlock (UNLOCK) or before choosing a new one (CURRENT)."""
    t = turn.t
    if pin_rules.locked_out(user.pin_locked_until, turn.now):
        turn.reply(_lockout_text(turn, user))  # the flow stays: the next try is deleted too
        return
    if user.pin_hash is None:  # reset by an admin meanwhile
        await conversation.end(turn)
        turn.reply(t("You have no PIN any more (the clinic reset it). Send /pin to set one."))
        return
    if not pin_rules.looks_like_pin(text):
        turn.reply(
            t(
                "A PIN is {min} to {max} digits. Please type your PIN, or send /cancel.",
                min=pin_rules.MIN_DIGITS,
                max=pin_rules.MAX_DIGITS,
            )
        )
        return
    if not await pin_matches(user.pin_hash, text):
        await _failed(turn, user)
        return
    user.pin_failures = 0
    user.session_active_at = turn.now
    turn.uow.audit.record(turn.event.user_id, user.id, "pin_unlock", None, True, turn.now)
    if conv.step == CURRENT:
        conv.data.pop("first", None)
        await conversation.move(turn, conv, NEW)
        turn.reply(
            t(
                "Correct. Now type your new PIN: {min} to {max} digits.",
                min=pin_rules.MIN_DIGITS,
                max=pin_rules.MAX_DIGITS,
            )
        )
        return
    turn.reply(t("Unlocked."))
    await _finish(turn, conv)


async def _failed(turn: Turn, user: User) -> None:
    t = turn.t
    outcome = pin_rules.after_failure(user.pin_failures, turn.now)
    user.pin_failures = outcome.failures
    turn.uow.audit.record(turn.event.user_id, user.id, "pin_failed", None, False, turn.now)
    log.warning("pin failed", extra={"user_id": user.id})
    if outcome.locked_until is None:
        turn.reply(
            t(
                "That PIN is not right. Tries left before a 15-minute lock: {left}.",
                left=pin_rules.tries_left(outcome.failures),
            )
        )
        return
    user.pin_locked_until = outcome.locked_until
    user.session_active_at = None
    turn.uow.audit.record(turn.event.user_id, user.id, "pin_lockout", None, False, turn.now)
    log.warning("pin lockout", extra={"user_id": user.id})
    turn.reply(_lockout_text(turn, user))  # the flow stays: the next try is deleted too


async def _finish(turn: Turn, conv: Conversation) -> None:
    resume = str(conv.data.get("resume", ""))
    await conversation.end(turn)
    if resume:
        await _resume(turn, resume)


async def _resume(turn: Turn, resume: str) -> None:
    # Imported here: the registry of flows imports this module for its own gate.
    from handlers.flows import BUTTONS, COMMANDS

    kind, _, value = resume.partition(":")
    if kind == "cmd" and value in COMMANDS:
        await COMMANDS[value].run(turn)
    elif kind == "btn":
        callback = callbacks.unpack(value)
        if callback is not None and callback.flow in BUTTONS:
            await BUTTONS[callback.flow].on_button(turn, callback)


async def _locked_out(turn: Turn, user: User, resume: str) -> None:
    """Say until when the account is locked, and hold the PIN flow meanwhile: a PIN typed
    now is deleted from the chat like any other, not left in view. A wrap-up draft is never
    replaced, and a PIN flow already running keeps what it was for."""
    current = turn.conversation
    if current is None or current.flow not in (FLOW, wrap_up.FLOW):
        await conversation.start(turn, FLOW, UNLOCK, {"resume": resume})
    turn.reply(_lockout_text(turn, user))


def _lockout_text(turn: Turn, user: User) -> str:
    until = user.pin_locked_until or turn.now
    text = turn.t(
        "Too many wrong PINs: your records are locked until {time} ({zone}). "
        "If you forgot your PIN, please ask the clinic to reset it.",
        time=clock(until, user.timezone, turn.t.language),
        zone=user.timezone,
    )
    if turn.conversation is not None and turn.conversation.flow == FLOW:
        text += "\n" + turn.t(
            "Until then I delete what you type here, in case it is a PIN. Send /cancel to do "
            "something else."
        )
    return text


# The "Keep unlocked" button on an idle warning ---------------------------------------------


def keep_data(stamp: str) -> str:
    return callbacks.pack(BUTTONS, "", "keep", stamp)


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t, user = turn.t, turn.user
    message_id = turn.event.message_id
    if callback.step != "keep" or user is None or not unlocked(turn) or user.pin_hash is None:
        turn.answer(t("Your session has already locked. You will be asked for your PIN."))
        if message_id:
            turn.edit(message_id, t("Your session locked."))
        return
    user.session_active_at = turn.now
    turn.answer(t("Still unlocked."))
    if message_id:
        turn.edit(message_id, t("Still unlocked. Carry on."))
