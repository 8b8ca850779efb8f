"""When a consultation may be opened, and how a visit is referred to. Pure, no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

EARLY_OPENING = timedelta(minutes=10)
LATE_OPENING = timedelta(minutes=30)


class OutsideWindow(ValueError):
    def __init__(self, too_early: bool) -> None:
        super().__init__("too early" if too_early else "too late")
        self.too_early = too_early


def check_opening_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """The doctor may open the visit up to 10 minutes early and until it would have ended
    (plus a short grace for a doctor running late)."""
    if now < starts_at - EARLY_OPENING:
        raise OutsideWindow(too_early=True)
    if now > max(ends_at, starts_at + LATE_OPENING):
        raise OutsideWindow(too_early=False)


def reference_for(appointment_id: int, starts_at: datetime) -> str:
    """A short reference a patient can quote: date and appointment number."""
    return f"C{starts_at:%Y%m%d}-{appointment_id:06d}"
