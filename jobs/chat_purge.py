"""The daily purge of relayed chat logs (`CHAT_LOG_RETENTION_DAYS`, 0 keeps them forever).

Relayed messages of consultations closed longer ago than the retention are deleted, rows and
all, not merely emptied: besides the text or caption and the file ids, each row holds both
people's Telegram chat ids and message ids, which only served to map replies and edits while
the consultation was open. An emptied row would also show in /records as a message with
nothing in it. Summaries, notes and prescriptions are not chat and are not touched.

Runs once a day (03:30 UTC); the day is claimed in `job_runs` first, so a second firing (or a
second scheduler) does nothing. Deletes in batches, one transaction each, so a long backlog
never holds the database's write lock for long; SQLite's write-ahead log is truncated after.
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

from clinic.retention import chat_purge_cutoff
from jobs.runtime import current
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

JOB_ID = "chat-purge"
BATCH = 500
HOUR, MINUTE = 3, 30
GRACE = 20 * 3600  # missed while the bot was down: still run it the same day


def trigger() -> CronTrigger:
    return CronTrigger(hour=HOUR, minute=MINUTE, timezone=UTC)


def claim_key(day: str) -> str:
    return f"{JOB_ID}:{day}"


async def purge_chat_logs() -> int:
    """Delete expired chat logs; returns how many messages went (0 when already run today)."""
    runtime = current()
    now = runtime.clock()
    cutoff = chat_purge_cutoff(now, runtime.settings.core.chat_log_retention_days)
    key = claim_key(now.astimezone(UTC).date().isoformat())
    async with UnitOfWork(runtime.sessions) as uow:
        ids = [] if cutoff is None else list(await uow.privacy.expired_chat_ids(cutoff, BATCH))
        if not await uow.job_runs.claim(key, now, "sent" if ids else "skipped"):
            return 0  # done today already (fired twice, or by another scheduler)
        removed = await uow.privacy.delete_relayed(ids)
        await uow.commit()
    while cutoff is not None and len(ids) == BATCH:
        async with UnitOfWork(runtime.sessions) as uow:
            ids = list(await uow.privacy.expired_chat_ids(cutoff, BATCH))
            removed += await uow.privacy.delete_relayed(ids)
            await uow.commit()
    if removed:
        async with UnitOfWork(runtime.sessions) as uow:
            await uow.privacy.compact()
        log.info("chat logs purged", extra={"messages": removed})
    return removed
