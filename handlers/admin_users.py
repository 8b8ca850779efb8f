"""/admin → Find a patient, and what an admin does to one user: ban, unban, reset the PIN.

```mermaid
stateDiagram-v2
    [*] --> query: Find a patient / One user's entries (audit log)
    query --> query: not an id or a phone, or nobody found (asked again)
    query --> [*]: the user's card (or audit entries)
```
A phone is found by its keyed hash (phones are encrypted), a Telegram id as typed. Ban, unban
and "Reset PIN" are stateless buttons on the card (`ad:-:<verb>:<user id>`): each press checks
again who presses and what the user's state is now. Nobody can ban an admin or themselves.
An approved doctor is suspended first (handlers/doctor_suspension.py), so that their patients
are told; a ban can follow.
"""

from __future__ import annotations

import re
from enum import StrEnum

from clinic.profile import ProfileError
from clinic.roles import Role
from handlers import admin_audit, conversation
from handlers.admin_buttons import (
    admin_data,
    no_longer_admin,
    target_user,
    user_label,
)
from handlers.callbacks import Callback
from handlers.formatting import date_of, when
from handlers.i18n import Html, Translator, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from handlers.typed_line import read_line
from storage.models import Conversation, User

FLOW = "uf"
FOR_CARD, FOR_AUDIT = "card", "audit"
QUERY_MAX = 40  # a phone number or a Telegram id, with room for spaces and dashes
_TELEGRAM_ID = re.compile(r"^\d{1,19}$")
_ID_LIMIT = 2**63  # ids are 64-bit signed in the database; a larger number is no id


class Step(StrEnum):
    QUERY = "query"


async def begin_find(turn: Turn, purpose: str = FOR_CARD) -> None:
    conv = await conversation.start(turn, FLOW, Step.QUERY, {"for": purpose})
    ask(turn, conv)


async def find_patient(turn: Turn, target: str) -> None:
    turn.answer()
    await begin_find(turn, FOR_CARD)


async def find_for_audit(turn: Turn, target: str) -> None:
    turn.answer()
    await begin_find(turn, FOR_AUDIT)


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(
        turn.t(
            "Send the user's phone number in international form (+49 151 …) or their "
            "Telegram id (digits only), or /cancel."
        )
    )


def cancelled_text(turn: Turn) -> str:
    return turn.t("Search stopped.")


async def on_callback(turn: Turn, conv: Conversation, callback: Callback) -> None:
    turn.answer(turn.t("This button is no longer active."))


