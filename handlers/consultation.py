"""The visit: the doctor opens it, both talk through the bot, either asks for a video room.

Every message crosses with copyMessage, so neither side sees the other's Telegram account.
Where a message goes is decided from the stored mapping of relayed messages (a reply), the
doctor's chosen current consultation, or the only open one; with two open and no choice made,
the doctor is asked. Buttons here are stateless ("cs:-:<verb>:<id>") and every press checks
that the presser takes part in that consultation.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clinic.appointments import InvalidTransition, Status, transition
from clinic.consultation_rules import OutsideWindow, check_opening_window, reference_for
from clinic.roles import Role
from handlers import callbacks
from handlers.formatting import when
from handlers.i18n import Translator, plain, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import CopyOut, EditCopy, Turn
from storage.models import Appointment, Consultation, Doctor, RelayedMessage, User

BUTTONS = "cs"
TO_DOCTOR, TO_PATIENT = "to_doctor", "to_patient"
DOCTOR_SIDE, PATIENT_SIDE = Role.DOCTOR.value, Role.PATIENT.value
# Flows that stay when a visit opens: the PIN step (a PIN must never be relayed), a doctor's
# wrap-up draft, and messages waiting for their recipient. Any other half-finished flow would
# catch the text meant for the other side, so it ends. (wrap_up.FLOW, pin.FLOW and
# recipient_choice.FLOW; those modules import this one.)
WRAP_UP_FLOW, PIN_FLOW, CHOICE_FLOW = "wu", "pin", "cp"
KEPT_FLOWS = frozenset({WRAP_UP_FLOW, PIN_FLOW, CHOICE_FLOW})
ENDED, ASKING_PIN = "ended", "asking_pin"


def _pack(verb: str, ident: int | str) -> str:
    return callbacks.pack(BUTTONS, "", verb, str(ident))


def video_button(t: Translator, consultation: Consultation) -> InlineKeyboard:
    return InlineKeyboard(((InlineButton(t("🎥 Video call"), _pack("video", consultation.id)),),))


async def _doctor_of(turn: Turn) -> Doctor | None:
    if turn.user is None or turn.user.role != Role.DOCTOR.value:
        return None
    return await turn.uow.doctors.by_user(turn.user.id)


# Opening ------------------------------------------------------------------------------------


async def open_visit(turn: Turn, appointment: Appointment) -> None:
    t = turn.t
    doctor = await _doctor_of(turn)
    if doctor is None or appointment.doctor_id != doctor.id:
        turn.answer(t("This button is not valid."))
        return
    existing = await turn.uow.consultations.by_appointment(appointment.id)
    if existing is not None and existing.closed_at is None:
        turn.answer(t("This consultation is already open."))
        return
    if turn.conversation is not None and turn.conversation.flow == WRAP_UP_FLOW:
        # A wrap-up reads what the doctor types next: in a new visit that would put words
        # meant for this patient into the other patient's summary.
        turn.answer(
            t(
                "Finish the wrap-up you started first (send /end to see it; your draft is "
                "kept), or leave it with /cancel. Then open this consultation."
            ),
            alert=True,
        )
        return
    try:
        check_opening_window(appointment.starts_at, appointment.ends_at, turn.now)
        appointment.status = transition(appointment.status, Status.IN_CONSULTATION).value
    except OutsideWindow as early_or_late:
        text = (
            t("It is too early: you can open this consultation 10 minutes before it starts.")
            if early_or_late.too_early
            else t("This consultation's time has passed.")
        )
        turn.answer(text, alert=True)
        return
    except InvalidTransition:
        turn.answer(t("This appointment can no longer be opened."), alert=True)
        return
    appointment.updated_at = turn.now
    consultation = Consultation(
        appointment_id=appointment.id,
        reference=reference_for(appointment.id, appointment.starts_at),
        opened_at=turn.now,
        header_to_patient=False,
        header_to_doctor=False,
    )
    turn.uow.consultations.add(consultation)
    await turn.uow.flush()
    await turn.uow.consultations.set_focus(doctor.id, consultation.id)
    turn.answer()
    patient = appointment.patient
    doctor_flow_ended = await _end_other_flow(turn, turn.event.user_id)
    patient_flow_ended = await _end_other_flow(turn, patient.telegram_id)
    others = [
        c
        for c in await turn.uow.consultations.open_for_doctor(doctor.id)
        if c.id != consultation.id
    ]
    text = t(
        "Consultation with {patient} is open (ref. {reference}). What you send here now goes to "
        "the patient, without your Telegram account. Send /end to wrap up.",
        patient=patient.full_name or "?",
        reference=consultation.reference,
    )
    if others:
        text += "\n\n" + t(
            "You have other open consultations: reply to one of their messages to answer them, "
            "or switch with the buttons."
        )
    if doctor_flow_ended == ENDED:
        text += "\n\n" + t(
            "The command you had not finished was closed, so that what you type now reaches "
            "the patient."
        )
    elif doctor_flow_ended == ASKING_PIN:
        text += "\n\n" + t(
            "You were being asked for your PIN: type it, or send /cancel, before you write to "
            "the patient."
        )
    turn.reply(text, _doctor_keyboard(t, consultation, [consultation, *others]))
    turn.notify(
        patient.telegram_id,
        _doctor_joined(
            translator(patient.language), doctor.user.full_name or "?", patient_flow_ended
        ),
        video_button(translator(patient.language), consultation),
    )


async def _end_other_flow(turn: Turn, telegram_id: int) -> str | None:
    """End the user's half-finished flow unless it is one a visit keeps: ENDED if one ended,
    ASKING_PIN if a PIN step stays (it will take the next message), else None."""
    if telegram_id == turn.event.user_id:
        current = turn.conversation
    else:
        current = await turn.uow.conversations.get(telegram_id)
    if current is None:
        return None
    if current.flow in KEPT_FLOWS:
        return ASKING_PIN if current.flow == PIN_FLOW else None
    await turn.uow.conversations.clear(telegram_id)
    if telegram_id == turn.event.user_id:
        turn.conversation = None
    return ENDED


def _doctor_joined(t: Translator, doctor: str, flow_ended: str | None) -> str:
    text = t(
        "{doctor} has joined your consultation. Write here: your messages, photos and "
        "documents go to the doctor.",
        doctor=doctor,
    )
    if flow_ended == ENDED:
        text += "\n\n" + t(
            "The command you had not finished was closed, so that what you type now reaches "
            "the doctor."
        )
    elif flow_ended == ASKING_PIN:
        text += "\n\n" + t(
            "You were being asked for your PIN: type it, or send /cancel, before you write to "
            "the doctor."
        )
    return text


def _doctor_keyboard(
    t: Translator, current: Consultation, open_ones: Sequence[Consultation]
) -> InlineKeyboard:
    rows = [(InlineButton(t("🎥 Video call"), _pack("video", current.id)),)]
    if len(open_ones) > 1:
        for consultation in open_ones:
            if consultation.id != current.id:
                name = consultation.appointment.patient.full_name or "?"
                label = t("Talk to {patient}", patient=name)
                rows.append((InlineButton(plain(label), _pack("focus", consultation.id)),))
    return InlineKeyboard(tuple(rows))


# Buttons ------------------------------------------------------------------------------------


async def _participant(turn: Turn, consultation_id: str) -> tuple[Consultation, str] | None:
    """The open consultation and the presser's side of it, or None."""
    if not consultation_id.isdigit() or turn.user is None:
        return None
    consultation = await turn.uow.consultations.get(int(consultation_id))
    if consultation is None:
        return None
    appointment = consultation.appointment
    if appointment.patient.telegram_id == turn.event.user_id:
        return consultation, Role.PATIENT.value
    if appointment.doctor.user.telegram_id == turn.event.user_id:
        return consultation, Role.DOCTOR.value
    return None


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t, verb = turn.t, callback.step
    if verb == "open":
        appointment = (
            await turn.uow.appointments.get(int(callback.action))
            if callback.action.isdigit()
            else None
        )
        if appointment is None:
            turn.answer(t("This button is not valid."))
            return
        await open_visit(turn, appointment)
        return
    found = await _participant(turn, callback.action)
    if found is None:
        turn.answer(t("This button is not valid."))
        return
    consultation, side = found
    if consultation.closed_at is not None:
        turn.answer(t("This consultation has ended."), alert=True)
        return
    if verb == "video":
        await _video(turn, consultation, side)
    elif verb == "focus" and side == Role.DOCTOR.value:
        doctor_id = consultation.appointment.doctor_id
        await turn.uow.consultations.set_focus(doctor_id, consultation.id)
        name = consultation.appointment.patient.full_name or "?"
        turn.answer()
        # With the buttons to switch again: the way back is never only in an older message.
        others = list(await turn.uow.consultations.open_for_doctor(doctor_id))
        turn.reply(
            t("Your messages now go to {patient}.", patient=name),
            _doctor_keyboard(t, consultation, others),
        )
    else:
        turn.answer(t("This button is not valid."))


