"""The profile questions shared by registration and /settings: ask, check, keep.

Each field's answer is checked by the pure rules in `clinic.profile`; a bad answer gets the
reason and the same question again, and nothing already entered is touched.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from babel.dates import format_date

from clinic.profile import (
    ProfileError,
    ProfileProblem,
    clean_full_name,
    contact_phone,
    parse_date_of_birth,
    parse_phone,
)
from clinic.timezones import COMMON_ZONES, UnknownTimezone, parse_timezone, zone
from handlers import callbacks
from handlers.i18n import Translator
from handlers.port import InlineButton, InlineKeyboard, RemoveKeyboard, ReplyButton, ReplyKeyboard
from handlers.turn import Turn
from storage.models import Conversation


class Field(StrEnum):
    NAME = "name"
    DOB = "dob"
    PHONE = "phone"
    TIMEZONE = "tz"


def _problem_text(t: Translator, problem: ProfileProblem) -> str:
    texts = {
        ProfileProblem.NAME_EMPTY: t("The name is empty. Please type your full name."),
        ProfileProblem.NAME_TOO_LONG: t(
            "That is longer than a name can be here (100 characters at most). "
            "Please type your full name."
        ),
        ProfileProblem.NAME_CHARACTERS: t(
            "A name can hold letters (any alphabet), spaces, hyphens and apostrophes, but no "
            "digits, emoji or other symbols. Please type your full name."
        ),
        ProfileProblem.NAME_NO_LETTERS: t("A name needs letters. Please type your full name."),
        ProfileProblem.DATE_UNREADABLE: t(
            "I could not read that as a date. Please write it like 17.05.1990 or 17 May 1990."
        ),
        ProfileProblem.DATE_NO_YEAR: t(
            "Please include the year with four digits, for example 17.05.1990."
        ),
        ProfileProblem.DATE_IN_FUTURE: t(
            "That date is in the future. Please send your date of birth."
        ),
        ProfileProblem.DATE_TOO_OLD: t(
            "That would make you older than 120 years. Please check the year."
        ),
        ProfileProblem.PHONE_UNREADABLE: t(
            "That does not look like a phone number. Please type it in international form, "
            "for example +44 20 7946 0958, or use the button below."
        ),
        ProfileProblem.PHONE_NOT_INTERNATIONAL: t(
            "Please start the number with + and the country code, for example +44 20 7946 0958."
        ),
        ProfileProblem.PHONE_INVALID: t(
            "That number is not a valid phone number. Please check it and send it again."
        ),
    }
    return texts[problem]


def zone_choices(default_zone: str) -> list[str]:
    return list(dict.fromkeys([default_zone, *COMMON_ZONES]))


def prompt(turn: Turn, conversation: Conversation, field: Field) -> None:
    t = turn.t
    if field is Field.NAME:
        turn.reply(t("What is your full name, as it appears on your ID?"), RemoveKeyboard())
    elif field is Field.DOB:
        turn.reply(
            t("What is your date of birth? For example 17.05.1990 or 17 May 1990."),
            RemoveKeyboard(),
        )
    elif field is Field.PHONE:
        keyboard = ReplyKeyboard(
            rows=((ReplyButton(t("📱 Share my phone number"), request_contact=True),),),
            placeholder=t("or type +44 20 7946 0958"),
        )
        turn.reply(
            t(
                "What is your phone number? Tap the button below to share it, or type it in "
                "international form, for example +44 20 7946 0958."
            ),
            keyboard,
        )
    else:
        choices = zone_choices(turn.config.default_timezone)
        buttons = [
            InlineButton(
                name, callbacks.pack(conversation.flow, conversation.token, field, f"z{i}")
            )
            for i, name in enumerate(choices)
        ]
        rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
        turn.reply(
            t(
                "Which time zone are you in? Appointment times will be shown in it. Tap one, "
                "or type a name like Europe/Paris or an offset like UTC+5:30."
            ),
            InlineKeyboard(rows),
        )


def _text_needed(turn: Turn, field: Field) -> None:
    t = turn.t
    what = {
        Field.NAME: t("I need your name as text. Please type it."),
        Field.DOB: t("I need your date of birth as text, for example 17.05.1990."),
        Field.PHONE: t(
            "Please share your phone number with the button below, or type it, "
            "for example +44 20 7946 0958."
        ),
        Field.TIMEZONE: t("Please tap a time zone above, or type its name."),
    }
    turn.reply(what[field])


async def accept_message(turn: Turn, conversation: Conversation, field: Field) -> bool:
    """Take the answer for `field` from a message; False (with a reply) when it is not usable."""
    event, t, data = turn.event, turn.t, conversation.data
    if field is Field.PHONE and event.contact is not None:
        return await _accept_contact(turn, conversation)
    if event.text is None:
        _text_needed(turn, field)
        return False
    try:
        if field is Field.NAME:
            data["name"] = clean_full_name(event.text)
        elif field is Field.DOB:
            data["dob"] = parse_date_of_birth(event.text, turn.now.date()).isoformat()
        elif field is Field.PHONE:
            phone = parse_phone(event.text)
            if not await _phone_is_free(turn, phone):
                return False
            data["phone"] = phone
        else:
            try:
                data["tz"] = parse_timezone(event.text)
            except UnknownTimezone:
                turn.reply(
                    t(
                        "I don't know that time zone. Please tap one above, or type a name like "
                        "Europe/Paris or an offset like UTC+5:30."
                    )
                )
                return False
    except ProfileError as error:
        turn.reply(_problem_text(t, error.problem))
        return False
    return True


async def _accept_contact(turn: Turn, conversation: Conversation) -> bool:
    contact, t = turn.event.contact, turn.t
    assert contact is not None
    if contact.user_id != turn.event.user_id:
        turn.reply(
            t(
                "That contact is not yours. Please share your own number with the button "
                "below, or type it."
            )
        )
        return False
    try:
        phone = contact_phone(contact.phone_number)
    except ProfileError as error:
        turn.reply(_problem_text(t, error.problem))
        return False
    if not await _phone_is_free(turn, phone):
        return False
    conversation.data["phone"] = phone
    return True


async def _phone_is_free(turn: Turn, phone: str) -> bool:
    owner = await turn.uow.users.phone_owner(phone)
    if owner is not None and owner.telegram_id != turn.event.user_id:
        turn.reply(
            turn.t(
                "This number is already registered to another account. If it is yours, please "
                "contact the clinic. You can also enter a different number."
            )
        )
        return False
    return True


def accept_zone_button(turn: Turn, conversation: Conversation, action: str) -> bool:
    choices = zone_choices(turn.config.default_timezone)
    if not action.startswith("z") or not action[1:].isdigit():
        return False
    index = int(action[1:])
    if index >= len(choices):
        return False
    conversation.data["tz"] = choices[index]
    # Answer the tap and freeze the question to the choice made, so no live buttons remain.
    turn.answer()
    if turn.event.message_id:
        turn.edit(turn.event.message_id, turn.t("Time zone: {tz}", tz=choices[index]))
    return True


def summary_lines(turn: Turn, data: dict[str, object]) -> str:
    t = turn.t
    dob = data.get("dob")
    shown_dob = (
        format_date(date.fromisoformat(str(dob)), format="long", locale=t.language) if dob else "—"
    )
    zone_name = str(data.get("tz") or turn.config.default_timezone)
    local_now = turn.now.astimezone(zone(zone_name)).strftime("%H:%M")
    return t(
        "<b>Name:</b> {name}\n<b>Date of birth:</b> {dob}\n<b>Phone:</b> {phone}\n"
        "<b>Time zone:</b> {tz} (now {local_time} there)",
        name=data.get("name") or "—",
        dob=shown_dob,
        phone=data.get("phone") or "—",
        tz=zone_name,
        local_time=local_now,
    )
