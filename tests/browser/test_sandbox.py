"""`python bot.py sandbox` in a real browser: register by clicking and typing, book and pay, be
the doctor; and, through the page's API without a browser, a restart with the same data folder.

The sandbox runs as a separate process, exactly as a person starts it; Playwright drives Debian's
chromium (no browser download). Each step leaves a screenshot in test-artifacts/sandbox/.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.render import entities_to_html
from tests.support.bot_process import BOT_PY, ROOT, clean_environment

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "sandbox"
START_TIMEOUT = 90.0  # the sandbox prints its address once the bot polls; migrations come first
STEP_TIMEOUT_MS = 20_000  # one bot reply, including the per-chat sending limit
MIRA_ID = 9_000_101  # the seeded cardiologist, 250 Stars (bot/sandbox/demo.py)

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt pins it
    sync_playwright = None  # type: ignore[assignment]

needs_browser = pytest.mark.skipif(
    sync_playwright is None or not CHROMIUM.exists(),
    reason=(
        "needs Playwright for Python (requirements-dev.txt) and Debian's chromium at "
        "/usr/bin/chromium (apt-get install chromium; .ci/run installs it when it can)"
    ),
)


# -- the sandbox as a process ---------------------------------------------------------------
@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    address: str
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@pytest.fixture(params=["ptb", "aiogram"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path, str(request.param), "--seed-demo") as started:
        yield started


@contextmanager
def running_sandbox(tmp_path: Path, framework: str, *flags: str) -> Iterator[Sandbox]:
    """`python bot.py sandbox` with its data in tmp_path/data, stopped (and checked to stop
    cleanly) on leaving."""
    log = tmp_path / "sandbox.log"
    with log.open("a") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                str(BOT_PY),
                "--framework",
                framework,
                "sandbox",
                *flags,
                "--port",
                str(free_port()),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            cwd=tmp_path,
            env=clean_environment({"SEND_BURST_PER_CHAT": "30"}),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    address = ""
    while not address:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            pytest.fail(f"the sandbox printed no address:\n{log.read_text()[-3000:]}")
        found = re.search(r"Sandbox: open (http://127\.0\.0\.1:\d+)", line)
        if found:
            address = found.group(1)
    try:
        yield Sandbox(process, address, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = -1
    assert code == 0, f"the sandbox did not stop cleanly ({code}):\n{log.read_text()[-3000:]}"


# -- page helpers -----------------------------------------------------------------------------
class Shots:
    """Numbered screenshots, one per step, named after the framework."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page = page
        self.prefix = prefix
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(self, step: str) -> None:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path))


def bot_says(page: Page, text: str) -> None:
    expect(page.locator("#messages .msg.bot .text", has_text=text).last).to_be_visible()


def tap(page: Page, label: str) -> None:
    """Tap the newest inline button with exactly this label."""
    page.locator("#messages .ib").filter(has_text=re.compile(f"^{re.escape(label)}$")).last.click()


def tap_first(page: Page, message_text: str, label: re.Pattern[str]) -> str:
    """Tap the first button matching ``label`` on the newest bot message showing message_text."""
    message = page.locator("#messages .msg.bot", has_text=message_text).last
    button = message.locator(".ib").filter(has_text=label).first
    text = button.inner_text()
    button.click()
    return text


def type_and_send(page: Page, text: str) -> None:
    page.locator("#text").fill(text)
    page.locator("#text").press("Enter")
    expect(page.locator("#messages .msg.user .text", has_text=text).last).to_be_visible()


