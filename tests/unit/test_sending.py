"""The shared sending path: limits, 429 retry_after, 403 unreachable, not-modified edits."""

from __future__ import annotations

import pytest

from handlers.port import MessageNotModified, RecipientUnavailable, RetryLater
from handlers.sending import (
    MAX_RETRY_AFTER_ATTEMPTS,
    Limits,
    RateLimiter,
    SendingPath,
    Undeliverable,
)
from tests.support.fake_messenger import FakeMessenger


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make(limits: Limits) -> tuple[SendingPath, FakeMessenger, FakeClock, list[int]]:
    clock = FakeClock()
    messenger = FakeMessenger()
    unreachable: list[int] = []

    async def mark(chat_id: int) -> None:
        unreachable.append(chat_id)

    limiter = RateLimiter(limits, clock=clock, sleep=clock.sleep)
    return SendingPath(messenger, limiter, mark, sleep=clock.sleep), messenger, clock, unreachable


async def test_one_chat_gets_a_burst_then_one_a_second() -> None:
    path, messenger, clock, _ = make(Limits(global_rate=30, per_chat_rate=1, per_chat_burst=3))
    for i in range(6):
        await path.send_text(1, f"m{i}")
    assert len(messenger.sent) == 6
    assert clock.now == pytest.approx(3.0)  # three free, then one a second


async def test_many_chats_stay_under_the_global_rate() -> None:
    path, messenger, clock, _ = make(Limits(global_rate=30, per_chat_rate=1, per_chat_burst=1))
    for chat in range(90):
        await path.send_text(chat, "news")
    # 30 in the first instant, 60 more at 30 a second.
    assert clock.now == pytest.approx(2.0)
    assert len(messenger.sent) == 90


async def test_retry_after_is_waited_out_then_sent() -> None:
    path, messenger, clock, _ = make(Limits(1000, 1000, 1000))
    messenger.failures = [RetryLater(7), RetryLater(3)]
    await path.send_text(5, "hello")
    assert [m.text for m in messenger.sent] == ["hello"]
    assert 7 in clock.sleeps and 3 in clock.sleeps


async def test_endless_429_gives_up_after_bounded_attempts() -> None:
    path, messenger, _, _ = make(Limits(1000, 1000, 1000))
    messenger.failures = [RetryLater(1)] * (MAX_RETRY_AFTER_ATTEMPTS + 5)
    with pytest.raises(Undeliverable):
        await path.send_text(5, "hello")
    assert messenger.calls == MAX_RETRY_AFTER_ATTEMPTS


async def test_blocked_user_is_reported_once_and_not_retried() -> None:
    path, messenger, _, unreachable = make(Limits(1000, 1000, 1000))
    messenger.failures = [RecipientUnavailable("Forbidden: bot was blocked by the user")]
    with pytest.raises(Undeliverable):
        await path.send_text(9, "reminder")
    assert unreachable == [9]
    assert messenger.calls == 1


async def test_editing_to_the_same_content_counts_as_success() -> None:
    path, messenger, _, _ = make(Limits(1000, 1000, 1000))
    sent = await path.send_text(3, "same")
    messenger.failures = [MessageNotModified("message is not modified")]
    await path.edit_text(3, sent.message_id, "same")
