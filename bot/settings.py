"""Typed settings read from the environment and an optional `.env` file.

Nothing here runs at import time: the composition root calls `load_settings()` once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clinic.retention import DEFAULT_KEEP, parse_retention

TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{10,}$")

# One line of "how to fix it" per setting, shown when that setting is missing or malformed.
SETTING_HELP: dict[str, str] = {
    "BOT_TOKEN": "the token @BotFather gave you, e.g. BOT_TOKEN=123456:ABC-DEF...",
    "DATABASE_URL": "a SQLAlchemy URL, e.g. sqlite:///clinic.db or postgresql://user@host/db",
    "ADMIN_IDS": "comma-separated numeric Telegram user ids, e.g. ADMIN_IDS=12345,67890",
    "ENCRYPTION_KEYS": "comma-separated Fernet keys, newest first; make one with "
    "`python bot.py generate-key`",
    "TELEGRAM_API_BASE_URL": "the Bot API root, e.g. https://api.telegram.org",
    "DEFAULT_TIMEZONE": "an IANA time zone name, e.g. Europe/Berlin or UTC",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "PAYMENT_CURRENCY": "an ISO 4217 code for doctors' fees, e.g. EUR (default), or XTR for "
    "Telegram Stars",
    "PAYMENT_PROVIDER_TOKEN": "the payment provider token @BotFather gave you (Payments), for "
    "card payments; leave it empty with PAYMENT_CURRENCY=XTR (Stars need none)",
    "HOLD_MINUTES": "minutes a paid time is held for the patient to pay, 1 to 1440 (default 15)",
    "REFUND_FULL_BEFORE_HOURS": "hours before the start up to which a patient's cancellation is "
    "refunded in full (default 24)",
    "LATE_CANCEL_REFUND_PERCENT": "percent refunded for a later cancellation by the patient, "
    "0 to 100 (default 0)",
    "VIDEO_ROOM_BASE_URL": "the video service rooms are made on (default https://meet.jit.si)",
    "CANCEL_CUTOFF_MINUTES": "minutes before the start after which a cancellation is late "
    "(default 60)",
    "CLINIC_NAME": "the clinic's name printed on prescriptions, up to 100 characters "
    "(default Telemedicine Clinic)",
    "RUN_SCHEDULER": "true in exactly one process (it sends reminders and prompts), false in "
    "every other worker (default true)",
    "REMINDER_OFFSETS_MINUTES": "comma-separated minutes before the start to remind the "
    "patient, e.g. 1440,60 (default)",
    "NO_SHOW_AFTER_MINUTES": "minutes after the start an unopened consultation counts as a "
    "no-show (default 15)",
    "FEEDBACK_AFTER_MINUTES": "minutes after a consultation ends to ask for a rating (default 30)",
    "CONVERSATION_IDLE_MINUTES": "minutes a half-finished flow may sit idle before it is "
    "discarded, at least 2 (default 10; a warning comes one minute earlier)",
    "RETENTION_KEEP": "what /delete_me keeps, detached from the patient's name, because the "
    "law says medical and accounting records must stay: comma-separated from appointments "
    "(time, doctor, status; never the reason), consultation_summaries, prescriptions, "
    "payments, or none; anything not listed is erased "
    "(default appointments,consultation_summaries,prescriptions,payments)",
    "CHAT_LOG_RETENTION_DAYS": "days after a consultation closes that its relayed chat is kept "
    "before a daily job deletes it; 0 keeps chats forever (default 365)",
    "SESSION_IDLE_MINUTES": "minutes without activity after which an unlocked PIN session "
    "locks again, at least 2 (default 10; a warning comes one minute earlier)",
    "INCOMING_PER_MINUTE": "messages and taps one user may send per minute before the bot "
    "asks them to slow down; 0 turns the limit off (default 20)",
    "SEND_RATE_GLOBAL": "messages per second the bot sends in all, above 0 (default 30, "
    "Telegram's limit)",
    "SEND_RATE_PER_CHAT": "messages per second the bot sends to one chat, above 0 (default 1)",
    "SEND_BURST_PER_CHAT": "messages one chat may get at once before the per-chat rate "
    "applies, at least 1 (default 3)",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line a person can act on."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str = "sqlite:///clinic.db"
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    encryption_keys: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    default_timezone: str = "UTC"
    log_level: str = "INFO"
    payment_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Payments are on with currency XTR (Telegram Stars) or with a provider token (cards);
    # without either, paid doctors are booked with no payment step (clinic/payments.py).
    payment_provider_token: SecretStr | None = None
    hold_minutes: int = Field(default=15, ge=1, le=1440)
    refund_full_before_hours: int = Field(default=24, ge=0)
    late_cancel_refund_percent: int = Field(default=0, ge=0, le=100)
    cancel_cutoff_minutes: int = Field(default=60, ge=0)
    video_room_base_url: str = Field(default="https://meet.jit.si", pattern=r"^https?://\S+$")
    clinic_name: str = Field(
        default="Telemedicine Clinic", min_length=1, max_length=100, pattern=r"\S"
    )
    # Sending limits (Telegram's published guidance); exposed so benchmarks can lift them.
    send_rate_global: float = Field(default=30.0, gt=0)
    send_rate_per_chat: float = Field(default=1.0, gt=0)
    send_burst_per_chat: int = Field(default=3, ge=1)
    # Scheduled jobs. Exactly one process may run the scheduler: two sharing one job store
    # would each run every job (the job_runs claims still keep each message to one send).
    run_scheduler: bool = True
    reminder_offsets_minutes: Annotated[tuple[int, ...], NoDecode] = (1440, 60)
    no_show_after_minutes: int = Field(default=15, ge=1)
    feedback_after_minutes: int = Field(default=30, ge=0)
    conversation_idle_minutes: int = Field(default=10, ge=2)
    # Privacy: what /delete_me keeps (anonymised) and how long relayed chat logs live.
    retention_keep: Annotated[tuple[str, ...], NoDecode] = DEFAULT_KEEP
    chat_log_retention_days: int = Field(default=365, ge=0, le=36500)
    # Security: PIN sessions lock when idle; a flood from one user must not slow the others.
    session_idle_minutes: int = Field(default=10, ge=2)
    incoming_per_minute: int = Field(default=20, ge=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not all(re.fullmatch(r"-?\d+", p) for p in parts):
                raise ValueError("not a list of numbers")
            return tuple(int(p) for p in parts)
        return value

    @field_validator("reminder_offsets_minutes", mode="before")
    @classmethod
    def _split_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not all(re.fullmatch(r"\d{1,5}", p) and int(p) > 0 for p in parts):
                raise ValueError("not a list of positive minutes")
            return tuple(sorted({int(p) for p in parts}, reverse=True))
        return value

    @field_validator("retention_keep", mode="before")
    @classmethod
    def _split_retention(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_retention(value)
        return value

    @field_validator("payment_provider_token")
    @classmethod
    def _check_provider_token(cls, value: SecretStr | None, info: ValidationInfo) -> object:
        token = value.get_secret_value().strip() if value else ""
        if token and info.data.get("payment_currency") == "XTR":
            raise ValueError("must be empty when PAYMENT_CURRENCY is XTR")
        return SecretStr(token) if token else None

    def provider_token(self) -> str:
        return self.payment_provider_token.get_secret_value() if self.payment_provider_token else ""

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("not an http(s) URL")
        return value.rstrip("/")

    @field_validator("default_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("unknown log level")
        return upper

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("only sqlite:// and postgresql:// URLs are supported")
        return value

    def require_token(self) -> str:
        token = self.bot_token.get_secret_value().strip() if self.bot_token else ""
        if not token:
            raise SettingsError(
                f"BOT_TOKEN is not set. Set it to {SETTING_HELP['BOT_TOKEN']} "
                "(in the environment or a .env file), or try the bot without Telegram: "
                "`python bot.py sandbox --seed-demo`."
            )
        if not TOKEN_PATTERN.match(token):
            raise SettingsError(
                f"BOT_TOKEN does not look like a bot token. Set it to {SETTING_HELP['BOT_TOKEN']}."
            )
        return token

    def key_list(self) -> list[str]:
        raw = self.encryption_keys.get_secret_value() if self.encryption_keys else ""
        return [k.strip() for k in raw.split(",") if k.strip()]

    def sqlite_path(self) -> Path | None:
        """The database file for a SQLite URL (None for in-memory or other databases)."""
        match = re.match(r"^sqlite(\+\w+)?:///(.+)$", self.database_url)
        if not match or match.group(2) == ":memory:":
            return None
        return Path(match.group(2).split("?", 1)[0])


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one plain line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]).upper() if error["loc"] else "a setting"
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        fix = SETTING_HELP.get(field)
        advice = f"Set it to {fix}." if fix else "See `python bot.py --help`."
        raise SettingsError(f"{field} is invalid ({reason}). {advice}") from None
