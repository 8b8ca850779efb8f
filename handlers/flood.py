"""A per-user limit on incoming messages and taps, checked before any database work.

A user over the limit gets one polite reply per minute and their extra updates are not
handled, so a flood from one person costs almost nothing and never slows anybody else down.
The parts of one album count as one message. In memory, per process, like the user lanes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum

WINDOW_SECONDS = 60.0


class Verdict(Enum):
    HANDLE = "handle"
    REFUSE_AND_SAY = "refuse_and_say"  # the first refusal in a window: one polite reply
    REFUSE = "refuse"


class IncomingLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._arrivals: dict[int, deque[float]] = {}
        self._told_at: dict[int, float] = {}
        self._albums: dict[int, tuple[str, Verdict]] = {}
        self._checks = 0

    def check(self, user_id: int, media_group_id: str | None = None) -> Verdict:
        if self._per_minute <= 0:
            return Verdict.HANDLE
        now = self._clock()
        album = self._albums.get(user_id)
        if media_group_id is not None and album is not None and album[0] == media_group_id:
            # Later parts of an album share the first part's fate, counted once.
            return Verdict.HANDLE if album[1] is Verdict.HANDLE else Verdict.REFUSE
        arrivals = self._arrivals.setdefault(user_id, deque())
        while arrivals and arrivals[0] <= now - WINDOW_SECONDS:
            arrivals.popleft()
        if len(arrivals) < self._per_minute:
            arrivals.append(now)
            verdict = Verdict.HANDLE
        elif now - self._told_at.get(user_id, -WINDOW_SECONDS) >= WINDOW_SECONDS:
            self._told_at[user_id] = now
            verdict = Verdict.REFUSE_AND_SAY
        else:
            verdict = Verdict.REFUSE
        if media_group_id is not None:
            self._albums[user_id] = (media_group_id, verdict)
        self._checks += 1
        if self._checks % 1000 == 0:
            self._forget_quiet(now)
        return verdict

    def _forget_quiet(self, now: float) -> None:
        """Users with nothing in the window are dropped, so memory follows active users."""
        quiet = [u for u, a in self._arrivals.items() if not a or a[-1] <= now - WINDOW_SECONDS]
        for user_id in quiet:
            self._arrivals.pop(user_id, None)
            self._albums.pop(user_id, None)
            if now - self._told_at.get(user_id, now) >= WINDOW_SECONDS:
                self._told_at.pop(user_id, None)
