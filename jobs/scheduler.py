"""The scheduler: APScheduler 3 on the bot's event loop, jobs kept in the project's database.

- Job store: APScheduler's `SQLAlchemyJobStore` in the same database as everything else
  (table `apscheduler_jobs`, owned by APScheduler and left out of the migrations). It needs a
  synchronous driver: `sqlite:///path` for SQLite, `postgresql+psycopg://` for PostgreSQL.
- Time: the scheduler runs in UTC and every trigger names its zone; nothing reads the host's.
- Misfires: APScheduler's default grace of one second would silently drop every job that
  came due while the bot was down. Jobs get a deliberate grace instead (`MISFIRE_GRACE`, and
  per kind in `jobs.planner`) and are coalesced; each job function decides for itself whether
  late work still helps, and an `EVENT_JOB_MISSED` listener records what was missed in
  `job_runs`, so nothing is dropped in silence.
- The synchronous job store must not block the event loop: on SQLite a write waiting for the
  file's lock, held by one of the bot's own async transactions, would wait for a loop it is
  blocking. So the scheduler's job-store work (`_process_jobs`) runs on one worker thread, due
  jobs are handed back to the loop thread-safely, and the planner calls the scheduler from a
  thread too (`asyncio.to_thread`).
- Exactly one process may run the scheduler (the `RUN_SCHEDULER` setting). Every process
  starts it paused, so its planner can write jobs to the store; only that one resumes it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from sqlalchemy import create_engine

log = logging.getLogger(__name__)

MISFIRE_GRACE = 6 * 3600  # seconds; deliberate (see above), never APScheduler's 1 s
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE, "max_instances": 1}
SQLITE_BUSY_TIMEOUT_S = 15


def sync_url(database_url: str) -> str:
    """The project's URL with a synchronous driver, for APScheduler's job store."""
    url = re.sub(r"^sqlite\+\w+://", "sqlite://", database_url)
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)
    return url


class LoopExecutor(AsyncIOExecutor):
    """Hands due jobs to the event loop from the job-store thread (create_task is not
    thread-safe; call_soon_threadsafe is)."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        submit = super()._do_submit_job
        self._eventloop.call_soon_threadsafe(submit, job, run_times)


class ClinicScheduler(AsyncIOScheduler):
    """AsyncIOScheduler whose job-store work runs on one worker thread (see module doc)."""

    def __init__(self, **options: Any) -> None:
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="jobstore")
        self._processing: Future[float | None] | None = None
        self._again = False
        super().__init__(**options)

    def wakeup(self) -> None:
        loop = self._eventloop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_in_loop)

    def _wake_in_loop(self) -> None:
        self._stop_timer()
        if self.state == STATE_STOPPED:
            return
        if self._processing is not None:
            self._again = True  # one more round once this one ends
            return
        self._processing = self._store_thread.submit(self._process_jobs)
        self._processing.add_done_callback(self._processed)

    def _processed(self, future: Future[float | None]) -> None:
        loop = self._eventloop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._after_processing, future)

    def _after_processing(self, future: Future[float | None]) -> None:
        self._processing = None
        if self.state == STATE_STOPPED:
            return
        try:
            wait_seconds = future.result()
        except Exception:
            log.exception("job processing failed")
            wait_seconds = self.jobstore_retry_interval
        if self._again:
            self._again = False
            self._wake_in_loop()
        else:
            self._start_timer(wait_seconds)

    def _create_default_executor(self) -> LoopExecutor:
        return LoopExecutor()

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Stop processing, let running jobs finish (bounded), then shut down here and now
        (AsyncIOScheduler.shutdown would only schedule the shutdown for later)."""
        if self.state == STATE_STOPPED:
            return
        self.pause()
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while asyncio.get_running_loop().time() < deadline:
            pending = [
                f
                for executor in self._executors.values()
                for f in getattr(executor, "_pending_futures", ())
                if not f.done()
            ]
            if self._processing is None and not pending:
                break
            await asyncio.sleep(0.05)
        self._stop_timer()
        await asyncio.to_thread(self._store_thread.shutdown, True)
        BaseScheduler.shutdown(self, wait=False)
        self._eventloop = None


def build_scheduler(
    database_url: str,
    on_missed: Callable[[str, datetime], None] | None = None,
) -> ClinicScheduler:
    url = sync_url(database_url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    engine = create_engine(url, **options)
    scheduler = ClinicScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        job_defaults=dict(JOB_DEFAULTS),
        timezone=UTC,
    )

    def listener(event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "job missed", extra={"job": event.job_id, "due": str(event.scheduled_run_time)}
            )
            if on_missed is not None:
                on_missed(event.job_id, event.scheduled_run_time)
        else:
            log.error("job failed", extra={"job": event.job_id})

    scheduler.add_listener(listener, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return scheduler
