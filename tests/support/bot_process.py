"""Runs `python bot.py` (or another Python child that logs a JSON `ready` line) as a separate
process, as a person would, and reads its log lines. Tests and benchmarks share it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOT_PY = ROOT / "bot.py"


def _settings() -> tuple[str, ...]:
    """Every setting the bot reads: none may leak in from the caller's own environment."""
    from bot.settings import Settings

    return tuple(name.upper() for name in Settings.model_fields)


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The test's environment without any bot setting it may have, plus `extra`."""
    settings = _settings()
    env = {k: v for k, v in os.environ.items() if k not in settings}
    env.update(extra)
    return env


async def run_to_exit(
    args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 60.0
) -> tuple[int, str, str]:
    """Run bot.py to completion: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT_PY),
        *args,
        env=clean_environment(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class BotProcess:
    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Path,
        args: list[str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        """`args` go to bot.py; `command` replaces `bot.py ...` with another Python child."""
        self.env = clean_environment(env)
        self.cwd = cwd
        self.args = args or []
        self.command = command or [str(BOT_PY), *self.args]
        self.lines: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, timeout: float = 60.0) -> None:
        self._ready = asyncio.Event()
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self._process))
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self._process.wait())
        await asyncio.wait({ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        exited.cancel()
        if not self._ready.is_set():
            await self.stop()
            raise AssertionError("bot did not become ready:\n" + "\n".join(self.lines[-30:]))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith("{"):
                try:
                    if json.loads(line).get("event") == "ready":
                        self._ready.set()
                except json.JSONDecodeError:
                    pass

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a service manager would; the bot finishes what it received."""
        process = self._process
        if process is None:
            return 0
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            await self._reader
        self._process = None
        assert process.returncode is not None
        return process.returncode

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has held since it started (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def log_text(self) -> str:
        return "\n".join(self.lines)
