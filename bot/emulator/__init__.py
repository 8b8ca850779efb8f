"""In-process Telegram Bot API emulator for end-to-end tests of the bot.

Only aiohttp + stdlib: the bot under test (python-telegram-bot or aiogram) talks to it over
real HTTP, while tests script users through :class:`SimulatedUser`.
"""

from .errors import ApiError
from .server import BotApiEmulator
from .state import ApiCall, StoredMessage
from .users import SimulatedUser, Tap

__all__ = ["ApiCall", "ApiError", "BotApiEmulator", "SimulatedUser", "StoredMessage", "Tap"]
