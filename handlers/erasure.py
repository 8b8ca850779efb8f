"""/delete_me for patients: asks twice, then erases their personal data in one transaction.

```mermaid
stateDiagram-v2
    [*] --> first: /delete_me (a patient, unlocked if they have a PIN, no consultation open)
    first --> first: text, media (asked again)
    first --> final: Continue
    final --> final: text, media (asked again)
    final --> [*]: Yes, delete everything (erased; what was kept is listed)
    first --> [*]: Keep my account, /cancel (nothing changes)
    final --> [*]: Keep my account, /cancel (nothing changes)
```
Future appointments are cancelled through the lifecycle (the doctor is told, a paid one goes
through the refund hook); then name, date of birth, phone, the Telegram link, reasons, chats,
ratings and uploads are erased, and only what `RETENTION_KEEP` names stays, detached from any
name (clinic.retention). The reply says plainly what was erased, what was kept and why.
Doctors' accounts are closed by the clinic's admins, not here.
"""

from __future__ import annotations

from enum import StrEnum

from clinic.appointments import AppointmentInPast, InvalidTransition, Status
from clinic.retention import (
    APPOINTMENTS,
    CONSULTATION_SUMMARIES,
    PAYMENTS,
    PRESCRIPTIONS,
    RetentionRules,
)
from clinic.roles import Role
from handlers import callbacks, conversation, pin, refunds
from handlers.formatting import when
from handlers.i18n import Html, Translator, translator
from handlers.menu import commands_for
from handlers.port import InlineButton, InlineKeyboard, RemoveKeyboard
from handlers.scheduling import cancel, end_hold
from handlers.turn import Turn
from storage.models import Appointment, Conversation, User
from storage.privacy_repositories import Erased

FLOW = "dm"
AUDIT_ACTION = "erase"


class Step(StrEnum):
    FIRST = "first"
    FINAL = "final"


