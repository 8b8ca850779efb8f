"""The port through which committed changes reach whatever plans time-driven work.

Handlers never import the scheduler (`jobs/` sits above them); after each commit the
dispatcher passes on which appointments and doctors changed, and the jobs layer re-plans
their reminders, no-show checks, feedback prompts and daily digests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class JobPlanner(Protocol):
    async def changed(self, appointment_ids: Iterable[int], doctor_ids: Iterable[int]) -> None: ...


class NoPlanning:
    """For processes (and tests) that run no scheduler."""

    async def changed(self, appointment_ids: Iterable[int], doctor_ids: Iterable[int]) -> None:
        return None
