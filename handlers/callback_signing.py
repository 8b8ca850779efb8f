"""Button data the bot made for this very chat: a short keyed signature on every callback_data.

Every inline button leaving through the sending path is signed for the chat it goes to, and
every tap is checked before anything else reads it, so data typed by hand, copied from another
user's chat or left over from before a key rotation ending is refused. The flows' own checks
(step tokens, ownership, state) still apply behind it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from handlers.port import InlineButton, InlineKeyboard, Markup

SEPARATOR = "~"
SIGNATURE_CHARS = 8  # 48 bits: with the incoming rate limit, guessing one is hopeless
SIGNED_EXTRA = len(SEPARATOR) + SIGNATURE_CHARS


class CallbackSigner:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("no signing key")
        self._keys = list(keys)

    def _signature(self, key: bytes, chat_id: int, data: str) -> str:
        digest = hmac.new(key, f"{chat_id}:{data}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii")[:SIGNATURE_CHARS]

    def sign(self, chat_id: int, data: str) -> str:
        return f"{data}{SEPARATOR}{self._signature(self._keys[0], chat_id, data)}"

    def verify(self, chat_id: int, signed: str | None) -> str | None:
        """The data the bot made for this chat, or None."""
        if not signed:
            return None
        data, separator, signature = signed.rpartition(SEPARATOR)
        if not separator or len(signature) != SIGNATURE_CHARS:
            return None
        for key in self._keys:  # older keys: buttons sent before a rotation still work
            if hmac.compare_digest(signature, self._signature(key, chat_id, data)):
                return data
        return None

    def sign_markup(self, chat_id: int, markup: Markup | None) -> Markup | None:
        if not isinstance(markup, InlineKeyboard):
            return markup
        return InlineKeyboard(
            tuple(
                tuple(
                    InlineButton(b.text, self.sign(chat_id, b.callback_data), b.url)
                    if b.callback_data is not None
                    else b
                    for b in row
                )
                for row in markup.rows
            )
        )
