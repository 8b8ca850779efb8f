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
    admin_users,
    agenda,
    availability,
    booking,
    broadcast,
    consultation,
    data_export,
    doctor_onboarding,
    doctor_rejection,
    doctor_suspension,
    erasure,
    feedback,
    keep_going,
    my_appointments,
    payment_admin,
    payments,
    pin,
    profile_settings,
    recipient_choice,
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
    # Reads health data: runs only in an unlocked PIN session (handlers/pin.py asks first).
    needs_unlock: bool = False


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

# "Who is this message for?" with two consultations open: the message waits for the answer.
CONVERSATIONS[recipient_choice.FLOW] = recipient_choice  # type: ignore[assignment]

# Records: a patient's own, a doctor's patients'; uploads to one's own record.
CONVERSATIONS[record_upload.FLOW] = record_upload  # type: ignore[assignment]
BUTTONS[records.BUTTONS] = records  # type: ignore[assignment]
# Stateless buttons that read health data: like needs_unlock commands, behind the PIN.
LOCKED_BUTTONS = frozenset({records.BUTTONS})
COMMANDS["records"] = Command(
    frozenset({Role.PATIENT, Role.DOCTOR}), records.show, needs_unlock=True
)
COMMANDS["upload"] = Command(frozenset({Role.PATIENT}), record_upload.begin)

# The consultation wrap-up: summary, private notes, prescriptions, follow-up (/end).
CONVERSATIONS[wrap_up.FLOW] = wrap_up  # type: ignore[assignment]
COMMANDS["end"] = Command(frozenset({Role.DOCTOR}), wrap_up.begin)

# Scheduled-job buttons: rating a consultation (then an optional comment), and "Keep going"
# on an idle warning.
BUTTONS[feedback.BUTTONS] = feedback  # type: ignore[assignment]
CONVERSATIONS[feedback.FLOW] = feedback  # type: ignore[assignment]
BUTTONS[keep_going.BUTTONS] = keep_going  # type: ignore[assignment]

# Payments: "Try again" after a hold ran out unpaid; the admins' payments view and CSV.
BUTTONS[payments.BUTTONS] = payments  # type: ignore[assignment]
BUTTONS[payment_admin.BUTTONS] = payment_admin  # type: ignore[assignment]

# PIN-locked sessions: /pin sets or changes the PIN, /lock ends the session; "Keep unlocked".
CONVERSATIONS[pin.FLOW] = pin  # type: ignore[assignment]
BUTTONS[pin.BUTTONS] = pin  # type: ignore[assignment]
COMMANDS["pin"] = Command(frozenset({Role.PATIENT, Role.DOCTOR}), pin.begin)
COMMANDS["lock"] = Command(frozenset({Role.PATIENT, Role.DOCTOR}), pin.lock)

# Privacy: /export (the patient's data as JSON and PDF); /delete_me (asks twice, then erases;
# doctors and admins are told who closes their accounts).
COMMANDS["export"] = Command(frozenset({Role.PATIENT}), data_export.begin, needs_unlock=True)
COMMANDS["delete_me"] = Command(EVERYONE, erasure.begin)
CONVERSATIONS[erasure.FLOW] = erasure  # type: ignore[assignment]

# Admin commands (/admin, handlers/admin_menu.py): rejecting with a reason, finding a user by
# phone or Telegram id, broadcasts; patients' one-tap rebook after a doctor's suspension.
CONVERSATIONS[doctor_rejection.FLOW] = doctor_rejection  # type: ignore[assignment]
CONVERSATIONS[admin_users.FLOW] = admin_users  # type: ignore[assignment]
CONVERSATIONS[broadcast.FLOW] = broadcast  # type: ignore[assignment]
BUTTONS[doctor_suspension.BUTTONS] = doctor_suspension  # type: ignore[assignment]
