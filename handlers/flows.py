"""Which module answers what: commands per role, conversation flows, stateless buttons.

Conversation flows keep their step in the database and check every button against it;
stateless buttons (admin decisions, appointment actions) carry an id that the handler checks
against the acting user's role and ownership.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from clinic.roles import Role
from handlers import (
    admin,
    agenda,
    availability,
    booking,
    consultation,
    doctor_onboarding,
    feedback,
    keep_going,
    my_appointments,
    profile_settings,
    record_upload,
    records,
    registration,
    specialty_admin,
    time_block,
    wrap_up,
)
from handlers.callbacks import Callback
from handlers.turn import Turn
from storage.models import Conversation


class ConversationFlow(Protocol):
    FLOW: str

    def ask(self, turn: Turn, conv: Conversation) -> None: ...

    async def on_message(self, turn: Turn, conv: Conversation) -> None: ...

    async def on_callback(self, turn: Turn, conv: Conversation, callback: Callback) -> None: ...

    def cancelled_text(self, turn: Turn) -> str: ...


class ButtonHandler(Protocol):
    BUTTONS: str

    async def on_button(self, turn: Turn, callback: Callback) -> None: ...


@dataclass(frozen=True)
class Command:
    roles: frozenset[Role]
    run: Callable[[Turn], Awaitable[None]]


EVERYONE = frozenset(Role)

CONVERSATIONS: dict[str, ConversationFlow] = {
    module.FLOW: module  # type: ignore[misc]
    for module in (registration, profile_settings, booking)
}

BUTTONS: dict[str, ButtonHandler] = {
    module.BUTTONS: module  # type: ignore[misc]
    for module in (booking, my_appointments, consultation)
}

# /start, /help and /cancel are the router's own; these depend on the role.
COMMANDS: dict[str, Command] = {
    "settings": Command(EVERYONE, profile_settings.begin),
    "book": Command(frozenset({Role.PATIENT}), booking.begin),
    "appointments": Command(frozenset({Role.PATIENT}), my_appointments.show),
}

# The doctor and admin side: invites and decisions, onboarding, hours, agenda, specialties.
CONVERSATIONS.update(
    {
        module.FLOW: module  # type: ignore[misc]
        for module in (doctor_onboarding, availability, specialty_admin, time_block)
    }
)
BUTTONS.update({module.BUTTONS: module for module in (admin, agenda)})  # type: ignore[misc]
COMMANDS["admin"] = Command(frozenset({Role.ADMIN}), admin.begin)
COMMANDS["availability"] = Command(frozenset({Role.DOCTOR}), availability.begin)
COMMANDS["agenda"] = Command(frozenset({Role.DOCTOR}), agenda.show)

# Records: a patient's own, a doctor's patients'; uploads to one's own record.
CONVERSATIONS[record_upload.FLOW] = record_upload  # type: ignore[assignment]
BUTTONS[records.BUTTONS] = records  # type: ignore[assignment]
COMMANDS["records"] = Command(frozenset({Role.PATIENT, Role.DOCTOR}), records.show)
COMMANDS["upload"] = Command(frozenset({Role.PATIENT}), record_upload.begin)

# The consultation wrap-up: summary, private notes, prescriptions, follow-up (/end).
CONVERSATIONS[wrap_up.FLOW] = wrap_up  # type: ignore[assignment]
COMMANDS["end"] = Command(frozenset({Role.DOCTOR}), wrap_up.begin)

# Scheduled-job buttons: rating a consultation (then an optional comment), and "Keep going"
# on an idle warning.
BUTTONS[feedback.BUTTONS] = feedback  # type: ignore[assignment]
CONVERSATIONS[feedback.FLOW] = feedback  # type: ignore[assignment]
BUTTONS[keep_going.BUTTONS] = keep_going  # type: ignore[assignment]
