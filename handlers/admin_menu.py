"""The admin commands beyond invites, decisions and specialties: their menu buttons and the
verbs of their stateless buttons (`ad:-:<verb>:<target>`).

handlers/admin.py checks that the presser is an admin, then hands a verb found here to its
module, which checks the target (an id, a period) against the database again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import (
    admin_audit,
    admin_stats,
    admin_users,
    broadcast,
    doctor_rejection,
    doctor_suspension,
    feedback_export,
)
from handlers.admin_buttons import admin_data, not_valid
from handlers.i18n import Translator
from handlers.port import InlineButton
from handlers.turn import Turn

Verb = Callable[[Turn, str], Awaitable[None]]


async def _reject(turn: Turn, target: str) -> None:
    await doctor_rejection.begin(turn, int(target))


async def _doctors(turn: Turn, target: str) -> None:
    turn.answer()
    await doctor_suspension.show_list(turn)


# Verbs whose target must be "0" (menu entries) or a number (an id); "per" takes a period.
MENU_VERBS: dict[str, Verb] = {
    "docs": _doctors,
    "stat": admin_stats.ask_period,
    "aud": admin_audit.menu,
    "audr": admin_audit.record_reads,
    "audp": admin_audit.pin_events,
    "audu": admin_users.find_for_audit,
    "lock": admin_audit.locked,
    "unr": admin_audit.unreadable,
    "find": admin_users.find_patient,
    "bc": broadcast.begin,
    "fbx": feedback_export.export,
}
ID_VERBS: dict[str, Verb] = {
    "no": _reject,
    "susp": doctor_suspension.ask_suspend,
    "susy": doctor_suspension.suspend,
    "susn": doctor_suspension.keep,
    "rein": doctor_suspension.reinstate,
    "audx": admin_audit.of_user_id,
    "ban": admin_users.ban,
    "unban": admin_users.unban,
    "pinr": admin_users.reset_pin,
}


async def on_verb(turn: Turn, verb: str, target: str) -> bool:
    """Runs the verb if it is one of these (the caller checked the presser is an admin)."""
    if verb == "per":
        await admin_stats.show(turn, target)
    elif verb in MENU_VERBS:
        if target != "0":
            turn.answer(not_valid(turn.t))
        else:
            await MENU_VERBS[verb](turn, target)
    elif verb in ID_VERBS:
        if not target.isdigit():
            turn.answer(not_valid(turn.t))
        else:
            await ID_VERBS[verb](turn, target)
    else:
        return False
    return True


def menu_rows(t: Translator) -> tuple[tuple[InlineButton, ...], ...]:
    return (
        (
            InlineButton(t("Doctors: suspend / reinstate"), admin_data("docs")),
            InlineButton(t("Statistics"), admin_data("stat")),
        ),
        (
            InlineButton(t("Find a patient"), admin_data("find")),
            InlineButton(t("Audit log"), admin_data("aud")),
        ),
        (
            InlineButton(t("Broadcast"), admin_data("bc")),
            InlineButton(t("Export feedback"), admin_data("fbx")),
        ),
    )
