"""PIN rules: what a PIN may be, when a session counts as unlocked, when an account locks out.

Pure: the caller passes the stored state and the time; nothing here hashes, reads or writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

MIN_DIGITS = 4
MAX_DIGITS = 8
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)

# ASCII digits only: str.isdigit() would also accept Arabic-Indic or superscript digits,
# which some keyboards would then never reproduce.
_PIN = re.compile(rf"[0-9]{{{MIN_DIGITS},{MAX_DIGITS}}}")


class PinProblem(StrEnum):
    NOT_DIGITS = "not_digits"
    TOO_SIMPLE = "too_simple"


def check_new_pin(text: str) -> PinProblem | None:
    """None when the text is an acceptable new PIN."""
    if not _PIN.fullmatch(text):
        return PinProblem.NOT_DIGITS
    if _too_simple(text):
        return PinProblem.TOO_SIMPLE
    return None


def looks_like_pin(text: str) -> bool:
    """Whether an entered text could be a PIN at all (anything else is not counted as a try)."""
    return bool(_PIN.fullmatch(text))


def _too_simple(pin: str) -> bool:
    # One repeated digit, or a straight run up or down (1234, 9876): the first guesses.
    if len(set(pin)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    return steps in ({1}, {9})


def session_open(active_at: datetime | None, now: datetime, idle: timedelta) -> bool:
    return active_at is not None and now - active_at < idle


def locked_out(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


@dataclass(frozen=True)
class FailureOutcome:
    failures: int  # the count to store
    locked_until: datetime | None  # set when this failure locks the account


def after_failure(failures: int, now: datetime) -> FailureOutcome:
    """The fifth wrong PIN in a row locks the account; the count starts again after it."""
    failures += 1
    if failures >= MAX_FAILURES:
        return FailureOutcome(0, now + LOCKOUT)
    return FailureOutcome(failures, None)


def tries_left(failures: int) -> int:
    return MAX_FAILURES - failures
