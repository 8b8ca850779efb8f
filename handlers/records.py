"""/records: a patient's own record, and for a doctor the records of their own patients.

A patient sees their finished consultations (newest first: date, doctor, reference, summary)
with "Chat history" and "Prescriptions" buttons, and the documents they added with /upload.
A doctor sees the patients who have or had an appointment with them; each opens that patient's
record the same way, plus the doctor's own private notes. Private notes never reach a patient.

Buttons here are stateless ("rc:-:<verb>:<id>"). Callback data is untrusted: every press
reloads the target, re-checks the presser's role and their relationship to the patient in the
database, and is written to the audit log (who, whose, what, when, allowed or not).
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from babel.dates import format_date

from clinic.retention import chat_past_retention
from clinic.roles import Role
from clinic.timezones import zone as zone_info
from handlers import callbacks
from handlers.formatting import clock, when
from handlers.i18n import Html, Translator, plain
from handlers.port import InlineButton, InlineKeyboard
from handlers.prescription_pdf import prescription_item, prescription_pdf
from handlers.turn import Turn
from storage.models import Consultation, Doctor, RecordDocument, RelayedMessage, User

BUTTONS = "rc"
LIMIT = 4000  # one message's text, kept under Telegram's 4,096 characters
CONSULTATIONS_SHOWN = 20
DOCUMENTS_SHOWN = 20
PATIENTS_SHOWN = 90
LABEL_CHARS = 40
MAX_ID = 2**31 - 1  # ids are 32-bit columns: a bigger number from forged data names nothing

# What each read is called in the audit log.
LIST, PATIENTS, PATIENT = "records.list", "records.patients", "records.patient"
CHAT, PRESCRIPTIONS, DOCUMENT = "records.chat", "records.prescriptions", "records.document"
PDF = "records.pdf"


def _pack(verb: str, ident: int) -> str:
    return callbacks.pack(BUTTONS, "", verb, str(ident))


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class _Reader:
    """Someone allowed to read one patient's record: the patient, or one of their doctors."""

    user: User
    doctor: Doctor | None = None


def _audit(turn: Turn, subject: int | None, action: str, target: str | None, allowed: bool) -> None:
    turn.uow.audit.record(turn.event.user_id, subject, action, target, allowed, turn.now)


async def _doctor_of(turn: Turn) -> Doctor | None:
    user = turn.user
    if user is None or user.role != Role.DOCTOR.value:
        return None
    doctor = await turn.uow.doctors.by_user(user.id)
    return doctor if doctor is not None and doctor.status == "approved" else None


async def _reader_for(turn: Turn, patient_id: int) -> _Reader | None:
    """The presser, if the database says they may read this patient's record; else None."""
    user = turn.user
    if user is None or user.registered_at is None:
        return None
    if user.role == Role.PATIENT.value:
        return _Reader(user) if user.id == patient_id else None
    doctor = await _doctor_of(turn)
    if doctor is not None and await turn.uow.consultations.doctor_knows_patient(
        doctor.id, patient_id
    ):
        return _Reader(user, doctor)
    return None


# Splitting long texts ------------------------------------------------------------------------


def _escaped_pieces(raw: str, budget: int) -> list[str]:
    """The raw text HTML-escaped, cut into pieces of at most `budget` characters each
    (never inside an escape), preferring to cut at a line break or a space."""
    whole = html.escape(raw, quote=False)
    if len(whole) <= budget:
        return [whole]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in raw:
        escaped = html.escape(char, quote=False)
        if size + len(escaped) > budget:
            cut = _cut_point(current)
            pieces.append("".join(current[:cut]))
            current = current[cut:]
            size = sum(len(c) for c in current)
        current.append(escaped)
        size += len(escaped)
    if current:
        pieces.append("".join(current))
    return pieces


def _cut_point(chars: list[str]) -> int:
    for index in range(len(chars) - 1, max(0, len(chars) - 200), -1):
        if chars[index] in ("\n", " "):
            return index + 1
    return len(chars)


def _block(head: str, raw: str | None) -> list[str]:
    """HTML blocks of at most LIMIT characters: `head` (HTML) and then `raw` escaped."""
    if not raw:
        return [head]
    pieces = _escaped_pieces(raw, LIMIT - len(head) - 1)
    return [f"{head}\n{pieces[0]}", *pieces[1:]]


