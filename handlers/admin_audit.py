"""/admin → Audit log: recent record reads, PIN failures and lockouts, one user's entries
(found by Telegram id or phone in handlers/admin_users.py), locked accounts with "Reset PIN", and
the encrypted values no key opens (found by rotate-keys).

Every entry shows who acted, on whom (internal user id and name, escaped), what, whether it
was allowed, and when in the admin's own time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handlers import data_export
from handlers.admin_buttons import admin_data, reply_lines, target_user, user_label
from handlers.formatting import when
from handlers.i18n import Html, plain
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from storage.models import AuditEntry, User

SHOWN = 20
LOCKED_SHOWN = 30
# A patient's /export reads their whole record, so it is listed with the other reads.
RECORD_READS = ("records.", data_export.AUDIT_ACTION)
PIN_EVENTS = ("pin_failed", "pin_lockout", "pin_reset")


async def menu(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer()
    turn.reply(
        t("Audit log: what would you like to see?"),
        InlineKeyboard(
            (
                (InlineButton(t("Recent record reads"), admin_data("audr")),),
                (InlineButton(t("PIN failures and lockouts"), admin_data("audp")),),
                (InlineButton(t("One user's entries"), admin_data("audu")),),
                (InlineButton(t("Locked accounts"), admin_data("lock")),),
                (InlineButton(t("Unreadable records"), admin_data("unr")),),
            )
        ),
    )


async def entry_lines(turn: Turn, entries: Sequence[AuditEntry]) -> list[str]:
    t = turn.t
    actors = await turn.uow.admin.users_by_telegram_ids(e.actor_telegram_id for e in entries)
    subjects = await turn.uow.admin.users_by_ids(
        e.subject_user_id for e in entries if e.subject_user_id is not None
    )
    lines = []
    for entry in entries:
        actor = actors.get(entry.actor_telegram_id)
        subject = (
            Html(user_label(t, subjects.get(entry.subject_user_id)))
            if entry.subject_user_id is not None and entry.subject_user_id in subjects
            else (f"#{entry.subject_user_id}" if entry.subject_user_id is not None else "—")
        )
        outcome = t("allowed") if entry.allowed else t("refused")
        lines.append(
            t(
                "• {time} · {actor} → {subject} · <code>{action}</code> {target} · {outcome}",
                time=when(entry.at, turn.zone_name, t.language),
                actor=Html(user_label(t, actor, entry.actor_telegram_id)),
                subject=subject,
                action=entry.action,
                target=entry.target or "",
                outcome=outcome,
            )
        )
    return lines


async def _matching(
    turn: Turn,
    prefixes: tuple[str, ...],
    none_text: str,
    heading: Callable[[int], str],
    markup: InlineKeyboard | None = None,
) -> None:
    """The newest entries whose action starts with one of `prefixes`, under the heading for
    their count."""
    turn.answer()
    entries = await turn.uow.admin.audit_matching(prefixes, SHOWN)
    if not entries:
        turn.reply(none_text)
        return
    reply_lines(turn, heading(len(entries)), await entry_lines(turn, entries), markup)


async def record_reads(turn: Turn, target: str) -> None:
    t = turn.t
    await _matching(
        turn,
        RECORD_READS,
        t("No record reads have been logged yet."),
        lambda count: t(
            "<b>The last {count} record reads</b>, newest first (times in {tz}):",
            count=count,
            tz=turn.zone_name,
        ),
    )


async def pin_events(turn: Turn, target: str) -> None:
    t = turn.t
    await _matching(
        turn,
        PIN_EVENTS,
        t("No PIN failures or lockouts have been logged."),
        lambda _count: t(
            "<b>PIN failures, lockouts and resets</b>, newest first (times in {tz}):",
            tz=turn.zone_name,
        ),
        InlineKeyboard(((InlineButton(t("Locked accounts"), admin_data("lock")),),)),
    )


async def of_user_id(turn: Turn, target: str) -> None:
    user = await target_user(turn, target)
    if user is None:
        return
    turn.answer()
    await show_for_user(turn, user)


async def show_for_user(turn: Turn, user: User) -> None:
    t = turn.t
    entries = await turn.uow.admin.audit_of_user(user, SHOWN)
    who = Html(user_label(t, user))
    if not entries:
        turn.reply(t("No audit entries for {user}.", user=who))
        return
    heading = t(
        "<b>Audit log of {user}</b>, last {count}, newest first (times in {tz}):",
        user=who,
        count=len(entries),
        tz=turn.zone_name,
    )
    reply_lines(turn, heading, await entry_lines(turn, entries))


async def locked(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer()
    users = await turn.uow.admin.locked_users(turn.now, LOCKED_SHOWN)
    if not users:
        turn.reply(t("No account is locked right now."))
        return
    lines = [
        t(
            "• {user}: locked until {until}",
            user=Html(user_label(t, user)),
            until=when(user.pin_locked_until or turn.now, turn.zone_name, t.language),
        )
        for user in users
    ]
    buttons = tuple(
        (InlineButton(plain(t("Reset PIN of #{id}", id=user.id)), admin_data("pinr", user.id)),)
        for user in users
    )
    heading = t("<b>Locked accounts</b> (five wrong PINs; times in {tz}):", tz=turn.zone_name)
    reply_lines(turn, heading, lines, InlineKeyboard(buttons))


async def unreadable(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer()
    rows = await turn.uow.unreadable.recent(SHOWN)
    if not rows:
        turn.reply(t("Every encrypted value opens with the configured keys."))
        return
    lines = [
        t(
            "• {table}.{column} row {row} (found {found})",
            table=row.table_name,
            column=row.column_name,
            row=row.row_key,
            found=when(row.found_at, turn.zone_name, t.language),
        )
        for row in rows
    ]
    heading = t(
        "<b>Encrypted values no configured key opens</b> (newest first; they are never shown "
        "or overwritten — add the old key to ENCRYPTION_KEYS to read them again):"
    )
    reply_lines(turn, heading, lines)
