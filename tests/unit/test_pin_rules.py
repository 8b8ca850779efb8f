"""The pure PIN rules: what a PIN may be and when five failures lock the account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clinic import pin_rules
from clinic.pin_rules import PinProblem

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_pin_rules() -> None:
    assert pin_rules.check_new_pin("73915") is None
    assert pin_rules.check_new_pin("1111") is PinProblem.TOO_SIMPLE
    assert pin_rules.check_new_pin("1234") is PinProblem.TOO_SIMPLE
    assert pin_rules.check_new_pin("9876") is PinProblem.TOO_SIMPLE
    assert pin_rules.check_new_pin("8901") is PinProblem.TOO_SIMPLE  # wraps around
    for bad in ("123", "123456789", "12a4", "١٢٣٤٥", "12 34", "", "🔢🔢🔢🔢"):
        assert pin_rules.check_new_pin(bad) is PinProblem.NOT_DIGITS, bad
    outcome = pin_rules.after_failure(3, NOW)
    assert (outcome.failures, outcome.locked_until) == (4, None)
    outcome = pin_rules.after_failure(4, NOW)
    assert (outcome.failures, outcome.locked_until) == (0, NOW + timedelta(minutes=15))
