"""The benchmark scripts still run against the current bot (tiny sizes; figures not judged).

They drive the real bot from outside, so a change to what the bot accepts (signed buttons, the
incoming limit) can break them silently: this runs each once, small, and reads its report.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.support.bot_process import ROOT

pytestmark = pytest.mark.e2e


async def run_bench(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    text = out.decode()
    assert process.returncode == 0, text
    assert "Traceback" not in text, text
    return text


async def test_throughput_bench_walks_every_user_through() -> None:
    out = await run_bench(
        "bench.throughput", "--frameworks", "ptb", "--users", "2", "--seconds-limit", "120"
    )
    assert "bot/echo throughput:" in out
    assert "failed" not in out and "failure:" not in out, out


async def test_booking_contention_bench_books_each_slot_once() -> None:
    out = await run_bench("bench.booking_contention", "--patients", "6", "--seconds-limit", "120")
    figures = dict(
        (label.strip(), value.split()[0])
        for label, value in (line.split(":", 1) for line in out.splitlines() if ":" in line)
    )
    assert figures["double bookings"] == "0", out
    counts = ("bookings made (rows)", "'Booked' replies", "'just taken' replies")
    made, booked, taken = (int(figures[name]) for name in counts)
    assert 1 <= made == booked <= 4 and booked + taken == 6, out


async def test_reminders_bench_loses_and_repeats_nothing() -> None:
    out = await run_bench(
        "bench.reminders", "--count", "40", "--limited-count", "5", "--seconds-limit", "120"
    )
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 2, out
    for cells in rows:
        reminders, _firings, messages, _s, _rate, lost, duplicates, _unreachable = (
            c.strip() for c in cells[1:]
        )
        assert messages == reminders and lost == "0" and duplicates == "0", out
