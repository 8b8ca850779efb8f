"""`python bot.py sandbox`: the real bot, the Bot API emulator and a chat page, in one process.

For anyone without a Telegram token: the sandbox only drives the emulator as Telegram users
would (typing, tapping, sharing a contact), so every flow runs exactly as it does on Telegram.
"""

from .runner import SandboxOptions, run_sandbox

__all__ = ["SandboxOptions", "run_sandbox"]