async def _video(turn: Turn, consultation: Consultation, side: str) -> None:
    t = turn.t
    first_request = not consultation.video_room
    if first_request:
        # Unguessable: 128 bits of randomness; the call itself never passes through the bot.
        consultation.video_room = f"clinic-{secrets.token_urlsafe(16)}"
    link = f"{turn.config.video_base_url.rstrip('/')}/{consultation.video_room}"
    turn.answer()
    turn.reply(t("Video room for this consultation: {link}", link=link))
    if not first_request:
        return  # the other side has this link already; asking again just shows it again
    appointment = consultation.appointment
    other: User = appointment.doctor.user if side == Role.PATIENT.value else appointment.patient
    turn.notify(other.telegram_id, _video_opened(translator(other.language), link))


def _video_opened(t: Translator, link: str) -> str:
    return t("The other side opened a video room for your consultation: {link}", link=link)


# Messages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageParts:
    """What the record keeps of a relayed message: its kind, text or caption, and file ids."""

    kind: str
    content: str | None
    files: list[str] = field(default_factory=list)
    album: str | None = None

    @classmethod
    def from_event(cls, turn: Turn) -> MessageParts:
        event = turn.event
        album = event.media_group_id
        if event.attachments:
            first = event.attachments[0]
            return cls(first.kind, event.caption, [a.file_id for a in event.attachments], album)
        if event.location is not None:
            location = f"{event.location.latitude},{event.location.longitude}"
            return cls("location", location, [], album)
        if event.contact is not None:
            return cls("contact", event.contact.phone_number, [], album)
        return cls("text", event.text, [], album)

    def as_data(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "content": self.content,
            "files": self.files,
            "album": self.album,
        }

    @classmethod
    def of(cls, data: Mapping[str, object]) -> MessageParts:
        content, album, files = data.get("content"), data.get("album"), data.get("files")
        return cls(
            str(data.get("kind") or "text"),
            str(content) if content is not None else None,
            [str(f) for f in files] if isinstance(files, list) else [],
            str(album) if album is not None else None,
        )


