"""Child processes for the benchmark: start, wait for the `ready` log line, measure, stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bot settings that may be set in the benchmark's own environment and must not leak in.
BOT_SETTINGS = (
    "BOT_TOKEN",
    "DATABASE_URL",
    "ADMIN_IDS",
    "ENCRYPTION_KEYS",
    "TELEGRAM_API_BASE_URL",
    "DEFAULT_TIMEZONE",
    "LOG_LEVEL",
    "SEND_RATE_GLOBAL",
    "SEND_RATE_PER_CHAT",
    "SEND_BURST_PER_CHAT",
)


class Child:
    """A Python child process that announces readiness with a JSON `ready` line on stderr."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self.args = args
        self.env = {k: v for k, v in os.environ.items() if k not in BOT_SETTINGS} | dict(env)
        self.cwd = cwd
        self.lines: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self, ready_within: float = 60.0) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.args,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        try:
            async with asyncio.timeout(ready_within):
                await self._ready.wait()
        except TimeoutError:
            await self.stop()
            raise RuntimeError(
                "child did not become ready:\n" + "\n".join(self.lines[-20:])
            ) from None

    async def _read(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        async for raw in self._process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith("{"):
                try:
                    if json.loads(line).get("event") == "ready":
                        self._ready.set()
                except json.JSONDecodeError:
                    pass

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has held since it started."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self, exit_within: float = 30.0) -> int:
        process = self._process
        if process is None:
            return 0
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), exit_within)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            await self._reader
        self._process = None
        return process.returncode or 0
