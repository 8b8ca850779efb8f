"""Pure profile and time zone rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from clinic.profile import (
    ProfileError,
    ProfileProblem,
    clean_full_name,
    contact_phone,
    parse_date_of_birth,
    parse_phone,
)
from clinic.timezones import UnknownTimezone, parse_timezone, zone

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    "text",
    [
        "1990-05-17",
        "17.05.1990",
        "17/05/1990",
        "17-05-1990",
        "17 May 1990",
        "May 17, 1990",
        "17 may 1990",
        " 17.5.1990 ",
    ],
)
def test_common_written_dates(text: str) -> None:
    assert parse_date_of_birth(text, TODAY) == date(1990, 5, 17)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2027-01-01", ProfileProblem.DATE_IN_FUTURE),
        ("04.12.2026", ProfileProblem.DATE_IN_FUTURE),
        ("02.12.1905", ProfileProblem.DATE_TOO_OLD),
        ("17 May", ProfileProblem.DATE_NO_YEAR),
        ("31.02.1990", ProfileProblem.DATE_UNREADABLE),
        ("🎂", ProfileProblem.DATE_UNREADABLE),
        ("1" * 500, ProfileProblem.DATE_UNREADABLE),
        ("", ProfileProblem.DATE_UNREADABLE),
    ],
)
def test_bad_dates(text: str, problem: ProfileProblem) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_date_of_birth(text, TODAY)
    assert caught.value.problem is problem


def test_exactly_120_years_is_allowed() -> None:
    assert parse_date_of_birth("03.12.1906", TODAY) == date(1906, 12, 3)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("  Anna   Schmidt ", "Anna Schmidt"),
        ("राहुल शर्मा", "राहुल शर्मा"),
        ("Ólafur Þór", "Ólafur Þór"),
        ("Мария Иванова", "Мария Иванова"),
        ("O'Neil-Smith Jr.", "O'Neil-Smith Jr."),
    ],
)
def test_names_in_many_scripts(text: str, clean: str) -> None:
    assert clean_full_name(text) == clean


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", ProfileProblem.NAME_EMPTY),
        ("   ", ProfileProblem.NAME_EMPTY),
        ("a" * 101, ProfileProblem.NAME_TOO_LONG),
        ("Anna 👩‍⚕️", ProfileProblem.NAME_CHARACTERS),
        ("R2D2", ProfileProblem.NAME_CHARACTERS),
        ("<script>", ProfileProblem.NAME_CHARACTERS),
        ("- '", ProfileProblem.NAME_NO_LETTERS),
    ],
)
def test_bad_names(text: str, problem: ProfileProblem) -> None:
    with pytest.raises(ProfileError) as caught:
        clean_full_name(text)
    assert caught.value.problem is problem


def test_phones() -> None:
    assert parse_phone("+49 151 1234 5678") == "+4915112345678"
    assert parse_phone("0049 151 12345678") == "+4915112345678"
    assert contact_phone("4915112345678") == "+4915112345678"
    for text, problem in [
        ("0151 1234 5678", ProfileProblem.PHONE_NOT_INTERNATIONAL),
        ("+1 555", ProfileProblem.PHONE_INVALID),
        ("call me", ProfileProblem.PHONE_NOT_INTERNATIONAL),
        ("+" + "9" * 40, ProfileProblem.PHONE_UNREADABLE),
    ]:
        with pytest.raises(ProfileError) as caught:
            parse_phone(text)
        assert caught.value.problem is problem


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("europe/berlin", "Europe/Berlin"),
        ("America/New York", "America/New_York"),
        ("UTC+5:30", "UTC+05:30"),
        ("+0530", "UTC+05:30"),
        ("GMT-3", "UTC-03:00"),
        ("utc", "UTC"),
        ("UTC+0", "UTC"),
        ("UTC−04:00", "UTC-04:00"),
    ],
)
def test_time_zones(text: str, name: str) -> None:
    assert parse_timezone(text) == name


@pytest.mark.parametrize(
    "text", ["Mars/Olympus", "UTC+15", "UTC+5:75", "", "x" * 100, "10", "50", "14", "5", "a3"]
)
def test_unknown_time_zones(text: str) -> None:
    with pytest.raises(UnknownTimezone):
        parse_timezone(text)


def test_zone_offsets_are_dst_correct() -> None:
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    winter = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert summer.astimezone(zone("Europe/Berlin")).hour == 14
    assert winter.astimezone(zone("Europe/Berlin")).hour == 13
    assert summer.astimezone(zone("UTC+05:30")).strftime("%H:%M") == "17:30"


def test_a_specialty_name_is_letters_with_the_punctuation_real_names_use() -> None:
    from handlers.specialty_admin import clean_specialty_name

    assert clean_specialty_name(" Hals-Nasen-Ohren ") == "Hals-Nasen-Ohren"
    assert clean_specialty_name("नेत्र विज्ञान") == "नेत्र विज्ञान"  # vowel signs are marks
    for good in ["Obstetrics & Gynaecology", "Ear, Nose and Throat (ENT)", "Allergy/Immunology"]:
        assert clean_specialty_name(good) == good
    for bad in ["Cardio 2", "<b>Sleep</b>", "Sleep 😴", "-", "(&)", "x" * 65, ""]:
        with pytest.raises(ProfileError):
            clean_specialty_name(bad)
    assert clean_full_name("Dr. O'Brien") == "Dr. O'Brien"  # a person's name allows more
