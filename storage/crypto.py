"""Encryption of health data at rest and keyed hashes for look-ups.

Values are sealed with MultiFernet: the first key encrypts, every key decrypts, so keys can
rotate without downtime. Searchable fields (the phone number) also get a keyed hash; it is
derived per key so a rotation can recompute it, and look-ups try every key's hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LOOKUP_HASH_PURPOSE = b"clinic-lookup-hash"


class KeyError_(Exception):
    """A key is malformed or cannot open the stored data."""


class UnreadableValue(Exception):
    """A stored value that no configured key opens: fail closed, never show ciphertext."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Cipher:
    """Seals and opens text with the configured keys (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise KeyError_("no encryption key configured")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise KeyError_(
                    f"encryption key #{position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        self._multi = MultiFernet(fernets)
        self._newest = fernets[0]
        self._raw_keys = [base64.urlsafe_b64decode(k.encode("ascii")) for k in keys]
        # A separate derived key: the hash must not be usable to forge or open ciphertexts.
        self._hash_keys = self.subkeys(LOOKUP_HASH_PURPOSE)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UnreadableValue("no configured key opens this value") from None

    def open_with_newest(self, token: str) -> str | None:
        """The plaintext when the newest key alone opens the value, else None (needs rotating)."""
        try:
            return self._newest.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            return None

    def subkeys(self, purpose: bytes) -> list[bytes]:
        """One derived key per configured key (newest first) for a purpose other than sealing,
        such as signing button data: never an encryption key itself."""
        return [
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)
            for raw in self._raw_keys
        ]

    def lookup_hash(self, value: str) -> str:
        """The keyed hash stored beside a searchable value (newest key)."""
        return self.lookup_hashes(value)[0]

    def lookup_hashes(self, value: str) -> list[str]:
        """Hashes under every key: a value stored before a rotation still matches."""
        data = value.encode("utf-8")
        return [hmac.new(k, data, hashlib.sha256).hexdigest() for k in self._hash_keys]
