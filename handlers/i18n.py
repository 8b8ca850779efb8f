"""The one translation function every user-facing text goes through (gettext catalogs).

English is the source language: msgids are the English sentences, so a language without a
catalog falls back to English. Parameters are HTML-escaped here, once, because every text is
sent with Telegram's HTML parse mode and parameters are where user text enters a message.
"""

from __future__ import annotations

import gettext
import html
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


class Html(str):
    """A parameter that is already HTML (made by us, not typed by a user): not escaped."""


def supported_languages() -> tuple[str, ...]:
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return (DEFAULT_LANGUAGE, *sorted(found - {DEFAULT_LANGUAGE}))


def language_for(code: str | None) -> str:
    """Telegram's language_code ('pt-br') mapped to a language we have, else English."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in supported_languages() else DEFAULT_LANGUAGE


class Translator:
    def __init__(self, language: str) -> None:
        self.language = language
        self._catalog = gettext.translation(
            DOMAIN, localedir=str(LOCALE_DIR), languages=[language], fallback=True
        )

    def __call__(self, message: str, **params: object) -> str:
        text = self._catalog.gettext(message)
        if not params:
            return text
        return text.format(**{k: _escaped(v) for k, v in params.items()})


def plain(text: str) -> str:
    """A translated text for somewhere that is not HTML (button labels, PDF, calendar files):
    undoes the escaping the translator applied to its parameters."""
    return html.unescape(text)


def _escaped(value: object) -> str:
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value), quote=False)


@cache
def translator(language: str) -> Translator:
    return Translator(language)
