"""Entry point: `python bot.py --help` lists commands, flags and settings."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