def _messages(blocks: Sequence[str], separator: str = "\n\n") -> list[str]:
    """Blocks packed in order into as few messages as fit under LIMIT characters each."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        if current and len(current) + len(separator) + len(block) > LIMIT:
            messages.append(current)
            current = ""
        current = f"{current}{separator}{block}" if current else block
    if current:
        messages.append(current)
    return messages


# /records -------------------------------------------------------------------------------------


async def show(turn: Turn) -> None:
    t, user = turn.t, turn.user
    if user is None:
        turn.reply(t("Please register first: send /start."))
        return
    if user.role == Role.DOCTOR.value:
        await _show_patients(turn)
        return
    _audit(turn, user.id, LIST, None, True)
    await _show_record(turn, _Reader(user), user)


def _patient_name(t: Translator, patient: User) -> str:
    """An erased patient (/delete_me) has no name; what the clinic keeps stays readable."""
    if patient.erased_at is not None:
        return t("(erased patient)")
    return patient.full_name or "?"


async def _show_patients(turn: Turn) -> None:
    t = turn.t
    doctor = await _doctor_of(turn)
    if doctor is None:
        _audit(turn, None, PATIENTS, None, False)
        turn.reply(t("Patient records open once your doctor profile is approved."))
        return
    _audit(turn, None, PATIENTS, None, True)
    patients = sorted(
        await turn.uow.consultations.patients_of_doctor(doctor.id),
        key=lambda p: (p.erased_at is not None, (p.full_name or "").casefold(), p.id),
    )
    if not patients:
        turn.reply(t("No patient has booked with you yet, so there are no records to show."))
        return
    rows = tuple(
        (InlineButton(_short(_patient_name(t, p)), _pack("pt", p.id)),)
        for p in patients[:PATIENTS_SHOWN]
    )
    turn.reply(
        t("Your patients ({count}). Tap one to open their record.", count=len(patients)),
        InlineKeyboard(rows),
    )


async def _show_record(turn: Turn, reader: _Reader, patient: User) -> None:
    t = turn.t
    uow = turn.uow
    consultations = await uow.consultations.closed_for_patient(patient.id, CONSULTATIONS_SHOWN)
    documents = list(await uow.consultations.documents(patient.id))[:DOCUMENTS_SHOWN]
    if reader.doctor is not None:
        turn.reply(t("Record of {patient}:", patient=_patient_name(t, patient)))
    elif not consultations and not documents:
        turn.reply(
            t(
                "Your record is empty so far. Finished consultations appear here with their "
                "summary, chat and prescriptions. Send /upload to add a lab report or a scan."
            )
        )
        return
    else:
        turn.reply(t("Your records, newest first:"))
    if not consultations:
        turn.reply(t("No finished consultations yet."))
    for consultation in consultations:
        keyboard = InlineKeyboard(
            (
                (
                    InlineButton(t("Chat history"), _pack("chat", consultation.id)),
                    InlineButton(t("Prescriptions"), _pack("rx", consultation.id)),
                ),
            )
        )
        parts = _messages(_card(t, reader, consultation))
        for part in parts[:-1]:
            turn.reply(part)
        turn.reply(parts[-1], keyboard)
    if documents:
        _documents(turn, reader, documents)
    elif reader.doctor is None:
        turn.reply(
            t("You have not added any documents. Send /upload to add a lab report or a scan.")
        )


def _card(t: Translator, reader: _Reader, consultation: Consultation) -> list[str]:
    appointment = consultation.appointment
    zone = reader.user.timezone
    head = t(
        "<b>{when}</b> ({zone})\n{doctor} · ref. {reference}",
        when=when(consultation.opened_at, zone, t.language),
        zone=zone,
        doctor=appointment.doctor.user.full_name or "?",
        reference=consultation.reference,
    )
    blocks = [head]
    if consultation.summary:
        blocks += _block(t("<b>Summary</b>"), consultation.summary)
    else:
        blocks.append(t("No summary was written."))
    own_visit = reader.doctor is not None and appointment.doctor_id == reader.doctor.id
    if own_visit and consultation.private_notes:
        blocks += _block(
            t("🔒 <b>Your private notes</b> (never shown to the patient)"),
            consultation.private_notes,
        )
    return blocks


def _documents(turn: Turn, reader: _Reader, documents: Sequence[RecordDocument]) -> None:
    t = turn.t
    zone = reader.user.timezone
    lines = []
    rows = []
    for number, document in enumerate(documents, start=1):
        name = document.file_name or (t("photo") if document.kind == "photo" else t("document"))
        line = t(
            "{number}. {name} — added {when}",
            number=number,
            name=_short(name),
            when=when(document.created_at, zone, t.language),
        )
        if document.caption:
            line += "\n" + t("“{caption}”", caption=_short(document.caption, 200))
        lines.append(line)
        label = t("📎 {number}. {name}", number=number, name=_short(name))
        rows.append((InlineButton(plain(label), _pack("doc", document.id)),))
    heading = (
        t("Documents the patient added:")
        if reader.doctor is not None
        else t("Documents you added (tap one to get the file again):")
    )
    parts = _messages([heading, *lines], "\n")
    for part in parts[:-1]:
        turn.reply(part)
    turn.reply(parts[-1], InlineKeyboard(tuple(rows)))


# Buttons --------------------------------------------------------------------------------------


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    verb, ident = callback.step, callback.action
    action = {
        "pt": PATIENT,
        "chat": CHAT,
        "rx": PRESCRIPTIONS,
        "pdf": PDF,
        "doc": DOCUMENT,
    }.get(verb)
    if action is None or not ident.isdigit() or int(ident) > MAX_ID:
        await _refuse(turn, None, action or "records.unknown", f"{verb}:{ident}")
        return
    number = int(ident)
    if verb == "pt":
        await _open_patient(turn, number)
    elif verb == "doc":
        await _send_document(turn, number)
    else:
        consultation = await turn.uow.consultations.get(number)
        if consultation is None:
            await _refuse(turn, None, action, f"consultation:{number}")
            return
        patient_id = consultation.appointment.patient_id
        reader = await _reader_for(turn, patient_id)
        if reader is None:
            await _refuse(turn, patient_id, action, f"consultation:{number}")
            return
        _audit(turn, patient_id, action, f"consultation:{number}", True)
        turn.answer()
        if verb == "chat":
            await _chat_history(turn, reader, consultation)
        elif verb == "rx":
            await _prescriptions(turn, reader, consultation)
        else:
            await _pdf_again(turn, consultation)


async def _refuse(turn: Turn, subject: int | None, action: str, target: str) -> None:
    _audit(turn, subject, action, target[:64], False)
    turn.answer(turn.t("This button is not valid."))


async def _open_patient(turn: Turn, patient_id: int) -> None:
    target = f"user:{patient_id}"
    reader = await _reader_for(turn, patient_id)
    patient = await turn.uow.consultations.patient(patient_id) if reader is not None else None
    if reader is None or patient is None:
        await _refuse(turn, patient_id, PATIENT, target)
        return
    _audit(turn, patient_id, PATIENT, target, True)
    turn.answer()
    await _show_record(turn, reader, patient)


async def _send_document(turn: Turn, document_id: int) -> None:
    target = f"document:{document_id}"
    document = await turn.uow.consultations.document(document_id)
    if document is None:
        await _refuse(turn, None, DOCUMENT, target)
        return
    reader = await _reader_for(turn, document.patient_id)
    if reader is None:
        await _refuse(turn, document.patient_id, DOCUMENT, target)
        return
    _audit(turn, document.patient_id, DOCUMENT, target, True)
    turn.answer()
    # Telegram counts a caption's 1,024 characters after parsing: cut the text, then escape.
    caption = html.escape(document.caption[:1024], quote=False) if document.caption else None
    kind = "photo" if document.kind == "photo" else "document"
    turn.send_stored_file(document.file_id, kind, caption)


# Chat history ---------------------------------------------------------------------------------


async def _chat_history(turn: Turn, reader: _Reader, consultation: Consultation) -> None:
    t = turn.t
    appointment = consultation.appointment
    zone = reader.user.timezone
    heading = t(
        "Chat of the consultation on {when} ({zone}), ref. {reference}:",
        when=when(consultation.opened_at, zone, t.language),
        zone=zone,
        reference=consultation.reference,
    )
    log = await turn.uow.consultations.chat_log(consultation.id)
    if not log:
        days = turn.config.chat_log_retention_days
        if chat_past_retention(consultation.closed_at, turn.now, days):
            empty = t(
                "This chat is no longer kept: the clinic deletes a consultation's chat {days} "
                "days after it ends.",
                days=days,
            )
        else:
            empty = t("No messages were exchanged in this consultation.")
        turn.reply(heading + "\n\n" + empty)
        return
    patient_name = appointment.patient.full_name or "?"
    doctor_name = appointment.doctor.user.full_name or "?"
    blocks = [heading]
    for message in log:
        from_patient = message.direction == "to_doctor"
        sender_is_reader = (from_patient and reader.doctor is None) or (
            not from_patient
            and reader.doctor is not None
            and reader.doctor.id == appointment.doctor_id
        )
        name = patient_name if from_patient else doctor_name
        if sender_is_reader:
            name = t("You")
        head = t(
            "<b>{name}</b> · {time}",
            name=Html(name) if sender_is_reader else name,
            time=clock(message.created_at, zone, t.language),
        )
        if message.edited_at is not None:
            head += " " + t("(edited)")
        if not message.delivered:
            head += " " + t("(not delivered)")
        marker = _marker(t, message)
        if marker:
            head += "\n" + marker
        text = message.content if message.kind not in ("location", "contact") else None
        blocks += _block(head, text)
    for part in _messages(blocks):
        turn.reply(part)


def _file_names(message: RelayedMessage) -> list[str]:
    """Names recorded with the relayed files, when the chat log kept them."""
    if not message.files:
        return []
    try:
        files = json.loads(message.files)
    except ValueError:
        return []
    if not isinstance(files, list):
        return []
    names = []
    for entry in files:
        if isinstance(entry, dict):
            name = entry.get("file_name") or entry.get("name")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def _marker(t: Translator, message: RelayedMessage) -> str:
    kind = message.kind
    if kind == "text":
        return ""
    if kind == "photo":
        return t("[photo]")
    if kind == "document":
        names = _file_names(message)
        return t("[document: {name}]", name=", ".join(names)) if names else t("[document]")
    markers = {
        "voice": t("[voice message]"),
        "audio": t("[audio]"),
        "video": t("[video]"),
        "video_note": t("[video message]"),
        "sticker": t("[sticker]"),
        "animation": t("[animation]"),
        "location": t("[location]"),
        "contact": t("[contact]"),
    }
    return markers.get(kind, t("[attachment]"))


# Prescriptions --------------------------------------------------------------------------------


async def _prescriptions(turn: Turn, reader: _Reader, consultation: Consultation) -> None:
    t = turn.t
    zone = reader.user.timezone
    heading = t(
        "Prescriptions of the consultation on {when} ({zone}), ref. {reference}:",
        when=when(consultation.opened_at, zone, t.language),
        zone=zone,
        reference=consultation.reference,
    )
    prescriptions = await turn.uow.consultations.prescriptions(consultation.id)
    again = InlineKeyboard(((InlineButton(t("📄 PDF again"), _pack("pdf", consultation.id)),),))
    if not prescriptions:
        turn.reply(
            heading + "\n\n" + t("No prescriptions were written in this consultation."), again
        )
        return
    blocks = [heading]
    for number, item in enumerate(prescriptions, start=1):
        line = t(
            "{number}. <b>{medicine}</b> {strength}\n{dose}, {frequency}, for {duration}",
            number=number,
            medicine=item.medicine,
            strength=item.strength,
            dose=item.dose,
            frequency=item.frequency,
            duration=item.duration,
        )
        if len(line) <= LIMIT:
            blocks.append(line)
        else:  # only with absurdly long fields: the same, without bold, cut into pieces
            unformatted = t(
                "{number}. {medicine} {strength}\n{dose}, {frequency}, for {duration}",
                number=number,
                medicine=item.medicine,
                strength=item.strength,
                dose=item.dose,
                frequency=item.frequency,
                duration=item.duration,
            )
            blocks += _escaped_pieces(plain(unformatted), LIMIT)
        if item.instructions:
            blocks += _block(t("<i>Instructions</i>"), item.instructions)
    parts = _messages(blocks)
    for part in parts[:-1]:
        turn.reply(part)
    turn.reply(parts[-1], again)


async def _pdf_again(turn: Turn, consultation: Consultation) -> None:
    """The same PDF the wrap-up sent (summary and prescriptions), drawn again from the record."""
    t = turn.t
    appointment = consultation.appointment
    patient, doctor = appointment.patient, appointment.doctor
    issued = consultation.closed_at or consultation.opened_at
    items = [
        prescription_item(p) for p in await turn.uow.consultations.prescriptions(consultation.id)
    ]
    # Drawing takes a moment of CPU: off the event loop, from plain values only.
    document = await asyncio.to_thread(
        functools.partial(
            prescription_pdf,
            t,
            clinic_name=turn.config.clinic_name,
            doctor_name=doctor.user.full_name or "?",
            specialty=doctor.specialty.name,
            patient_name=patient.full_name or "?",
            issued_on=format_date(
                issued.astimezone(zone_info(patient.timezone)), "long", locale=t.language
            ),
            reference=consultation.reference,
            summary=consultation.summary or "",
            prescriptions=items,
            follow_up_days=consultation.follow_up_days,
        )
    )
    turn.send_document(document)
