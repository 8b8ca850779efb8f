"""Chooses the flow for an event: commands first, then buttons, then the open conversation."""

from __future__ import annotations

from clinic.roles import Role
from handlers import (
    banned,
    callbacks,
    consultation,
    conversation,
    doctor_onboarding,
    payments,
    pin,
    recipient_choice,
    registration,
    wrap_up,
)
from handlers.deep_links import open_deep_link
from handlers.events import EventKind
from handlers.flows import BUTTONS, COMMANDS, CONVERSATIONS, LOCKED_BUTTONS
from handlers.menu import commands_for, help_text, show_main_menu
from handlers.port import RemoveKeyboard
from handlers.turn import Turn
from storage.models import User

# Stateless buttons that never start a flow, so they work while messages wait for a recipient:
# the visit's own (video, switch, open another visit) and "Keep unlocked".
KEEP_WAITING = frozenset({consultation.BUTTONS, pin.BUTTONS})


def role_of(turn: Turn) -> Role | None:
    if turn.is_admin:
        return Role.ADMIN
    if turn.user is None or turn.user.registered_at is None:
        return None
    return Role(turn.user.role)


async def route(turn: Turn) -> None:
    event = turn.event
    if event.kind in (EventKind.BLOCKED, EventKind.UNBLOCKED):
        since = turn.now if event.kind is EventKind.BLOCKED else None
        await turn.uow.users.set_unreachable(event.user_id, since)
        return
    if event.kind is EventKind.PRE_CHECKOUT:
        await payments.on_pre_checkout(turn)  # always answered (no for banned/unknown users)
        return
    if event.chat_id != event.user_id:
        return  # groups and channels are not served: health data stays in private chats
    if event.payment is not None:
        await payments.on_successful_payment(turn)  # money taken: never lost in a flow
        return
    if banned.refused(turn):
        return  # banned by an admin: one clear reply, nothing else
    pin.touch(turn)
    if event.kind is EventKind.CALLBACK:
        await _route_callback(turn)
    elif event.kind is EventKind.EDITED_MESSAGE:
        if await consultation.on_edit(turn):
            return
        if turn.conversation is not None:
            turn.reply(
                turn.t(
                    "I only read new messages, not edits. Please send your corrected answer "
                    "as a new message."
                )
            )
    elif event.command is not None:
        await _route_command(turn, event.command)
    elif turn.conversation is not None:
        flow = CONVERSATIONS.get(turn.conversation.flow)
        if flow is None:
            await conversation.end(turn)  # a flow this version no longer has: start clean
            turn.reply(turn.t("That conversation has ended. Send /help to see what you can do."))
        else:
            await flow.on_message(turn, turn.conversation)
    elif role_of(turn) is None:
        await registration.begin(turn)
    elif not await consultation.on_message(turn):
        await consultation.nothing_open(turn)


async def _route_callback(turn: Turn) -> None:
    callback = callbacks.unpack(turn.event.callback_data)
    if callback is None:
        turn.answer(turn.t("This button is not valid."))
        return
    if not callback.token and callback.flow in BUTTONS:
        if recipient_choice.holds_messages(turn) and callback.flow not in KEEP_WAITING:
            # It could start a flow over the waiting messages: they are settled first.
            turn.answer(
                turn.t(
                    "Your messages are waiting for a recipient: pick one in the questions "
                    "above, or send /cancel."
                ),
                alert=True,
            )
            return
        if callback.flow in LOCKED_BUTTONS and not await pin.gate(
            turn, f"btn:{turn.event.callback_data}"
        ):
            return
        await BUTTONS[callback.flow].on_button(turn, callback)
        return
    conv = turn.conversation
    flow = CONVERSATIONS.get(callback.flow)
    if conv is None or flow is None or not conversation.is_current(conv, callback):
        turn.answer(turn.t("This button is no longer active."))
        return
    await flow.on_callback(turn, conv, callback)


async def _route_command(turn: Turn, command: str) -> None:
    t, conv, role = turn.t, turn.conversation, role_of(turn)
    if command == "pin" and turn.event.command_args:
        pin.drop_typed_pin(turn)
    if command == "cancel":
        await _cancel(turn)
    elif command == "help":
        text = help_text(role, t)
        if conv is not None:
            text += "\n\n" + t(
                "You are in the middle of something: answer the last question, "
                "or send /cancel to stop."
            )
        turn.reply(text)
        turn.set_commands(commands_for(role, t))
    elif recipient_choice.holds_messages(turn):
        # Any other command would start a flow over the waiting messages and lose them.
        turn.reply(recipient_choice.waiting_text(turn))
    elif command == "start":
        await _start(turn, role)
    elif command in COMMANDS and role in COMMANDS[command].roles:
        if conv is not None and conv.flow == registration.FLOW:
            registration.ask(turn, conv)  # finish or cancel registration first
            return
        if turn.user is None and role is Role.ADMIN:
            await _admin_account(turn)
        if COMMANDS[command].needs_unlock and not await pin.gate(turn, f"cmd:{command}"):
            return
        await COMMANDS[command].run(turn)
    elif command in COMMANDS and role is None and Role.PATIENT in COMMANDS[command].roles:
        turn.reply(t("Please register first: send /start."))
    else:
        # Includes other roles' commands: to a patient, /admin does not exist.
        turn.reply(t("I don't know that command. Send /help to see what you can do."))


async def _start(turn: Turn, role: Role | None) -> None:
    conv, t = turn.conversation, turn.t
    payload = turn.event.command_args
    if payload and await open_deep_link(turn, payload, role):
        return
    if conv is not None and conv.flow == registration.FLOW:
        turn.reply(t("Let's continue where you left off."))
        registration.ask(turn, conv)
        return
    if conv is not None and conv.flow == doctor_onboarding.FLOW:
        turn.reply(t("Let's continue where you left off."))
        await doctor_onboarding.resume(turn, conv)
        return
    if conv is not None and conv.flow == wrap_up.FLOW:
        # A wrap-up holds a doctor's unsent notes and prescriptions: never drop it silently.
        turn.reply(
            t(
                "You are wrapping up a consultation; your draft is kept. Continue below, or "
                "send /cancel to leave the wrap-up (the consultation stays open)."
            )
        )
        wrap_up.ask(turn, conv)
        return
    if conv is not None:
        await conversation.end(turn)
    if role is None:
        await registration.begin(turn)
        turn.set_commands(commands_for(None, t))
        return
    user = turn.user or await _admin_account(turn)
    show_main_menu(turn, role, user.full_name)


async def _cancel(turn: Turn) -> None:
    conv, t = turn.conversation, turn.t
    if conv is None:
        turn.reply(t("There is nothing to cancel."), RemoveKeyboard())
        return
    await conversation.end(turn)
    flow = CONVERSATIONS.get(conv.flow)
    text = flow.cancelled_text(turn) if flow else t("Cancelled.")
    turn.reply(text, RemoveKeyboard())


async def _admin_account(turn: Turn) -> User:
    """Admins are configured, not registered: their row holds no personal data."""
    user = User(
        telegram_id=turn.event.user_id,
        role=Role.ADMIN.value,
        language=turn.t.language,
        timezone=turn.config.default_timezone,
        registered_at=turn.now,
        created_at=turn.now,
        updated_at=turn.now,
    )
    turn.uow.users.add(user)
    turn.user = user
    return user
