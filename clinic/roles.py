"""Who a user is to the clinic."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    ADMIN = "admin"


# Bumped whenever the consent text changes; stored with each agreement.
CONSENT_VERSION = "2026-12-v1"
