"""Retention rules (what /delete_me keeps) and the chat-log age: parsing, and start-up refusing
a bad value with one line that names the setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.settings import SettingsError, load_settings
from clinic.retention import (
    DEFAULT_KEEP,
    RetentionRules,
    chat_purge_cutoff,
    parse_retention,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("RETENTION_KEEP", "CHAT_LOG_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env


def test_retention_items_are_read_in_a_fixed_order_whatever_the_spelling() -> None:
    assert parse_retention(" Prescriptions ,appointments,, ") == ("appointments", "prescriptions")
    assert parse_retention("payments,payments") == ("payments",)
    assert parse_retention("") == ()
    assert parse_retention("none") == ()
    for bad in ("chat", "prescriptions,names", "none,payments", "appointment"):
        with pytest.raises(ValueError, match="allowed: appointments"):
            parse_retention(bad)


def test_kept_records_keep_their_appointment_row_as_an_anchor() -> None:
    everything = RetentionRules(frozenset(DEFAULT_KEEP))
    assert everything.consultations and everything.appointment_kept(False, False)
    only_rx = RetentionRules(frozenset({"prescriptions"}))
    assert only_rx.consultations and not only_rx.summaries
    assert only_rx.appointment_kept(has_kept_consultation=True, has_payment=False)
    assert not only_rx.appointment_kept(has_kept_consultation=False, has_payment=True)
    nothing = RetentionRules(frozenset())
    assert not nothing.consultations and not nothing.appointment_kept(True, True)


def test_chat_purge_cutoff_and_zero_keeps_forever() -> None:
    now = datetime(2026, 12, 3, 3, 30, tzinfo=UTC)
    assert chat_purge_cutoff(now, 365) == now - timedelta(days=365)
    assert chat_purge_cutoff(now, 0) is None


def test_settings_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.retention_keep == DEFAULT_KEEP
    assert settings.chat_log_retention_days == 365
    monkeypatch.setenv("RETENTION_KEEP", "prescriptions, consultation_summaries")
    monkeypatch.setenv("CHAT_LOG_RETENTION_DAYS", "0")
    settings = load_settings()
    assert settings.retention_keep == ("consultation_summaries", "prescriptions")
    assert settings.chat_log_retention_days == 0
    monkeypatch.setenv("RETENTION_KEEP", "none")
    assert load_settings().retention_keep == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RETENTION_KEEP", "prescriptions,chat_logs"),
        ("RETENTION_KEEP", "everything"),
        ("CHAT_LOG_RETENTION_DAYS", "-1"),
        ("CHAT_LOG_RETENTION_DAYS", "a year"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"{name} is invalid") and "\n" not in message
    assert "Set it to" in message