# -- the test -----------------------------------------------------------------------------------
@needs_browser
@pytest.mark.timeout(300)
def test_register_book_and_the_doctor_is_told(
    sandbox: Sandbox, request: pytest.FixtureRequest
) -> None:
    framework = request.node.callspec.params["sandbox"]
    assert sync_playwright is not None
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 760, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            expect.set_options(timeout=STEP_TIMEOUT_MS)
            shots = Shots(page, framework)
            page.goto(sandbox.address)
            # The admin plus the seeded clinic: three doctors, two patients.
            expect(page.locator(".persona")).to_have_count(6)
            shots.take("personas")

            page.get_by_role("button", name="+ New user").click()
            page.locator("#new-user-name").fill("Nora")
            page.get_by_role("button", name="Create").click()
            expect(page.locator("#chat-subtitle")).to_contain_text("Nora")
            shots.take("new-user")

            type_and_send(page, "/start")
            bot_says(page, "not for emergencies")
            shots.take("consent")
            tap(page, "✅ I agree")
            bot_says(page, "full name")
            type_and_send(page, "Nora Lindqvist")
            bot_says(page, "date of birth")
            type_and_send(page, "17 May 1990")
            bot_says(page, "phone number")
            share = page.locator("#reply-kb .rk", has_text="📱 Share my phone number")
            expect(share).to_be_visible()
            shots.take("share-contact")
            share.click()
            bot_says(page, "time zone")
            tap(page, "Europe/Berlin")
            bot_says(page, "Please check your details")
            shots.take("confirm-details")
            tap(page, "✅ Confirm")
            bot_says(page, "You are registered, Nora Lindqvist")
            shots.take("registered")

            # The command menu is what setMyCommands gave this chat; a tap sends the command.
            page.locator("#menu-btn").click()
            book = page.locator("#commands .cmd", has_text="/book")
            expect(book).to_contain_text("Book a consultation")
            shots.take("command-menu")
            book.click()
            bot_says(page, "Which kind of doctor")
            tap(page, "Cardiology")
            bot_says(page, "Choose a doctor")
            page.locator("#messages .ib", has_text="Dr Mira Kaur").last.click()
            bot_says(page, "pick a day")
            shots.take("pick-a-day")
            tap_first(page, "pick a day", re.compile(r"^\d{1,2}$"))
            bot_says(page, "Free times on")
            shots.take("pick-a-time")
            time_label = tap_first(page, "Free times on", re.compile(r"^\d{1,2}:\d{2}"))
            bot_says(page, "reason for your visit")
            tap(page, "Skip")
            bot_says(page, "Please check your booking")
            shots.take("check-booking")
            tap(page, "✅ Book")
            # Dr Kaur's fee is 250 Telegram Stars (the sandbox's currency): the time is held
            # and an invoice comes; paying it books the time.
            bot_says(page, "The time is held for you")
            invoice = page.locator("#messages .msg.bot", has=page.locator(".invoice")).last
            expect(invoice.locator(".invoice-title")).to_have_text("Consultation with Dr Mira Kaur")
            expect(invoice.locator(".invoice-amount")).to_have_text("250 ⭐")
            pay = invoice.locator(".ib.pay")
            expect(pay).to_have_text("Pay 250 ⭐")
            shots.take("invoice")
            pay.click()
            bot_says(page, "Payment received: 250 ⭐")
            expect(pay).to_have_text("✓ Paid")
            expect(pay).to_be_disabled()
            bot_says(page, "Booked!")
            # The calendar file arrives as a document one can download from the page.
            expect(page.locator("#messages .msg.bot a.file").last).to_be_visible()
            shots.take("booked")

            page.locator(f'.persona[data-persona-id="{MIRA_ID}"]').click()
            expect(page.locator("#chat-subtitle")).to_contain_text("Dr Mira Kaur")
            bot_says(page, "New booking: Nora Lindqvist")
            expect(
                page.locator("#messages .msg.bot .text", has_text="New booking").last
            ).to_contain_text(time_label.strip())
            shots.take("doctor-notified")
        finally:
            browser.close()
    assert errors == [], f"the page raised: {errors}"


# -- rendering, no browser needed ---------------------------------------------------------------
def test_entities_become_only_allowed_tags_around_escaped_text() -> None:
    text = "Dr <Mira> & 👩‍⚕️ bold link"
    entities = [
        # UTF-16 offsets, as Telegram counts: the emoji sequence is 5 units long.
        {"type": "bold", "offset": 18, "length": 4},
        {"type": "text_link", "offset": 23, "length": 4, "url": "javascript:alert(1)"},
        {"type": "italic", "offset": 0, "length": 2},
    ]
    html = entities_to_html(text, entities)
    assert html.startswith("<i>Dr</i> &lt;Mira&gt; &amp; ")
    assert "javascript" not in html and "<a" not in html
    assert "<b>bold</b>" in html


def test_nested_and_overlapping_entities_stay_well_formed() -> None:
    html = entities_to_html(
        "abcdef",
        [
            {"type": "bold", "offset": 0, "length": 4},
            {"type": "italic", "offset": 2, "length": 4},
            {"type": "text_link", "offset": 0, "length": 6, "url": "https://example.org/?a=1&b=2"},
        ],
    )
    assert html == (
        '<a href="https://example.org/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">'
        "<b>ab<i>cd</i></b><i>ef</i></a>"
    )


# -- the page's API, no browser -----------------------------------------------------------------
def api(sandbox: Sandbox, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        sandbox.address + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=STEP_TIMEOUT_MS / 1000) as response:
        return json.loads(response.read())


def bot_reply(sandbox: Sandbox, chat: int, contains: str) -> None:
    """Wait until a bot message in the chat contains `contains` (polling the history)."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        history = api(sandbox, f"/api/chats/{chat}")
        if any(m["from_bot"] and contains in (m.get("html") or "") for m in history["messages"]):
            return
        time.sleep(0.1)  # polling a separate process's page: there is no event to wait on here
    pytest.fail(f"no bot reply containing {contains!r} in chat {chat}")


@pytest.mark.timeout(180)
def test_a_restart_with_the_same_folder_answers_at_once(tmp_path: Path) -> None:
    # The bot remembers the update ids it handled (to drop repeats); a restarted emulator must
    # number new updates after them, or the first ones after a restart would be dropped.
    with running_sandbox(tmp_path, "ptb") as first:
        rita = api(first, "/api/personas", {"name": "Rita"})["id"]
        for _ in range(3):
            api(first, f"/api/chats/{rita}/text", {"text": "/help"})
        bot_reply(first, rita, "/start")
    with running_sandbox(tmp_path, "ptb") as second:
        api(second, f"/api/chats/{rita}/text", {"text": "/start"})
        bot_reply(second, rita, "not for emergencies")
