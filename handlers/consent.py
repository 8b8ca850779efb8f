"""The consent step that opens every sign-up: agree, or leave with nothing stored."""

from __future__ import annotations

from clinic.roles import CONSENT_VERSION
from handlers import conversation
from handlers.turn import Turn
from storage.models import Conversation


async def answer(turn: Turn, conv: Conversation, agreed: bool, declined_text: str) -> bool:
    """Record the answer to the consent buttons; True when the person agreed.

    A refusal ends the flow and keeps nothing; an agreement is kept in the flow's data with
    the version of the text agreed to and the time, to be stored with the account."""
    t, message_id = turn.t, turn.event.message_id
    turn.answer()
    if not agreed:
        await conversation.end(turn)
        if message_id:
            turn.edit(message_id, t("You did not agree."))
        turn.reply(declined_text)
        return False
    conv.data["consent_version"] = CONSENT_VERSION
    conv.data["consent_at"] = turn.now.isoformat()
    if message_id:
        turn.edit(message_id, t("✅ You agreed to the processing of your data."))
    return True
