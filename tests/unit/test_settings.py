"""Settings: every malformed value is one plain line naming the setting and the fix."""

from __future__ import annotations

import pytest

from bot.settings import SETTING_HELP, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "BOT_TOKEN",
        "DATABASE_URL",
        "ADMIN_IDS",
        "ENCRYPTION_KEYS",
        "TELEGRAM_API_BASE_URL",
        "DEFAULT_TIMEZONE",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///clinic.db"
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert settings.admin_ids == ()


def test_values_from_the_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "12, 34")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/")
    with open(".env", "w") as env:
        env.write("DEFAULT_TIMEZONE=Asia/Kolkata\nBOT_TOKEN=123456:ABCDEFGHIJKLmnop\n")
    settings = load_settings()
    assert settings.admin_ids == (12, 34)
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081"
    assert settings.default_timezone == "Asia/Kolkata"
    assert settings.require_token() == "123456:ABCDEFGHIJKLmnop"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_IDS", "alice"),
        ("DEFAULT_TIMEZONE", "Mars/Base"),
        ("LOG_LEVEL", "LOUD"),
        ("DATABASE_URL", "mysql://x"),
        ("TELEGRAM_API_BASE_URL", "ftp://x"),
        ("SEND_RATE_GLOBAL", "0"),
        ("SEND_BURST_PER_CHAT", "many"),
    ],
)
def test_malformed_settings_name_themselves(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(name) and "\n" not in message
    assert "Set it to " in message and "Set it to see" not in message


def test_every_setting_has_a_line_of_help() -> None:
    """`python bot.py --help` lists SETTING_HELP: every setting the code reads is in it."""
    assert set(SETTING_HELP) == {name.upper() for name in Settings.model_fields}


def test_missing_or_malformed_token() -> None:
    with pytest.raises(SettingsError, match="BOT_TOKEN is not set"):
        load_settings().require_token()
    with pytest.raises(SettingsError, match="does not look like a bot token"):
        load_settings(bot_token="hello").require_token()
