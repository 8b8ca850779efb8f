"""The appointment lifecycle: one state machine that every change of state goes through."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    HELD = "held"  # on hold for the patient until paid (or the hold expires)
    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"  # moved: a new appointment holds the new time
    IN_CONSULTATION = "in_consultation"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    EXPIRED = "expired"  # a hold that ran out unpaid


# Statuses that hold the doctor's time (the database's unique index uses the same set).
ACTIVE = frozenset({Status.HELD, Status.BOOKED, Status.IN_CONSULTATION})

# Statuses that put a patient in a doctor's care, and so open the patient's record to that
# doctor. A hold (paid or not yet), a cancelled or a moved appointment does not: otherwise
# holding a time for a second and releasing it would hand the doctor the whole record.
IN_CARE = frozenset({Status.BOOKED, Status.IN_CONSULTATION, Status.COMPLETED, Status.NO_SHOW})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.HELD: frozenset({Status.BOOKED, Status.EXPIRED, Status.CANCELLED}),
    Status.BOOKED: frozenset(
        {Status.CANCELLED, Status.RESCHEDULED, Status.IN_CONSULTATION, Status.NO_SHOW}
    ),
    Status.IN_CONSULTATION: frozenset({Status.COMPLETED}),
    Status.CANCELLED: frozenset(),
    Status.RESCHEDULED: frozenset(),
    Status.COMPLETED: frozenset(),
    Status.NO_SHOW: frozenset(),
    Status.EXPIRED: frozenset(),
}


class InvalidTransition(ValueError):
    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"{current} -> {target}")
        self.current = current
        self.target = target


class AppointmentInPast(ValueError):
    """Past appointments cannot be moved or cancelled."""


def transition(current: Status | str, target: Status) -> Status:
    current = Status(current)
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


def check_changeable(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise AppointmentInPast()


def is_late_cancellation(starts_at: datetime, now: datetime, cutoff: timedelta) -> bool:
    """Cancelling inside the cut-off is allowed, but marked late."""
    return starts_at - now < cutoff
