"""PIN hashing with Argon2id (argon2-cffi): memory-hard, salted, parameters in the hash.

Hashing takes tens of milliseconds and 64 MiB on purpose; it runs in a worker thread so one
user's PIN never stalls everybody else's updates.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


async def hash_pin(pin: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, pin)


async def pin_matches(stored_hash: str, pin: str) -> bool:
    def verify() -> bool:
        try:
            return _HASHER.verify(stored_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
