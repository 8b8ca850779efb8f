"""Who is acting as a doctor: always checked against the database, never taken from a button."""

from __future__ import annotations

from clinic.roles import Role
from handlers.turn import Turn
from storage.models import Doctor


async def acting_doctor(turn: Turn) -> Doctor | None:
    """The doctor profile of the sender, or None when the sender is not a registered doctor."""
    user = turn.user
    if user is None or user.role != Role.DOCTOR.value or user.registered_at is None:
        return None
    return await turn.uow.doctors.by_user(user.id)
