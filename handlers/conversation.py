"""Starting, moving and ending a flow's stored state (the conversations table)."""

from __future__ import annotations

import secrets
from typing import Any

from handlers.callbacks import Callback
from handlers.turn import Turn
from storage.models import Conversation


def new_token() -> str:
    return secrets.token_urlsafe(6)[:8]


async def start(
    turn: Turn, flow: str, step: str, data: dict[str, Any] | None = None
) -> Conversation:
    conversation = Conversation(
        telegram_id=turn.event.user_id,
        flow=flow,
        step=step,
        token=new_token(),
        data=dict(data or {}),
        updated_at=turn.now,
    )
    await turn.uow.conversations.save(conversation)
    turn.conversation = conversation
    return conversation


async def move(turn: Turn, conversation: Conversation, step: str) -> None:
    conversation.step = step
    conversation.updated_at = turn.now
    await turn.uow.conversations.save(conversation)


async def renew(turn: Turn, conversation: Conversation) -> None:
    """A new token for the same step: buttons sent before now are no longer current."""
    conversation.token = new_token()
    conversation.updated_at = turn.now
    await turn.uow.conversations.save(conversation)


async def end(turn: Turn) -> None:
    await turn.uow.conversations.clear(turn.event.user_id)
    turn.conversation = None


def is_current(conversation: Conversation | None, callback: Callback) -> bool:
    """A button belongs to the flow run and the step the user is at now."""
    return (
        conversation is not None
        and conversation.flow == callback.flow
        and conversation.token == callback.token
        and conversation.step == callback.step
    )