async def open_ones(turn: Turn) -> tuple[list[Consultation], str] | None:
    if turn.user is None:
        return None
    if turn.user.role == Role.DOCTOR.value:
        doctor = await _doctor_of(turn)
        if doctor is None:
            return None
        return list(await turn.uow.consultations.open_for_doctor(doctor.id)), Role.DOCTOR.value
    return list(await turn.uow.consultations.open_for_patient(turn.user.id)), Role.PATIENT.value


async def on_message(turn: Turn) -> bool:
    """Relay the message if the sender has an open consultation; False if there is none."""
    found = await open_ones(turn)
    if not found or not found[0]:
        return False
    candidates, side = found
    event = turn.event
    assert event.message_id is not None
    if event.reply_to_message_id is not None:
        mapped = await turn.uow.consultations.relayed_at(event.chat_id, event.reply_to_message_id)
        target = next((c for c in candidates if mapped and c.id == mapped.consultation_id), None)
        if mapped is not None and target is not None:
            other_side = (
                mapped.copy_message_id
                if mapped.source_chat_id == event.chat_id
                else mapped.source_message_id
            )
            await forward(turn, target, side, event.message_id, other_side)
            return True
    if len(candidates) == 1:
        await forward(turn, candidates[0], side, event.message_id, None)
        return True
    if side == DOCTOR_SIDE:
        focus = await turn.uow.consultations.focus(candidates[0].appointment.doctor_id)
        target = next((c for c in candidates if c.id == focus), None)
        if target is not None:
            await forward(turn, target, side, event.message_id, None)
            return True
    # Two open and nothing says which: ask, never guess; the message waits for the answer.
    from handlers import recipient_choice  # it builds on this module

    await recipient_choice.hold(turn, candidates, side, MessageParts.from_event(turn))
    return True


def recipient_name(consultation: Consultation, side: str) -> str:
    """Who gets what `side` sends in this consultation."""
    appointment = consultation.appointment
    name = (
        appointment.patient.full_name if side == DOCTOR_SIDE else appointment.doctor.user.full_name
    )
    return name or "?"


def other_name(t: Translator, consultation: Consultation, side: str) -> str:
    return t("To {name}", name=recipient_name(consultation, side))


