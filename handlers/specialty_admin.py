"""Admins keep the list of specialties: see it, add one by name.

```mermaid
stateDiagram-v2
    [*] --> name: Add a specialty (from /admin → Specialties)
    name --> name: bad or duplicate name (asked again)
    name --> [*]: saved, the list is shown again
```
/cancel leaves and adds nothing.
"""

from __future__ import annotations

from enum import StrEnum

from clinic.profile import ProfileError, clean_name, tidy_name
from handlers import callbacks, conversation
from handlers.admin_buttons import admin_data, no_longer_admin
from handlers.i18n import Html
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from handlers.typed_line import read_line
from storage.models import Conversation, Specialty

FLOW = "sa"
NAME_MAX_LENGTH = 64
# Real specialty names use these ("Obstetrics & Gynaecology", "Ear, Nose and Throat (ENT)",
# "Allergy/Immunology"); names are escaped wherever shown and buttons carry ids, not names.
SPECIALTY_PUNCTUATION = frozenset({" ", "-", ",", "&", "(", ")", "/", "'", "’", "."})


class Step(StrEnum):
    NAME = "name"


def clean_specialty_name(text: str) -> str:
    """1–64 characters: letters of any script and SPECIALTY_PUNCTUATION, at least one letter.
    Raises ProfileError."""
    return clean_name(text, NAME_MAX_LENGTH, SPECIALTY_PUNCTUATION)


async def show_list(turn: Turn) -> None:
    t = turn.t
    names = [s.name for s in await turn.uow.specialties.all()]
    # Names were typed by admins: each goes in as an escaped parameter.
    lines = "\n".join(t("• {name}", name=name) for name in names)
    text = t("Specialties:\n{lines}", lines=Html(lines))
    if not names:
        text = t("There are no specialties yet.")
    keyboard = InlineKeyboard(((InlineButton(t("Add a specialty"), admin_data("addsp")),),))
    turn.reply(text, keyboard)


async def begin(turn: Turn) -> None:
    conv = await conversation.start(turn, FLOW, Step.NAME)
    ask(turn, conv)


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(
        turn.t(
            "Type the name of the new specialty (up to 64 characters: letters, spaces, "
            "hyphens, commas, brackets, slashes, apostrophes, full stops and the ampersand), "
            "or send /cancel."
        )
    )


def cancelled_text(turn: Turn) -> str:
    return turn.t("No specialty was added.")


async def on_message(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    if await no_longer_admin(turn):
        return
    bad_name = t(
        "A specialty name has 1 to 64 characters: letters (any alphabet), spaces, hyphens, "
        "commas, brackets, slashes, apostrophes, full stops and the ampersand. Please type it "
        "again."
    )
    typed = read_line(
        turn,
        NAME_MAX_LENGTH,
        not_text=t("Please type the name as text."),
        empty=bad_name,
        too_long=bad_name,
        tidy=tidy_name,
    )
    if typed is None:
        return
    try:
        name = clean_specialty_name(typed)
    except ProfileError:
        turn.reply(bad_name)
        return
    existing = {s.name.casefold() for s in await turn.uow.specialties.all()}
    if name.casefold() in existing:
        turn.reply(t("“{name}” is already on the list. Please type another name.", name=name))
        return
    turn.uow.specialties.add(Specialty(name=name, created_at=turn.now))
    await conversation.end(turn)
    turn.reply(t("Added “{name}”.", name=name))
    await show_list(turn)


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    turn.answer(turn.t("This button is no longer active."))
