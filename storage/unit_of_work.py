"""One session and one transaction per use case; commit happens here and nowhere else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker
from sqlalchemy.orm import Session

from storage.admin_repositories import AdminQueries
from storage.clinic_repositories import (
    AppointmentRepository,
    DoctorRepository,
    InviteRepository,
    ScheduleRepository,
    SpecialtyRepository,
)
from storage.consultation_repositories import AuditRepository, ConsultationRepository
from storage.job_repositories import FeedbackRepository, JobRunRepository, PlanningQueries
from storage.models import Appointment, Doctor
from storage.payment_repositories import PaymentRepository
from storage.privacy_repositories import PrivacyRepository
from storage.repositories import (
    ConversationRepository,
    ProcessedUpdateRepository,
    UserRepository,
)
from storage.unreadable_values import UnreadableValueRepository


class UnitOfWork:
    users: UserRepository
    conversations: ConversationRepository
    processed_updates: ProcessedUpdateRepository
    specialties: SpecialtyRepository
    invites: InviteRepository
    doctors: DoctorRepository
    schedules: ScheduleRepository
    appointments: AppointmentRepository
    consultations: ConsultationRepository
    audit: AuditRepository
    job_runs: JobRunRepository
    feedback: FeedbackRepository
    planning: PlanningQueries
    privacy: PrivacyRepository
    payments: PaymentRepository
    unreadable: UnreadableValueRepository
    admin: AdminQueries

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        # Filled as rows are written, read after commit: whatever plans time-driven work
        # (reminders, no-show checks, digests) re-plans exactly what changed.
        self.changed_appointments: set[int] = set()
        self.changed_doctors: set[int] = set()
        # Run once, right after the next commit (e.g. SQLite's WAL truncated after an erasure).
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def _collect_changes(self, session: Session, _context: object) -> None:
        for row in (*session.new, *session.dirty):
            if isinstance(row, Appointment):
                self.changed_appointments.add(row.id)
            elif isinstance(row, Doctor):
                self.changed_doctors.add(row.id)

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        event.listen(self._session.sync_session, "after_flush", self._collect_changes)
        await self._session.begin()
        self.users = UserRepository(self._session)
        self.conversations = ConversationRepository(self._session)
        self.processed_updates = ProcessedUpdateRepository(self._session)
        self.specialties = SpecialtyRepository(self._session)
        self.invites = InviteRepository(self._session)
        self.doctors = DoctorRepository(self._session)
        self.schedules = ScheduleRepository(self._session)
        self.appointments = AppointmentRepository(self._session)
        self.consultations = ConsultationRepository(self._session)
        self.audit = AuditRepository(self._session)
        self.job_runs = JobRunRepository(self._session)
        self.feedback = FeedbackRepository(self._session)
        self.planning = PlanningQueries(self._session)
        self.privacy = PrivacyRepository(self._session)
        self.payments = PaymentRepository(self._session)
        self.unreadable = UnreadableValueRepository(self._session)
        self.admin = AdminQueries(self._session)
        return self

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: a refused insert rolls back to here, not the whole turn."""
        assert self._session is not None
        return self._session.begin_nested()

    async def flush(self) -> None:
        """Send pending inserts so new rows get their ids, still inside the transaction."""
        assert self._session is not None
        await self._session.flush()

    async def commit(self) -> None:
        assert self._session is not None
        await self._session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            await hook()

    def after_commit(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` once the transaction is committed (never if it is rolled back)."""
        self._after_commit.append(hook)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        # Anything not committed explicitly is rolled back, including on errors.
        await self._session.rollback()
        await self._session.close()
        self._session = None