async def forward(
    turn: Turn,
    consultation: Consultation,
    side: str,
    message_id: int,
    reply_to: int | None,
    parts: MessageParts | None = None,
) -> None:
    """Copy the sender's message `message_id` to the other side and log it; `parts` is what
    it held when it is not the current event (a message that waited for its recipient)."""
    appointment = consultation.appointment
    to_doctor = side == PATIENT_SIDE
    recipient: User = appointment.doctor.user if to_doctor else appointment.patient
    parts = parts or MessageParts.from_event(turn)
    kind, content, files = parts.kind, parts.content, parts.files
    relayed = RelayedMessage(
        consultation_id=consultation.id,
        direction=TO_DOCTOR if to_doctor else TO_PATIENT,
        kind=kind,
        source_chat_id=turn.event.chat_id,
        source_message_id=message_id,
        content=content,
        files=json.dumps(files) if files else None,
        delivered=True,
        created_at=turn.now,
    )
    turn.uow.consultations.add_relayed(relayed)
    await turn.uow.flush()
    header = None
    if to_doctor and not consultation.header_to_doctor:
        consultation.header_to_doctor = True
        header = _header(translator(recipient.language), consultation, to_doctor)
    elif not to_doctor and not consultation.header_to_patient:
        consultation.header_to_patient = True
        header = _header(translator(recipient.language), consultation, to_doctor)
    turn.relay(
        CopyOut(
            relayed_id=relayed.id,
            to_chat=recipient.telegram_id,
            from_chat=turn.event.chat_id,
            message_id=message_id,
            reply_to=reply_to,
            header=header,
            kind=kind,
            file_id=files[0] if files else None,
            album=parts.album,
            undelivered_text=turn.t(
                "Your message could not be delivered: the other side has blocked the bot or "
                "cannot receive it. It is kept in the consultation record."
            ),
        )
    )


def _header(t: Translator, consultation: Consultation, to_doctor: bool) -> str:
    """Introduces the first relayed message of a visit: who, and which appointment."""
    appointment = consultation.appointment
    if to_doctor:
        return t(
            "💬 {patient} · appointment {reference}",
            patient=appointment.patient.full_name or "?",
            reference=consultation.reference,
        )
    return t(
        "💬 {doctor} · appointment {reference}",
        doctor=appointment.doctor.user.full_name or "?",
        reference=consultation.reference,
    )


async def on_edit(turn: Turn) -> bool:
    """An edit of a relayed text or caption edits the copy; False if it was not relayed."""
    event = turn.event
    if event.message_id is None:
        return False
    relayed = await turn.uow.consultations.relayed_at(event.chat_id, event.message_id)
    if relayed is None or relayed.source_chat_id != event.chat_id:
        return False
    new_text = event.text if event.text is not None else event.caption
    if new_text is None or relayed.copy_message_id is None or relayed.copy_chat_id is None:
        return True
    relayed.content = new_text
    relayed.edited_at = turn.now
    turn.relay(
        EditCopy(
            to_chat=relayed.copy_chat_id,
            message_id=relayed.copy_message_id,
            text=html.escape(new_text, quote=False),
            caption=event.text is None,
        )
    )
    return True


async def nothing_open(turn: Turn) -> None:
    """A message with no consultation open: say what the sender can do, never stay silent."""
    t, user = turn.t, turn.user
    if user is not None and user.role == Role.DOCTOR.value:
        turn.reply(t("No consultation is open. Open one from /agenda when it is time."))
        return
    if user is None or user.role != Role.PATIENT.value:
        turn.reply(t("Send /help to see what you can do here."))
        return
    booked = [
        a
        for a in await turn.uow.appointments.of_patient(user.id)
        if a.status == Status.BOOKED and a.ends_at > turn.now
    ]
    current = [a for a in booked if a.starts_at <= turn.now]
    if current:
        # The visit is due now but the doctor has not opened it yet.
        turn.reply(
            t(
                "Your consultation with {doctor} is due now, but the doctor has not opened it "
                "yet, so this message was not sent. You will get a message here the moment the "
                "doctor joins; please write again then.",
                doctor=current[0].doctor.user.full_name or "?",
            )
        )
    elif booked:
        nxt = min(booked, key=lambda a: a.starts_at)
        turn.reply(
            t(
                "No consultation is open right now, so this message was not sent to anyone. "
                "Your next appointment is with {doctor} on {when} ({zone}); your doctor opens "
                "the chat then. See /appointments, or /book another.",
                doctor=nxt.doctor.user.full_name or "?",
                when=when(nxt.starts_at, user.timezone, t.language),
                zone=user.timezone,
            )
        )
    else:
        turn.reply(
            t(
                "No consultation is open right now, so this message was not sent to anyone. "
                "Send /book to book one, or /help to see what you can do."
            )
        )
