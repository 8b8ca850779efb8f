"""Patient registration: consent, name, date of birth, phone, time zone, confirm.

```mermaid
stateDiagram-v2
    [*] --> consent: /start (new user)
    consent --> [*]: I do not agree (nothing stored)
    consent --> name: I agree
    name --> dob
    dob --> phone
    phone --> tz
    tz --> confirm
    confirm --> name: Edit name
    confirm --> dob: Edit date of birth
    confirm --> phone: Edit phone
    confirm --> tz: Edit time zone
    confirm --> [*]: Confirm (account created)
```
Every step re-asks on bad input and keeps what was entered; /cancel leaves at any step.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from clinic.roles import Role
from handlers import callbacks, consent, conversation
from handlers.i18n import Html
from handlers.menu import commands_for
from handlers.port import InlineButton, InlineKeyboard, RemoveKeyboard
from handlers.profile_fields import (
    Field,
    accept_message,
    accept_zone_button,
    prompt,
    summary_lines,
)
from handlers.turn import Turn
from storage.models import Conversation, User

FLOW = "rg"


class Step(StrEnum):
    CONSENT = "consent"
    NAME = "name"
    DOB = "dob"
    PHONE = "phone"
    TIMEZONE = "tz"
    CONFIRM = "confirm"


FIELD_ORDER = (Step.NAME, Step.DOB, Step.PHONE, Step.TIMEZONE)


async def begin(turn: Turn) -> None:
    conv = await conversation.start(turn, FLOW, Step.CONSENT)
    ask(turn, conv)


def cancelled_text(turn: Turn) -> str:
    return turn.t("Registration stopped. Nothing you entered was kept. Send /start to begin again.")


def ask(turn: Turn, conv: Conversation) -> None:
    """Put the current step's question to the user (also used to resume after a restart)."""
    step = Step(conv.step)
    t = turn.t
    if step is Step.CONSENT:
        turn.reply(
            t(
                "Welcome! With this bot you can consult the clinic's doctors from your phone.\n\n"
                "⚠️ <b>This service is not for emergencies.</b> If you need urgent help, call "
                "your local emergency number now.\n\n"
                "To create your account we store your name, date of birth and phone number, and "
                "later what you share with your doctors. It is encrypted, and only the doctors "
                "treating you can read it. Do you agree to this processing of your health data?"
            ),
            InlineKeyboard(
                (
                    (
                        InlineButton(t("✅ I agree"), _data(conv, "yes")),
                        InlineButton(t("I do not agree"), _data(conv, "no")),
                    ),
                )
            ),
        )
    elif step is Step.CONFIRM:
        _ask_confirm(turn, conv)
    else:
        prompt(turn, conv, Field(step.value))


def _data(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def _ask_confirm(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    keyboard = InlineKeyboard(
        (
            (InlineButton(t("✅ Confirm"), _data(conv, "ok")),),
            (
                InlineButton(t("Edit name"), _data(conv, "e-name")),
                InlineButton(t("Edit date of birth"), _data(conv, "e-dob")),
            ),
            (
                InlineButton(t("Edit phone"), _data(conv, "e-phone")),
                InlineButton(t("Edit time zone"), _data(conv, "e-tz")),
            ),
        )
    )
    turn.reply(_summary(turn, conv), keyboard)


def _summary(turn: Turn, conv: Conversation) -> str:
    return turn.t(
        "Please check your details:\n\n{details}", details=Html(summary_lines(turn, conv.data))
    )


async def _advance(turn: Turn, conv: Conversation) -> None:
    """After a field is answered: back to the summary when editing, else the next field."""
    step = Step(conv.step)
    if conv.data.get("editing") or step is Step.TIMEZONE:
        conv.data.pop("editing", None)
        await conversation.move(turn, conv, Step.CONFIRM)
    else:
        await conversation.move(turn, conv, FIELD_ORDER[FIELD_ORDER.index(step) + 1])
    ask(turn, conv)


async def on_message(turn: Turn, conv: Conversation) -> None:
    step = Step(conv.step)
    t = turn.t
    if step is Step.CONSENT:
        turn.reply(t("Please tap “I agree” or “I do not agree” on the message above."))
        return
    if step is Step.CONFIRM:
        turn.reply(t("Please tap “Confirm” to finish, or one of the edit buttons above."))
        return
    if step is Step.PHONE and turn.event.contact is not None:
        accepted = await accept_message(turn, conv, Field.PHONE)
        if accepted:
            turn.reply(t("Thank you, got your number."), RemoveKeyboard())
    else:
        accepted = await accept_message(turn, conv, Field(step.value))
    if accepted:
        await _advance(turn, conv)
    else:
        await conversation.move(turn, conv, step)  # keeps updated_at fresh


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    step, t, message_id = Step(conv.step), turn.t, turn.event.message_id
    action = callback.action
    if step is Step.CONSENT and action in {"yes", "no"}:
        declined = t(
            "Without your consent we cannot create an account, and nothing about you "
            "was stored. If you change your mind, send /start."
        )
        if await consent.answer(turn, conv, action == "yes", declined):
            await _advance_from_consent(turn, conv)
        return
    if step is Step.TIMEZONE and accept_zone_button(turn, conv, action):
        await _advance(turn, conv)
        return
    if step is Step.CONFIRM and action == "ok":
        await _finish(turn, conv)
        return
    if step is Step.CONFIRM and action.startswith("e-") and action[2:] in {f.value for f in Field}:
        turn.answer()
        if message_id:
            turn.edit(message_id, _summary(turn, conv))  # same text, buttons gone
        conv.data["editing"] = True
        await conversation.move(turn, conv, Step(action[2:]))
        ask(turn, conv)
        return
    turn.answer(t("This button is no longer active."))


async def _advance_from_consent(turn: Turn, conv: Conversation) -> None:
    await conversation.move(turn, conv, Step.NAME)
    ask(turn, conv)


async def _finish(turn: Turn, conv: Conversation) -> None:
    t, data, uow = turn.t, conv.data, turn.uow
    missing = [s for s in FIELD_ORDER if not data.get(s.value)]
    if missing:
        turn.answer()
        await conversation.move(turn, conv, missing[0])
        ask(turn, conv)
        return
    owner = await uow.users.phone_owner(str(data["phone"]))
    if owner is not None:
        turn.answer(t("This number was just registered to another account."), alert=True)
        data.pop("phone", None)
        data["editing"] = True
        await conversation.move(turn, conv, Step.PHONE)
        ask(turn, conv)
        return
    user = User(
        telegram_id=turn.event.user_id,
        role=Role.PATIENT.value,
        language=t.language,
        full_name=str(data["name"]),
        date_of_birth=str(data["dob"]),
        timezone=str(data["tz"]),
        consent_version=str(data["consent_version"]),
        consent_at=datetime.fromisoformat(str(data["consent_at"])),
        registered_at=turn.now,
        created_at=turn.now,
        updated_at=turn.now,
    )
    uow.users.set_phone(user, str(data["phone"]))
    uow.users.add(user)
    await conversation.end(turn)
    turn.user = user
    turn.answer(t("Registered"))
    if turn.event.message_id:
        turn.edit(turn.event.message_id, t("✅ Details confirmed."))
    turn.reply(
        t(
            "You are registered, {name}. Welcome to the clinic!\n\n"
            "Send /settings to see or change your profile, or /help for everything you can do.",
            name=user.full_name,
        ),
        RemoveKeyboard(),
    )
    turn.set_commands(commands_for(Role.PATIENT, t))