async def on_message(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    if await no_longer_admin(turn):
        return
    not_a_query = t(
        "That is neither a phone number in international form (+49 151 …) nor a "
        "Telegram id (digits only). Please try again, or send /cancel."
    )
    text = read_line(
        turn,
        QUERY_MAX,
        not_text=t("Please type a phone number or a Telegram id, or send /cancel."),
        empty=t("Please type a phone number or a Telegram id, or send /cancel."),
        too_long=not_a_query,
    )
    if text is None:
        return
    compact = re.sub(r"[\s\-()]", "", text)
    user = (
        await turn.uow.users.by_telegram_id(int(compact))
        if _TELEGRAM_ID.match(compact) and int(compact) < _ID_LIMIT
        else None
    )
    if user is None:
        # Digits alone may also be a phone without its plus sign, as Telegram shows contacts.
        try:
            user = await turn.uow.users.find_by_phone(text)
        except ProfileError:
            if not _TELEGRAM_ID.match(compact):
                turn.reply(not_a_query)
                return
    if user is None:
        turn.reply(t("Nobody with that phone number or Telegram id. Try another, or /cancel."))
        return
    await conversation.end(turn)
    if conv.data.get("for") == FOR_AUDIT:
        await admin_audit.show_for_user(turn, user)
    else:
        await show_card(turn, user)


# The card -------------------------------------------------------------------------------------


def _role_name(t: Translator, role: str) -> str:
    names = {"patient": t("patient"), "doctor": t("doctor"), "admin": t("admin")}
    return names.get(role, role)


async def card_text(turn: Turn, user: User) -> str:
    t, zone_name = turn.t, turn.zone_name
    registered = (
        date_of(user.registered_at, zone_name, t.language) if user.registered_at else t("not yet")
    )
    if user.banned_at is not None:
        banned = t("yes, since {when}", when=when(user.banned_at, zone_name, t.language))
    else:
        banned = t("no")
    if user.pin_locked_until is not None and user.pin_locked_until > turn.now:
        pin = t("locked until {when}", when=when(user.pin_locked_until, zone_name, t.language))
    elif user.pin_hash:
        pin = t("set")
    else:
        pin = t("not set")
    return t(
        "<b>{who}</b>\nRole: {role}\nRegistered: {registered}\nAppointments: {count}\n"
        "Banned: {banned}\nPIN: {pin}",
        who=Html(user_label(t, user)),
        role=_role_name(t, user.role),
        registered=registered,
        count=await turn.uow.admin.appointment_count(user.id),
        banned=banned,
        pin=pin,
    )


def card_keyboard(t: Translator, user: User) -> InlineKeyboard:
    ban = (
        InlineButton(t("Unban"), admin_data("unban", user.id))
        if user.banned_at is not None
        else InlineButton(t("Ban"), admin_data("ban", user.id))
    )
    return InlineKeyboard(
        (
            (ban, InlineButton(t("Reset PIN"), admin_data("pinr", user.id))),
            (InlineButton(t("Audit log"), admin_data("audx", user.id)),),
        )
    )


async def show_card(turn: Turn, user: User) -> None:
    turn.uow.audit.record(turn.event.user_id, user.id, "admin.card", None, True, turn.now)
    turn.reply(await card_text(turn, user), card_keyboard(turn.t, user))


async def _refresh_card(turn: Turn, user: User) -> None:
    if turn.event.message_id:
        turn.edit(turn.event.message_id, await card_text(turn, user), card_keyboard(turn.t, user))


# Ban and unban --------------------------------------------------------------------------------


async def ban(turn: Turn, target: str) -> None:
    t = turn.t
    user = await target_user(turn, target)
    if user is None:
        return
    if user.telegram_id == turn.event.user_id:
        turn.answer(t("You cannot ban yourself."), alert=True)
        return
    if user.telegram_id in turn.config.admin_ids or user.role == "admin":
        turn.answer(t("Admins cannot be banned."), alert=True)
        return
    if user.banned_at is not None:
        turn.answer(t("Already banned."))
        await _refresh_card(turn, user)
        return
    doctor = await turn.uow.doctors.by_user(user.id)
    if doctor is not None and doctor.status == "approved":
        # A ban alone would leave them bookable with their patients untold; suspending cancels
        # their appointments and tells each patient, and a ban can follow.
        turn.answer(
            t(
                "An approved doctor is suspended first (/admin → Doctors: suspend / reinstate): "
                "that cancels their appointments and tells the patients. Then you can ban them."
            ),
            alert=True,
        )
        return
    user.banned_at = turn.now
    await turn.uow.conversations.clear(user.telegram_id)  # whatever they were doing stops
    turn.uow.audit.record(turn.event.user_id, user.id, "user_ban", None, True, turn.now)
    turn.answer(t("Banned."))
    await _refresh_card(turn, user)


async def unban(turn: Turn, target: str) -> None:
    t = turn.t
    user = await target_user(turn, target)
    if user is None:
        return
    if user.banned_at is None:
        turn.answer(t("This user is not banned."))
        await _refresh_card(turn, user)
        return
    user.banned_at = None
    turn.uow.audit.record(turn.event.user_id, user.id, "user_unban", None, True, turn.now)
    turn.answer(t("Unbanned."))
    await _refresh_card(turn, user)
    t = translator(user.language)  # the user's own language from here on
    turn.notify(
        user.telegram_id,
        t(
            "The clinic has restored your access to this service. Send /help to see what "
            "you can do."
        ),
    )


# PIN reset ------------------------------------------------------------------------------------


async def reset_pin(turn: Turn, target: str) -> None:
    t = turn.t
    user = await target_user(turn, target)
    if user is None:
        return
    had_pin = user.pin_hash is not None or user.pin_locked_until is not None
    user.pin_hash = None
    user.pin_failures = 0
    user.pin_locked_until = None
    user.session_active_at = None
    turn.uow.audit.record(turn.event.user_id, user.id, "pin_reset", None, True, turn.now)
    turn.answer(t("PIN reset."))
    turn.reply(
        t(
            "PIN reset for {user}. They were told to set a new one with /pin.",
            user=Html(user_label(t, user)),
        )
        if had_pin
        else t("{user} had no PIN; nothing was locked.", user=Html(user_label(t, user)))
    )
    if had_pin:
        t = translator(user.language)  # the user's own language from here on
        turn.notify(
            user.telegram_id,
            t(
                "A clinic admin has reset your PIN. Please set a new one with /pin before "
                "you read your records."
            )
            if user.role == Role.DOCTOR.value
            # A patient's PIN is optional: their records open without one until they set it.
            else t(
                "A clinic admin has reset your PIN, so your records open without one for now. "
                "Send /pin to protect them with a new PIN."
            ),
        )
