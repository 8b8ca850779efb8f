"""What the admin commands share: their stateless buttons (`ad:-:<verb>:<id>`, checked again on
every press by handlers/admin.py and the verb's module) and how a user is named to an admin."""

from __future__ import annotations

from handlers import callbacks, conversation
from handlers.i18n import Translator
from handlers.port import InlineKeyboard
from handlers.turn import Turn
from storage.models import User

BUTTONS = "ad"
MESSAGE_BUDGET = 3800  # under Telegram's 4,096 characters, with room for the heading
NAME_SHOWN = 40


def admin_data(verb: str, target: object = 0) -> str:
    return callbacks.pack(BUTTONS, "", verb, str(target))


def not_valid(t: Translator) -> str:
    return t("This button is not valid.")


def already_decided(t: Translator, status: str) -> str:
    """A pending doctor's request someone (perhaps another admin) has decided meanwhile."""
    texts = {
        "approved": t("Already decided: approved."),
        "rejected": t("Already decided: rejected."),
        "suspended": t("Already decided: suspended."),
    }
    return texts.get(status, not_valid(t))


async def no_longer_admin(turn: Turn) -> bool:
    """True, after ending the flow, when an admin flow's sender is not an admin (any more):
    to them the flow is an unknown command."""
    if turn.is_admin:
        return False
    await conversation.end(turn)
    turn.reply(turn.t("I don't know that command. Send /help to see what you can do."))
    return True


async def target_user(turn: Turn, target: str) -> User | None:
    """The user a button names by internal id; None, answered "not valid", when there is none."""
    user = await turn.uow.admin.user(int(target)) if target.isdigit() else None
    if user is None:
        turn.answer(not_valid(turn.t))
    return user


def user_label(t: Translator, user: User | None, telegram_id: int | None = None) -> str:
    """'#12 Anna Schmidt (id 4242)': the internal id, the name if any, the Telegram id.

    Names are decrypted user text: they go in as parameters, so the translator escapes them."""
    if user is None:
        return t("Telegram id {telegram_id} (no account)", telegram_id=telegram_id or "—")
    if user.erased_at is not None:
        return t("#{id} (erased)", id=user.id)
    if user.full_name:
        name = user.full_name
        return t(
            "#{id} {name} (Telegram id {telegram_id})",
            id=user.id,
            name=name if len(name) <= NAME_SHOWN else name[: NAME_SHOWN - 1] + "…",
            telegram_id=user.telegram_id,
        )
    return t("#{id} (Telegram id {telegram_id})", id=user.id, telegram_id=user.telegram_id)


def reply_lines(
    turn: Turn, heading: str, lines: list[str], markup: InlineKeyboard | None = None
) -> None:
    """A heading and lines (already HTML), split over as many messages as Telegram needs;
    the keyboard goes on the last one."""
    chunks: list[list[str]] = [[]]
    size = len(heading)
    for line in lines:
        if chunks[-1] and size + len(line) + 1 > MESSAGE_BUDGET:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    for index, chunk in enumerate(chunks):
        text = "\n".join(([heading] if index == 0 else []) + chunk)
        turn.reply(text, markup if index == len(chunks) - 1 else None)
