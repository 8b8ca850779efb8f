"""How times, fees and doctors are shown: in the viewer's zone and language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, get_currency_precision

from clinic.payments import STARS  # Telegram Stars: whole stars, no smaller unit
from clinic.timezones import zone
from handlers.i18n import Translator


def when(moment: datetime, zone_name: str, language: str) -> str:
    """'Mon, Dec 14, 2026, 10:30' in the viewer's zone (DST-correct via zoneinfo)."""
    local = moment.astimezone(zone(zone_name))
    return format_datetime(local, "EEE, MMM d, y, HH:mm", locale=language)


def day(moment: datetime, zone_name: str, language: str) -> str:
    return format_date(moment.astimezone(zone(zone_name)), "EEE, MMM d", locale=language)


def date_of(moment: datetime, zone_name: str, language: str) -> str:
    """'Dec 14, 2026': a date that may lie in another year."""
    return format_date(moment.astimezone(zone(zone_name)), "medium", locale=language)


def clock(moment: datetime, zone_name: str, language: str) -> str:
    return format_time(moment.astimezone(zone(zone_name)), "HH:mm", locale=language)


def precision_of(currency: str) -> int:
    return 0 if currency == STARS else int(get_currency_precision(currency))


def money(amount_minor: int, currency: str, language: str) -> str:
    if amount_minor == 0:
        return "0"
    if currency == STARS:
        return f"{format_decimal(amount_minor, locale=language)} ⭐"
    precision = precision_of(currency)
    return format_currency(Decimal(amount_minor).scaleb(-precision), currency, locale=language)


def fee_text(t: Translator, amount_minor: int, currency: str) -> str:
    """A doctor's fee as patients and admins read it: "free" rather than "0"."""
    return money(amount_minor, currency, t.language) if amount_minor else t("free")


def parse_money(text: str, currency: str) -> int | None:
    """'49.90' or '50' in the currency's smallest unit; None when it is not an amount."""
    cleaned = text.strip().replace(",", ".").replace(" ", "")
    try:
        value = Decimal(cleaned)
    except ArithmeticError:
        return None
    if not value.is_finite() or value < 0 or value > 100_000:
        return None
    minor = value.scaleb(precision_of(currency))
    if minor != minor.to_integral_value():
        return None
    return int(minor)
