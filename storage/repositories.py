"""Repositories: the only place queries are written. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.profile import phone_for_lookup
from storage.crypto import Cipher
from storage.inserts import insert_unless_present
from storage.models import Conversation, ProcessedUpdate, User
from storage.types import cipher_of


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        return await self._session.scalar(select(User).where(User.telegram_id == telegram_id))

    def _cipher(self) -> Cipher:
        assert self._session.bind is not None
        return cipher_of(self._session.bind.dialect)

    async def phone_owner(self, phone: str) -> User | None:
        """Who registered this E.164 number, found by keyed hash (phones are sealed)."""
        hashes: Sequence[str] = self._cipher().lookup_hashes(phone)
        return await self._session.scalar(select(User).where(User.phone_hash.in_(hashes)))

    async def find_by_phone(self, typed: str) -> User | None:
        """An admin's search by a typed number, normalised as registration does; matched by
        keyed hash under every key. Raises clinic.profile.ProfileError when it is no number."""
        return await self.phone_owner(phone_for_lookup(typed))

    def set_phone(self, user: User, phone: str) -> None:
        user.phone = phone
        user.phone_hash = self._cipher().lookup_hash(phone)

    def add(self, user: User) -> None:
        self._session.add(user)

    async def set_unreachable(self, telegram_id: int, since: datetime | None) -> None:
        await self._session.execute(
            update(User).where(User.telegram_id == telegram_id).values(unreachable_since=since)
        )


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, telegram_id: int) -> Conversation | None:
        return await self._session.get(Conversation, telegram_id)

    async def save(self, conversation: Conversation) -> None:
        await self._session.merge(conversation)

    async def clear(self, telegram_id: int) -> None:
        await self._session.execute(
            delete(Conversation).where(Conversation.telegram_id == telegram_id)
        )


class ProcessedUpdateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, update_id: int, now: datetime) -> bool:
        """Record the update as handled; False when it was handled before."""
        return await insert_unless_present(
            self._session,
            ProcessedUpdate,
            {"update_id": update_id, "handled_at": now},
            ["update_id"],
        )

    async def prune(self, older_than: datetime) -> None:
        await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.handled_at < older_than)
        )

    async def newest(self) -> int | None:
        """The highest update id handled (and not yet pruned), or None."""
        return await self._session.scalar(select(func.max(ProcessedUpdate.update_id)))
