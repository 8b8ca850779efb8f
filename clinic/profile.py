"""Rules for the patient profile: names, dates of birth, phone numbers. Pure, no I/O.

Each check returns the clean value or raises `ProfileError` with a reason code; the
handlers turn codes into translated sentences.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum

import phonenumbers
from dateutil import parser as date_parser

NAME_MAX_LENGTH = 100
MAX_AGE_YEARS = 120
# Letters and combining marks (Devanagari vowel signs are marks), plus the joiners real names use.
NAME_PUNCTUATION = frozenset({" ", "-", "'", "’", ".", "\u200c", "\u200d"})


class ProfileProblem(StrEnum):
    NAME_EMPTY = "name_empty"
    NAME_TOO_LONG = "name_too_long"
    NAME_CHARACTERS = "name_characters"
    NAME_NO_LETTERS = "name_no_letters"
    DATE_UNREADABLE = "date_unreadable"
    DATE_NO_YEAR = "date_no_year"
    DATE_IN_FUTURE = "date_in_future"
    DATE_TOO_OLD = "date_too_old"
    PHONE_UNREADABLE = "phone_unreadable"
    PHONE_NOT_INTERNATIONAL = "phone_not_international"
    PHONE_INVALID = "phone_invalid"


class ProfileError(ValueError):
    def __init__(self, problem: ProfileProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def tidy_name(text: str) -> str:
    """One NFC form, single spaces, no spaces at the ends."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def clean_name(
    text: str, max_length: int = NAME_MAX_LENGTH, punctuation: frozenset[str] = NAME_PUNCTUATION
) -> str:
    """A name of letters in any script (with their combining marks) and `punctuation`, at least
    one letter, at most `max_length` characters: a person's name, a specialty's."""
    name = tidy_name(text)
    if not name:
        raise ProfileError(ProfileProblem.NAME_EMPTY)
    if len(name) > max_length:
        raise ProfileError(ProfileProblem.NAME_TOO_LONG)
    for char in name:
        if not (unicodedata.category(char)[0] in "LM" or char in punctuation):
            raise ProfileError(ProfileProblem.NAME_CHARACTERS)
    if not any(unicodedata.category(c).startswith("L") for c in name):
        raise ProfileError(ProfileProblem.NAME_NO_LETTERS)
    return name


def clean_full_name(text: str) -> str:
    return clean_name(text)


def parse_date_of_birth(text: str, today: date) -> date:
    """Accept the common written forms; day before month where the order is ambiguous."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > 40 or not any(c.isdigit() for c in cleaned):
        raise ProfileError(ProfileProblem.DATE_UNREADABLE)
    if not re.search(r"(?<!\d)\d{4}(?!\d)", cleaned):
        # dateutil would fill a missing year with this year's; a birth date needs one.
        raise ProfileError(ProfileProblem.DATE_NO_YEAR)
    iso_first = re.match(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$", cleaned) is not None
    try:
        parsed = date_parser.parse(
            cleaned, dayfirst=not iso_first, yearfirst=iso_first, fuzzy=False
        ).date()
    except (ValueError, OverflowError):
        raise ProfileError(ProfileProblem.DATE_UNREADABLE) from None
    if parsed > today:
        raise ProfileError(ProfileProblem.DATE_IN_FUTURE)
    if age_on(parsed, today) > MAX_AGE_YEARS:
        raise ProfileError(ProfileProblem.DATE_TOO_OLD)
    return parsed


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def parse_phone(text: str) -> str:
    """A typed number in international form, returned as E.164."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 32:
        raise ProfileError(ProfileProblem.PHONE_UNREADABLE)
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned.startswith("+"):
        raise ProfileError(ProfileProblem.PHONE_NOT_INTERNATIONAL)
    return _to_e164(cleaned)


def phone_for_lookup(text: str) -> str:
    """A number someone types to find a patient: as registration reads it, and also digits
    without the plus sign (as Telegram shows contacts). Raises the registration's problem."""
    try:
        return parse_phone(text)
    except ProfileError as exc:
        if exc.problem is not ProfileProblem.PHONE_NOT_INTERNATIONAL:
            raise
        try:
            return contact_phone(text)
        except ProfileError:
            raise exc from None


def contact_phone(phone_number: str) -> str:
    """A phone from a shared Telegram contact (Telegram often omits the plus sign)."""
    digits = phone_number.strip()
    return _to_e164(digits if digits.startswith("+") else "+" + digits)


def _to_e164(text: str) -> str:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ProfileError(ProfileProblem.PHONE_UNREADABLE) from None
    if not phonenumbers.is_valid_number(number):
        raise ProfileError(ProfileProblem.PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