def _data(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def _kept_lines(t: Translator, rules: RetentionRules) -> list[str]:
    """What the rules keep, each with why, in the patient's language."""
    why = {
        CONSULTATION_SUMMARIES: t(
            "• consultation summaries and your doctors' notes: medical records the clinic "
            "must keep by law"
        ),
        PRESCRIPTIONS: t("• prescriptions: medical records the clinic must keep by law"),
        APPOINTMENTS: t(
            "• appointment dates, doctor and status (not the reason): the clinic's record of visits"
        ),
        PAYMENTS: t("• payments (amount and date): accounting records the law requires"),
    }
    return [line for item, line in why.items() if item in rules.keep]


def _kept_text(t: Translator, rules: RetentionRules) -> str:
    lines = _kept_lines(t, rules)
    if not lines:
        return t("Nothing is kept.")
    return t(
        "Kept, with your name and contact details removed so they no longer point to you:\n{lines}",
        lines=Html("\n".join(lines)),
    )


def _erased_text(t: Translator) -> str:
    return t(
        "Erased: your name, date of birth, phone number and the link to your Telegram "
        "account; the reasons you gave for visits; the chat of your consultations; your "
        "ratings and comments; the documents you added. Your upcoming appointments are "
        "cancelled and your doctors told."
    )


async def begin(turn: Turn) -> None:
    t, user = turn.t, turn.user
    if turn.is_admin:
        turn.reply(
            t(
                "Admin access is set in the clinic's configuration (ADMIN_IDS), not here: ask "
                "whoever runs the bot to remove you."
            )
        )
        return
    if user is not None and user.role == Role.DOCTOR.value:
        turn.reply(
            t(
                "A doctor account is closed by the clinic's admins, because your patients' "
                "records and appointments depend on it. Please ask an admin."
            )
        )
        return
    assert user is not None  # the router sends the unregistered to /start first
    # A patient who chose a PIN gets it asked here too: a phone left unlocked must not be
    # enough to erase the account. Without a PIN, nothing is asked (patients' PIN is optional).
    if not await pin.gate(turn, "cmd:delete_me"):
        return
    if await _in_consultation(turn, user):
        return
    conv = await conversation.start(turn, FLOW, Step.FIRST)
    ask(turn, conv)


async def _in_consultation(turn: Turn, user: User) -> bool:
    if not await turn.uow.consultations.open_for_patient(user.id):
        return False
    turn.reply(
        turn.t(
            "You are in a consultation right now. Your account can be deleted once the doctor "
            "has ended it: send /delete_me again then."
        )
    )
    return True


def ask(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    keep = InlineButton(t("Keep my account"), _data(conv, "keep"))
    if conv.step == Step.FIRST:
        rules = RetentionRules(turn.config.retention_keep)
        turn.reply(
            t(
                "<b>Delete your account?</b>\n\n{erased}\n\n{kept}\n\nYou can send /export "
                "first to get a copy of all your data.",
                erased=Html(_erased_text(t)),
                kept=Html(_kept_text(t, rules)),
            ),
            InlineKeyboard(((InlineButton(t("Continue"), _data(conv, "go")), keep),)),
        )
        return
    turn.reply(
        t(
            "<b>Last step.</b> This cannot be undone: your account and the data listed above "
            "are deleted for good. Delete everything now?"
        ),
        InlineKeyboard(((InlineButton(t("Yes, delete everything"), _data(conv, "yes")),), (keep,))),
    )


def cancelled_text(turn: Turn) -> str:
    return turn.t("Nothing was deleted. Your account stays as it is.")


async def on_message(turn: Turn, conv: Conversation) -> None:
    turn.reply(turn.t("Please answer with the buttons, or send /cancel to keep your account."))
    ask(turn, conv)


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    t, message_id = turn.t, turn.event.message_id
    if callback.action == "keep":
        await conversation.end(turn)
        turn.answer()
        if message_id:
            turn.edit(message_id, cancelled_text(turn))
        else:
            turn.reply(cancelled_text(turn))
    elif conv.step == Step.FIRST and callback.action == "go":
        await conversation.move(turn, conv, Step.FINAL)
        turn.answer()
        if message_id:
            turn.edit(message_id, t("You chose to continue."))
        ask(turn, conv)
    elif conv.step == Step.FINAL and callback.action == "yes":
        await _erase(turn, message_id)
    else:
        turn.answer(t("This button is not valid."))


async def _erase(turn: Turn, message_id: int | None) -> None:
    t, uow, now, user = turn.t, turn.uow, turn.now, turn.user
    if user is None or user.role != Role.PATIENT.value or user.erased_at is not None:
        await conversation.end(turn)
        turn.answer(t("This button is not valid."))
        return
    if await _in_consultation(turn, user):
        await conversation.end(turn)
        turn.answer()
        return
    turn.answer()
    cancelled = 0
    for appointment in await uow.privacy.future_active(user.id, now):
        if appointment.status == Status.HELD.value:
            # Never booked: the doctor never heard of it, and it is no cancellation.
            await end_hold(uow, appointment, now)
            continue
        try:
            await cancel(
                uow, appointment, "patient", now, turn.config.cancel_cutoff, started_ok=True
            )
        except (AppointmentInPast, InvalidTransition):
            continue
        cancelled += 1
        # Refunds follow the clinic's rules, as for any cancellation by the patient; the
        # patient hears about the money before their chat link is erased below.
        await refunds.refund_for_cancellation(turn, appointment, by="patient")
        _tell_doctor(turn, appointment, user)
    await uow.flush()
    await conversation.end(turn)
    rules = RetentionRules(turn.config.retention_keep)
    erased = await uow.privacy.erase_patient(user, rules, now, turn.config.default_timezone)
    # No personal data in the entry: the actor is the placeholder id, the subject the row id.
    uow.audit.record(
        user.telegram_id, user.id, AUDIT_ACTION, ",".join(sorted(rules.keep))[:64], True, now
    )
    uow.after_commit(uow.privacy.compact)
    turn.user = None
    if message_id:
        turn.edit(message_id, t("Your account is deleted."))
    turn.reply(_done_text(t, rules, erased, cancelled), RemoveKeyboard())
    turn.set_commands(commands_for(None, t))


def _tell_doctor(turn: Turn, appointment: Appointment, patient: User) -> None:
    doctor = appointment.doctor.user
    t = translator(doctor.language)
    turn.notify(
        doctor.telegram_id,
        t(
            "Cancelled: {patient} will not come on {when} ({zone}). The patient closed their "
            "account with the clinic.",
            patient=patient.full_name or "?",
            when=when(appointment.starts_at, doctor.timezone, doctor.language),
            zone=doctor.timezone,
        ),
    )


def _done_text(t: Translator, rules: RetentionRules, erased: Erased, cancelled: int) -> str:
    counts = t(
        "Cancelled appointments: {cancelled}. Chat messages erased: {chat}. Documents erased: "
        "{documents}. Ratings erased: {feedback}.",
        cancelled=cancelled,
        chat=erased.chat_messages,
        documents=erased.documents,
        feedback=erased.feedback,
    )
    kept = t(
        "Kept without your name: {appointments} appointments, {summaries} consultation "
        "summaries, {prescriptions} prescriptions, {payments} payments. Why:\n{why}",
        appointments=erased.appointments_kept,
        summaries=erased.summaries_kept,
        prescriptions=erased.prescriptions_kept,
        payments=erased.payments_kept,
        why=Html("\n".join(_kept_lines(t, rules))),
    )
    if not rules.keep:
        kept = t("Nothing about you was kept.")
    elif APPOINTMENTS not in rules.keep and erased.appointments_kept:
        kept += "\n" + t(
            "Appointment rows stay only where a kept record needs its date and doctor."
        )
    return t(
        "Your account is deleted.\n\n{erased}\n{counts}\n\n{kept}\n\nThis chat is no longer "
        "linked to any record. Send /start if you ever want to register again.",
        erased=Html(_erased_text(t)),
        counts=Html(counts),
        kept=Html(kept),
    )
