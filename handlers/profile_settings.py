"""/settings: a registered user sees the profile and changes one field at a time.

```mermaid
stateDiagram-v2
    [*] --> menu: /settings
    menu --> name: Edit name
    menu --> dob: Edit date of birth
    menu --> phone: Edit phone
    menu --> tz: Edit time zone
    name --> menu: saved
    dob --> menu: saved
    phone --> menu: saved
    tz --> menu: saved
    menu --> [*]: Done
```
"""

from __future__ import annotations

from enum import StrEnum

from handlers import callbacks, conversation
from handlers.i18n import Html
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

FLOW = "st"


class Step(StrEnum):
    MENU = "menu"
    NAME = "name"
    DOB = "dob"
    PHONE = "phone"
    TIMEZONE = "tz"


async def begin(turn: Turn) -> None:
    conv = await conversation.start(turn, FLOW, Step.MENU)
    ask(turn, conv)


def cancelled_text(turn: Turn) -> str:
    return turn.t("Done. Changes you saved before are kept.")


def _user(turn: Turn) -> User:
    assert turn.user is not None, "the router only opens /settings for known users"
    return turn.user


def _profile(user: User) -> dict[str, object]:
    return {
        "name": user.full_name,
        "dob": user.date_of_birth,
        "phone": user.phone,
        "tz": user.timezone,
    }


def _data(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def _menu_text(turn: Turn, user: User) -> str:
    return turn.t("Your profile:\n\n{details}", details=Html(summary_lines(turn, _profile(user))))


def ask(turn: Turn, conv: Conversation) -> None:
    t, user = turn.t, _user(turn)
    if conv.step != Step.MENU:
        prompt(turn, conv, Field(conv.step))
        return
    keyboard = InlineKeyboard(
        (
            (
                InlineButton(t("Edit name"), _data(conv, "e-name")),
                InlineButton(t("Edit date of birth"), _data(conv, "e-dob")),
            ),
            (
                InlineButton(t("Edit phone"), _data(conv, "e-phone")),
                InlineButton(t("Edit time zone"), _data(conv, "e-tz")),
            ),
            (InlineButton(t("Done"), _data(conv, "done")),),
        )
    )
    turn.reply(_menu_text(turn, user), keyboard)


async def _save(turn: Turn, conv: Conversation) -> None:
    field, data, user = Field(conv.step), conv.data, _user(turn)
    if field is Field.NAME:
        user.full_name = str(data.pop("name"))
    elif field is Field.DOB:
        user.date_of_birth = str(data.pop("dob"))
    elif field is Field.PHONE:
        turn.uow.users.set_phone(user, str(data.pop("phone")))
    else:
        user.timezone = str(data.pop("tz"))
    user.updated_at = turn.now
    await conversation.move(turn, conv, Step.MENU)
    turn.reply(turn.t("Saved."), RemoveKeyboard())
    ask(turn, conv)


async def on_message(turn: Turn, conv: Conversation) -> None:
    if conv.step == Step.MENU:
        turn.reply(turn.t("Please use the buttons above, or send /cancel to leave your profile."))
        return
    if await accept_message(turn, conv, Field(conv.step)):
        await _save(turn, conv)


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    t, message_id, action, user = turn.t, turn.event.message_id, callback.action, _user(turn)
    if conv.step == Step.MENU and action == "done":
        turn.answer()
        await conversation.end(turn)
        if message_id:
            turn.edit(message_id, _menu_text(turn, user))
        turn.reply(t("Your profile is saved. Send /help to see what you can do."))
        return
    if conv.step == Step.MENU and action.startswith("e-") and action[2:] in set(Field):
        turn.answer()
        if message_id:
            turn.edit(message_id, _menu_text(turn, user))
        await conversation.move(turn, conv, Step(action[2:]))
        ask(turn, conv)
        return
    if conv.step == Step.TIMEZONE and accept_zone_button(turn, conv, action):
        await _save(turn, conv)
        return
    turn.answer(t("This button is no longer active."))
