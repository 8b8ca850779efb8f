"""/book and rescheduling: specialty, doctor, day, time, reason, confirm.

```mermaid
stateDiagram-v2
    [*] --> spec: /book
    [*] --> date: Book again (one tap) / Reschedule
    spec --> doc
    doc --> date
    doc --> spec: Back
    date --> time: a day with free slots
    time --> date: Back
    time --> reason: a free time (booking)
    time --> confirm: a free time (rescheduling)
    reason --> confirm: typed or Skip
    confirm --> date: Change time
    confirm --> time: just taken (nearest free times offered)
    confirm --> [*]: Book / Move (saved) or Cancel
```
Times are shown in the patient's zone; the pick is checked against free time again when it is
tapped and once more, by the database, when it is booked.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from babel.numbers import format_decimal
from dateutil import parser as date_parser

from clinic.appointments import Status
from clinic.calendar_grid import days_with_slots, today_in
from clinic.roles import Role
from clinic.slots import Interval
from clinic.timezones import zone
from handlers import callbacks, conversation, payments, refunds
from handlers.calendar_file import appointment_ics
from handlers.date_picker import (
    month_keyboard,
    month_title,
    read_day,
    read_month,
    read_page,
    read_slot,
    times_keyboard,
)
from handlers.formatting import fee_text, when
from handlers.i18n import Html, Translator, plain, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.scheduling import (
    DoctorUnavailable,
    PatientBusy,
    SlotUnavailable,
    book,
    free_slots_for,
    nearest,
    own_busy,
    reschedule,
)
from handlers.turn import Turn
from storage.models import Appointment, Conversation, Doctor, User

FLOW = "bk"
BUTTONS = "bk"
PAGE = 8
REASON_MAX = 500


class Step(StrEnum):
    SPECIALTY = "spec"
    DOCTOR = "doc"
    DATE = "date"
    TIME = "time"
    REASON = "reason"
    CONFIRM = "confirm"


def _patient(turn: Turn) -> User:
    assert turn.user is not None, "the router only opens booking for registered patients"
    return turn.user


def _moving_id(conv: Conversation) -> int | None:
    """The appointment being rescheduled, if this is a move."""
    return int(conv.data["appt"]) if conv.data.get("appt") else None


def _pack(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def cancelled_text(turn: Turn) -> str:
    return turn.t("Booking stopped. Nothing was booked or changed.")


# Entry points -------------------------------------------------------------------------------


async def begin(turn: Turn) -> None:
    if not await turn.uow.specialties.with_approved_doctors():
        turn.reply(turn.t("No doctors are taking bookings yet. Please try again later."))
        return
    conv = await conversation.start(turn, FLOW, Step.SPECIALTY, {"mode": "book", "page": 0})
    await ask_async(turn, conv)


async def begin_with_doctor(turn: Turn, doctor: Doctor, moving: Appointment | None = None) -> None:
    data: dict[str, object] = {"mode": "move" if moving else "book", "doc": doctor.id}
    if moving is not None:
        data["appt"] = moving.id
    data["spec"] = doctor.specialty_id
    conv = await conversation.start(turn, FLOW, Step.DATE, data)
    await ask_async(turn, conv)


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    """The stateless "Book again with Dr X" button a patient gets after a cancellation."""
    t = turn.t
    if callback.step != "again" or not callback.action.isdigit():
        turn.answer(t("This button is not valid."))
        return
    if turn.user is None or turn.user.role != Role.PATIENT.value:
        turn.answer(t("This button is not valid."))
        return
    doctor = await turn.uow.doctors.get(int(callback.action))
    if doctor is None or doctor.status != "approved":
        turn.answer(t("This doctor is not taking bookings at the moment."), alert=True)
        return
    turn.answer()
    await begin_with_doctor(turn, doctor)


# Questions ----------------------------------------------------------------------------------


def ask(turn: Turn, conv: Conversation) -> None:
    """Sync entry used on resume; the steps that need the database are asked via ask_async."""
    turn.reply(
        turn.t("Let's continue your booking: tap the last buttons above, or send /cancel."),
    )


async def ask_async(turn: Turn, conv: Conversation) -> None:
    step = Step(conv.step)
    if step is Step.SPECIALTY:
        await _ask_specialty(turn, conv)
    elif step is Step.DOCTOR:
        await _ask_doctor(turn, conv)
    elif step is Step.DATE:
        await _ask_date(turn, conv)
    elif step is Step.TIME:
        await _ask_time(turn, conv)
    elif step is Step.REASON:
        _ask_reason(turn, conv)
    else:
        await _ask_confirm(turn, conv)


def _paged(
    turn: Turn, conv: Conversation, buttons: list[InlineButton], back: bool
) -> InlineKeyboard:
    page = int(conv.data.get("page", 0))
    shown = buttons[page * PAGE : (page + 1) * PAGE]
    rows: list[tuple[InlineButton, ...]] = [(b,) for b in shown]
    nav = []
    if page > 0:
        nav.append(InlineButton(turn.t("‹ Previous"), _pack(conv, f"p{page - 1}")))
    if (page + 1) * PAGE < len(buttons):
        nav.append(InlineButton(turn.t("More ›"), _pack(conv, f"p{page + 1}")))
    if nav:
        rows.append(tuple(nav))
    if back:
        rows.append((InlineButton(turn.t("‹ Back"), _pack(conv, "back")),))
    return InlineKeyboard(tuple(rows))


async def _ask_specialty(turn: Turn, conv: Conversation) -> None:
    specialties = await turn.uow.specialties.with_approved_doctors()
    buttons = [InlineButton(s.name, _pack(conv, f"s{s.id}")) for s in specialties]
    turn.reply(turn.t("Which kind of doctor do you need?"), _paged(turn, conv, buttons, False))


def _doctor_label(turn: Turn, doctor: Doctor, rating: tuple[float, int] | None = None) -> str:
    fee = fee_text(turn.t, doctor.fee_minor, turn.config.currency)
    label = turn.t(
        "{name} · {specialty} · {fee}",
        name=doctor.user.full_name or "?",
        specialty=doctor.specialty.name,
        fee=fee,
    )
    if rating is None:
        return label
    average, count = rating
    return turn.t(
        "{label} · ★ {average} ({count})",
        label=Html(label),
        average=format_decimal(round(average, 1), "0.0", locale=turn.t.language),
        count=count,
    )


async def _ask_doctor(turn: Turn, conv: Conversation) -> None:
    doctors = await turn.uow.doctors.approved_in(int(conv.data["spec"]))
    if not doctors:
        turn.reply(turn.t("No doctor of that kind is taking bookings now. Please pick another."))
        await conversation.move(turn, conv, Step.SPECIALTY)
        await _ask_specialty(turn, conv)
        return
    ratings = await turn.uow.feedback.ratings(d.id for d in doctors)
    # The label is for a button: escaping is for HTML text, so undo it here.
    buttons = [
        InlineButton(plain(_doctor_label(turn, d, ratings.get(d.id))), _pack(conv, f"d{d.id}"))
        for d in doctors
    ]
    turn.reply(turn.t("Choose a doctor:"), _paged(turn, conv, buttons, True))


async def _doctor(turn: Turn, conv: Conversation) -> Doctor | None:
    doctor = await turn.uow.doctors.get(int(conv.data["doc"]))
    if doctor is None or doctor.status != "approved":
        await conversation.end(turn)
        turn.reply(
            turn.t("This doctor is not taking bookings at the moment. Send /book to start again.")
        )
        return None
    return doctor


async def _free(
    turn: Turn,
    conv: Conversation,
    doctor: Doctor,
    around: datetime | None = None,
    offered_only: bool = True,
) -> list[Interval]:
    """The doctor's free slots over the whole horizon, or only near `around` (one check).
    Times that clash with the patient's own appointments are not offered (Book would refuse
    them); `offered_only=False` keeps them, so a stale tap on one can be told why."""
    moving = _moving_id(conv)
    window = Interval(around - timedelta(days=1), around + timedelta(days=1)) if around else None
    slots = await free_slots_for(turn.uow, doctor, turn.now, window, ignore_appointment=moving)
    if not offered_only or not slots:
        return slots
    span = Interval(min(s.start for s in slots), max(s.end for s in slots))
    busy = await own_busy(turn.uow, _patient(turn).id, span, turn.now, moving)
    return [s for s in slots if not any(s.overlaps(b) for b in busy)]


async def _ask_date(turn: Turn, conv: Conversation) -> None:
    doctor = await _doctor(turn, conv)
    if doctor is None:
        return
    patient_zone = _patient(turn).timezone
    viewer = zone(patient_zone)
    slots = await _free(turn, conv, doctor)
    available = days_with_slots(slots, viewer)
    today = today_in(viewer, turn.now)
    horizon_end = (turn.now + timedelta(days=doctor.horizon_days)).astimezone(viewer).date()
    if "ym" not in conv.data:
        first = min(available) if available else today
        conv.data["ym"] = f"{first:%Y-%m}"
    year, month = (int(p) for p in str(conv.data["ym"]).split("-"))
    rating = (await turn.uow.feedback.ratings([doctor.id])).get(doctor.id)
    header = turn.t(
        "<b>{doctor}</b>\n{bio}\n\n",
        doctor=plain(_doctor_label(turn, doctor, rating)),
        bio=doctor.bio,
    )
    if not available:
        body = turn.t(
            "{header}There are no free times in the next {days} days. Please try another "
            "doctor or come back later.",
            header=Html(header),
            days=doctor.horizon_days,
        )
    else:
        body = turn.t(
            "{header}<b>{month}</b>: pick a day (numbers have free times; times are in your "
            "zone, {zone}). You can also type a date like {example}.",
            header=Html(header),
            month=month_title(year, month, turn.t.language),
            zone=patient_zone,
            example=f"{min(available):%d.%m.%Y}",
        )
    back = (
        [InlineButton(turn.t("‹ Other doctors"), _pack(conv, "back"))]
        if conv.data.get("mode") == "book"
        else []
    )
    keyboard = month_keyboard(
        turn,
        conv,
        year,
        month,
        available,
        today,
        (horizon_end.year, horizon_end.month),
        back,
    )
    turn.reply(body, keyboard)


async def _ask_time(turn: Turn, conv: Conversation) -> None:
    doctor = await _doctor(turn, conv)
    if doctor is None:
        return
    patient_zone = _patient(turn).timezone
    slots = await _free(turn, conv, doctor)
    nearest_only = conv.data.get("near")
    if nearest_only:
        wanted = datetime.fromisoformat(str(nearest_only))
        shown = nearest(slots, wanted, 6)
        text = turn.t("The nearest free times (in your zone, {zone}):", zone=patient_zone)
    else:
        chosen = date.fromisoformat(str(conv.data["day"]))
        viewer = zone(patient_zone)
        shown = [s for s in slots if s.start.astimezone(viewer).date() == chosen]
        text = turn.t(
            "Free times on {day} (in your zone, {zone}):",
            day=f"{chosen:%d.%m.%Y}",
            zone=patient_zone,
        )
    if not shown:
        turn.reply(turn.t("No free times are left on that day. Please pick another day."))
        conv.data.pop("near", None)
        await conversation.move(turn, conv, Step.DATE)
        await _ask_date(turn, conv)
        return
    keyboard = times_keyboard(
        turn,
        conv,
        shown,
        patient_zone,
        int(conv.data.get("page", 0)),
        with_day=bool(nearest_only),
        extra_row=[InlineButton(turn.t("‹ Other days"), _pack(conv, "back"))],
    )
    turn.reply(text, keyboard)


def _ask_reason(turn: Turn, conv: Conversation) -> None:
    turn.reply(
        turn.t(
            "Briefly, what is the reason for your visit? Only your doctor will see it. "
            "Type it, or tap Skip."
        ),
        InlineKeyboard(((InlineButton(turn.t("Skip"), _pack(conv, "skip")),),)),
    )


def _summary(turn: Turn, conv: Conversation, doctor: Doctor, moving: Appointment | None) -> str:
    patient_zone = _patient(turn).timezone
    start = read_slot(str(conv.data["start"]))
    assert start is not None
    language = turn.t.language
    if moving is not None:
        return turn.t(
            "Move your appointment with <b>{doctor}</b>\nfrom {old}\nto <b>{new}</b>?",
            doctor=doctor.user.full_name or "?",
            old=when(moving.starts_at, patient_zone, language),
            new=when(start, patient_zone, language),
        )
    reason = conv.data.get("reason") or turn.t("(none given)")
    return turn.t(
        "Please check your booking:\n\n<b>Doctor:</b> {doctor}\n<b>When:</b> {when} ({zone})\n"
        "<b>Length:</b> {minutes} minutes\n<b>Fee:</b> {fee}\n<b>Reason:</b> {reason}",
        doctor=plain(_doctor_label(turn, doctor)),
        when=when(start, patient_zone, language),
        zone=patient_zone,
        minutes=doctor.slot_minutes,
        fee=_fee_text(turn, doctor),
        reason=reason,
    )


def _fee_text(turn: Turn, doctor: Doctor) -> str:
    fee = fee_text(turn.t, doctor.fee_minor, turn.config.currency)
    if not doctor.fee_minor or payments.payment_needed(turn, doctor):
        return fee
    # Payments in the chat are off (no provider token, not Stars): the clinic collects it.
    return turn.t("{fee}, paid to the clinic (not in this chat)", fee=fee)


async def _moving(turn: Turn, conv: Conversation) -> Appointment | None:
    appointment_id = _moving_id(conv)
    return None if appointment_id is None else await turn.uow.appointments.get(appointment_id)


async def _move_terms(turn: Turn, conv: Conversation, moving: Appointment) -> refunds.MoveTerms:
    start = read_slot(str(conv.data["start"]))
    assert start is not None
    return await refunds.move_terms(turn, moving, start)


async def _ask_confirm(turn: Turn, conv: Conversation) -> None:
    doctor = await _doctor(turn, conv)
    if doctor is None:
        return
    moving = await _moving(turn, conv)
    label = turn.t("✅ Move it") if moving else turn.t("✅ Book")
    summary = _summary(turn, conv, doctor, moving)
    if moving is not None:
        terms = await _move_terms(turn, conv, moving)
        conv.data["terms"] = terms.code  # "Move it" checks them again (see _on_confirm)
        if terms.text is not None:
            summary = f"{summary}\n\n{terms.text}"
    keyboard = InlineKeyboard(
        (
            (InlineButton(label, _pack(conv, "ok")),),
            (
                InlineButton(turn.t("Change time"), _pack(conv, "chg")),
                InlineButton(turn.t("Cancel"), _pack(conv, "stop")),
            ),
        )
    )
    turn.reply(summary, keyboard)


# Answers ------------------------------------------------------------------------------------


async def on_message(turn: Turn, conv: Conversation) -> None:
    step, t, text = Step(conv.step), turn.t, turn.event.text
    if step is Step.REASON:
        if text is None:
            turn.reply(t("Please type the reason as text, or tap Skip."))
            return
        reason = " ".join(text.split())
        if not reason:
            turn.reply(t("The reason is empty. Type it, or tap Skip."))
            return
        if len(reason) > REASON_MAX:
            turn.reply(t("Please keep the reason under {limit} characters.", limit=REASON_MAX))
            return
        conv.data["reason"] = reason
        await conversation.move(turn, conv, Step.CONFIRM)
        await _ask_confirm(turn, conv)
        return
    if step is Step.DATE and text is not None:
        await _typed_date(turn, conv, text)
        return
    turn.reply(t("Please use the buttons above, or send /cancel to stop booking."))


async def _typed_date(turn: Turn, conv: Conversation, text: str) -> None:
    t = turn.t
    doctor = await _doctor(turn, conv)
    if doctor is None:
        return
    viewer = zone(_patient(turn).timezone)
    today = today_in(viewer, turn.now)
    try:
        if not any(c.isdigit() for c in text) or len(text) > 40:
            raise ValueError(text)
        wanted = date_parser.parse(
            text.strip(),
            dayfirst=True,
            default=datetime(today.year, 1, 1),  # noqa: DTZ001 (date only)
        ).date()
    except (ValueError, OverflowError):
        turn.reply(t("I could not read that date. Please write it like 15.12.2026, or tap a day."))
        return
    last = (turn.now + timedelta(days=doctor.horizon_days)).astimezone(viewer).date()
    if wanted < today:
        turn.reply(t("That date is in the past. Please pick a day from today on."))
        return
    if wanted > last:
        turn.reply(
            t(
                "Bookings are open up to {last}. Please pick an earlier day.",
                last=f"{last:%d.%m.%Y}",
            )
        )
        return
    slots = await _free(turn, conv, doctor)
    if wanted not in days_with_slots(slots, viewer):
        turn.reply(t("There are no free times on that day. Please pick a day with a number."))
        return
    conv.data["day"] = wanted.isoformat()
    conv.data["page"] = 0
    await conversation.move(turn, conv, Step.TIME)
    await _ask_time(turn, conv)


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    step, action, t = Step(conv.step), callback.action, turn.t
    message_id = turn.event.message_id
    page = read_page(action)
    if page is not None and step in (Step.SPECIALTY, Step.DOCTOR, Step.TIME):
        turn.answer()
        conv.data["page"] = page
        await conversation.move(turn, conv, step)
        await _redraw(turn, conv, message_id)
        return
    if step is Step.SPECIALTY and action.startswith("s") and action[1:].isdigit():
        specialty = await turn.uow.specialties.get(int(action[1:]))
        if specialty is None:
            turn.answer(t("This button is not valid."))
            return
        turn.answer()
        conv.data.update(spec=specialty.id, page=0)
        await _advance(turn, conv, Step.DOCTOR, message_id, specialty.name)
        return
    if step is Step.DOCTOR and action == "back":
        turn.answer()
        conv.data["page"] = 0
        await _advance(turn, conv, Step.SPECIALTY, message_id, None)
        return
    if step is Step.DOCTOR and action.startswith("d") and action[1:].isdigit():
        doctor = await turn.uow.doctors.get(int(action[1:]))
        if (
            doctor is None
            or doctor.status != "approved"
            or doctor.specialty_id != conv.data.get("spec")
        ):
            turn.answer(t("This doctor is not taking bookings at the moment."))
            return
        turn.answer()
        conv.data.update(doc=doctor.id, page=0)
        conv.data.pop("ym", None)
        await _advance(turn, conv, Step.DATE, message_id, doctor.user.full_name)
        return
    if step is Step.DATE:
        await _on_date(turn, conv, action, message_id)
        return
    if step is Step.TIME:
        await _on_time(turn, conv, action, message_id)
        return
    if step is Step.REASON and action == "skip":
        turn.answer()
        conv.data["reason"] = None
        await _advance(turn, conv, Step.CONFIRM, message_id, t("Reason: skipped"))
        return
    if step is Step.CONFIRM:
        await _on_confirm(turn, conv, action, message_id)
        return
    turn.answer(t("This button is no longer active."))


async def _redraw(turn: Turn, conv: Conversation, message_id: int | None) -> None:
    """Paging replaces the list: drop the old message's buttons, send the new page. The
    flow's token is renewed, so a second tap on the old message (a double tap) finds its
    buttons stale instead of sending the new page twice."""
    if message_id:
        turn.delete(message_id)
    await conversation.renew(turn, conv)
    await ask_async(turn, conv)


async def _advance(
    turn: Turn, conv: Conversation, step: Step, message_id: int | None, chosen: str | None
) -> None:
    """Freeze the answered question (no stale buttons left) and ask the next one."""
    if message_id:
        if chosen:
            turn.edit(message_id, turn.t("✓ {choice}", choice=chosen))
        else:
            turn.delete(message_id)
    await conversation.move(turn, conv, step)
    await ask_async(turn, conv)


async def _on_date(turn: Turn, conv: Conversation, action: str, message_id: int | None) -> None:
    t = turn.t
    if action == "back" and conv.data.get("mode") == "book":
        turn.answer()
        conv.data.update(page=0)
        await _advance(turn, conv, Step.DOCTOR, message_id, None)
        return
    if action == "wd":
        turn.answer(t("Tap a day with a number; days marked · have no free times."))
        return
    if action == "x":
        turn.answer(t("No free times on that day."))
        return
    if action == "pad":  # an empty cell before the 1st or after the month's last day
        turn.answer()
        return
    month = read_month(action)
    if month is not None:
        doctor = await _doctor(turn, conv)
        if doctor is None:
            return
        viewer = zone(_patient(turn).timezone)
        today = today_in(viewer, turn.now)
        last = (turn.now + timedelta(days=doctor.horizon_days)).astimezone(viewer).date()
        if not (today.year, today.month) <= month <= (last.year, last.month):
            turn.answer(t("This button is not valid."))
            return
        turn.answer()
        conv.data["ym"] = f"{month[0]}-{month[1]:02d}"
        await conversation.move(turn, conv, Step.DATE)
        await _redraw(turn, conv, message_id)
        return
    chosen = read_day(action)
    if chosen is None:
        turn.answer(t("This button is not valid."))
        return
    doctor = await _doctor(turn, conv)
    if doctor is None:
        return
    viewer = zone(_patient(turn).timezone)
    if chosen not in days_with_slots(await _free(turn, conv, doctor), viewer):
        turn.answer(t("No free times are left on that day."), alert=True)
        await conversation.move(turn, conv, Step.DATE)
        await _redraw(turn, conv, message_id)
        return
    turn.answer()
    conv.data.update(day=chosen.isoformat(), page=0)
    conv.data.pop("near", None)
    await _advance(turn, conv, Step.TIME, message_id, f"{chosen:%d.%m.%Y}")


async def _on_time(turn: Turn, conv: Conversation, action: str, message_id: int | None) -> None:
    t = turn.t
    if action == "back":
        turn.answer()
        conv.data.pop("near", None)
        await _advance(turn, conv, Step.DATE, message_id, None)
        return
    start = read_slot(action)
    doctor = await _doctor(turn, conv) if start else None
    if start is None or doctor is None:
        if start is None:
            turn.answer(t("This button is not valid."))
        return
    slots = await _free(turn, conv, doctor, around=start, offered_only=False)
    slot = next((s for s in slots if s.start == start), None)
    own = _patient(turn).id
    if slot is not None and await own_busy(turn.uow, own, slot, turn.now, _moving_id(conv)):
        turn.answer(
            t("You already have an appointment at that time. Please pick another time."),
            alert=True,
        )
        return
    if slot is None:
        turn.answer(t("Sorry, that time was just taken."), alert=True)
        conv.data["near"] = start.isoformat()
        conv.data["page"] = 0
        await conversation.move(turn, conv, Step.TIME)
        await _redraw(turn, conv, message_id)
        return
    turn.answer()
    conv.data["start"] = action
    conv.data.pop("near", None)
    next_step = Step.CONFIRM if conv.data.get("mode") == "move" else Step.REASON
    shown = when(start, _patient(turn).timezone, t.language)
    await _advance(turn, conv, next_step, message_id, shown)


async def _on_confirm(turn: Turn, conv: Conversation, action: str, message_id: int | None) -> None:
    t = turn.t
    if action == "stop":
        turn.answer()
        await conversation.end(turn)
        if message_id:
            turn.edit(message_id, cancelled_text(turn))
        return
    if action == "chg":
        turn.answer()
        await _advance(turn, conv, Step.DATE, message_id, None)
        return
    if action != "ok":
        turn.answer(t("This button is no longer active."))
        return
    start = read_slot(str(conv.data["start"]))
    assert start is not None
    patient = _patient(turn)
    moving = await _moving(turn, conv)
    try:
        if moving is not None:
            if moving.patient_id != patient.id:
                raise SlotUnavailable()
            if (await _move_terms(turn, conv, moving)).code != conv.data.get("terms", "-"):
                # The start came close enough since the question to change what the move means
                # for the money: ask again rather than apply other terms unannounced.
                turn.answer(
                    t(
                        "What moving means has changed since you asked (the start is closer "
                        "now). Please check again."
                    ),
                    alert=True,
                )
                await _ask_confirm(turn, conv)
                return
            appointment = await reschedule(turn.uow, moving, start, turn.now)
        else:
            reason = conv.data.get("reason")
            doctor = await turn.uow.doctors.get(int(conv.data["doc"]))
            paid = doctor is not None and payments.payment_needed(turn, doctor)
            appointment = await book(
                turn.uow,
                int(conv.data["doc"]),
                patient,
                start,
                str(reason) if reason else None,
                turn.now,
                hold_until=turn.now + turn.config.hold_for if paid else None,
            )
    except SlotUnavailable:
        turn.answer(t("Sorry, that time was just taken."), alert=True)
        if message_id:
            turn.edit(message_id, t("Sorry, that time was just taken by someone else."))
        conv.data.update(near=start.isoformat(), page=0)
        await conversation.move(turn, conv, Step.TIME)
        await _ask_time(turn, conv)
        return
    except PatientBusy:
        turn.answer()
        turn.reply(t("You already have an appointment at that time. Please pick another time."))
        await conversation.move(turn, conv, Step.DATE)
        await _ask_date(turn, conv)
        return
    except DoctorUnavailable:
        turn.answer()
        await conversation.end(turn)
        turn.reply(
            t("This doctor is not taking bookings at the moment. Send /book to start again.")
        )
        return
    await conversation.end(turn)
    turn.answer(t("Done"))
    if appointment.status == Status.HELD:
        if message_id:
            shown = when(appointment.starts_at, patient.timezone, t.language)
            turn.edit(message_id, t("⏳ Held for you: {when}", when=shown))
        payments.hold_and_invoice(turn, appointment)
        return
    _announce(turn, appointment, moving, message_id)


def announce_booked(turn: Turn, appointment: Appointment) -> None:
    """The patient's "Booked!" with the calendar file, and the doctor's notice (after a
    payment confirmed a held time, too)."""
    _announce(turn, appointment, None, None)


def _announce(
    turn: Turn, appointment: Appointment, moved_from: Appointment | None, message_id: int | None
) -> None:
    t, patient, doctor = turn.t, _patient(turn), appointment.doctor
    language = t.language
    shown = when(appointment.starts_at, patient.timezone, language)
    if message_id:
        turn.edit(message_id, t("✅ Confirmed: {when}", when=shown))
    if moved_from is None:
        turn.reply(
            t(
                "Booked! Your consultation with <b>{doctor}</b> is on <b>{when}</b> ({zone}). "
                "The calendar file below adds it to your calendar. See or change it with "
                "/appointments.",
                doctor=doctor.user.full_name or "?",
                when=shown,
                zone=patient.timezone,
            )
        )
    else:
        turn.reply(
            t(
                "Moved! Your consultation with <b>{doctor}</b> is now on <b>{when}</b> ({zone}).",
                doctor=doctor.user.full_name or "?",
                when=shown,
                zone=patient.timezone,
            )
        )
    turn.send_document(
        appointment_ics(
            appointment.id,
            appointment.starts_at,
            appointment.ends_at,
            plain(t("Consultation with {doctor}", doctor=doctor.user.full_name or "?")),
            t("Online consultation through the clinic's Telegram bot."),
            turn.config.bot_username,
            turn.now,
        )
    )
    turn.notify(
        doctor.user.telegram_id,
        _doctor_notice(translator(doctor.user.language), doctor, patient, appointment, moved_from),
    )


def _doctor_notice(
    t: Translator,
    doctor: Doctor,
    patient: User,
    appointment: Appointment,
    moved_from: Appointment | None,
) -> str:
    """In the doctor's language and zone; lock-screen safe: who and when, never the reason
    (the doctor reads that in /agenda)."""
    doctor_zone, language = doctor.user.timezone, doctor.user.language
    new = when(appointment.starts_at, doctor_zone, language)
    if moved_from is None:
        return t(
            "New booking: {patient} on {when} ({zone}).",
            patient=patient.full_name or "?",
            when=new,
            zone=doctor_zone,
        )
    return t(
        "Rescheduled: {patient} moved from {old} to {new} ({zone}).",
        patient=patient.full_name or "?",
        old=when(moved_from.starts_at, doctor_zone, language),
        new=new,
        zone=doctor_zone,
    )
