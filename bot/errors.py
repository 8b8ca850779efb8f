"""Errors that stop start-up with one plain line instead of a traceback."""

from __future__ import annotations


class StartupError(Exception):
    """Start-up cannot go on; the message says what is wrong and how to fix it."""
