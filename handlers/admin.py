"""/admin: invite doctors, decide on pending doctors, keep the list of specialties.

Stateless buttons (`ad:-:<verb>:<id>`): every press checks again that the sender is an admin
and what the target's state is now, so a forged, replayed or second admin's tap changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from handlers import admin_menu, callbacks, payment_admin, specialty_admin
from handlers.admin_buttons import BUTTONS as BUTTONS  # the flows table reads admin.BUTTONS
from handlers.admin_buttons import admin_data, already_decided, not_valid
from handlers.formatting import fee_text
from handlers.i18n import Html, Translator, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from storage.models import Doctor, DoctorInvite

INVITE_VALID = timedelta(hours=72)
PENDING_SHOWN = 20


def new_invite_code() -> str:
    """16 random URL-safe characters, letters and digits only (fits any deep link)."""
    while True:
        code = "".join(c for c in secrets.token_urlsafe(12) if c.isalnum())
        if len(code) >= 12:
            return code


async def begin(turn: Turn) -> None:
    t = turn.t
    keyboard = InlineKeyboard(
        (
            (InlineButton(t("Invite a doctor"), admin_data("inv")),),
            (InlineButton(t("Pending doctors"), admin_data("pend")),),
            (InlineButton(t("Specialties"), admin_data("spec")),),
            (InlineButton(t("Payments"), admin_data("pay")),),
            *admin_menu.menu_rows(t),
        )
    )
    turn.reply(t("Clinic administration. What would you like to do?"), keyboard)


def doctor_card(t: Translator, doctor: Doctor, currency: str) -> str:
    """A doctor's request as admins see it; every field a doctor typed is escaped."""
    return t(
        "<b>Doctor:</b> {name}\n<b>Specialty:</b> {specialty}\n<b>Fee:</b> {fee}\n"
        "<b>Consultation length:</b> {minutes} min\n<b>About:</b> {bio}",
        name=doctor.user.full_name or "—",
        specialty=doctor.specialty.name,
        fee=fee_text(t, doctor.fee_minor, currency),
        minutes=doctor.slot_minutes,
        bio=doctor.bio,
    )


def decision_keyboard(t: Translator, doctor_id: int) -> InlineKeyboard:
    return InlineKeyboard(
        (
            (
                InlineButton(t("✅ Approve"), admin_data("ok", doctor_id)),
                InlineButton(t("Reject"), admin_data("no", doctor_id)),
            ),
        )
    )


async def notify_admins(turn: Turn, doctor: Doctor) -> None:
    """Every configured admin gets the request with Approve / Reject, in their language."""
    for admin_id in sorted(turn.config.admin_ids):
        account = await turn.uow.users.by_telegram_id(admin_id)
        t = translator(account.language) if account else turn.t
        text = t(
            "A doctor asks to join the clinic:\n\n{card}",
            card=Html(doctor_card(t, doctor, turn.config.currency)),
        )
        turn.notify(admin_id, text, decision_keyboard(t, doctor.id))


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t = turn.t
    if not turn.is_admin:
        turn.answer(not_valid(t))
        return
    verb, target = callback.step, callback.action
    if verb == "inv" and target == "0":
        turn.answer()
        await _invite(turn)
    elif verb == "pend" and target == "0":
        turn.answer()
        await _pending(turn)
    elif verb == "pay" and target == "0":
        turn.answer()
        await payment_admin.show(turn)
    elif verb == "spec" and target == "0":
        turn.answer()
        await specialty_admin.show_list(turn)
    elif verb == "addsp" and target == "0":
        turn.answer()
        await specialty_admin.begin(turn)
    elif verb == "ok" and target.isdigit():
        await _approve(turn, int(target))
    elif await admin_menu.on_verb(turn, verb, target):
        pass  # statistics, audit log, users, doctors, broadcast, rejection with a reason
    else:
        turn.answer(not_valid(t))


async def _invite(turn: Turn) -> None:
    t = turn.t
    code = new_invite_code()
    turn.uow.invites.add(
        DoctorInvite(
            code=code,
            created_by=turn.event.user_id,
            created_at=turn.now,
            expires_at=turn.now + INVITE_VALID,
        )
    )
    link = f"https://t.me/{turn.config.bot_username}?start=inv_{code}"
    turn.reply(
        t(
            "Send this link to the doctor:\n{link}\n\n"
            "It is valid for 72 hours, usable once. The doctor fills in a profile, "
            "and you approve it here.",
            link=link,
        )
    )


async def _pending(turn: Turn) -> None:
    t = turn.t
    doctors = list(await turn.uow.doctors.pending())
    if not doctors:
        turn.reply(t("No doctors are waiting for review."))
        return
    turn.reply(t("Doctors waiting for review: {count}", count=len(doctors)))
    for doctor in doctors[:PENDING_SHOWN]:
        turn.reply(doctor_card(t, doctor, turn.config.currency), decision_keyboard(t, doctor.id))


async def _approve(turn: Turn, doctor_id: int) -> None:
    """Approving is one tap; rejecting asks for a reason (handlers/doctor_rejection.py)."""
    t = turn.t
    doctor = await turn.uow.doctors.lock(doctor_id)
    if doctor is None:
        turn.answer(not_valid(t))
        return
    if doctor.status != "pending":
        turn.answer(already_decided(t, doctor.status), alert=True)
        if turn.event.message_id:
            turn.edit(
                turn.event.message_id,
                t(
                    "{card}\n\n{outcome}",
                    card=Html(doctor_card(t, doctor, turn.config.currency)),
                    outcome=already_decided(t, doctor.status),
                ),
            )
        return
    doctor.status = "approved"
    doctor.decided_at = turn.now
    outcome = t("✅ Approved.")
    turn.answer(outcome)
    if turn.event.message_id:
        turn.edit(
            turn.event.message_id,
            t(
                "{card}\n\n{outcome}",
                card=Html(doctor_card(t, doctor, turn.config.currency)),
                outcome=outcome,
            ),
        )
    t = translator(doctor.user.language)  # the doctor's own language from here on
    turn.notify(
        doctor.user.telegram_id,
        t(
            "Good news: the clinic approved your profile. Patients can now book you.\n\n"
            "Set your working hours with /availability, and see your appointments with /agenda."
        ),
    )
