"""What a patient's erasure keeps, and how long relayed chat logs live (pure rules, no I/O).

`RETENTION_KEEP` names what the clinic must keep after `/delete_me`, detached from any name;
anything not named is erased. Kept appointment rows never keep the reason for the visit.
A kept consultation summary, prescription or payment needs its appointment row as an anchor
(time, doctor, status), so that row stays even when "appointments" is not named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

APPOINTMENTS = "appointments"
CONSULTATION_SUMMARIES = "consultation_summaries"
PRESCRIPTIONS = "prescriptions"
PAYMENTS = "payments"
ITEMS = (APPOINTMENTS, CONSULTATION_SUMMARIES, PRESCRIPTIONS, PAYMENTS)
DEFAULT_KEEP = (APPOINTMENTS, CONSULTATION_SUMMARIES, PRESCRIPTIONS, PAYMENTS)
NOTHING = "none"


def parse_retention(text: str) -> tuple[str, ...]:
    """'prescriptions, appointments' -> ('appointments', 'prescriptions'); '' or 'none' keeps
    nothing. An unknown name raises ValueError (start-up stops, saying what is allowed)."""
    parts = [p.strip().lower() for p in text.split(",") if p.strip()]
    if parts == [NOTHING]:
        return ()
    unknown = [p for p in parts if p not in ITEMS]
    if unknown:
        raise ValueError(f"unknown item {unknown[0]!r}; allowed: {', '.join(ITEMS)} or none")
    return tuple(item for item in ITEMS if item in parts)


@dataclass(frozen=True)
class RetentionRules:
    keep: frozenset[str]

    @property
    def summaries(self) -> bool:
        return CONSULTATION_SUMMARIES in self.keep

    @property
    def prescriptions(self) -> bool:
        return PRESCRIPTIONS in self.keep

    @property
    def payments(self) -> bool:
        return PAYMENTS in self.keep

    @property
    def consultations(self) -> bool:
        """A consultation row stays when its summary or its prescriptions are kept."""
        return self.summaries or self.prescriptions

    def appointment_kept(self, has_kept_consultation: bool, has_payment: bool) -> bool:
        """An appointment row stays when appointments are kept, or as the anchor of a kept
        consultation or payment."""
        return (
            APPOINTMENTS in self.keep
            or (has_kept_consultation and self.consultations)
            or (has_payment and self.payments)
        )


def chat_purge_cutoff(now: datetime, retention_days: int) -> datetime | None:
    """Chats of consultations closed before this moment are purged; None keeps them forever."""
    if retention_days <= 0:
        return None
    return now - timedelta(days=retention_days)


def chat_past_retention(closed_at: datetime | None, now: datetime, retention_days: int) -> bool:
    """Whether a consultation's chat is past its keeping time (the daily purge deletes it)."""
    cutoff = chat_purge_cutoff(now, retention_days)
    return cutoff is not None and closed_at is not None and closed_at < cutoff
